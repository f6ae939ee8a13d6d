//! Recover an unknown framed protocol's structure from captures: message
//! boundaries, sync bytes, the length field, the checksum or CRC (with its
//! parameters solved from the data), and header fields (constants,
//! addresses that swap between directions, a request/reply flag, function
//! codes shared by a request and its reply, counters, timestamps).
//!
//! This is the method by which the Power-One PowCom protocol and the
//! WebSentry port-1030 protocol were cracked by hand, made a program. It
//! knows no protocol in advance. `docs/infer.md` describes the method, its
//! limits and the JSON schema.
//!
//! ```text
//!  capture events ─► Collector ─► Group (per port) ─► segment ─► messages
//!                                                                  │
//!        Report ◄── sync · length · checksum/CRC · fields · text ◄─┘
//! ```
//!
//! # Example
//!
//! ```
//! use rewire_infer::{Config, Message, infer_messages};
//! use rewire_infer::report::Algorithm;
//!
//! // Frames of a made-up protocol: sync AA, length, function, data, 8-bit sum.
//! let mut messages = Vec::new();
//! for i in 0..12u8 {
//!     let mut m = vec![0xAA, 0, i % 3, i, i.wrapping_mul(7)];
//!     m.truncate(3 + usize::from(i % 3));
//!     m[1] = (m.len() + 1) as u8;
//!     let sum = m.iter().fold(0u8, |a, &b| a.wrapping_add(b));
//!     m.push(sum);
//!     messages.push(Message::new(m));
//! }
//! let report = infer_messages("example", &messages, &Config::default());
//! assert_eq!(report.sync.found().map(|s| s.bytes.as_str()), Some("aa"));
//! assert_eq!(report.length.found().map(|l| (l.offset, l.adjust)), Some((1, 0)));
//! assert_eq!(report.checksum.found().map(|c| c.algorithm), Some(Algorithm::Sum8));
//! ```
//!
//! # Guarantees
//!
//! No input makes it panic; memory is bounded by [`Config::max_bytes`] of
//! stream data and [`Config::max_messages`] messages; the time spent on the
//! checksum and field search does not grow with the number of messages
//! beyond a linear check of the winner.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod checksum;
pub mod collect;
pub mod crc;
mod fields;
mod gf2;
mod length;
pub mod report;
mod segment;
mod text;

use std::collections::HashSet;
use std::time::Duration;

pub use collect::{Boundary, ByteStream, Collector, Group};
pub use report::{GroupReport, Report};
pub use rewire_transport::capture::Direction;

use report::{Boundaries, BoundaryMethod, Evidence, Finding, Kind, Sync};

/// Distinct messages used to search for the length field.
const LENGTH_SAMPLE: usize = 1024;
/// Distinct messages used to search for the checksum.
const CHECKSUM_SAMPLE: usize = 256;
/// Longest sync sequence reported.
const MAX_SYNC: usize = 8;

/// One message, already cut out of its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Which way it travelled, if known.
    pub direction: Option<Direction>,
    /// Which stream it came from (messages of one stream are in order).
    pub stream: u64,
    /// Capture time, seconds since the Unix epoch, if known.
    pub time: Option<f64>,
    /// Arrival order within the input (orders messages across streams).
    pub seq: u64,
}

impl Message {
    /// Creates a message with no direction, time or stream.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            direction: None,
            stream: 0,
            time: None,
            seq: 0,
        }
    }

    /// Sets the direction (and the stream: one per direction).
    pub fn with_direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self.stream = match direction {
            Direction::ClientToServer => 1,
            Direction::ServerToClient => 2,
        };
        self
    }

    /// Sets the arrival order.
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }
}

/// What inference may use and how sure it must be.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Most messages analysed per group (the rest are ignored).
    pub max_messages: usize,
    /// Most stream bytes kept in memory.
    pub max_bytes: usize,
    /// Fewest distinct messages for a length field or checksum to be
    /// reported; below it the report says "not found".
    pub min_messages: usize,
    /// On inputs with timestamps but no length field (a serial line), a
    /// pause at least this long separates messages; `None` uses every piece
    /// of the capture as a boundary.
    pub gap: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_messages: 50_000,
            max_bytes: 64 << 20,
            min_messages: 4,
            gap: None,
        }
    }
}

/// Infers the structure of every group and returns the report.
pub fn infer(input: &str, groups: &[Group], config: &Config) -> Report {
    let mut notes = Vec::new();
    if groups.is_empty() {
        notes.push("the input holds no TCP, UDP or serial data".to_owned());
    }
    Report {
        schema: report::SCHEMA,
        input: input.to_owned(),
        groups: groups.iter().map(|g| infer_group(g, config)).collect(),
        notes,
    }
}

/// Infers the structure of one group: its streams are cut into messages
/// first, its datagrams are messages already.
pub fn infer_group(group: &Group, config: &Config) -> GroupReport {
    if group.streams.is_empty() {
        let text = {
            let refs: Vec<&[u8]> = group.datagrams.iter().map(|m| m.bytes.as_slice()).collect();
            text::is_text(&refs)
        };
        return analyse(
            &group.name,
            group.datagrams.clone(),
            BoundaryMethod::Datagram,
            0,
            text.then_some("none"),
            config,
        );
    }
    let seg = segment::segment(&group.streams, config);
    let mut messages = seg.messages;
    messages.extend(group.datagrams.iter().cloned());
    let term = seg.text.then(|| match segment::terminator(&group.streams) {
        b"\r\n" => "CRLF",
        b"\r" => "CR",
        _ => "LF",
    });
    analyse(&group.name, messages, seg.method, seg.skipped, term, config)
}

/// Infers the structure of byte streams (cutting them into messages first).
pub fn infer_streams(name: &str, streams: &[ByteStream], config: &Config) -> GroupReport {
    let group = Group {
        name: name.to_owned(),
        streams: streams.to_vec(),
        datagrams: Vec::new(),
    };
    infer_group(&group, config)
}

/// Infers the structure of messages that are already framed.
pub fn infer_messages(name: &str, messages: &[Message], config: &Config) -> GroupReport {
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.bytes.as_slice()).collect();
    let text = text::is_text(&refs);
    analyse(
        name,
        messages.to_vec(),
        BoundaryMethod::Given,
        0,
        text.then_some("none"),
        config,
    )
}

fn analyse(
    name: &str,
    mut messages: Vec<Message>,
    method: BoundaryMethod,
    skipped: u64,
    text_terminator: Option<&str>,
    config: &Config,
) -> GroupReport {
    let mut notes = Vec::new();
    if messages.len() > config.max_messages {
        notes.push(format!(
            "only the first {} of {} messages were analysed (--max-messages)",
            config.max_messages,
            messages.len()
        ));
        messages.truncate(config.max_messages);
    }
    let n = messages.len();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let distinct: Vec<&[u8]> = messages
        .iter()
        .map(|m| m.bytes.as_slice())
        .filter(|b| seen.insert(b))
        .collect();
    let count = |d: Direction| messages.iter().filter(|m| m.direction == Some(d)).count();
    let mut report = GroupReport {
        name: name.to_owned(),
        messages: n,
        distinct: distinct.len(),
        client_to_server: count(Direction::ClientToServer),
        server_to_client: count(Direction::ServerToClient),
        kind: Kind::Binary,
        boundaries: Boundaries {
            method,
            skipped_bytes: skipped,
        },
        min_len: messages.iter().map(|m| m.bytes.len()).min().unwrap_or(0),
        max_len: messages.iter().map(|m| m.bytes.len()).max().unwrap_or(0),
        sync: Finding::not_found("no messages"),
        length: Finding::not_found("no messages"),
        checksum: Finding::not_found("no messages"),
        fields: Vec::new(),
        text: None,
        notes: Vec::new(),
    };
    if n == 0 {
        report.notes = notes;
        return report;
    }
    if let Some(term) = text_terminator {
        report.kind = Kind::Text;
        let lines: Vec<&[u8]> = messages.iter().map(|m| m.bytes.as_slice()).collect();
        report.text = Some(text::analyse(&lines, term));
        let reason = "a text protocol (see text)";
        report.sync = Finding::not_found(reason);
        report.length = Finding::not_found(reason);
        report.checksum = Finding::not_found(reason);
        report.notes = notes;
        return report;
    }
    // Sync: the longest prefix (nearly) every message shares.
    let sync = common_prefix(&messages);
    report.sync = if sync.is_empty() {
        Finding::not_found("messages do not start with common bytes")
    } else {
        let agree = messages
            .iter()
            .filter(|m| m.bytes.starts_with(&sync))
            .count();
        Finding::Found(Sync {
            offset: 0,
            bytes: report::hex_compact(&sync),
            evidence: Evidence::new(agree, n),
        })
    };
    // Length. Zero high bytes of a length field look constant: a length
    // field found inside the common prefix ends the sync there.
    let sample: Vec<&[u8]> = distinct.iter().take(LENGTH_SAMPLE).copied().collect();
    report.length = length::find(&sample, config.min_messages, usize::from(!sync.is_empty()));
    let mut sync = sync;
    if let Some(l) = report.length.found()
        && l.offset < sync.len()
    {
        sync.truncate(l.offset);
        if let Finding::Found(s) = &mut report.sync {
            s.bytes = report::hex_compact(&sync);
        }
    }
    let sync_len = sync.len();
    if let Finding::Found(l) = &mut report.length {
        let agree = messages
            .iter()
            .filter(|m| {
                m.bytes.get(l.offset..l.offset + l.width).is_some_and(|f| {
                    i64::try_from(l.endian.read(f)).unwrap_or(0) + l.adjust
                        == i64::try_from(m.bytes.len()).unwrap_or(-1)
                })
            })
            .count();
        l.evidence = Evidence::new(agree, n);
    }
    let length_at = report.length.found().map(|l| (l.offset, l.width));
    // Checksum.
    let sample: Vec<&[u8]> = distinct.iter().take(CHECKSUM_SAMPLE).copied().collect();
    let known = checksum::Known {
        sync_len,
        length: length_at,
    };
    let (found, check) = checksum::find(&sample, config.min_messages, known);
    report.checksum = found;
    let mut trailing = 0usize;
    let mut taken = fields::Taken::default();
    taken.offsets.extend(0..sync_len);
    if let Some((o, w)) = length_at {
        taken.offsets.extend(o..o + w);
    }
    if let (Finding::Found(c), Some(check)) = (&mut report.checksum, &check) {
        let agree = messages.iter().filter(|m| check.matches(&m.bytes)).count();
        c.evidence = Evidence::new(agree, n);
        trailing = check.trailing();
        if let Some((o, w)) = check.fixed() {
            taken.offsets.extend(o..o + w);
        }
        if agree < n {
            notes.push(format!(
                "{} messages fail the checksum (corrupt, or truncated)",
                n - agree
            ));
        }
    }
    // Fields live in the header: up to the shortest usual message, before
    // a trailing checksum.
    let mut lens: Vec<usize> = messages.iter().map(|m| m.bytes.len()).collect();
    lens.sort_unstable();
    let short = lens.get(n / 20).copied().unwrap_or(0);
    let header = short.saturating_sub(trailing);
    report.fields = fields::find(&messages, header, taken);
    report.notes = notes;
    report
}

/// The longest prefix at least 95 % of the messages start with.
fn common_prefix(messages: &[Message]) -> Vec<u8> {
    let n = messages.len();
    let mut prefix: Vec<u8> = Vec::new();
    while prefix.len() < MAX_SYNC {
        let mut hist = [0usize; 256];
        for m in messages {
            if m.bytes.starts_with(&prefix)
                && let Some(&b) = m.bytes.get(prefix.len())
                && let Some(h) = hist.get_mut(usize::from(b))
            {
                *h += 1;
            }
        }
        let Some((b, c)) = hist
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .map(|(b, c)| (u8::try_from(b).unwrap_or(0), *c))
        else {
            break;
        };
        // Every message must be longer than the sync.
        let longer = messages
            .iter()
            .filter(|m| m.bytes.len() > prefix.len() + 1)
            .count();
        if c * 100 < n * 95 || longer * 100 < n * 95 {
            break;
        }
        prefix.push(b);
    }
    prefix
}
