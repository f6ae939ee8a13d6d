//! The checked frame view, the CRC, `parse` and the streaming scanner.

use core::fmt;

use crate::error::{Error, Result};
use crate::function::FunctionCode;

/// The three bytes every frame starts with.
pub const MAGIC: [u8; 3] = [0x70, 0x83, 0x9E];

/// Length of the frame header: magic, CRC, payload length.
pub const HEADER_LEN: usize = 7;

/// The largest frame (header included) this crate accepts.
///
/// Real frames are far smaller (the biggest seen, a query response of a few
/// dozen properties, is a few hundred bytes). The reference proxy
/// (bradfitz/websentry-mitm-prometheus-exporter) reads each frame into a
/// 4 KiB buffer and drops the connection when a header announces more, and it
/// has relayed real units' traffic for years, so no unit it met ever sent a
/// bigger frame. Anything larger is treated as corruption, which is what lets
/// the scanner resynchronise quickly instead of waiting for up to 64 KiB of a
/// bogus length.
pub const MAX_FRAME_LEN: usize = 4096;

/// The largest payload (function byte and body) this crate accepts:
/// [`MAX_FRAME_LEN`] minus [`HEADER_LEN`].
pub const MAX_PAYLOAD_LEN: usize = MAX_FRAME_LEN - HEADER_LEN;

/// Byte ranges of the header fields.
pub mod field {
    /// A byte range inside a frame.
    pub type Field = core::ops::Range<usize>;
    /// The magic `70 83 9E`.
    pub const MAGIC: Field = 0..3;
    /// CRC-16/MODBUS of the payload, big-endian.
    pub const CRC: Field = 3..5;
    /// Payload length, big-endian.
    pub const LENGTH: Field = 5..7;
    /// Offset of the payload (its first byte is the function code).
    pub const PAYLOAD: usize = 7;
    /// Offset of the body (the payload after the function code).
    pub const BODY: usize = 8;
}

/// The CRC engine: slice-by-16 (8 KiB of tables) with the default
/// `crc-slice16` feature, byte-wise (512 bytes) without it. A `static`, so
/// the table is in flash once.
#[cfg(feature = "crc-slice16")]
static MODBUS: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_MODBUS);
#[cfg(not(feature = "crc-slice16"))]
static MODBUS: crc::Crc<u16, crc::Table<1>> =
    crc::Crc::<u16, crc::Table<1>>::new(&crc::CRC_16_MODBUS);

/// Computes the CRC-16/MODBUS of `bytes` (poly `0x8005` reflected, init
/// `0xFFFF`), the checksum a frame header carries for its payload.
///
/// ```
/// assert_eq!(rewire_websentry::crc16_modbus(b"123456789"), 0x4B37);
/// ```
#[must_use]
pub fn crc16_modbus(bytes: &[u8]) -> u16 {
    MODBUS.checksum(bytes)
}

/// A read/write view of one frame over any byte storage.
///
/// ```text
///  0      3        5        7         8
///  +------+--------+--------+---------+--------------------+
///  |70839E| CRC BE | LEN BE | function| body (LEN-1 bytes) |
///  +------+--------+--------+---------+--------------------+
///                           \________ payload (LEN) ________/
/// ```
///
/// After [`Frame::new_checked`] succeeds no
/// accessor can panic. The view never panics anyway: on a buffer too short
/// for a field (possible only through [`Frame::new_unchecked`]) getters return
/// zero or an empty slice and setters do nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(bytes: &[u8], range: field::Field) -> u16 {
    match bytes.get(range) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without checking anything.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len): the magic and
    /// the length, not the CRC, so that a decoder can still show a frame
    /// whose checksum is wrong (and flag it with
    /// [`checksum_ok`](Self::checksum_ok)). Check the CRC with
    /// [`check_checksum`](Self::check_checksum), or use [`parse`], which
    /// does both.
    ///
    /// Bytes after the frame's end are allowed and ignored.
    ///
    /// # Errors
    /// As [`Frame::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks the magic and that the buffer holds the whole payload its
    /// length field announces.
    ///
    /// # Errors
    /// [`Error::Truncated`] when the buffer is shorter than the header or
    /// the announced payload; [`Error::BadMagic`]; [`Error::EmptyPayload`]
    /// when the length is zero; [`Error::PayloadTooLong`] when it exceeds
    /// [`MAX_PAYLOAD_LEN`].
    pub fn check_len(&self) -> Result<()> {
        let bytes = self.buffer.as_ref();
        let Some(header) = bytes.get(..HEADER_LEN) else {
            return Err(Error::Truncated {
                offset: 0,
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        };
        if let Some(&[a, b, c]) = header.get(field::MAGIC)
            && [a, b, c] != MAGIC
        {
            return Err(Error::BadMagic { found: [a, b, c] });
        }
        let len = usize::from(self.payload_len());
        if len == 0 {
            return Err(Error::EmptyPayload);
        }
        if len > MAX_PAYLOAD_LEN {
            return Err(Error::PayloadTooLong {
                len,
                max: MAX_PAYLOAD_LEN,
            });
        }
        let available = bytes.len().saturating_sub(HEADER_LEN);
        if available < len {
            return Err(Error::Truncated {
                offset: HEADER_LEN,
                needed: len,
                available,
            });
        }
        Ok(())
    }

    /// Checks the header's CRC against the CRC-16/MODBUS of the payload.
    ///
    /// # Errors
    /// [`Error::ChecksumMismatch`] carrying the computed (`expected`) and
    /// stored (`found`) values. Under `cfg(fuzzing)` this never fails, so
    /// fuzzers reach the code behind it.
    pub fn check_checksum(&self) -> Result<()> {
        if self.checksum_ok() {
            Ok(())
        } else {
            Err(Error::ChecksumMismatch {
                expected: self.computed_checksum(),
                found: self.checksum(),
            })
        }
    }

    /// Returns whether the header's CRC equals
    /// [`computed_checksum`](Self::computed_checksum) (always `true` under
    /// `cfg(fuzzing)`).
    #[must_use]
    pub fn checksum_ok(&self) -> bool {
        cfg!(fuzzing) || self.computed_checksum() == self.checksum()
    }

    /// Computes the CRC-16/MODBUS of the payload.
    #[must_use]
    pub fn computed_checksum(&self) -> u16 {
        crc16_modbus(self.payload())
    }

    /// Returns the magic bytes (`70 83 9E` in a valid frame).
    #[must_use]
    pub fn magic(&self) -> [u8; 3] {
        match self.buffer.as_ref().get(field::MAGIC) {
            Some(&[a, b, c]) => [a, b, c],
            _ => [0; 3],
        }
    }

    /// Returns the CRC the header carries.
    #[must_use]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CRC)
    }

    /// Returns the payload length stored in the header.
    #[must_use]
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Returns the whole frame's length: header plus payload.
    #[must_use]
    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.payload_len())
    }

    /// Returns the payload: the function byte and the body.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::PAYLOAD..self.total_len())
            .unwrap_or(&[])
    }

    /// Returns the function code (the first payload byte).
    #[must_use]
    pub fn function(&self) -> FunctionCode {
        FunctionCode(self.payload().first().copied().unwrap_or(0))
    }

    /// Returns the body: the payload after the function byte.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        self.payload().get(1..).unwrap_or(&[])
    }

    /// Returns the frame's bytes: header and payload, without any trailing
    /// bytes the buffer may hold.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        let bytes = self.buffer.as_ref();
        bytes.get(..self.total_len()).unwrap_or(bytes)
    }

    /// Unwraps the view, giving the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    fn put16(&mut self, range: field::Field, value: u16) {
        if let Some(dst) = self.buffer.as_mut().get_mut(range) {
            dst.copy_from_slice(&value.to_be_bytes());
        }
    }

    /// Writes the magic `70 83 9E`.
    pub fn set_magic(&mut self) {
        if let Some(dst) = self.buffer.as_mut().get_mut(field::MAGIC) {
            dst.copy_from_slice(&MAGIC);
        }
    }

    /// Writes the header's CRC field as given (see
    /// [`fill_checksum`](Self::fill_checksum)).
    pub fn set_checksum(&mut self, crc: u16) {
        self.put16(field::CRC, crc);
    }

    /// Writes the header's payload length field.
    pub fn set_payload_len(&mut self, len: u16) {
        self.put16(field::LENGTH, len);
    }

    /// Writes the function byte.
    pub fn set_function(&mut self, function: FunctionCode) {
        if let Some(dst) = self.buffer.as_mut().get_mut(field::PAYLOAD) {
            *dst = function.0;
        }
    }

    /// Returns the payload for writing (as long as the length field says,
    /// or empty when the buffer is shorter).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..end)
            .unwrap_or(&mut [])
    }

    /// Returns the body (payload after the function byte) for writing.
    pub fn body_mut(&mut self) -> &mut [u8] {
        self.payload_mut().get_mut(1..).unwrap_or(&mut [])
    }

    /// Computes the payload's CRC and writes it in the header; call it last,
    /// after the payload.
    pub fn fill_checksum(&mut self) {
        let crc = self.computed_checksum();
        self.set_checksum(crc);
    }
}

impl<T: AsRef<[u8]>> fmt::Debug for Frame<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Frame(")?;
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Frame<T> {
    /// One line: function, payload length, CRC state and the body in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "websentry {} len={} crc={:04x}",
            self.function(),
            self.payload_len(),
            self.checksum()
        )?;
        if !self.checksum_ok() {
            write!(f, " (bad, computed {:04x})", self.computed_checksum())?;
        }
        f.write_str(":")?;
        for b in self.body() {
            write!(f, " {b:02x}")?;
        }
        Ok(())
    }
}

/// Parses the frame at the start of `buf`, checking magic, length and CRC,
/// and returns it with the number of bytes it occupies.
///
/// # Errors
/// As [`Frame::new_checked`] and [`Frame::check_checksum`];
/// [`Error::Truncated`] means more bytes may complete the frame.
///
/// ```
/// let bytes = [0x70, 0x83, 0x9e, 0x86, 0xbe, 0x00, 0x01, 0x08, 0xaa];
/// let (frame, used) = rewire_websentry::parse(&bytes).unwrap();
/// assert_eq!(used, 8);
/// assert_eq!(frame.function(), rewire_websentry::FunctionCode::CODE_08);
/// ```
pub fn parse(buf: &[u8]) -> Result<(Frame<&[u8]>, usize)> {
    let frame = Frame::new_checked(buf)?;
    frame.check_checksum()?;
    let len = frame.total_len();
    let exact = buf.get(..len).unwrap_or(buf);
    Ok((Frame::new_unchecked(exact), len))
}

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

/// What the bytes at one offset of a stream can be.
enum Candidate {
    /// Not a frame start.
    No,
    /// Could be a frame start; more bytes are needed to decide or complete it.
    Incomplete,
    /// A frame of this total length starts here.
    Frame(usize),
}

fn candidate(rest: &[u8]) -> Candidate {
    let magic_seen = rest.len().min(MAGIC.len());
    if rest.get(..magic_seen) != MAGIC.get(..magic_seen) {
        return Candidate::No;
    }
    let Some(&[hi, lo]) = rest.get(field::LENGTH) else {
        return Candidate::Incomplete;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len == 0 || len > MAX_PAYLOAD_LEN {
        return Candidate::No;
    }
    let total = HEADER_LEN + len;
    if rest.len() < total {
        Candidate::Incomplete
    } else {
        Candidate::Frame(total)
    }
}

/// Finds the next frame in a TCP byte stream.
///
/// WebSentry runs over TCP, so frames are delimited by their length field,
/// not by the CRC: the scanner yields a frame as soon as its magic and a sane
/// length (1..=[`MAX_PAYLOAD_LEN`]) are there and the payload is complete,
/// **without** checking the CRC. Callers check [`Frame::checksum_ok`] to flag or
/// count bad frames; dropping such a frame would lose sync with nothing
/// gained, since the length already said where the next one starts.
///
/// Bytes that cannot start a frame (no magic, or a magic followed by a zero
/// or absurd length) are garbage: the scanner skips one byte past a false
/// magic and looks for the next one. While a header or payload is incomplete
/// it answers [`Scan::Partial`]. It does constant work per candidate byte, so
/// it is linear in the buffer, and it gives the same frames however the
/// stream is split.
///
/// ```
/// use rewire_websentry::{scan, Scan};
/// let stream = [0xde, 0xad, 0x70, 0x83, 0x9e, 0x86, 0xbe, 0x00, 0x01, 0x08, 0x70];
/// let Scan::Found { skipped, len, message } = scan(&stream) else { panic!() };
/// assert_eq!((skipped, len), (2, 8));
/// assert!(message.checksum_ok());
/// assert_eq!(scan(&stream[10..]), Scan::Partial { skipped: 0 });
/// ```
#[must_use]
pub fn scan(buf: &[u8]) -> Scan<Frame<&[u8]>> {
    let mut start = 0;
    while let Some(rest) = buf.get(start..) {
        let Some(pos) = rest.iter().position(|&b| b == MAGIC[0]) else {
            break;
        };
        let at = start + pos;
        let Some(rest) = buf.get(at..) else { break };
        match candidate(rest) {
            Candidate::No => start = at + 1,
            Candidate::Incomplete => return Scan::Partial { skipped: at },
            Candidate::Frame(total) => {
                let bytes = rest.get(..total).unwrap_or(rest);
                return Scan::Found {
                    skipped: at,
                    len: total,
                    message: Frame::new_unchecked(bytes),
                };
            }
        }
    }
    Scan::Partial { skipped: buf.len() }
}
