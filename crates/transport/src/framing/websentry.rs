//! WebSentry framing over [`rewire_websentry::scan`].

use super::{Framing, Step};

/// Frames WebSentry's `70 83 9E`-prefixed, length-delimited binary frames.
///
/// Frames are cut by magic and length; the CRC is **not** checked here (a bad
/// CRC still says where the next frame starts), so callers check it with
/// `rewire_websentry::Frame::checksum_ok` on the message bytes. The longest frame
/// is bounded by the protocol's length field, well under the default buffer
/// limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebSentry;

impl Framing for WebSentry {
    fn scan(&mut self, buf: &[u8]) -> Step {
        match rewire_websentry::scan(buf) {
            rewire_websentry::Scan::Found {
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
            rewire_websentry::Scan::Partial { skipped } => Step::Partial { skipped },
        }
    }
}
