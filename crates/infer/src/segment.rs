//! Message boundaries in byte streams: text lines, a sync sequence with a
//! length field that predicts the next sync, or the capture's own pieces.

use std::collections::HashMap;
use std::time::Duration;

use crate::collect::ByteStream;
use crate::report::{BoundaryMethod, Endian};
use crate::{Config, Message};

/// Longest sync sequence tried.
const MAX_SYNC: usize = 4;
/// Length fields are looked for this far after the sync.
const MAX_LEN_OFFSET: usize = 12;
/// Longest frame a length field may announce.
const MAX_FRAME: usize = 1 << 16;
/// Longest text line kept before it is cut.
const MAX_LINE: usize = 4096;

/// A length layout: where the field is and how it maps to the frame length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LenLayout {
    pub(crate) offset: usize,
    pub(crate) width: usize,
    pub(crate) endian: Endian,
    pub(crate) adjust: i64,
}

impl LenLayout {
    /// Returns the frame length announced by the message starting at `at`.
    fn frame_len(&self, bytes: &[u8], at: usize) -> Option<usize> {
        let start = at.checked_add(self.offset)?;
        let field = bytes.get(start..start.checked_add(self.width)?)?;
        let v = i64::try_from(self.endian.read(field)).ok()?;
        let len = usize::try_from(v.checked_add(self.adjust)?).ok()?;
        (len >= self.offset + self.width && len <= MAX_FRAME).then_some(len)
    }
}

/// Messages cut out of the streams, and how.
#[derive(Debug, Clone)]
pub(crate) struct Segmented {
    pub(crate) messages: Vec<Message>,
    pub(crate) method: BoundaryMethod,
    pub(crate) skipped: u64,
    pub(crate) text: bool,
}

/// Returns whether the streams are text: printable ASCII and line ends.
pub(crate) fn looks_textual(streams: &[ByteStream]) -> bool {
    let mut total = 0usize;
    let mut printable = 0usize;
    let mut line_ends = 0usize;
    for s in streams {
        for &b in &s.bytes {
            if b == 0 {
                continue;
            }
            total += 1;
            if b == b'\r' || b == b'\n' {
                line_ends += 1;
            }
            if (0x20..0x7f).contains(&b) || matches!(b, b'\r' | b'\n' | b'\t') {
                printable += 1;
            }
        }
    }
    total > 0 && line_ends > 0 && printable * 100 >= total * 97
}

/// Cuts the streams into messages.
pub(crate) fn segment(streams: &[ByteStream], config: &Config) -> Segmented {
    if looks_textual(streams) {
        return lines(streams, config);
    }
    let candidates = sync_candidates(streams);
    let total: usize = streams.iter().map(|s| s.bytes.len()).sum();
    // Score every (sync, layout) by how many sync-to-sync distances its
    // length explains; walk the streams only for the few best.
    let mut scored: Vec<(usize, Vec<u8>, LenLayout)> = Vec::new();
    for sync in &candidates {
        let occ = occurrences(streams, sync);
        for layout in layouts(sync.len()) {
            if let Some((adjust, count)) = dominant_adjust(streams, &occ, layout) {
                scored.push((count, sync.clone(), LenLayout { adjust, ..layout }));
            }
        }
    }
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then((a.2.offset, a.2.width).cmp(&(b.2.offset, b.2.width)))
            .then(b.1.len().cmp(&a.1.len()))
    });
    // Frames that start where the capture's pieces start are the strongest
    // evidence (a constant header byte makes shifted frames chain too);
    // then bytes covered; then the simplest layout.
    type Scored = ((usize, usize), usize, Vec<u8>, LenLayout);
    let mut best: Option<Scored> = None;
    for (_, sync, layout) in scored.into_iter().take(8) {
        let (covered, frames, aligned) = chain(streams, &sync, layout);
        if frames < 2 {
            continue;
        }
        let score = (aligned, covered);
        let better = match &best {
            None => true,
            Some((c, _, s, l)) => {
                score > *c
                    || (score == *c
                        && (layout.offset, layout.width, usize::MAX - sync.len())
                            < (l.offset, l.width, usize::MAX - s.len()))
            }
        };
        if better {
            best = Some((score, frames, sync, layout));
        }
    }
    let best = best.map(|((_, covered), frames, sync, layout)| (covered, frames, sync, layout));
    if let Some((covered, _, sync, layout)) = best
        && covered * 10 >= total * 6
    {
        let (messages, skipped) = cut_by_length(streams, &sync, layout, config);
        return Segmented {
            messages,
            method: BoundaryMethod::SyncLength,
            skipped,
            text: false,
        };
    }
    let pieces: usize = streams.iter().map(|s| s.boundaries.len()).sum();
    if pieces > streams.len() || candidates.is_empty() {
        return by_pieces(streams, config);
    }
    // One piece per stream (a raw file) and no length field: split before
    // the most frequent sync candidate.
    match candidates.first() {
        Some(sync) => by_sync(streams, sync, config),
        None => by_pieces(streams, config),
    }
}

/// Sync candidates: byte sequences that start many pieces (or the stream),
/// and the most frequent bytes, most common first.
fn sync_candidates(streams: &[ByteStream]) -> Vec<Vec<u8>> {
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut starts = 0usize;
    for s in streams {
        for b in &s.boundaries {
            starts += 1;
            for k in 1..=MAX_SYNC {
                if let Some(p) = s.bytes.get(b.offset..b.offset + k) {
                    *counts.entry(p.to_vec()).or_default() += 1;
                }
            }
        }
    }
    let mut out: Vec<(usize, Vec<u8>)> = counts
        .into_iter()
        .filter(|(_, n)| *n >= 2 || starts <= 2)
        .map(|(k, n)| (n, k))
        .collect();
    out.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.1.len().cmp(&b.1.len()))
            .then(a.1.cmp(&b.1))
    });
    out.truncate(12);
    let mut freq = [0usize; 256];
    for s in streams {
        for &b in &s.bytes {
            if let Some(c) = freq.get_mut(usize::from(b)) {
                *c += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..256).collect();
    order.sort_by_key(|&b| std::cmp::Reverse(freq.get(b).copied().unwrap_or(0)));
    let mut result: Vec<Vec<u8>> = out.into_iter().map(|(_, k)| k).collect();
    for b in order.into_iter().take(3) {
        let v = vec![u8::try_from(b).unwrap_or(0)];
        if !result.contains(&v) {
            result.push(v);
        }
    }
    result
}

/// Offsets of `sync` in each stream.
fn occurrences(streams: &[ByteStream], sync: &[u8]) -> Vec<Vec<usize>> {
    streams
        .iter()
        .map(|s| {
            let first = sync.first().copied().unwrap_or(0);
            s.bytes
                .iter()
                .enumerate()
                .filter(|(i, b)| {
                    **b == first && s.bytes.get(*i..i + sync.len()).is_some_and(|w| w == sync)
                })
                .map(|(i, _)| i)
                .collect()
        })
        .collect()
}

fn layouts(sync_len: usize) -> impl Iterator<Item = LenLayout> {
    (sync_len..sync_len + MAX_LEN_OFFSET).flat_map(|offset| {
        [
            (1, Endian::Big),
            (2, Endian::Big),
            (2, Endian::Little),
            (4, Endian::Big),
            (4, Endian::Little),
        ]
        .into_iter()
        .map(move |(width, endian)| LenLayout {
            offset,
            width,
            endian,
            adjust: 0,
        })
    })
}

/// The most common `distance to the next sync - field value`, if it explains
/// at least two gaps and half of them.
fn dominant_adjust(
    streams: &[ByteStream],
    occ: &[Vec<usize>],
    layout: LenLayout,
) -> Option<(i64, usize)> {
    // Plausible adjustments only (-16..=64): a fixed array, no hashing.
    let mut hist = [0usize; 81];
    let mut n = 0usize;
    for (s, o) in streams.iter().zip(occ) {
        for (k, &p) in o.iter().enumerate() {
            let next = o.get(k + 1).copied().unwrap_or(s.bytes.len());
            let Some(field) = s
                .bytes
                .get(p + layout.offset..p + layout.offset + layout.width)
            else {
                continue;
            };
            let Ok(v) = i64::try_from(layout.endian.read(field)) else {
                continue;
            };
            let dist = i64::try_from(next - p).unwrap_or(i64::MAX);
            n += 1;
            if let Ok(i) = usize::try_from(dist.saturating_sub(v).saturating_add(16))
                && let Some(h) = hist.get_mut(i)
            {
                *h += 1;
            }
        }
    }
    // The most common; among equals, the smallest |adjust|.
    let (i, &count) = hist.iter().enumerate().max_by(|a, b| {
        a.1.cmp(b.1)
            .then((b.0 as i64 - 16).abs().cmp(&(a.0 as i64 - 16).abs()))
    })?;
    let adj = i as i64 - 16;
    (count >= 2 && count * 3 >= n && (-16..=64).contains(&adj)).then_some((adj, count))
}

/// Walks each stream frame by frame; returns the bytes covered by frames
/// whose length lands on the next sync (or the stream's end), their count,
/// and how many of them start where a piece of the capture starts.
fn chain(streams: &[ByteStream], sync: &[u8], layout: LenLayout) -> (usize, usize, usize) {
    let mut covered = 0usize;
    let mut frames = 0usize;
    let mut aligned = 0usize;
    for s in streams {
        let bytes = &s.bytes;
        let mut p = 0usize;
        let mut b = 0usize;
        while p < bytes.len() {
            if bytes.get(p..p + sync.len()) == Some(sync)
                && let Some(len) = layout.frame_len(bytes, p)
                && lands(bytes, sync, p + len)
            {
                while s.boundaries.get(b).is_some_and(|x| x.offset < p) {
                    b += 1;
                }
                if s.boundaries.get(b).is_some_and(|x| x.offset == p) {
                    aligned += 1;
                }
                covered += len;
                frames += 1;
                p += len;
                continue;
            }
            p = next_sync(bytes, sync, p + 1);
        }
    }
    (covered, frames, aligned)
}

fn lands(bytes: &[u8], sync: &[u8], at: usize) -> bool {
    at == bytes.len() || bytes.get(at..at + sync.len()) == Some(sync)
}

fn next_sync(bytes: &[u8], sync: &[u8], from: usize) -> usize {
    (from..bytes.len())
        .find(|&i| bytes.get(i..i + sync.len()) == Some(sync))
        .unwrap_or(bytes.len())
}

fn message(s: &ByteStream, stream: usize, start: usize, end: usize) -> Option<Message> {
    let bytes = s.bytes.get(start..end)?.to_vec();
    let b = s.boundary_at(end.saturating_sub(1));
    Some(Message {
        bytes,
        direction: s.direction,
        stream: stream as u64,
        time: b.and_then(|b| b.time),
        seq: b.map_or(0, |b| b.seq),
    })
}

fn cut_by_length(
    streams: &[ByteStream],
    sync: &[u8],
    layout: LenLayout,
    config: &Config,
) -> (Vec<Message>, u64) {
    let mut out = Vec::new();
    let mut skipped = 0u64;
    for (idx, s) in streams.iter().enumerate() {
        let bytes = &s.bytes;
        let mut p = 0usize;
        while p < bytes.len() && out.len() < config.max_messages {
            if bytes.get(p..p + sync.len()) == Some(sync)
                && let Some(len) = layout.frame_len(bytes, p)
                && (lands(bytes, sync, p + len)
                    || s.gaps.contains(&(p + len))
                    || next_sync(bytes, sync, p + 1) >= p + len)
                && !s.gaps.iter().any(|&g| g > p && g < p + len)
            {
                if let Some(m) = message(s, idx, p, p + len) {
                    out.push(m);
                }
                p += len;
                continue;
            }
            let next = next_sync(bytes, sync, p + 1);
            skipped += (next - p) as u64;
            p = next;
        }
    }
    (out, skipped)
}

fn by_sync(streams: &[ByteStream], sync: &[u8], config: &Config) -> Segmented {
    let mut out = Vec::new();
    let mut skipped = 0u64;
    for (idx, s) in streams.iter().enumerate() {
        let mut p = next_sync(&s.bytes, sync, 0);
        skipped += p as u64;
        while p < s.bytes.len() && out.len() < config.max_messages {
            let next = next_sync(&s.bytes, sync, p + 1);
            if let Some(m) = message(s, idx, p, next) {
                out.push(m);
            }
            p = next;
        }
    }
    Segmented {
        messages: out,
        method: BoundaryMethod::Sync,
        skipped,
        text: false,
    }
}

/// Messages are the capture's pieces; with `config.gap`, only pauses at
/// least that long separate messages (a serial line).
fn by_pieces(streams: &[ByteStream], config: &Config) -> Segmented {
    let mut out = Vec::new();
    let gap = config.gap.map(|d: Duration| d.as_secs_f64());
    for (idx, s) in streams.iter().enumerate() {
        let mut cuts: Vec<usize> = Vec::new();
        let mut prev_time: Option<f64> = None;
        for b in &s.boundaries {
            let cut = match (gap, b.time, prev_time) {
                (Some(g), Some(t), Some(p)) => t - p >= g,
                _ => true,
            };
            if cut || b.offset == 0 || s.gaps.contains(&b.offset) {
                cuts.push(b.offset);
            }
            prev_time = b.time.or(prev_time);
        }
        cuts.push(s.bytes.len());
        cuts.dedup();
        for w in cuts.windows(2) {
            if let [a, b] = w
                && b > a
                && out.len() < config.max_messages
                && let Some(m) = message(s, idx, *a, *b)
            {
                out.push(m);
            }
        }
    }
    Segmented {
        messages: out,
        method: BoundaryMethod::Transport,
        skipped: 0,
        text: false,
    }
}

/// The line terminator: `\r\n`, `\r` or `\n`, whichever the data uses.
pub(crate) fn terminator(streams: &[ByteStream]) -> &'static [u8] {
    let (mut cr, mut lf, mut crlf) = (0usize, 0usize, 0usize);
    for s in streams {
        for (i, &b) in s.bytes.iter().enumerate() {
            match b {
                b'\r' => {
                    cr += 1;
                    if s.bytes.get(i + 1) == Some(&b'\n') {
                        crlf += 1;
                    }
                }
                b'\n' => lf += 1,
                _ => {}
            }
        }
    }
    if crlf * 10 >= cr.max(lf) * 8 && crlf > 0 {
        b"\r\n"
    } else if cr >= lf {
        b"\r"
    } else {
        b"\n"
    }
}

fn lines(streams: &[ByteStream], config: &Config) -> Segmented {
    let term = terminator(streams);
    let mut out = Vec::new();
    let mut skipped = 0u64;
    for (idx, s) in streams.iter().enumerate() {
        let mut start = 0usize;
        let mut i = 0usize;
        while i < s.bytes.len() && out.len() < config.max_messages {
            let at_term = s.bytes.get(i..i + term.len()) == Some(term);
            if at_term || i - start >= MAX_LINE {
                // NULs around lines are line noise, not content.
                let mut a = start;
                let mut b = i;
                while a < b && s.bytes.get(a) == Some(&0) {
                    a += 1;
                }
                while b > a && s.bytes.get(b - 1) == Some(&0) {
                    b -= 1;
                }
                skipped += (a - start + i - b) as u64;
                if b > a
                    && let Some(m) = message(s, idx, a, b)
                {
                    out.push(m);
                }
                i += if at_term { term.len() } else { 0 };
                start = i;
                if !at_term {
                    i += 1;
                }
                continue;
            }
            i += 1;
        }
        let tail = s.bytes.get(start..).unwrap_or(&[]);
        let content = tail.iter().filter(|&&b| b != 0).count();
        skipped += (tail.len() - content) as u64;
        if content > 0 {
            let a = start + tail.iter().position(|&b| b != 0).unwrap_or(0);
            let b = start + tail.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            if let Some(m) = message(s, idx, a, b) {
                out.push(m);
            }
        }
    }
    Segmented {
        messages: out,
        method: BoundaryMethod::Delimiter,
        skipped,
        text: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_frames_in_a_raw_stream_with_noise() {
        let frame_a = [0xFFu8, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
        let frame_b = [
            0xFF, 0x0C, 0x01, 0x00, 0x01, 0x01, 0x08, 0x38, 0x38, 0x38, 0x38, 0xF6,
        ];
        let mut bytes = Vec::new();
        for i in 0..10 {
            bytes.extend_from_slice(&frame_a);
            if i == 3 {
                bytes.extend_from_slice(&[0x00, 0x13, 0x37]);
            }
            bytes.extend_from_slice(&frame_b);
        }
        let streams = [ByteStream::new(bytes, None)];
        let seg = segment(&streams, &Config::default());
        assert_eq!(seg.method, BoundaryMethod::SyncLength);
        assert_eq!(seg.messages.len(), 20);
        assert_eq!(seg.skipped, 3);
        assert!(
            seg.messages
                .iter()
                .all(|m| m.bytes == frame_a || m.bytes == frame_b)
        );
    }
}
