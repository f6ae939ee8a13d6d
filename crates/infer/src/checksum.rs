//! The checksum: where it is, what it covers, and how it is computed.
//!
//! Every candidate position (the last 1, 2 or 4 bytes, or a fixed offset
//! in the header) and range is tested against the messages, first with the
//! simple sums, then with CRCs whose parameters are solved from the data
//! ([`crate::crc`]).

use crate::crc::{self, CrcParams, CrcTable, Sample};
use crate::report::{Algorithm, ChecksumField, CrcReport, Endian, Evidence, Finding};

/// Fixed-offset checksums are looked for in the first bytes only.
const MAX_FIXED_OFFSET: usize = 16;
/// Ranges start at most this far in.
const MAX_RANGE_START: usize = 16;

/// Where a checksum is and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Offset from the start, or back from the end when `from_end`.
    offset: usize,
    from_end: bool,
    width: usize,
    endian: Endian,
    range_from: usize,
    range_to_end: usize,
}

impl Layout {
    /// Returns the covered range and the stored value, if `m` is long enough.
    fn bounds(&self, m: &[u8]) -> Option<(usize, usize, u64)> {
        let at = if self.from_end {
            m.len().checked_sub(self.offset)?
        } else {
            self.offset
        };
        let field = m.get(at..at.checked_add(self.width)?)?;
        let end = m.len().checked_sub(self.range_to_end)?;
        if self.range_from >= end {
            return None;
        }
        Some((self.range_from, end, self.endian.read(field)))
    }

    /// Returns the covered bytes and the stored value, if `m` is long enough.
    fn split<'a>(&self, m: &'a [u8]) -> Option<(&'a [u8], u64)> {
        let (a, b, v) = self.bounds(m)?;
        Some((m.get(a..b)?, v))
    }
}

fn simple(alg: Algorithm, data: &[u8]) -> u64 {
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    match alg {
        Algorithm::Sum8 => sum & 0xff,
        Algorithm::Sum8TwosComplement => sum.wrapping_neg() & 0xff,
        Algorithm::Sum8OnesComplement => !sum & 0xff,
        Algorithm::Xor8 => u64::from(data.iter().fold(0u8, |a, &b| a ^ b)),
        Algorithm::Sum16 => sum & 0xffff,
        Algorithm::Crc => u64::MAX,
    }
}

/// What the search is told about the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Known {
    /// Bytes `0..sync_len` are the sync.
    pub(crate) sync_len: usize,
    /// The length field's offset and width.
    pub(crate) length: Option<(usize, usize)>,
}

impl Known {
    fn overlaps(&self, offset: usize, width: usize) -> bool {
        let end = offset + width;
        offset < self.sync_len || self.length.is_some_and(|(o, w)| offset < o + w && o < end)
    }
}

fn layouts(min_len: usize, known: Known) -> Vec<Layout> {
    let mut out = Vec::new();
    for width in [1usize, 2, 4] {
        let orders: &[Endian] = if width == 1 {
            &[Endian::Big]
        } else {
            &[Endian::Big, Endian::Little]
        };
        for &endian in orders {
            // Trailing: covers bytes from `range_from` up to the field.
            for range_from in 0..=MAX_RANGE_START {
                if range_from + width + 1 > min_len {
                    break;
                }
                out.push(Layout {
                    offset: width,
                    from_end: true,
                    width,
                    endian,
                    range_from,
                    range_to_end: width,
                });
            }
        }
    }
    for width in [1usize, 2, 4] {
        let orders: &[Endian] = if width == 1 {
            &[Endian::Big]
        } else {
            &[Endian::Big, Endian::Little]
        };
        for &endian in orders {
            // Fixed offset in the header: covers from after it to the end.
            for offset in 0..MAX_FIXED_OFFSET {
                if offset + width >= min_len || known.overlaps(offset, width) {
                    continue;
                }
                for range_from in offset + width..=offset + width + 8 {
                    if range_from + 2 > min_len + 1 {
                        break;
                    }
                    out.push(Layout {
                        offset,
                        from_end: false,
                        width,
                        endian,
                        range_from,
                        range_to_end: 0,
                    });
                }
            }
        }
    }
    out
}

const SIMPLE: [Algorithm; 5] = [
    Algorithm::Sum8,
    Algorithm::Sum8TwosComplement,
    Algorithm::Sum8OnesComplement,
    Algorithm::Xor8,
    Algorithm::Sum16,
];

/// A hypothesis and how many messages it explains.
#[derive(Debug, Clone, Copy)]
struct Hit {
    layout: Layout,
    algorithm: Algorithm,
    crc: Option<(CrcParams, bool)>,
    agree: usize,
}

impl Hit {
    fn width_bytes(&self) -> usize {
        self.layout.width
    }
}

/// Finds the checksum among `sample` (distinct messages). `min_agree` is
/// the fraction of messages that must match (the rest may be corrupt).
pub(crate) fn find(
    sample: &[&[u8]],
    min_messages: usize,
    known: Known,
) -> (Finding<ChecksumField>, Option<ChecksumCheck>) {
    if sample.len() < min_messages {
        return (
            Finding::not_found(format!(
                "too few distinct messages ({} < {min_messages})",
                sample.len()
            )),
            None,
        );
    }
    let min_len = sample.iter().map(|m| m.len()).min().unwrap_or(0);
    let n = sample.len();
    let need = (n * 8).div_ceil(10).max(min_messages);
    let all = layouts(min_len, known);

    // 1. The simple sums, from prefix sums and xors of each message.
    let prefix: Vec<(Vec<u64>, Vec<u8>)> = sample
        .iter()
        .map(|m| {
            let mut sums = Vec::with_capacity(m.len() + 1);
            let mut xors = Vec::with_capacity(m.len() + 1);
            let (mut s, mut x) = (0u64, 0u8);
            sums.push(0);
            xors.push(0);
            for &b in *m {
                s += u64::from(b);
                x ^= b;
                sums.push(s);
                xors.push(x);
            }
            (sums, xors)
        })
        .collect();
    let simple_at = |alg: Algorithm, k: usize, a: usize, b: usize| -> Option<u64> {
        let (sums, xors) = prefix.get(k)?;
        let sum = sums.get(b)?.checked_sub(*sums.get(a)?)?;
        Some(match alg {
            Algorithm::Sum8 => sum & 0xff,
            Algorithm::Sum8TwosComplement => sum.wrapping_neg() & 0xff,
            Algorithm::Sum8OnesComplement => !sum & 0xff,
            Algorithm::Xor8 => u64::from(xors.get(b)? ^ xors.get(a)?),
            Algorithm::Sum16 => sum & 0xffff,
            Algorithm::Crc => return None,
        })
    };
    let mut hits: Vec<Hit> = Vec::new();
    for layout in &all {
        for alg in SIMPLE {
            let fits_width = match alg {
                Algorithm::Sum16 => layout.width == 2,
                _ => layout.width == 1,
            };
            if !fits_width {
                continue;
            }
            let mut agree = 0usize;
            let mut miss = 0usize;
            let mut values = [None::<u64>; 3];
            for (k, m) in sample.iter().enumerate() {
                let Some((a, b, v)) = layout.bounds(m) else {
                    miss += 1;
                    continue;
                };
                if simple_at(alg, k, a, b) == Some(v) {
                    agree += 1;
                    note_value(&mut values, v);
                } else {
                    miss += 1;
                }
                if miss > n - need {
                    break;
                }
            }
            // A field that never changes is a constant, not a checksum.
            if agree >= need && values.iter().all(Option::is_some) {
                hits.push(Hit {
                    layout: *layout,
                    algorithm: alg,
                    crc: None,
                    agree,
                });
            }
        }
    }
    if hits.is_empty() {
        // 2. CRCs, solved from the data. Once one field position explains
        // every message, only its other ranges are still tried.
        let mut full: Option<Layout> = None;
        // Widest first: a byte of a CRC-32 is itself a CRC-8 of the bytes
        // before it when the polynomial has a degree-8 factor.
        let mut by_width: Vec<&Layout> = all.iter().collect();
        by_width.sort_by_key(|l| std::cmp::Reverse(l.width));
        for layout in by_width {
            if let Some(f) = full
                && (f.offset, f.from_end, f.width, f.endian)
                    != (layout.offset, layout.from_end, layout.width, layout.endian)
            {
                continue;
            }
            let width = u32::try_from(layout.width * 8).unwrap_or(8);
            let samples: Vec<Sample<'_>> = sample
                .iter()
                .filter_map(|m| layout.split(m))
                .map(|(data, value)| Sample { data, value })
                .collect();
            if samples.len() < need {
                continue;
            }
            // A CRC over varying data takes many values; header fields
            // (flags, addresses, codes) do not.
            let mut values: Vec<u64> = samples.iter().map(|s| s.value).collect();
            values.sort_unstable();
            values.dedup();
            if values.len() < 3 || values.len() * 3 < samples.len() {
                continue;
            }
            let Some(sol) = crc::solve(width, &samples) else {
                continue;
            };
            // A CRC has 3w unknown bits; want clearly more equations than that.
            if sol.agree >= need && sol.agree >= 5 {
                hits.push(Hit {
                    layout: *layout,
                    algorithm: Algorithm::Crc,
                    crc: Some((sol.params, sol.unique)),
                    agree: sol.agree,
                });
                if sol.agree == n {
                    full = Some(*layout);
                }
            }
        }
        if hits.is_empty() {
            // 3. The catalogue, for data without equal-length pairs.
            for layout in &all {
                let width = u32::try_from(layout.width * 8).unwrap_or(8);
                for params in crc::catalogue(width) {
                    let table = CrcTable::new(params);
                    let agree = sample
                        .iter()
                        .filter_map(|m| layout.split(m))
                        .filter(|(d, v)| table.compute(d) == *v)
                        .count();
                    if agree >= need && agree >= 5 {
                        hits.push(Hit {
                            layout: *layout,
                            algorithm: Algorithm::Crc,
                            crc: Some((params, true)),
                            agree,
                        });
                    }
                }
            }
        }
    }
    // A field inside a wider one that explains as many messages is part of it.
    let inside = |h: &Hit, g: &Hit| {
        g.width_bytes() > h.width_bytes()
            && g.agree >= h.agree
            && g.layout.from_end == h.layout.from_end
            && if h.layout.from_end {
                h.layout.offset <= g.layout.offset
            } else {
                g.layout.offset <= h.layout.offset
                    && h.layout.offset + h.layout.width <= g.layout.offset + g.layout.width
            }
    };
    let hits: Vec<Hit> = hits
        .iter()
        .filter(|h| !hits.iter().any(|g| inside(h, g)))
        .copied()
        .collect();
    let Some(best) = hits.iter().max_by_key(|h| h.agree).copied() else {
        return (
            Finding::not_found("no sum, xor or CRC over any range matches the messages"),
            None,
        );
    };
    // Several explanations at different places, or different algorithms at
    // the same place, are ambiguous: say so rather than guess.
    //
    // One exception: with a two's or ones' complement sum or a xor, every
    // byte of `checksum + range` is the checksum of the others (they sum or
    // xor to a constant), so a trailing field over `X..end-1` and a field at
    // `X` over `X+1..end` are one and the same rule; the trailing one is
    // reported.
    let best = hits
        .iter()
        .filter(|h| h.agree == best.agree && symmetric_twin(h, &best))
        .max_by_key(|h| h.layout.from_end)
        .copied()
        .unwrap_or(best);
    let rivals = hits
        .iter()
        .filter(|h| h.agree == best.agree && !same_field(h, &best) && !symmetric_twin(h, &best))
        .count();
    if rivals > 0 {
        return (
            Finding::not_found(format!(
                "ambiguous: {} different checksums explain the same {} messages",
                rivals + 1,
                best.agree
            )),
            None,
        );
    }
    // Among ranges of the same field the data cannot decide: leading bytes
    // that never change are absorbed by a CRC's init, and zero bytes do not
    // change a sum. Prefer a catalogue CRC, then plain init/xorout (0 or all
    // ones), then the earliest start.
    let chosen = hits
        .iter()
        .filter(|h| h.agree == best.agree && same_field(h, &best))
        .min_by_key(|h| {
            let (named, plain) = match h.crc {
                Some((p, _)) => {
                    let ones = if p.width >= 64 {
                        u64::MAX
                    } else {
                        (1 << p.width) - 1
                    };
                    let nice = |v: u64| v == 0 || v == ones;
                    (
                        crc::catalogue_name(&p).is_none(),
                        !(nice(p.init) && nice(p.xorout)),
                    )
                }
                None => (false, false),
            };
            (named, plain, h.layout.range_from)
        })
        .copied()
        .unwrap_or(best);
    let check = ChecksumCheck::new(&chosen);
    let field = ChecksumField {
        offset: chosen.layout.offset,
        from_end: chosen.layout.from_end,
        width: chosen.layout.width,
        endian: chosen.layout.endian,
        range_from: chosen.layout.range_from,
        range_to_end: chosen.layout.range_to_end,
        algorithm: chosen.algorithm,
        crc: chosen.crc.map(|(p, unique)| CrcReport {
            params: p.into(),
            name: crc::catalogue_name(&p).map(str::to_owned),
            init_xorout_unique: unique,
        }),
        evidence: Evidence::new(chosen.agree, n),
    };
    (Finding::Found(field), Some(check))
}

/// The bytes a field and its range cover together, as `start..end - tail`.
fn closure(h: &Hit) -> Option<(usize, usize)> {
    let l = &h.layout;
    if l.from_end && l.range_to_end == l.width && l.offset == l.width {
        Some((l.range_from, 0))
    } else if !l.from_end && l.range_from == l.offset + l.width && l.range_to_end == 0 {
        Some((l.offset, 0))
    } else {
        None
    }
}

/// Two hits of one symmetric algorithm (the covered bytes and the field
/// sum or xor to a constant) over the same bytes.
fn symmetric_twin(a: &Hit, b: &Hit) -> bool {
    matches!(
        a.algorithm,
        Algorithm::Sum8TwosComplement | Algorithm::Sum8OnesComplement | Algorithm::Xor8
    ) && a.algorithm == b.algorithm
        && closure(a).is_some()
        && closure(a) == closure(b)
}

/// Two hits describe the same stored field (position, width, byte order)
/// with the same algorithm (for CRCs: polynomial and reflection; init and
/// xorout trade off against the range start).
fn same_field(a: &Hit, b: &Hit) -> bool {
    let generator = |h: &Hit| h.crc.map(|(p, _)| (p.poly, p.refin, p.refout));
    a.layout.offset == b.layout.offset
        && a.layout.from_end == b.layout.from_end
        && a.layout.width == b.layout.width
        && a.layout.endian == b.layout.endian
        && a.algorithm == b.algorithm
        && generator(a) == generator(b)
}

fn note_value(values: &mut [Option<u64>; 3], v: u64) {
    for slot in values.iter_mut() {
        match slot {
            Some(x) if *x == v => return,
            Some(_) => {}
            None => {
                *slot = Some(v);
                return;
            }
        }
    }
}

/// A found checksum, ready to check every message.
#[derive(Debug, Clone)]
pub(crate) struct ChecksumCheck {
    layout: Layout,
    algorithm: Algorithm,
    table: Option<CrcTable>,
}

impl ChecksumCheck {
    fn new(hit: &Hit) -> Self {
        Self {
            layout: hit.layout,
            algorithm: hit.algorithm,
            table: hit.crc.map(|(p, _)| CrcTable::new(p)),
        }
    }

    /// Returns whether `m`'s checksum matches.
    pub(crate) fn matches(&self, m: &[u8]) -> bool {
        let Some((data, v)) = self.layout.split(m) else {
            return false;
        };
        match &self.table {
            Some(t) => t.compute(data) == v,
            None => simple(self.algorithm, data) == v,
        }
    }

    /// The header bytes the field occupies (fixed offset), for field search.
    pub(crate) fn fixed(&self) -> Option<(usize, usize)> {
        (!self.layout.from_end).then_some((self.layout.offset, self.layout.width))
    }

    /// The width of a trailing field.
    pub(crate) fn trailing(&self) -> usize {
        if self.layout.from_end {
            self.layout.offset
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn powerone_like() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for f in 1..9u8 {
            let mut m = vec![0xff, 9, 1, 0, 1, 1, f, f.wrapping_mul(17)];
            let sum = m.iter().fold(0u8, |a, &b| a.wrapping_add(b));
            m.push(sum);
            out.push(m);
        }
        out
    }

    #[test]
    fn finds_a_trailing_sum() {
        let msgs = powerone_like();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let known = Known {
            sync_len: 1,
            length: Some((1, 1)),
        };
        let (f, _) = find(&refs, 4, known);
        let c = f.found().expect("found");
        assert_eq!(c.algorithm, Algorithm::Sum8);
        assert_eq!(
            (c.offset, c.from_end, c.range_from, c.range_to_end),
            (1, true, 0, 1)
        );
    }

    #[test]
    fn too_few_messages_is_not_found() {
        let msgs = powerone_like();
        let refs: Vec<&[u8]> = msgs.iter().take(2).map(Vec::as_slice).collect();
        let known = Known {
            sync_len: 1,
            length: None,
        };
        assert!(find(&refs, 4, known).0.found().is_none());
    }

    #[test]
    fn random_bytes_have_no_checksum() {
        let mut rng = fastrand::Rng::with_seed(5);
        let msgs: Vec<Vec<u8>> = (0..20)
            .map(|_| (0..12).map(|_| rng.u8(..)).collect())
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let known = Known {
            sync_len: 0,
            length: None,
        };
        assert!(find(&refs, 4, known).0.found().is_none());
    }
}
