//! Header fields: constants, addresses that swap between the directions, a
//! byte that tells the directions apart, a function code shared by a
//! request and its reply, counters and timestamps.
//!
//! Fields sit at fixed offsets from the start of the message (the header,
//! before any variable data), as in the protocols this tool is for.

use std::collections::{HashMap, VecDeque};

use rewire_transport::capture::Direction;

use crate::Message;
use crate::report::{Endian, Evidence, Field, Role};

/// Header fields are looked for in the first bytes only.
pub(crate) const MAX_HEADER: usize = 32;

/// Request/reply pairs: indexes into the message list.
type Pairs = Vec<(usize, usize)>;

/// Pairs each message of `req` direction with a reply after it: first in,
/// first out (pipelined requests) when `fifo`, else the latest request
/// before the reply (turn-taking, where a lost reply must not shift every
/// later pair).
fn pair(messages: &[Message], order: &[usize], req: Direction, fifo: bool) -> Pairs {
    let mut waiting: VecDeque<usize> = VecDeque::new();
    let mut pairs = Vec::new();
    for &i in order {
        let Some(m) = messages.get(i) else { continue };
        match m.direction {
            Some(d) if d == req && waiting.len() < 1024 => waiting.push_back(i),
            Some(d) if d == req => {}
            Some(_) => {
                let r = if fifo {
                    waiting.pop_front()
                } else {
                    let last = waiting.pop_back();
                    waiting.clear();
                    last
                };
                if let Some(r) = r {
                    pairs.push((r, i));
                }
            }
            None => {}
        }
    }
    pairs
}

fn byte(messages: &[Message], i: usize, offset: usize) -> Option<u8> {
    messages.get(i)?.bytes.get(offset).copied()
}

fn dir_name(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "c2s",
        Direction::ServerToClient => "s2c",
    }
}

/// What the caller already knows: offsets that are taken.
#[derive(Debug, Clone, Default)]
pub(crate) struct Taken {
    pub(crate) offsets: Vec<usize>,
}

impl Taken {
    fn has(&self, o: usize) -> bool {
        self.offsets.contains(&o)
    }
    fn take(&mut self, o: usize, w: usize) {
        self.offsets.extend(o..o + w);
    }
}

/// Finds header fields in `messages` up to `header` bytes in.
pub(crate) fn find(messages: &[Message], header: usize, mut taken: Taken) -> Vec<Field> {
    let header = header.min(MAX_HEADER);
    let n = messages.len();
    let mut fields = Vec::new();
    if n < 2 {
        return fields;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let (ma, mb) = (&messages[a], &messages[b]);
        ma.seq.cmp(&mb.seq).then(a.cmp(&b))
    });
    // Constants.
    for offset in 0..header {
        if taken.has(offset) {
            continue;
        }
        let mut hist = [0usize; 256];
        let mut covered = 0usize;
        for m in messages {
            if let Some(&b) = m.bytes.get(offset) {
                covered += 1;
                if let Some(h) = hist.get_mut(usize::from(b)) {
                    *h += 1;
                }
            }
        }
        let (value, count) = top(&hist);
        if covered * 10 >= n * 9 && count * 100 >= covered * 98 {
            taken.take(offset, 1);
            fields.push(Field {
                offset,
                width: 1,
                role: Role::Constant,
                endian: None,
                pair_offset: None,
                values: vec![format!("{value:02x}")],
                note: format!("always {value:02X}"),
                evidence: Evidence::new(count, covered),
            });
        }
    }
    let c2s = messages
        .iter()
        .filter(|m| m.direction == Some(Direction::ClientToServer))
        .count();
    let s2c = messages
        .iter()
        .filter(|m| m.direction == Some(Direction::ServerToClient))
        .count();
    if c2s >= 2 && s2c >= 2 {
        directional(messages, &order, header, &mut taken, &mut fields);
    }
    sequences(messages, &order, header, &mut taken, &mut fields);
    fields.sort_by_key(|f| f.offset);
    fields
}

fn top(hist: &[usize; 256]) -> (u8, usize) {
    let mut best = (0u8, 0usize);
    for (v, &c) in hist.iter().enumerate() {
        if c > best.1 {
            best = (u8::try_from(v).unwrap_or(0), c);
        }
    }
    best
}

fn directional(
    messages: &[Message],
    order: &[usize],
    header: usize,
    taken: &mut Taken,
    fields: &mut Vec<Field>,
) {
    // Which side asks: the assignment under which some varying byte is
    // most often equal in a request and its reply.
    let mut best: Option<(usize, Direction, Pairs)> = None;
    for (req, fifo) in [
        (Direction::ClientToServer, true),
        (Direction::ServerToClient, true),
        (Direction::ClientToServer, false),
        (Direction::ServerToClient, false),
    ] {
        let pairs = pair(messages, order, req, fifo);
        let mut score = 0usize;
        for offset in 0..header {
            if taken.has(offset) {
                continue;
            }
            let agree = pairs
                .iter()
                .filter(|&&(a, b)| {
                    let (x, y) = (byte(messages, a, offset), byte(messages, b, offset));
                    x.is_some() && x == y
                })
                .count();
            score = score.max(agree);
        }
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, req, pairs));
        }
    }
    let Some((_, req, pairs)) = best else { return };
    let np = pairs.len();
    if np < 2 {
        return;
    }
    // Addresses: bytes i and j trade places between a request and its reply.
    for i in 0..header {
        if taken.has(i) {
            continue;
        }
        for j in i + 1..(i + 9).min(header) {
            if taken.has(j) || taken.has(i) {
                continue;
            }
            let mut agree = 0usize;
            let mut values: Vec<(u8, u8)> = Vec::new();
            for &(a, b) in &pairs {
                let (ai, aj, bi, bj) = (
                    byte(messages, a, i),
                    byte(messages, a, j),
                    byte(messages, b, i),
                    byte(messages, b, j),
                );
                if let (Some(ai), Some(aj), Some(bi), Some(bj)) = (ai, aj, bi, bj)
                    && ai == bj
                    && aj == bi
                    && ai != aj
                {
                    agree += 1;
                    if values.len() < 8 && !values.contains(&(ai, aj)) {
                        values.push((ai, aj));
                    }
                }
            }
            if agree * 10 >= np * 9 {
                taken.take(i, 1);
                taken.take(j, 1);
                let shown: Vec<String> = values
                    .iter()
                    .map(|(x, y)| format!("{x:02x}/{y:02x}"))
                    .collect();
                let note = format!(
                    "swaps with byte {j} between request and reply ({} request {})",
                    dir_name(req),
                    shown.join(", ")
                );
                fields.push(Field {
                    offset: i,
                    width: 1,
                    role: Role::Address,
                    endian: None,
                    pair_offset: Some(j),
                    values: shown.clone(),
                    note,
                    evidence: Evidence::new(agree, np),
                });
                fields.push(Field {
                    offset: j,
                    width: 1,
                    role: Role::Address,
                    endian: None,
                    pair_offset: Some(i),
                    values: shown,
                    note: format!("swaps with byte {i} between request and reply"),
                    evidence: Evidence::new(agree, np),
                });
            }
        }
    }
    // Direction flag: one value each way.
    for offset in 0..header {
        if taken.has(offset) {
            continue;
        }
        let mut per: HashMap<Direction, [usize; 256]> = HashMap::new();
        let mut counts: HashMap<Direction, usize> = HashMap::new();
        for m in messages {
            if let (Some(d), Some(&b)) = (m.direction, m.bytes.get(offset)) {
                if let Some(h) = per.entry(d).or_insert([0; 256]).get_mut(usize::from(b)) {
                    *h += 1;
                }
                *counts.entry(d).or_default() += 1;
            }
        }
        let (Some(hc), Some(hs)) = (
            per.get(&Direction::ClientToServer),
            per.get(&Direction::ServerToClient),
        ) else {
            continue;
        };
        let (vc, nc) = top(hc);
        let (vs, ns) = top(hs);
        let tc = counts.get(&Direction::ClientToServer).copied().unwrap_or(0);
        let ts = counts.get(&Direction::ServerToClient).copied().unwrap_or(0);
        if vc != vs && nc * 100 >= tc * 95 && ns * 100 >= ts * 95 {
            taken.take(offset, 1);
            fields.push(Field {
                offset,
                width: 1,
                role: Role::DirectionFlag,
                endian: None,
                pair_offset: None,
                values: vec![format!("c2s={vc:02x}"), format!("s2c={vs:02x}")],
                note: format!("{vc:02X} client→server, {vs:02X} server→client"),
                evidence: Evidence::new(nc + ns, tc + ts),
            });
        }
    }
    // Function code: the same in a request and its reply, and not constant.
    let mut first = true;
    for offset in 0..header {
        if taken.has(offset) {
            continue;
        }
        let mut agree = 0usize;
        let mut values: Vec<u8> = Vec::new();
        for &(a, b) in &pairs {
            if let (Some(x), Some(y)) = (byte(messages, a, offset), byte(messages, b, offset))
                && x == y
            {
                agree += 1;
                if !values.contains(&x) {
                    values.push(x);
                }
            }
        }
        if agree * 10 >= np * 9 && values.len() >= 2 {
            taken.take(offset, 1);
            values.sort_unstable();
            fields.push(Field {
                offset,
                width: 1,
                role: if first { Role::Function } else { Role::Echo },
                endian: None,
                pair_offset: None,
                values: values.iter().take(8).map(|v| format!("{v:02x}")).collect(),
                note: if first {
                    format!(
                        "shared by each request and its reply ({} values)",
                        values.len()
                    )
                } else {
                    "also equal in each request and its reply".to_owned()
                },
                evidence: Evidence::new(agree, np),
            });
            first = false;
        }
    }
}

/// Counters (+1 per message in a stream) and timestamps (never decreasing,
/// 4 bytes).
fn sequences(
    messages: &[Message],
    order: &[usize],
    header: usize,
    taken: &mut Taken,
    fields: &mut Vec<Field>,
) {
    // Per stream, in order.
    let mut streams: HashMap<u64, Vec<usize>> = HashMap::new();
    for &i in order {
        if let Some(m) = messages.get(i) {
            streams.entry(m.stream).or_default().push(i);
        }
    }
    let read = |i: usize, offset: usize, width: usize, endian: Endian| -> Option<u64> {
        messages
            .get(i)?
            .bytes
            .get(offset..offset + width)
            .map(|f| endian.read(f))
    };
    for (width, endian) in [
        (2usize, Endian::Big),
        (2, Endian::Little),
        (1, Endian::Big),
        (4, Endian::Big),
        (4, Endian::Little),
    ] {
        for offset in 0..header.saturating_sub(width - 1) {
            if (offset..offset + width).any(|o| taken.has(o)) {
                continue;
            }
            let modulus = 1u128 << (8 * width);
            let (mut steps, mut plus_one, mut up) = (0usize, 0usize, 0usize);
            let mut distinct: Vec<u64> = Vec::new();
            for idx in streams.values() {
                for w in idx.windows(2) {
                    let (Some(a), Some(b)) = (
                        w.first().and_then(|&i| read(i, offset, width, endian)),
                        w.get(1).and_then(|&i| read(i, offset, width, endian)),
                    ) else {
                        continue;
                    };
                    steps += 1;
                    if (u128::from(a) + 1) % modulus == u128::from(b) {
                        plus_one += 1;
                    }
                    if b >= a {
                        up += 1;
                    }
                    if distinct.len() < 16 && !distinct.contains(&b) {
                        distinct.push(b);
                    }
                }
            }
            if steps < 4 || distinct.len() < 3 {
                continue;
            }
            let role = if width <= 2 && plus_one * 10 >= steps * 9 {
                Role::Counter
            } else if width == 4 && up * 100 >= steps * 95 && distinct.len() * 2 >= steps.min(16) {
                Role::Timestamp
            } else {
                continue;
            };
            taken.take(offset, width);
            let agree = if role == Role::Counter { plus_one } else { up };
            fields.push(Field {
                offset,
                width,
                role,
                endian: (width > 1).then_some(endian),
                pair_offset: None,
                values: distinct
                    .iter()
                    .take(4)
                    .map(|v| format!("{v:0w$x}", w = width * 2))
                    .collect(),
                note: if role == Role::Counter {
                    "goes up by one from message to message in each stream".to_owned()
                } else {
                    "never decreases (4 bytes): a time or a sequence number".to_owned()
                },
                evidence: Evidence::new(agree, steps),
            });
        }
    }
}
