//! The NDJSON and text records: one output format of [`Message`]s.
//!
//! A [`Record`] is one NDJSON object: a `kind` (`status`, `heartbeat`,
//! `sms_alert`, `error`, or a transition: `on_battery`, `battery_low`,
//! `ups_failed`, `back_on_line`, `connection_lost`, `connection_restored`),
//! its fields, and where known `ts` (seconds since the epoch), `src_addr` and
//! `dst_addr`. Error records are the envelope every rewire tool shares
//! ([`rewire_host::record::ErrorRecord`]). Its `Display` is one tcpdump-like
//! line. [`RecordSink`] writes them for a [`rewire_host::sink::Fanout`].

use std::fmt;
use std::io::Write;

use rewire_host::epoch_seconds;
use rewire_host::json::{self, WriteJson};
use rewire_host::output::{Format, Sink as Writer};
use rewire_host::record::ErrorRecord;
use rewire_host::service::StopFlag;
use rewire_host::sink::Sink;
use rewire_upsilon::{Heartbeat, Status};
use serde::{Serialize, Serializer};

use crate::message::{Body as MessageBody, Message, Sms, decimal};
use crate::state::ups_status;

/// One message or event, as written by every mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// What it is, with its fields (serialised flat, `kind` first).
    pub body: Body,
    /// When it was seen, seconds since the Unix epoch; absent for inputs
    /// without time (raw bytes, hex text).
    pub ts: Option<f64>,
    /// Sender `ip:port`, for TCP/UDP traffic.
    pub src_addr: Option<String>,
    /// Receiver `ip:port`, for TCP/UDP traffic.
    pub dst_addr: Option<String>,
}

/// The kinds of record and their fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// A Q1 status line.
    Status(StatusRecord),
    /// A UDP 11541 heartbeat.
    Heartbeat(HeartbeatRecord),
    /// An SMS alert request (TCP 8652).
    SmsAlert(Sms),
    /// Bytes that did not decode (the shared envelope, with its own time
    /// and addresses).
    #[serde(skip)]
    Error(ErrorRecord),
    /// The utility failed: the UPS went on battery.
    OnBattery(TransitionRecord),
    /// The battery became low.
    BatteryLow(TransitionRecord),
    /// The UPS reported a failure.
    UpsFailed(TransitionRecord),
    /// The utility came back after an outage.
    BackOnLine(TransitionRecord),
    /// A link to the data source went down.
    ConnectionLost(ConnectionRecord),
    /// A link to the data source came back.
    ConnectionRestored(ConnectionRecord),
}

impl Body {
    /// Returns the `kind` string of the record.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Status(_) => "status",
            Body::Heartbeat(_) => "heartbeat",
            Body::SmsAlert(_) => "sms_alert",
            Body::Error(_) => "error",
            Body::OnBattery(_) => "on_battery",
            Body::BatteryLow(_) => "battery_low",
            Body::UpsFailed(_) => "ups_failed",
            Body::BackOnLine(_) => "back_on_line",
            Body::ConnectionLost(_) => "connection_lost",
            Body::ConnectionRestored(_) => "connection_restored",
        }
    }
}

/// A decoded Q1 status line; numbers are JSON numbers, unknown (`--.-`) is null.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRecord {
    /// Input voltage, V.
    pub input_voltage: Option<f64>,
    /// Input fault voltage, V.
    pub input_fault_voltage: Option<f64>,
    /// Output voltage, V.
    pub output_voltage: Option<f64>,
    /// Load, % of the maximum.
    pub load_percent: Option<u16>,
    /// Input frequency, Hz.
    pub input_frequency: Option<f64>,
    /// Battery voltage, V (per cell when `battery_per_cell`).
    pub battery_voltage: Option<f64>,
    /// Whether `battery_voltage` is per cell (written `S.SS`).
    pub battery_per_cell: bool,
    /// Temperature, °C; null when the UPS says `--.-`.
    pub temperature: Option<f64>,
    /// Bit 7.
    pub utility_fail: bool,
    /// Bit 6.
    pub battery_low: bool,
    /// Bit 5 (bypass, boost or buck).
    pub bypass_active: bool,
    /// Bit 4.
    pub ups_failed: bool,
    /// Bit 3 (standby / line-interactive UPS; false = on-line UPS).
    pub standby: bool,
    /// Bit 2.
    pub test_in_progress: bool,
    /// Bit 1.
    pub shutdown_active: bool,
    /// Bit 0.
    pub beeper_on: bool,
    /// The eight bits as sent (`b7…b0`).
    pub bits: String,
    /// NUT's `battery.charge`, % (live modes with a battery estimate only;
    /// the key is absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery_charge: Option<f64>,
    /// NUT's `battery.runtime`, s (with `runtimecal` only; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery_runtime: Option<f64>,
}

impl StatusRecord {
    /// Writes a parsed status line as a record.
    #[must_use]
    pub fn from_status(s: &Status) -> Self {
        let b = s.bits;
        StatusRecord {
            input_voltage: s.input_voltage.map(decimal),
            input_fault_voltage: s.input_fault_voltage.map(decimal),
            output_voltage: s.output_voltage.map(decimal),
            load_percent: s.load_percent,
            input_frequency: s.input_frequency.map(decimal),
            battery_voltage: s.battery_voltage.map(decimal),
            battery_per_cell: s.battery_per_cell(),
            temperature: s.temperature.map(decimal),
            utility_fail: b.utility_fail(),
            battery_low: b.battery_low(),
            bypass_active: b.bypass_boost_buck(),
            ups_failed: b.ups_failed(),
            standby: b.standby(),
            test_in_progress: b.test_in_progress(),
            shutdown_active: b.shutdown_active(),
            beeper_on: b.beeper_on(),
            bits: b.to_string(),
            battery_charge: None,
            battery_runtime: None,
        }
    }
}

/// A decoded UDP 11541 heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeartbeatRecord {
    /// Whether UPSilon says a UPS is connected.
    pub connected: bool,
    /// The UPS number when connected.
    pub ups: Option<u16>,
    /// The datagram as text.
    pub raw: String,
}

impl HeartbeatRecord {
    /// Writes a parsed heartbeat as a record; `raw` is the datagram.
    #[must_use]
    pub fn new(hb: Heartbeat, raw: &[u8]) -> Self {
        let (connected, ups) = match hb {
            Heartbeat::Connected { ups } => (true, Some(ups)),
            Heartbeat::Disconnected => (false, None),
        };
        HeartbeatRecord {
            connected,
            ups,
            raw: String::from_utf8_lossy(raw).into_owned(),
        }
    }
}

/// A change derived from the status bits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionRecord {
    /// The status bits that caused it (`b7…b0`).
    pub bits: String,
    /// The NUT `ups.status` those bits give (for example `OB LB`).
    pub ups_status: String,
    /// Input voltage at that moment, V.
    pub input_voltage: Option<f64>,
    /// Battery voltage at that moment, V.
    pub battery_voltage: Option<f64>,
}

/// A link to a data source went down or came back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionRecord {
    /// Which source: `rupsmon` (TCP 2570), `heartbeat` (UPSilon says the UPS
    /// is (dis)connected), `serial` or `usb` (`upsilon ups`).
    pub link: String,
    /// The peer, address or device.
    pub peer: Option<String>,
    /// Why it was lost, or how long it was down (`restored`).
    pub detail: Option<String>,
}

impl Record {
    /// Writes a message as a record.
    #[must_use]
    pub fn from_message(m: &Message) -> Self {
        let ts = m.ts.map(epoch_seconds);
        let src_addr = m.src.as_ref().map(json::socket_addr);
        let dst_addr = m.dst.as_ref().map(json::socket_addr);
        let body = match &m.body {
            MessageBody::Status(s) => {
                let mut r = StatusRecord::from_status(s);
                if let Some(b) = &m.battery {
                    r.battery_charge = b.charge.map(|c| c.round());
                    r.battery_runtime = b.runtime.map(|t| t.round());
                }
                Body::Status(r)
            }
            MessageBody::Heartbeat { heartbeat, raw } => {
                Body::Heartbeat(HeartbeatRecord::new(*heartbeat, raw))
            }
            MessageBody::SmsAlert(s) => Body::SmsAlert(s.clone()),
            MessageBody::Error(g) => Body::Error(
                ErrorRecord::new(g.offset, g.len, g.reason.clone(), &g.head)
                    .at(ts)
                    .between(src_addr.clone(), dst_addr.clone()),
            ),
            MessageBody::Transition { transition, status } => {
                let t = TransitionRecord {
                    bits: status.bits.to_string(),
                    ups_status: ups_status(status),
                    input_voltage: status.input_voltage.map(decimal),
                    battery_voltage: status.battery_voltage.map(decimal),
                };
                match transition {
                    crate::message::Transition::OnBattery => Body::OnBattery(t),
                    crate::message::Transition::BatteryLow => Body::BatteryLow(t),
                    crate::message::Transition::UpsFailed => Body::UpsFailed(t),
                    crate::message::Transition::BackOnLine => Body::BackOnLine(t),
                }
            }
            MessageBody::Link(l) => {
                let c = ConnectionRecord {
                    link: l.link.clone(),
                    peer: l.peer.clone(),
                    detail: l.detail.clone(),
                };
                if l.lost {
                    Body::ConnectionLost(c)
                } else {
                    Body::ConnectionRestored(c)
                }
            }
        };
        Record {
            body,
            ts,
            src_addr,
            dst_addr,
        }
    }

    /// Serialises the record as one JSON object (no newline).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Returns the line without time and addresses.
    #[must_use]
    pub fn body_text(&self) -> String {
        match &self.body {
            Body::Error(e) => e.clone().at(None).between(None, None).to_string(),
            body => body.to_string(),
        }
    }
}

/// The record as serde writes it: flat, `kind` first, then `ts` and the
/// addresses when known; errors are the shared envelope.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            #[serde(flatten)]
            body: &'a Body,
            #[serde(skip_serializing_if = "Option::is_none")]
            ts: Option<f64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            src_addr: &'a Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            dst_addr: &'a Option<String>,
        }
        match &self.body {
            Body::Error(e) => e.serialize(serializer),
            body => Flat {
                body,
                ts: self.ts,
                src_addr: &self.src_addr,
                dst_addr: &self.dst_addr,
            }
            .serialize(serializer),
        }
    }
}

/// Appends `,"name":` (a constant, so the copy is inlined).
macro_rules! key {
    ($out:expr, $name:literal) => {
        $out.extend_from_slice(concat!(",\"", $name, "\":").as_bytes())
    };
}

fn opt_u16(out: &mut Vec<u8>, v: Option<u16>) {
    match v {
        Some(v) => json::u64(out, u64::from(v)),
        None => json::null(out),
    }
}

impl StatusRecord {
    /// Appends the fields after `kind`, each with its leading comma.
    fn write_json_fields(&self, out: &mut Vec<u8>) {
        key!(out, "input_voltage");
        json::opt_f64(out, self.input_voltage);
        key!(out, "input_fault_voltage");
        json::opt_f64(out, self.input_fault_voltage);
        key!(out, "output_voltage");
        json::opt_f64(out, self.output_voltage);
        key!(out, "load_percent");
        opt_u16(out, self.load_percent);
        key!(out, "input_frequency");
        json::opt_f64(out, self.input_frequency);
        key!(out, "battery_voltage");
        json::opt_f64(out, self.battery_voltage);
        key!(out, "battery_per_cell");
        json::bool(out, self.battery_per_cell);
        key!(out, "temperature");
        json::opt_f64(out, self.temperature);
        key!(out, "utility_fail");
        json::bool(out, self.utility_fail);
        key!(out, "battery_low");
        json::bool(out, self.battery_low);
        key!(out, "bypass_active");
        json::bool(out, self.bypass_active);
        key!(out, "ups_failed");
        json::bool(out, self.ups_failed);
        key!(out, "standby");
        json::bool(out, self.standby);
        key!(out, "test_in_progress");
        json::bool(out, self.test_in_progress);
        key!(out, "shutdown_active");
        json::bool(out, self.shutdown_active);
        key!(out, "beeper_on");
        json::bool(out, self.beeper_on);
        key!(out, "bits");
        json::str(out, &self.bits);
        if let Some(c) = self.battery_charge {
            key!(out, "battery_charge");
            json::opt_f64(out, Some(c));
        }
        if let Some(t) = self.battery_runtime {
            key!(out, "battery_runtime");
            json::opt_f64(out, Some(t));
        }
    }
}

/// The same bytes as `serde_json::to_writer` on the `Serialize` above (the
/// tests compare them). The records `decode` writes most (status,
/// heartbeat, SMS, error) are written by hand; the rest go through serde.
impl WriteJson for Record {
    fn write_json(&self, out: &mut Vec<u8>) {
        match &self.body {
            Body::Status(s) => {
                out.extend_from_slice(b"{\"kind\":\"status\"");
                s.write_json_fields(out);
            }
            Body::Heartbeat(h) => {
                out.extend_from_slice(b"{\"kind\":\"heartbeat\"");
                key!(out, "connected");
                json::bool(out, h.connected);
                key!(out, "ups");
                opt_u16(out, h.ups);
                key!(out, "raw");
                json::str(out, &h.raw);
            }
            Body::Error(e) => return e.write_json(out),
            Body::SmsAlert(s) => {
                out.extend_from_slice(b"{\"kind\":\"sms_alert\"");
                key!(out, "recipient");
                json::str(out, &s.recipient);
                key!(out, "content");
                json::str(out, &s.content);
                key!(out, "host");
                json::opt_str(out, s.host.as_deref());
                key!(out, "message");
                json::str(out, &s.message);
                key!(out, "code");
                json::str(out, &s.code);
            }
            _ => return json::any(out, self),
        }
        if let Some(ts) = self.ts {
            key!(out, "ts");
            json::f64(out, ts);
        }
        if let Some(a) = &self.src_addr {
            key!(out, "src_addr");
            json::str(out, a);
        }
        if let Some(a) = &self.dst_addr {
            key!(out, "dst_addr");
            json::str(out, a);
        }
        out.push(b'}');
    }
}

struct Opt<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("?"),
        }
    }
}

/// Shows a float with at least one decimal (`0.0`, `238.7`), `?` when unknown.
struct F(Option<f64>);

impl fmt::Display for F {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v:?}"),
            None => f.write_str("?"),
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Body::Error(e) = &self.body {
            return e.fmt(f);
        }
        if let Some(ts) = self.ts {
            write!(f, "{} ", rewire_host::output::Timestamp(ts))?;
        }
        match (&self.src_addr, &self.dst_addr) {
            (Some(s), Some(d)) => write!(f, "{s} > {d} ")?,
            (Some(s), None) => write!(f, "{s} > ? ")?,
            (None, Some(d)) => write!(f, "? > {d} ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.body)
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Status(s) => {
                write!(
                    f,
                    "status in {}V fault {}V out {}V load {}% {}Hz batt {}V{} temp {}C bits {}",
                    F(s.input_voltage),
                    F(s.input_fault_voltage),
                    F(s.output_voltage),
                    Opt(s.load_percent),
                    F(s.input_frequency),
                    F(s.battery_voltage),
                    if s.battery_per_cell { "/cell" } else { "" },
                    F(s.temperature),
                    s.bits
                )?;
                let flags = [
                    (s.utility_fail, "utility-fail"),
                    (s.battery_low, "battery-low"),
                    (s.bypass_active, "bypass/boost/buck"),
                    (s.ups_failed, "ups-failed"),
                    (s.test_in_progress, "testing"),
                    (s.shutdown_active, "shutdown-pending"),
                    (s.beeper_on, "beeper"),
                ];
                let on: Vec<&str> = flags.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
                if !on.is_empty() {
                    write!(f, " [{}]", on.join(","))?;
                }
                if let Some(c) = s.battery_charge {
                    write!(f, " charge {c}%")?;
                }
                if let Some(t) = s.battery_runtime {
                    write!(f, " runtime {t}s")?;
                }
                Ok(())
            }
            Body::Heartbeat(h) => match h.ups {
                Some(n) if h.connected => write!(f, "heartbeat UPS {n:03} connected"),
                _ => f.write_str("heartbeat no UPS connected"),
            },
            Body::SmsAlert(s) => write!(
                f,
                "sms_alert to {:?} host {:?} message {:?} code {:?}",
                s.recipient,
                s.host.as_deref().unwrap_or("?"),
                s.message,
                s.code
            ),
            Body::Error(e) => e.fmt(f),
            Body::OnBattery(t) | Body::BatteryLow(t) | Body::UpsFailed(t) | Body::BackOnLine(t) => {
                write!(
                    f,
                    "{} ups.status \"{}\" in {}V batt {}V bits {}",
                    self.kind().to_uppercase(),
                    t.ups_status,
                    F(t.input_voltage),
                    F(t.battery_voltage),
                    t.bits
                )
            }
            Body::ConnectionLost(c) | Body::ConnectionRestored(c) => {
                write!(
                    f,
                    "{} {} {}",
                    self.kind().to_uppercase(),
                    c.link,
                    c.peer.as_deref().unwrap_or("?")
                )?;
                if let Some(d) = &c.detail {
                    write!(f, ": {d}")?;
                }
                Ok(())
            }
        }
    }
}

/// Writes each message as a record (text line or NDJSON) to `W`, flushing
/// every record: the stdout output of the live modes, run behind a
/// [`rewire_host::sink::Fanout`] so a stalled reader stalls nothing else.
/// When writing fails (the reader went away), it sets its stop flag and
/// writes no more.
pub struct RecordSink<W: Write> {
    out: Writer<W>,
    failed: Option<StopFlag>,
    broken: bool,
}

impl<W: Write> std::fmt::Debug for RecordSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSink")
            .field("format", &self.out.format())
            .finish_non_exhaustive()
    }
}

impl<W: Write> RecordSink<W> {
    /// Writes to `out` in `format`.
    pub fn new(out: W, format: Format) -> Self {
        RecordSink {
            out: Writer::new(out, format, true),
            failed: None,
            broken: false,
        }
    }

    /// Sets `flag` when writing fails (a closed stdout ends a monitor).
    #[must_use]
    pub fn stop_on_failure(mut self, flag: StopFlag) -> Self {
        self.failed = Some(flag);
        self
    }

    /// Writes one message now (for callers without a fan-out).
    ///
    /// # Errors
    /// The writer's error.
    pub fn write(&mut self, message: &Message) -> std::io::Result<()> {
        self.out.emit_record(&Record::from_message(message))
    }
}

impl<W: Write + Send> Sink<Message> for RecordSink<W> {
    fn name(&self) -> &str {
        "stdout"
    }

    fn observe(&mut self, message: &Message) {
        if self.broken {
            return;
        }
        if let Err(e) = self.write(message) {
            self.broken = true;
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                log::warn!("cannot write records: {e}");
            }
            if let Some(flag) = &self.failed {
                flag.set();
            }
        }
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Garbage, LinkEvent};
    use rewire_host::reading::DeviceId;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    fn msg(body: MessageBody) -> Message {
        Message::new(Arc::new(DeviceId::new("upsilon", "ups")), body)
    }

    #[test]
    fn status_json_has_the_issue_keys_and_nulls() {
        let s = rewire_upsilon::Status::parse(b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000")
            .unwrap();
        let r = Record::from_message(&msg(MessageBody::Status(s)));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["kind"], "status");
        assert_eq!(v["input_voltage"], 238.7);
        assert_eq!(v["load_percent"], 7);
        assert_eq!(v["battery_voltage"], 27.4);
        assert!(v["temperature"].is_null());
        assert_eq!(v["standby"], true);
        assert_eq!(v["beeper_on"], false);
        assert_eq!(v["bits"], "00001000");
        assert!(v.get("ts").is_none());
        assert!(r.to_json().starts_with("{\"kind\":\"status\""));
        assert_eq!(
            r.to_string(),
            "status in 238.7V fault 238.7V out 238.7V load 7% 50.1Hz batt 27.4V temp ?C bits 00001000"
        );
    }

    fn assert_json_same(m: &Message) {
        let r = Record::from_message(m);
        let mut ours = Vec::new();
        r.write_json(&mut ours);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&r).unwrap()
        );
    }

    #[test]
    fn hand_written_json_matches_serde() {
        let from = Some("127.0.0.1:2570".parse().unwrap());
        let to = Some("[::1]:5000".parse().unwrap());
        let t = UNIX_EPOCH + Duration::from_micros(1_795_252_566_929_586);
        let lines: [&[u8]; 3] = [
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
            b"(000.0 140.0 220.0 100 59.9 2.05 25.0 11111111",
            b"(--.- --.- --.- --- --.- --.- --.- 00000000",
        ];
        let mut messages = vec![];
        for line in lines {
            if let Ok(s) = rewire_upsilon::Status::parse(line) {
                messages.push(msg(MessageBody::Status(s)));
                messages.push(msg(MessageBody::Transition {
                    transition: crate::message::Transition::OnBattery,
                    status: s,
                }));
            }
        }
        assert!(!messages.is_empty());
        messages.push(msg(MessageBody::Heartbeat {
            heartbeat: Heartbeat::Connected { ups: 3 },
            raw: b"ups003\"\\\x01".to_vec(),
        }));
        messages.push(msg(MessageBody::Heartbeat {
            heartbeat: Heartbeat::Disconnected,
            raw: Vec::new(),
        }));
        messages.push(msg(MessageBody::Error(Garbage::new(
            7,
            2,
            "bad \"line\"\n",
            b"\xff\x00",
        ))));
        for host in [Some("PC \"X\""), None] {
            messages.push(msg(MessageBody::SmsAlert(Sms {
                recipient: "0123456789".into(),
                content: "PC X: On battery\n".into(),
                host: host.map(str::to_owned),
                message: "On battery\\".into(),
                code: "1".into(),
            })));
        }
        messages.push(msg(MessageBody::Link(LinkEvent {
            lost: true,
            link: "rupsmon".into(),
            peer: None,
            detail: Some("reset".into()),
        })));
        for m in messages {
            assert_json_same(&m);
            assert_json_same(&m.clone().at(t));
            assert_json_same(&m.clone().at(t).between(from, to));
            assert_json_same(&m.clone().between(from, None));
        }
    }

    #[test]
    fn heartbeat_and_sms_records() {
        let r = Record::from_message(&msg(MessageBody::Heartbeat {
            heartbeat: Heartbeat::Connected { ups: 0 },
            raw: b"ups000cnt001".to_vec(),
        }))
        .to_json();
        assert_eq!(
            r,
            r#"{"kind":"heartbeat","connected":true,"ups":0,"raw":"ups000cnt001"}"#
        );
        let req = b"GET /smssend_hide.cgi?$sms_recptmobile=0123456789&$sms_content=PC%20X: On battery&$sms_code=1 HTTP/1.1\r\n\r\n";
        let rewire_upsilon::sms::Parsed::Complete(_, alert) =
            rewire_upsilon::parse_sms_alert(req).unwrap()
        else {
            panic!("partial")
        };
        let s = Sms::from_alert(&alert);
        assert_eq!(s.host.as_deref(), Some("PC X"));
        assert_eq!(s.message, "On battery");
        assert_eq!(s.recipient, "0123456789");
        assert_eq!(s.code, "1");
    }

    #[test]
    fn errors_are_the_shared_envelope_in_both_forms() {
        let m = msg(MessageBody::Error(Garbage::new(
            3,
            2,
            "garbage",
            b"\xff\xfe",
        )))
        .at(UNIX_EPOCH + Duration::from_millis(1_500))
        .between(
            Some("127.0.0.1:2570".parse().unwrap()),
            Some("127.0.0.1:5000".parse().unwrap()),
        );
        let r = Record::from_message(&m);
        assert_eq!(
            r.to_string(),
            "1970-01-01 00:00:01.500000Z 127.0.0.1:2570 > 127.0.0.1:5000 error at offset 3 (2 bytes): garbage [fffe]"
        );
        assert_eq!(
            r.to_json(),
            r#"{"kind":"error","ts":1.5,"src_addr":"127.0.0.1:2570","dst_addr":"127.0.0.1:5000","offset":3,"len":2,"reason":"garbage","raw":"fffe"}"#
        );
        let bare = Record::from_message(&msg(MessageBody::Error(Garbage::new(0, 1, "x", b"\x00"))));
        assert_eq!(
            bare.to_json(),
            r#"{"kind":"error","ts":null,"src_addr":null,"dst_addr":null,"offset":0,"len":1,"reason":"x","raw":"00"}"#
        );
        assert_eq!(r.body_text(), "error at offset 3 (2 bytes): garbage [fffe]");
    }

    #[test]
    fn the_record_sink_writes_lines_and_stops_on_a_closed_reader() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let s = rewire_upsilon::Status::parse(b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000")
            .unwrap();
        let flag = StopFlag::new();
        let mut sink = RecordSink::new(Closed, Format::Json).stop_on_failure(flag.clone());
        sink.observe(&msg(MessageBody::Status(s)));
        assert!(flag.is_set());
        let mut ok = RecordSink::new(Vec::new(), Format::Text);
        ok.observe(&msg(MessageBody::Status(s)));
        assert!(
            ok.out
                .into_inner()
                .unwrap()
                .starts_with(b"status in 238.7V")
        );
    }
}
