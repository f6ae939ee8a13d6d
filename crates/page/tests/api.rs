//! The JSON endpoints: exact values, units, ages, stale marking, bounds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rewire_host::http::{Request, Response};
use rewire_host::reading::{DeviceId, Event, Observation, Priority, Reading, Unit, Value};
use rewire_host::sink::{Fanout, SinkStats};
use rewire_page::{Headline, Page, PageConfig};
use serde_json::{Value as Json, json};

/// A test driver's message: any readings, any event.
struct Msg {
    device: DeviceId,
    readings: Vec<Reading>,
    event: Option<Event>,
}

impl Observation for Msg {
    fn device(&self) -> &DeviceId {
        &self.device
    }
    fn readings(&self, out: &mut Vec<Reading>) {
        out.extend(self.readings.iter().cloned());
    }
    fn event(&self) -> Option<Event> {
        self.event.clone()
    }
}

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

fn status(ts: SystemTime, input: f64, on_battery: bool) -> Msg {
    Msg {
        device: DeviceId::new("upsilon", "ups"),
        readings: vec![
            Reading::gauge(
                "input_voltage",
                "Input voltage",
                Value::Number(input),
                Unit::Volt,
                ts,
            ),
            Reading::gauge("load", "Load", Value::Number(12.0), Unit::Percent, ts),
            Reading::gauge("temperature", "Temp", Value::Unset, Unit::Celsius, ts),
            Reading::state("status_bit", "Bits", Value::Bool(on_battery), ts)
                .with_label("bit", "utility_fail"),
        ],
        event: None,
    }
}

fn event(name: &'static str, priority: Priority, ts: SystemTime) -> Msg {
    Msg {
        device: DeviceId::new("upsilon", "ups"),
        readings: Vec::new(),
        event: Some(Event {
            name: name.into(),
            priority,
            text: format!("{name} happened"),
            ts,
        }),
    }
}

fn get(page: &Page, target: &str) -> Response {
    page.respond(&Request::new("GET", target).unwrap())
        .expect("a page path")
}

fn get_json(page: &Page, target: &str) -> Json {
    let r = get(page, target);
    assert_eq!(r.status(), 200, "{target}: {}", r.body_text());
    assert_eq!(r.content_type(), "application/json");
    serde_json::from_slice(r.body()).unwrap()
}

#[test]
fn state_has_exact_values_units_ages_and_marks_staleness() {
    let mut config = PageConfig::new(Headline::upsilon());
    config.stale_after = Duration::from_millis(300);
    let page = Page::new(config);
    page.set_outputs(|| {
        vec![SinkStats {
            name: "webhook".into(),
            dropped: [1, 2, 3],
            queued: 4,
            inner_dropped: 0,
        }]
    });
    let s = get_json(&page, "/api/state");
    assert_eq!(
        s["status"],
        json!({"text": "NO DATA YET", "severity": "WARNING"})
    );
    assert_eq!(s["stale"], true);

    let mut fanout = Fanout::new();
    fanout.add(page.sink(), 64);
    fanout.publish(status(SystemTime::now(), 230.5, false));
    fanout.close();
    let s = get_json(&page, "/api/state");
    assert_eq!(s["title"], "UPS");
    assert_eq!(s["device"], "upsilon/ups");
    assert_eq!(s["status"], json!({"text": "ON LINE", "severity": "OK"}));
    assert_eq!(s["stale"], false);
    let input = &s["headline"][0];
    assert_eq!(input["key"], "input_voltage");
    assert_eq!(input["label"], "Input");
    assert_eq!(input["value"], 230.5);
    assert_eq!(input["unit"], "V");
    assert_eq!(input["text"], "230.5 V");
    assert_eq!(input["stale"], false);
    assert!(input["age_s"].as_f64().unwrap() < 0.3);
    assert_eq!(s["headline"][2]["text"], "12 %");
    let temp = &s["headline"][5];
    assert_eq!(
        (&temp["value"], &temp["text"]),
        (&Json::Null, &json!("not reported"))
    );
    let bit = s["readings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "status_bit{bit=\"utility_fail\"}")
        .unwrap();
    assert_eq!(bit["value"], false);
    assert_eq!(bit["labels"], json!({"bit": "utility_fail"}));
    assert_eq!(bit["kind"], "state");
    assert_eq!(s["link"]["records"], 1);
    assert_eq!(
        s["link"]["outputs"],
        json!([{"output": "webhook", "dropped": 6, "queued": 4}])
    );
    assert_eq!(s["window_s"], 86400.0);
    assert_eq!(s["bucket_s"], 60.0);

    // The device goes quiet: the last known state stays, marked stale.
    std::thread::sleep(Duration::from_millis(400));
    let s = get_json(&page, "/api/state");
    assert_eq!(s["stale"], true);
    assert_eq!(s["status"]["text"], "ON LINE");
    assert_eq!(s["headline"][0]["text"], "230.5 V");
    assert_eq!(s["headline"][0]["stale"], true);
    assert!(s["link"]["last_record_age_s"].as_f64().unwrap() >= 0.4);
}

#[test]
fn outage_link_loss_and_events_show_in_order_and_bounded() {
    let page = Page::new(PageConfig::new(Headline::upsilon()));
    page.observe(&status(at(1000), 230.0, false));
    page.observe(&event("connection_lost", Priority::Alert, at(1001)));
    assert_eq!(get_json(&page, "/api/state")["status"]["text"], "LINK DOWN");
    page.observe(&event("connection_restored", Priority::Alert, at(1002)));
    page.observe(&status(at(1003), 0.0, true));
    page.observe(&event("on_battery", Priority::Alert, at(1003)));
    // A flood of bad frames: counted in one entry, never pushing the outage out.
    for i in 0..1000 {
        page.observe(&event("error", Priority::Error, at(1004 + i)));
    }
    let s = get_json(&page, "/api/state");
    assert_eq!(
        s["status"],
        json!({"text": "ON BATTERY", "severity": "ALARM"})
    );
    assert_eq!(s["link"]["up"], true);
    assert_eq!(s["link"]["reconnects"], 1);
    assert_eq!(s["link"]["connected_since"], 1002.0);
    let e = get_json(&page, "/api/events");
    let names: Vec<&str> = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "error",
            "on_battery",
            "connection_restored",
            "connection_lost"
        ]
    );
    assert_eq!(e["events"][0]["count"], 1000);
    assert_eq!(e["events"][0]["ts"], 1004.0);
    assert_eq!(e["events"][0]["last"], 2003.0);
    assert_eq!(e["events"][1]["text"], "on_battery happened");
    assert_eq!(e["events"][1]["priority"], "alert");
    assert_eq!(e["counts"]["error"], 1000);
    assert_eq!(
        get_json(&page, "/api/events?limit=2")["events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Alerts beyond the ring's size push out the oldest alerts only.
    for i in 0..500 {
        page.observe(&event("sms_alert", Priority::Alert, at(3000 + i)));
    }
    let e = get_json(&page, "/api/events?limit=100000");
    assert_eq!(
        e["events"].as_array().unwrap().len(),
        101,
        "100 alerts + 1 other"
    );
    assert!(get(&page, "/api/events").body().len() < 64 * 1024);
    assert_eq!(get(&page, "/api/events?limit=x").status(), 400);
}

#[test]
fn a_day_at_one_record_per_second_stays_within_the_stated_memory() {
    let config = PageConfig::new(Headline::upsilon());
    let limit = config.history_limit_bytes();
    assert_eq!(limit, 64 * 1440 * 32, "the figure docs/page.md states");
    let page = Page::new(config);
    // A minute boundary, so that buckets start with the samples.
    let start = 1_700_000_040u64;
    for s in 0..86_400u64 {
        #[allow(clippy::cast_precision_loss)]
        page.observe(&status(at(start + s), 200.0 + (s % 60) as f64, false));
    }
    let bytes = page.lock().history_bytes();
    assert!(bytes <= limit, "{bytes} > {limit}");
    // Two charted readings got samples (input voltage and load).
    assert_eq!(bytes, 2 * 1440 * 32);
    let h = get_json(&page, "/api/history?reading=input_voltage");
    assert_eq!(h["unit"], "V");
    assert_eq!(h["bucket_s"], 60.0);
    let points = h["points"].as_array().unwrap();
    assert_eq!(points.len(), 1440);
    // Each minute saw 200..259 V; the newest bucket's last sample is 259 V.
    assert_eq!(
        points[1439],
        json!([(start + 86_340) as f64, 200.0, 259.0, 259.0])
    );
    let since = start + 86_400 - 600;
    let h = get_json(
        &page,
        &format!("/api/history?reading=input_voltage&since={since}"),
    );
    assert_eq!(h["points"].as_array().unwrap().len(), 10);
    let body = get(&page, "/api/history?reading=input_voltage")
        .body()
        .len();
    assert!(body < 128 * 1024, "{body}");
    let state = get(&page, "/api/state").body().len();
    assert!(state < 64 * 1024, "{state}");
    assert_eq!(get(&page, "/api/history?reading=nope").status(), 404);
    assert_eq!(get(&page, "/api/history").status(), 400);
    assert_eq!(
        get(&page, "/api/history?reading=load&since=soon").status(),
        400
    );
    let bit = "status_bit%7Bbit%3D%22utility_fail%22%7D";
    assert_eq!(
        get(&page, &format!("/api/history?reading={bit}")).status(),
        404,
        "not charted"
    );
}

#[test]
fn readings_are_bounded_and_other_paths_go_to_the_fallback() {
    let mut config = PageConfig::new(Headline::new("Thing"));
    config.max_readings = 10;
    config.max_series = 3;
    let page = Page::new(config);
    let ts = at(5);
    let readings = (0..50)
        .map(|i| Reading::gauge(format!("r{i:02}"), "x", Value::Number(1.0), Unit::None, ts))
        .collect();
    page.observe(&Msg {
        device: DeviceId::new("websentry", "unit"),
        readings,
        event: None,
    });
    let s = get_json(&page, "/api/state");
    assert_eq!(s["readings"].as_array().unwrap().len(), 10);
    assert_eq!(s["readings_refused"], 40);
    assert_eq!(s["charts"].as_array().unwrap().len(), 3);
    assert_eq!(s["status"]["text"], "RECEIVING");
    assert!(
        page.respond(&Request::new("GET", "/metrics").unwrap())
            .is_none()
    );
    let r = page
        .respond(&Request::new("POST", "/api/state").unwrap())
        .unwrap();
    assert_eq!(r.status(), 405);
    let html = get(&page, "/");
    assert_eq!(html.content_type(), "text/html; charset=utf-8");
    let html = html.body_text();
    assert!(html.contains("api/state"));
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no remote assets"
    );
    assert!(!html.contains("<link"), "no external stylesheet");
    let handler = page.handler(|_: &Request| Response::text(200, "metrics here\n"));
    use rewire_host::http::Handler;
    let r = handler.handle(&Request::new("GET", "/metrics").unwrap());
    assert_eq!(r.body_text(), "metrics here\n");
}
