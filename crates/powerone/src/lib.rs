//! Power-One PCU frames: the serial protocol between the PowCom PC software
//! and a Power-One rectifier controller (PCU), 9600 baud, 8N1.
//!
//! The protocol was reverse-engineered from captures (see
//! `docs/protocols/powerone.md` for the evidence behind every field). Every
//! field is one byte:
//!
//! ```text
//!  offset  0     1      2     3     4      5      6      7 .. len-2   len-1
//!        +----+------+-----+-----+-------+------+------+-----------+-----+
//!        | FF | len  | dst | src | reply | ctrl | func | data ...  | sum |
//!        +----+------+-----+-----+-------+------+------+-----------+-----+
//!  len   = whole frame, flag and checksum included, 8..=255 (data = len - 8)
//!  dst   = receiver, src = sender; the PC is 0x00, PCU modules 0x01..=0xFF
//!  reply = 0x01 receiver must answer (PC requests), 0x00 no answer (replies)
//!  ctrl  = 0x01 in every capture
//!  func  = function code, the same in a request and its reply
//!  sum   = sum of every byte before it, flag included, modulo 256
//! ```
//!
//! Layers, smoltcp style:
//! - [`Frame`]: a checked zero-copy view over any byte storage, with
//!   accessors, setters and the [`field`] offsets;
//! - [`Repr`]: the fields as values, with [`Repr::parse`], [`Repr::emit`]
//!   and the request builder [`Repr::request`];
//! - [`parse`] for one frame at the start of a buffer, [`scan`] for a byte
//!   stream with noise, [`scan_idle`] once the line has gone quiet;
//! - typed payloads of the known functions: [`DateTime`], [`Password`],
//!   [`PasswordCheck`]; function codes are the open newtype [`FunctionCode`].
//!
//! # Guarantees
//! - `no_std`, no allocation, no `unsafe`; nothing here panics on any
//!   input. After [`Frame::new_checked`] succeeds no accessor panics (and
//!   on an unchecked view they read missing bytes as 0).
//! - Every malformed input is an [`Error`] naming what and where.
//! - [`scan`] and [`scan_idle`] never allocate, do at most 255 checksum steps per
//!   candidate 0xFF (so O(255·n) on `n` bytes at worst), and yield only
//!   checksum-valid frames; [`scan`] finds the same frames however a stream
//!   is split across calls.
//!
//! # Example
//! ```
//! use rewire_powerone::{parse, DateTime, FunctionCode, Repr};
//!
//! // Build the PC's "set date/time" request to module 0x01.
//! let mut data = [0u8; DateTime::LEN];
//! DateTime::new(2011, 3, 15, 15, 13)?.emit(&mut data)?;
//! let request = Repr::request(0x01, FunctionCode::SET_DATE_TIME, &data);
//! let mut buf = [0u8; 32];
//! let n = request.emit(&mut buf)?;
//! assert_eq!(
//!     buf[..n],
//!     [0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F]
//! );
//!
//! // Parse it back.
//! let (frame, used) = parse(&buf[..n])?;
//! assert_eq!(used, n);
//! assert_eq!(Repr::parse(&frame)?, request);
//!
//! // Decode the PCU's captured answer.
//! let (reply, _) = parse(&[0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10])?;
//! assert_eq!((reply.source(), reply.destination()), (0x01, 0x00));
//! assert_eq!(reply.function().name(), Some("set date/time"));
//! assert_eq!(
//!     reply.to_string(),
//!     "0x01 > 0x00 set date/time (0x07) no-reply ctrl 0x01 data[0] sum 0x10"
//! );
//! # Ok::<(), rewire_powerone::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod frame;
mod function;
mod payload;
mod repr;

use core::fmt;

pub use error::{DateTimeField, Error, Result};
pub use frame::{Frame, checksum, field};
pub use function::FunctionCode;
pub use payload::{DateTime, Password, PasswordCheck};
pub use repr::Repr;

/// The flag byte that opens every frame.
pub const FLAG: u8 = 0xFF;
/// The shortest frame: flag, length, destination, source, reply flag,
/// control, function and checksum, no data.
pub const MIN_FRAME_LEN: usize = 8;
/// The longest frame the one-byte length allows.
pub const MAX_FRAME_LEN: usize = 255;
/// The most data a frame can carry (255 − 8).
pub const MAX_DATA_LEN: usize = MAX_FRAME_LEN - MIN_FRAME_LEN;
/// The PC's address (the PCU modules are 0x01..=0xFF).
pub const PC_ADDRESS: u8 = 0x00;
/// Reply flag asking the receiver to answer (PC requests).
pub const REPLY_REQUIRED: u8 = 0x01;
/// Reply flag telling the receiver not to answer (PCU replies).
pub const NO_REPLY: u8 = 0x00;
/// The control byte seen in every capture.
pub const CONTROL: u8 = 0x01;

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

/// Reads one frame at the start of `buf`, checking flag, length and
/// checksum, and returns it with the number of bytes it occupies (`buf` may
/// hold more).
///
/// # Errors
/// [`Error::Truncated`] when `buf` ends before the frame,
/// [`Error::BadFlag`], [`Error::BadLength`], [`Error::ChecksumMismatch`].
pub fn parse(buf: &[u8]) -> Result<(Frame<&[u8]>, usize)> {
    let frame = Frame::new_checked(buf)?;
    frame.check_checksum()?;
    let len = frame.frame_len();
    Ok((frame, len))
}

/// Finds the next checksum-valid frame in a byte stream that may start
/// mid-frame or carry noise.
///
/// Every 0xFF is a candidate start. A candidate whose length byte is below 8
/// or whose checksum is wrong is skipped by one byte only, so a real frame
/// that begins inside a false candidate is still found. When a candidate
/// runs past the end of `buf`, the answer is [`Scan::Partial`] with
/// `skipped` up to that 0xFF, even if a valid frame starts inside it: with
/// more bytes the earlier candidate might prove valid, and the answer must
/// not depend on how the stream was split. (A noise 0xFF followed by a
/// large length byte therefore holds later frames back until enough bytes
/// arrive to rule it out: at most 255 bytes.)
///
/// Feed it the way a stream consumer does: on `Found { skipped, len, .. }`
/// drop `skipped + len` bytes, on `Partial { skipped }` drop `skipped` bytes
/// and append more input.
///
/// Each candidate costs at most 255 additions, so a call does O(255·n) work
/// at worst on `n` bytes; it never allocates or panics.
///
/// ```
/// use rewire_powerone::{scan, Scan};
///
/// let stream = [0x13, 0xFF, 0x02, 0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10, 0xFF];
/// let Scan::Found { skipped, len, message } = scan(&stream) else { panic!() };
/// assert_eq!((skipped, len, message.checksum()), (3, 8, 0x10));
/// assert_eq!(scan(&stream[skipped + len..]), Scan::Partial { skipped: 0 });
/// ```
pub fn scan(buf: &[u8]) -> Scan<Frame<&[u8]>> {
    scan_from(buf, false)
}

/// Finds the next checksum-valid frame like [`scan`], for when the line has
/// gone idle or the input has ended: a candidate that runs past the end of
/// `buf` is passed over by one byte instead of holding back the frames
/// after it.
///
/// A transport calls it after an inter-frame silence (or at the end of a
/// capture) so a stray 0xFF before a reply cannot delay that reply until
/// 255 bytes have arrived. Its answer may differ from [`scan`]'s had more
/// bytes come, which is why [`scan`] does not do this. On
/// [`Scan::Partial`], `skipped` stops at the first candidate that could
/// still become a frame, as in [`scan`].
///
/// ```
/// use rewire_powerone::{scan, scan_idle, Scan};
///
/// // A noise 0xFF right before a reply makes a candidate claiming 255 bytes.
/// let stream = [0xFF, 0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
/// assert_eq!(scan(&stream), Scan::Partial { skipped: 0 });
/// assert!(matches!(scan_idle(&stream), Scan::Found { skipped: 1, len: 8, .. }));
/// ```
pub fn scan_idle(buf: &[u8]) -> Scan<Frame<&[u8]>> {
    scan_from(buf, true)
}

fn scan_from(buf: &[u8], idle: bool) -> Scan<Frame<&[u8]>> {
    let mut start = 0;
    let mut first_incomplete = None;
    loop {
        let next_flag = buf
            .get(start..)
            .and_then(|rest| match rest.first() {
                // Frames usually follow each other: look before searching.
                Some(&FLAG) => Some(0),
                _ => memchr::memchr(FLAG, rest),
            })
            .map(|i| start.saturating_add(i));
        let Some(pos) = next_flag else {
            return Scan::Partial {
                skipped: first_incomplete.unwrap_or(buf.len()),
            };
        };
        let candidate = buf.get(pos..).unwrap_or_default();
        match Frame::new_checked(candidate) {
            Ok(frame) if frame.checksum_ok() => {
                return Scan::Found {
                    skipped: pos,
                    len: frame.frame_len(),
                    message: frame,
                };
            }
            Err(Error::Truncated { .. }) if !idle => return Scan::Partial { skipped: pos },
            Err(Error::Truncated { .. }) => {
                first_incomplete = first_incomplete.or(Some(pos));
                start = pos.saturating_add(1);
            }
            // A bad checksum or an impossible length: this 0xFF was noise.
            _ => start = pos.saturating_add(1),
        }
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{byte:02x}")?;
    }
    Ok(())
}

const fn reply_word(flag: u8) -> &'static str {
    match flag {
        REPLY_REQUIRED => "reply",
        NO_REPLY => "no-reply",
        _ => "reply-flag?",
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    const DATE_TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
    const PASSWORD_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x08, 0x11];
    const SET_DATE_TIME_REQUEST: [u8; 13] = [
        0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
    ];

    /// Feeds `stream` in chunks the way a transport would and collects the
    /// frames and the garbage count.
    fn scan_all(stream: &[u8], chunk: usize) -> (Vec<Vec<u8>>, usize) {
        let mut pending = Vec::new();
        let mut frames = Vec::new();
        let mut garbage = 0;
        for piece in stream.chunks(chunk.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                match scan(&pending) {
                    Scan::Found {
                        skipped,
                        len,
                        message,
                    } => {
                        frames.push(message.as_bytes().to_vec());
                        garbage += skipped;
                        pending.drain(..skipped + len);
                    }
                    Scan::Partial { skipped } => {
                        garbage += skipped;
                        pending.drain(..skipped);
                        break;
                    }
                }
            }
        }
        (frames, garbage)
    }

    #[test]
    fn parse_captured_replies() {
        for (bytes, function) in [
            (DATE_TIME_SET, FunctionCode::SET_DATE_TIME),
            (PASSWORD_SET, FunctionCode::SET_PASSWORD),
        ] {
            let (frame, used) = parse(&bytes).unwrap();
            assert_eq!(used, 8);
            let repr = Repr::parse(&frame).unwrap();
            assert_eq!(
                repr,
                Repr {
                    destination: 0x00,
                    source: 0x01,
                    reply_flag: 0x00,
                    control: 0x01,
                    function,
                    data: &[],
                }
            );
        }
    }

    #[test]
    fn every_strict_prefix_is_truncated_and_partial() {
        for len in 0..SET_DATE_TIME_REQUEST.len() {
            let prefix = &SET_DATE_TIME_REQUEST[..len];
            assert!(
                matches!(parse(prefix), Err(Error::Truncated { available, .. }) if available == len),
                "prefix {len}"
            );
            assert_eq!(scan(prefix), Scan::Partial { skipped: 0 }, "prefix {len}");
        }
    }

    #[test]
    fn scan_skips_garbage_before_a_frame() {
        let mut stream = std::vec![0x00, 0x13, 0x37];
        stream.extend_from_slice(&DATE_TIME_SET);
        match scan(&stream) {
            Scan::Found {
                skipped,
                len,
                message,
            } => {
                assert_eq!((skipped, len), (3, 8));
                assert_eq!(message.as_bytes(), &DATE_TIME_SET);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scan_counts_garbage_without_flag() {
        assert_eq!(scan(&[1, 2, 3]), Scan::Partial { skipped: 3 });
        assert_eq!(scan(&[]), Scan::Partial { skipped: 0 });
    }

    #[test]
    fn scan_skips_impossible_length_by_one_byte() {
        // 0xFF 0x03 cannot open a frame; the real frame starts right after.
        let mut stream = std::vec![0xFF, 0x03];
        stream.extend_from_slice(&PASSWORD_SET);
        assert!(matches!(
            scan(&stream),
            Scan::Found {
                skipped: 2,
                len: 8,
                ..
            }
        ));
    }

    #[test]
    fn scan_finds_a_frame_inside_a_false_candidate() {
        // A noise 0xFF whose "length" 0x0A swallows the real frame's start:
        // the candidate's checksum fails, and the real frame is still found.
        let mut stream = std::vec![0xFF, 0x0A];
        stream.extend_from_slice(&DATE_TIME_SET);
        assert!(matches!(
            scan(&stream),
            Scan::Found {
                skipped: 2,
                len: 8,
                ..
            }
        ));
    }

    #[test]
    fn scan_waits_on_an_incomplete_earlier_candidate() {
        // 0xFF 0x20 claims 32 bytes; until they arrive it might be a frame,
        // so the later frame is held back rather than answered out of order.
        let mut stream = std::vec![0x00, 0xFF, 0x20];
        stream.extend_from_slice(&DATE_TIME_SET);
        assert_eq!(scan(&stream), Scan::Partial { skipped: 1 });
        let (frames, garbage) = scan_all(&[&stream[..], &[0u8; 40][..]].concat(), 5);
        assert_eq!(frames, [DATE_TIME_SET.to_vec()]);
        assert_eq!(garbage, 3 + 40);
    }

    #[test]
    fn scan_idle_passes_over_incomplete_candidates() {
        let stream = [&[0x00, 0xFF][..], &DATE_TIME_SET, &[0xFF, 0x20, 0x01]].concat();
        assert_eq!(scan(&stream), Scan::Partial { skipped: 1 });
        match scan_idle(&stream) {
            Scan::Found {
                skipped,
                len,
                message,
            } => {
                assert_eq!((skipped, len), (2, 8));
                assert_eq!(message.as_bytes(), &DATE_TIME_SET);
            }
            other => panic!("{other:?}"),
        }
        // What follows could still become a frame: it is kept, not skipped.
        assert_eq!(scan_idle(&stream[10..]), Scan::Partial { skipped: 0 });
        assert_eq!(scan_idle(&[0x01, 0xFF]), Scan::Partial { skipped: 1 });
        assert_eq!(scan_idle(&[0x01, 0x02]), Scan::Partial { skipped: 2 });
    }

    #[test]
    fn scan_rejects_checksum_mismatch_as_garbage() {
        let mut bad = DATE_TIME_SET;
        bad[7] ^= 1;
        let stream = [&bad[..], &PASSWORD_SET[..]].concat();
        let (frames, garbage) = scan_all(&stream, 3);
        assert_eq!(frames, [PASSWORD_SET.to_vec()]);
        assert_eq!(garbage, 8);
    }

    #[test]
    fn scan_is_split_invariant() {
        let stream = [
            &[0x42, 0xFF, 0x02][..],
            &SET_DATE_TIME_REQUEST,
            &[0xFF, 0x09, 0x00],
            &DATE_TIME_SET,
            &PASSWORD_SET,
            &[0xFF],
        ]
        .concat();
        let whole = scan_all(&stream, stream.len());
        assert_eq!(whole.0.len(), 3);
        for chunk in 1..stream.len() {
            assert_eq!(scan_all(&stream, chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn parse_rejects_each_frame_error() {
        assert_eq!(
            parse(&[0x00]).unwrap_err(),
            Error::BadFlag {
                found: 0,
                offset: 0
            }
        );
        assert_eq!(
            parse(&[0xFF, 0x02, 0, 0, 0, 0, 0, 0]).unwrap_err(),
            Error::BadLength { length: 2 }
        );
        let mut bad = PASSWORD_SET;
        bad[7] = 0x12;
        assert_eq!(
            parse(&bad).unwrap_err(),
            Error::ChecksumMismatch {
                expected: 0x11,
                found: 0x12
            }
        );
    }

    #[test]
    fn checksum_is_the_byte_sum() {
        assert_eq!(checksum(&DATE_TIME_SET[..7]), 0x10);
        assert_eq!(checksum(&[]), 0);
        assert_eq!(checksum(&[0xFF, 0xFF, 0x03]), 0x01);
        // The largest bytes at every length: no lane of the word-at-a-time
        // sum may carry into another.
        let ones = [0xFFu8; 1030];
        for len in 0..=ones.len() {
            assert_eq!(checksum(&ones[..len]), (len * 255 % 256) as u8, "{len}");
        }
    }
}
