//! Decoding captured traffic into [`Message`]s: the TCP 2570 status stream,
//! UDP 11541 heartbeats, TCP 8652 SMS requests, or a bare byte stream
//! (raw/hex input: read as status records). One framer per stream
//! ([`rewire_host::stream::Streams`]).

use std::sync::Arc;

use rewire_host::reading::DeviceId;
use rewire_host::stream::{Meta, StreamItem, Streams};
use rewire_transport::capture::{CaptureEvent, Endpoints, Transport};
use rewire_transport::framing::{Event, Framer, Framing, SkipReason, Step, Upsilon};
use rewire_upsilon::{parse_heartbeat, parse_sms_alert, sms};

use crate::message::{Body, FAMILY, Garbage, Message, Sms};

/// RupsMon's status stream port.
pub const STATUS_PORT: u16 = 2570;
/// UPSilon's heartbeat port (UDP).
pub const HEARTBEAT_PORT: u16 = 11541;
/// The SMS gateway port.
pub const SMS_PORT: u16 = 8652;

/// What a flow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Q1 status lines (TCP 2570, serial, raw input).
    Status,
    /// Heartbeat datagrams (UDP 11541).
    Heartbeat,
    /// SMS alert requests (TCP 8652, client to server).
    Sms,
}

/// Which ports mean which protocol (`--port` overrides the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    /// Status stream ports.
    pub status: Vec<u16>,
    /// Heartbeat ports.
    pub heartbeat: Vec<u16>,
    /// SMS ports.
    pub sms: Vec<u16>,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            status: vec![STATUS_PORT],
            heartbeat: vec![HEARTBEAT_PORT],
            sms: vec![SMS_PORT],
        }
    }
}

impl Ports {
    /// Builds the port map from `--port` values: with none, the defaults;
    /// otherwise each given port is a status port unless it is a default
    /// heartbeat/SMS port, and UDP traffic on any given port is heartbeats.
    pub fn from_args(ports: &[u16]) -> Self {
        if ports.is_empty() {
            return Self::default();
        }
        let mut p = Ports {
            status: Vec::new(),
            heartbeat: Vec::new(),
            sms: Vec::new(),
        };
        for &port in ports {
            match port {
                HEARTBEAT_PORT => p.heartbeat.push(port),
                SMS_PORT => p.sms.push(port),
                _ => {
                    p.status.push(port);
                    p.heartbeat.push(port);
                }
            }
        }
        p
    }

    /// Returns the protocol of a TCP flow from `src` to `dst`, and whether the
    /// bytes go towards the server (client → server).
    pub fn tcp(&self, src: u16, dst: u16) -> Option<(Proto, bool)> {
        if self.sms.contains(&dst) {
            Some((Proto::Sms, true))
        } else if self.sms.contains(&src) {
            Some((Proto::Sms, false))
        } else if self.status.contains(&src) {
            Some((Proto::Status, false))
        } else if self.status.contains(&dst) {
            Some((Proto::Status, true))
        } else {
            None
        }
    }

    /// Reports whether a UDP datagram between these ports is a heartbeat.
    pub fn udp(&self, src: u16, dst: u16) -> bool {
        self.heartbeat.contains(&dst) || self.heartbeat.contains(&src)
    }
}

/// Decodes one datagram as a heartbeat (or an error).
#[must_use]
pub fn heartbeat(bytes: &[u8]) -> Body {
    match parse_heartbeat(bytes) {
        Ok(heartbeat) => Body::Heartbeat {
            heartbeat,
            raw: bytes.to_vec(),
        },
        Err(e) => Body::Error(Garbage::new(0, bytes.len() as u64, e.to_string(), bytes)),
    }
}

/// Turns one framer event of a status stream into a message body.
#[must_use]
pub fn status_event(event: Event) -> Body {
    match event {
        Event::Message(m) => match rewire_upsilon::Status::parse(&m.bytes) {
            Ok(s) => Body::Status(s),
            Err(e) => Body::Error(Garbage::new(
                m.offset,
                m.bytes.len() as u64,
                e.to_string(),
                &m.bytes,
            )),
        },
        Event::Skipped(s) => {
            Body::Error(Garbage::new(s.offset, s.len, s.reason.to_string(), &s.head))
        }
    }
}

/// Frames SMS alert requests (HTTP GETs) in a TCP stream. A request that
/// does not parse is handed out as a message up to the next `GET ` so that
/// its error can be reported with the parser's reason.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmsRequests;

impl Framing for SmsRequests {
    fn scan(&mut self, buf: &[u8]) -> Step {
        if buf.is_empty() {
            return Step::Partial { skipped: 0 };
        }
        let len = match parse_sms_alert(buf) {
            Ok(sms::Parsed::Complete(n, _)) => n,
            Ok(sms::Parsed::Partial) => return Step::Partial { skipped: 0 },
            // Resynchronise at the next "GET " after the bad start.
            Err(_) => buf
                .windows(4)
                .skip(1)
                .position(|w| w == b"GET ")
                .map_or(buf.len(), |p| p + 1),
        };
        Step::Found {
            skipped: 0,
            len,
            message: 0..len,
        }
    }
}

/// Turns one framer event of an SMS stream into a message body.
#[must_use]
pub fn sms_event(event: Event) -> Body {
    match event {
        Event::Message(m) => match parse_sms_alert(&m.bytes) {
            Ok(sms::Parsed::Complete(_, alert)) => Body::SmsAlert(Sms::from_alert(&alert)),
            Ok(sms::Parsed::Partial) => Body::Error(Garbage::new(
                m.offset,
                m.bytes.len() as u64,
                "truncated SMS request",
                &m.bytes,
            )),
            Err(e) => Body::Error(Garbage::new(
                m.offset,
                m.bytes.len() as u64,
                e.to_string(),
                &m.bytes,
            )),
        },
        Event::Skipped(s) => {
            let reason = match s.reason {
                SkipReason::Truncated => "truncated SMS request at end of stream".to_owned(),
                other => other.to_string(),
            };
            Body::Error(Garbage::new(s.offset, s.len, reason, &s.head))
        }
    }
}

type MakeFramer<F> = fn() -> Framer<F>;

/// Decodes capture events into messages: TCP 2570 (and raw or hex input)
/// as status records, UDP 11541 as heartbeats, TCP 8652 client to server as
/// SMS alerts. The gateway's HTTP answers on 8652 are not UPSilon messages
/// and are left out.
pub struct Decoder {
    ports: Ports,
    device: Arc<DeviceId>,
    status: Streams<Upsilon, MakeFramer<Upsilon>>,
    sms: Streams<SmsRequests, MakeFramer<SmsRequests>>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

/// Where a stream's bytes go.
enum Route {
    Status,
    Sms,
    Heartbeat,
    Ignore,
}

impl Decoder {
    /// Makes a decoder that reads the protocols on `ports`.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Decoder {
            ports,
            device: Arc::new(DeviceId::new(FAMILY, "capture")),
            status: Streams::new(|| Framer::new(Upsilon::default())),
            sms: Streams::new(|| Framer::new(SmsRequests)),
        }
    }

    fn route(&self, endpoints: Option<&Endpoints>) -> Route {
        let Some(e) = endpoints else {
            return Route::Status;
        };
        let (src, dst) = (e.src.port(), e.dst.port());
        if e.transport == Transport::Udp {
            return if self.ports.udp(src, dst) {
                Route::Heartbeat
            } else {
                Route::Ignore
            };
        }
        match self.ports.tcp(src, dst) {
            Some((Proto::Sms, true)) => Route::Sms,
            // Only requests are SMS messages; the gateway's answers are not decoded.
            Some((Proto::Sms, false)) => Route::Ignore,
            _ => Route::Status,
        }
    }

    /// Feeds one capture event; calls `out` for every message it completes.
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn handle<E>(
        &mut self,
        event: CaptureEvent,
        mut out: impl FnMut(Message) -> Result<(), E>,
    ) -> Result<(), E> {
        let route = match &event {
            CaptureEvent::Chunk(c) => self.route(c.endpoints.as_ref()),
            CaptureEvent::Gap(g) => self.route(g.endpoints.as_ref()),
            CaptureEvent::End(_) => {
                // The stream is in at most one of the two.
                let device = &self.device;
                self.status.handle(event.clone(), |meta, item| {
                    emit(device, meta, item, false, &mut out)
                })?;
                return self
                    .sms
                    .handle(event, |meta, item| emit(device, meta, item, true, &mut out));
            }
        };
        let device = &self.device;
        match (route, event) {
            (Route::Heartbeat, CaptureEvent::Chunk(c)) => {
                let mut m = Message::new(Arc::clone(device), heartbeat(&c.bytes));
                m.ts = c.timestamp;
                if let Some(e) = c.endpoints {
                    m.src = Some(e.src);
                    m.dst = Some(e.dst);
                }
                out(m)
            }
            (Route::Heartbeat | Route::Ignore, _) => Ok(()),
            (Route::Status, event) => self.status.handle(event, |meta, item| {
                emit(device, meta, item, false, &mut out)
            }),
            (Route::Sms, event) => self
                .sms
                .handle(event, |meta, item| emit(device, meta, item, true, &mut out)),
        }
    }

    /// Ends every open stream (at end of input), reporting what their
    /// framers still held.
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn finish<E>(&mut self, mut out: impl FnMut(Message) -> Result<(), E>) -> Result<(), E> {
        let device = &self.device;
        self.status
            .finish(|meta, item| emit(device, meta, item, false, &mut out))?;
        self.sms
            .finish(|meta, item| emit(device, meta, item, true, &mut out))
    }
}

/// Turns one stream item into a message for `out` (overflows are left out:
/// the framer reports the discarded bytes as a skipped run too).
fn emit<E>(
    device: &Arc<DeviceId>,
    meta: &Meta,
    item: StreamItem<'_>,
    sms: bool,
    out: &mut impl FnMut(Message) -> Result<(), E>,
) -> Result<(), E> {
    let body = match item {
        StreamItem::Framed(event) if sms => sms_event(event),
        StreamItem::Framed(event) => status_event(event),
        StreamItem::Gap {
            offset,
            missing_bytes,
        } => Body::Error(Garbage::new(
            offset,
            missing_bytes,
            format!("gap: {missing_bytes} bytes never captured"),
            &[],
        )),
        StreamItem::Overflow(_) => return Ok(()),
    };
    let mut m = Message::new(Arc::clone(device), body);
    m.ts = meta.timestamp;
    if let Some(e) = meta.endpoints {
        m.src = Some(e.src);
        m.dst = Some(e.dst);
    }
    out(m)
}

/// Decodes every event of `events` into `out`, then ends the open streams.
///
/// # Errors
/// The first error of the events (after reporting what the streams held)
/// or of `out`.
pub fn decode<E>(
    events: impl IntoIterator<Item = Result<CaptureEvent, E>>,
    ports: Ports,
    mut out: impl FnMut(Message) -> Result<(), E>,
) -> Result<(), E> {
    let mut decoder = Decoder::new(ports);
    for event in events {
        match event {
            Ok(event) => decoder.handle(event, &mut out)?,
            Err(e) => {
                // What the streams held so far is still reported.
                decoder.finish(&mut out)?;
                return Err(e);
            }
        }
    }
    decoder.finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewire_transport::capture::{Chunk, StreamId};
    use std::convert::Infallible;

    fn chunk(bytes: &[u8], endpoints: Option<Endpoints>) -> CaptureEvent {
        CaptureEvent::Chunk(Chunk {
            stream: StreamId(1),
            timestamp: None,
            direction: None,
            endpoints,
            bytes: bytes.to_vec(),
        })
    }

    fn run(parts: &[&[u8]], endpoints: Option<Endpoints>) -> Vec<Message> {
        let mut out = Vec::new();
        let mut d = Decoder::new(Ports::default());
        for part in parts {
            d.handle(chunk(part, endpoints), |m| {
                out.push(m);
                Ok::<_, Infallible>(())
            })
            .unwrap();
        }
        d.finish(|m| {
            out.push(m);
            Ok::<_, Infallible>(())
        })
        .unwrap();
        out
    }

    fn kinds(v: &[Message]) -> Vec<&'static str> {
        v.iter().map(|m| m.body.kind()).collect()
    }

    #[test]
    fn status_stream_split_anywhere_gives_the_same_records() {
        let stream = b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r\0junk(000.0 000.0 238.7 007 50.1 27.4 --.- 10001000\r(230.0";
        let whole = kinds(&run(&[stream], None));
        assert_eq!(whole, ["status", "error", "status", "error"]);
        for cut in 1..stream.len() {
            let v = run(&[&stream[..cut], &stream[cut..]], None);
            assert_eq!(kinds(&v), whole, "cut at {cut}");
        }
    }

    #[test]
    fn sms_stream_resyncs_and_flags_truncation() {
        let req = crate::sim::sms_request("1", "PC", "hello", "1");
        let stream = format!("XX{req}{}", &req[..30]);
        let to_gateway = Endpoints {
            src: "127.0.0.1:50000".parse().unwrap(),
            dst: "127.0.0.1:8652".parse().unwrap(),
            transport: Transport::Tcp,
        };
        let v = run(&[stream.as_bytes()], Some(to_gateway));
        assert_eq!(kinds(&v), ["error", "sms_alert", "error"]);
        let Body::Error(last) = &v[2].body else {
            panic!()
        };
        assert_eq!(last.reason, "truncated SMS request at end of stream");
        assert_eq!(v[0].src, Some(to_gateway.src));
        // The gateway's answers are not decoded.
        let answers = Endpoints {
            src: to_gateway.dst,
            dst: to_gateway.src,
            transport: Transport::Tcp,
        };
        assert!(run(&[b"HTTP/1.1 200 OK\r\n\r\n"], Some(answers)).is_empty());
    }

    #[test]
    fn ports_map_flows() {
        let p = Ports::default();
        assert_eq!(p.tcp(2570, 50000), Some((Proto::Status, false)));
        assert_eq!(p.tcp(50000, 8652), Some((Proto::Sms, true)));
        assert_eq!(p.tcp(1, 2), None);
        assert!(p.udp(40000, 11541));
        let custom = Ports::from_args(&[4000]);
        assert_eq!(custom.tcp(4000, 1), Some((Proto::Status, false)));
        assert!(custom.udp(1, 4000));
        assert_eq!(custom.tcp(2570, 1), None);
    }
}
