//! The JSON endpoints and the embedded page.

use std::time::{Duration, SystemTime};

use rewire_host::epoch_seconds;
use rewire_host::http::Response;
use rewire_host::reading::{Kind, Value};
use rewire_host::sink::SinkStats;
use serde_json::{Value as Json, json};

use crate::headline::Item;
use crate::state::{Current, EventEntry, State, value_text};

/// The page: HTML, CSS and script in one file, inside the binary.
pub const PAGE: &str = include_str!("page.html");

/// Events `/api/state` lists (the newest).
const STATE_EVENTS: usize = 20;

pub fn json(status: u16, value: &Json) -> Response {
    Response::new(status, "application/json", value.to_string())
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn number(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
}

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Gauge => "gauge",
        Kind::Counter => "counter",
        Kind::State => "state",
    }
}

fn reading_json(key: &str, c: &Current, stale_after: Duration) -> Json {
    let r = &c.reading;
    let value = match &r.value {
        Value::Number(v) => number(*v),
        Value::Bool(b) => Json::Bool(*b),
        Value::Text(t) => Json::String(t.to_string()),
        Value::Unset => Json::Null,
    };
    let age = c.received.elapsed();
    let labels: serde_json::Map<String, Json> = r
        .labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Json::String(v.to_string())))
        .collect();
    json!({
        "key": key,
        "name": r.name,
        "labels": labels,
        "help": r.help,
        "kind": kind(r.kind),
        "value": value,
        "unit": r.unit.symbol(),
        "text": value_text(c),
        "ts": number(epoch_seconds(r.ts)),
        "age_s": secs(age),
        "stale": age > stale_after,
    })
}

fn event_json(e: &EventEntry) -> Json {
    json!({
        "ts": number(epoch_seconds(e.event.ts)),
        "last": number(epoch_seconds(e.last)),
        "name": e.event.name,
        "priority": match e.event.priority {
            rewire_host::reading::Priority::Error => "error",
            rewire_host::reading::Priority::Routine => "routine",
            rewire_host::reading::Priority::Alert => "alert",
        },
        "count": e.count,
        "text": e.event.text,
    })
}

pub fn state(s: &State, outputs: &[SinkStats]) -> Json {
    let stale_after = s.config.stale_after;
    let (status, severity) = s.status();
    let stale = s.stale();
    let items: Vec<Json> = s
        .config
        .headline
        .items
        .iter()
        .map(|item| match item {
            Item::Reading { key, label } => match s.current.get(key) {
                Some(c) => {
                    let mut j = reading_json(key, c, stale_after);
                    j["label"] = Json::String(label.clone());
                    j
                }
                None => json!({"key": key, "label": label, "value": null, "text": "no reading yet", "unit": "", "age_s": null, "stale": true}),
            },
            Item::Events { name, label } => {
                let n = s.event_counts.get(name).copied().unwrap_or(0);
                json!({"key": format!("events:{name}"), "label": label, "value": n, "text": n.to_string(), "unit": "", "age_s": null, "stale": false})
            }
            Item::Records { label } => json!({"key": "records", "label": label, "value": s.records, "text": s.records.to_string(), "unit": "", "age_s": null, "stale": false}),
        })
        .collect();
    let readings: Vec<Json> = s
        .current
        .iter()
        .map(|(k, c)| reading_json(k, c, stale_after))
        .collect();
    let charts: Vec<Json> = s
        .history
        .keys()
        .filter(|k| s.config.headline.charts.is_empty() || s.config.headline.charts.contains(*k))
        .map(|k| {
            let unit = s.current.get(k).map_or("", |c| c.reading.unit.symbol());
            let label = s
                .config
                .headline
                .items
                .iter()
                .find_map(|i| match i {
                    Item::Reading { key, label } if key == k => Some(label.as_str()),
                    _ => None,
                })
                .unwrap_or(k);
            json!({"key": k, "label": label, "unit": unit})
        })
        .collect();
    let mut charts = charts;
    // The headline's order, not the keys'.
    charts.sort_by_key(|c| {
        s.config
            .headline
            .charts
            .iter()
            .position(|k| c["key"] == k.as_str())
            .unwrap_or(usize::MAX)
    });
    let dropped: Vec<Json> = outputs
        .iter()
        .map(|o| json!({"output": o.name, "dropped": o.dropped_total(), "queued": o.queued}))
        .collect();
    let headline = &s.config.headline;
    json!({
        "title": headline.title,
        "device": s.device,
        "now": number(epoch_seconds(SystemTime::now())),
        "status": {"text": status, "severity": severity.word()},
        "stale": stale,
        "stale_after_s": secs(stale_after),
        "headline": items,
        "charts": charts,
        "links": headline.links.iter().map(|(t, h)| json!({"text": t, "href": h})).collect::<Vec<_>>(),
        "link": {
            "up": s.link_up,
            "connected_since": s.connected_since.map(|t| number(epoch_seconds(t))),
            "last_record_age_s": s.last_record_age().map(secs),
            "records": s.records,
            "reconnects": s.reconnects,
            "outputs": dropped,
        },
        "events": s.events(STATE_EVENTS).into_iter().map(event_json).collect::<Vec<_>>(),
        "readings": readings,
        "readings_refused": s.readings_refused,
        "window_s": secs(s.config.window),
        "bucket_s": s.config.bucket_width(),
    })
}

/// Returns the value of query parameter `name`, percent-decoded.
fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(h)) => {
                out.push(h);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bad(status: u16, why: &str) -> Response {
    json(status, &json!({ "error": why }))
}

pub fn history(s: &State, query: &str) -> Response {
    let Some(key) = param(query, "reading") else {
        return bad(400, "give ?reading=KEY (a key of /api/state's readings)");
    };
    let since = match param(query, "since") {
        None => f64::NEG_INFINITY,
        Some(v) => match v.parse::<f64>() {
            Ok(t) if t.is_finite() => t,
            _ => return bad(400, "since must be seconds since the Unix epoch"),
        },
    };
    let Some(ring) = s.history.get(&key) else {
        return bad(404, "no history for that reading");
    };
    let newest = ring.newest_t().unwrap_or(0.0);
    let from = since.max(newest - s.config.window.as_secs_f64());
    let points: Vec<Json> = ring
        .since(from)
        .iter()
        .map(|p| json!([number(p.t), number(p.min), number(p.max), number(p.last)]))
        .collect();
    let unit = s.current.get(&key).map_or("", |c| c.reading.unit.symbol());
    json(
        200,
        &json!({
            "reading": key,
            "unit": unit,
            "bucket_s": ring.width(),
            "columns": ["t", "min", "max", "last"],
            "points": points,
        }),
    )
}

pub fn events(s: &State, query: &str) -> Response {
    let cap = s.config.max_alerts + s.config.max_other_events;
    let limit = match param(query, "limit") {
        None => cap,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n.min(cap),
            Err(_) => return bad(400, "limit must be a whole number"),
        },
    };
    let events: Vec<Json> = s.events(limit).into_iter().map(event_json).collect();
    json(200, &json!({ "events": events, "counts": s.event_counts }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        let q = "since=12.5&reading=status_bit%7Bbit%3D%22utility_fail%22%7D&x";
        assert_eq!(
            param(q, "reading").as_deref(),
            Some("status_bit{bit=\"utility_fail\"}")
        );
        assert_eq!(param(q, "since").as_deref(), Some("12.5"));
        assert_eq!(param(q, "x").as_deref(), Some(""));
        assert_eq!(param(q, "y"), None);
        assert_eq!(decode("a+b%2"), "a b%2");
    }
}
