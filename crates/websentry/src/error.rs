//! The crate's one error type.

/// Everything that can go wrong while viewing, walking or building WebSentry bytes.
///
/// Offsets inside frame errors count from the first byte of the frame; offsets
/// inside body walks count from the first byte of the body (the byte after the
/// function code) unless the variant says otherwise.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Returned when the input ends before the item being read does: `needed`
    /// bytes were required from `offset`, only `available` were there.
    #[error("truncated at offset {offset}: needed {needed} bytes, {available} available")]
    Truncated {
        /// Where the incomplete item starts.
        offset: usize,
        /// How many bytes the item needs from `offset`.
        needed: usize,
        /// How many bytes there were from `offset`.
        available: usize,
    },
    /// Returned when a frame does not start with the magic `70 83 9E`.
    #[error("bad magic {:02x} {:02x} {:02x}, expected 70 83 9e", found[0], found[1], found[2])]
    BadMagic {
        /// The three bytes found where the magic belongs.
        found: [u8; 3],
    },
    /// Returned when a frame's length field is zero: every frame carries at
    /// least its function byte.
    #[error("empty payload: a frame needs at least its function byte")]
    EmptyPayload,
    /// Returned when a length (read from a frame header, or of a frame being
    /// built) exceeds [`MAX_PAYLOAD_LEN`](crate::MAX_PAYLOAD_LEN).
    #[error("payload length {len} exceeds the maximum of {max}")]
    PayloadTooLong {
        /// The length found or requested.
        len: usize,
        /// The maximum this crate accepts.
        max: usize,
    },
    /// Returned when the CRC-16/MODBUS computed over the payload differs from
    /// the one in the header (see [`Frame::check_checksum`](crate::Frame::check_checksum)).
    #[error("CRC mismatch: computed {expected:#06x}, header says {found:#06x}")]
    ChecksumMismatch {
        /// The CRC computed over the payload.
        expected: u16,
        /// The CRC stored in the header.
        found: u16,
    },
    /// Returned when a typed value starts with a type byte this crate does not
    /// know, so its length (and everything after it) cannot be known.
    #[error("unknown value type {type_code:#04x} at offset {offset}")]
    UnknownType {
        /// Offset of the type byte.
        offset: usize,
        /// The type byte.
        type_code: u8,
    },
    /// Returned when a query request holds something other than `0x0F` after a
    /// property id.
    #[error("query request: expected 0x0f after the id at offset {offset}, found {found:#04x}")]
    BadQueryMarker {
        /// Offset of the byte that should be `0x0F`.
        offset: usize,
        /// The byte found there.
        found: u8,
    },
    /// Returned when the `index`th property of a query response is not the
    /// one the request asked for at that position.
    #[error("query response item {index} answers {answered:#06x}, request asked {requested:#06x}")]
    OrderMismatch {
        /// Zero-based position in both lists.
        index: usize,
        /// The id the request holds at `index`.
        requested: u16,
        /// The id the response holds at `index`.
        answered: u16,
    },
    /// Returned when a query request and its response hold different numbers
    /// of properties.
    #[error("query request asks for {requested} properties, response answers {answered}")]
    CountMismatch {
        /// How many ids the request holds.
        requested: usize,
        /// How many values the response holds (counted up to the first error).
        answered: usize,
    },
    /// Returned when a string value to encode is longer than its one length
    /// byte can say.
    #[error("string of {len} bytes exceeds the maximum of 255")]
    StringTooLong {
        /// The string's length.
        len: usize,
    },
    /// Returned when an output buffer cannot hold what is being written.
    #[error("buffer too small: needed {needed} bytes, {available} available")]
    BufferTooSmall {
        /// Total bytes the output needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

/// Shorthand for results carrying this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
