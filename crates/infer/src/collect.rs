//! Turning capture events into what inference works on: per service, the
//! byte streams (with the chunk boundaries, times and gaps the input gives)
//! and the datagrams.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use std::path::Path;

use rewire_transport::capture::{
    self, CaptureError, CaptureEvent, CaptureOptions, Chunk, Direction, InputFormat, StreamId,
    Transport,
};

use crate::{Config, Message};

/// Where a piece of a stream began: a TCP segment, a hex-dump chunk, a read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Boundary {
    /// Offset in the stream where the chunk starts.
    pub offset: usize,
    /// Capture time of the chunk (seconds since the Unix epoch), if known.
    pub time: Option<f64>,
    /// Arrival order of the chunk within the whole input.
    pub seq: u64,
}

/// One contiguous byte stream (one TCP direction, one hex-dump direction, a
/// raw file) with what the input says about its pieces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ByteStream {
    /// The bytes, in stream order.
    pub bytes: Vec<u8>,
    /// Which way the bytes travel, if known.
    pub direction: Option<Direction>,
    /// Chunk starts, in order; the first is at offset 0.
    pub boundaries: Vec<Boundary>,
    /// Offsets where captured bytes are missing (a message cannot span one).
    pub gaps: Vec<usize>,
}

impl ByteStream {
    /// Creates a stream of `bytes` with one boundary at its start.
    pub fn new(bytes: Vec<u8>, direction: Option<Direction>) -> Self {
        Self {
            bytes,
            direction,
            boundaries: vec![Boundary {
                offset: 0,
                time: None,
                seq: 0,
            }],
            gaps: Vec::new(),
        }
    }

    /// Returns the boundary (chunk) holding the byte at `offset`.
    pub(crate) fn boundary_at(&self, offset: usize) -> Option<&Boundary> {
        let i = self.boundaries.partition_point(|b| b.offset <= offset);
        self.boundaries.get(i.checked_sub(1)?)
    }
}

/// Everything captured for one service (a TCP or UDP server port, or the
/// whole input when it has no ports).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// A name for reports: `tcp/4001`, `udp/11541`, `input`.
    pub name: String,
    /// Byte streams (TCP directions, hex dump directions, raw files).
    pub streams: Vec<ByteStream>,
    /// Datagrams (UDP), each a whole message.
    pub datagrams: Vec<Message>,
}

/// Collects capture events into [`Group`]s within a memory bound.
#[derive(Debug)]
pub struct Collector {
    groups: BTreeMap<String, Group>,
    streams: BTreeMap<StreamId, (String, usize)>,
    seq: u64,
    bytes: usize,
    max_bytes: usize,
    max_datagrams: usize,
    datagrams: usize,
    dropped_bytes: u64,
}

impl Collector {
    /// Creates a collector bounded by `config` (`max_bytes` of stream data,
    /// `max_messages` datagrams).
    pub fn new(config: &Config) -> Self {
        Self {
            groups: BTreeMap::new(),
            streams: BTreeMap::new(),
            seq: 0,
            bytes: 0,
            max_bytes: config.max_bytes,
            max_datagrams: config.max_messages,
            datagrams: 0,
            dropped_bytes: 0,
        }
    }

    /// Returns how many bytes were not kept because of the memory bound.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped_bytes
    }

    /// Feeds one capture event.
    pub fn push(&mut self, event: CaptureEvent) {
        match event {
            CaptureEvent::Chunk(chunk) => self.chunk(chunk),
            CaptureEvent::Gap(gap) => {
                if let Some((name, idx)) = self.streams.get(&gap.stream)
                    && let Some(s) = self
                        .groups
                        .get_mut(name)
                        .and_then(|g| g.streams.get_mut(*idx))
                {
                    s.gaps.push(s.bytes.len());
                }
            }
            CaptureEvent::End(_) => {}
        }
    }

    fn chunk(&mut self, chunk: Chunk) {
        self.seq += 1;
        let time = chunk.timestamp.map(epoch_seconds);
        let name = group_name(&chunk);
        let udp = chunk
            .endpoints
            .is_some_and(|e| e.transport == Transport::Udp);
        if udp {
            if self.datagrams >= self.max_datagrams {
                self.dropped_bytes += chunk.bytes.len() as u64;
                return;
            }
            self.datagrams += 1;
            let seq = self.seq;
            let group = self.group(&name);
            group.datagrams.push(Message {
                bytes: chunk.bytes,
                direction: chunk.direction,
                stream: chunk.stream.0,
                time,
                seq,
            });
            return;
        }
        if self.bytes.saturating_add(chunk.bytes.len()) > self.max_bytes {
            self.dropped_bytes += chunk.bytes.len() as u64;
            return;
        }
        self.bytes += chunk.bytes.len();
        let idx = match self.streams.get(&chunk.stream) {
            Some((_, idx)) => *idx,
            None => {
                let group = self.group(&name);
                group.streams.push(ByteStream {
                    direction: chunk.direction,
                    ..ByteStream::default()
                });
                let idx = group.streams.len() - 1;
                self.streams.insert(chunk.stream, (name.clone(), idx));
                idx
            }
        };
        let seq = self.seq;
        if let Some(s) = self.group(&name).streams.get_mut(idx) {
            s.boundaries.push(Boundary {
                offset: s.bytes.len(),
                time,
                seq,
            });
            s.direction = s.direction.or(chunk.direction);
            s.bytes.extend_from_slice(&chunk.bytes);
        }
    }

    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_owned()).or_insert_with(|| Group {
            name: name.to_owned(),
            ..Group::default()
        })
    }

    /// Returns the groups collected, by name.
    pub fn finish(self) -> Vec<Group> {
        self.groups.into_values().collect()
    }
}

fn group_name(chunk: &Chunk) -> String {
    match chunk.endpoints {
        Some(e) => {
            let port = match chunk.direction {
                Some(Direction::ServerToClient) => e.src.port(),
                _ => e.dst.port(),
            };
            let t = match e.transport {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
            };
            format!("{t}/{port}")
        }
        None => "input".to_owned(),
    }
}

fn epoch_seconds(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Reads the capture at `path` (format detected: pcap, pcapng, hex dump,
/// raw bytes, JSON raw log) and collects its groups.
///
/// # Errors
///
/// Returns the reader's error, naming the file, when it cannot be opened or
/// read.
pub fn read_path(
    path: &Path,
    options: &CaptureOptions,
    config: &Config,
) -> Result<Vec<Group>, CaptureError> {
    let prefix = capture::read_prefix(path, 8192)?;
    let format = InputFormat::detect(&prefix);
    let mut collector = Collector::new(config);
    for event in capture::open(path, format, options)? {
        collector.push(event?);
    }
    Ok(collector.finish())
}
