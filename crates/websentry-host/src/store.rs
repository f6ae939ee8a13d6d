//! What the proxy has learnt: the last value of every property, the unit's
//! identity, the last session's frames, and the counters. Rendered as
//! Prometheus metrics ([`Store::render_metrics`]), JSON
//! ([`Store::props_json`]) and an HTML page ([`Store::status_page`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rewire_websentry::{Value, registry};
use serde::Serialize;

use crate::record::{Direction, FrameRecord, PropertyRecord, Record};

/// Labels of the per-frame counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FrameLabels {
    /// `init`, `query`, `set` or `0xNN`.
    pub function: String,
    /// `client` or `server`.
    pub direction: String,
}

/// Labels of per-direction counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    /// `client` (unit → cloud) or `server` (cloud → unit).
    pub direction: String,
}

/// Labels of the decode-error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecodeErrorLabels {
    /// `client` or `server`.
    pub direction: String,
    /// `garbage`, `oversize`, `truncated` (bytes that did not frame) or
    /// `body` (a frame whose body did not walk to its end).
    pub reason: String,
}

/// Labels of the relay-error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SideLabels {
    /// `unit` or `upstream`: whose socket failed (reset, error).
    pub side: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnumLabels {
    id: String,
    property: String,
    label: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    serial: String,
    version: String,
    mac: String,
}

/// The counters; each is cheap to bump from any thread.
#[derive(Debug, Default)]
pub struct Counters {
    /// Unit connections accepted.
    pub sessions: Counter,
    /// Sessions currently relaying.
    pub active: Gauge,
    /// Frames seen, by function and sender.
    pub frames: Family<FrameLabels, Counter>,
    /// Frames whose CRC did not match, by sender.
    pub crc_errors: Family<DirectionLabels, Counter>,
    /// Bytes that did not frame and bodies that did not decode.
    pub decode_errors: Family<DecodeErrorLabels, Counter>,
    /// Sessions whose upstream could not be reached.
    pub upstream_failures: Counter,
    /// Sockets that failed mid-session (reset, write error), by side.
    pub relay_errors: Family<SideLabels, Counter>,
    /// Bytes relayed, by sender.
    pub bytes: Family<DirectionLabels, Counter>,
}

impl Counters {
    /// Counts one frame record.
    pub fn count_frame(&self, record: &FrameRecord) {
        let direction = record.direction.map_or("unknown", Direction::as_str);
        self.frames
            .get_or_create(&FrameLabels {
                function: record.function.clone(),
                direction: direction.into(),
            })
            .inc();
        if !record.crc_ok {
            self.crc_errors
                .get_or_create(&DirectionLabels {
                    direction: direction.into(),
                })
                .inc();
        }
        if record.body_error.is_some() {
            self.decode_error(direction, "body");
        }
    }

    /// Counts one decode error.
    pub fn decode_error(&self, direction: &str, reason: &str) {
        self.decode_errors
            .get_or_create(&DecodeErrorLabels {
                direction: direction.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// Returns the total of a per-direction family over both directions.
    fn total(family: &Family<DirectionLabels, Counter>) -> u64 {
        ["client", "server", "unknown"]
            .iter()
            .filter_map(|d| {
                family
                    .get(&DirectionLabels {
                        direction: (*d).into(),
                    })
                    .map(|c| c.get())
            })
            .sum()
    }
}

/// What is known about one property.
#[derive(Debug, Clone)]
struct PropState {
    record: PropertyRecord,
    encoded: Vec<u8>,
    numeric: Option<f64>,
    enum_label: Option<String>,
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

/// One finished (or running) session, as shown on the status page.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// The unit's address.
    pub peer: String,
    /// When the unit connected (RFC 3339).
    pub start: String,
    /// How long it lasted, in seconds.
    pub duration_sec: f64,
    /// Its frames and framing errors in the order they were decoded.
    pub frames: Vec<Record>,
}

#[derive(Debug, Default)]
struct State {
    props: BTreeMap<u16, PropState>,
    identity: Identity,
    last_session: Option<SessionSummary>,
}

/// The proxy's shared knowledge.
#[derive(Debug)]
pub struct Store {
    state: Mutex<State>,
    /// The counters.
    pub counters: Counters,
    max_age: Duration,
}

/// Formats a time as RFC 3339 (UTC, milliseconds).
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|ts| ts.round(jiff::Unit::Millisecond).unwrap_or(ts).to_string())
        .unwrap_or_default()
}

/// How a property's value is turned into its metric's base unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conversion {
    /// Used as it is.
    None,
    /// Multiplied by the factor (minutes, hours, milliseconds → seconds;
    /// a Fahrenheit *difference* → kelvin-sized Celsius degrees).
    Scale(f64),
    /// An absolute Fahrenheit temperature → Celsius.
    FahrenheitToCelsius,
}

impl Conversion {
    /// Applies the conversion.
    #[must_use]
    pub fn apply(self, v: f64) -> f64 {
        match self {
            Self::None => v,
            Self::Scale(k) => v * k,
            Self::FahrenheitToCelsius => (v - 32.0) * 5.0 / 9.0,
        }
    }
}

/// Maps a registry name's unit suffix onto a Prometheus base unit.
fn base_unit(name: &str, reports_celsius: bool) -> (String, &'static str, Conversion) {
    const SUFFIXES: &[(&str, &str, Conversion)] = &[
        ("_sec", "_seconds", Conversion::None),
        ("_minutes", "_seconds", Conversion::Scale(60.0)),
        ("_min", "_seconds", Conversion::Scale(60.0)),
        ("_ms", "_seconds", Conversion::Scale(0.001)),
        ("_hours", "_seconds", Conversion::Scale(3600.0)),
        ("_months", "_months", Conversion::None),
        ("_percent", "_percent", Conversion::None),
        ("_psi", "_psi", Conversion::None),
    ];
    if let Some(stem) = name.strip_suffix("_f") {
        // Superheat is a difference of two temperatures: scale it, do not shift it.
        let conversion = match (reports_celsius, stem.contains("superheat")) {
            (true, _) => Conversion::None,
            (false, true) => Conversion::Scale(5.0 / 9.0),
            (false, false) => Conversion::FahrenheitToCelsius,
        };
        return (stem.to_string(), "_celsius", conversion);
    }
    for (suffix, unit, conversion) in SUFFIXES {
        if let Some(stem) = name.strip_suffix(suffix) {
            return (stem.to_string(), unit, *conversion);
        }
    }
    (name.to_string(), "", Conversion::None)
}

/// Returns the Prometheus metric name of property `id` and how its value is
/// converted to the name's base unit.
///
/// The name is `websentry_` + the registry name in lower case, its unit
/// suffix replaced by the Prometheus base unit: `room_temp_f` →
/// `websentry_room_temp_celsius` (converted from °F unless the unit's
/// `temp_unit` says Celsius; `superheat_temp_f`, a difference, is only
/// scaled), `_sec`/`_min`/`_minutes`/`_hours`/`_ms` → `_seconds` (scaled),
/// `_percent`, `_psi` and `_months` kept. Ids the registry does not name
/// appear as `websentry_property_0x1234`, unconverted.
#[must_use]
pub fn metric_spec(id: u16, reports_celsius: bool) -> (String, Conversion) {
    match registry::property(id) {
        Some(p) => {
            let clean: String = p
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let (stem, unit, conversion) = base_unit(&clean, reports_celsius);
            (format!("websentry_{stem}{unit}"), conversion)
        }
        None => (format!("websentry_property_{id:#06x}"), Conversion::None),
    }
}

/// Returns the metric name of property `id` (see [`metric_spec`]).
#[must_use]
pub fn metric_name(id: u16, reports_celsius: bool) -> String {
    metric_spec(id, reports_celsius).0
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
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes the values a unit reported in a frame (its init frame and its
    /// query answers); other frames carry no current values and are ignored.
    pub fn observe(&self, record: &FrameRecord, now: SystemTime) {
        if record.direction != Some(Direction::Client)
            || !matches!(record.function.as_str(), "init" | "query")
        {
            return;
        }
        let mut state = self.lock();
        for p in &record.properties {
            let Some(type_code) = p.type_code else {
                continue;
            };
            let Ok(body) = hex::decode(&p.raw) else {
                continue;
            };
            let mut encoded = Vec::with_capacity(body.len() + 1);
            encoded.push(type_code);
            encoded.extend_from_slice(&body);
            let Ok((value, _)) = Value::parse(&encoded) else {
                continue;
            };
            let enum_label = match value {
                Value::Enum(_) | Value::TypedEnum { .. } => Some(p.text.clone()),
                _ => None,
            };
            let numeric = value.as_f64();
            match (p.id, value) {
                (0x0103, Value::U32(serial)) => state.identity.serial = Some(serial.to_string()),
                (0x0101, Value::Str(text)) => {
                    state.identity.version = Some(String::from_utf8_lossy(text).into_owned());
                }
                (_, Value::Mac(_)) => state.identity.mac = Some(value.to_string()),
                _ => {}
            }
            if matches!(p.id, 0x0103 | 0x0101) || matches!(value, Value::Mac(_)) {
                state.identity.seen = Some(now);
            }
            match state.props.get_mut(&p.id) {
                Some(prop) => {
                    prop.seen += 1;
                    prop.last_seen = now;
                    if prop.encoded != encoded {
                        prop.changes += 1;
                        prop.last_change = now;
                        prop.encoded = encoded;
                        prop.record = p.clone();
                        prop.numeric = numeric;
                        prop.enum_label = enum_label;
                    }
                }
                None => {
                    state.props.insert(
                        p.id,
                        PropState {
                            record: p.clone(),
                            encoded,
                            numeric,
                            enum_label,
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
            .get(&0x010e)
            .is_some_and(|p| p.encoded.as_slice() == [0x09, 0x2d, 0x03])
    }

    /// Renders `/metrics` in the OpenMetrics text format (see
    /// [`rewire_host::metrics::to_prometheus_text`] for the classic format).
    ///
    /// Property gauges, enum gauges and the info metric whose values are
    /// older than the store's maximum age are left out; counters always
    /// appear.
    #[must_use]
    pub fn render_metrics(&self, now: SystemTime) -> String {
        let mut reg = Registry::default();
        let c = &self.counters;
        reg.register(
            "websentry_sessions",
            "Unit connections accepted",
            c.sessions.clone(),
        );
        reg.register(
            "websentry_active_sessions",
            "Sessions being relayed now",
            c.active.clone(),
        );
        reg.register(
            "websentry_frames",
            "Frames seen, by function and sender",
            c.frames.clone(),
        );
        reg.register(
            "websentry_crc_errors",
            "Frames whose CRC-16 did not match (relayed unchanged)",
            c.crc_errors.clone(),
        );
        reg.register(
            "websentry_decode_errors",
            "Bytes that did not frame, and frame bodies that did not decode (relayed unchanged)",
            c.decode_errors.clone(),
        );
        reg.register(
            "websentry_upstream_failures",
            "Sessions closed because the upstream could not be reached",
            c.upstream_failures.clone(),
        );
        reg.register(
            "websentry_relay_errors",
            "Sockets that failed during a session (reset or write error)",
            c.relay_errors.clone(),
        );
        reg.register(
            "websentry_relayed_bytes",
            "Bytes relayed, by sender",
            c.bytes.clone(),
        );

        let state = self.lock();
        let celsius = Self::celsius(&state);
        if state.identity.seen.is_some_and(|t| self.fresh(t, now)) {
            // An OpenMetrics `info` metric would be the natural type, but the
            // Prometheus text parser (and so `promtool check metrics`) rejects
            // it; a gauge of 1 named `_info` is the classic equivalent.
            let id = &state.identity;
            let info: Family<InfoLabels, Gauge> = Family::default();
            info.get_or_create(&InfoLabels {
                serial: id.serial.clone().unwrap_or_default(),
                version: id.version.clone().unwrap_or_default(),
                mac: id.mac.clone().unwrap_or_default(),
            })
            .set(1);
            reg.register(
                "websentry_unit_info",
                "The unit's serial number, firmware version and MAC address (always 1)",
                info,
            );
        }
        let enums: Family<EnumLabels, Gauge<f64, AtomicU64>> = Family::default();
        let mut any_enum = false;
        for (id, prop) in &state.props {
            if !self.fresh(prop.last_seen, now) {
                continue;
            }
            let Some(v) = prop.numeric else { continue };
            match &prop.enum_label {
                Some(label) => {
                    any_enum = true;
                    enums
                        .get_or_create(&EnumLabels {
                            id: format!("{id:#06x}"),
                            property: prop.record.name.unwrap_or("").to_string(),
                            label: label.clone(),
                        })
                        .set(v);
                }
                None => {
                    let (name, conversion) = metric_spec(*id, celsius);
                    let gauge: Gauge<f64, AtomicU64> = Gauge::default();
                    gauge.set(conversion.apply(v));
                    let help = match (prop.record.name, prop.record.unit) {
                        (Some(name), Some(unit)) => {
                            format!("Property {id:#06x} {name} (reported in {unit})")
                        }
                        (Some(name), None) => format!("Property {id:#06x} {name}"),
                        (None, _) => format!("Property {id:#06x} (not named by the registry)"),
                    };
                    reg.register(name, help, gauge);
                }
            }
        }
        if any_enum {
            reg.register(
                "websentry_enum",
                "Enum properties: the raw value, labelled with id, name and decoded label",
                enums,
            );
        }
        drop(state);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &reg).is_err() {
            out.clear();
        }
        out
    }

    fn props_view(&self, now: SystemTime) -> PropsView {
        let state = self.lock();
        PropsView {
            generated: rfc3339(now),
            unit: UnitView {
                serial: state.identity.serial.clone(),
                version: state.identity.version.clone(),
                mac: state.identity.mac.clone(),
            },
            counters: CountersView {
                sessions: self.counters.sessions.get(),
                active_sessions: self.counters.active.get(),
                upstream_failures: self.counters.upstream_failures.get(),
                crc_errors: Counters::total(&self.counters.crc_errors),
                relayed_bytes: Counters::total(&self.counters.bytes),
            },
            properties: state
                .props
                .iter()
                .map(|(id, p)| PropView {
                    id_hex: format!("{id:#06x}"),
                    metric: metric_name(*id, Self::celsius(&state)),
                    property: p.record.clone(),
                    last_seen: rfc3339(p.last_seen),
                    last_change: rfc3339(p.last_change),
                    change_count: p.changes,
                    seen_count: p.seen,
                })
                .collect(),
            last_session: state.last_session.clone(),
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
    last_session: Option<SessionSummary>,
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
    metric: String,
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
    use crate::record::{Origin, decode_frame};
    use rewire_websentry::{Function, encode_frame};
    use std::collections::HashSet;

    fn response(body: &[u8]) -> FrameRecord {
        let mut buf = vec![0u8; body.len() + 8];
        let n = encode_frame(Function::Query, body, &mut buf).unwrap();
        decode_frame(&buf[..n], Some(Direction::Client), None, Origin::default())
    }

    #[test]
    fn metric_names_are_unique_and_valid() {
        let mut seen = HashSet::new();
        for p in registry::PROPERTIES {
            let name = metric_name(p.id, false);
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
            assert!(seen.insert(name.clone()), "duplicate {name}");
        }
        assert_eq!(metric_name(0x0601, false), "websentry_room_temp_celsius");
        assert_eq!(metric_spec(0x0601, true).1, Conversion::None);
        assert!((metric_spec(0x0601, false).1.apply(212.0) - 100.0).abs() < 1e-9);
        assert!((metric_spec(0x060a, false).1.apply(9.0) - 5.0).abs() < 1e-9);
        assert_eq!(metric_name(0x0600, false), "websentry_humidity_percent");
        assert_eq!(
            metric_name(0x0333, false),
            "websentry_websentry_connect_interval_seconds"
        );
        assert_eq!(
            metric_name(0x0303, false),
            "websentry_reboot_device_seconds"
        );
        assert_eq!(metric_spec(0x0303, false).1.apply(2.0), 120.0);
        assert_eq!(metric_name(0x1234, false), "websentry_property_0x1234");
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
        let json: serde_json::Value =
            serde_json::from_str(&store.props_json(t0 + Duration::from_secs(61))).unwrap();
        assert_eq!(json["properties"][0]["name"], "humidity_percent");
        assert_eq!(json["properties"][0]["change_count"], 1);
        assert_eq!(json["properties"][0]["seen_count"], 2);
        // 0x120e was last seen at t0: gone after five minutes, 0x0600 stays.
        let m = store.render_metrics(t0 + Duration::from_secs(330));
        assert!(!m.contains("blower_state"), "{m}");
        assert!(m.contains("websentry_humidity_percent 53.5"), "{m}");
        let m = store.render_metrics(t0 + Duration::from_secs(400));
        assert!(!m.contains("websentry_humidity_percent"), "{m}");
        assert!(m.contains("websentry_sessions_total 0"), "{m}");
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
