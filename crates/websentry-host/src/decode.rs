//! `websentry decode`: captures, raw logs, hex dumps and raw bytes into
//! [`Record`]s, through the shared decode driver (`rewire_cli::decode`).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::net::SocketAddr;

use rewire_host::FastHashMap as HashMap;
use rewire_cli::decode::{DecodeArgs, open_input};
use rewire_host::stream::{Meta, StreamItem, Streams};
use rewire_host::output::Sink;
use rewire_transport::capture::{self, Endpoints, StreamId};
use rewire_transport::framing::{Event, Framer, WebSentry};
use rewire_websentry::{Frame, Function};

use crate::record::{
    Direction, ErrorRecord, FrameRecord, Origin, PropertyRecord, Record, decode_frame,
};

/// The protocol's TCP port, kept from captures unless `--port` says otherwise.
pub const DEFAULT_PORT: u16 = 1030;

/// Unanswered queries kept per connection.
const MAX_PENDING_QUERIES: usize = 64;

/// Which TCP connection a stream belongs to, so that a unit's query answer
/// is paired with the server query before it on the same connection.
#[derive(Debug, Clone, PartialEq, Eq)]
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

fn direction(meta: &Meta) -> Option<Direction> {
    meta.direction.map(|d| match d {
        capture::Direction::ClientToServer => Direction::Client,
        capture::Direction::ServerToClient => Direction::Server,
    })
}

/// Streams whose address text is remembered; beyond it the cache starts over.
const MAX_CACHED_ADDRS: usize = 4096;

/// Turns framed stream items into records, pairing query answers with
/// their queries.
#[derive(Debug)]
pub struct Decoder {
    format: capture::InputFormat,
    /// Unanswered query bodies per connection, oldest first.
    queries: HashMap<Connection, VecDeque<Vec<u8>>>,
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

    /// Pairs a query answer with its query (see [`Decoder::record`]);
    /// returns the query's body for an answer.
    fn pair(&mut self, meta: &Meta, dir: Option<Direction>, bytes: &[u8]) -> Option<Vec<u8>> {
        let function = Frame::new_lenient(bytes).ok().map(|f| f.function());
        match (dir, function) {
            (Some(Direction::Server), Some(Function::Query)) => {
                let conn = connection(meta, self.format);
                let mut body = self.spare_queries.pop().unwrap_or_default();
                body.clear();
                body.extend_from_slice(bytes.get(8..).unwrap_or(&[]));
                let pending = self.queries.entry(conn).or_default();
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
            (Some(Direction::Client), Some(Function::Query)) => {
                let conn = connection(meta, self.format);
                self.queries.get_mut(&conn).and_then(VecDeque::pop_front)
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
                self.frame
                    .decode(&m.bytes, dir, query.as_deref(), &mut self.spare);
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
            StreamItem::Framed(Event::Skipped(s)) => Some(Record::Error(ErrorRecord {
                origin: self.origin(meta),
                direction: dir,
                offset: s.offset,
                len: s.len,
                reason: s.reason.to_string(),
                raw: rewire_host::json::hex(&s.head),
            })),
            StreamItem::Gap {
                offset,
                missing_bytes,
            } => Some(Record::Error(ErrorRecord {
                origin: self.origin(meta),
                direction: dir,
                offset,
                len: missing_bytes,
                reason: "gap".into(),
                raw: String::new(),
            })),
            // The framer reports the discarded run again as a Skipped event.
            StreamItem::Overflow(_) => None,
        }
    }
}

/// Decodes the input `args` name into `sink`.
///
/// # Errors
/// When the input cannot be opened or read or is not the format asked for
/// (naming it), or when writing fails.
pub fn run<W: Write>(args: &DecodeArgs, sink: &mut Sink<W>) -> anyhow::Result<()> {
    let input = open_input(args, &[DEFAULT_PORT], true)?;
    let mut decoder = Decoder::new(input.format());
    let mut streams = Streams::new(|| Framer::new(WebSentry));
    let mut emit = |meta: &Meta, item: StreamItem<'_>| -> std::io::Result<()> {
        decoder.emit(meta, item, sink)
    };
    let mut result = Ok(());
    for event in input {
        match event {
            Ok(event) => streams.handle(event, &mut emit)?,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    streams.finish(&mut emit)?;
    sink.flush()?;
    result
}
