//! Each device's live mode against its simulator, with `--mqtt` to a real
//! mosquitto: the retained discovery configs, state and availability have
//! the shapes docs/mqtt.md documents, and SIGKILL leaves the last will.
//!
//! The binaries are the workspace's own (`cargo test --workspace` builds
//! them before any test runs; alone: `cargo build -p rewire-upsilon-cli
//! -p rewire-websentry-cli -p rewire-powerone-cli` first).

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Mosquitto, Observer, config_problems};
use serde_json::Value as Json;

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: cargo build -p rewire-{name}-cli (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// A spawned tool, its stderr collected, killed on drop.
struct Proc {
    child: Child,
    err: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(name: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new(bin(name));
        cmd.args(args);
        Self::spawn_command(cmd)
    }

    fn spawn_command(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&err);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self { child, err }
    }

    /// Waits for an address `127.0.0.1:PORT` after `prefix` on stderr.
    fn addr_after(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.err.lock().unwrap().clone();
            if let Some(at) = text.find(prefix) {
                let rest = &text[at + prefix.len()..];
                if let Some(addr) = rest
                    .split_whitespace()
                    .find(|w| w.starts_with("127.0.0.1:"))
                {
                    return addr.trim_end_matches("/metrics").to_owned();
                }
            }
            assert!(Instant::now() < deadline, "no {prefix:?} line: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn sigkill(&mut self) {
        Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the retained discovery configs of `device` include `want`
/// and its state has every key a config reads; checks every config against
/// Home Assistant's fields and unit rules; returns configs and state.
fn discovered(
    broker: &Mosquitto,
    device: &str,
    want: &[&str],
) -> (Vec<(String, Json)>, serde_json::Map<String, Json>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let configs: Vec<(String, String)> = broker
            .retained("homeassistant/#")
            .into_iter()
            .filter(|(t, _)| t.split('/').nth(2) == Some(device))
            .collect();
        let state = broker.retained(&format!("rewire/{device}/state"));
        let complete = want.iter().all(|w| {
            configs
                .iter()
                .any(|(t, _)| t.ends_with(&format!("/{w}/config")))
        });
        if complete && let Some((_, state)) = state.first() {
            let problems: Vec<String> = configs
                .iter()
                .flat_map(|(t, p)| config_problems(t, p))
                .collect();
            assert!(problems.is_empty(), "{problems:#?}");
            let state: serde_json::Map<String, Json> = serde_json::from_str(state).unwrap();
            let configs: Vec<(String, Json)> = configs
                .into_iter()
                .map(|(t, p)| (t, serde_json::from_str(&p).unwrap()))
                .collect();
            let all_read = configs.iter().all(|(_, c)| {
                let template = c["value_template"].as_str().unwrap();
                let key = template
                    .split("value_json.")
                    .nth(1)
                    .unwrap()
                    .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .next()
                    .unwrap();
                state.contains_key(key)
            });
            if all_read {
                for (t, c) in &configs {
                    assert_eq!(c["state_topic"], format!("rewire/{device}/state"), "{t}");
                    assert_eq!(
                        c["device"]["identifiers"][0],
                        format!("rewire_{device}"),
                        "{t}"
                    );
                }
                return (configs, state);
            }
        }
        assert!(
            Instant::now() < deadline,
            "discovery of {device} incomplete: {:#?}",
            broker.retained("#")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn config<'a>(configs: &'a [(String, Json)], key: &str) -> &'a Json {
    &configs
        .iter()
        .find(|(t, _)| t.ends_with(&format!("/{key}/config")))
        .unwrap_or_else(|| panic!("no {key} config"))
        .1
}

fn mqtt_url(broker: &Mosquitto) -> String {
    format!("mqtt://127.0.0.1:{}", broker.port)
}

#[test]
fn upsilon_monitor_publishes_discovery_state_events_and_a_last_will() {
    let broker = Mosquitto::start("");
    let sim = Proc::spawn(
        "upsilon",
        &[
            "simulate",
            "rupsmon",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "100ms",
            "--script",
            "outage",
        ],
    );
    let rupsmon = sim.addr_after("listening on");
    let events = Observer::start(&broker, "rewire/+/event", &[]);
    let url = mqtt_url(&broker);
    let mut monitor = Proc::spawn(
        "upsilon",
        &[
            "monitor",
            "--rupsmon",
            &rupsmon,
            "--mqtt",
            &url,
            "--mqtt-interval",
            "1s",
        ],
    );
    broker.wait_retained(
        "rewire/upsilon-ups/availability",
        "online",
        Duration::from_secs(10),
    );
    let (configs, state) = discovered(
        &broker,
        "upsilon-ups",
        &[
            "input_voltage",
            "input_frequency",
            "load",
            "status_bit_utility_fail",
            "status_bit_battery_low",
            "status_bit_ups_failed",
            "link",
        ],
    );
    let v = config(&configs, "input_voltage");
    assert_eq!(
        (
            v["device_class"].as_str(),
            v["unit_of_measurement"].as_str()
        ),
        (Some("voltage"), Some("V"))
    );
    assert_eq!(
        config(&configs, "input_frequency")["unit_of_measurement"],
        "Hz"
    );
    assert_eq!(
        config(&configs, "status_bit_utility_fail")["device_class"],
        "power"
    );
    assert_eq!(
        config(&configs, "status_bit_battery_low")["device_class"],
        "battery"
    );
    assert_eq!(
        config(&configs, "status_bit_ups_failed")["device_class"],
        "problem"
    );
    assert_eq!(
        v["availability"][0]["topic"],
        "rewire/upsilon-ups/availability"
    );
    assert!(state["input_voltage"].is_number(), "{state:?}");
    assert!(state["status_bit_utility_fail"].is_boolean(), "{state:?}");
    // The outage script fails the utility: an on_battery event arrives.
    let seen = events.wait_for(Duration::from_secs(15), "on_battery", |s| {
        s.iter().any(|(_, p)| p.contains("\"on_battery\""))
    });
    let (topic, payload) = seen
        .iter()
        .find(|(_, p)| p.contains("\"on_battery\""))
        .unwrap();
    assert_eq!(topic, "rewire/upsilon-ups/event");
    let e: Json = serde_json::from_str(payload).unwrap();
    assert_eq!(e["priority"], "alert");
    assert!(e["text"].is_string() && e["ts"].is_number(), "{e}");
    monitor.sigkill();
    broker.wait_retained(
        "rewire/upsilon-ups/availability",
        "offline",
        Duration::from_secs(10),
    );
}

#[test]
fn upsilon_ups_is_named_by_the_model_the_ups_reports() {
    use std::io::BufRead;
    let broker = Mosquitto::start("");
    let mut sim = Command::new(bin("upsilon"))
        .args(["simulate", "ups", "--tcp", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{line:?}");
    let url = mqtt_url(&broker);
    let _ups = Proc::spawn(
        "upsilon",
        &["ups", "--tcp", &addr, "--interval", "200ms", "--mqtt", &url],
    );
    // The simulator answers `I` with model MEC0003.
    broker.wait_retained(
        "rewire/upsilon-mec0003/availability",
        "online",
        Duration::from_secs(10),
    );
    let (configs, _) = discovered(&broker, "upsilon-mec0003", &["input_voltage"]);
    assert_eq!(
        config(&configs, "input_voltage")["availability"][0]["topic"],
        "rewire/upsilon-mec0003/availability"
    );
    let _ = sim.kill();
    let _ = sim.wait();
}

#[test]
fn websentry_proxy_publishes_every_property_with_a_unit() {
    let broker = Mosquitto::start("");
    let cloud = Proc::spawn(
        "websentry",
        &["simulate", "cloud", "--listen", "127.0.0.1:0"],
    );
    let cloud_addr = cloud.addr_after("listening on");
    let url = mqtt_url(&broker);
    let mut proxy = Proc::spawn(
        "websentry",
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--upstream",
            &cloud_addr,
            "--mqtt",
            &url,
        ],
    );
    let listen = proxy.addr_after("listening on");
    let _unit = Proc::spawn(
        "websentry",
        &["simulate", "unit", "--connect", &listen, "--sessions", "1"],
    );
    // Named by the MAC address the unit's init frame reports (the
    // simulator's default), not by its IP address.
    let device = "websentry-00_90_c2_0c_02_b3";
    // The unit's frames come after its session opened: wait for them.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (configs, state) = loop {
        let (configs, state) = discovered(&broker, device, &["link"]);
        let classes: std::collections::BTreeSet<&str> = configs
            .iter()
            .filter_map(|(_, c)| c["device_class"].as_str())
            .collect();
        if classes.contains("temperature") && classes.contains("humidity") {
            break (configs, state);
        }
        assert!(
            Instant::now() < deadline,
            "no temperature and humidity entities: {classes:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    broker.wait_retained(
        &format!("rewire/{device}/availability"),
        "online",
        Duration::from_secs(10),
    );
    // Entities follow the unit's availability and the proxy's last will.
    for (topic, c) in &configs {
        assert_eq!(
            c["availability"][1]["topic"], "rewire/websentry-proxy/availability",
            "{topic}"
        );
    }
    assert!(
        state.values().any(Json::is_string),
        "enums are their text: {state:?}"
    );
    assert!(configs.len() > 10, "{} entities", configs.len());
    proxy.sigkill();
    broker.wait_retained(
        "rewire/websentry-proxy/availability",
        "offline",
        Duration::from_secs(10),
    );
}

#[test]
fn powerone_listen_publishes_what_the_relay_sees() {
    let broker = Mosquitto::start("");
    let sim = Proc::spawn("powerone", &["simulate", "--tcp", "127.0.0.1:0"]);
    let upstream = sim.addr_after("listening on");
    let url = mqtt_url(&broker);
    let mut listen = Proc::spawn(
        "powerone",
        &[
            "listen",
            "--tcp-relay",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--mqtt",
            &url,
        ],
    );
    let relay = listen.addr_after("relaying");
    let ok = Command::new(bin("powerone"))
        .args(["set-time", "2011-03-15T15:13", "--yes", "--tcp", &relay])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "set-time through the relay");
    // One device per link the relay names; find it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let device = loop {
        let states = broker.retained("rewire/+/state");
        if let Some((t, p)) = states.iter().find(|(_, p)| p.contains("clock_set")) {
            assert!(p.contains("2011-03-15"), "{p}");
            break t.split('/').nth(1).unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no clock_set state: {states:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Named by the PCU's link (the upstream serial server, stable across
    // PowCom's connections) and the module address its frames carry (01).
    let upstream_slug: String = upstream
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { '_' })
        .collect();
    assert_eq!(device, format!("powerone-{upstream_slug}_1"));
    let (configs, _) = discovered(&broker, &device, &["clock_set", "link"]);
    assert_eq!(config(&configs, "link")["device_class"], "connectivity");
    listen.sigkill();
    broker.wait_retained(
        "rewire/powerone-listen/availability",
        "offline",
        Duration::from_secs(10),
    );
}

/// Runs a tool to its end; returns its exit code and stderr.
fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin(name));
    cmd.args(args)
        .env_remove("REWIRE_MQTT_PASSWORD")
        .envs(env.iter().copied());
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn start_up_failures_are_one_line_and_a_non_zero_exit() {
    let port = common::free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let (code, err) = run(
        "upsilon",
        &["monitor", "--rupsmon", "127.0.0.1:9", "--mqtt", &url],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "upsilon: cannot reach the MQTT broker 127.0.0.1:{port}"
        )),
        "{err}"
    );

    let dir = common::temp_dir("e2e-passwd");
    let passwd = dir.join("passwd");
    assert!(
        Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args(["rewire", "right"])
            .status()
            .unwrap()
            .success()
    );
    let broker = Mosquitto::start(&format!(
        "listener PORT 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
        passwd.display()
    ));
    let url = format!("mqtt://rewire@127.0.0.1:{}", broker.port);
    let (code, err) = run(
        "powerone",
        &[
            "listen",
            "--tcp-relay",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:9",
            "--mqtt",
            &url,
        ],
        &[("REWIRE_MQTT_PASSWORD", "wrong")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("refused the connection") && err.contains("password"),
        "{err}"
    );
    // The right password from a file connects; the tool then runs.
    let file = dir.join("pw");
    std::fs::write(&file, "right\n").unwrap();
    let file = file.display().to_string();
    let proxy = Proc::spawn(
        "websentry",
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:9",
            "--mqtt",
            &url,
            "--mqtt-password-file",
            &file,
        ],
    );
    proxy.addr_after("listening on");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_password_refused_after_start_up_is_logged_and_retried() {
    let dir = common::temp_dir("later-passwd");
    let passwd = dir.join("passwd");
    let set = |password: &str, create: bool| {
        let mut cmd = Command::new("mosquitto_passwd");
        cmd.arg("-b");
        if create {
            cmd.arg("-c");
        }
        let ok = cmd
            .arg(&passwd)
            .args(["rewire", password])
            .status()
            .unwrap()
            .success();
        assert!(ok, "mosquitto_passwd");
    };
    set("right", true);
    let mut broker = Mosquitto::start(&format!(
        "listener PORT 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
        passwd.display()
    ));
    let sim = Proc::spawn(
        "upsilon",
        &[
            "simulate",
            "rupsmon",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
        ],
    );
    let rupsmon = sim.addr_after("listening on");
    let url = format!("mqtt://rewire@127.0.0.1:{}", broker.port);
    let mut cmd = Command::new(bin("upsilon"));
    cmd.args(["monitor", "--rupsmon", &rupsmon, "--mqtt", &url])
        .env("REWIRE_MQTT_PASSWORD", "right");
    let mut monitor = Proc::spawn_command(cmd);
    // Anonymous observers are refused here: the broker's log shows logins.
    let logins = |broker: &Mosquitto| {
        broker
            .log()
            .lines()
            .filter(|l| l.contains("New client connected") && l.contains("u'rewire'"))
            .count()
    };
    let wait_logins = |broker: &Mosquitto, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while logins(broker) < n {
            assert!(Instant::now() < deadline, "{n} logins: {}", broker.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_logins(&broker, 1);
    // The broker's password changes under the running monitor.
    set("changed", false);
    broker.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = "refused the connection: ";
    loop {
        let text = monitor.err.lock().unwrap().clone();
        if text
            .lines()
            .any(|l| l.contains(refused) && l.contains("retrying"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no refusal logged: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        monitor.child.try_wait().unwrap().is_none(),
        "the monitor goes on"
    );
    // One warning for the refusal, not one per retry.
    std::thread::sleep(Duration::from_millis(2500));
    let text = monitor.err.lock().unwrap().clone();
    assert_eq!(
        text.lines().filter(|l| l.contains(refused)).count(),
        1,
        "{text}"
    );
    // The password is set back: the monitor reconnects by itself.
    set("right", false);
    broker.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !monitor.err.lock().unwrap().contains("reached again") {
        assert!(
            Instant::now() < deadline,
            "no reconnection: {}",
            monitor.err.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_logins(&broker, 2);
    assert!(monitor.child.try_wait().unwrap().is_none());
    drop(monitor);
    drop(broker);
    let _ = std::fs::remove_dir_all(dir);
}
