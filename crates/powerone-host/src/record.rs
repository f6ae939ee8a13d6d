//! The NDJSON and text output: records built from [`Message`]s when they
//! are written, one readable line (`Display`) or one NDJSON object
//! (`Serialize`) each, and the [`RecordSink`] that writes them.
//!
//! Two kinds, told apart by `kind`: a `frame` (a checksum-valid frame, with
//! its fields and, for the known functions, its decoded payload) and an
//! `error` (bytes that did not form a frame: line noise, a frame with a bad
//! checksum, a truncated frame, a capture gap) in the envelope all rewire
//! tools share ([`ErrorRecord`]). Link events and simulator state changes
//! have no record: they go to the log and the readings.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use rewire_host::epoch_seconds;
use rewire_host::output::{Format, Sink as Writer, Timestamp};
pub use rewire_host::record::ErrorRecord;
use rewire_host::sink::Sink;
use rewire_powerone::{FunctionCode, PasswordCheck};
use serde::Serialize;

use crate::message::{Body, FrameSeen, Message, Payload, Seen, Skipped, Way};

/// One output record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Record {
    /// A checksum-valid frame.
    Frame(FrameRecord),
    /// Bytes that did not form a frame.
    Error(ErrorRecord),
}

impl Record {
    /// Returns the record of `message`, if it has one (frames and skipped
    /// bytes do; link events and state changes do not).
    #[must_use]
    pub fn from_message(message: &Message) -> Option<Self> {
        match &message.body {
            Body::Frame(f) => Some(Self::Frame(FrameRecord::new(f, &message.seen))),
            Body::Skipped(s) => Some(Self::Error(error_record(s, &message.seen))),
            Body::Link { .. } | Body::Change(_) => None,
        }
    }
}

/// Where a frame record's bytes were seen: time, addresses and direction.
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
    pub direction: Option<&'static str>,
}

impl From<&Seen> for Context {
    fn from(seen: &Seen) -> Self {
        Self {
            ts: seen.ts.map(epoch_seconds),
            src_addr: seen.src_addr.clone(),
            dst_addr: seen.dst_addr.clone(),
            line: seen.line.clone(),
            direction: seen.direction.map(|d| match d {
                Way::Tx => "tx",
                Way::Rx => "rx",
            }),
        }
    }
}

/// The payload of a known function, decoded, as the JSON shows it.
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

impl From<&Payload> for Decoded {
    fn from(p: &Payload) -> Self {
        match p {
            Payload::DateTime(t) => Self::DateTime {
                year: t.year(),
                month: t.month(),
                day: t.day(),
                hour: t.hour(),
                minute: t.minute(),
            },
            Payload::Password(p) => Self::Password {
                password: p.clone(),
            },
            Payload::PasswordCheck(c) => Self::PasswordCheck {
                password_ok: *c == PasswordCheck::Right,
            },
        }
    }
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

/// A checksum-valid frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameRecord {
    /// Always `"frame"`.
    pub kind: &'static str,
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
    /// Whether the checksum is right (always true for frames the framer
    /// delivered).
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

impl FrameRecord {
    /// Builds the record of a frame seen in `seen`.
    #[must_use]
    pub fn new(f: &FrameSeen, seen: &Seen) -> Self {
        let frame = &f.frame;
        let well_formed = frame.check_len().is_ok();
        let data = if well_formed { frame.data() } else { &[] };
        let (decoded, decode_error) = match &f.payload {
            Ok(p) => (p.as_ref().map(Decoded::from), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let function = frame.function();
        Self {
            kind: "frame",
            context: Context::from(seen),
            offset: f.offset,
            dst: frame.destination(),
            src: frame.source(),
            reply_required: frame.reply_required(),
            control: frame.control(),
            function: function.0,
            function_name: function.name(),
            data: hex::encode(data),
            checksum_ok: well_formed && frame.checksum_ok(),
            decoded,
            decode_error,
            note: f.note,
        }
    }
}

/// Builds the shared error envelope of skipped bytes: `reason` is the
/// machine reason, then the detail (`bad_checksum: checksum 0x11, expected
/// 0x10`).
#[must_use]
pub fn error_record(s: &Skipped, seen: &Seen) -> ErrorRecord {
    let reason = if s.detail.is_empty() {
        s.reason.name().to_owned()
    } else {
        format!("{}: {}", s.reason.name(), s.detail)
    };
    ErrorRecord::new(s.offset, s.len, reason, &s.bytes)
        .at(seen.ts.map(epoch_seconds))
        .between(seen.src_addr.clone(), seen.dst_addr.clone())
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
        write!(f, "{} ", Timestamp(ts))?;
    }
    if let Some(line) = &c.line {
        write!(f, "[{line}] ")?;
    }
    if let (Some(src), Some(dst)) = (&c.src_addr, &c.dst_addr) {
        write!(f, "{src} > {dst}: ")?;
    }
    if let Some(direction) = c.direction {
        write!(f, "{direction} ")?;
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

/// Writes the records of messages as text lines or NDJSON.
pub struct RecordWriter<W: Write> {
    out: Writer<W>,
}

impl<W: Write> fmt::Debug for RecordWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordWriter")
            .field("format", &self.out.format())
            .finish_non_exhaustive()
    }
}

impl<W: Write> RecordWriter<W> {
    /// Writes to `out` in `format`; `flush_each` flushes after every record
    /// (live output, pipes), else only when asked or at the end.
    pub fn new(out: W, format: Format, flush_each: bool) -> Self {
        Self {
            out: Writer::new(out, format, flush_each),
        }
    }

    /// Writes the record of `message`, if it has one.
    ///
    /// # Errors
    /// The writer's error (a closed pipe among them).
    pub fn write(&mut self, message: &Message) -> io::Result<()> {
        match Record::from_message(message) {
            Some(record) => self.out.emit(&record),
            None => Ok(()),
        }
    }

    /// Flushes buffered records.
    ///
    /// # Errors
    /// The writer's error.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Where a [`RecordSink`] keeps the first write error, for its owner to
/// look at.
#[derive(Debug, Clone, Default)]
pub struct WriteFailure(Arc<Mutex<Option<io::Error>>>);

impl WriteFailure {
    /// Returns whether writing failed.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Takes the error, if writing failed.
    #[must_use]
    pub fn take(&self) -> Option<io::Error> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn set(&self, e: io::Error) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(e);
        }
    }
}

/// A [`Sink`] that writes each message's record: the live modes' stdout.
/// After a write error it writes nothing more and keeps the error in its
/// [`WriteFailure`].
#[derive(Debug)]
pub struct RecordSink<W: Write> {
    writer: RecordWriter<W>,
    failure: WriteFailure,
}

impl<W: Write> RecordSink<W> {
    /// Writes to `out` in `format`, flushing after every record.
    pub fn new(out: W, format: Format) -> Self {
        Self {
            writer: RecordWriter::new(out, format, true),
            failure: WriteFailure::default(),
        }
    }

    /// Returns the handle that tells whether writing failed.
    #[must_use]
    pub fn failure(&self) -> WriteFailure {
        self.failure.clone()
    }
}

impl<W: Write + Send> Sink<Message> for RecordSink<W> {
    fn name(&self) -> &str {
        "records"
    }

    fn observe(&mut self, message: &Message) {
        if self.failure.failed() {
            return;
        }
        if let Err(e) = self.writer.write(message) {
            self.failure.set(e);
        }
    }

    fn finish(&mut self) {
        if let Err(e) = self.writer.flush() {
            self.failure.set(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::message::{Codes, SkipReason, device};

    const SET_TIME: [u8; 13] = [
        0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
    ];
    const TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

    fn record(bytes: &[u8], seen: &Seen, offset: Option<u64>, codes: Codes) -> FrameRecord {
        FrameRecord::new(&FrameSeen::new(bytes.to_vec(), offset, codes), seen)
    }

    #[test]
    fn set_time_request_json_has_the_schema_keys() {
        let r = Record::Frame(record(
            &SET_TIME,
            &Seen::default(),
            Some(0),
            Codes::default(),
        ));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kind":"frame","offset":0,"dst":1,"src":0,"reply_required":true,"control":1,"function":7,"function_name":"set date/time","data":"0b030f0f0d","checksum_ok":true,"decoded":{"year":2011,"month":3,"day":15,"hour":15,"minute":13}}"#
        );
        assert_eq!(
            r.to_string(),
            "0x00 > 0x01 set date/time (0x07) reply ctrl 0x01 data[5] 0b 03 0f 0f 0d: \
             time 2011-03-15 15:13"
        );
    }

    #[test]
    fn reply_and_unknown_function_have_null_decoded() {
        let r = record(&TIME_SET, &Seen::default(), None, Codes::default());
        assert_eq!((r.decoded.clone(), r.decode_error.clone()), (None, None));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["decoded"], serde_json::Value::Null);
        assert_eq!(v["data"], "");
        let mut unknown = [0xFF, 0x09, 0x00, 0x01, 0x00, 0x01, 0x42, 0x01, 0x00];
        unknown[8] = rewire_powerone::checksum(&unknown[..8]);
        let r = record(&unknown, &Seen::default(), None, Codes::default());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["function_name"], serde_json::Value::Null);
        assert_eq!(v["decoded"], serde_json::Value::Null);
        // With the verify code given, the same frame is a password check.
        let codes = Codes {
            verify_password: Some(0x42),
        };
        let r = record(&unknown, &Seen::default(), None, codes);
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
        let r = record(&bytes, &Seen::default(), None, Codes::default());
        assert_eq!(r.decoded, None);
        assert!(r.decode_error.as_deref().unwrap().contains("day"), "{r:?}");
    }

    #[test]
    fn context_prints_time_in_utc_and_direction() {
        let seen = Seen {
            ts: Some(UNIX_EPOCH + Duration::from_millis(1_300_201_980_250)),
            direction: Some(Way::Rx),
            ..Seen::default()
        };
        let r = record(&TIME_SET, &seen, None, Codes::default());
        assert_eq!(
            r.to_string(),
            "2011-03-15 15:13:00.250000Z rx 0x01 > 0x00 set date/time (0x07) no-reply ctrl 0x01 data[0]"
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["direction"], "rx");
        assert_eq!(v["ts"], 1_300_201_980.25);
    }

    #[test]
    fn skipped_bytes_use_the_shared_envelope() {
        let m = Message {
            device: device("t"),
            seen: Seen::default(),
            body: Body::Skipped(Skipped {
                reason: SkipReason::BadChecksum,
                offset: 2,
                len: 8,
                bytes: vec![0xFF, 0x08],
                detail: "checksum 0x11, expected 0x10".into(),
            }),
        };
        let r = Record::from_message(&m).unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kind":"error","ts":null,"src_addr":null,"dst_addr":null,"offset":2,"len":8,"reason":"bad_checksum: checksum 0x11, expected 0x10","raw":"ff08"}"#
        );
        let mut w = RecordWriter::new(Vec::new(), Format::Text, false);
        w.write(&m).unwrap();
        w.flush().unwrap();
    }

    #[test]
    fn a_record_sink_keeps_its_first_write_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
        }
        let mut sink = RecordSink::new(Closed, Format::Json);
        let failure = sink.failure();
        let m = Message {
            device: device("t"),
            seen: Seen::default(),
            body: Body::Frame(FrameSeen::new(TIME_SET.to_vec(), None, Codes::default())),
        };
        sink.observe(&m);
        assert!(failure.failed());
        assert_eq!(failure.take().unwrap().kind(), io::ErrorKind::BrokenPipe);
    }
}
