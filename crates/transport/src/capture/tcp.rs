//! TCP reassembly: per connection, per direction, with bounded buffering.
//!
//! Each direction keeps the next expected sequence number and the stream
//! offset reached so far. A segment at that point is delivered at once (and
//! any buffered segments it makes contiguous after it); a segment beyond it
//! is buffered up to a byte bound; anything already delivered (a
//! retransmission, the overlapping head of a segment) is dropped, so each
//! byte comes out once. When the buffer bound is exceeded, or the
//! connection ends with a hole still open, the hole is reported as a gap.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

use foldhash::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use super::{
    CaptureEvent, CaptureOptions, Chunk, Direction, EndReason, Endpoints, Gap, StreamEnd, StreamId,
    Transport,
};

/// How many closed connections are remembered, to drop their late
/// retransmissions instead of treating them as a new stream.
const MAX_TOMBSTONES: usize = 256;

/// One TCP segment as the reassembler needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
    pub timestamp: Option<SystemTime>,
}

/// A connection's two endpoints, the lower one first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(SocketAddr, SocketAddr);

impl Hash for Key {
    /// Two IPv4 endpoints (the usual case) are hashed as one 96-bit number,
    /// which costs a fraction of hashing each address field by field; this
    /// runs for every packet. Anything else hashes field by field.
    fn hash<H: Hasher>(&self, state: &mut H) {
        match (self.0, self.1) {
            (SocketAddr::V4(a), SocketAddr::V4(b)) => state.write_u128(
                (u128::from(a.ip().to_bits()) << 64)
                    | (u128::from(a.port()) << 48)
                    | (u128::from(b.ip().to_bits()) << 16)
                    | u128::from(b.port()),
            ),
            (a, b) => {
                a.hash(state);
                b.hash(state);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Half {
    isn: Option<u32>,
    next_seq: Option<u32>,
    /// Stream bytes delivered or given up so far.
    offset: u64,
    pending: BTreeMap<u64, (Vec<u8>, Option<SystemTime>)>,
    pending_bytes: usize,
    fin_at: Option<u64>,
    ended: bool,
    started: bool,
}

#[derive(Debug)]
struct Conn {
    id: u64,
    halves: [Half; 2],
    client_side: Option<usize>,
    last_active: u64,
}

/// The reassembler for all TCP connections of one capture.
#[derive(Debug)]
pub(crate) struct Reassembler {
    conns: HashMap<Key, Conn>,
    tombstones: VecDeque<(Key, [Option<u32>; 2])>,
    next_id: u64,
    tick: u64,
    options: CaptureOptions,
}

fn key_of(src: SocketAddr, dst: SocketAddr) -> (Key, usize) {
    if src <= dst {
        (Key(src, dst), 0)
    } else {
        (Key(dst, src), 1)
    }
}

fn addrs(key: Key, side: usize) -> (SocketAddr, SocketAddr) {
    if side == 0 {
        (key.0, key.1)
    } else {
        (key.1, key.0)
    }
}

/// Signed distance from `from` to `to` in sequence space.
fn seq_diff(to: u32, from: u32) -> i64 {
    i64::from(to.wrapping_sub(from).cast_signed())
}

/// Truncating on purpose: sequence numbers are modulo 2^32.
fn low32(n: u64) -> u32 {
    u32::try_from(n & 0xffff_ffff).unwrap_or(0)
}

/// The direction of bytes from `src` to `dst` given the port filter.
pub(crate) fn direction_for(
    ports: &std::collections::BTreeSet<u16>,
    src: SocketAddr,
    dst: SocketAddr,
) -> Option<Direction> {
    if ports.contains(&dst.port()) {
        Some(Direction::ClientToServer)
    } else if ports.contains(&src.port()) {
        Some(Direction::ServerToClient)
    } else {
        None
    }
}

/// The direction of one side of a connection: from the port filter, or
/// without one from who sent the SYN.
fn direction_of(options: &CaptureOptions, conn: &Conn, key: Key, side: usize) -> Option<Direction> {
    let (src, dst) = addrs(key, side);
    if options.ports.is_empty() {
        conn.client_side.map(|c| {
            if c == side {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            }
        })
    } else {
        direction_for(&options.ports, src, dst)
    }
}

struct Ctx<'a> {
    out: &'a mut VecDeque<CaptureEvent>,
    stream: StreamId,
    direction: Option<Direction>,
    endpoints: Endpoints,
}

impl Ctx<'_> {
    fn chunk(&mut self, half: &mut Half, bytes: Vec<u8>, timestamp: Option<SystemTime>) {
        half.started = true;
        self.out.push_back(CaptureEvent::Chunk(Chunk {
            stream: self.stream,
            timestamp,
            direction: self.direction,
            endpoints: Some(self.endpoints),
            bytes,
        }));
    }

    fn gap(&mut self, half: &mut Half, missing_bytes: u64, timestamp: Option<SystemTime>) {
        half.started = true;
        self.out.push_back(CaptureEvent::Gap(Gap {
            stream: self.stream,
            missing_bytes,
            timestamp,
            direction: self.direction,
            endpoints: Some(self.endpoints),
        }));
    }
}

impl Half {
    fn advance(&mut self, n: u64) {
        self.offset = self.offset.saturating_add(n);
        if let Some(next) = self.next_seq {
            self.next_seq = Some(next.wrapping_add(low32(n)));
        }
    }

    /// Delivers every buffered segment that is now contiguous.
    fn drain(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.offset {
                break;
            }
            let (start, (bytes, ts)) = entry.remove_entry();
            self.pending_bytes = self.pending_bytes.saturating_sub(bytes.len());
            let skip = usize::try_from(self.offset.saturating_sub(start)).unwrap_or(usize::MAX);
            if let Some(tail) = bytes.get(skip..).filter(|t| !t.is_empty()) {
                let tail = tail.to_vec();
                self.advance(tail.len() as u64);
                ctx.chunk(self, tail, ts);
            }
        }
    }

    /// Gives up the hole before the first buffered segment.
    fn skip_hole(&mut self, ctx: &mut Ctx<'_>, ts: Option<SystemTime>) -> bool {
        let Some((&start, _)) = self.pending.first_key_value() else {
            return false;
        };
        let missing = start.saturating_sub(self.offset);
        if missing > 0 {
            ctx.gap(self, missing, ts);
            self.advance(missing);
        }
        self.drain(ctx);
        true
    }

    /// Flushes everything buffered (reporting holes) before the stream ends.
    fn flush(&mut self, ctx: &mut Ctx<'_>, ts: Option<SystemTime>) {
        while self.skip_hole(ctx, ts) {}
        if let Some(fin_at) = self.fin_at {
            let missing = fin_at.saturating_sub(self.offset);
            if missing > 0 {
                ctx.gap(self, missing, ts);
                self.advance(missing);
            }
        }
    }

    fn end(&mut self, ctx: &mut Ctx<'_>, reason: EndReason, ts: Option<SystemTime>) {
        if self.ended {
            return;
        }
        self.flush(ctx, ts);
        self.ended = true;
        if self.started {
            ctx.out.push_back(CaptureEvent::End(StreamEnd {
                stream: ctx.stream,
                reason,
            }));
        }
    }

    /// Adds the bytes of a segment starting at sequence number `seq`.
    fn data(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: u32,
        payload: &[u8],
        fin: bool,
        ts: Option<SystemTime>,
        max_pending: usize,
    ) {
        let next = *self.next_seq.get_or_insert(seq);
        let rel = seq_diff(seq, next);
        let Ok(offset) = i64::try_from(self.offset) else {
            return;
        };
        let start = offset.saturating_add(rel);
        let len = payload.len() as u64;
        let Ok(start_u) = u64::try_from(start.max(0)) else {
            return;
        };
        // Bytes before the stream start are unknowable; drop them.
        let trim_front = u64::try_from(0i64.saturating_sub(start).max(0)).unwrap_or(0);
        let end = start_u.saturating_add(len.saturating_sub(trim_front));
        if fin && self.fin_at.is_none() {
            self.fin_at = Some(end);
        }
        if end > self.offset {
            if start_u <= self.offset {
                let skip = self
                    .offset
                    .saturating_sub(start_u)
                    .saturating_add(trim_front);
                let skip = usize::try_from(skip).unwrap_or(usize::MAX);
                if let Some(tail) = payload.get(skip..).filter(|t| !t.is_empty()) {
                    self.advance(tail.len() as u64);
                    ctx.chunk(self, tail.to_vec(), ts);
                }
                self.drain(ctx);
            } else {
                let skip = usize::try_from(trim_front).unwrap_or(usize::MAX);
                let bytes = payload.get(skip..).unwrap_or_default().to_vec();
                let keep = match self.pending.get(&start_u) {
                    Some((old, _)) => old.len() < bytes.len(),
                    None => true,
                };
                if keep {
                    if let Some((old, _)) = self.pending.insert(start_u, (bytes.clone(), ts)) {
                        self.pending_bytes = self.pending_bytes.saturating_sub(old.len());
                    }
                    self.pending_bytes = self.pending_bytes.saturating_add(bytes.len());
                }
                while self.pending_bytes > max_pending && self.skip_hole(ctx, ts) {}
            }
        }
    }
}

impl Reassembler {
    pub(crate) fn new(options: CaptureOptions) -> Self {
        Self {
            conns: HashMap::default(),
            tombstones: VecDeque::new(),
            next_id: 0,
            tick: 0,
            options,
        }
    }

    /// Returns how many connections are tracked now.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.conns.len()
    }

    fn end_conn(
        &mut self,
        key: Key,
        reason: EndReason,
        ts: Option<SystemTime>,
        out: &mut VecDeque<CaptureEvent>,
    ) {
        let Some(mut conn) = self.conns.remove(&key) else {
            return;
        };
        for side in 0..2 {
            let direction = direction_of(&self.options, &conn, key, side);
            let (src, dst) = addrs(key, side);
            let mut ctx = Ctx {
                out,
                stream: StreamId(conn.id.saturating_mul(2).saturating_add(side as u64)),
                direction,
                endpoints: Endpoints {
                    src,
                    dst,
                    transport: Transport::Tcp,
                },
            };
            if let Some(half) = conn.halves.get_mut(side) {
                half.end(&mut ctx, reason, ts);
            }
        }
        let finals = [conn.halves[0].next_seq, conn.halves[1].next_seq];
        if self.tombstones.len() >= MAX_TOMBSTONES {
            self.tombstones.pop_front();
        }
        self.tombstones.push_back((key, finals));
    }

    fn is_late_retransmission(&self, key: Key, side: usize, seq: u32, len: usize) -> bool {
        self.tombstones
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .is_some_and(|(_, finals)| {
                finals
                    .get(side)
                    .copied()
                    .flatten()
                    .is_some_and(|fin| seq_diff(seq.wrapping_add(low32(len as u64)), fin) <= 0)
            })
    }

    fn create(&mut self, key: Key, ts: Option<SystemTime>, out: &mut VecDeque<CaptureEvent>) {
        if self.conns.len() >= self.options.max_connections.max(1) {
            let oldest = self
                .conns
                .iter()
                .min_by_key(|(_, c)| c.last_active)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.end_conn(oldest, EndReason::Evicted, ts, out);
            }
        }
        self.tombstones.retain(|(k, _)| *k != key);
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        self.conns.insert(
            key,
            Conn {
                id,
                halves: [Half::default(), Half::default()],
                client_side: None,
                last_active: 0,
            },
        );
    }

    /// Feeds one captured segment; events go to `out`.
    pub(crate) fn segment(&mut self, seg: &Segment<'_>, out: &mut VecDeque<CaptureEvent>) {
        let (key, side) = key_of(seg.src, seg.dst);
        self.tick = self.tick.saturating_add(1);
        if seg.rst {
            self.end_conn(key, EndReason::Reset, seg.timestamp, out);
            return;
        }
        if seg.syn {
            let reused = self
                .conns
                .get(&key)
                .and_then(|c| c.halves.get(side))
                .is_some_and(|h| {
                    h.ended
                        || h.isn.is_some_and(|isn| isn != seg.seq)
                        || (h.isn.is_none() && h.started)
                });
            if reused {
                self.end_conn(key, EndReason::Reused, seg.timestamp, out);
            }
            if !self.conns.contains_key(&key) {
                self.create(key, seg.timestamp, out);
            }
        } else if !self.conns.contains_key(&key) {
            if (seg.payload.is_empty() && !seg.fin)
                || self.is_late_retransmission(key, side, seg.seq, seg.payload.len())
            {
                return;
            }
            self.create(key, seg.timestamp, out);
        }
        let tick = self.tick;
        let max_pending = self.options.max_out_of_order_bytes;
        // One lookup for the rest of the segment (this runs per packet).
        let options = &self.options;
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        conn.last_active = tick;
        if seg.syn && !seg.ack {
            conn.client_side = Some(side);
        }
        let mut data_seq = seg.seq;
        if seg.syn {
            let Some(half) = conn.halves.get_mut(side) else {
                return;
            };
            if half.isn.is_none() {
                half.isn = Some(seg.seq);
                half.next_seq = Some(seg.seq.wrapping_add(1));
            }
            data_seq = seg.seq.wrapping_add(1);
        }
        let direction = direction_of(options, conn, key, side);
        let (src, dst) = addrs(key, side);
        let stream = StreamId(conn.id.saturating_mul(2).saturating_add(side as u64));
        let mut ctx = Ctx {
            out,
            stream,
            direction,
            endpoints: Endpoints {
                src,
                dst,
                transport: Transport::Tcp,
            },
        };
        if let Some(half) = conn.halves.get_mut(side)
            && !half.ended
            && (!seg.payload.is_empty() || seg.fin)
        {
            half.data(
                &mut ctx,
                data_seq,
                seg.payload,
                seg.fin,
                seg.timestamp,
                max_pending,
            );
            if half.fin_at.is_some_and(|f| half.offset >= f) {
                half.end(&mut ctx, EndReason::Fin, seg.timestamp);
            }
        }
        if conn.halves.iter().all(|h| h.ended) {
            self.end_conn(key, EndReason::Fin, seg.timestamp, out);
        }
    }

    /// Ends every open connection (end of the capture).
    pub(crate) fn finish(&mut self, out: &mut VecDeque<CaptureEvent>) {
        let mut keys: Vec<(u64, Key)> = self.conns.iter().map(|(k, c)| (c.id, *k)).collect();
        keys.sort();
        for (_, key) in keys {
            self.end_conn(key, EndReason::EndOfInput, None, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    struct Harness {
        r: Reassembler,
        out: VecDeque<CaptureEvent>,
    }

    impl Harness {
        fn new(max_pending: usize) -> Self {
            let mut options = CaptureOptions::with_ports([4001]);
            options.max_out_of_order_bytes = max_pending;
            Self {
                r: Reassembler::new(options),
                out: VecDeque::new(),
            }
        }
        fn send(&mut self, seq: u32, flags: &str, payload: &[u8]) {
            let seg = Segment {
                src: addr("10.0.0.1:5000"),
                dst: addr("10.0.0.2:4001"),
                seq,
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
                payload,
                timestamp: None,
            };
            self.r.segment(&seg, &mut self.out);
        }
        /// Renders events as "data", "[gap N]", "[end]".
        fn log(&mut self) -> String {
            let mut s = String::new();
            for e in self.out.drain(..) {
                match e {
                    CaptureEvent::Chunk(c) => s.push_str(&String::from_utf8_lossy(&c.bytes)),
                    CaptureEvent::Gap(g) => s.push_str(&format!("[gap {}]", g.missing_bytes)),
                    CaptureEvent::End(e) => s.push_str(&format!("[{:?}]", e.reason)),
                }
            }
            s
        }
    }

    #[test]
    fn reassembly_table() {
        // (segments as (seq, flags, payload), expected rendering)
        let isn = u32::MAX - 3; // wraps inside the stream
        type Case<'a> = (Vec<(u32, &'a str, &'a [u8])>, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![
                    (isn, "S", b""),
                    (isn.wrapping_add(1), "A", b"abc"),
                    (isn.wrapping_add(4), "AF", b"def"),
                ],
                "abcdef[Fin]",
            ),
            // out of order, then filled
            (
                vec![
                    (isn, "S", b""),
                    (isn.wrapping_add(4), "A", b"def"),
                    (isn.wrapping_add(1), "A", b"abc"),
                ],
                "abcdef[EndOfInput]",
            ),
            // retransmission of delivered bytes
            (
                vec![
                    (isn, "S", b""),
                    (isn.wrapping_add(1), "A", b"abc"),
                    (isn.wrapping_add(1), "A", b"abc"),
                    (isn.wrapping_add(4), "A", b"d"),
                ],
                "abcd[EndOfInput]",
            ),
            // overlap: new segment covers old bytes and new ones
            (
                vec![
                    (isn, "S", b""),
                    (isn.wrapping_add(1), "A", b"abc"),
                    (isn.wrapping_add(2), "A", b"bcde"),
                ],
                "abcde[EndOfInput]",
            ),
            // overlapping buffered segments
            (
                vec![
                    (isn, "S", b""),
                    (isn.wrapping_add(3), "A", b"cd"),
                    (isn.wrapping_add(3), "A", b"cdef"),
                    (isn.wrapping_add(1), "A", b"ab"),
                ],
                "abcdef[EndOfInput]",
            ),
            // a hole never filled: reported when the capture ends
            (
                vec![
                    (isn, "S", b""),
                    (isn.wrapping_add(1), "A", b"ab"),
                    (isn.wrapping_add(5), "AF", b"ef"),
                ],
                "ab[gap 2]ef[EndOfInput]",
            ),
            // RST ends with the hole reported
            (
                vec![
                    (isn, "S", b""),
                    (isn.wrapping_add(3), "A", b"cd"),
                    (isn, "R", b""),
                ],
                "[gap 2]cd[Reset]",
            ),
            // mid-stream start (no SYN seen)
            (
                vec![(1000, "A", b"xy"), (1002, "A", b"z")],
                "xyz[EndOfInput]",
            ),
        ];
        for (i, (segs, want)) in cases.into_iter().enumerate() {
            let mut h = Harness::new(1 << 20);
            for (seq, flags, payload) in segs {
                h.send(seq, flags, payload);
            }
            h.r.finish(&mut h.out);
            assert_eq!(h.log(), want, "case {i}");
        }
    }

    #[test]
    fn bounded_buffer_gives_up_the_hole() {
        let mut h = Harness::new(4);
        h.send(0, "S", b"");
        h.send(1, "A", b"a");
        h.send(3, "A", b"cd");
        assert_eq!(h.log(), "a");
        h.send(5, "A", b"efg"); // 5 buffered bytes > 4
        assert_eq!(h.log(), "[gap 1]cdefg");
        h.send(2, "A", b"b"); // too late: already given up
        assert_eq!(h.log(), "");
    }

    #[test]
    fn evicts_least_recent_connection() {
        let mut options = CaptureOptions::with_ports([80]);
        options.max_connections = 2;
        let mut r = Reassembler::new(options);
        let mut out = VecDeque::new();
        for port in [1000u16, 1001, 1002] {
            let seg = Segment {
                src: SocketAddr::from(([1, 1, 1, 1], port)),
                dst: SocketAddr::from(([2, 2, 2, 2], 80)),
                seq: 7,
                syn: false,
                ack: true,
                fin: false,
                rst: false,
                payload: b"hi",
                timestamp: None,
            };
            r.segment(&seg, &mut out);
        }
        assert_eq!(r.tracked(), 2);
        let ended: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                CaptureEvent::End(e) => Some(e.reason),
                _ => None,
            })
            .collect();
        assert_eq!(ended, vec![EndReason::Evicted]);
    }
}
