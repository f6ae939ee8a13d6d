//! Live tests: the `upsilon` binary against its own simulators, the real
//! `upsc` (Debian nut-client), `promtool` (Debian prometheus) and a local
//! webhook receiver. 127.0.0.1 and pseudo-terminals only; every wait bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod support;

use support::{BIN, Proc, addr_after, lines, spawn, wait_line};

fn sim_rupsmon(listen: &str, script: &str) -> (Proc, String) {
    let p = spawn(&[
        "simulate",
        "rupsmon",
        "--listen",
        listen,
        "--interval",
        "150ms",
        "--script",
        script,
    ]);
    let addr = addr_after(&p.err, "listening on ");
    (p, addr)
}

fn kind(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).expect("NDJSON line");
    v["kind"].as_str().unwrap().to_owned()
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

fn tool(name: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(name)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} must be installed (.ci/packages lists it): {e}"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Serves one webhook connection: reads each `POST` (head and
/// `Content-Length` body), answers 204, and returns target and body of each
/// until the client closes or stays quiet for a second.
fn receive_posts(conn: TcpStream) -> Vec<(String, String)> {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    let mut posts = Vec::new();
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return posts;
        }
        let target = request_line.split(' ').nth(1).unwrap_or("").to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return posts;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        writer
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .unwrap();
        posts.push((target, String::from_utf8(body).unwrap()));
    }
}

#[test]
fn a_terabyte_content_length_does_not_take_the_monitor_down() {
    let (_sim, rups) = sim_rupsmon("127.0.0.1:0", "steady");
    let mut mon = spawn(&[
        "monitor",
        "--rupsmon",
        &rups,
        "--json",
        "--nut",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    let nut = addr_after(&mon.err, "nut listening on ");
    let http = addr_after(&mon.err, "metrics on http://");
    wait_line(&mon.out, Duration::from_secs(10), |l| kind(l) == "status");
    let mut s = TcpStream::connect(&http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    drop(s);
    thread::sleep(Duration::from_millis(300));
    assert!(
        mon.child.try_wait().unwrap().is_none(),
        "the monitor died of one request"
    );
    let started = Instant::now();
    let metrics = http_get(&http, "/metrics");
    assert!(metrics.contains("upsilon_load_percent"), "{metrics}");
    let (ok, load) = tool("upsc", &[&format!("ups@{nut}"), "ups.load"], None);
    assert!(ok, "{load}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn outage_reaches_stdout_webhook_metrics_and_nut() {
    // A port for the webhook receiver that is not up yet.
    let hook_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_sim, rups) = sim_rupsmon("127.0.0.1:0", "outage");
    let url = format!("http://127.0.0.1:{hook_port}/events");
    let mon = spawn(&[
        "monitor",
        "--rupsmon",
        &rups,
        "--json",
        "--nut",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--webhook",
        &url,
        "--webhook-backoff-max",
        "300ms",
    ]);
    let nut = addr_after(&mon.err, "nut listening on ");
    let http = addr_after(&mon.err, "metrics on http://");

    // stdout: on_battery, then back_on_line.
    wait_line(&mon.out, Duration::from_secs(10), |l| {
        kind(l) == "on_battery"
    });
    let down_until = Instant::now() + Duration::from_millis(1500);
    wait_line(&mon.out, Duration::from_secs(10), |l| {
        kind(l) == "back_on_line"
    });

    // Metrics and NUT while the status stream runs.
    let metrics = http_get(&http, "/metrics");
    assert!(metrics.contains("upsilon_load_percent 7.0"), "{metrics}");
    assert!(
        metrics.contains("upsilon_output_voltage_volts 238.7"),
        "{metrics}"
    );
    assert!(
        metrics.contains("upsilon_status_bit{bit=\"standby\"} 1"),
        "{metrics}"
    );
    let body = &metrics[metrics.find("\r\n\r\n").unwrap() + 4..];
    let (ok, lint) = tool("promtool", &["check", "metrics"], Some(body));
    assert!(ok, "promtool check metrics failed:\n{lint}\n{body}");

    let target = format!("ups@{nut}");
    let (ok, vars) = tool("upsc", &[&target], None);
    assert!(ok, "{vars}");
    for var in [
        "input.voltage:",
        "input.voltage.fault:",
        "output.voltage: 238.7",
        "ups.load: 7",
        "input.frequency:",
        "battery.voltage:",
        "ups.status: O",
        "ups.type: offline / line interactive",
        "ups.beeper.status:",
        "device.mfr:",
        "device.model:",
    ] {
        assert!(vars.contains(var), "upsc lacks {var:?}:\n{vars}");
    }
    let (ok, list) = tool("upsc", &["-l", &nut], None);
    assert!(ok && list.lines().any(|l| l == "ups"), "{list}");
    let (ok, load) = tool("upsc", &[&target, "ups.load"], None);
    assert!(ok && load.lines().any(|l| l == "7"), "{load}");
    let (ok, missing) = tool("upsc", &[&format!("nope@{nut}")], None);
    assert!(!ok && missing.contains("Unknown UPS"), "{missing}");

    // The webhook receiver comes up late; queued events still arrive.
    thread::sleep(down_until.saturating_duration_since(Instant::now()));
    let server = TcpListener::bind(("127.0.0.1", hook_port)).unwrap();
    server.set_nonblocking(true).unwrap();
    let up_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut kinds = Vec::new();
    let mut first_ts = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(kinds.contains(&"on_battery".to_owned()) && kinds.contains(&"back_on_line".to_owned()))
    {
        assert!(Instant::now() < deadline, "webhook got only {kinds:?}");
        let Ok((conn, _)) = server.accept() else {
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        for (target, body) in receive_posts(conn) {
            assert_eq!(target, "/events");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            first_ts.get_or_insert(v["ts"].as_f64().unwrap());
            kinds.push(v["kind"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        first_ts.unwrap() < up_at,
        "the first delivered event should date from while the receiver was down"
    );
    let on = kinds.iter().position(|k| k == "on_battery").unwrap();
    assert!(kinds[on..].iter().any(|k| k == "back_on_line"), "{kinds:?}");
}

#[test]
fn rupsmon_restart_is_followed_by_a_reconnect() {
    let (sim, rups) = sim_rupsmon("127.0.0.1:0", "steady");
    let mon = spawn(&[
        "monitor",
        "--rupsmon",
        &rups,
        "--json",
        "--reconnect-max",
        "300ms",
    ]);
    wait_line(&mon.out, Duration::from_secs(10), |l| kind(l) == "status");
    drop(sim);
    wait_line(&mon.out, Duration::from_secs(10), |l| {
        kind(l) == "connection_lost"
    });
    let (_sim2, again) = sim_rupsmon(&rups, "steady");
    assert_eq!(again, rups);
    let restored = wait_line(&mon.out, Duration::from_secs(10), |l| {
        kind(l) == "connection_restored"
    });
    assert!(restored.contains("\"link\":\"rupsmon\""), "{restored}");
    wait_line(&mon.out, Duration::from_secs(10), |l| kind(l) == "status");
}

#[test]
fn heartbeats_and_sms_alerts_become_records() {
    let mon = spawn(&[
        "monitor",
        "--heartbeat",
        "127.0.0.1:0",
        "--sms-listen",
        "127.0.0.1:0",
        "--json",
    ]);
    let hb = addr_after(&mon.err, "heartbeats on udp ");
    let sms = addr_after(&mon.err, "sms gateway on ");
    let out = Command::new(BIN)
        .args([
            "simulate",
            "sms",
            "--to",
            &sms,
            "--message",
            "Power failure & more",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "HTTP/1.1 200 OK"
    );
    let alert = wait_line(&mon.out, Duration::from_secs(10), |l| {
        kind(l) == "sms_alert"
    });
    let v: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(v["message"], "Power failure & more");
    assert_eq!(v["host"], "DESKTOP-294DAYV");
    assert_eq!(v["recipient"], "0123456789");
    assert_eq!(v["code"], "1");
    for args in [
        &["--count", "1"][..],
        &["--count", "1", "--disconnected"][..],
    ] {
        let st = Command::new(BIN)
            .args(["simulate", "heartbeat", "--to", &hb])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success());
        let line = wait_line(&mon.out, Duration::from_secs(10), |l| {
            kind(l) == "heartbeat"
        });
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["connected"], args.len() == 2);
    }
    wait_line(&mon.out, Duration::from_secs(10), |l| {
        kind(l) == "connection_lost" && l.contains("\"link\":\"heartbeat\"")
    });
}

#[cfg(unix)]
fn run_ups(pty: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["ups", "--serial", pty, "--timeout", "500ms"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[test]
fn ups_polls_and_commands_round_trip_with_the_pty_simulator() {
    let sim = spawn(&["simulate", "ups", "--pty"]);
    let pty = wait_line(&sim.out, Duration::from_secs(10), |l| l.starts_with('/'));

    // Polling: I and F once, then Q1 each interval; NUT shows what I said.
    let poller = spawn(&[
        "ups",
        "--serial",
        &pty,
        "--interval",
        "100ms",
        "--count",
        "60",
        "--json",
        "--nut",
        "127.0.0.1:0",
    ]);
    let nut = addr_after(&poller.err, "nut listening on ");
    let line = wait_line(&poller.out, Duration::from_secs(10), |l| {
        kind(l) == "status"
    });
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["input_voltage"], 230.0);
    assert_eq!(v["temperature"], 25.1);
    assert_eq!(v["standby"], true);
    wait_line(&poller.out, Duration::from_secs(10), |l| {
        kind(l) == "status"
    });
    let (ok, vars) = tool("upsc", &[&format!("ups@{nut}")], None);
    assert!(ok, "{vars}");
    assert!(vars.contains("device.mfr: REWIRE SIM"), "{vars}");
    assert!(vars.contains("ups.firmware: VSIM-1.0"), "{vars}");
    assert!(vars.contains("input.voltage.nominal: 220.0"), "{vars}");
    assert!(vars.contains("ups.temperature: 25.1"), "{vars}");
    drop(poller);
    wait_line(&sim.err, Duration::from_secs(5), |l| l.contains("\"I\""));

    // Every command, confirmed by the next Q1.
    let cases: &[(&[&str], &str, &str)] = &[
        (&["test"], "\"T\"", "\"test_in_progress\":true"),
        (&["cancel-test"], "\"CT\"", "\"test_in_progress\":false"),
        (
            &["test", "--minutes", "5"],
            "\"T05\"",
            "\"test_in_progress\":true",
        ),
        (&["cancel-test"], "\"CT\"", "\"test_in_progress\":false"),
        (&["test", "--deep"], "\"TL\"", "\"test_in_progress\":true"),
        (&["cancel-test"], "\"CT\"", "\"test_in_progress\":false"),
        (&["beeper-toggle"], "\"Q\"", "\"beeper_on\":true"),
        (&["beeper-toggle"], "\"Q\"", "\"beeper_on\":false"),
        (
            &["shutdown", "--delay", "0.5", "--restore-after", "2"],
            "\"S.5R0002\"",
            "\"shutdown_active\":true",
        ),
        (&["cancel-shutdown"], "\"C\"", "\"shutdown_active\":false"),
    ];
    for (args, wire, effect) in cases {
        let mut full = vec!["--json", "--yes"];
        full.extend_from_slice(args);
        let (code, out, err) = run_ups(&pty, &full);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains(effect), "{args:?}: {out}");
        wait_line(&sim.err, Duration::from_secs(5), |l| l.contains(wire));
    }

    // Without --yes and without a terminal nothing is sent.
    let (code, _, err) = run_ups(&pty, &["shutdown", "--delay", "1"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("upsilon: refusing to SHUT THE OUTPUT DOWN"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[cfg(unix)]
#[test]
fn ups_without_an_answer_exits_3() {
    // A pty nobody answers on.
    let (_master, slave) = serialport::TTYPort::pair().unwrap();
    let path = serialport::SerialPort::name(&slave).unwrap();
    let (code, _, err) = run_ups(&path, &["--yes", "beeper-toggle"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no answer to Q1"), "{err}");
}

#[cfg(unix)]
#[test]
fn polling_a_silent_line_exits_3_without_a_connection_lost() {
    // A pty nobody answers on: the UPS never answered, so nothing was "lost".
    let (_master, slave) = serialport::TTYPort::pair().unwrap();
    let path = serialport::SerialPort::name(&slave).unwrap();
    let (code, out, err) = run_ups(&path, &["--count", "1", "--json"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no answer to Q1"), "{err}");
    assert!(!out.contains("connection_lost"), "{out}");
    assert!(!err.contains("CONNECTION_LOST"), "{err}");
}

#[test]
fn a_rupsmon_that_never_came_up_is_not_reported_lost() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{port}");
    let mon = spawn(&[
        "monitor",
        "--rupsmon",
        &target,
        "--json",
        "--reconnect-max",
        "100ms",
    ]);
    let warning = wait_line(&mon.err, Duration::from_secs(10), |l| {
        l.contains("cannot connect")
    });
    assert!(warning.contains(&target), "{warning}");
    thread::sleep(Duration::from_millis(500));
    let lines: Vec<String> = mon.out.try_iter().collect();
    assert!(lines.is_empty(), "records for a link never up: {lines:?}");
}

#[test]
fn simulated_rupsmon_waits_for_a_client_and_counts_what_it_sent() {
    let mut sim = spawn(&[
        "simulate",
        "rupsmon",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "20ms",
        "--count",
        "3",
    ]);
    let addr = addr_after(&sim.err, "listening on ");
    // With nobody connected it plays nothing and does not exit.
    thread::sleep(Duration::from_millis(400));
    assert!(
        sim.child.try_wait().unwrap().is_none(),
        "exited with no client"
    );
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    let records = got.iter().filter(|&&b| b == b'\r').count();
    assert_eq!(records, 3, "{:?}", String::from_utf8_lossy(&got));
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not exit after 3 records");
        thread::sleep(Duration::from_millis(20));
    }
    wait_line(&sim.err, Duration::from_secs(2), |l| {
        l.contains("sent 3 record")
    });
}

#[test]
fn a_stalled_stdout_does_not_stall_nut() {
    let (_sim, rups) = {
        let p = spawn(&[
            "simulate",
            "rupsmon",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1ms",
            "--script",
            "outage",
        ]);
        let addr = addr_after(&p.err, "listening on ");
        (p, addr)
    };
    // stdout is a pipe nobody reads: it is full after ~64 KiB of records,
    // a fraction of a second at one record per millisecond.
    let mut child = Command::new(BIN)
        .args([
            "monitor",
            "--rupsmon",
            &rups,
            "--json",
            "--nut",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stalled = child.stdout.take().unwrap();
    let err = lines(child.stderr.take().unwrap());
    let mon = Proc {
        child,
        out: mpsc::channel().1,
        err,
    };
    let nut = addr_after(&mon.err, "nut listening on ");
    let http = addr_after(&mon.err, "metrics on http://");
    thread::sleep(Duration::from_secs(3));
    for _ in 0..3 {
        // The snapshot NUT reads is still fresh: the last status is recent.
        let metrics = http_get(&http, "/metrics");
        let age: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("upsilon_status_age_seconds "))
            .unwrap_or_else(|| panic!("no status age:\n{metrics}"))
            .parse()
            .unwrap();
        assert!(
            age < 1.0,
            "the status is {age} s old: stdout stalled the monitor"
        );
        let started = Instant::now();
        let mut s = TcpStream::connect(&nut).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"GET VAR ups ups.status\n").unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        assert!(line.starts_with("VAR ups ups.status \"O"), "{line:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
        thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn bad_flags_are_refused_at_parsing() {
    for args in [
        &["monitor", "--rupsmon", "foo:bar"][..],
        &["ups", "--serial", "/dev/null", "--baud", "0"],
        &["ups", "--serial", "/dev/null", "--baud", "4294967295"],
        &["ups", "--serial", "/dev/null", "--interval-ms", "100"],
        &["ups", "--serial", "/dev/null", "--interval", "100"],
        &[
            "ups",
            "--serial",
            "/dev/null",
            "shutdown",
            "--delay",
            ".1",
            "--yes",
        ],
    ] {
        let started = Instant::now();
        let out = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?}");
        assert!(!err.contains("2..=9"), "{err}");
    }
    let out = Command::new(BIN)
        .args(["ups", "--serial", "/dev/null", "shutdown", "--delay", ".1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shutdown delay .1 min is out of range: use .2 to .9 or 1 to 10 minutes"),
        "{err}"
    );
}

#[test]
fn version_names_the_tool_and_completions_survive_a_closed_pipe() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("upsilon {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("upsilon"));
    // `upsilon completions bash | head -1`: the reader goes away at once.
    let mut child = Command::new(BIN)
        .args(["completions", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
