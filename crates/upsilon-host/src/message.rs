//! The typed message every mode yields: what the UPS and UPSilon said
//! (parser types), what the tracker derived from it, and bytes that did not
//! decode; with the readings and events generic outputs see.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rewire_host::reading::{DeviceId, Event, Observation, Priority, Reading, Unit, Value};
use rewire_host::record::RAW_LIMIT;
use rewire_upsilon::{Decimal, Heartbeat, SmsAlert, Status, StatusBits};
use serde::Serialize;

/// The device family name of every reading (`upsilon_…` metrics).
pub const FAMILY: &str = "upsilon";

/// One thing a UPS, UPSilon or a link said or did.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The UPS it is about.
    pub device: Arc<DeviceId>,
    /// When it was seen; `None` for inputs without time (raw bytes, hex text).
    pub ts: Option<SystemTime>,
    /// The sender, for TCP/UDP traffic.
    pub src: Option<SocketAddr>,
    /// The receiver, for TCP/UDP traffic.
    pub dst: Option<SocketAddr>,
    /// What it is.
    pub body: Body,
    /// The battery estimate for a status, when the live mode computes one
    /// ([`crate::battery`]); `None` elsewhere.
    pub battery: Option<crate::battery::BatteryFigures>,
}

/// What a [`Message`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A Q1 status line.
    Status(Status),
    /// A UDP 11541 heartbeat, with the datagram it came in.
    Heartbeat {
        /// What it says.
        heartbeat: Heartbeat,
        /// The datagram.
        raw: Vec<u8>,
    },
    /// An SMS alert request (TCP 8652).
    SmsAlert(Sms),
    /// Bytes that did not decode.
    Error(Garbage),
    /// A change the status bits show (derived by [`crate::state::Tracker`]).
    Transition {
        /// Which change.
        transition: Transition,
        /// The status that shows it.
        status: Status,
    },
    /// A data source link went down after being up, or came back.
    Link(LinkEvent),
}

/// An SMS alert request, its `%XX` escapes decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sms {
    /// `$sms_recptmobile`: the phone number.
    pub recipient: String,
    /// `$sms_content`, as sent.
    pub content: String,
    /// The PC name before the content's first `": "`, if any.
    pub host: Option<String>,
    /// The content after the host name.
    pub message: String,
    /// `$sms_code`.
    pub code: String,
}

impl Sms {
    /// Converts a parsed request, decoding `%XX` escapes when present.
    #[must_use]
    pub fn from_alert(alert: &SmsAlert<'_>) -> Self {
        let mut buf = vec![0u8; alert.content.len().max(alert.recipient.len())];
        let content = alert
            .decoded_content(&mut buf)
            .map_or_else(|_| alert.content.to_owned(), str::to_owned);
        let recipient = alert
            .decoded_recipient(&mut buf)
            .map_or_else(|_| alert.recipient.to_owned(), str::to_owned);
        let (host, message) = rewire_upsilon::sms::split_host(&content);
        Sms {
            host: host.map(str::to_owned),
            message: message.to_owned(),
            content: content.clone(),
            recipient,
            code: alert.code.to_owned(),
        }
    }
}

/// Bytes that did not decode, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbage {
    /// Offset of the bytes in their stream (or datagram).
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
    /// Why they did not decode.
    pub reason: String,
    /// The first bytes (at most [`RAW_LIMIT`]).
    pub head: Vec<u8>,
}

impl Garbage {
    /// Describes `len` bytes at `offset` starting with `bytes` (kept up to
    /// [`RAW_LIMIT`]).
    pub fn new(offset: u64, len: u64, reason: impl Into<String>, bytes: &[u8]) -> Self {
        Garbage {
            offset,
            len,
            reason: reason.into(),
            head: bytes
                .get(..bytes.len().min(RAW_LIMIT))
                .unwrap_or_default()
                .to_vec(),
        }
    }
}

/// A change the status bits show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// The utility failed: the UPS went on battery (bit 7 rose).
    OnBattery,
    /// The battery became low (bit 6 rose).
    BatteryLow,
    /// The UPS reported a failure (bit 4 rose).
    UpsFailed,
    /// The utility came back after an outage (bit 7 fell).
    BackOnLine,
}

impl Transition {
    /// Returns the record kind: `on_battery`, `battery_low`, `ups_failed`,
    /// `back_on_line`.
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            Self::OnBattery => "on_battery",
            Self::BatteryLow => "battery_low",
            Self::UpsFailed => "ups_failed",
            Self::BackOnLine => "back_on_line",
        }
    }
}

/// A link went down after being up, or came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// Whether it was lost (else restored).
    pub lost: bool,
    /// Which source: `rupsmon` (TCP 2570), `heartbeat` (UPSilon says the UPS
    /// is (dis)connected), `serial` or `usb`.
    pub link: String,
    /// The peer, address or device.
    pub peer: Option<String>,
    /// Why it was lost, or how long it was down.
    pub detail: Option<String>,
}

impl LinkEvent {
    /// Returns the record kind: `connection_lost` or `connection_restored`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        if self.lost {
            "connection_lost"
        } else {
            "connection_restored"
        }
    }
}

impl Body {
    /// Returns the record `kind` of the message.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Status(_) => "status",
            Body::Heartbeat { .. } => "heartbeat",
            Body::SmsAlert(_) => "sms_alert",
            Body::Error(_) => "error",
            Body::Transition { transition, .. } => transition.kind(),
            Body::Link(l) => l.kind(),
        }
    }

    /// Reports whether this is a derived event (a transition or link change).
    #[must_use]
    pub fn is_derived(&self) -> bool {
        matches!(self, Body::Transition { .. } | Body::Link(_))
    }
}

impl Message {
    /// Makes a message about `device` with no time or addresses.
    pub fn new(device: Arc<DeviceId>, body: Body) -> Self {
        Message {
            device,
            ts: None,
            src: None,
            dst: None,
            body,
            battery: None,
        }
    }

    /// Makes a status message stamped now.
    pub fn status(device: Arc<DeviceId>, status: Status) -> Self {
        Self::new(device, Body::Status(status)).at(SystemTime::now())
    }

    /// Sets the time.
    #[must_use]
    pub fn at(mut self, ts: SystemTime) -> Self {
        self.ts = Some(ts);
        self
    }

    /// Sets the addresses.
    #[must_use]
    pub fn between(mut self, src: Option<SocketAddr>, dst: Option<SocketAddr>) -> Self {
        self.src = src;
        self.dst = dst;
        self
    }

    /// Returns the status the message carries, if it is a status.
    #[must_use]
    pub fn as_status(&self) -> Option<&Status> {
        match &self.body {
            Body::Status(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::record::Record::from_message(self).fmt(f)
    }
}

/// Converts an exact decimal to the nearest `f64` (its shortest form prints
/// back as the wire text: `238.7` stays `238.7`).
#[must_use]
pub fn decimal(d: Decimal) -> f64 {
    // raw and 10^scale are exact doubles, and IEEE division rounds the exact
    // quotient correctly: the same double as parsing the decimal text.
    const POW10: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
    match POW10.get(usize::from(d.scale())) {
        Some(div) => f64::from(d.raw()) / div,
        None => d.to_string().parse().unwrap_or(f64::NAN),
    }
}

/// The eight status bits by name, most significant first, as the records,
/// metrics and NUT name them.
pub const STATUS_BITS: [(&str, u8); 8] = [
    ("utility_fail", StatusBits::UTILITY_FAIL),
    ("battery_low", StatusBits::BATTERY_LOW),
    ("bypass_active", StatusBits::BYPASS_BOOST_BUCK),
    ("ups_failed", StatusBits::UPS_FAILED),
    ("standby", StatusBits::STANDBY),
    ("test_in_progress", StatusBits::TEST_IN_PROGRESS),
    ("shutdown_active", StatusBits::SHUTDOWN_ACTIVE),
    ("beeper_on", StatusBits::BEEPER_ON),
];

fn number(d: Option<Decimal>) -> Value {
    d.map_or(Value::Unset, |d| Value::Number(decimal(d)))
}

/// Appends the readings of a status line seen at `ts`: the seven
/// measurements (unset when the UPS says `--.-`) and one
/// `status_bit{bit=…}` state per bit.
pub fn status_readings(s: &Status, ts: SystemTime, out: &mut Vec<Reading>) {
    let gauge = |name: &'static str, help, value, unit| Reading::gauge(name, help, value, unit, ts);
    out.push(gauge(
        "input_voltage",
        "Input voltage",
        number(s.input_voltage),
        Unit::Volt,
    ));
    out.push(gauge(
        "input_fault_voltage",
        "Input fault voltage held since the last query",
        number(s.input_fault_voltage),
        Unit::Volt,
    ));
    out.push(gauge(
        "output_voltage",
        "Output voltage",
        number(s.output_voltage),
        Unit::Volt,
    ));
    out.push(gauge(
        "load",
        "Load in percent of the maximum",
        s.load_percent
            .map_or(Value::Unset, |l| Value::Number(f64::from(l))),
        Unit::Percent,
    ));
    out.push(gauge(
        "input_frequency",
        "Input frequency",
        number(s.input_frequency),
        Unit::Hertz,
    ));
    out.push(gauge(
        "battery_voltage",
        "Battery voltage (per cell on on-line UPSes)",
        number(s.battery_voltage),
        Unit::Volt,
    ));
    out.push(gauge(
        "temperature",
        "UPS temperature, when the UPS reports one",
        number(s.temperature),
        Unit::Celsius,
    ));
    for (name, mask) in STATUS_BITS {
        out.push(
            Reading::state(
                "status_bit",
                "Q1 status bits (1 = set)",
                Value::Bool(s.bits.bits() & mask != 0),
                ts,
            )
            .with_label("bit", name),
        );
    }
}

/// The reading of a heartbeat: whether UPSilon says a UPS is connected.
#[must_use]
pub fn heartbeat_reading(hb: &Heartbeat, ts: SystemTime) -> Reading {
    Reading::state(
        "heartbeat_connected",
        "1 when UPSilon's last heartbeat said a UPS is connected",
        Value::Bool(matches!(hb, Heartbeat::Connected { .. })),
        ts,
    )
}

impl Observation for Message {
    fn device(&self) -> &DeviceId {
        &self.device
    }

    fn readings(&self, out: &mut Vec<Reading>) {
        let ts = self.ts.unwrap_or(UNIX_EPOCH);
        match &self.body {
            Body::Status(s) => status_readings(s, ts, out),
            Body::Heartbeat { heartbeat, .. } => out.push(heartbeat_reading(heartbeat, ts)),
            _ => {}
        }
    }

    fn event(&self) -> Option<Event> {
        if matches!(self.body, Body::Status(_) | Body::Heartbeat { .. }) {
            return None;
        }
        Some(Event {
            name: self.body.kind().into(),
            priority: self.priority(),
            text: crate::record::Record::from_message(self).body_text(),
            ts: self.ts.unwrap_or(UNIX_EPOCH),
        })
    }

    fn priority(&self) -> Priority {
        match &self.body {
            Body::Status(_) | Body::Heartbeat { .. } => Priority::Routine,
            Body::Error(_) => Priority::Error,
            Body::SmsAlert(_) | Body::Transition { .. } | Body::Link(_) => Priority::Alert,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Arc<DeviceId> {
        Arc::new(DeviceId::new(FAMILY, "ups"))
    }

    #[test]
    fn decimals_convert_like_parsing_their_text() {
        for scale in 0..=rewire_upsilon::MAX_SCALE {
            for raw in (-100_000..100_000).chain([i32::MIN, i32::MAX, 2387, 274, 501]) {
                let d = Decimal::new(raw, scale).unwrap();
                let parsed: f64 = d.to_string().parse().unwrap();
                assert_eq!(decimal(d).to_bits(), parsed.to_bits(), "{d}");
            }
        }
    }

    #[test]
    fn a_status_reads_as_gauges_and_bits_with_units() {
        let s = rewire_upsilon::Status::parse(b"(000.0 230.0 229.0 020 00.0 25.0 --.- 10001001")
            .unwrap();
        let m = Message::status(dev(), s);
        let mut r = Vec::new();
        m.readings(&mut r);
        assert_eq!(r.len(), 15);
        assert_eq!(r[0].name, "input_voltage");
        assert_eq!(r[0].unit, Unit::Volt);
        assert_eq!(r[3].value, Value::Number(20.0));
        assert_eq!(r[6].value, Value::Unset, "temperature --.-");
        assert_eq!(r[7].label("bit"), Some("utility_fail"));
        assert_eq!(r[7].value, Value::Bool(true));
        assert_eq!(m.priority(), Priority::Routine);
        assert!(m.event().is_none());
    }

    #[test]
    fn events_carry_priorities() {
        let s = rewire_upsilon::Status::parse(b"(000.0 230.0 229.0 020 00.0 25.0 --.- 10001001")
            .unwrap();
        let t = Message::new(
            dev(),
            Body::Transition {
                transition: Transition::OnBattery,
                status: s,
            },
        );
        let e = t.event().unwrap();
        assert_eq!(e.name, "on_battery");
        assert_eq!(e.priority, Priority::Alert);
        assert!(
            e.text.starts_with("ON_BATTERY ups.status \"OB\""),
            "{}",
            e.text
        );
        let g = Message::new(
            dev(),
            Body::Error(Garbage::new(0, 2, "garbage", b"\xff\xfe")),
        );
        assert_eq!(g.event().unwrap().priority, Priority::Error);
    }
}
