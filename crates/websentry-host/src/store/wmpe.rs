//! The original exporter's view of the store, for `--metric-names wmpe`:
//! its `/metrics` (bare property names, the unit's own units, its session
//! counters and uptime), its `/props` table (HTML, or markdown with
//! `?format=md`) and its `/last` session dump, as `wmpe.go` at `0d60b41`
//! of github.com/bradfitz/websentry-mitm-prometheus-exporter renders them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use rewire_websentry::{FunctionCode, Value, registry};

use super::{Store, escape_html};
use crate::frame::Sender;
use crate::message::Message;

/// The original's metric name of a property: its registry name, or
/// `prop_0x1234`.
#[must_use]
pub fn metric_name(id: u16) -> String {
    registry::property(id).map_or_else(|| hex_id(id), |p| p.name.to_owned())
}

fn hex_id(id: u16) -> String {
    format!("prop_0x{id:04x}")
}

/// The number the original exports for a value (its `Float64`): tenths
/// divided by ten, a ranged value's current value (0 when unset, as
/// there), a `u16`, an enum's value; `None` for the types it does not
/// export (`u8`, `u32`, strings, dates, addresses, …).
#[must_use]
pub fn number(value: &Value<'_>) -> Option<f64> {
    match *value {
        Value::Tenths(v) => Some(f64::from(v) / 10.0),
        Value::Ranged { value, .. } => Some(f64::from(value)),
        Value::U16(v) => Some(f64::from(v)),
        Value::Enum(v) | Value::TypedEnum { value: v, .. } => Some(f64::from(v)),
        _ => None,
    }
}

/// `[08 00 1c …]`: the value's bytes, type byte first, as the original
/// shows them.
fn bracket_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 3);
    out.push('[');
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out.push(']');
    out
}

fn spaced_hex(bytes: &[u8]) -> String {
    let text = bracket_hex(bytes);
    text.trim_matches(['[', ']']).to_owned()
}

/// The decoded text of a property value, labels resolved.
fn decoded(id: u16, value: &Value<'_>) -> String {
    value.labeled(id).to_string()
}

impl Store {
    /// Renders `/metrics` as the original exporter does: `websentry_mitm_uptime`,
    /// one `NAME VALUE` line per property number not older than the maximum
    /// age, `sessions_started` and `sessions_ended`, sorted by name, values
    /// with one decimal, no `# TYPE` lines.
    #[must_use]
    pub fn render_wmpe_metrics(&self, now: SystemTime) -> String {
        let mut lines: BTreeMap<String, f64> = BTreeMap::new();
        {
            let state = self.lock();
            for (id, p) in &state.props {
                if !self.fresh(p.last_seen, now) {
                    continue;
                }
                if let Some(v) = p.value.value().as_ref().and_then(number) {
                    lines.insert(metric_name(*id), v);
                }
            }
        }
        let started = self.counters.sessions.total();
        let active = u64::try_from(self.counters.active.load(Ordering::Relaxed)).unwrap_or(0);
        #[allow(clippy::cast_precision_loss)]
        {
            lines.insert("sessions_started".into(), started as f64);
            lines.insert(
                "sessions_ended".into(),
                started.saturating_sub(active) as f64,
            );
        }
        let mut out = format!(
            "websentry_mitm_uptime {}\n",
            self.started.elapsed().as_secs()
        );
        for (name, v) in lines {
            let _ = writeln!(out, "{name} {v:.1}");
        }
        out
    }

    /// Renders the original's `/props`: every property seen, with how often
    /// it was seen and changed (the first sighting counts as a change
    /// there), its decoded value and its bytes; `markdown` gives its
    /// `?format=md` table (code, name, type, sample value, decoded).
    #[must_use]
    pub fn wmpe_props(&self, markdown: bool) -> String {
        let state = self.lock();
        let mut out = String::new();
        if markdown {
            out.push_str(
                "| Code | Name | Type | Sample Value | Sample, Decoded | \n\
                 | -----| ---- | ---- | ------------ | --------------- | \n",
            );
        } else {
            out.push_str(
                "<html><body><h1>props</h1><table cellpadding=5 cellspacing=1 border=1>\n",
            );
        }
        for (&id, p) in &state.props {
            let bytes = p.value.encoded();
            let text = p.value.value().map(|v| decoded(id, &v)).unwrap_or_default();
            let name = registry::property(id).map_or("", |p| p.name);
            if markdown {
                let (type_byte, body) = bytes.split_first().map_or((0, &[][..]), |(t, b)| (*t, b));
                let _ = writeln!(
                    out,
                    "| 0x{id:04x} | {name} | `0x{type_byte:02x}` | <nobr>`{}`</nobr> | {text} |",
                    spaced_hex(body)
                );
            } else {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    hex_id(id),
                    p.seen,
                    p.changes + 1,
                    escape_html(&text),
                    escape_html(&bracket_hex(bytes)),
                );
            }
        }
        if !markdown {
            out.push_str("</table></body></html>\n");
        }
        out
    }

    /// Renders the original's `/last`: the last session's frames (number,
    /// `C`/`S`, payload bytes), then each id the cloud queried with the
    /// value the unit gave it in that session; `None` before any session.
    #[must_use]
    pub fn wmpe_last(&self) -> Option<String> {
        let state = self.lock();
        let session = state.last_session.as_ref()?;
        let frames: Vec<_> = session
            .messages
            .iter()
            .filter_map(|m| match m {
                Message::Frame { frame, .. } => Some(frame),
                _ => None,
            })
            .collect();
        let mut out = String::from("<html><body><h1>last session</h1><pre>\n");
        // Numbered from 1 in order, wrapping like the original's uint8.
        for (n, f) in (1u8..=255).cycle().zip(&frames) {
            let sender = match f.direction {
                Some(Sender::Server) => "S",
                _ => "C",
            };
            let _ = writeln!(
                out,
                "[{n:2}]: {sender}: {}",
                spaced_hex(f.bytes.get(7..).unwrap_or_default())
            );
        }
        out.push_str("</pre><h2>props</h2><table>\n");
        let mut values: BTreeMap<u16, (String, String)> = BTreeMap::new();
        for f in &frames {
            if f.direction == Some(Sender::Client) && f.function == Some(FunctionCode::QUERY) {
                for (id, value) in f.values() {
                    let mut raw = [0u8; 260];
                    let n = value.emit(&mut raw).unwrap_or(0);
                    let hex = bracket_hex(raw.get(..n).unwrap_or_default());
                    values.insert(id, (decoded(id, &value), hex));
                }
            }
        }
        for (n, f) in (1u8..=255).cycle().zip(&frames) {
            if f.direction != Some(Sender::Server) || f.function != Some(FunctionCode::QUERY) {
                continue;
            }
            for id in f.items.iter().map(crate::frame::Item::id) {
                let (text, hex) = values
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| (String::new(), "[empty]".to_owned()));
                let _ = writeln!(
                    out,
                    "<tr><td>{n}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    n.wrapping_add(1),
                    hex_id(id),
                    registry::property(id).map_or("", |p| p.name),
                    escape_html(&text),
                    escape_html(&hex),
                );
            }
        }
        out.push_str("</table></body></html>\n");
        Some(out)
    }
}
