//! Record scanner for the TCP 2570 status stream.

/// Default bound on a record's length (from `(` to its terminator): the
/// standard Q1 line is 46 bytes, the longest Qx-family lines about 110.
pub const DEFAULT_MAX_RECORD_LEN: usize = 128;

/// Outcome of scanning a byte buffer for the next message.
///
/// The three parser crates answer with this same shape (`rewire_upsilon`,
/// `rewire_websentry` and `rewire_powerone` each have a `Scan<T>`); the
/// transport's framers rely on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan<T> {
    /// A complete message starts `skipped` bytes into the buffer and occupies
    /// `len` bytes, so the caller consumes `skipped + len` bytes.
    Found {
        /// Garbage bytes before the message, which may be discarded.
        skipped: usize,
        /// Bytes the message occupies (for text records, with the
        /// terminator bytes consumed with it).
        len: usize,
        /// The message.
        message: T,
    },
    /// No complete message yet. The first `skipped` bytes can never begin a
    /// message and may be discarded (counted as garbage); the rest may be the
    /// start of one: feed more bytes.
    Partial {
        /// Garbage bytes that may be discarded.
        skipped: usize,
    },
}

/// Reports whether `b` ends a record (the `(` of the next record also does,
/// for UPSes that drop the CR).
const fn is_terminator(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | 0)
}

/// Finds the next status record in `buf`.
///
/// A record starts at `(` and ends before the first CR, LF or NUL, or before
/// the next `(` when the CR is missing. The returned message is the record
/// without its terminator (`(238.7 … 00001000`), ready for
/// [`Status::parse`](crate::Status::parse). `len` also covers the CR/LF/NUL
/// bytes that directly follow the record within `buf`, so NUL padding and
/// CR LF pairs are consumed with the record rather than counted as garbage
/// (when a read splits such a run, its tail is counted as skipped instead).
///
/// Bytes before a `(` are garbage. A record longer than `max_record_len`
/// is skipped as garbage too: its `(` and the bytes after it are reported
/// as skipped up to the next `(`, and scanning goes on from there.
///
/// ```
/// use rewire_upsilon::{scan, Scan, DEFAULT_MAX_RECORD_LEN};
/// let stream = b"\0\0(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r\n(238.";
/// let Scan::Found { skipped, len, message } = scan(stream, DEFAULT_MAX_RECORD_LEN) else {
///     panic!()
/// };
/// assert_eq!((skipped, len), (2, 48));
/// assert_eq!(message, b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000");
/// assert_eq!(scan(&stream[50..], DEFAULT_MAX_RECORD_LEN), Scan::Partial { skipped: 0 });
/// ```
pub fn scan(buf: &[u8], max_record_len: usize) -> Scan<&[u8]> {
    scan_inner(buf, max_record_len, false)
}

/// Like [`scan`], for the end of a stream: the end of `buf` also ends a
/// record, so a last record without terminator is still found.
///
/// ```
/// use rewire_upsilon::{scan_final, Scan, DEFAULT_MAX_RECORD_LEN};
/// let tail = b"xx(230.0 230.0 230.0 000 50.0 13.6 --.- 00001000";
/// assert!(matches!(
///     scan_final(tail, DEFAULT_MAX_RECORD_LEN),
///     Scan::Found { skipped: 2, len: 46, .. }
/// ));
/// ```
pub fn scan_final(buf: &[u8], max_record_len: usize) -> Scan<&[u8]> {
    scan_inner(buf, max_record_len, true)
}

fn scan_inner(buf: &[u8], max_record_len: usize, at_end: bool) -> Scan<&[u8]> {
    let mut from = 0usize;
    loop {
        let rest = buf.get(from..).unwrap_or_default();
        // Records usually follow each other directly: look before searching.
        let open = match rest.first() {
            Some(b'(') => Some(0),
            _ => memchr::memchr(b'(', rest),
        };
        let Some(open) = open else {
            return Scan::Partial { skipped: buf.len() };
        };
        let start = from + open;
        let body = buf.get(start + 1..).unwrap_or_default();
        // Only look as far as a record may reach: bounded work per call.
        let limit = body.len().min(max_record_len);
        let window = body.get(..limit).unwrap_or_default();
        let end = standard_end(window)
            .or_else(|| record_end(window))
            .map(|i| start + 1 + i);
        let end = match end {
            Some(end) => end,
            // No terminator, and the record is already too long: skip it.
            None if body.len() >= max_record_len => {
                from = start + 1;
                continue;
            }
            None if at_end => buf.len(),
            None => return Scan::Partial { skipped: start },
        };
        let message = buf.get(start..end).unwrap_or_default();
        let trailing = buf
            .get(end..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| is_terminator(b))
            .count();
        return Scan::Found {
            skipped: start,
            len: end - start + trailing,
            message,
        };
    }
}

/// Length of a standard Q1 record after its `(` (`238.7 … 00001000`).
const STANDARD_BODY_LEN: usize = 45;

/// Returns [`STANDARD_BODY_LEN`] when `window` holds a record of the
/// standard length: a terminator there and none, nor a `(`, before it.
/// Otherwise `None`, and [`record_end`] searches.
///
/// Nearly every record has that length, and checking a guess eight bytes
/// at a time costs less than two searches. The check may say "not sure"
/// for a standard record (any byte below 0x10 makes it give up), never
/// "yes" for another one.
fn standard_end(window: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    if !is_terminator(*window.get(STANDARD_BODY_LEN)?) {
        return None;
    }
    let body = window.get(..STANDARD_BODY_LEN)?;
    // Five whole words, then the last eight bytes (three of them again).
    let last = body.last_chunk::<8>()?;
    let words = body
        .chunks_exact(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .chain(core::iter::once(u64::from_le_bytes(*last)));
    // A byte below 0x10 (NUL, LF, CR among them) or a `(` (a zero after
    // XOR with it) sets that byte's high bit here; set bits above the first
    // may be spurious, but "any" is exact.
    let flagged = words.fold(0u64, |flagged, word| {
        let paren = word ^ (ONES * u64::from(b'('));
        flagged | (word.wrapping_sub(ONES * 0x10) & !word) | (paren.wrapping_sub(ONES) & !paren)
    });
    ((flagged & HIGHS) == 0).then_some(STANDARD_BODY_LEN)
}

/// Returns the index of the first byte of `window` that ends a record: a
/// terminator, or the `(` of the next record.
fn record_end(window: &[u8]) -> Option<usize> {
    // Two SIMD passes: the terminators, then a `(` before the first of them.
    let terminator = memchr::memchr3(b'\r', b'\n', 0, window);
    let before = window.get(..terminator.unwrap_or(window.len()))?;
    memchr::memchr(b'(', before).or(terminator)
}
