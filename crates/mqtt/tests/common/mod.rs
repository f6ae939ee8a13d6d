//! A real mosquitto broker and mosquitto_sub observers for the tests, all
//! on 127.0.0.1 with free ports and temporary directories.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Makes a fresh temporary directory.
pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rewire-mqtt-{what}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Returns a port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mosquitto broker started by the test, stopped on drop.
pub struct Mosquitto {
    pub port: u16,
    pub dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts a broker with persistence (so sessions and retained messages
    /// survive a restart) and `extra` config lines; `listener` replaces the
    /// default anonymous listener when given.
    pub fn start(extra: &str) -> Self {
        let port = free_port();
        let dir = temp_dir("broker");
        let conf = dir.join("mosquitto.conf");
        let has_listener = extra.contains("listener ");
        let listener = if has_listener {
            extra.replace("PORT", &port.to_string())
        } else {
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n{extra}")
        };
        fs::write(
            &conf,
            format!(
                "{listener}\nuser root\npersistence true\npersistence_location {}/\nautosave_interval 1\nlog_dest file {}/log\n",
                dir.display(),
                dir.display()
            ),
        )
        .unwrap();
        let mut broker = Self {
            port,
            dir,
            conf,
            child: None,
        };
        broker.run();
        broker
    }

    fn run(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (Debian package mosquitto) must be installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Returns the broker's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Stops the broker (SIGTERM: it saves its persistence file).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and files.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Returns `mqtt://127.0.0.1:PORT`-style host and port.
    pub fn addr(&self) -> (String, u16) {
        ("127.0.0.1".to_owned(), self.port)
    }

    /// Publishes `payload` on `topic` with mosquitto_pub.
    pub fn publish(&self, topic: &str, payload: &str) {
        let ok = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-t",
                topic,
                "-m",
                payload,
            ])
            .status()
            .expect("mosquitto_pub (Debian package mosquitto-clients) must be installed")
            .success();
        assert!(ok, "mosquitto_pub failed");
    }

    /// Returns the retained messages under `filter` (topic, payload).
    pub fn retained(&self, filter: &str) -> Vec<(String, String)> {
        let out = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-v",
                "--retained-only",
                "-W",
                "1",
                "-t",
                filter,
            ])
            .output()
            .expect("mosquitto_sub (Debian package mosquitto-clients) must be installed");
        lines(&String::from_utf8_lossy(&out.stdout))
    }

    /// Waits until the retained message on `topic` is `payload`.
    pub fn wait_retained(&self, topic: &str, payload: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.retained(topic);
            if got.iter().any(|(_, p)| p == payload) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{topic} is {got:?}, not {payload:?}"
            );
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Splits `mosquitto_sub -v` output into (topic, payload).
pub fn lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, p)| (t.to_owned(), p.to_owned()))
        .collect()
}

/// A mosquitto_sub process writing what it receives to a file.
pub struct Observer {
    child: Child,
    out: PathBuf,
}

impl Observer {
    /// Subscribes to `filter` with `args` (for example a persistent
    /// session: `-c -i NAME -q 1`), ignoring stale retained messages.
    pub fn start(broker: &Mosquitto, filter: &str, args: &[&str]) -> Self {
        let out = broker
            .dir
            .join(format!("sub-{}", SEQ.fetch_add(1, Ordering::Relaxed)));
        let file = fs::File::create(&out).unwrap();
        let child = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &broker.port.to_string(),
                "-v",
                "-t",
                filter,
            ])
            .args(args)
            .stdout(Stdio::from(file))
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub (Debian package mosquitto-clients) must be installed");
        // Let it subscribe before anything is published.
        std::thread::sleep(Duration::from_millis(300));
        Self { child, out }
    }

    /// Returns what it received so far.
    pub fn seen(&self) -> Vec<(String, String)> {
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(&self.out) {
            let _ = f.read_to_string(&mut text);
        }
        // A line still being written has no newline yet.
        let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
        lines(complete)
    }

    /// Waits until `done` holds for what was received, or fails.
    pub fn wait_for(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {within:?}; saw {seen:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns whether `path` exists (for optional tools).
pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Checks one Home Assistant discovery config against the fields the
/// sensor and binary sensor platforms need, and the device class ↔ unit
/// pairs Home Assistant allows; returns the problems.
pub fn config_problems(topic: &str, payload: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let c: serde_json::Value = match serde_json::from_str(payload) {
        Ok(c) => c,
        Err(e) => return vec![format!("{topic}: not JSON: {e}")],
    };
    let component = topic.split('/').nth(1).unwrap_or_default();
    for field in [
        "name",
        "unique_id",
        "state_topic",
        "value_template",
        "device",
        "availability",
    ] {
        if c.get(field).is_none() {
            problems.push(format!("{topic}: no {field}"));
        }
    }
    for field in ["identifiers", "name", "manufacturer", "model"] {
        if c["device"].get(field).is_none() {
            problems.push(format!("{topic}: no device.{field}"));
        }
    }
    if !c["availability"]
        .as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(|t| t["topic"].is_string()))
    {
        problems.push(format!("{topic}: availability is not a list of topics"));
    }
    let class = c["device_class"].as_str();
    let unit = c["unit_of_measurement"].as_str();
    match component {
        "sensor" => {
            let allowed: &[&str] = match class {
                None => &[],
                Some("voltage") => &["V", "mV"],
                Some("current") => &["A", "mA"],
                Some("frequency") => &["Hz", "kHz", "MHz", "GHz"],
                Some("temperature") => &["°C", "°F", "K"],
                Some("humidity" | "battery") => &["%"],
                Some("duration") => &["d", "h", "min", "s", "ms"],
                Some("pressure") => &[
                    "Pa", "kPa", "hPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi",
                ],
                Some("power") => &["W", "kW"],
                Some("data_size") => &["B", "kB", "MB", "GB"],
                Some(other) => {
                    problems.push(format!("{topic}: unexpected sensor class {other}"));
                    &[]
                }
            };
            if let Some(class) = class
                && !unit.is_some_and(|u| allowed.contains(&u))
            {
                problems.push(format!("{topic}: unit {unit:?} not allowed for {class}"));
            }
            if let Some(sc) = c["state_class"].as_str()
                && !["measurement", "total", "total_increasing"].contains(&sc)
            {
                problems.push(format!("{topic}: state_class {sc}"));
            }
        }
        "binary_sensor" => {
            if let Some(class) = class
                && !["power", "battery", "problem", "connectivity"].contains(&class)
            {
                problems.push(format!("{topic}: unexpected binary sensor class {class}"));
            }
            if unit.is_some() {
                problems.push(format!("{topic}: a binary sensor with a unit"));
            }
        }
        other => problems.push(format!("{topic}: unexpected component {other}")),
    }
    problems
}
