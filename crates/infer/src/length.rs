//! The length field: the offset, width and byte order whose value, plus a
//! constant, is the message length in (almost) every message.

use crate::report::{Endian, Evidence, Finding, LengthField};

/// Length fields are looked for in the first bytes only.
const MAX_OFFSET: usize = 16;

/// Finds the length field among `messages` (distinct messages).
pub(crate) fn find(
    messages: &[&[u8]],
    min_messages: usize,
    sync_len: usize,
) -> Finding<LengthField> {
    if messages.len() < min_messages {
        return Finding::not_found(format!(
            "too few distinct messages ({} < {min_messages})",
            messages.len()
        ));
    }
    let mut lengths: Vec<usize> = messages.iter().map(|m| m.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();
    if lengths.len() < 2 {
        return Finding::not_found("every message has the same length");
    }
    let n = messages.len();
    let mut best: Option<(usize, LengthField)> = None;
    for offset in sync_len..MAX_OFFSET {
        for (width, endian) in [
            (4, Endian::Big),
            (4, Endian::Little),
            (2, Endian::Big),
            (2, Endian::Little),
            (1, Endian::Big),
        ] {
            // Plausible adjustments only (-16..=64): a fixed array, no hashing.
            let mut hist = [0usize; 81];
            let mut seen = 0usize;
            for m in messages {
                let Some(field) = m.get(offset..offset + width) else {
                    continue;
                };
                seen += 1;
                let v = i64::try_from(endian.read(field)).unwrap_or(i64::MAX);
                let len = i64::try_from(m.len()).unwrap_or(0);
                if let Ok(i) = usize::try_from(len.saturating_sub(v).saturating_add(16))
                    && let Some(h) = hist.get_mut(i)
                {
                    *h += 1;
                }
            }
            let Some((i, &agree)) = hist.iter().enumerate().max_by(|a, b| {
                a.1.cmp(b.1)
                    .then((b.0 as i64 - 16).abs().cmp(&(a.0 as i64 - 16).abs()))
            }) else {
                continue;
            };
            let adjust = i as i64 - 16;
            // Lengths must vary among the agreeing messages, and the field
            // must be inside every message it describes.
            if agree * 10 < n * 9 || seen * 10 < n * 9 || !(-16..=64).contains(&adjust) {
                continue;
            }
            let distinct_lengths = {
                let mut l: Vec<usize> = messages
                    .iter()
                    .filter(|m| {
                        m.get(offset..offset + width).is_some_and(|f| {
                            i64::try_from(endian.read(f)).unwrap_or(0) + adjust
                                == i64::try_from(m.len()).unwrap_or(-1)
                        })
                    })
                    .map(|m| m.len())
                    .collect();
                l.sort_unstable();
                l.dedup();
                l.len()
            };
            if distinct_lengths < 2 {
                continue;
            }
            let field = LengthField {
                offset,
                width,
                endian,
                adjust,
                counts_from: usize::try_from(adjust).ok(),
                evidence: Evidence::new(agree, n),
            };
            // Most agreement; then the widest field (a 1-byte length
            // after a zero byte is the low half of a 2-byte one); then the
            // first offset.
            let better = match &best {
                None => true,
                Some((a, f)) => {
                    agree > *a
                        || (agree == *a
                            && (width > f.width || (width == f.width && offset < f.offset)))
                }
            };
            if better {
                best = Some((agree, field));
            }
        }
    }
    match best {
        Some((_, f)) => Finding::Found(f),
        None => Finding::not_found("no field predicts the message length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_big_endian_payload_length() {
        let msgs: Vec<Vec<u8>> = (1..8u8)
            .map(|n| {
                let mut m = vec![0x70, 0x83, 0x9e, 0xaa, 0xbb, 0x00, n];
                m.extend((0..n).map(|i| i.wrapping_mul(37)));
                m
            })
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let f = find(&refs, 4, 3);
        let l = f.found().expect("found");
        assert_eq!(
            (l.offset, l.width, l.endian, l.adjust),
            (5, 2, Endian::Big, 7)
        );
        assert_eq!(l.counts_from, Some(7));
    }

    #[test]
    fn one_length_is_not_enough() {
        let msgs: Vec<Vec<u8>> = (0..8u8).map(|n| vec![0xff, 8, n, 0, 0, 0, 0, 0]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        assert!(find(&refs, 4, 1).found().is_none());
    }
}
