//! What the proxy has learnt: the last value of every property, the unit's
//! identity, the last session's frames, and the counters. Fed typed frames
//! ([`Store::observe`]); rendered as Prometheus metrics
//! ([`Store::render_metrics`], the property values as readings through
//! [`rewire_host::metrics::render`]), JSON ([`Store::props_json`]) and an
//! HTML page ([`Store::status_page`]).

pub mod wmpe;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rewire_host::metrics::CounterFamily;
use rewire_host::reading::{Reading, Unit, Value as ReadingValue};
use rewire_host::sink::SinkStats;
use rewire_websentry::{Value, registry};
use serde::Serialize;

use crate::frame::{DecodedFrame, OwnedValue, Sender, ids};
use crate::message::{FAMILY, Message, exported_name, property_reading, reports_celsius};
use crate::record::{PropertyRecord, Record, function_name, property_record, record_of};

/// The relay's own counts; each is cheap to bump from any thread, and all
/// are exported through readings.
#[derive(Debug)]
pub struct Counters {
    /// Unit connections accepted.
    pub sessions: CounterFamily,
    /// Sessions currently relaying.
    pub active: AtomicI64,
    /// Frames seen, by function and sender (`client`/`server`).
    pub frames: CounterFamily,
    /// Frames whose CRC did not match, by sender.
    pub crc_errors: CounterFamily,
    /// Bytes that did not frame (`garbage`, `oversize`, `truncated`) and
    /// bodies that did not decode (`body`), by sender and reason.
    pub decode_errors: CounterFamily,
    /// Sessions whose upstream could not be reached.
    pub upstream_failures: CounterFamily,
    /// Sockets that failed mid-session (reset, write error), by side
    /// (`unit` or `upstream`).
    pub relay_errors: CounterFamily,
    /// Bytes relayed, by sender.
    pub bytes: CounterFamily,
    /// Unit connections closed on accept because the session cap was reached.
    pub sessions_refused: CounterFamily,
    /// Sessions ended because neither side sent anything for the idle timeout.
    pub sessions_idle_closed: CounterFamily,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            sessions: CounterFamily::new("sessions", "Unit connections accepted", &[]),
            active: AtomicI64::new(0),
            frames: CounterFamily::new(
                "frames",
                "Frames seen, by function and sender",
                &["function", "direction"],
            ),
            crc_errors: CounterFamily::new(
                "crc_errors",
                "Frames whose CRC-16 did not match (relayed unchanged)",
                &["direction"],
            ),
            decode_errors: CounterFamily::new(
                "decode_errors",
                "Bytes that did not frame, and frame bodies that did not decode (relayed unchanged)",
                &["direction", "reason"],
            ),
            upstream_failures: CounterFamily::new(
                "upstream_failures",
                "Sessions closed because the upstream could not be reached",
                &[],
            ),
            relay_errors: CounterFamily::new(
                "relay_errors",
                "Sockets that failed during a session (reset or write error)",
                &["side"],
            ),
            bytes: CounterFamily::new("relayed_bytes", "Bytes relayed, by sender", &["direction"]),
            sessions_refused: CounterFamily::new(
                "sessions_refused",
                "Unit connections closed on accept because the session cap was reached",
                &[],
            ),
            sessions_idle_closed: CounterFamily::new(
                "sessions_idle_closed",
                "Sessions ended because neither side sent anything for the idle timeout",
                &[],
            ),
        }
    }
}

impl Counters {
    /// Counts one frame.
    pub fn count_frame(&self, frame: &DecodedFrame) {
        let direction = frame.direction.map_or("unknown", Sender::as_str);
        let function = frame.function.map_or_else(|| "?".to_owned(), function_name);
        self.frames.inc(&[&function, direction]);
        if !frame.crc_ok {
            self.crc_errors.inc(&[direction]);
        }
        if frame.error.is_some() {
            self.decode_error(direction, "body");
        }
    }

    /// Counts one decode error.
    pub fn decode_error(&self, direction: &str, reason: &str) {
        self.decode_errors.inc(&[direction, reason]);
    }

    /// Appends the counters as readings.
    fn readings(&self, ts: SystemTime, out: &mut Vec<Reading>) {
        for family in [
            &self.sessions,
            &self.frames,
            &self.crc_errors,
            &self.decode_errors,
            &self.upstream_failures,
            &self.relay_errors,
            &self.bytes,
            &self.sessions_refused,
            &self.sessions_idle_closed,
        ] {
            family.readings(ts, out);
        }
        #[allow(clippy::cast_precision_loss)]
        let active = self.active.load(Ordering::Relaxed) as f64;
        out.push(Reading::gauge(
            "active_sessions",
            "Sessions being relayed now",
            ReadingValue::Number(active),
            Unit::None,
            ts,
        ));
    }
}

/// What is known about one property.
#[derive(Debug, Clone)]
struct PropState {
    value: OwnedValue,
    last_seen: SystemTime,
    last_change: SystemTime,
    changes: u64,
    seen: u64,
}

#[derive(Debug, Clone, Default)]
struct Identity {
    serial: Option<String>,
    version: Option<String>,
    mac: Option<String>,
    seen: Option<SystemTime>,
}

/// One finished session, as shown on the status page.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// The unit's address.
    pub peer: String,
    /// When the unit connected (RFC 3339).
    pub start: String,
    /// How long it lasted, in seconds.
    pub duration_sec: f64,
    /// Its frames and framing errors in the order they were decoded.
    pub messages: Vec<Message>,
}

/// A session as `/props.json` and the page show it: its records.
#[derive(Debug, Clone, Serialize)]
struct SessionView {
    peer: String,
    start: String,
    duration_sec: f64,
    frames: Vec<Record>,
}

#[derive(Debug, Default)]
struct State {
    props: BTreeMap<u16, PropState>,
    identity: Identity,
    last_session: Option<SessionSummary>,
}

/// Reads the relay fan-out's counts (a closure, shown by name only).
struct OutputsReader(Box<dyn Fn() -> Vec<SinkStats> + Send + Sync>);

impl std::fmt::Debug for OutputsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputsReader")
    }
}

/// The proxy's shared knowledge.
#[derive(Debug)]
pub struct Store {
    state: Mutex<State>,
    /// The counters.
    pub counters: Counters,
    max_age: Duration,
    /// When the store was made (the original's `websentry_mitm_uptime`).
    started: Instant,
    /// Which names `/metrics` uses.
    metric_names: MetricNames,
    /// Reads the fan-out's counts for `websentry_output_*`.
    outputs: Mutex<Option<OutputsReader>>,
}

/// Which names `/metrics` gives the values, and whose `/props` is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MetricNames {
    /// rewire's: `websentry_` names in base units, with `# TYPE` and help
    /// ([`Store::render_metrics`]).
    #[default]
    Rewire,
    /// The original exporter's: bare property names in the unit's own
    /// units, `sessions_started`, `websentry_mitm_uptime`
    /// ([`Store::render_wmpe_metrics`]), and its `/props` and `/last`
    /// pages, so that its users' dashboards and links keep working.
    Wmpe,
}

/// Formats a time as RFC 3339 (UTC, milliseconds).
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|ts| ts.round(jiff::Unit::Millisecond).unwrap_or(ts).to_string())
        .unwrap_or_default()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Store {
    /// Creates an empty store whose gauges expire after `max_age`.
    #[must_use]
    pub fn new(max_age: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            counters: Counters::default(),
            max_age,
            started: Instant::now(),
            metric_names: MetricNames::Rewire,
            outputs: Mutex::new(None),
        }
    }

    /// Lets `/metrics` also say what each output of the relay's fan-out
    /// dropped (`websentry_output_dropped_total{output}`) and holds
    /// (`websentry_output_queued{output}`), read by `stats` at each scrape.
    pub fn set_outputs(&self, stats: impl Fn() -> Vec<SinkStats> + Send + Sync + 'static) {
        *self
            .outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(OutputsReader(Box::new(stats)));
    }

    /// Makes `/metrics` use `names` (rewire's by default).
    #[must_use]
    pub fn with_metric_names(mut self, names: MetricNames) -> Self {
        self.metric_names = names;
        self
    }

    /// Returns which names `/metrics` uses.
    #[must_use]
    pub fn metric_names(&self) -> MetricNames {
        self.metric_names
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes the values a unit reported in a frame (its init frame and its
    /// query answers); other frames carry no current values and are ignored.
    pub fn observe(&self, frame: &DecodedFrame, now: SystemTime) {
        if !frame.carries_readings() {
            return;
        }
        let mut state = self.lock();
        for (id, value) in frame.values() {
            let identity = match (id, value) {
                (ids::SERIAL_NUMBER, Value::U32(serial)) => {
                    state.identity.serial = Some(serial.to_string());
                    true
                }
                (ids::VERSION_STRING, Value::Str(text)) => {
                    state.identity.version = Some(String::from_utf8_lossy(text).into_owned());
                    true
                }
                (_, Value::Mac(_)) => {
                    state.identity.mac = Some(value.to_string());
                    true
                }
                _ => false,
            };
            if identity {
                state.identity.seen = Some(now);
            }
            let owned = OwnedValue::of(value);
            match state.props.get_mut(&id) {
                Some(prop) => {
                    prop.seen += 1;
                    prop.last_seen = now;
                    if prop.value != owned {
                        prop.changes += 1;
                        prop.last_change = now;
                        prop.value = owned;
                    }
                }
                None => {
                    state.props.insert(
                        id,
                        PropState {
                            value: owned,
                            last_seen: now,
                            last_change: now,
                            changes: 0,
                            seen: 1,
                        },
                    );
                }
            }
        }
    }

    /// Replaces the "last session" shown on the page.
    pub fn set_last_session(&self, summary: SessionSummary) {
        self.lock().last_session = Some(summary);
    }

    fn fresh(&self, t: SystemTime, now: SystemTime) -> bool {
        now.duration_since(t)
            .map_or(true, |age| age <= self.max_age)
    }

    fn celsius(state: &State) -> bool {
        state
            .props
            .get(&ids::TEMP_UNIT)
            .and_then(|p| p.value.value())
            .is_some_and(|v| reports_celsius(&v))
    }

    /// Returns the reading of every property value not older than the
    /// store's maximum age, in id order (what `/metrics` exports).
    #[must_use]
    pub fn readings(&self, now: SystemTime) -> Vec<(u16, Reading)> {
        let state = self.lock();
        let celsius = Self::celsius(&state);
        state
            .props
            .iter()
            .filter(|(_, p)| self.fresh(p.last_seen, now))
            .filter_map(|(id, p)| {
                let value = p.value.value()?;
                Some((*id, property_reading(*id, &value, celsius, p.last_seen)))
            })
            .collect()
    }

    /// Renders `/metrics` in the classic Prometheus text format.
    ///
    /// Everything is a reading rendered by [`rewire_host::metrics::render`]:
    /// property values (a number as a gauge in its base unit, an enum as a
    /// state labelled with its label and in the `websentry_enum` family, a
    /// text as an `_info` state), the unit's `websentry_unit_info`, and the
    /// relay's counters. Values older than the store's maximum age are left
    /// out; counters always appear.
    #[must_use]
    pub fn render_metrics(&self, now: SystemTime) -> String {
        let mut all = Vec::new();
        self.counters.readings(now, &mut all);
        let state = self.lock();
        if state.identity.seen.is_some_and(|t| self.fresh(t, now)) {
            // An OpenMetrics `info` metric would be the natural type, but the
            // Prometheus text parser (and so `promtool check metrics`) rejects
            // it; a gauge of 1 named `_info` is the classic equivalent.
            let id = &state.identity;
            all.push(
                Reading::gauge(
                    "unit_info",
                    "The unit's serial number, firmware version and MAC address (always 1)",
                    ReadingValue::Number(1.0),
                    Unit::None,
                    now,
                )
                .with_label("serial", id.serial.clone().unwrap_or_default())
                .with_label("version", id.version.clone().unwrap_or_default())
                .with_label("mac", id.mac.clone().unwrap_or_default()),
            );
        }
        drop(state);
        for (id, r) in self.readings(now) {
            if let (Some(label), Some(v)) = (r.label("label"), r.value.as_f64()) {
                all.push(
                    Reading::gauge(
                        "enum",
                        "Enum properties: the raw value, labelled with id, name and decoded label",
                        ReadingValue::Number(v),
                        Unit::None,
                        now,
                    )
                    .with_label("id", format!("{id:#06x}"))
                    .with_label("property", registry::property(id).map_or("", |p| p.name))
                    .with_label("label", label.to_owned()),
                );
            }
            all.push(r);
        }
        let outputs = self
            .outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stats) = outputs.as_ref() {
            all.extend(rewire_host::metrics::output_readings(&(stats.0)(), now));
        }
        drop(outputs);
        rewire_host::metrics::render(FAMILY, &all)
    }

    fn props_view(&self, now: SystemTime) -> PropsView {
        let metrics: BTreeMap<u16, String> = self
            .readings(now)
            .iter()
            .map(|(id, r)| (*id, exported_name(r)))
            .collect();
        let state = self.lock();
        PropsView {
            generated: rfc3339(now),
            unit: UnitView {
                serial: state.identity.serial.clone(),
                version: state.identity.version.clone(),
                mac: state.identity.mac.clone(),
            },
            counters: CountersView {
                sessions: self.counters.sessions.total(),
                active_sessions: self.counters.active.load(Ordering::Relaxed),
                upstream_failures: self.counters.upstream_failures.total(),
                crc_errors: self.counters.crc_errors.total(),
                relayed_bytes: self.counters.bytes.total(),
            },
            properties: state
                .props
                .iter()
                .map(|(id, p)| PropView {
                    id_hex: format!("{id:#06x}"),
                    metric: metrics.get(id).cloned(),
                    property: p.value.value().map_or_else(
                        || property_record(*id, &Value::U8(0)),
                        |v| property_record(*id, &v),
                    ),
                    last_seen: rfc3339(p.last_seen),
                    last_change: rfc3339(p.last_change),
                    change_count: p.changes,
                    seen_count: p.seen,
                })
                .collect(),
            last_session: state.last_session.as_ref().map(|s| SessionView {
                peer: s.peer.clone(),
                start: s.start.clone(),
                duration_sec: s.duration_sec,
                frames: s.messages.iter().filter_map(record_of).collect(),
            }),
        }
    }

    /// Renders `/props.json`: every property seen, the unit, the counters
    /// and the last session's frames.
    #[must_use]
    pub fn props_json(&self, now: SystemTime) -> String {
        serde_json::to_string_pretty(&self.props_view(now)).unwrap_or_default()
    }

    /// Renders `/`: the same data as an HTML page.
    #[must_use]
    pub fn status_page(&self, now: SystemTime) -> String {
        let view = self.props_view(now);
        let mut h = String::new();
        let opt = |v: &Option<String>| escape_html(v.as_deref().unwrap_or("—"));
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>WebSentry proxy</title>\
             <style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse}}\
             td,th{{border:1px solid #999;padding:2px 6px;text-align:left}}\
             td.n{{text-align:right}}code{{font-size:90%}}</style></head><body>\n\
             <h1>WebSentry proxy</h1>\n<p>Generated {}. <a href=\"/metrics\">/metrics</a> · \
             <a href=\"/props.json\">/props.json</a></p>\n\
             <h2>Unit</h2>\n<table><tr><th>serial</th><td>{}</td></tr><tr><th>version</th><td>{}</td></tr>\
             <tr><th>MAC</th><td>{}</td></tr></table>\n\
             <h2>Counters</h2>\n<table><tr><th>sessions</th><td class=n>{}</td></tr>\
             <tr><th>active</th><td class=n>{}</td></tr><tr><th>upstream failures</th><td class=n>{}</td></tr>\
             <tr><th>CRC errors</th><td class=n>{}</td></tr><tr><th>bytes relayed</th><td class=n>{}</td></tr></table>\n",
            escape_html(&view.generated),
            opt(&view.unit.serial),
            opt(&view.unit.version),
            opt(&view.unit.mac),
            view.counters.sessions,
            view.counters.active_sessions,
            view.counters.upstream_failures,
            view.counters.crc_errors,
            view.counters.relayed_bytes,
        );
        let _ = write!(
            h,
            "<h2>Properties ({})</h2>\n<table id=\"props\"><tr><th>id</th><th>name</th><th>value</th>\
             <th>unit</th><th>type</th><th>raw</th><th>last change</th><th>changes</th><th>seen</th></tr>\n",
            view.properties.len()
        );
        for p in &view.properties {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td><code>{}</code></td><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                p.id_hex,
                escape_html(p.property.name.unwrap_or("")),
                escape_html(&p.property.text),
                escape_html(p.property.unit.unwrap_or("")),
                p.property
                    .type_code
                    .map_or(String::new(), |t| format!("{t:#04x}")),
                escape_html(&p.property.raw),
                escape_html(&p.last_change),
                p.change_count,
                p.seen_count,
            );
        }
        h.push_str("</table>\n<h2>Last session</h2>\n");
        match &view.last_session {
            None => h.push_str("<p>No session yet.</p>\n"),
            Some(s) => {
                let _ = write!(
                    h,
                    "<p>From {} at {}, {:.3} s, {} records.</p>\n<ol id=\"frames\">\n",
                    escape_html(&s.peer),
                    escape_html(&s.start),
                    s.duration_sec,
                    s.frames.len()
                );
                for f in &s.frames {
                    let _ = writeln!(h, "<li><code>{}</code></li>", escape_html(&f.to_string()));
                }
                h.push_str("</ol>\n");
            }
        }
        h.push_str("</body></html>\n");
        h
    }
}

#[derive(Serialize)]
struct PropsView {
    generated: String,
    unit: UnitView,
    counters: CountersView,
    properties: Vec<PropView>,
    last_session: Option<SessionView>,
}

#[derive(Serialize)]
struct UnitView {
    serial: Option<String>,
    version: Option<String>,
    mac: Option<String>,
}

#[derive(Serialize)]
struct CountersView {
    sessions: u64,
    active_sessions: i64,
    upstream_failures: u64,
    crc_errors: u64,
    relayed_bytes: u64,
}

#[derive(Serialize)]
struct PropView {
    id_hex: String,
    /// The metric `/metrics` exports the value under; `null` once the value
    /// is older than the maximum age (and so no longer exported).
    metric: Option<String>,
    #[serde(flatten)]
    property: PropertyRecord,
    last_seen: String,
    last_change: String,
    change_count: u64,
    seen_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewire_websentry::{FunctionCode, encode_frame};

    fn response(body: &[u8]) -> DecodedFrame {
        let mut buf = vec![0u8; body.len() + 8];
        let n = encode_frame(FunctionCode::QUERY, body, &mut buf).unwrap();
        buf.truncate(n);
        DecodedFrame::decode(buf, Some(Sender::Client), None)
    }

    #[test]
    fn values_changes_and_expiry() {
        let store = Store::new(Duration::from_secs(300));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        store.observe(
            &response(&[0x06, 0x00, 0x06, 0x02, 0x16, 0x12, 0x0e, 0x02, 0x02]),
            t0,
        );
        store.observe(
            &response(&[0x06, 0x00, 0x06, 0x02, 0x17, 0x12, 0x34, 0x03, 0x00, 0x07]),
            t0 + Duration::from_secs(60),
        );
        let m = store.render_metrics(t0 + Duration::from_secs(61));
        assert!(m.contains("websentry_humidity_percent 53.5"), "{m}");
        assert!(m.contains("websentry_property_0x1234 7.0"), "{m}");
        assert!(
            m.contains(
                "websentry_enum{id=\"0x120e\",property=\"blower_state\",label=\"Ready\"} 2.0"
            ),
            "{m}"
        );
        assert!(
            m.contains("websentry_blower_state{label=\"Ready\"} 2.0"),
            "{m}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&store.props_json(t0 + Duration::from_secs(61))).unwrap();
        assert_eq!(json["properties"][0]["name"], "humidity_percent");
        assert_eq!(json["properties"][0]["change_count"], 1);
        assert_eq!(json["properties"][0]["seen_count"], 2);
        // 0x120e was last seen at t0: gone after five minutes, 0x0600 stays.
        let m = store.render_metrics(t0 + Duration::from_secs(330));
        assert!(!m.contains("blower_state"), "{m}");
        assert!(m.contains("websentry_humidity_percent 53.5"), "{m}");
        let json: serde_json::Value =
            serde_json::from_str(&store.props_json(t0 + Duration::from_secs(330))).unwrap();
        assert_eq!(json["properties"][1]["metric"], serde_json::Value::Null);
        let m = store.render_metrics(t0 + Duration::from_secs(400));
        assert!(!m.contains("websentry_humidity_percent"), "{m}");
        assert!(m.contains("websentry_sessions_total 0"), "{m}");
    }

    /// Every metric `/props.json` names is in `/metrics`: strings, MAC
    /// addresses, versions and enums included (they used to be named but
    /// never exported).
    #[test]
    fn every_metric_props_json_names_is_exported() {
        let store = Store::new(Duration::from_secs(300));
        let now = SystemTime::now();
        store.observe(
            &DecodedFrame::decode(
                crate::simulate::init_frame([0, 0x90, 0xc2, 0x0c, 0x02, 0xb3]),
                Some(Sender::Client),
                None,
            ),
            now,
        );
        let mut table = crate::simulate::PropertyTable::new(1);
        let ids = table.ids();
        let mut q = vec![0u8; 8 + ids.len() * 3];
        let n = rewire_websentry::encode_query_request(&ids, &mut q).unwrap();
        let answer = table.answer(&q[..n], now).unwrap();
        store.observe(
            &DecodedFrame::decode(answer, Some(Sender::Client), Some(&q[8..n])),
            now,
        );
        let metrics = store.render_metrics(now);
        let json: serde_json::Value = serde_json::from_str(&store.props_json(now)).unwrap();
        let props = json["properties"].as_array().unwrap();
        assert!(props.len() > 20, "{}", props.len());
        for p in props {
            let name = p["metric"].as_str().unwrap_or_else(|| panic!("{p}"));
            assert!(
                metrics
                    .lines()
                    .any(|l| l.starts_with(&format!("# TYPE {name} "))),
                "{name} not in /metrics:\n{metrics}"
            );
        }
        for name in [
            "websentry_version_string_info",
            "websentry_blower_state",
            "websentry_property_0x0401_info",
        ] {
            assert!(metrics.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }

    #[test]
    fn page_escapes_text() {
        let store = Store::new(Duration::from_secs(300));
        store.observe(
            &response(&[0x01, 0x01, 0x07, 0x03, b'<', b'a', b'>']),
            SystemTime::now(),
        );
        let page = store.status_page(SystemTime::now());
        assert!(page.contains("&quot;&lt;a&gt;&quot;"), "{page}");
        assert!(!page.contains("<a>"));
    }
}
