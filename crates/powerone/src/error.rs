//! The crate's single error type.

use core::fmt;

/// A field of a [`DateTime`](crate::DateTime) payload, named in
/// [`Error::BadDateTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateTimeField {
    /// The year (2000 + `YY`, `YY` in 0..=99).
    Year,
    /// The month, 1..=12.
    Month,
    /// The day of the month, 1..=28/29/30/31 depending on month and year.
    Day,
    /// The hour, 0..=23.
    Hour,
    /// The minute, 0..=59.
    Minute,
}

impl fmt::Display for DateTimeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Year => "year",
            Self::Month => "month",
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Minute => "minute",
        })
    }
}

/// Everything that can go wrong while reading or writing Power-One frames and
/// payloads. Every variant carries the numbers that explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Returned when the input ends before the item being read does:
    /// `needed` bytes were required from `offset`, only `available` were
    /// there. For a frame, `offset` is 0 (where the frame starts) and
    /// `needed` is the minimum frame length while the length byte is
    /// unknown, else the length byte's value.
    #[error("truncated frame: need {needed} bytes, have {available}")]
    Truncated {
        /// Where the incomplete item starts.
        offset: usize,
        /// How many bytes the item needs from `offset`.
        needed: usize,
        /// How many bytes there were from `offset`.
        available: usize,
    },
    /// Returned when the byte at `offset` should be the 0xFF flag but is
    /// `found`.
    #[error("bad flag at offset {offset}: found {found:#04x}, expected 0xff")]
    BadFlag {
        /// The byte found instead of 0xFF.
        found: u8,
        /// Where it was found.
        offset: usize,
    },
    /// Returned when the length byte claims fewer bytes than the smallest
    /// possible frame (8: flag, length, two addresses, reply flag, control,
    /// function, checksum).
    #[error("impossible frame length {length} (minimum 8)")]
    BadLength {
        /// The length byte as read.
        length: u8,
    },
    /// Returned when the checksum byte differs from the sum of the bytes
    /// before it.
    #[error("checksum mismatch: computed {expected:#04x}, frame carries {found:#04x}")]
    ChecksumMismatch {
        /// The checksum computed over the frame's bytes.
        expected: u8,
        /// The checksum byte the frame carries.
        found: u8,
    },
    /// Returned when an encoder's output buffer holds fewer than `needed`
    /// bytes.
    #[error("output buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes the encoder must write.
        needed: usize,
        /// Bytes the caller's buffer holds.
        available: usize,
    },
    /// Returned when a frame is asked to carry more data than fits in a
    /// one-byte length (`max` is [`MAX_DATA_LEN`](crate::MAX_DATA_LEN)).
    #[error("data too long: {length} bytes, at most {max} fit in a frame")]
    DataTooLong {
        /// The data length requested.
        length: usize,
        /// The largest data length a frame can carry.
        max: usize,
    },
    /// Returned when a fixed-size payload (date/time, password check) has
    /// the wrong number of bytes.
    #[error("payload is {found} bytes, expected {expected}")]
    BadDataLength {
        /// The payload size the function defines.
        expected: usize,
        /// The payload size found.
        found: usize,
    },
    /// Returned when a date/time field is outside its range (see
    /// [`DateTimeField`]).
    #[error("{field} {value} out of range")]
    BadDateTime {
        /// Which field is wrong.
        field: DateTimeField,
        /// Its value (for the year: the full year, or the raw `YY` byte when
        /// parsing).
        value: u16,
    },
    /// Returned when a password holds a byte other than an ASCII digit
    /// `'0'..='9'` at `offset`.
    #[error("password byte {byte:#04x} at offset {offset} is not an ASCII digit")]
    BadPassword {
        /// Offset of the byte within the password.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// Returned when a password is empty or longer than
    /// [`MAX_DATA_LEN`](crate::MAX_DATA_LEN) digits.
    #[error("password of {length} digits (must be 1 to 247)")]
    BadPasswordLength {
        /// The number of bytes offered as a password.
        length: usize,
    },
    /// Returned when a password-check reply byte is neither 0x00 (wrong)
    /// nor 0x01 (right).
    #[error("password check byte {value:#04x} is neither 0x00 nor 0x01")]
    BadPasswordCheck {
        /// The byte found.
        value: u8,
    },
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
