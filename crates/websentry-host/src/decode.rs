//! Decoding captures, raw logs, hex dumps and raw bytes into records:
//! [`Decoder`] turns the items of [`rewire_host::stream::Streams`] into
//! [`Record`]s, pairing each query answer with its query, and [`run`]
//! drives it over any source of capture events.
//!
//! Memory stays flat in the number of connections: a connection's pending
//! queries are dropped when its streams end, and the table is bounded
//! ([`MAX_CONNECTIONS`]) for captures whose streams never end.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::net::SocketAddr;

use rewire_host::FastHashMap as HashMap;
use rewire_host::output::Sink;
use rewire_host::stream::{Meta, StreamItem, Streams};
use rewire_transport::capture::{self, CaptureEvent, Endpoints, StreamId};
use rewire_transport::framing::{Event, Framer, WebSentry};
use rewire_websentry::{Frame, FunctionCode};

use crate::frame::{DecodedFrame, Sender};
use crate::message::{Message, device_of};
use crate::record::{ErrorRecord, FrameRecord, Origin, PropertyRecord, Record, decode_frame};

/// The protocol's TCP port, kept from captures unless `--port` says otherwise.
pub const DEFAULT_PORT: u16 = 1030;

/// Unanswered queries kept per connection.
const MAX_PENDING_QUERIES: usize = 64;

/// Connections whose unanswered queries are kept at once; beyond it the
/// table starts over (their streams never ended in the input).
pub const MAX_CONNECTIONS: usize = 4096;

/// Which TCP connection a stream belongs to, so that a unit's query answer
/// is paired with the server query before it on the same connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    /// Network captures: the two endpoints, in a fixed order.
    Endpoints(SocketAddr, SocketAddr),
    /// Raw logs: one session (its two streams are `2n` and `2n + 1`).
    Session(u64),
    /// Hex dumps and raw bytes: one conversation.
    Whole,
}

impl Hash for Connection {
    /// Two IPv4 endpoints (the usual case) are hashed as one 96-bit number
    /// rather than field by field: this runs for every query and answer.
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Endpoints(SocketAddr::V4(a), SocketAddr::V4(b)) => state.write_u128(
                (u128::from(a.ip().to_bits()) << 64)
                    | (u128::from(a.port()) << 48)
                    | (u128::from(b.ip().to_bits()) << 16)
                    | u128::from(b.port()),
            ),
            Self::Endpoints(a, b) => {
                state.write_u8(1);
                a.hash(state);
                b.hash(state);
            }
            Self::Session(n) => {
                state.write_u8(2);
                n.hash(state);
            }
            Self::Whole => state.write_u8(3),
        }
    }
}

fn connection(meta: &Meta, format: capture::InputFormat) -> Connection {
    match (meta.endpoints, format) {
        (Some(e), _) => {
            // Ordered by address, not by their text: either order names the
            // pair once, and no address is formatted per message.
            let (a, b) = (e.src, e.dst);
            if a <= b {
                Connection::Endpoints(a, b)
            } else {
                Connection::Endpoints(b, a)
            }
        }
        (None, capture::InputFormat::RawLog) => Connection::Session(meta.stream.0 / 2),
        (None, _) => Connection::Whole,
    }
}

fn direction(meta: &Meta) -> Option<Sender> {
    meta.direction.map(|d| match d {
        capture::Direction::ClientToServer => Sender::Client,
        capture::Direction::ServerToClient => Sender::Server,
    })
}

/// Streams whose address text is remembered; beyond it the cache starts over.
const MAX_CACHED_ADDRS: usize = 4096;

/// Turns framed stream items into records, pairing query answers with
/// their queries.
#[derive(Debug)]
pub struct Decoder {
    format: capture::InputFormat,
    /// Unanswered query bodies per connection, oldest first, with how
    /// many of the connection's streams are open.
    queries: HashMap<Connection, Pending>,
    /// The connection of each open stream that carried a query or answer.
    streams: HashMap<StreamId, Connection>,
    /// `src_addr`/`dst_addr` text per stream, so that addresses are not
    /// formatted again for every record (kept with the endpoints they
    /// were made from, and used only while those still match).
    addrs: HashMap<StreamId, (Endpoints, String, String)>,
    /// The record every frame is decoded into by [`Decoder::emit`].
    frame: FrameRecord,
    /// Items of earlier frames, for reuse.
    spare: Vec<PropertyRecord>,
    /// Buffers of answered queries, for the next queries' bodies.
    spare_queries: Vec<Vec<u8>>,
}

/// A connection's unanswered queries.
#[derive(Debug, Default)]
struct Pending {
    queries: VecDeque<Vec<u8>>,
    open_streams: u8,
}

/// Sets `origin` to the time and addresses of a record of `meta`'s stream,
/// reusing its strings and the address text cached per stream in `addrs`.
fn fill_origin(
    addrs: &mut HashMap<StreamId, (Endpoints, String, String)>,
    meta: &Meta,
    origin: &mut Origin,
) {
    origin.ts = meta.ts();
    let Some(e) = meta.endpoints else {
        origin.src_addr = None;
        origin.dst_addr = None;
        return;
    };
    if !addrs
        .get(&meta.stream)
        .is_some_and(|(known, _, _)| *known == e)
    {
        if addrs.len() >= MAX_CACHED_ADDRS {
            addrs.clear();
        }
        let text = (
            rewire_host::json::socket_addr(&e.src),
            rewire_host::json::socket_addr(&e.dst),
        );
        addrs.insert(meta.stream, (e, text.0, text.1));
    }
    match addrs.get(&meta.stream) {
        Some((_, src, dst)) => {
            set_text(&mut origin.src_addr, src);
            set_text(&mut origin.dst_addr, dst);
        }
        None => {
            origin.src_addr = meta.src_addr();
            origin.dst_addr = meta.dst_addr();
        }
    }
}

/// Sets `slot` to `text`, reusing the string it holds.
fn set_text(slot: &mut Option<String>, text: &str) {
    match slot {
        Some(s) => {
            s.clear();
            s.push_str(text);
        }
        None => *slot = Some(text.to_owned()),
    }
}

impl Decoder {
    /// Creates a decoder for input of `format`.
    #[must_use]
    pub fn new(format: capture::InputFormat) -> Self {
        Self {
            format,
            queries: HashMap::default(),
            streams: HashMap::default(),
            addrs: HashMap::default(),
            frame: decode_frame(&[], None, None, Origin::default()),
            spare: Vec::new(),
            spare_queries: Vec::new(),
        }
    }

    /// Returns the time and addresses of a record of `meta`'s stream.
    fn origin(&mut self, meta: &Meta) -> Origin {
        let mut origin = Origin::default();
        fill_origin(&mut self.addrs, meta, &mut origin);
        origin
    }

    /// Returns how many connections have pending-query state now (flat in
    /// the number of connections the input had: at most
    /// [`MAX_CONNECTIONS`]).
    #[must_use]
    pub fn pending_connections(&self) -> usize {
        self.queries.len()
    }

    /// Returns the pending-query state of `meta`'s connection, creating it
    /// (and noting the stream as one of the connection's open streams).
    fn pending(&mut self, meta: &Meta) -> &mut Pending {
        let conn = connection(meta, self.format);
        if !self.queries.contains_key(&conn) && self.queries.len() >= MAX_CONNECTIONS {
            // So many connections whose streams never ended: start over
            // (amortised, unlike evicting one at a time), so memory stays
            // bounded; only answers to queries asked before now go unpaired.
            self.queries.clear();
            self.streams.clear();
        }
        let pending = self.queries.entry(conn).or_default();
        if let std::collections::hash_map::Entry::Vacant(slot) = self.streams.entry(meta.stream) {
            slot.insert(conn);
            pending.open_streams = pending.open_streams.saturating_add(1);
        }
        pending
    }

    /// Forgets what was kept for `stream`, which ended: its address text,
    /// and its connection's pending queries once all its streams ended.
    pub fn end_stream(&mut self, stream: StreamId) {
        self.addrs.remove(&stream);
        let Some(conn) = self.streams.remove(&stream) else {
            return;
        };
        if let Some(pending) = self.queries.get_mut(&conn) {
            pending.open_streams = pending.open_streams.saturating_sub(1);
            if pending.open_streams == 0 {
                self.queries.remove(&conn);
            }
        }
    }

    /// Pairs a query answer with its query (see [`Decoder::record`]);
    /// returns the query's body for an answer.
    fn pair(&mut self, meta: &Meta, dir: Option<Sender>, bytes: &[u8]) -> Option<Vec<u8>> {
        let frame = Frame::new_checked(bytes).ok();
        match (dir, frame.as_ref().map(Frame::function)) {
            (Some(Sender::Server), Some(FunctionCode::QUERY)) => {
                let mut body = self.spare_queries.pop().unwrap_or_default();
                body.clear();
                // The body the length field gives (a raw-log frame may have more).
                body.extend_from_slice(frame.as_ref().map_or(&[][..], Frame::body));
                let pending = &mut self.pending(meta).queries;
                // A unit that never answers must not grow this without bound.
                if pending.len() >= MAX_PENDING_QUERIES {
                    pending.pop_front();
                }
                pending.push_back(body);
                None
            }
            // An answer is paired with the oldest unanswered query on
            // its connection (the one just before it when the server
            // waits for each answer, as captured).
            (Some(Sender::Client), Some(FunctionCode::QUERY)) => {
                self.pending(meta).queries.pop_front()
            }
            _ => None,
        }
    }

    /// Writes the record for one stream item to `sink`, if it makes one:
    /// what [`Decoder::record`] returns, but frames are decoded into one
    /// reused record, so their strings and items are not allocated anew.
    ///
    /// # Errors
    /// Returns the sink's I/O error.
    pub fn emit<W: Write>(
        &mut self,
        meta: &Meta,
        item: StreamItem<'_>,
        sink: &mut Sink<W>,
    ) -> std::io::Result<()> {
        match item {
            StreamItem::Framed(Event::Message(m)) => {
                let dir = direction(meta);
                let query = self.pair(meta, dir, &m.bytes);
                fill_origin(&mut self.addrs, meta, &mut self.frame.origin);
                if sink.format() == rewire_host::output::Format::Text {
                    self.frame
                        .decode_for_text(&m.bytes, dir, query.as_deref(), &mut self.spare);
                } else {
                    self.frame
                        .decode(&m.bytes, dir, query.as_deref(), &mut self.spare);
                }
                if let Some(body) = query
                    && self.spare_queries.len() < MAX_PENDING_QUERIES
                {
                    self.spare_queries.push(body);
                }
                sink.emit_record(&self.frame)
            }
            other => match self.record(meta, other) {
                Some(record) => sink.emit_record(&record),
                None => Ok(()),
            },
        }
    }

    /// Sets the time and addresses of an error record of `meta`'s stream.
    fn error(&mut self, meta: &Meta, record: ErrorRecord) -> ErrorRecord {
        let origin = self.origin(meta);
        record
            .at(origin.ts)
            .between(origin.src_addr, origin.dst_addr)
    }

    /// Returns the record for one stream item, if it makes one.
    pub fn record(&mut self, meta: &Meta, item: StreamItem<'_>) -> Option<Record> {
        let dir = direction(meta);
        match item {
            StreamItem::Framed(Event::Message(m)) => {
                let query = self.pair(meta, dir, &m.bytes);
                Some(Record::Frame(decode_frame(
                    &m.bytes,
                    dir,
                    query.as_deref(),
                    self.origin(meta),
                )))
            }
            StreamItem::Framed(Event::Skipped(s)) => Some(Record::Error(self.error(
                meta,
                ErrorRecord::new(s.offset, s.len, s.reason.to_string(), &s.head),
            ))),
            StreamItem::Gap {
                offset,
                missing_bytes,
            } => Some(Record::Error(
                self.error(meta, ErrorRecord::new(offset, missing_bytes, "gap", &[])),
            )),
            // The framer reports the discarded run again as a Skipped event.
            StreamItem::Overflow(_) => None,
        }
    }
}

/// One step of [`drive`]: an item of a stream, or the end of one capture
/// event (when output may be flushed).
enum Step<'m, 'i> {
    Item(&'m Meta, StreamItem<'i>),
    EventDone,
}

/// The decode loop every output shares: capture `events` through one framer
/// per stream (a raw log's frames each on their own), the decoder's
/// per-connection state dropped as streams end.
fn drive<E>(
    events: impl IntoIterator<Item = Result<CaptureEvent, E>>,
    format: capture::InputFormat,
    decoder: &mut Decoder,
    mut step: impl FnMut(&mut Decoder, Step<'_, '_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut streams = Streams::new(|| Framer::new(WebSentry));
    let mut result = Ok(());
    // A raw log keeps each frame apart: each is decoded on its own, in the
    // log's order, and a length field that disagrees with its frame is
    // reported on that frame instead of shifting the frames after it.
    let whole_frames = format == capture::InputFormat::RawLog;
    for event in events {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let ended = match &event {
            CaptureEvent::End(end) => Some(end.stream),
            _ => None,
        };
        match event {
            CaptureEvent::Chunk(chunk) if whole_frames => {
                let meta = Meta {
                    stream: chunk.stream,
                    timestamp: chunk.timestamp,
                    direction: chunk.direction,
                    endpoints: chunk.endpoints,
                };
                let message = rewire_transport::framing::Message {
                    offset: 0,
                    bytes: chunk.bytes.into(),
                };
                step(
                    decoder,
                    Step::Item(&meta, StreamItem::Framed(Event::Message(message))),
                )?;
            }
            event => streams.handle(event, |meta: &Meta, item: StreamItem<'_>| {
                step(decoder, Step::Item(meta, item))
            })?,
        }
        if let Some(stream) = ended {
            decoder.end_stream(stream);
        }
        step(decoder, Step::EventDone)?;
    }
    streams.finish(|meta: &Meta, item: StreamItem<'_>| step(decoder, Step::Item(meta, item)))?;
    result
}

/// Decodes capture `events` of an input of `format` into `sink`, one
/// framer per stream; `flush_each` writes every record out at once (for a
/// live pipe), else they are flushed at the end.
///
/// # Errors
/// The first error of `events` (after what came before it was written), or
/// the sink's I/O error.
pub fn run<W: Write, E: From<std::io::Error>>(
    events: impl IntoIterator<Item = Result<CaptureEvent, E>>,
    format: capture::InputFormat,
    sink: &mut Sink<W>,
    flush_each: bool,
) -> Result<(), E> {
    let mut decoder = Decoder::new(format);
    let mut flushed = 0;
    drive(events, format, &mut decoder, |decoder, step| {
        match step {
            Step::Item(meta, item) => decoder.emit(meta, item, sink)?,
            Step::EventDone if flush_each && sink.written() != flushed => {
                sink.flush()?;
                flushed = sink.written();
            }
            Step::EventDone => {}
        }
        Ok(())
    })?;
    sink.flush()?;
    Ok(())
}

/// Decodes capture `events` of an input of `format` into typed messages
/// (every frame as a [`Message::Frame`], answers paired with their
/// queries), for outputs that want readings rather than records (plots).
///
/// # Errors
/// The first error of `events`, or of `out`.
pub fn messages<E>(
    events: impl IntoIterator<Item = Result<CaptureEvent, E>>,
    format: capture::InputFormat,
    mut out: impl FnMut(Message) -> Result<(), E>,
) -> Result<(), E> {
    let mut decoder = Decoder::new(format);
    drive(events, format, &mut decoder, |decoder, step| {
        if let Step::Item(meta, StreamItem::Framed(Event::Message(m))) = step {
            let dir = direction(meta);
            let query = decoder.pair(meta, dir, &m.bytes);
            let frame = DecodedFrame::decode(m.bytes, dir, query.as_deref());
            let peer = meta
                .endpoints
                .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |e| {
                    if dir == Some(Sender::Client) {
                        e.src
                    } else {
                        e.dst
                    }
                });
            out(Message::Frame {
                device: device_of(peer),
                peer,
                frame,
                ts: meta.timestamp.unwrap_or(std::time::UNIX_EPOCH),
            })?;
        }
        Ok(())
    })
}

/// Hands every frame of capture `events` of an input of `format` to
/// `each` with its stream's metadata and sender, and nothing else (no
/// records, no pairing): for outputs that read few frames closely, such as
/// the change log.
///
/// # Errors
/// The first error of `events`, or of `each`.
pub fn for_each_frame<E>(
    events: impl IntoIterator<Item = Result<CaptureEvent, E>>,
    format: capture::InputFormat,
    mut each: impl FnMut(&Meta, Option<Sender>, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut decoder = Decoder::new(format);
    drive(events, format, &mut decoder, |_, step| match step {
        Step::Item(meta, StreamItem::Framed(Event::Message(m))) => {
            each(meta, direction(meta), &m.bytes)
        }
        _ => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewire_host::output::Format;
    use rewire_transport::capture::{
        Direction as CaptureDirection, RawLogFrame, RawLogReader, RawLogSession, RawLogTime,
        write_raw_log_session,
    };
    use rewire_websentry::encode_query_request;

    fn query(ids: &[u16]) -> Vec<u8> {
        let mut out = vec![0u8; 8 + ids.len() * 3];
        let n = encode_query_request(ids, &mut out).unwrap();
        out.truncate(n);
        out
    }

    /// A raw log of many short sessions, each with a query the unit never
    /// answers: the pending-query table must not keep one entry per session.
    #[test]
    fn pending_queries_stay_bounded_over_many_short_sessions() {
        const SESSIONS: u64 = 5_000;
        let mut log = Vec::new();
        for i in 0..SESSIONS {
            let session = RawLogSession {
                start: RawLogTime::from_system_time(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + i),
                    0,
                ),
                dur_sec: 0.5,
                frames: vec![
                    RawLogFrame {
                        n: 1,
                        direction: CaptureDirection::ClientToServer,
                        data: crate::simulate::init_frame([0, 1, 2, 3, 4, 5]),
                    },
                    RawLogFrame {
                        n: 2,
                        direction: CaptureDirection::ServerToClient,
                        data: query(&[0x0600, 0x0601]),
                    },
                ],
            };
            write_raw_log_session(&mut log, &session).unwrap();
        }
        let events = RawLogReader::new(std::io::Cursor::new(log)).events();
        let mut decoder = Decoder::new(capture::InputFormat::RawLog);
        let mut streams = Streams::new(|| Framer::new(WebSentry));
        let mut sink = Sink::new(std::io::sink(), Format::Json, false);
        let mut most = 0;
        for event in events {
            let event = event.unwrap();
            let ended = match &event {
                CaptureEvent::End(end) => Some(end.stream),
                _ => None,
            };
            streams
                .handle(event, |meta: &Meta, item: StreamItem<'_>| {
                    decoder.emit(meta, item, &mut sink)
                })
                .unwrap();
            if let Some(stream) = ended {
                decoder.end_stream(stream);
            }
            most = most.max(decoder.pending_connections());
        }
        assert_eq!(sink.written(), 2 * SESSIONS);
        assert!(
            most <= 2,
            "{most} connections' pending queries kept at once"
        );
        assert_eq!(decoder.pending_connections(), 0);
        assert!(decoder.streams.is_empty() && decoder.addrs.is_empty());
    }

    /// Decodes a raw log of one session with `frames` through [`run`] and
    /// returns the NDJSON records.
    /// A frame of exactly `[0x70]` is logged with no bytes at all (`""`), as
    /// the original exporter can log one (rewire's writer refuses to).
    fn decode_raw_log(frames: Vec<(CaptureDirection, Vec<u8>)>) -> Vec<serde_json::Value> {
        let session = RawLogSession {
            start: RawLogTime::from_system_time(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
                0,
            ),
            dur_sec: 0.5,
            frames: frames
                .into_iter()
                .zip(1u8..)
                .map(|((direction, data), n)| RawLogFrame { n, direction, data })
                .collect(),
        };
        let mut log = Vec::new();
        write_raw_log_session(&mut log, &session).unwrap();
        let log = String::from_utf8(log).unwrap().replace("\"cA==\"", "\"\"");
        let mut out = Vec::new();
        {
            let mut sink = Sink::new(&mut out, Format::Json, false);
            let events = RawLogReader::new(std::io::Cursor::new(log))
                .events()
                .map(|e| e.map_err(|e| std::io::Error::other(e.to_string())));
            run(events, capture::InputFormat::RawLog, &mut sink, false).unwrap();
        }
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A frame whose length field disagrees with the logged frame is
    /// reported on that frame; the good answer after it stays good.
    #[test]
    fn a_raw_log_frame_is_decoded_on_its_own() {
        let init = crate::simulate::init_frame([0, 1, 2, 3, 4, 5]);
        let mut long = query(&[0x0600, 0x0601]);
        let long_has = long.len() - 7;
        long[6] += 3; // says 3 bytes more than it has
        let mut short = query(&[0x0600]);
        let short_says = short.len() - 7;
        short.extend_from_slice(&[0xaa; 10]); // 10 bytes after its payload
        let answer = crate::simulate::PropertyTable::new(1)
            .answer(&query(&[0x0600]), std::time::SystemTime::now())
            .unwrap();
        let records = decode_raw_log(vec![
            (CaptureDirection::ClientToServer, init),
            (CaptureDirection::ServerToClient, long),
            (CaptureDirection::ServerToClient, short),
            (CaptureDirection::ClientToServer, answer.clone()),
        ]);
        assert_eq!(records.len(), 4, "{records:#?}");
        assert!(records.iter().all(|r| r["kind"] == "frame"), "{records:#?}");
        let error = |i: usize| records[i]["body_error"].as_str().unwrap_or("").to_owned();
        assert_eq!(error(0), "");
        let says = |declared: usize, has: usize| {
            format!("length field says {declared} payload bytes, the frame has {has}")
        };
        assert!(
            error(1).contains(&says(long_has + 3, long_has)),
            "{}",
            error(1)
        );
        assert!(
            error(2).contains(&says(short_says, short_says + 10)),
            "{}",
            error(2)
        );
        assert_eq!(records[2]["crc_ok"], true);
        assert_eq!(records[3]["crc_ok"], true);
        assert_eq!(error(3), "");
        assert_eq!(records[3]["raw"], hex::encode(&answer));
    }

    /// An empty server frame before an answer is reported where it was.
    #[test]
    fn raw_log_records_keep_the_logs_order() {
        let answer = crate::simulate::PropertyTable::new(1)
            .answer(&query(&[0x0600]), std::time::SystemTime::now())
            .unwrap();
        let records = decode_raw_log(vec![
            (CaptureDirection::ServerToClient, vec![0x70]),
            (CaptureDirection::ClientToServer, answer),
        ]);
        assert_eq!(records.len(), 2, "{records:#?}");
        assert_eq!(records[0]["direction"], "server");
        assert_eq!(records[0]["raw"], "");
        assert_eq!(records[1]["direction"], "client");
        assert_eq!(records[1]["crc_ok"], true);
    }

    /// Streams that never end (a capture cut short) still cannot grow the
    /// table past its bound.
    #[test]
    fn the_table_is_bounded_when_streams_never_end() {
        let mut decoder = Decoder::new(capture::InputFormat::RawLog);
        let mut sink = Sink::new(std::io::sink(), Format::Json, false);
        let q = query(&[0x0600]);
        for i in 0..(3 * MAX_CONNECTIONS as u64) {
            let meta = Meta {
                stream: StreamId(2 * i + 1),
                timestamp: None,
                direction: Some(capture::Direction::ServerToClient),
                endpoints: None,
            };
            let item = StreamItem::Framed(Event::Message(rewire_transport::framing::Message {
                offset: 0,
                bytes: q.clone().into(),
            }));
            decoder.emit(&meta, item, &mut sink).unwrap();
            assert!(decoder.pending_connections() <= MAX_CONNECTIONS);
        }
    }
}
