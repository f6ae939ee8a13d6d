//! The record model: what every mode (decode, live master, tap, simulator)
//! prints, as one readable line (`Display`) or one NDJSON object
//! (`Serialize`).
//!
//! Two kinds, told apart by `kind`: a `frame` (a checksum-valid frame, with
//! its fields and, for the known functions, its decoded payload) and an
//! `error` (bytes that did not form a frame: line noise, a frame with a bad
//! checksum, a truncated frame), with the stream offset and the reason.

use std::fmt;

use jiff::Timestamp;
use rewire_powerone::{DateTime, Frame, FunctionCode, Password, PasswordCheck};
use serde::Serialize;

/// At most this many bytes of a skipped run are kept as hex in an error record.
pub const MAX_RAW_BYTES: usize = 64;

/// One output record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A checksum-valid frame.
    Frame(FrameRecord),
    /// Bytes that did not form a frame.
    Error(ErrorRecord),
}

/// Where a record's bytes were seen: time, addresses and direction.
///
/// Every field is optional; absent fields are left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Context {
    /// Seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<f64>,
    /// The sending socket (`ip:port`), for TCP/UDP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_addr: Option<String>,
    /// The receiving socket (`ip:port`), for TCP/UDP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_addr: Option<String>,
    /// The serial line the bytes came in on (two-port taps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// `tx` for what this tool sent, `rx` for what it received (live master
    /// and simulator only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

impl Context {
    /// Returns a context stamped with the current time.
    #[must_use]
    pub fn now() -> Self {
        Self {
            ts: Some(now_seconds()),
            ..Self::default()
        }
    }

    /// Returns this context with a direction.
    #[must_use]
    pub fn with_direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }
}

/// Returns the current time as seconds since the Unix epoch.
#[must_use]
pub fn now_seconds() -> f64 {
    Timestamp::now().as_microsecond() as f64 / 1e6
}

/// Whether this tool sent or received a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by this tool.
    Tx,
    /// Received by this tool.
    Rx,
}

/// The payload of a known function, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Decoded {
    /// The data of a set date/time request.
    DateTime {
        /// Full year (2000..=2099).
        year: u16,
        /// Month (1..=12).
        month: u8,
        /// Day of the month.
        day: u8,
        /// Hour (0..=23).
        hour: u8,
        /// Minute (0..=59).
        minute: u8,
    },
    /// The digits of a set-password or verify-password request.
    Password {
        /// The digits.
        password: String,
    },
    /// The answer to a verify-password request.
    PasswordCheck {
        /// Whether the PCU accepted the password.
        password_ok: bool,
    },
}

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DateTime {
                year,
                month,
                day,
                hour,
                minute,
            } => write!(
                f,
                "time {year:04}-{month:02}-{day:02} {hour:02}:{minute:02}"
            ),
            Self::Password { password } => write!(f, "password \"{password}\""),
            Self::PasswordCheck { password_ok: true } => f.write_str("password right"),
            Self::PasswordCheck { password_ok: false } => f.write_str("password wrong"),
        }
    }
}

impl From<DateTime> for Decoded {
    fn from(t: DateTime) -> Self {
        Self::DateTime {
            year: t.year(),
            month: t.month(),
            day: t.day(),
            hour: t.hour(),
            minute: t.minute(),
        }
    }
}

/// A checksum-valid frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameRecord {
    /// Where and when it was seen.
    #[serde(flatten)]
    pub context: Context,
    /// Stream offset of its first byte (absent for frames this tool built).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Destination address (offset 2; the PC is 0).
    pub dst: u8,
    /// Source address (offset 3).
    pub src: u8,
    /// Whether the receiver must answer (reply flag 0x01).
    pub reply_required: bool,
    /// The control byte.
    pub control: u8,
    /// The function code.
    pub function: u8,
    /// The function's name, `None` (JSON null) when the evidence names none.
    pub function_name: Option<&'static str>,
    /// The data field as lowercase hex, no separators.
    pub data: String,
    /// Whether the checksum is right (always true: bad ones are errors).
    pub checksum_ok: bool,
    /// The decoded payload of a known function, else null.
    pub decoded: Option<Decoded>,
    /// Why a known function's payload did not decode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    /// A remark from the live tools, e.g. `unexpected` for a frame that
    /// was not the awaited reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// How to read the payload of a function the evidence does not name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Codes {
    /// The verify-password code, when the user gave it: its requests decode
    /// as passwords and its replies as password checks.
    pub verify_password: Option<u8>,
}

impl FrameRecord {
    /// Builds the record of a checksum-valid frame's bytes.
    ///
    /// `bytes` should be one whole frame (as the framer hands it out); if it
    /// is not, the record still comes out, with the fields read leniently
    /// and `checksum_ok` false.
    #[must_use]
    pub fn from_bytes(bytes: &[u8], context: Context, offset: Option<u64>, codes: Codes) -> Self {
        let frame = Frame::new_unchecked(bytes);
        let well_formed = frame.check_len().is_ok();
        let checksum_ok = well_formed && frame.verify_checksum();
        let function = frame.function();
        let data = if well_formed { frame.data() } else { &[] };
        let (decoded, decode_error) = decode_payload(function, frame.reply_required(), data, codes);
        Self {
            context,
            offset,
            dst: frame.destination(),
            src: frame.source(),
            reply_required: frame.reply_required(),
            control: frame.control(),
            function: function.0,
            function_name: function.name(),
            data: hex::encode(data),
            checksum_ok,
            decoded,
            decode_error,
            note: None,
        }
    }

    /// Returns this record with a note.
    #[must_use]
    pub fn with_note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

fn decode_payload(
    function: FunctionCode,
    request: bool,
    data: &[u8],
    codes: Codes,
) -> (Option<Decoded>, Option<String>) {
    let result = match function {
        // The PCU's answers to 0x07 and 0x08 carry no data: nothing to decode.
        FunctionCode::SET_DATE_TIME if request => DateTime::parse(data).map(Decoded::from),
        FunctionCode::SET_PASSWORD if request => Password::parse(data).map(|p| Decoded::Password {
            password: p.as_str().to_owned(),
        }),
        FunctionCode(code) if Some(code) == codes.verify_password && request => {
            Password::parse(data).map(|p| Decoded::Password {
                password: p.as_str().to_owned(),
            })
        }
        FunctionCode(code) if Some(code) == codes.verify_password => PasswordCheck::parse(data)
            .map(|c| Decoded::PasswordCheck {
                password_ok: c.is_right(),
            }),
        _ => return (None, None),
    };
    match result {
        Ok(decoded) => (Some(decoded), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// Why bytes were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
    /// A well-formed frame whose checksum is wrong.
    BadChecksum,
    /// Bytes that cannot begin a frame (line noise).
    Garbage,
    /// The stream ended inside a would-be frame.
    Truncated,
    /// A would-be frame outgrew the framer's buffer.
    Oversize,
    /// Bytes of a captured stream were never captured (packet loss).
    Gap,
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadChecksum => "bad checksum",
            Self::Garbage => "garbage",
            Self::Truncated => "truncated",
            Self::Oversize => "oversize",
            Self::Gap => "gap",
        })
    }
}

/// Bytes that did not form a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRecord {
    /// Where and when they were seen.
    #[serde(flatten)]
    pub context: Context,
    /// Stream offset of the first byte.
    pub offset: u64,
    /// How many bytes.
    pub length: u64,
    /// Why they were skipped.
    pub reason: ErrorReason,
    /// A sentence with the numbers (expected vs found checksum, …).
    pub detail: String,
    /// The bytes as hex (at most [`MAX_RAW_BYTES`]; `raw_truncated` says
    /// when more were skipped).
    pub raw: String,
    /// Whether `raw` holds fewer bytes than `length`.
    pub raw_truncated: bool,
    /// For a bad-checksum frame: its record, as if the checksum were right
    /// (`checksum_ok` false), so the fields can still be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<Box<FrameRecord>>,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(r) => r.fmt(f),
            Self::Error(r) => r.fmt(f),
        }
    }
}

fn write_context(f: &mut fmt::Formatter<'_>, c: &Context) -> fmt::Result {
    if let Some(ts) = c.ts {
        write!(f, "{}", rewire_host::output::Timestamp(ts))?;
        f.write_str(" ")?;
    }
    if let Some(line) = &c.line {
        write!(f, "[{line}] ")?;
    }
    if let (Some(src), Some(dst)) = (&c.src_addr, &c.dst_addr) {
        write!(f, "{src} > {dst}: ")?;
    }
    match c.direction {
        Some(Direction::Tx) => f.write_str("tx ")?,
        Some(Direction::Rx) => f.write_str("rx ")?,
        None => {}
    }
    Ok(())
}

fn write_spaced_hex(f: &mut fmt::Formatter<'_>, hex: &str) -> fmt::Result {
    let bytes = hex.as_bytes();
    for (i, pair) in bytes.chunks(2).enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        f.write_str(std::str::from_utf8(pair).unwrap_or("??"))?;
    }
    Ok(())
}

impl fmt::Display for FrameRecord {
    /// Writes e.g. `15:13:02.000000Z tx 0x00 > 0x01 set date/time (0x07)
    /// reply ctrl 0x01 data[5] 0b 03 0f 0f 0d: time 2011-03-15 15:13`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_context(f, &self.context)?;
        write!(
            f,
            "{:#04x} > {:#04x} {} {} ctrl {:#04x} data[{}]",
            self.src,
            self.dst,
            FunctionCode(self.function),
            if self.reply_required {
                "reply"
            } else {
                "no-reply"
            },
            self.control,
            self.data.len() / 2,
        )?;
        if !self.data.is_empty() {
            f.write_str(" ")?;
            write_spaced_hex(f, &self.data)?;
        }
        if let Some(decoded) = &self.decoded {
            write!(f, ": {decoded}")?;
        }
        if let Some(error) = &self.decode_error {
            write!(f, ": undecodable ({error})")?;
        }
        if !self.checksum_ok {
            f.write_str(" [BAD CHECKSUM]")?;
        }
        if let Some(note) = self.note {
            write!(f, " [{note}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for ErrorRecord {
    /// Writes e.g. `error at 13 (8 bytes): bad checksum: … raw ff 08 …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_context(f, &self.context)?;
        write!(
            f,
            "error at {} ({} bytes): {}: {} raw ",
            self.offset, self.length, self.reason, self.detail
        )?;
        write_spaced_hex(f, &self.raw)?;
        if self.raw_truncated {
            f.write_str(" …")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET_TIME: [u8; 13] = [
        0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
    ];
    const TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

    #[test]
    fn set_time_request_json_has_the_schema_keys() {
        let r = Record::Frame(FrameRecord::from_bytes(
            &SET_TIME,
            Context::default(),
            Some(0),
            Codes::default(),
        ));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "kind": "frame", "offset": 0, "dst": 1, "src": 0, "reply_required": true,
                "control": 1, "function": 7, "function_name": "set date/time",
                "data": "0b030f0f0d", "checksum_ok": true,
                "decoded": {"year": 2011, "month": 3, "day": 15, "hour": 15, "minute": 13}
            })
        );
        assert_eq!(
            r.to_string(),
            "0x00 > 0x01 set date/time (0x07) reply ctrl 0x01 data[5] 0b 03 0f 0f 0d: \
             time 2011-03-15 15:13"
        );
    }

    #[test]
    fn reply_and_unknown_function_have_null_decoded() {
        let r = FrameRecord::from_bytes(&TIME_SET, Context::default(), None, Codes::default());
        assert_eq!((r.decoded.clone(), r.decode_error.clone()), (None, None));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["decoded"], serde_json::Value::Null);
        assert_eq!(v["data"], "");
        let mut unknown = [0xFF, 0x09, 0x00, 0x01, 0x00, 0x01, 0x42, 0x01, 0x00];
        unknown[8] = rewire_powerone::checksum(&unknown[..8]);
        let r = FrameRecord::from_bytes(&unknown, Context::default(), None, Codes::default());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["function_name"], serde_json::Value::Null);
        assert_eq!(v["decoded"], serde_json::Value::Null);
        // With the verify code given, the same frame is a password check.
        let codes = Codes {
            verify_password: Some(0x42),
        };
        let r = FrameRecord::from_bytes(&unknown, Context::default(), None, codes);
        assert_eq!(
            r.decoded,
            Some(Decoded::PasswordCheck { password_ok: true })
        );
        assert!(r.to_string().ends_with("data[1] 01: password right"));
    }

    #[test]
    fn bad_payload_is_reported_not_decoded() {
        // 0x07 request for 30 February.
        let mut bytes = [
            0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x02, 0x1E, 0x0F, 0x0D, 0x00,
        ];
        bytes[12] = rewire_powerone::checksum(&bytes[..12]);
        let r = FrameRecord::from_bytes(&bytes, Context::default(), None, Codes::default());
        assert_eq!(r.decoded, None);
        assert!(r.decode_error.as_deref().unwrap().contains("day"), "{r:?}");
    }

    #[test]
    fn context_prints_time_in_utc_and_direction() {
        let ctx = Context {
            ts: Some(1_300_201_980.25),
            direction: Some(Direction::Rx),
            ..Context::default()
        };
        let r = FrameRecord::from_bytes(&TIME_SET, ctx, None, Codes::default());
        assert_eq!(
            r.to_string(),
            "2011-03-15 15:13:00.250000Z rx 0x01 > 0x00 set date/time (0x07) no-reply ctrl 0x01 data[0]"
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["direction"], "rx");
        assert_eq!(v["ts"], 1_300_201_980.25);
    }
}
