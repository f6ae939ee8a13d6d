//! The checked byte view of one frame.

use core::fmt;

use crate::{Error, FLAG, FunctionCode, MIN_FRAME_LEN, REPLY_REQUIRED, Result};

/// Byte offsets of the frame fields, as ranges into the frame.
///
/// The data field and the checksum move with the frame length, so they are
/// functions of the length byte rather than constants.
pub mod field {
    /// A byte range inside a frame.
    pub type Field = core::ops::Range<usize>;

    /// The 0xFF flag that opens every frame.
    pub const FLAG: Field = 0..1;
    /// The whole frame's length, flag and checksum included (8..=255).
    pub const LENGTH: Field = 1..2;
    /// The receiver's address (the PC is 0x00).
    pub const DESTINATION: Field = 2..3;
    /// The sender's address.
    pub const SOURCE: Field = 3..4;
    /// 0x01 when the receiver must answer, 0x00 when it must not.
    pub const REPLY: Field = 4..5;
    /// The control byte, 0x01 in every capture.
    pub const CONTROL: Field = 5..6;
    /// The function code, the same in a request and its reply.
    pub const FUNCTION: Field = 6..7;

    /// Returns the data field of a frame whose length byte says `length`
    /// (empty when `length` is below the minimum).
    pub const fn data(length: usize) -> Field {
        let end = length.saturating_sub(1);
        let start = if end < FUNCTION.end {
            end
        } else {
            FUNCTION.end
        };
        start..end
    }

    /// Returns the checksum field of a frame whose length byte says `length`.
    pub const fn checksum(length: usize) -> Field {
        length.saturating_sub(1)..length
    }
}

/// Adds `bytes` modulo 256: the Power-One checksum.
pub fn checksum(bytes: &[u8]) -> u8 {
    // Eight bytes at a time, as four 16-bit lanes of byte pairs kept modulo
    // 256 (so no lane ever carries into the next). Frames are 8 to 255
    // bytes: too short for the compiler's SIMD loop, which would leave them
    // to its byte-at-a-time tail, and of every length, so the tail here is
    // one more word (the last eight bytes, those already added masked off)
    // rather than a loop whose length the CPU cannot predict.
    const LOW_BYTES: u64 = 0x00FF_00FF_00FF_00FF;
    let add = |lanes: u64, word: u64| {
        (lanes + (word & LOW_BYTES) + ((word >> 8) & LOW_BYTES)) & LOW_BYTES
    };
    let word = |chunk: &[u8]| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        u64::from_le_bytes(word)
    };
    let Some(last) = bytes.last_chunk::<8>() else {
        return bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b));
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut lanes = 0u64;
    for chunk in &mut chunks {
        lanes = add(lanes, word(chunk));
    }
    // The last word's bytes not yet added are its top `tail` ones.
    let tail = chunks.remainder().len() as u32;
    let keep = u64::MAX.checked_shl(8 * (8 - tail)).unwrap_or(0);
    lanes = add(lanes, u64::from_le_bytes(*last) & keep);
    // The four lanes' sum lands in the top lane (at most 4 × 255).
    (lanes.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u8
}

/// A read/write view of one Power-One frame over any byte storage.
///
/// [`Frame::new_checked`] proves the buffer holds a whole frame; after it
/// succeeds no accessor panics. Accessors never panic on an unchecked view
/// either: bytes beyond the buffer read as 0 and slices come back empty.
/// The buffer may be longer than the frame; the length byte decides where
/// the frame ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without checking anything.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    ///
    /// # Errors
    /// As [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that the buffer starts with the flag and holds as many bytes
    /// as the length byte says, which is at least [`MIN_FRAME_LEN`]. It does
    /// not check the checksum: see [`check_checksum`](Self::check_checksum).
    ///
    /// # Errors
    /// [`Error::BadFlag`] when the first byte is not 0xFF,
    /// [`Error::BadLength`] when the length byte is below 8,
    /// [`Error::Truncated`] when the buffer is shorter than the frame.
    pub fn check_len(&self) -> Result<()> {
        let bytes = self.buffer.as_ref();
        let available = bytes.len();
        let (flag, length) = match bytes {
            [] => {
                return Err(Error::Truncated {
                    offset: 0,
                    needed: MIN_FRAME_LEN,
                    available,
                });
            }
            [flag] => (*flag, None),
            [flag, length, ..] => (*flag, Some(*length)),
        };
        if flag != FLAG {
            return Err(Error::BadFlag {
                found: flag,
                offset: field::FLAG.start,
            });
        }
        let Some(length) = length else {
            return Err(Error::Truncated {
                offset: 0,
                needed: MIN_FRAME_LEN,
                available,
            });
        };
        if usize::from(length) < MIN_FRAME_LEN {
            return Err(Error::BadLength { length });
        }
        if available < usize::from(length) {
            return Err(Error::Truncated {
                offset: 0,
                needed: usize::from(length),
                available,
            });
        }
        Ok(())
    }

    /// Checks the checksum byte against the sum of the bytes before it.
    ///
    /// # Errors
    /// [`Error::ChecksumMismatch`] with both values. Under `cfg(fuzzing)`
    /// this never fails, so fuzzers reach the code behind it.
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

    /// Returns whether the checksum byte equals [`computed_checksum`]
    /// (always `true` under `cfg(fuzzing)`).
    ///
    /// [`computed_checksum`]: Self::computed_checksum
    pub fn checksum_ok(&self) -> bool {
        cfg!(fuzzing) || self.computed_checksum() == self.checksum()
    }

    /// Returns the sum, modulo 256, of every frame byte before the checksum,
    /// flag included.
    pub fn computed_checksum(&self) -> u8 {
        let end = field::checksum(self.frame_len()).start;
        checksum(self.buffer.as_ref().get(..end).unwrap_or_default())
    }

    fn byte(&self, field: field::Field) -> u8 {
        self.buffer
            .as_ref()
            .get(field.start)
            .copied()
            .unwrap_or_default()
    }

    /// Consumes the view and returns the underlying storage.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Returns the length byte: the whole frame's size in bytes.
    pub fn length(&self) -> u8 {
        self.byte(field::LENGTH)
    }

    /// Returns the frame's size in bytes as a `usize`.
    pub fn frame_len(&self) -> usize {
        usize::from(self.length())
    }

    /// Returns the destination address (0x00 is the PC).
    pub fn destination(&self) -> u8 {
        self.byte(field::DESTINATION)
    }

    /// Returns the source address (0x00 is the PC).
    pub fn source(&self) -> u8 {
        self.byte(field::SOURCE)
    }

    /// Returns the raw reply flag byte.
    pub fn reply_flag(&self) -> u8 {
        self.byte(field::REPLY)
    }

    /// Returns whether the receiver must answer (reply flag 0x01). No other
    /// value than 0x00 and 0x01 has been seen; those count as "no".
    pub fn reply_required(&self) -> bool {
        self.reply_flag() == REPLY_REQUIRED
    }

    /// Returns the control byte (0x01 in every capture).
    pub fn control(&self) -> u8 {
        self.byte(field::CONTROL)
    }

    /// Returns the function code.
    pub fn function(&self) -> FunctionCode {
        FunctionCode(self.byte(field::FUNCTION))
    }

    /// Returns the data field (`length - 8` bytes).
    pub fn data(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::data(self.frame_len()))
            .unwrap_or_default()
    }

    /// Returns the checksum byte the frame carries.
    pub fn checksum(&self) -> u8 {
        self.byte(field::checksum(self.frame_len()))
    }

    /// Returns the frame's bytes, from the flag to the checksum (the buffer
    /// may hold more).
    pub fn as_bytes(&self) -> &[u8] {
        let bytes = self.buffer.as_ref();
        bytes.get(..self.frame_len()).unwrap_or(bytes)
    }
}

impl<'a> Frame<&'a [u8]> {
    /// Returns the data field borrowed for the buffer's whole lifetime
    /// (unlike [`data`](Self::data), which borrows the view).
    pub fn into_data(self) -> &'a [u8] {
        self.buffer
            .get(field::data(self.frame_len()))
            .unwrap_or_default()
    }

    /// Returns the frame's bytes borrowed for the buffer's whole lifetime.
    pub fn into_bytes(self) -> &'a [u8] {
        self.buffer.get(..self.frame_len()).unwrap_or(self.buffer)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    fn set_byte(&mut self, field: field::Field, value: u8) {
        if let Some(byte) = self.buffer.as_mut().get_mut(field.start) {
            *byte = value;
        }
    }

    /// Writes the 0xFF flag.
    pub fn set_flag(&mut self) {
        self.set_byte(field::FLAG, FLAG);
    }

    /// Writes the length byte (the whole frame's size).
    pub fn set_length(&mut self, value: u8) {
        self.set_byte(field::LENGTH, value);
    }

    /// Writes the destination address.
    pub fn set_destination(&mut self, value: u8) {
        self.set_byte(field::DESTINATION, value);
    }

    /// Writes the source address.
    pub fn set_source(&mut self, value: u8) {
        self.set_byte(field::SOURCE, value);
    }

    /// Writes the raw reply flag.
    pub fn set_reply_flag(&mut self, value: u8) {
        self.set_byte(field::REPLY, value);
    }

    /// Writes the control byte.
    pub fn set_control(&mut self, value: u8) {
        self.set_byte(field::CONTROL, value);
    }

    /// Writes the function code.
    pub fn set_function(&mut self, value: FunctionCode) {
        self.set_byte(field::FUNCTION, value.0);
    }

    /// Returns the data field for writing; write the length byte first, since
    /// it decides where the data ends.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let range = field::data(self.frame_len());
        self.buffer.as_mut().get_mut(range).unwrap_or_default()
    }

    /// Writes the checksum byte as given (see [`fill_checksum`](Self::fill_checksum)).
    pub fn set_checksum(&mut self, value: u8) {
        self.set_byte(field::checksum(self.frame_len()), value);
    }

    /// Computes the checksum over the bytes before it and writes it; call it
    /// last, after every other field.
    pub fn fill_checksum(&mut self) {
        let sum = self.computed_checksum();
        self.set_checksum(sum);
    }
}

impl<T: AsRef<[u8]>> fmt::Debug for Frame<T> {
    /// Shows the frame's bytes as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Frame(")?;
        crate::write_hex(f, self.as_bytes())?;
        f.write_str(")")
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Frame<T> {
    /// Writes one tcpdump-like line: `src > dst function reply ctrl data sum`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#04x} > {:#04x} {} {} ctrl {:#04x} data[{}]",
            self.source(),
            self.destination(),
            self.function(),
            crate::reply_word(self.reply_flag()),
            self.control(),
            self.data().len(),
        )?;
        if !self.data().is_empty() {
            f.write_str(" ")?;
            crate::write_hex(f, self.data())?;
        }
        write!(f, " sum {:#04x}", self.checksum())?;
        if !self.checksum_ok() {
            write!(f, " (bad, computed {:#04x})", self.computed_checksum())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    /// The PCU's reply to "set date/time", captured in the article (§1.3.1).
    const DATE_TIME_SET: [u8; 8] = [
        0xFF, // flag
        0x08, // length: 8 bytes, no data
        0x00, // destination: the PC
        0x01, // source: PCU module 0x01
        0x00, // reply flag: no answer wanted
        0x01, // control
        0x07, // function: set date/time
        0x10, // checksum: FF+08+00+01+00+01+07 = 0x110 -> 0x10
    ];

    /// The PCU's reply to "set password", captured in the article (§1.3.2).
    const PASSWORD_SET: [u8; 8] = [
        0xFF, // flag
        0x08, // length
        0x00, // destination: the PC
        0x01, // source: PCU module 0x01
        0x00, // reply flag: no answer wanted
        0x01, // control
        0x08, // function: set password
        0x11, // checksum: 0x111 -> 0x11
    ];

    #[test]
    fn deconstruct_date_time_set() {
        let frame = Frame::new_checked(&DATE_TIME_SET[..]).unwrap();
        assert_eq!(frame.length(), 8);
        assert_eq!(frame.destination(), 0x00);
        assert_eq!(frame.source(), 0x01);
        assert_eq!(frame.reply_flag(), 0x00);
        assert!(!frame.reply_required());
        assert_eq!(frame.control(), 0x01);
        assert_eq!(frame.function(), FunctionCode::SET_DATE_TIME);
        assert_eq!(frame.data(), &[] as &[u8]);
        assert_eq!(frame.checksum(), 0x10);
        assert_eq!(frame.computed_checksum(), 0x10);
        assert!(frame.checksum_ok());
        frame.check_checksum().unwrap();
    }

    #[test]
    fn deconstruct_password_set() {
        let frame = Frame::new_checked(&PASSWORD_SET[..]).unwrap();
        assert_eq!(
            (frame.destination(), frame.source(), frame.reply_flag()),
            (0x00, 0x01, 0x00)
        );
        assert_eq!(frame.function(), FunctionCode::SET_PASSWORD);
        assert_eq!(frame.checksum(), 0x11);
        assert!(frame.checksum_ok());
    }

    #[test]
    fn construct_date_time_set() {
        let mut buf = [0u8; 8];
        let mut frame = Frame::new_unchecked(&mut buf[..]);
        frame.set_flag();
        frame.set_length(8);
        frame.set_destination(0x00);
        frame.set_source(0x01);
        frame.set_reply_flag(0x00);
        frame.set_control(0x01);
        frame.set_function(FunctionCode::SET_DATE_TIME);
        frame.fill_checksum();
        assert_eq!(buf, DATE_TIME_SET);
    }

    #[test]
    fn data_mut_follows_length() {
        let mut buf = [0u8; 10];
        let mut frame = Frame::new_unchecked(&mut buf[..]);
        frame.set_flag();
        frame.set_length(10);
        frame.data_mut().copy_from_slice(&[0xAB, 0xCD]);
        frame.fill_checksum();
        let frame = Frame::new_checked(&buf[..]).unwrap();
        assert_eq!(frame.data(), &[0xAB, 0xCD]);
        assert!(frame.checksum_ok());
    }

    #[test]
    fn longer_buffer_is_trimmed_to_length() {
        let mut buf = [0u8; 12];
        buf[..8].copy_from_slice(&DATE_TIME_SET);
        buf[8..].copy_from_slice(&[0xFF, 0x08, 0x00, 0x01]);
        let frame = Frame::new_checked(&buf[..]).unwrap();
        assert_eq!(frame.as_bytes(), &DATE_TIME_SET);
        assert_eq!(frame.into_bytes(), &DATE_TIME_SET);
        assert!(frame.checksum_ok());
    }

    #[test]
    fn unchecked_accessors_never_panic() {
        for len in 0..=DATE_TIME_SET.len() {
            let frame = Frame::new_unchecked(&DATE_TIME_SET[..len]);
            let _ = (frame.destination(), frame.source(), frame.function());
            let _ = (frame.data(), frame.checksum(), frame.computed_checksum());
            let _ = format!("{frame} {frame:?}");
        }
        let claims_more = [0xFF, 0xFF, 1, 2];
        let frame = Frame::new_unchecked(&claims_more[..]);
        assert_eq!(frame.data(), &[] as &[u8]);
        assert_eq!(frame.checksum(), 0);
    }

    #[test]
    fn every_strict_prefix_is_truncated() {
        for len in 0..DATE_TIME_SET.len() {
            let err = Frame::new_checked(&DATE_TIME_SET[..len]).unwrap_err();
            let needed = if len < 2 { MIN_FRAME_LEN } else { 8 };
            assert_eq!(
                err,
                Error::Truncated {
                    offset: 0,
                    needed,
                    available: len
                },
                "prefix {len}"
            );
        }
    }

    #[test]
    fn rejects_bad_flag() {
        let mut bytes = DATE_TIME_SET;
        bytes[0] = 0xFE;
        assert_eq!(
            Frame::new_checked(&bytes[..]).unwrap_err(),
            Error::BadFlag {
                found: 0xFE,
                offset: 0
            }
        );
    }

    #[test]
    fn rejects_bad_length() {
        let bytes = [0xFF, 0x07, 0x00, 0x01, 0x00, 0x01, 0x07, 0x0F];
        assert_eq!(
            Frame::new_checked(&bytes[..]).unwrap_err(),
            Error::BadLength { length: 7 }
        );
    }

    #[test]
    fn rejects_truncated() {
        let bytes = [0xFF, 0x0A, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
        assert_eq!(
            Frame::new_checked(&bytes[..]).unwrap_err(),
            Error::Truncated {
                offset: 0,
                needed: 10,
                available: 8
            }
        );
    }

    #[test]
    fn rejects_checksum_mismatch() {
        let mut bytes = DATE_TIME_SET;
        bytes[7] = 0x11;
        let frame = Frame::new_checked(&bytes[..]).unwrap();
        assert!(!frame.checksum_ok());
        assert_eq!(
            frame.check_checksum().unwrap_err(),
            Error::ChecksumMismatch {
                expected: 0x10,
                found: 0x11
            }
        );
    }

    #[test]
    fn display_is_one_line() {
        let frame = Frame::new_checked(&DATE_TIME_SET[..]).unwrap();
        assert_eq!(
            format!("{frame}"),
            "0x01 > 0x00 set date/time (0x07) no-reply ctrl 0x01 data[0] sum 0x10"
        );
        assert_eq!(format!("{frame:?}"), "Frame(ff 08 00 01 00 01 07 10)");
    }

    #[test]
    fn field_ranges() {
        assert_eq!(field::data(8), 7..7);
        assert_eq!(field::data(13), 7..12);
        assert_eq!(field::checksum(13), 12..13);
        assert_eq!(field::data(0), 0..0);
        assert_eq!(field::data(3), 2..2);
    }
}
