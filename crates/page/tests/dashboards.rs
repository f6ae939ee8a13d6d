//! The Grafana dashboards in `contrib/grafana/`: each is valid JSON of the
//! import format, and every metric name in every panel query exists in its
//! tool's `/metrics` while the tool's live mode runs against its simulator
//! (the same host libraries the CLIs wire, started in-process so the test
//! needs no prebuilt binary).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rewire_host::service::StopFlag;
use rewire_host::sink::Fanout;
use serde_json::Value as Json;

fn dashboard(tool: &str) -> Json {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib/grafana")
        .join(format!("{tool}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks the import format; returns every panel query.
fn queries(tool: &str, d: &Json) -> Vec<String> {
    let inputs = d["__inputs"].as_array().expect("__inputs");
    assert!(
        inputs.iter().any(|i| i["name"] == "DS_PROMETHEUS"
            && i["type"] == "datasource"
            && i["pluginId"] == "prometheus"),
        "{tool}: declares its Prometheus data source input"
    );
    assert!(
        d["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{tool}: title"
    );
    assert!(
        d["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty() && u.len() <= 40),
        "{tool}: uid"
    );
    assert!(
        d["schemaVersion"].as_u64().is_some(),
        "{tool}: schemaVersion"
    );
    assert!(d["id"].is_null(), "{tool}: an import carries no id");
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut exprs = Vec::new();
    for p in panels {
        let id = p["id"].as_u64().expect("panel id");
        assert!(ids.insert(id), "{tool}: panel id {id} twice");
        let title = p["title"].as_str().expect("panel title");
        assert!(p["type"].as_str().is_some(), "{tool}: {title}: type");
        let pos = &p["gridPos"];
        for k in ["h", "w", "x", "y"] {
            assert!(pos[k].as_u64().is_some(), "{tool}: {title}: gridPos.{k}");
        }
        assert!(
            pos["x"].as_u64().unwrap() + pos["w"].as_u64().unwrap() <= 24,
            "{tool}: {title}: fits 24 columns"
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(
            p["datasource"]["uid"], "${DS_PROMETHEUS}",
            "{tool}: {title}"
        );
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{tool}: {title}: no query");
        for t in targets {
            assert!(t["refId"].as_str().is_some(), "{tool}: {title}: refId");
            assert_eq!(
                t["datasource"]["uid"], "${DS_PROMETHEUS}",
                "{tool}: {title}"
            );
            exprs.push(t["expr"].as_str().expect("expr").to_owned());
        }
    }
    assert!(exprs.len() >= 5, "{tool}: {} queries", exprs.len());
    exprs
}

/// Returns the metric names a query uses: identifiers with the tool's
/// prefix outside label matchers' quoted values.
fn metric_names(tool: &str, expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut quoted = false;
    let mut word = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            word.push(c);
            continue;
        }
        if word.starts_with(&format!("{tool}_")) {
            names.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    names
}

/// Returns the metric names of Prometheus text.
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// Scrapes until `want` all appear (the simulators need a moment).
fn scrape_until(addr: SocketAddr, want: &BTreeSet<String>) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let have = exposed(&scrape(addr));
        if want.is_subset(&have) || Instant::now() > deadline {
            return have;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn check(tool: &str, addr: SocketAddr) {
    let d = dashboard(tool);
    let want: BTreeSet<String> = queries(tool, &d)
        .iter()
        .flat_map(|q| metric_names(tool, q))
        .collect();
    assert!(!want.is_empty());
    let have = scrape_until(addr, &want);
    let missing: Vec<&String> = want.difference(&have).collect();
    assert!(
        missing.is_empty(),
        "{tool}: the dashboard uses metrics /metrics lacks: {missing:?}\nexposed: {have:?}"
    );
}

/// Returns the page's `/api/state` once `ready` holds for it (its sink
/// runs on a thread of its own), after checking that every headline item
/// has a value except those in `absent`.
fn page_state(page: &rewire_page::Page, absent: &[&str], ready: impl Fn(&Json) -> bool) -> Json {
    let deadline = Instant::now() + Duration::from_secs(5);
    let s = loop {
        let r = page
            .respond(&rewire_host::http::Request::new("GET", "/api/state").unwrap())
            .unwrap();
        let s: Json = serde_json::from_slice(r.body()).unwrap();
        if ready(&s) || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for item in s["headline"].as_array().unwrap() {
        let key = item["key"].as_str().unwrap();
        if !absent.contains(&key) {
            assert!(
                !item["value"].is_null(),
                "headline {key} has no value: {s:#}"
            );
        }
    }
    s
}

#[test]
fn metric_names_are_read_from_queries() {
    let q = r#"sum by (kind) (rate(upsilon_records_total{kind="upsilon_x"}[5m])) * 60 + upsilon_load_percent"#;
    let names: Vec<String> = metric_names("upsilon", q).into_iter().collect();
    assert_eq!(names, ["upsilon_load_percent", "upsilon_records_total"]);
}

#[test]
fn the_upsilon_dashboard_matches_upsilon_monitor_against_its_simulator() {
    use rewire_upsilon_host::hub::Hub;
    use rewire_upsilon_host::monitor::{Monitor, MonitorConfig, Outputs};
    use rewire_upsilon_host::nut::NutConfig;
    use rewire_upsilon_host::sim::{
        Rupsmon, RupsmonConfig, Script, run_heartbeat, run_sms, sms_request,
    };

    let rupsmon = Rupsmon::start(&RupsmonConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        interval: Duration::from_millis(100),
        script: Script::Outage,
        count: None,
    })
    .unwrap();
    let hub = Hub::new("ups");
    let page = rewire_page::Page::new(rewire_page::PageConfig::new(
        rewire_page::Headline::upsilon(),
    ));
    hub.add_sink(page.sink(), 1024);
    let servers = Outputs {
        nut: None,
        nut_config: NutConfig::new("ups", "UPS", Duration::from_secs(15)),
        http: Some("127.0.0.1:0".parse().unwrap()),
        webhook: None,
    }
    .start(&hub)
    .unwrap();
    let monitor = Monitor::start(
        &MonitorConfig {
            rupsmon: Some(rupsmon.local_addr().to_string()),
            heartbeat: Some("127.0.0.1:0".parse().unwrap()),
            sms_listen: Some("127.0.0.1:0".parse().unwrap()),
            backoff: rewire_transport::link::Backoff::default(),
            max_clients: 8,
        },
        &hub,
    )
    .unwrap();
    let stop = StopFlag::new();
    run_heartbeat(
        monitor.heartbeat_addr().unwrap(),
        Some(0),
        Duration::from_millis(10),
        Some(2),
        stop.as_atomic(),
    )
    .unwrap();
    let request = sms_request("0123456789", "PC", "test", "1");
    run_sms(
        monitor.sms_addr().unwrap(),
        &request,
        Duration::from_secs(2),
    )
    .unwrap();
    check("upsilon", servers.http_addr().unwrap());
    // The simulator's temperature is `--.-`: not reported.
    let state = page_state(&page, &["temperature"], |s| s["headline"][6]["value"] == 1);
    assert_eq!(state["headline"][0]["unit"], "V");
    assert_eq!(state["headline"][6]["value"], 1, "the SMS alert: {state:#}");
    let status = state["status"]["text"].as_str().unwrap();
    assert!(
        ["ON LINE", "ON BATTERY", "LOW BATTERY"].contains(&status),
        "{status}"
    );
    monitor.shutdown();
    servers.shutdown();
    hub.close();
    rupsmon.shutdown();
}

#[test]
fn the_websentry_dashboard_matches_websentry_proxy_against_its_simulators() {
    use rewire_websentry_host::proxy::{Proxy, ProxyConfig};
    use rewire_websentry_host::simulate::{Cloud, CloudConfig, UnitConfig, run_unit};

    let cloud = Cloud::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        CloudConfig {
            set_every: 1,
            sessions: 0,
            answer_timeout: Duration::from_secs(2),
            max_concurrent: 8,
        },
        |_| {},
    )
    .unwrap();
    let mut config = ProxyConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        cloud.local_addr().to_string(),
    );
    config.http = Some("127.0.0.1:0".parse().unwrap());
    let page = rewire_page::Page::new(rewire_page::PageConfig::new(
        rewire_page::Headline::websentry(),
    ));
    let mut sinks = Fanout::new();
    sinks.add(page.sink(), 1024);
    let proxy = Proxy::start(config, sinks).unwrap();
    let unit = UnitConfig {
        connect: proxy.local_addr().to_string(),
        sessions: 2,
        interval: Duration::from_millis(50),
        mac: [0, 0x90, 0xc2, 0x0c, 0x02, 0xb3],
        seed: 1,
        idle_timeout: Duration::from_secs(5),
    };
    run_unit(&unit, &StopFlag::new(), |_| {}).unwrap();
    check("websentry", proxy.http_addr().unwrap());
    // The simulated unit has no dehumidifier state property.
    let state = page_state(&page, &["dehumidifer_state", "events:bad_frame"], |s| {
        s["headline"][9]["value"] == 2 && !s["headline"][0]["value"].is_null()
    });
    assert_eq!(state["status"]["text"], "RELAYING");
    assert_eq!(state["headline"][0]["unit"], "%");
    assert_eq!(state["headline"][2]["unit"], "°C");
    assert_eq!(
        state["headline"][5]["text"], "Ready",
        "the blower's enum label"
    );
    assert_eq!(state["headline"][9]["value"], 2, "two sessions");
    assert_eq!(state["link"]["up"], true);
    proxy.shutdown();
    cloud.shutdown();
}

/// Frames the way the PCU line carries them: `FF len dst src reply 01 func
/// data… sum`, the sum over every byte before it.
fn pcu_frame(func: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0xFF,
        u8::try_from(data.len() + 8).unwrap(),
        0x01,
        0x00,
        0x01,
        0x01,
        func,
    ];
    f.extend_from_slice(data);
    let sum = f.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    f.push(sum);
    f
}

#[test]
fn the_powerone_dashboard_matches_powerone_listen_against_its_simulator() {
    use rewire_powerone_host::message::Codes;
    use rewire_powerone_host::simulator::{Pcu, SimConfig, Simulator, local_now};
    use rewire_powerone_host::tally::{TallySink, serve_metrics};
    use rewire_powerone_host::tap::{Tap, TapConfig};
    use rewire_transport::link::Listener;

    let upstream = Listener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().to_string();
    let pcu = Pcu::new(
        SimConfig {
            verify_function: Some(0x70),
            ..SimConfig::default()
        },
        local_now(),
    );
    let sim = Simulator::serve_tcp(upstream, pcu, Fanout::new()).unwrap();
    let tally = TallySink::new();
    let page = rewire_page::Page::new(rewire_page::PageConfig::new(
        rewire_page::Headline::powerone(),
    ));
    let mut fanout = Fanout::new();
    fanout.add(tally.clone(), 1024);
    fanout.add(page.sink(), 1024);
    let metrics = serve_metrics("127.0.0.1:0".parse().unwrap(), tally).unwrap();
    let listener = Listener::bind("127.0.0.1:0").unwrap();
    let relay = listener.local_addr();
    let tap = Tap::relay(
        listener,
        upstream_addr,
        Duration::from_secs(1),
        TapConfig {
            codes: Codes {
                verify_password: Some(0x70),
            },
            count: None,
        },
        fanout,
    )
    .unwrap();
    let mut client = TcpStream::connect(relay).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut reply = [0u8; 64];
    // Set the clock to 2011-03-15 15:13, check a password, then a frame
    // with a wrong checksum and some garbage.
    client
        .write_all(&pcu_frame(0x07, &[11, 3, 15, 15, 13]))
        .unwrap();
    let _ = client.read(&mut reply).unwrap();
    client.write_all(&pcu_frame(0x70, b"8888")).unwrap();
    let _ = client.read(&mut reply).unwrap();
    let mut bad = pcu_frame(0x07, &[11, 3, 15, 15, 13]);
    if let Some(sum) = bad.last_mut() {
        *sum ^= 0x55;
    }
    client.write_all(&bad).unwrap();
    client.write_all(b"\x01\x02garbage").unwrap();
    // A good frame after them ends the garbage run.
    client
        .write_all(&pcu_frame(0x07, &[11, 3, 15, 15, 14]))
        .unwrap();
    let _ = client.read(&mut reply).unwrap();
    check("powerone", metrics.local_addr());
    let state = page_state(&page, &[], |s| {
        s["headline"][1]["value"] == 1 && s["headline"][4]["text"] == "yes"
    });
    assert_eq!(
        state["headline"][1]["value"], 1,
        "one bad checksum: {state:#}"
    );
    assert_eq!(state["headline"][3]["text"], "2011-03-15 15:14");
    assert_eq!(state["headline"][4]["text"], "yes", "password accepted");
    drop(client);
    let _ = tap.shutdown();
    metrics.shutdown();
    sim.shutdown();
}
