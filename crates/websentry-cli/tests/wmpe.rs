//! `websentry proxy --metric-names wmpe`: the original exporter's metric
//! names, units and pages, end to end with the simulators on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use support::{WAIT, line, spawn};

fn get(addr: SocketAddr, target: &str) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {target} HTTP/1.0\r\nHost: t\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

fn value(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.parse().ok()).flatten()
    })
}

#[test]
fn the_original_exporters_names_units_and_pages() {
    let (_cloud, cloud_rx) = spawn(&["simulate", "cloud", "--listen", "127.0.0.1:0"]);
    let cloud = line(&cloud_rx, "listening on ");
    let (_proxy, proxy_rx) = spawn(&[
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--upstream",
        &cloud,
        "--metric-names",
        "wmpe",
    ]);
    let relay = line(&proxy_rx, "listening on ");
    let http: SocketAddr = line(&proxy_rx, "http on ").parse().unwrap();
    // Before any session: no /last yet, counters at zero, uptime there.
    let (head, _) = get(http, "/last");
    assert!(head.contains(" 404 "), "{head}");
    let (_, metrics) = get(http, "/metrics");
    assert_eq!(value(&metrics, "sessions_started"), Some(0.0), "{metrics}");
    assert!(
        value(&metrics, "websentry_mitm_uptime").is_some(),
        "{metrics}"
    );

    let (_unit, unit_rx) = spawn(&["simulate", "unit", "--connect", &relay, "--sessions", "1"]);
    line(&unit_rx, "unit session 1 ");
    line(&cloud_rx, "cloud session 1 ");
    let deadline = Instant::now() + WAIT;
    let metrics = loop {
        let (_, m) = get(http, "/metrics");
        if value(&m, "sessions_ended") == Some(1.0) {
            break m;
        }
        assert!(Instant::now() < deadline, "{m}");
        thread::sleep(Duration::from_millis(100));
    };
    // Bare names, the unit's own units (°F as sent), one decimal, no TYPE lines.
    assert!(!metrics.contains("# TYPE"), "{metrics}");
    assert!(!metrics.contains("websentry_humidity"), "{metrics}");
    let humidity = value(&metrics, "humidity_percent").expect("humidity_percent");
    assert!((20.0..=90.0).contains(&humidity), "{metrics}");
    let room = value(&metrics, "room_temp_f").expect("room_temp_f");
    assert!(room > 50.0, "°F as the unit sends it: {metrics}");
    assert_eq!(value(&metrics, "sessions_started"), Some(1.0));
    for l in metrics.lines().skip(1) {
        let (name, v) = l.split_once(' ').unwrap();
        assert!(!name.starts_with("websentry_"), "{l}");
        assert_eq!(v.split_once('.').map(|(_, d)| d.len()), Some(1), "{l}");
    }
    let names: Vec<&str> = metrics
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut sorted = names[1..].to_vec();
    sorted.sort_unstable();
    assert_eq!(names[1..], sorted[..], "sorted by name after the uptime");

    let (head, props) = get(http, "/props");
    assert!(head.contains("text/html"), "{head}");
    assert!(
        props.starts_with("<html><body><h1>props</h1><table"),
        "{props}"
    );
    assert!(
        props.contains("<tr><td>prop_0x0600</td><td>humidity_percent</td>"),
        "{props}"
    );
    let (_, md) = get(http, "/props?format=md");
    assert!(
        md.starts_with("| Code | Name | Type | Sample Value | Sample, Decoded |"),
        "{md}"
    );
    assert!(
        md.lines()
            .any(|l| l.starts_with("| 0x0600 | humidity_percent | `0x06` | <nobr>`")),
        "{md}"
    );
    let (_, last) = get(http, "/last");
    assert!(
        last.starts_with("<html><body><h1>last session</h1><pre>"),
        "{last}"
    );
    assert!(
        last.contains("[ 1]: C: 00 "),
        "the init frame's payload first: {last}"
    );
    assert!(last.contains("[ 2]: S: 02 "), "the first query: {last}");
    assert!(
        last.contains("<tr><td>4/5</td><td>prop_0x0600</td><td>humidity_percent</td>"),
        "{last}"
    );
    // rewire's own pages are still there.
    let (head, _) = get(http, "/props.json");
    assert!(head.contains(" 200 "), "{head}");
}
