//! The typed message every mode reports: a frame (the parser's checked
//! view and its typed payload), bytes that formed no frame, a link that came
//! up or went down, or a change of the simulated PCU's state.
//!
//! [`Message`] implements [`Observation`], so the generic outputs of
//! `rewire-host` (Prometheus, later MQTT or a page) read it without knowing
//! the device; the NDJSON and text records of [`crate::record`] are built
//! from it only when written.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use rewire_host::reading::{DeviceId, Event, Observation, Priority, Reading, Value};
use rewire_host::sink::{Fanout, SinkStats};
use rewire_powerone::{DateTime, Frame, FunctionCode, Password, PasswordCheck};

/// The device family of every [`DeviceId`] this crate makes.
pub const FAMILY: &str = "powerone";

/// Returns the id of the PCU or line called `name`.
#[must_use]
pub fn device(name: impl Into<String>) -> DeviceId {
    DeviceId::new(FAMILY, name)
}

/// Whether this program sent or received a frame (live master and
/// simulator only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Sent by this program.
    Tx,
    /// Received by this program.
    Rx,
}

/// How to read the payload of a function the evidence does not name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Codes {
    /// The verify-password code, when the user gave it: its requests decode
    /// as passwords and its replies as password checks.
    pub verify_password: Option<u8>,
}

/// Where and when a message's bytes were seen; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// When.
    pub ts: Option<SystemTime>,
    /// The sending socket (`ip:port`), for TCP.
    pub src_addr: Option<String>,
    /// The receiving socket (`ip:port`), for TCP.
    pub dst_addr: Option<String>,
    /// The serial line the bytes came in on (two-port taps).
    pub line: Option<String>,
    /// Sent or received, for the live master and the simulator.
    pub direction: Option<Way>,
}

impl Seen {
    /// Returns this context stamped with the time now.
    #[must_use]
    pub fn now(mut self) -> Self {
        self.ts = Some(SystemTime::now());
        self
    }

    /// Returns this context with a direction.
    #[must_use]
    pub fn with_direction(mut self, direction: Way) -> Self {
        self.direction = Some(direction);
        self
    }
}

/// The typed payload of a known function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The data of a set date/time request.
    DateTime(DateTime),
    /// The digits of a set-password or verify-password request.
    Password(String),
    /// The answer to a verify-password request.
    PasswordCheck(PasswordCheck),
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DateTime(t) => write!(f, "time {t}"),
            Self::Password(p) => write!(f, "password \"{p}\""),
            Self::PasswordCheck(PasswordCheck::Right) => f.write_str("password right"),
            Self::PasswordCheck(PasswordCheck::Wrong) => f.write_str("password wrong"),
        }
    }
}

/// Reads the payload of a frame of `function` (a request when `request`):
/// `Ok(None)` for functions whose data means nothing known.
///
/// # Errors
/// The parser's error when a known function's data does not decode.
pub fn parse_payload(
    function: FunctionCode,
    request: bool,
    data: &[u8],
    codes: Codes,
) -> Result<Option<Payload>, rewire_powerone::Error> {
    let verify = Some(function.0) == codes.verify_password;
    Ok(Some(match function {
        // The PCU's answers to 0x07 and 0x08 carry no data: nothing to decode.
        FunctionCode::SET_DATE_TIME if request => Payload::DateTime(DateTime::parse(data)?),
        FunctionCode::SET_PASSWORD if request => {
            Payload::Password(Password::parse(data)?.as_str().to_owned())
        }
        _ if verify && request => Payload::Password(Password::parse(data)?.as_str().to_owned()),
        _ if verify => Payload::PasswordCheck(PasswordCheck::parse(data)?),
        _ => return Ok(None),
    }))
}

/// A frame the framer delivered (its checksum is right).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSeen {
    /// The frame, over its own bytes (shared with the framer's buffer when
    /// it came from one: no copy).
    pub frame: Frame<Bytes>,
    /// Stream offset of its first byte (none for frames this program built).
    pub offset: Option<u64>,
    /// Its payload, typed, when the function is known.
    pub payload: Result<Option<Payload>, rewire_powerone::Error>,
    /// A remark from the live master: `unexpected` for a frame that was not
    /// the awaited reply, `echo` for its own request heard back.
    pub note: Option<&'static str>,
}

impl FrameSeen {
    /// Wraps a whole frame's bytes (as the framer hands them out, or a
    /// `Vec<u8>`), reading its payload with `codes`.
    #[must_use]
    pub fn new(bytes: impl Into<Bytes>, offset: Option<u64>, codes: Codes) -> Self {
        let frame = Frame::new_unchecked(bytes.into());
        let payload = if frame.check_len().is_ok() {
            parse_payload(
                frame.function(),
                frame.reply_required(),
                frame.data(),
                codes,
            )
        } else {
            Ok(None)
        };
        Self {
            frame,
            offset,
            payload,
            note: None,
        }
    }

    /// Returns this frame with a note.
    #[must_use]
    pub fn with_note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

/// Why bytes were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
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

impl SkipReason {
    /// Returns the machine name (`bad_checksum`, `garbage`, …), the event
    /// name of the skip.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::BadChecksum => "bad_checksum",
            Self::Garbage => "garbage",
            Self::Truncated => "truncated",
            Self::Oversize => "oversize",
            Self::Gap => "gap",
        }
    }
}

impl fmt::Display for SkipReason {
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

/// Bytes that formed no frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Why.
    pub reason: SkipReason,
    /// Stream offset of the first byte.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
    /// The first of them (at most [`rewire_host::record::RAW_LIMIT`]).
    pub bytes: Vec<u8>,
    /// A sentence with the numbers (expected vs found checksum, …).
    pub detail: String,
}

/// What happened to a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// It is up (a relay client connected upstream).
    Up,
    /// It ended normally (end of file, a closed connection).
    Down,
    /// It failed; the cause as text.
    Failed(String),
}

/// A change of the simulated PCU's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The clock was set.
    Clock(DateTime),
    /// The password was set.
    Password(String),
    /// A password was checked.
    Checked {
        /// Whether it was right.
        right: bool,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Clock(t) => write!(f, "clock set to {t}"),
            Self::Password(p) => write!(f, "password set to {p}"),
            Self::Checked { right: true } => f.write_str("password checked: right"),
            Self::Checked { right: false } => f.write_str("password checked: wrong"),
        }
    }
}

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A checksum-valid frame.
    Frame(FrameSeen),
    /// Bytes that formed no frame.
    Skipped(Skipped),
    /// A link (`endpoint`) changed state.
    Link {
        /// The link: a device path or a socket address.
        endpoint: String,
        /// Its new state.
        state: LinkState,
    },
    /// The simulated PCU's state changed.
    Change(Change),
}

/// One thing a Power-One mode saw or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The PCU or line it is about.
    pub device: DeviceId,
    /// Where and when.
    pub seen: Seen,
    /// What.
    pub body: Body,
}

impl Observation for Message {
    fn device(&self) -> &DeviceId {
        &self.device
    }

    /// A frame carries the typed values of its payload: the time a
    /// set-time request sets (`clock_set`) and a password check's answer
    /// (`password_ok`). Passwords are never readings.
    fn readings(&self, out: &mut Vec<Reading>) {
        let Body::Frame(f) = &self.body else { return };
        let ts = self.seen.ts.unwrap_or_else(SystemTime::now);
        match &f.payload {
            Ok(Some(Payload::DateTime(t))) => out.push(Reading::state(
                "clock_set",
                "The time the last set date/time request set",
                Value::Text(t.to_string().into()),
                ts,
            )),
            Ok(Some(Payload::PasswordCheck(c))) => out.push(Reading::state(
                "password_ok",
                "Whether the PCU accepted the last password checked",
                Value::Bool(c.is_right()),
                ts,
            )),
            _ => {}
        }
    }

    fn event(&self) -> Option<Event> {
        let (name, text) = match &self.body {
            Body::Frame(_) => return None,
            Body::Skipped(s) => (
                s.reason.name().to_owned(),
                format!("{} bytes at offset {}: {}", s.len, s.offset, s.reason),
            ),
            Body::Link { endpoint, state } => match state {
                LinkState::Up => ("link_up".to_owned(), format!("{endpoint} is up")),
                LinkState::Down => ("link_down".to_owned(), format!("{endpoint} ended")),
                LinkState::Failed(why) => (
                    "link_failed".to_owned(),
                    format!("{endpoint} failed: {why}"),
                ),
            },
            Body::Change(c) => (
                match c {
                    Change::Clock(_) => "clock_set",
                    Change::Password(_) => "password_set",
                    Change::Checked { .. } => "password_checked",
                }
                .to_owned(),
                c.to_string(),
            ),
        };
        Some(Event {
            name: name.into(),
            priority: self.priority(),
            text,
            ts: self.seen.ts.unwrap_or_else(SystemTime::now),
        })
    }

    fn priority(&self) -> Priority {
        match &self.body {
            Body::Frame(_) => Priority::Routine,
            Body::Skipped(_) => Priority::Error,
            Body::Link { .. } | Body::Change(_) => Priority::Alert,
        }
    }
}

/// A fan-out shared by the threads of a service.
#[derive(Debug, Clone)]
pub(crate) struct Publisher(Arc<Mutex<Fanout<Message>>>);

impl Publisher {
    pub(crate) fn new(fanout: Fanout<Message>) -> Self {
        Self(Arc::new(Mutex::new(fanout)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fanout<Message>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn publish(&self, message: Message) {
        self.lock().publish(message);
    }

    pub(crate) fn stats(&self) -> Vec<SinkStats> {
        self.lock().stats()
    }

    pub(crate) fn close(&self) {
        self.lock().close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET_TIME: [u8; 13] = [
        0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
    ];

    fn message(body: Body) -> Message {
        Message {
            device: device("test"),
            seen: Seen::default(),
            body,
        }
    }

    #[test]
    fn frames_carry_typed_payloads_and_readings() {
        let f = FrameSeen::new(SET_TIME.to_vec(), Some(0), Codes::default());
        assert_eq!(
            f.payload,
            Ok(Some(Payload::DateTime(
                DateTime::new(2011, 3, 15, 15, 13).unwrap()
            )))
        );
        let m = message(Body::Frame(f));
        let mut readings = Vec::new();
        m.readings(&mut readings);
        assert_eq!(readings[0].name, "clock_set");
        assert_eq!(readings[0].value, Value::Text("2011-03-15 15:13".into()));
        assert_eq!(m.event(), None);
        assert_eq!(m.priority(), Priority::Routine);
    }

    #[test]
    fn skips_are_errors_and_links_and_changes_are_alerts() {
        let skip = message(Body::Skipped(Skipped {
            reason: SkipReason::BadChecksum,
            offset: 3,
            len: 8,
            bytes: vec![0xFF],
            detail: String::new(),
        }));
        let e = skip.event().unwrap();
        assert_eq!(
            (e.name.as_ref(), e.priority),
            ("bad_checksum", Priority::Error)
        );
        let link = message(Body::Link {
            endpoint: "/dev/ttyS0".into(),
            state: LinkState::Down,
        });
        assert_eq!(link.event().unwrap().priority, Priority::Alert);
        let change = message(Body::Change(Change::Checked { right: false }));
        assert_eq!(change.event().unwrap().text, "password checked: wrong");
    }
}
