//! Power-One framing over [`rewire_powerone::scan`] and
//! [`rewire_powerone::scan_idle`].

use super::{Framing, Step};

/// Frames Power-One's `FF len …` serial frames; only checksum-valid frames
/// come out, everything else is skipped as garbage.
///
/// A noise `0xFF` with a large length byte can hold later frames back until
/// up to 255 bytes have arrived; call [`crate::framing::Framer::idle`] after
/// an inter-frame silence (the request/response helper does on every read
/// timeout) to pass over such a candidate. At end of stream the same idle
/// scan runs, so a capture's last reply is not lost behind noise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PowerOne;

fn step(scan: rewire_powerone::Scan<rewire_powerone::Frame<&[u8]>>) -> Step {
    match scan {
        rewire_powerone::Scan::Found {
            skipped,
            len,
            message: _,
        } => {
            // The frame is exactly the `len` bytes after the garbage.
            let message = skipped..skipped.saturating_add(len);
            Step::Found {
                skipped,
                len,
                message,
            }
        }
        rewire_powerone::Scan::Partial { skipped } => Step::Partial { skipped },
    }
}

impl Framing for PowerOne {
    fn scan(&mut self, buf: &[u8]) -> Step {
        step(rewire_powerone::scan(buf))
    }

    fn idle(&mut self, buf: &[u8]) -> Step {
        step(rewire_powerone::scan_idle(buf))
    }

    fn finish(&mut self, buf: &[u8]) -> Step {
        step(rewire_powerone::scan_idle(buf))
    }
}
