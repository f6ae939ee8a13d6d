//! Streaming capture readers: pcap/pcapng with TCP reassembly, text hex
//! dumps, raw binary files and the WebSentry exporter's JSON raw log.
//!
//! # The chunk model
//!
//! Every reader turns its input into the same stream of [`CaptureEvent`]s, so
//! a decoder can feed any input into the per-protocol framers the same way:
//!
//! ```text
//!  pcap/pcapng ─┐                          ┌─ Chunk { stream, timestamp?, direction?, endpoints?, bytes }
//!  hex dump    ─┼─► Iterator<Item = Result<├─ Gap   { stream, missing_bytes, .. }
//!  raw file    ─┤        CaptureEvent>>    └─ End   { stream, reason }
//!  raw log     ─┘
//! ```
//!
//! - A **stream** ([`StreamId`]) is one contiguous byte stream: one direction
//!   of one TCP connection, one UDP flow, one direction of a hex dump or raw
//!   log session, or the whole raw file. Keep one framer per stream id.
//! - A [`Chunk`] carries the next bytes of its stream, in order. What is known
//!   about them travels along and is `None` when the input does not say:
//!   `timestamp` (capture time; raw log: the session start), `direction`
//!   (client→server or back; pcap: relative to the filtered ports; hex dumps:
//!   `TX`/`>` is client→server), `endpoints` (addresses and transport, pcap
//!   only).
//! - A [`Gap`] says bytes of the stream were never captured (a lost segment,
//!   an overfull reassembly buffer). A framer should drop any partial message
//!   it holds and resynchronise.
//! - [`StreamEnd`] says a stream is over (FIN, RST, eviction, end of input):
//!   drop its framer.
//! - UDP datagrams arrive one per chunk: each chunk is one whole datagram
//!   ([`Transport::Udp`] in the endpoints).
//!
//! Readers are iterators that pull a bounded amount of input per call; none
//! reads a whole file first. After an `Err` the reader is finished and
//! returns `None`.
//!
//! Use [`InputFormat::detect`] on the first bytes of a file to pick a reader
//! (the CLI's `--input auto`) and [`open`] to open one.

mod error;
mod hexdump;
mod link;
mod pcap;
pub mod pcap_out;
mod raw;
mod rawlog;
mod tcp;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

pub use error::{CaptureError, CaptureErrorKind, Location};

/// The resolution capture timestamps are kept to: 100 ns, the finest a
/// `SystemTime` holds on Windows (Unix holds 1 ns). Truncating there on
/// every platform makes a decode's output the same on all of them; an `f64`
/// of seconds, the `ts` of records, resolves about 240 ns in this century
/// anyway.
pub const TIMESTAMP_RESOLUTION_NANOS: u32 = 100;

/// Returns the instant `since_epoch` after the Unix epoch, truncated to
/// [`TIMESTAMP_RESOLUTION_NANOS`]; `None` when a `SystemTime` cannot hold it.
#[must_use]
pub fn timestamp(since_epoch: std::time::Duration) -> Option<SystemTime> {
    let nanos = since_epoch.subsec_nanos();
    let kept = std::time::Duration::new(
        since_epoch.as_secs(),
        nanos - nanos % TIMESTAMP_RESOLUTION_NANOS,
    );
    std::time::UNIX_EPOCH.checked_add(kept)
}
pub use hexdump::{HexDumpReader, MAX_HEX_CHUNK, MAX_HEX_LINE, looks_like_hex_text};
pub use pcap::{CaptureStats, PacketCaptureReader};
pub use raw::{DEFAULT_RAW_CHUNK, RawFileReader};
pub use rawlog::{
    MAX_RAW_LOG_SESSION_BYTES, RawLogEvents, RawLogFrame, RawLogReader, RawLogSession, RawLogTime,
    append_raw_log_session, write_raw_log_session,
};

/// Identifies one contiguous byte stream within an input (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u64);

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (the side that connects / the master) to the server.
    ClientToServer,
    /// From the server (the device, the listening side) to the client.
    ServerToClient,
}

/// The transport protocol a captured piece travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A TCP byte stream, reassembled.
    Tcp,
    /// A UDP datagram.
    Udp,
}

/// Source and destination of a captured piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoints {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// TCP or UDP.
    pub transport: Transport,
}

/// The next bytes of one stream, with what the input says about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The stream these bytes continue.
    pub stream: StreamId,
    /// When the bytes were captured, if the input records it.
    pub timestamp: Option<SystemTime>,
    /// Which way they travelled, if known.
    pub direction: Option<Direction>,
    /// Addresses and transport, for network captures.
    pub endpoints: Option<Endpoints>,
    /// The bytes, in stream order.
    pub bytes: Vec<u8>,
}

/// Bytes of a stream that were never captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The stream with the hole.
    pub stream: StreamId,
    /// How many bytes are missing (from TCP sequence numbers).
    pub missing_bytes: u64,
    /// Timestamp of the packet that made the hole visible, if known.
    pub timestamp: Option<SystemTime>,
    /// Direction of the stream, if known.
    pub direction: Option<Direction>,
    /// Endpoints of the stream, if known.
    pub endpoints: Option<Endpoints>,
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The sender closed its side (TCP FIN).
    Fin,
    /// The connection was reset (TCP RST).
    Reset,
    /// A new connection (SYN) reused the same addresses and ports.
    Reused,
    /// Dropped to stay within the bound on tracked connections.
    Evicted,
    /// The input ended (also: a raw-log session ended).
    EndOfInput,
}

/// A stream is over; its framer can be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    /// The stream that ended.
    pub stream: StreamId,
    /// Why it ended.
    pub reason: EndReason,
}

/// One item delivered by a capture reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEvent {
    /// The next bytes of a stream.
    Chunk(Chunk),
    /// Bytes of a stream are missing.
    Gap(Gap),
    /// A stream is over.
    End(StreamEnd),
}

impl CaptureEvent {
    /// Returns the stream the event is about.
    pub fn stream(&self) -> StreamId {
        match self {
            Self::Chunk(c) => c.stream,
            Self::Gap(g) => g.stream,
            Self::End(e) => e.stream,
        }
    }

    /// Returns the chunk, if this event is one.
    pub fn as_chunk(&self) -> Option<&Chunk> {
        match self {
            Self::Chunk(c) => Some(c),
            _ => None,
        }
    }
}

/// Settings of the packet capture reader.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaptureOptions {
    /// Ports to keep (either side). Empty keeps every TCP and UDP packet.
    pub ports: BTreeSet<u16>,
    /// Most TCP connections tracked at once; the least recently active one
    /// is evicted (its stream ends with [`EndReason::Evicted`]) beyond it.
    pub max_connections: usize,
    /// Most out-of-order bytes buffered per TCP direction; beyond it the
    /// hole is given up and reported as a [`Gap`].
    pub max_out_of_order_bytes: usize,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            ports: BTreeSet::new(),
            max_connections: 1024,
            max_out_of_order_bytes: 1 << 20,
        }
    }
}

impl CaptureOptions {
    /// Returns options that keep only packets to or from `ports`.
    pub fn with_ports(ports: impl IntoIterator<Item = u16>) -> Self {
        Self {
            ports: ports.into_iter().collect(),
            ..Self::default()
        }
    }
}

/// The input formats the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Classic libpcap file (any byte order, micro- or nanosecond stamps).
    Pcap,
    /// pcapng file.
    PcapNg,
    /// Text hex dump as serial monitors, `hexdump -C` or `xxd` write it.
    HexText,
    /// The WebSentry exporter's JSON raw log (`--raw-log`).
    RawLog,
    /// Anything else: raw bytes of one stream.
    Binary,
}

/// Identifies pcap or pcapng by the magic number in the first bytes.
///
/// Returns `None` when `prefix` starts with neither (or is shorter than 4
/// bytes).
pub fn sniff_capture_format(prefix: &[u8]) -> Option<InputFormat> {
    let magic: [u8; 4] = prefix.get(..4)?.try_into().ok()?;
    match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => Some(InputFormat::Pcap),
        0x0a0d_0d0a => Some(InputFormat::PcapNg),
        _ => None,
    }
}

/// Returns whether `prefix` looks like the start of a WebSentry JSON raw log:
/// optional whitespace, `{`, and a `"Start"` key early on.
pub fn looks_like_raw_log(prefix: &[u8]) -> bool {
    let trimmed = prefix
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| prefix.get(i..));
    match trimmed {
        Some([b'{', rest @ ..]) => {
            let head = rest.get(..rest.len().min(256)).unwrap_or(rest);
            head.windows(7).any(|w| w == b"\"Start\"")
        }
        _ => false,
    }
}

impl InputFormat {
    /// Picks a format from the first bytes of an input (a few KiB is
    /// plenty): pcap/pcapng by magic, then the JSON raw log, then hex text,
    /// else raw binary.
    pub fn detect(prefix: &[u8]) -> Self {
        if let Some(format) = sniff_capture_format(prefix) {
            format
        } else if looks_like_raw_log(prefix) {
            Self::RawLog
        } else if looks_like_hex_text(prefix) {
            Self::HexText
        } else {
            Self::Binary
        }
    }
}

/// Any of the readers, behind one iterator.
#[derive(Debug)]
#[non_exhaustive]
pub enum CaptureReader<R: Read> {
    /// pcap or pcapng.
    Packets(Box<PacketCaptureReader<R>>),
    /// Text hex dump.
    Hex(HexDumpReader<BufReader<R>>),
    /// WebSentry JSON raw log.
    RawLog(RawLogEvents<R>),
    /// Raw bytes.
    Raw(RawFileReader<R>),
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<CaptureEvent, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Packets(r) => r.next(),
            Self::Hex(r) => r.next(),
            Self::RawLog(r) => r.next(),
            Self::Raw(r) => r.next(),
        }
    }
}

/// Opens `path` as `format` (use [`InputFormat::detect`] for "auto").
///
/// `options` apply to pcap/pcapng only.
///
/// # Errors
///
/// Returns a [`CaptureError`] naming `path` when the file cannot be opened or
/// its header is invalid (wrong magic, truncated, unsupported link type).
pub fn open(
    path: &Path,
    format: InputFormat,
    options: &CaptureOptions,
) -> Result<CaptureReader<File>, CaptureError> {
    let file = File::open(path).map_err(|e| CaptureError::io(e).with_path(Some(path)))?;
    Ok(match format {
        InputFormat::Pcap | InputFormat::PcapNg => CaptureReader::Packets(Box::new(
            PacketCaptureReader::new(file, options.clone())
                .map_err(|e| e.with_path(Some(path)))?
                .with_path(path),
        )),
        InputFormat::HexText => {
            CaptureReader::Hex(HexDumpReader::new(BufReader::new(file)).with_path(path))
        }
        InputFormat::RawLog => {
            CaptureReader::RawLog(RawLogReader::new(file).with_path(path).events())
        }
        InputFormat::Binary => CaptureReader::Raw(RawFileReader::new(file).with_path(path)),
    })
}

/// Reads up to `limit` bytes from the start of `path`, for [`InputFormat::detect`].
///
/// # Errors
///
/// Returns an I/O [`CaptureError`] naming `path`.
pub fn read_prefix(path: &Path, limit: usize) -> Result<Vec<u8>, CaptureError> {
    let file = File::open(path).map_err(|e| CaptureError::io(e).with_path(Some(path)))?;
    let mut buf = Vec::with_capacity(limit.min(1 << 16));
    file.take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut buf)
        .map_err(|e| CaptureError::io(e).with_path(Some(path)))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_kept_to_100_ns_on_every_platform() {
        let t = timestamp(Duration::new(1_795_252_567, 284_084_849)).unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap(),
            Duration::new(1_795_252_567, 284_084_800)
        );
        let exact = Duration::new(7, 100);
        assert_eq!(timestamp(exact).unwrap(), UNIX_EPOCH + exact);
    }
}
