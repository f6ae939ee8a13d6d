//! UPSilon / Megatec framing over [`rewire_upsilon::scan`] and
//! [`rewire_upsilon::scan_final`].

use super::{Framing, Step, subslice_range};

/// Frames the `(`-started, CR-terminated status records of the UPSilon TCP
/// 2570 stream (and Megatec serial replies).
///
/// Each message is the record **without** its terminator, ready for
/// `rewire_upsilon::Status::parse`; the CR/LF/NUL bytes after it are consumed
/// with it. A record longer than the maximum record length is skipped as
/// garbage up to the next `(`. At end of stream a last record without
/// terminator is still returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upsilon {
    max_record_len: usize,
}

impl Upsilon {
    /// Creates the framing with a bound on a record's length (from `(` to its
    /// terminator).
    #[must_use]
    pub const fn new(max_record_len: usize) -> Self {
        Self { max_record_len }
    }

    /// Returns the bound on a record's length.
    #[must_use]
    pub const fn max_record_len(&self) -> usize {
        self.max_record_len
    }
}

impl Default for Upsilon {
    /// Uses `rewire_upsilon::DEFAULT_MAX_RECORD_LEN`.
    fn default() -> Self {
        Self::new(rewire_upsilon::DEFAULT_MAX_RECORD_LEN)
    }
}

fn step(buf: &[u8], scan: rewire_upsilon::Scan<&[u8]>) -> Step {
    match scan {
        rewire_upsilon::Scan::Found {
            skipped,
            len,
            message,
        } => {
            let span = skipped..skipped.saturating_add(len);
            // The record is a sub-slice of the consumed bytes (terminators
            // excluded); fall back to the whole span if it is not.
            let message = subslice_range(buf, message)
                .filter(|r| r.start >= span.start && r.end <= span.end)
                .unwrap_or(span);
            Step::Found {
                skipped,
                len,
                message,
            }
        }
        rewire_upsilon::Scan::Partial { skipped } => Step::Partial { skipped },
    }
}

impl Framing for Upsilon {
    fn scan(&mut self, buf: &[u8]) -> Step {
        step(buf, rewire_upsilon::scan(buf, self.max_record_len))
    }

    fn finish(&mut self, buf: &[u8]) -> Step {
        step(buf, rewire_upsilon::scan_final(buf, self.max_record_len))
    }

    /// NUL, CR and LF between records are the stream's padding (RupsMon
    /// pads with NULs; a read may split a CR LF pair): never garbage.
    fn is_filler(&self, skipped: &[u8]) -> bool {
        skipped.iter().all(|&b| matches!(b, 0 | b'\r' | b'\n'))
    }
}
