//! The record model: what `websentry decode` prints and what the proxy keeps
//! about each frame it relays. One schema for every mode (documented in
//! `docs/cli/websentry.md`).

use std::fmt;
use std::time::SystemTime;

use rewire_host::json::{self, WriteJson};
use rewire_websentry::{
    Frame, FunctionCode, Pairs, QueryIds, SetStatuses, Value, Values, registry,
};
use serde::Serialize;

pub use crate::frame::Sender;
use crate::frame::{BodyKind, DecodedFrame, body_kind};
use crate::message::Message;
/// Bytes that did not decode: the error record envelope all rewire tools share.
pub use rewire_host::record::ErrorRecord;

/// One output record: a frame, or bytes that did not frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Record {
    /// A complete frame (its CRC may still be bad: see `crc_ok`).
    Frame(FrameRecord),
    /// Bytes that are not a frame: garbage, an absurd length, a cut-off frame.
    Error(ErrorRecord),
}

/// Where a record came from, when the input says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Origin {
    /// Capture time, seconds since the Unix epoch.
    pub ts: Option<f64>,
    /// Sender address (`ip:port`), captures only.
    pub src_addr: Option<String>,
    /// Receiver address (`ip:port`), captures only.
    pub dst_addr: Option<String>,
}

/// A decoded frame (`"kind":"frame"` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename = "frame")]
pub struct FrameRecord {
    /// Time and addresses.
    #[serde(flatten)]
    pub origin: Origin,
    /// Who sent it; `None` when the input does not say.
    pub direction: Option<Sender>,
    /// `init`, `query`, `set`, or the code in hex (`0x08`).
    pub function: String,
    /// The function byte.
    pub function_code: u8,
    /// The header's payload length (function byte + body).
    pub length: u16,
    /// Whether the CRC-16/MODBUS in the header matches the payload.
    pub crc_ok: bool,
    /// The body's items, in order.
    pub properties: Vec<PropertyRecord>,
    /// Why the body walk stopped early (items before it are kept), if it did.
    pub body_error: Option<String>,
    /// The whole frame as hex.
    pub raw: String,
}

/// One item of a frame body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyRecord {
    /// The 16-bit property id.
    pub id: u16,
    /// The registry name, `None` for ids nobody has named.
    pub name: Option<&'static str>,
    /// The value type byte; `None` in query requests and set responses.
    #[serde(rename = "type")]
    pub type_code: Option<u8>,
    /// A number for numeric and enum types, a string for the others; `None`
    /// in query requests and for an unset value. In set responses: the
    /// status byte.
    pub value: serde_json::Value,
    /// Whether the value says "not set" (a ranged value of 0 below its
    /// minimum); only serialised when true, as `"unset": true`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unset: bool,
    /// The value as the unit's panel would show it, enum labels resolved.
    pub text: String,
    /// The registry unit (`°F`, `%`, `psi`, …), if any.
    pub unit: Option<&'static str>,
    /// The value's bytes after the type byte, as on the wire, in hex.
    pub raw: String,
}

/// Returns the record name of a function: `init`, `query`, `set`, or `0xNN`.
#[must_use]
pub fn function_name(function: FunctionCode) -> String {
    match function {
        FunctionCode::INIT => "init".into(),
        FunctionCode::QUERY => "query".into(),
        FunctionCode::SET => "set".into(),
        other => format!("0x{:02x}", u8::from(other)),
    }
}

fn value_json(value: &Value<'_>) -> serde_json::Value {
    if value.is_unset() {
        return serde_json::Value::Null;
    }
    match *value {
        Value::U8(v) | Value::Enum(v) | Value::TypedEnum { value: v, .. } => v.into(),
        Value::U16(v) => v.into(),
        Value::Ranged { value, .. } => value.into(),
        Value::U32(v) => v.into(),
        Value::Tenths(v) => serde_json::Number::from_f64(f64::from(v) / 10.0)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Str(text) => String::from_utf8_lossy(text).into_owned().into(),
        other => {
            let mut text = String::new();
            display_into(&mut text, &other);
            text.into()
        }
    }
}

/// Appends what `value.to_string()` gives, the frequent kinds (numbers,
/// MAC and IPv4 addresses, versions) without `core::fmt`.
fn display_into(out: &mut String, value: &Value<'_>) {
    use std::fmt::Write as _;
    match *value {
        Value::U8(v) | Value::Enum(v) => push_decimal(out, u64::from(v)),
        Value::U16(v) => push_decimal(out, u64::from(v)),
        Value::U32(v) => push_decimal(out, u64::from(v)),
        Value::Tenths(v) => {
            push_decimal(out, u64::from(v / 10));
            out.push('.');
            push_decimal(out, u64::from(v % 10));
        }
        Value::Ranged {
            value: current,
            min,
            max,
            step,
        } => {
            if value.is_unset() {
                out.push_str("unset");
            } else {
                push_signed(out, current);
            }
            out.push_str(" (");
            push_signed(out, min);
            out.push('-');
            push_signed(out, max);
            out.push_str(" by ");
            push_decimal(out, u64::from(step));
            out.push(')');
        }
        Value::Mac(bytes) => {
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push(':');
                }
                json::push_hex(out, &[*b]);
            }
        }
        Value::Version(parts) => dotted(out, &parts),
        // Printable ASCII other than quotes and backslash is shown as it is
        // (what char::escape_debug does with it), in double quotes.
        Value::Str(text)
            if text
                .iter()
                .all(|&b| matches!(b, 0x20..=0x7e) && !matches!(b, b'"' | b'\'' | b'\\')) =>
        {
            out.push('"');
            out.extend(text.iter().map(|&b| char::from(b)));
            out.push('"');
        }
        Value::Ipv4(addr) => dotted(out, &addr.octets()),
        // Writing into a String cannot fail.
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Appends bytes as decimals joined by dots (`10.15.25.34`).
fn dotted(out: &mut String, parts: &[u8]) {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, u64::from(*p));
    }
}

/// Appends the value's bytes after the type byte, in hex (nothing when it
/// cannot be encoded).
fn value_raw_into(out: &mut String, value: &Value<'_>) {
    let mut buf = [0u8; 260];
    if let Ok(n) = value.emit(&mut buf) {
        json::push_hex(out, buf.get(1..n).unwrap_or_default());
    }
}

/// Appends what `value.labeled(id).to_string()` gives, with the common
/// numeric cases (no enum label) written without `core::fmt`.
pub(crate) fn value_text_into(out: &mut String, id: u16, value: &Value<'_>) {
    if let Some(label) = rewire_websentry::enum_label(id, value) {
        out.push_str(label);
        return;
    }
    // Without a label, Labeled shows the value as its Display does.
    display_into(out, value);
}

impl PropertyRecord {
    /// Returns an empty item, to be filled.
    fn blank() -> Self {
        PropertyRecord {
            id: 0,
            name: None,
            type_code: None,
            value: serde_json::Value::Null,
            unset: false,
            text: String::new(),
            unit: None,
            raw: String::new(),
        }
    }

    /// Makes this the registry's item `id` without a value: sets id, name
    /// and unit, clears the rest (keeping the strings' buffers).
    fn reset(&mut self, id: u16) {
        let entry = registry::property(id);
        self.id = id;
        self.name = entry.map(|p| p.name);
        self.unit = entry.and_then(|p| p.unit);
        self.type_code = None;
        self.value = serde_json::Value::Null;
        self.unset = false;
        self.text.clear();
        self.raw.clear();
    }

    /// Sets what the text line shows of `(id, value)`: id, name, unit,
    /// type and text.
    fn set_text(&mut self, id: u16, value: &Value<'_>) {
        self.reset(id);
        self.type_code = Some(value.type_code());
        self.unset = value.is_unset();
        value_text_into(&mut self.text, id, value);
    }

    /// Describes `(id, value)` in place (what [`property_record`] returns).
    fn set_value(&mut self, id: u16, value: &Value<'_>) {
        self.reset(id);
        self.type_code = Some(value.type_code());
        self.value = value_json(value);
        self.unset = value.is_unset();
        value_text_into(&mut self.text, id, value);
        value_raw_into(&mut self.raw, value);
    }
}

/// Describes one `(id, value)` item.
#[must_use]
pub fn property_record(id: u16, value: &Value<'_>) -> PropertyRecord {
    let mut record = PropertyRecord::blank();
    record.set_value(id, value);
    record
}

/// Appends a frame's items, reusing those of an earlier frame (and their
/// strings) before allocating new ones.
struct Items<'a> {
    out: &'a mut Vec<PropertyRecord>,
    spare: &'a mut Vec<PropertyRecord>,
}

impl Items<'_> {
    fn add(&mut self, fill: impl FnOnce(&mut PropertyRecord)) {
        let mut item = self.spare.pop().unwrap_or_else(PropertyRecord::blank);
        fill(&mut item);
        self.out.push(item);
    }
}

/// Decodes the bytes of one frame (as cut by the framer) into a record.
///
/// `query` is the body of the server query this frame answers, if known: a
/// client's query response is then checked against it (same ids, same
/// order); a difference ends the walk and is reported in `body_error`.
#[must_use]
pub fn decode_frame(
    bytes: &[u8],
    direction: Option<Sender>,
    query: Option<&[u8]>,
    origin: Origin,
) -> FrameRecord {
    let mut record = FrameRecord {
        origin,
        direction,
        function: String::new(),
        function_code: 0,
        length: 0,
        crc_ok: false,
        properties: Vec::new(),
        body_error: None,
        raw: String::new(),
    };
    record.decode(bytes, direction, query, &mut Vec::new());
    record
}

impl FrameRecord {
    /// Makes the record of a typed frame relayed at `ts` (no addresses: the
    /// relay's records name the unit instead).
    #[must_use]
    pub fn from_frame(frame: &DecodedFrame, ts: SystemTime) -> Self {
        let origin = Origin {
            ts: Some(rewire_host::epoch_seconds(ts)),
            src_addr: None,
            dst_addr: None,
        };
        decode_frame(&frame.bytes, frame.direction, None, origin)
    }
}

/// Returns the error record of a [`Message::Garbage`] (`None` for other
/// messages).
#[must_use]
pub fn error_record(message: &Message) -> Option<ErrorRecord> {
    match message {
        Message::Garbage {
            offset,
            len,
            reason,
            head,
            ts,
            ..
        } => Some(
            ErrorRecord::new(*offset, *len, reason.clone(), head)
                .at(Some(rewire_host::epoch_seconds(*ts))),
        ),
        _ => None,
    }
}

/// Returns the record of a relayed frame or garbage (`None` for session
/// and failure messages).
#[must_use]
pub fn record_of(message: &Message) -> Option<Record> {
    match message {
        Message::Frame { frame, ts, .. } => {
            Some(Record::Frame(FrameRecord::from_frame(frame, *ts)))
        }
        other => error_record(other).map(Record::Error),
    }
}

/// Most spare items kept between frames by [`FrameRecord::decode`].
const MAX_SPARE_ITEMS: usize = 256;

impl FrameRecord {
    /// Decodes `bytes` into this record as [`decode_frame`] does, keeping
    /// the origin as it is and reusing the record's buffers: its strings,
    /// and its items (moved to `spare` and taken back from there). The
    /// decoder reuses one record for every frame, so a frame costs almost
    /// no allocation.
    pub fn decode(
        &mut self,
        bytes: &[u8],
        direction: Option<Sender>,
        query: Option<&[u8]>,
        spare: &mut Vec<PropertyRecord>,
    ) {
        self.decode_inner(bytes, direction, query, spare, false);
    }

    /// As [`FrameRecord::decode`], for the text line only: what the line
    /// does not show is left empty (each item's `value` and `raw`, and the
    /// frame's `raw` unless the line shows the body from it).
    pub fn decode_for_text(
        &mut self,
        bytes: &[u8],
        direction: Option<Sender>,
        query: Option<&[u8]>,
        spare: &mut Vec<PropertyRecord>,
    ) {
        self.decode_inner(bytes, direction, query, spare, true);
        if self.properties.is_empty() {
            json::push_hex(&mut self.raw, bytes);
        }
    }

    fn decode_inner(
        &mut self,
        bytes: &[u8],
        direction: Option<Sender>,
        query: Option<&[u8]>,
        spare: &mut Vec<PropertyRecord>,
        text_only: bool,
    ) {
        spare.append(&mut self.properties);
        spare.truncate(MAX_SPARE_ITEMS);
        self.direction = direction;
        self.function.clear();
        self.function_code = 0;
        self.length = 0;
        self.crc_ok = false;
        self.body_error = None;
        self.raw.clear();
        if !text_only {
            json::push_hex(&mut self.raw, bytes);
        }
        // A frame cut by the framer always has the length its header says;
        // one taken whole from a raw log may not.
        let mismatch = bytes
            .get(5..7)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            .filter(|&declared| bytes.len() >= 7 && declared != bytes.len() - 7)
            .map(|declared| {
                format!(
                    "length field says {declared} payload bytes, the frame has {}",
                    bytes.len() - 7
                )
            });
        let frame = match Frame::new_checked(bytes) {
            Ok(frame) => frame,
            Err(e) => {
                self.function.push('?');
                self.body_error = Some(mismatch.unwrap_or_else(|| e.to_string()));
                return;
            }
        };
        let function = frame.function();
        match function {
            FunctionCode::INIT => self.function.push_str("init"),
            FunctionCode::QUERY => self.function.push_str("query"),
            FunctionCode::SET => self.function.push_str("set"),
            other => self.function.push_str(&function_name(other)),
        }
        self.function_code = function.into();
        self.length = frame.payload_len();
        self.crc_ok = frame.checksum_ok();
        let body = frame.body();
        let mut error = None;
        let mut items = Items {
            out: &mut self.properties,
            spare,
        };
        match body_kind(function, direction, body) {
            BodyKind::Ids => {
                for item in QueryIds::new(body) {
                    match item {
                        Ok(id) => items.add(|p| {
                            p.reset(id);
                            p.text.push('?');
                        }),
                        Err(e) => error = Some(e.to_string()),
                    }
                }
            }
            BodyKind::Values => {
                let pairs = match (function, direction, query) {
                    (FunctionCode::QUERY, Some(Sender::Client), Some(q)) => {
                        Some(Pairs::new(q, body))
                    }
                    _ => None,
                };
                let (mut pairs, mut values) = match pairs {
                    Some(pairs) => (Some(pairs), None),
                    None => (None, Some(Values::new(body))),
                };
                let values = std::iter::from_fn(|| match (&mut pairs, &mut values) {
                    (Some(pairs), _) => pairs.next(),
                    (None, Some(values)) => values.next(),
                    (None, None) => None,
                });
                for item in values {
                    match item {
                        Ok((id, value)) if text_only => items.add(|p| p.set_text(id, &value)),
                        Ok((id, value)) => items.add(|p| p.set_value(id, &value)),
                        Err(e) => error = Some(e.to_string()),
                    }
                }
            }
            BodyKind::Statuses => {
                for item in SetStatuses::new(body) {
                    match item {
                        Ok((id, status)) => items.add(|p| {
                            use std::fmt::Write as _;
                            p.reset(id);
                            p.value = status.into();
                            // Writing into a String cannot fail.
                            if status == rewire_websentry::STATUS_OK {
                                p.text.push_str("ok");
                            } else {
                                let _ = write!(p.text, "status {status:#04x}");
                            }
                            json::push_hex(&mut p.raw, &[status]);
                        }),
                        Err(e) => error = Some(e.to_string()),
                    }
                }
            }
            BodyKind::Opaque => {}
        }
        self.body_error = match (mismatch, error) {
            (Some(m), Some(e)) => Some(format!("{m}; {e}")),
            (m, e) => m.or(e),
        };
    }
}

fn direction_json(out: &mut Vec<u8>, direction: Option<Sender>) {
    // Constant literals, so the copies are inlined.
    match direction {
        Some(Sender::Client) => out.extend_from_slice(b"\"client\""),
        Some(Sender::Server) => out.extend_from_slice(b"\"server\""),
        None => json::null(out),
    }
}

impl Origin {
    /// Appends `"ts":…,"src_addr":…,"dst_addr":…` (the flattened fields).
    fn write_json_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\"ts\":");
        json::opt_f64(out, self.ts);
        out.extend_from_slice(b",\"src_addr\":");
        json::opt_str(out, self.src_addr.as_deref());
        out.extend_from_slice(b",\"dst_addr\":");
        json::opt_str(out, self.dst_addr.as_deref());
    }
}

impl WriteJson for PropertyRecord {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        json::u64(out, u64::from(self.id));
        out.extend_from_slice(b",\"name\":");
        json::opt_str(out, self.name);
        out.extend_from_slice(b",\"type\":");
        match self.type_code {
            Some(t) => json::u64(out, u64::from(t)),
            None => json::null(out),
        }
        out.extend_from_slice(b",\"value\":");
        match &self.value {
            serde_json::Value::Null => json::null(out),
            serde_json::Value::String(s) => json::str(out, s),
            other => json::any(out, other),
        }
        if self.unset {
            out.extend_from_slice(b",\"unset\":true");
        }
        out.extend_from_slice(b",\"text\":");
        json::str(out, &self.text);
        out.extend_from_slice(b",\"unit\":");
        json::opt_str(out, self.unit);
        out.extend_from_slice(b",\"raw\":");
        json::str(out, &self.raw);
        out.push(b'}');
    }
}

impl FrameRecord {
    /// Appends the fields after `kind`.
    fn write_json_fields(&self, out: &mut Vec<u8>) {
        self.origin.write_json_fields(out);
        out.extend_from_slice(b",\"direction\":");
        direction_json(out, self.direction);
        out.extend_from_slice(b",\"function\":");
        json::str(out, &self.function);
        out.extend_from_slice(b",\"function_code\":");
        json::u64(out, u64::from(self.function_code));
        out.extend_from_slice(b",\"length\":");
        json::u64(out, u64::from(self.length));
        out.extend_from_slice(b",\"crc_ok\":");
        json::bool(out, self.crc_ok);
        out.extend_from_slice(b",\"properties\":[");
        for (i, p) in self.properties.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            p.write_json(out);
        }
        out.extend_from_slice(b"],\"body_error\":");
        json::opt_str(out, self.body_error.as_deref());
        out.extend_from_slice(b",\"raw\":");
        json::str(out, &self.raw);
    }
}

/// The same bytes as `serde_json::to_writer` on the derived `Serialize`
/// (the tests compare them), without serde's per-field machinery.
impl WriteJson for Record {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Self::Frame(r) => r.write_json(out),
            Self::Error(r) => r.write_json(out),
        }
    }
}

/// Writes the frame as its [`Record`] (`"kind":"frame"` first).
impl WriteJson for FrameRecord {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"kind\":\"frame\",");
        self.write_json_fields(out);
        out.push(b'}');
    }
}

fn write_origin(f: &mut fmt::Formatter<'_>, origin: &Origin) -> fmt::Result {
    match origin.ts {
        Some(ts) => write!(f, "{} ", rewire_host::output::Timestamp(ts))?,
        None => f.write_str("- ")?,
    }
    if let (Some(src), Some(dst)) = (&origin.src_addr, &origin.dst_addr) {
        write!(f, "{src} > {dst} ")?;
    }
    Ok(())
}

fn direction_str(direction: Option<Sender>) -> &'static str {
    direction.map_or("?", Sender::as_str)
}

/// Appends `n` in decimal (one copy, not a push per digit).
fn push_decimal(out: &mut String, mut n: u64) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
        return;
    }
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(digits.get(start..).unwrap_or(&[])).unwrap_or(""));
}

/// Appends a signed number in decimal.
fn push_signed(out: &mut String, n: i16) {
    if n < 0 {
        out.push('-');
    }
    push_decimal(out, u64::from(n.unsigned_abs()));
}

/// Appends `id` as `{id:#06x}` does (`0x060a`).
fn push_id(out: &mut String, id: u16) {
    out.push_str("0x");
    for shift in [12, 8, 4, 0] {
        let digit = u32::from((id >> shift) & 0xf);
        out.push(char::from_digit(digit, 16).unwrap_or('0'));
    }
}

thread_local! {
    /// The last record time formatted, and the text it gave: frames of a
    /// raw-log session all carry the session's start time, and formatting
    /// a time costs more than the rest of a line.
    static LAST_TIME: std::cell::RefCell<(u64, String)> =
        const { std::cell::RefCell::new((u64::MAX, String::new())) };
    /// The line being made by `FrameRecord`'s `Display`, reused.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Appends the time and addresses as [`write_origin`] writes them.
fn push_origin(out: &mut String, origin: &Origin) {
    use std::fmt::Write as _;
    match origin.ts {
        Some(ts) => LAST_TIME.with_borrow_mut(|(bits, text)| {
            if *bits != ts.to_bits() {
                text.clear();
                let _ = write!(text, "{} ", rewire_host::output::Timestamp(ts));
                *bits = ts.to_bits();
            }
            out.push_str(text);
        }),
        None => out.push_str("- "),
    }
    if let (Some(src), Some(dst)) = (&origin.src_addr, &origin.dst_addr) {
        out.push_str(src);
        out.push_str(" > ");
        out.push_str(dst);
        out.push(' ');
    }
}

impl FrameRecord {
    /// Appends the record's text line (what its `Display` shows), made
    /// without `core::fmt` except for a new time.
    pub fn push_line(&self, out: &mut String) {
        push_origin(out, &self.origin);
        out.push_str(direction_str(self.direction));
        out.push(' ');
        out.push_str(&self.function);
        out.push_str(" len=");
        push_decimal(out, u64::from(self.length));
        if !self.crc_ok {
            out.push_str(" BAD-CRC");
        }
        for p in &self.properties {
            out.push(' ');
            match p.name {
                Some(name) => out.push_str(name),
                None => push_id(out, p.id),
            }
            if p.type_code.is_some() || !p.value.is_null() {
                out.push('=');
                out.push_str(&p.text);
            }
            // Set answers carry a status, not a value in the property's unit.
            if let (Some(_), Some(unit)) = (p.type_code, p.unit) {
                out.push_str(unit);
            }
        }
        if self.properties.is_empty() && self.raw.len() > 16 {
            out.push_str(" body=");
            out.push_str(self.raw.get(16..).unwrap_or(""));
        }
        if let Some(e) = &self.body_error {
            out.push_str(" [body error: ");
            out.push_str(e);
            out.push(']');
        }
    }
}

impl fmt::Display for FrameRecord {
    /// One line: time, addresses, direction, function, length, CRC verdict,
    /// then `name=value unit` per item (ids without a name as `0x1234`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                self.push_line(&mut line);
                f.write_str(&line)
            }
            // Only if a line is shown while one is being made.
            Err(_) => self.fmt_slow(f),
        })
    }
}

impl FrameRecord {
    /// [`FrameRecord`]'s `Display` through `core::fmt`, as it was: kept as
    /// the reference the fast line is tested against.
    fn fmt_slow(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_origin(f, &self.origin)?;
        write!(
            f,
            "{} {} len={}",
            direction_str(self.direction),
            self.function,
            self.length
        )?;
        if !self.crc_ok {
            f.write_str(" BAD-CRC")?;
        }
        for p in &self.properties {
            match p.name {
                Some(name) => write!(f, " {name}")?,
                None => write!(f, " {:#06x}", p.id)?,
            }
            if p.type_code.is_some() || !p.value.is_null() {
                write!(f, "={}", p.text)?;
            }
            // Set answers carry a status, not a value in the property's unit.
            if let (Some(_), Some(unit)) = (p.type_code, p.unit) {
                write!(f, "{unit}")?;
            }
        }
        if self.properties.is_empty() && self.raw.len() > 16 {
            write!(f, " body={}", self.raw.get(16..).unwrap_or(""))?;
        }
        if let Some(e) = &self.body_error {
            write!(f, " [body error: {e}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(r) => r.fmt(f),
            Self::Error(r) => r.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: [u8; 25] = [
        0x70, 0x83, 0x9e, 0xe8, 0xe6, 0x00, 0x12, 0x00, 0xff, 0x00, 0x02, 0x05, 0x04, 0x01, 0x0d,
        0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3, 0x01, 0x20, 0x02, 0x07,
    ];

    /// A ranged value of 0 below its minimum is unset: no number, a flag,
    /// and the same JSON from serde and from the hand-written writer.
    #[test]
    fn an_unset_value_is_null_and_flagged() {
        let (value, _) = Value::parse(&[0x08, 0x00, 0x00, 0x00, 0x05, 0x01, 0x2c, 0x05]).unwrap();
        let record = property_record(0x030a, &value);
        assert!(record.unset);
        assert_eq!(record.value, serde_json::Value::Null);
        assert_eq!(record.text, "unset (5-300 by 5)");
        let mut fast = Vec::new();
        record.write_json(&mut fast);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            serde_json::to_string(&record).unwrap()
        );
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(json["value"], serde_json::Value::Null);
        assert_eq!(json["unset"], true);
        // No metric either.
        let reading =
            crate::message::property_reading(0x030a, &value, false, std::time::SystemTime::now());
        assert_eq!(reading.value, rewire_host::reading::Value::Unset);
        // A set value has no flag at all.
        let set = property_record(
            0x030a,
            &Value::Ranged {
                value: 10,
                min: 5,
                max: 300,
                step: 5,
            },
        );
        let json = serde_json::to_value(&set).unwrap();
        assert_eq!(json["value"], 10);
        assert!(json.get("unset").is_none());
        // Named kinds and the unconfirmed software variant.
        let kind = property_record(
            0x2702,
            &Value::TypedEnum {
                enum_type: 0x27,
                value: 2,
            },
        );
        assert_eq!(kind.text, "2 (DigOut)");
        assert_eq!(
            property_record(0x0116, &Value::U16(17)).text,
            "NE Modbus/LON?"
        );
    }

    fn frame(function: FunctionCode, body: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 7 + 1 + body.len()];
        let n = rewire_websentry::encode_frame(function, body, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn init_frame_decodes_its_mac() {
        let r = decode_frame(&INIT, Some(Sender::Client), None, Origin::default());
        assert_eq!(r.function, "init");
        assert!(r.crc_ok);
        assert_eq!(r.length, 18);
        assert_eq!(r.properties.len(), 3);
        assert_eq!(r.properties[1].id, 0x0401);
        assert_eq!(r.properties[1].value, "00:90:c2:0c:02:b3");
        assert_eq!(r.properties[1].raw, "0090c20c02b3");
        let json = serde_json::to_value(Record::Frame(r)).unwrap();
        assert_eq!(json["kind"], "frame");
        assert_eq!(json["direction"], "client");
        assert_eq!(json["properties"][0]["type"], 2);
    }

    #[test]
    fn query_pairs_and_mismatch_is_reported() {
        let q = frame(FunctionCode::QUERY, &[0x06, 0x00, 0x0f, 0x06, 0x01, 0x0f]);
        let body_q = &q[8..];
        let resp = frame(
            FunctionCode::QUERY,
            &[0x06, 0x00, 0x06, 0x02, 0x16, 0x06, 0x01, 0x06, 0x02, 0xb9],
        );
        let r = decode_frame(&resp, Some(Sender::Client), Some(body_q), Origin::default());
        assert_eq!(r.body_error, None);
        assert_eq!(r.properties[0].name, Some("humidity_percent"));
        assert_eq!(r.properties[0].value, serde_json::json!(53.4));
        assert_eq!(r.properties[1].text, "69.7");
        let line = r.to_string();
        assert!(line.contains("humidity_percent=53.4%"), "{line}");
        let other = frame(FunctionCode::QUERY, &[0x06, 0x02, 0x0f, 0x06, 0x01, 0x0f]);
        let r = decode_frame(
            &resp,
            Some(Sender::Client),
            Some(&other[8..]),
            Origin::default(),
        );
        assert!(r.body_error.unwrap().contains("0x0602") || r.properties.is_empty());
        let req = decode_frame(&q, Some(Sender::Server), None, Origin::default());
        assert_eq!(req.properties.len(), 2);
        assert!(req.properties[0].value.is_null());
        assert_eq!(req.properties[0].type_code, None);
    }

    #[test]
    fn set_and_status_and_unknown_direction() {
        let set = frame(FunctionCode::SET, &[0x25, 0x01, 0x03, 0x00, 0x32]);
        let r = decode_frame(&set, None, None, Origin::default());
        assert_eq!(r.properties[0].name, Some("set_humidity_percent"));
        assert_eq!(r.properties[0].value, 50);
        let ack = frame(FunctionCode::SET, &[0x25, 0x01, 0x00]);
        let r = decode_frame(&ack, None, None, Origin::default());
        assert_eq!(r.properties[0].text, "ok");
        assert_eq!(r.properties[0].value, 0);
        let odd = frame(FunctionCode::CODE_08, &[1, 2, 3]);
        let r = decode_frame(&odd, Some(Sender::Server), None, Origin::default());
        assert_eq!(r.function, "0x08");
        assert!(r.to_string().contains("body=010203"), "{r}");
    }

    fn assert_json_same(record: &Record) {
        let mut ours = Vec::new();
        record.write_json(&mut ours);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(record).unwrap()
        );
    }

    #[test]
    fn hand_written_json_matches_serde() {
        let origin = Origin {
            ts: Some(1_795_252_570.985_586),
            src_addr: Some("127.0.0.1:45930".into()),
            dst_addr: Some("[::1]:1030".into()),
        };
        let q = frame(FunctionCode::QUERY, &[0x06, 0x00, 0x0f, 0x06, 0x01, 0x0f]);
        let resp = frame(
            FunctionCode::QUERY,
            &[0x06, 0x00, 0x06, 0x02, 0x16, 0x06, 0x01, 0x06, 0x02, 0xb9],
        );
        let version = frame(
            FunctionCode::QUERY,
            &[
                0x01, 0x01, 0x07, 0x07, b'5', b'"', b'\\', 1, b'x', 0xc3, 0xa9,
            ],
        );
        let records = [
            decode_frame(&INIT, Some(Sender::Client), None, origin.clone()),
            decode_frame(&q, Some(Sender::Server), None, Origin::default()),
            decode_frame(&resp, Some(Sender::Client), Some(&q[8..]), origin.clone()),
            decode_frame(&resp, None, None, origin.clone()),
            decode_frame(&version, Some(Sender::Client), None, origin.clone()),
            decode_frame(
                &frame(FunctionCode::SET, &[0x25, 0x01, 0x03, 0x00, 0x32]),
                None,
                None,
                origin.clone(),
            ),
            decode_frame(
                &frame(FunctionCode::SET, &[0x25, 0x01, 0x07]),
                Some(Sender::Client),
                None,
                origin.clone(),
            ),
            decode_frame(
                &frame(FunctionCode::CODE_08, &[1, 2, 3]),
                Some(Sender::Server),
                None,
                origin.clone(),
            ),
            decode_frame(&[0x70, 0x83], None, None, origin.clone()),
        ];
        for r in records {
            assert_json_same(&Record::Frame(r));
        }
        assert_json_same(&Record::Error(
            ErrorRecord::new(12, 40, "garbage", &[0x00, 0xff]).at(origin.ts),
        ));
    }

    /// The fast text line is the `core::fmt` one, and decoding for text
    /// gives the line decoding in full gives, over frames of every kind:
    /// the simulator's answers to every property, init, query and set
    /// frames, a set answer, and cut, corrupted and unknown frames.
    #[test]
    fn the_fast_line_is_the_formatted_line() {
        struct Slow<'a>(&'a FrameRecord);
        impl fmt::Display for Slow<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_slow(f)
            }
        }
        let mut table = crate::simulate::PropertyTable::new(3);
        let ids = table.ids();
        let mut query = vec![0u8; 8 + ids.len() * 3];
        let n = rewire_websentry::encode_query_request(&ids, &mut query).unwrap();
        query.truncate(n);
        let answer = table
            .answer(
                &query,
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            )
            .unwrap();
        let mut set = vec![0u8; 64];
        let n =
            rewire_websentry::encode_set_request(&[(0x2500, Value::U16(85))], &mut set).unwrap();
        set.truncate(n);
        let mut set_answer = vec![0u8; 64];
        let n = rewire_websentry::encode_set_response(&[(0x2500, 0), (0x2501, 3)], &mut set_answer)
            .unwrap();
        set_answer.truncate(n);
        let mut frames = vec![
            (
                crate::simulate::init_frame([0, 1, 2, 3, 4, 5]),
                Some(Sender::Client),
                None,
            ),
            (query.clone(), Some(Sender::Server), None),
            (answer.clone(), Some(Sender::Client), Some(query.clone())),
            (answer.clone(), Some(Sender::Client), None),
            (answer.clone(), None, None),
            (set, Some(Sender::Server), None),
            (set_answer, Some(Sender::Client), None),
            (vec![0x70], Some(Sender::Server), None),
            (vec![0x70, 0x83, 0x9e, 0, 0, 0, 3, 0x42, 1, 2], None, None),
        ];
        for cut in [9, 20, answer.len() - 1] {
            frames.push((answer[..cut].to_vec(), Some(Sender::Client), None));
        }
        let mut corrupt = answer.clone();
        corrupt[30] ^= 0x55;
        frames.push((corrupt, Some(Sender::Client), Some(query.clone())));
        let origins = [
            Origin::default(),
            Origin {
                ts: Some(1_700_000_000.25),
                src_addr: Some("10.0.0.1:1030".into()),
                dst_addr: Some("10.0.0.2:40000".into()),
            },
        ];
        let mut checked = 0;
        for (bytes, dir, q) in &frames {
            for origin in &origins {
                let full = decode_frame(bytes, *dir, q.as_deref(), origin.clone());
                let line = full.to_string();
                assert_eq!(line, Slow(&full).to_string());
                let mut text = decode_frame(&[], None, None, origin.clone());
                text.decode_for_text(bytes, *dir, q.as_deref(), &mut Vec::new());
                assert_eq!(text.to_string(), line);
                checked += line.len();
            }
        }
        assert!(checked > 2000, "{checked} bytes of lines compared");
    }

    #[test]
    fn value_text_matches_labeled_display() {
        let ids = registry::PROPERTIES
            .iter()
            .map(|p| p.id)
            .chain([0x0000, 0xff00, 0x1234, 0xffff]);
        for id in ids {
            for v in [
                0u32,
                1,
                2,
                3,
                5,
                9,
                10,
                99,
                255,
                256,
                1000,
                65535,
                65536,
                u32::MAX,
            ] {
                let mut values = vec![Value::U32(v)];
                if let Ok(v) = u16::try_from(v) {
                    values.extend([Value::U16(v), Value::Tenths(v)]);
                }
                if let Ok(v) = u8::try_from(v) {
                    values.extend([Value::U8(v), Value::Enum(v)]);
                }
                for value in values {
                    let mut text = String::from("x");
                    value_text_into(&mut text, id, &value);
                    assert_eq!(
                        text[1..],
                        value.labeled(id).to_string(),
                        "{id:#06x} {value:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn display_into_matches_display() {
        let values = [
            Value::Mac([0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3]),
            Value::Mac([0xff, 0x0a, 0xa0, 0x00, 0x01, 0x10]),
            Value::Version([5, 15, 12, 0]),
            Value::Version([255, 0, 9, 100]),
            Value::Ipv4(std::net::Ipv4Addr::new(10, 15, 25, 34)),
            Value::Ipv4(std::net::Ipv4Addr::new(255, 0, 1, 200)),
            Value::Tenths(0),
            Value::Tenths(7),
            Value::Tenths(65535),
            Value::U32(u32::MAX),
            Value::Str(b"5.15.12"),
            Value::Str(b"a \"q\" \xff"),
            Value::Str(b""),
            Value::Str(b"it's"),
            Value::Str(b"back\\slash"),
            Value::Str(b"tab\there"),
            Value::Str(b"del\x7f"),
            Value::Str(b" ~!#$%&()*+,-./09:;<=>?@AZ[]^_`az{|}"),
            Value::Str("caf\u{e9}".as_bytes()),
            Value::Bytes2([0xab, 0x01]),
            Value::Ranged {
                value: -5,
                min: -10,
                max: 100,
                step: 5,
            },
            Value::TypedEnum {
                enum_type: 1,
                value: 2,
            },
            Value::Date {
                year_since_1900: 124,
                month: 1,
                day: 16,
                reserved: 0,
            },
            Value::Time {
                hour: 20,
                minute: 34,
                seconds_x4: 8,
                reserved: 0,
            },
        ];
        for value in values {
            let mut text = String::from("x");
            display_into(&mut text, &value);
            assert_eq!(text[1..], value.to_string(), "{value:?}");
            for id in [0x0401, 0x0101, 0x1234] {
                let mut text = String::new();
                value_text_into(&mut text, id, &value);
                assert_eq!(text, value.labeled(id).to_string(), "{id:#06x} {value:?}");
            }
        }
    }

    #[test]
    fn bad_crc_is_flagged_not_hidden() {
        let mut bad = INIT;
        bad[3] ^= 0xff;
        let r = decode_frame(&bad, Some(Sender::Client), None, Origin::default());
        assert!(!r.crc_ok);
        assert_eq!(r.properties.len(), 3);
        assert!(r.to_string().contains("BAD-CRC"));
    }
}
