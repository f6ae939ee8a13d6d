//! Decoding of captured traffic into [`Record`]s, per flow: the TCP 2570
//! status stream, UDP 11541 heartbeats, TCP 8652 SMS requests, or a bare
//! byte stream (raw/hex input: read as status records).

use std::io::Write;
use std::net::SocketAddr;
use std::time::SystemTime;

use rewire_host::FastHashMap as HashMap;
use rewire_cli::decode::{DecodeArgs, open_input};
use rewire_host::json;
use rewire_host::output::Sink;
use rewire_transport::capture::{CaptureEvent, Endpoints, StreamId, Transport};
use rewire_transport::framing::{Framer, Upsilon};
use rewire_upsilon::{parse_heartbeat, parse_sms_alert, sms};

use crate::monitor::status_event;
use crate::record::{Body, ErrorRecord, HeartbeatRecord, Record, SmsRecord};

/// UDP flows whose address text is remembered; beyond it the cache starts over.
const MAX_CACHED_FLOWS: usize = 4096;

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

/// Decodes one datagram as a heartbeat (or an `error` record).
pub fn heartbeat(bytes: &[u8]) -> Body {
    match parse_heartbeat(bytes) {
        Ok(hb) => Body::Heartbeat(HeartbeatRecord::new(hb, bytes)),
        Err(e) => Body::Error(ErrorRecord::new(
            0,
            bytes.len() as u64,
            e.to_string(),
            bytes,
        )),
    }
}

/// Decodes one byte stream (one direction of one flow), incrementally.
pub struct StreamDecoder {
    proto: Proto,
    framer: Framer<Upsilon>,
    sms: Vec<u8>,
    sms_offset: u64,
    /// The stream's addresses as records print them, formatted once.
    src_text: Option<String>,
    dst_text: Option<String>,
    last_ts: Option<SystemTime>,
}

impl StreamDecoder {
    /// Creates a decoder for a stream of `proto` between `src` and `dst`.
    pub fn new(proto: Proto, src: Option<SocketAddr>, dst: Option<SocketAddr>) -> Self {
        StreamDecoder {
            proto,
            framer: Framer::new(Upsilon::default()),
            sms: Vec::new(),
            sms_offset: 0,
            src_text: src.as_ref().map(rewire_host::json::socket_addr),
            dst_text: dst.as_ref().map(rewire_host::json::socket_addr),
            last_ts: None,
        }
    }

    /// Sets the addresses, as `Record::between(self.src, self.dst)` would.
    fn addressed(&self, mut r: Record) -> Record {
        r.src_addr.clone_from(&self.src_text);
        r.dst_addr.clone_from(&self.dst_text);
        r
    }

    fn stamp(&self, body: Body, ts: Option<SystemTime>) -> Record {
        let r = self.addressed(Record::bare(body));
        match ts {
            Some(t) => r.at(t),
            None => r,
        }
    }

    fn stamped(&self, mut r: Record, ts: Option<SystemTime>) -> Record {
        if ts.is_none() {
            r.ts = None;
        }
        self.addressed(r)
    }

    /// Feeds the next bytes (seen at `ts`); returns the records completed.
    pub fn push(&mut self, bytes: &[u8], ts: Option<SystemTime>) -> Vec<Record> {
        let mut out = Vec::new();
        self.last_ts = ts.or(self.last_ts);
        match self.proto {
            Proto::Status | Proto::Heartbeat => {
                let _ = self.framer.push(bytes);
                self.drain(ts, &mut out);
            }
            Proto::Sms => {
                self.sms.extend_from_slice(bytes);
                self.drain_sms(ts, false, &mut out);
            }
        }
        out
    }

    /// Feeds the next bytes as [`StreamDecoder::push`] does, taking them by
    /// value so that the framer can keep them without a copy.
    pub fn push_owned(&mut self, bytes: Vec<u8>, ts: Option<SystemTime>) -> Vec<Record> {
        match self.proto {
            Proto::Status | Proto::Heartbeat => {
                let mut out = Vec::new();
                self.last_ts = ts.or(self.last_ts);
                let _ = self.framer.push_owned(bytes);
                self.drain(ts, &mut out);
                out
            }
            Proto::Sms => self.push(&bytes, ts),
        }
    }

    /// Ends the stream; returns what was still pending (a last record
    /// without terminator, or an `error` for a truncated request).
    pub fn finish(&mut self, ts: Option<SystemTime>) -> Vec<Record> {
        let ts = ts.or(self.last_ts);
        let mut out = Vec::new();
        match self.proto {
            Proto::Status | Proto::Heartbeat => {
                self.framer.finish();
                self.drain(ts, &mut out);
            }
            Proto::Sms => self.drain_sms(ts, true, &mut out),
        }
        out
    }

    fn drain(&mut self, ts: Option<SystemTime>, out: &mut Vec<Record>) {
        while let Some(ev) = self.framer.next() {
            let r = status_event(ev, ts.unwrap_or(SystemTime::UNIX_EPOCH));
            out.push(self.stamped(r, ts));
        }
    }

    fn drain_sms(&mut self, ts: Option<SystemTime>, at_end: bool, out: &mut Vec<Record>) {
        loop {
            if self.sms.is_empty() {
                return;
            }
            match parse_sms_alert(&self.sms) {
                Ok(sms::Status::Complete(n, alert)) => {
                    let body = Body::SmsAlert(SmsRecord::from_alert(&alert));
                    out.push(self.stamp(body, ts));
                    self.sms.drain(..n.min(self.sms.len()));
                    self.sms_offset += n as u64;
                }
                Ok(sms::Status::Partial) if !at_end => return,
                Ok(sms::Status::Partial) => {
                    let body = Body::Error(ErrorRecord::new(
                        self.sms_offset,
                        self.sms.len() as u64,
                        "truncated SMS request at end of stream",
                        &self.sms,
                    ));
                    out.push(self.stamp(body, ts));
                    self.sms.clear();
                    return;
                }
                Err(e) => {
                    // Resynchronise at the next "GET " after the bad start.
                    let skip = self
                        .sms
                        .windows(4)
                        .skip(1)
                        .position(|w| w == b"GET ")
                        .map_or(self.sms.len(), |p| p + 1);
                    let bad = self.sms.get(..skip).unwrap_or_default();
                    let body = Body::Error(ErrorRecord::new(
                        self.sms_offset,
                        skip as u64,
                        e.to_string(),
                        bad,
                    ));
                    out.push(self.stamp(body, ts));
                    self.sms.drain(..skip);
                    self.sms_offset += skip as u64;
                }
            }
        }
    }
}

/// Decodes the input `args` names into `sink`: TCP 2570 as status records,
/// UDP 11541 as heartbeats, TCP 8652 (client to server) as SMS alerts, and
/// hex dumps or raw bytes as a status stream. The gateway's HTTP answers on
/// 8652 are not UPSilon records and are left out.
///
/// # Errors
/// When the input cannot be opened or read or is not the format asked for
/// (naming it), or when writing fails.
pub fn run<W: Write>(args: &DecodeArgs, sink: &mut Sink<W>) -> anyhow::Result<()> {
    let input = open_input(args, &[STATUS_PORT, HEARTBEAT_PORT, SMS_PORT], false)?;
    let ports = Ports::from_args(&args.ports);
    let mut streams: HashMap<StreamId, Option<StreamDecoder>> = HashMap::default();
    let mut udp_addrs: HashMap<StreamId, (Endpoints, String, String)> = HashMap::default();
    let mut result = Ok(());
    for event in input {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        match event {
            CaptureEvent::Chunk(chunk) => {
                let (src, dst) = match chunk.endpoints {
                    Some(e) => (Some(e.src), Some(e.dst)),
                    None => (None, None),
                };
                if let Some(e) = chunk.endpoints
                    && e.transport == Transport::Udp
                {
                    if ports.udp(e.src.port(), e.dst.port()) {
                        // The flow's address text, formatted once per flow.
                        if !udp_addrs
                            .get(&chunk.stream)
                            .is_some_and(|(k, _, _)| *k == e)
                        {
                            if udp_addrs.len() >= MAX_CACHED_FLOWS {
                                udp_addrs.clear();
                            }
                            let text = (json::socket_addr(&e.src), json::socket_addr(&e.dst));
                            udp_addrs.insert(chunk.stream, (e, text.0, text.1));
                        }
                        let mut r = Record::bare(heartbeat(&chunk.bytes));
                        match udp_addrs.get(&chunk.stream) {
                            Some((_, s, d)) => {
                                r.src_addr = Some(s.clone());
                                r.dst_addr = Some(d.clone());
                            }
                            None => r = r.between(src, dst),
                        }
                        if let Some(t) = chunk.timestamp {
                            r = r.at(t);
                        }
                        sink.emit_record(&r)?;
                    }
                    continue;
                }
                let decoder = streams.entry(chunk.stream).or_insert_with(|| {
                    let proto = match chunk.endpoints {
                        Some(e) => match ports.tcp(e.src.port(), e.dst.port()) {
                            // Only requests are SMS records; the gateway's
                            // answers are not decoded.
                            Some((Proto::Sms, false)) => return None,
                            Some((proto, _)) => proto,
                            None => Proto::Status,
                        },
                        None => Proto::Status,
                    };
                    Some(StreamDecoder::new(proto, src, dst))
                });
                if let Some(d) = decoder {
                    for r in d.push_owned(chunk.bytes, chunk.timestamp) {
                        sink.emit_record(&r)?;
                    }
                }
            }
            CaptureEvent::Gap(gap) => {
                if let Some(Some(d)) = streams.get_mut(&gap.stream) {
                    for r in d.finish(gap.timestamp) {
                        sink.emit_record(&r)?;
                    }
                    let mut r = d.stamp(
                        Body::Error(ErrorRecord::new(
                            0,
                            gap.missing_bytes,
                            format!("gap: {} bytes never captured", gap.missing_bytes),
                            &[],
                        )),
                        gap.timestamp,
                    );
                    if gap.timestamp.is_none() {
                        r.ts = None;
                    }
                    sink.emit_record(&r)?;
                }
            }
            CaptureEvent::End(end) => {
                if let Some(Some(mut d)) = streams.remove(&end.stream) {
                    for r in d.finish(None) {
                        sink.emit_record(&r)?;
                    }
                }
            }
        }
    }
    let mut rest: Vec<(StreamId, Option<StreamDecoder>)> = streams.into_iter().collect();
    rest.sort_by_key(|(id, _)| *id);
    for (_, d) in rest {
        if let Some(mut d) = d {
            for r in d.finish(None) {
                sink.emit_record(&r)?;
            }
        }
    }
    sink.flush()?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_stream_split_anywhere_gives_the_same_records() {
        let stream = b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r\0junk(000.0 000.0 238.7 007 50.1 27.4 --.- 10001000\r(230.0";
        let whole: Vec<String> = {
            let mut d = StreamDecoder::new(Proto::Status, None, None);
            let mut v = d.push(stream, None);
            v.extend(d.finish(None));
            v.iter().map(Record::to_json).collect()
        };
        assert_eq!(whole.len(), 4, "{whole:?}");
        assert!(whole[1].starts_with("{\"kind\":\"error\""));
        assert!(whole[3].starts_with("{\"kind\":\"error\""));
        for cut in 1..stream.len() {
            let mut d = StreamDecoder::new(Proto::Status, None, None);
            let mut v = d.push(&stream[..cut], None);
            v.extend(d.push(&stream[cut..], None));
            v.extend(d.finish(None));
            let kinds: Vec<&str> = v.iter().map(|r| r.body.kind()).collect();
            let want: Vec<&str> = whole
                .iter()
                .map(|j| {
                    if j.contains("\"status\"") {
                        "status"
                    } else {
                        "error"
                    }
                })
                .collect();
            assert_eq!(kinds, want, "cut at {cut}");
        }
    }

    #[test]
    fn sms_stream_resyncs_and_flags_truncation() {
        let req = crate::sim::sms_request("1", "PC", "hello", "1");
        let stream = format!("XX{req}{}", &req[..30]);
        let mut d = StreamDecoder::new(Proto::Sms, None, None);
        let mut v = d.push(stream.as_bytes(), None);
        v.extend(d.finish(None));
        let kinds: Vec<&str> = v.iter().map(|r| r.body.kind()).collect();
        assert_eq!(kinds, ["error", "sms_alert", "error"]);
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
