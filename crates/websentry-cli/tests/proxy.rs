//! `websentry proxy` end to end on 127.0.0.1: the simulators through the
//! proxy, and faults injected by hand-driven sockets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rewire_websentry::{FunctionCode, encode_frame};

mod support;

use support::{BIN, Guard, WAIT, line, spawn};

struct ProxyUnderTest {
    _guard: Guard,
    addr: SocketAddr,
    http: SocketAddr,
}

fn proxy(upstream: &str, extra: &[&str]) -> ProxyUnderTest {
    let mut args = vec![
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--connect-timeout",
        "2s",
    ];
    args.extend_from_slice(extra);
    let (guard, rx) = spawn(&args);
    let addr = line(&rx, "listening on ").parse().unwrap();
    let http = line(&rx, "http on ").parse().unwrap();
    ProxyUnderTest {
        _guard: guard,
        addr,
        http,
    }
}

fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// Returns the value of the sample `name_and_labels` in a metrics page.
fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Polls /metrics until `name_and_labels` reaches `at_least`.
fn wait_metric(http: SocketAddr, name_and_labels: &str, at_least: f64) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, body) = http_get(http, "/metrics");
        if sample(&body, name_and_labels).is_some_and(|v| v >= at_least) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{name_and_labels} never reached {at_least}:\n{body}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_terabyte_content_length_does_not_take_the_proxy_down() {
    let cloud = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = proxy(&cloud.local_addr().unwrap().to_string(), &[]);
    let mut s = TcpStream::connect(p.http).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    drop(s);
    // The relay and the exporter are both still there.
    let mut unit = TcpStream::connect(p.addr).unwrap();
    let (mut up, _) = cloud.accept().unwrap();
    let hello = frame(FunctionCode::INIT, &[]);
    unit.write_all(&hello).unwrap();
    assert_eq!(read_exact_timeout(&mut up, hello.len()), hello);
    let (head, _) = http_get(p.http, "/metrics");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
}

fn frame(function: FunctionCode, body: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; body.len() + 8];
    let n = encode_frame(function, body, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("read: {e} after {} bytes", out.len()),
        }
    }
}

fn read_exact_timeout(s: &mut TcpStream, n: usize) -> Vec<u8> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut out = vec![0u8; n];
    s.read_exact(&mut out).unwrap();
    out
}

fn promtool(metrics: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (.ci/packages: prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn simulators_through_the_proxy_byte_exact_with_metrics_page_and_raw_log() {
    let dir = std::env::temp_dir().join(format!("websentry-proxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw_log = dir.join("raw.json");
    let _ = std::fs::remove_file(&raw_log);

    let (_cloud, cloud_rx) = spawn(&[
        "simulate",
        "cloud",
        "--listen",
        "127.0.0.1:0",
        "--set-every",
        "2",
    ]);
    let cloud_addr = line(&cloud_rx, "listening on ");
    let p = proxy(&cloud_addr, &["--raw-log", raw_log.to_str().unwrap()]);
    let unit_addr = p.addr.to_string();
    let (_unit, unit_rx) = spawn(&[
        "simulate",
        "unit",
        "--connect",
        &unit_addr,
        "--sessions",
        "3",
        "--interval",
        "100ms",
    ]);
    for n in 1..=3 {
        let unit = line(&unit_rx, &format!("unit session {n} "));
        let cloud = line(&cloud_rx, &format!("cloud session {n} "));
        let field = |s: &str, key: &str| {
            s.split_whitespace()
                .find_map(|w| w.strip_prefix(key).map(str::to_string))
                .unwrap()
        };
        assert_eq!(
            field(&unit, "sent="),
            field(&cloud, "received="),
            "session {n}"
        );
        assert_eq!(
            field(&cloud, "sent="),
            field(&unit, "received="),
            "session {n}"
        );
        assert!(
            field(&unit, "sent=")
                .split(':')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 200
        );
    }

    let metrics = wait_metric(
        p.http,
        "websentry_frames_total{function=\"set\",direction=\"client\"}",
        1.0,
    );
    assert_eq!(sample(&metrics, "websentry_sessions_total"), Some(3.0));
    // Every output's drops are exported (none here: everything was read).
    assert_eq!(
        sample(
            &metrics,
            "websentry_output_dropped_total{output=\"stderr\"}"
        ),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "websentry_upstream_failures_total"),
        Some(0.0)
    );
    let humidity = sample(&metrics, "websentry_humidity_percent").unwrap();
    assert!((45.0..=65.0).contains(&humidity), "{humidity}");
    let room = sample(&metrics, "websentry_room_temp_celsius").unwrap();
    assert!((18.0..=27.0).contains(&room), "{room}");
    assert!(metrics.contains(
        "websentry_unit_info{serial=\"123456789\",version=\"5.15.12\",mac=\"00:90:c2:0c:02:b3\"} 1"
    ));
    assert!(
        metrics
            .contains("websentry_enum{id=\"0x120e\",property=\"blower_state\",label=\"Ready\"} 2")
    );
    assert!(sample(&metrics, "websentry_property_0x1220").is_some());
    assert_eq!(
        sample(
            &metrics,
            "websentry_frames_total{function=\"init\",direction=\"client\"}"
        ),
        Some(3.0)
    );
    promtool(&metrics);

    // `/` is the operator's page; the full property table is one click away.
    let (head, page) = http_get(p.http, "/");
    assert!(head.contains("text/html"), "{head}");
    assert!(page.contains("api/state") && page.contains("All readings"));
    let (_, state) = http_get(p.http, "/api/state");
    assert!(state.contains("\"title\":\"Dehumidifier\""), "{state}");
    let (head, page) = http_get(p.http, "/props");
    assert!(head.contains("text/html"), "{head}");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("humidity_percent") && page.contains("set_humidity_percent"));
    assert!(
        page.contains("client init"),
        "last session frames on the page"
    );

    let (head, json) = http_get(p.http, "/props.json");
    assert!(head.contains("application/json"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["unit"]["mac"], "00:90:c2:0c:02:b3");
    let props = json["properties"].as_array().unwrap();
    // Every metric /props.json names is exported (strings, MACs and enums
    // used to be named but never exported).
    let (_, metrics) = http_get(p.http, "/metrics");
    for prop in props {
        let name = prop["metric"].as_str().unwrap_or_else(|| panic!("{prop}"));
        assert!(
            metrics.contains(&format!("# TYPE {name} ")),
            "{name} is not in /metrics"
        );
    }
    let humidity = props.iter().find(|p| p["id"] == 0x0600).unwrap();
    assert_eq!(humidity["name"], "humidity_percent");
    assert_eq!(humidity["unit"], "%");
    assert_eq!(humidity["seen_count"], 3);
    let frames = json["last_session"]["frames"].as_array().unwrap();
    assert_eq!(frames[0]["function"], "init");
    assert_eq!(frames[1]["function"], "query");
    assert_eq!(frames[1]["direction"], "server");
    assert_eq!(frames[2]["direction"], "client");

    // The raw log reads back with the exporter-format reader: three sessions,
    // each starting with the unit's init, frames alternating server/client.
    let deadline = Instant::now() + WAIT;
    let sessions = loop {
        let file = std::fs::File::open(&raw_log).ok();
        let sessions: Vec<_> = file
            .map(|f| {
                rewire_transport::capture::RawLogReader::new(f)
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap()
            })
            .unwrap_or_default();
        if sessions.len() == 3 || Instant::now() > deadline {
            break sessions;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(sessions.len(), 3);
    for s in &sessions {
        assert_eq!(s.frames[0].n, 1);
        assert_eq!(s.frames[0].data[7], 0x00);
        for pair in s.frames[1..].chunks(2) {
            assert_eq!(
                pair[0].direction,
                rewire_transport::capture::Direction::ServerToClient
            );
            assert_eq!(
                pair[1].direction,
                rewire_transport::capture::Direction::ClientToServer
            );
            assert_eq!(
                pair[0].data[7], pair[1].data[7],
                "answer has the query's function"
            );
        }
    }
    // And `websentry decode` reads it back, pairing every answer with its query.
    let out = Command::new(BIN)
        .args([
            "decode",
            "--json",
            "--input",
            "wmpe-json",
            raw_log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let records: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let frames: usize = sessions.iter().map(|s| s.frames.len()).sum();
    assert_eq!(records.len(), frames);
    assert!(
        records
            .iter()
            .all(|r| r["kind"] == "frame" && r["crc_ok"] == true)
    );
    assert!(
        records.iter().all(|r| r["body_error"].is_null()),
        "answers pair with queries"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn upstream_down_closes_the_unit_cleanly_and_counts() {
    // A port nobody listens on.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = proxy(&dead.to_string(), &[]);
    for n in 1..=2 {
        let mut unit = TcpStream::connect(p.addr).unwrap();
        let _ = unit.write_all(&frame(FunctionCode::INIT, &[]));
        assert!(read_to_end(&mut unit).is_empty());
        wait_metric(p.http, "websentry_upstream_failures_total", f64::from(n));
    }
    let metrics = wait_metric(p.http, "websentry_sessions_total", 2.0);
    promtool(&metrics);
}

/// A fake upstream: accepts one connection and runs `script` on it.
fn fake_upstream(
    script: impl FnOnce(TcpStream) + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        script(s);
    });
    (addr, handle)
}

#[test]
fn bad_crc_absurd_length_and_cut_header_pass_unchanged_and_are_counted() {
    let mut bad_crc = frame(FunctionCode::QUERY, &[0x06, 0x00, 0x06, 0x02, 0x16]);
    bad_crc[3] ^= 0x55;
    let mut absurd = vec![0x70, 0x83, 0x9e, 0x00, 0x00, 0xea, 0x60, 0x02];
    absurd.extend((0..500u32).map(|i| (i * 7) as u8));
    let odd_function = frame(FunctionCode(0x42), &[1, 2, 3]);
    let cut = [0x70, 0x83, 0x9e, 0x12];
    let mut sent = Vec::new();
    for part in [&bad_crc[..], &absurd, &odd_function, &cut] {
        sent.extend_from_slice(part);
    }
    let reply: Vec<u8> = frame(FunctionCode::QUERY, &[0x06, 0x00, 0x0f]);

    let (tx, rx) = mpsc::channel();
    let reply2 = reply.clone();
    let (up, handle) = fake_upstream(move |mut s| {
        let got = read_to_end(&mut s);
        s.write_all(&reply2).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        tx.send(got).unwrap();
    });
    let p = proxy(&up.to_string(), &[]);
    let mut unit = TcpStream::connect(p.addr).unwrap();
    for part in [&bad_crc[..], &absurd, &odd_function, &cut] {
        unit.write_all(part).unwrap();
        thread::sleep(Duration::from_millis(20));
    }
    // The unit stops mid-header: its half-close reaches the upstream, which
    // still answers on its own half.
    unit.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut unit), reply);
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        sent,
        "upstream got every byte"
    );
    handle.join().unwrap();

    let metrics = wait_metric(
        p.http,
        "websentry_crc_errors_total{direction=\"client\"}",
        1.0,
    );
    let garbage = sample(
        &metrics,
        "websentry_decode_errors_total{direction=\"client\",reason=\"garbage\"}",
    );
    assert!(garbage.is_some_and(|g| g >= 1.0), "{metrics}");
    let truncated = sample(
        &metrics,
        "websentry_decode_errors_total{direction=\"client\",reason=\"truncated\"}",
    );
    assert_eq!(truncated, Some(1.0), "{metrics}");
    assert_eq!(
        sample(
            &metrics,
            "websentry_frames_total{function=\"0x42\",direction=\"client\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "websentry_relayed_bytes_total{direction=\"client\"}"
        ),
        Some(sent.len() as f64)
    );
    promtool(&metrics);
}

#[test]
fn upstream_reset_mid_frame_delivers_what_came_and_the_proxy_goes_on() {
    let half = frame(FunctionCode::QUERY, &[0x06, 0x00, 0x0f, 0x06, 0x01, 0x0f]);
    let half = half[..9].to_vec();
    let half2 = half.clone();
    let (up, handle) = fake_upstream(move |mut s| {
        let init = read_exact_timeout(&mut s, 8);
        assert_eq!(init[7], 0x00);
        s.write_all(&half2).unwrap();
        // Unread bytes from the unit arrive; closing now sends a reset.
        thread::sleep(Duration::from_millis(300));
        drop(s);
    });
    let p = proxy(&up.to_string(), &[]);
    let mut unit = TcpStream::connect(p.addr).unwrap();
    unit.write_all(&frame(FunctionCode::INIT, &[])).unwrap();
    assert_eq!(read_exact_timeout(&mut unit, half.len()), half);
    unit.write_all(b"unread by the upstream").unwrap();
    assert_eq!(read_to_end(&mut unit), Vec::<u8>::new());
    handle.join().unwrap();
    let metrics = wait_metric(
        p.http,
        "websentry_relay_errors_total{side=\"upstream\"}",
        1.0,
    );
    assert_eq!(
        sample(
            &metrics,
            "websentry_decode_errors_total{direction=\"server\",reason=\"truncated\"}"
        ),
        Some(1.0),
        "{metrics}"
    );

    // A new session through the same proxy (a second fake upstream would need
    // a new port, so check the proxy still accepts and reports the dead one).
    let mut again = TcpStream::connect(p.addr).unwrap();
    assert!(read_to_end(&mut again).is_empty());
    wait_metric(p.http, "websentry_upstream_failures_total", 1.0);
    wait_metric(p.http, "websentry_sessions_total", 2.0);
}

#[test]
fn a_hundred_concurrent_sessions_are_relayed_exactly() {
    // An echo upstream that serves every connection on its own thread.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    let p = proxy(&up.to_string(), &[]);
    let handles: Vec<_> = (0..100u8)
        .map(|i| {
            let addr = p.addr;
            thread::spawn(move || {
                let mut unit = TcpStream::connect(addr).unwrap();
                let mut sent = Vec::new();
                for k in 0..5u8 {
                    let f = frame(FunctionCode::QUERY, &[i, k, 0x0f]);
                    unit.write_all(&f).unwrap();
                    sent.extend_from_slice(&f);
                    thread::sleep(Duration::from_millis(5));
                }
                unit.shutdown(Shutdown::Write).unwrap();
                assert_eq!(read_to_end(&mut unit), sent);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let metrics = wait_metric(
        p.http,
        "websentry_frames_total{function=\"query\",direction=\"server\"}",
        500.0,
    );
    assert_eq!(sample(&metrics, "websentry_sessions_total"), Some(100.0));
}

/// With `-v` every frame is a line on stderr; a stderr nobody reads (after
/// the start-up lines) must not stop the relay (it used to after 16 KB).
#[test]
fn an_unread_stderr_does_not_stall_the_relay() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    let mut child = Command::new(BIN)
        .args([
            "-v",
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--upstream",
            &up.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let guard = Guard(child);
    let mut addr = None;
    for _ in 0..2 {
        let mut l = String::new();
        stderr.read_line(&mut l).unwrap();
        if let Some(a) = l.trim().strip_prefix("listening on ") {
            addr = Some(a.parse::<SocketAddr>().unwrap());
        }
    }
    // From here on nobody reads stderr.
    let mut unit = TcpStream::connect(addr.unwrap()).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut reader = unit.try_clone().unwrap();
    let expected: Vec<u8> = (0..3000u16)
        .flat_map(|i| frame(FunctionCode::QUERY, &[(i >> 8) as u8, i as u8, 0x0f]))
        .collect();
    let total = expected.len();
    thread::spawn(move || {
        let mut got = vec![0u8; total];
        reader.set_read_timeout(Some(WAIT)).unwrap();
        let r = reader.read_exact(&mut got).map(|()| got);
        let _ = tx.send(r);
    });
    for chunk in expected.chunks(11 * 50) {
        unit.write_all(chunk).unwrap();
    }
    let got = rx
        .recv_timeout(WAIT)
        .expect("the relay went on")
        .expect("every byte echoed");
    assert_eq!(got, expected);
    drop(stderr);
    drop(guard);
}
