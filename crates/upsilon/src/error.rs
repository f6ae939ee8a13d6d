//! The crate's one error type and the names of the fields it reports.

use core::fmt;

/// Names the part of a message an [`Error`] is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The leading `(` of a status line or `#` of an `F`/`I` reply.
    Start,
    /// Q1 `MMM.M`: input voltage.
    InputVoltage,
    /// Q1 `NNN.N`: input fault voltage.
    InputFaultVoltage,
    /// Q1 `PPP.P`: output voltage.
    OutputVoltage,
    /// Q1 `QQQ`: load in percent.
    Load,
    /// Q1 `RR.R`: input frequency.
    InputFrequency,
    /// Q1 `SS.S` / `S.SS`: battery voltage.
    BatteryVoltage,
    /// Q1 `TT.T`: temperature.
    Temperature,
    /// Q1 `b7…b0`: the eight status bits.
    StatusBits,
    /// `F` reply: rated voltage.
    RatedVoltage,
    /// `F` reply: rated current.
    RatedCurrent,
    /// `F` reply: rated battery voltage.
    RatedBatteryVoltage,
    /// `F` reply: rated frequency.
    RatedFrequency,
    /// `I` reply: company name.
    Company,
    /// `I` reply: model.
    Model,
    /// `I` reply: firmware version.
    Version,
    /// Whatever follows the last field of a line.
    Trailing,
    /// A Megatec command's letters.
    Command,
    /// The minutes of a `T<n>` command.
    TestMinutes,
    /// The `n` of an `S<n>` command.
    ShutdownDelay,
    /// The `m` of an `S<n>R<m>` command.
    RestoreMinutes,
    /// The UPS number of a heartbeat.
    UpsNumber,
    /// The request line of an SMS alert request.
    RequestLine,
    /// The HTTP method of an SMS alert request.
    Method,
    /// The HTTP version of an SMS alert request.
    HttpVersion,
    /// The request target (path and query) of an SMS alert request.
    Target,
    /// A header line of an SMS alert request.
    Header,
    /// The `$sms_recptmobile` query value.
    Recipient,
    /// The `$sms_content` query value.
    Content,
    /// The `$sms_code` query value.
    Code,
    /// A whole SMS alert request.
    Request,
}

impl Field {
    /// Returns a short human-readable name of the field.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Start => "start byte",
            Field::InputVoltage => "input voltage",
            Field::InputFaultVoltage => "input fault voltage",
            Field::OutputVoltage => "output voltage",
            Field::Load => "load",
            Field::InputFrequency => "input frequency",
            Field::BatteryVoltage => "battery voltage",
            Field::Temperature => "temperature",
            Field::StatusBits => "status bits",
            Field::RatedVoltage => "rated voltage",
            Field::RatedCurrent => "rated current",
            Field::RatedBatteryVoltage => "rated battery voltage",
            Field::RatedFrequency => "rated frequency",
            Field::Company => "company",
            Field::Model => "model",
            Field::Version => "version",
            Field::Trailing => "trailing data",
            Field::Command => "command",
            Field::TestMinutes => "test minutes",
            Field::ShutdownDelay => "shutdown delay",
            Field::RestoreMinutes => "restore minutes",
            Field::UpsNumber => "UPS number",
            Field::RequestLine => "request line",
            Field::Method => "method",
            Field::HttpVersion => "HTTP version",
            Field::Target => "request target",
            Field::Header => "header",
            Field::Recipient => "recipient",
            Field::Content => "content",
            Field::Code => "code",
            Field::Request => "request",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong while parsing or building UPSilon / Megatec bytes.
///
/// Offsets count from the first byte of the input handed to the failing
/// function.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Returned when a byte that cannot appear there is found, e.g. a letter in
    /// a number, a status bit other than `0`/`1`, or a missing `(`.
    #[error("{field}: unexpected byte {found:#04x} at offset {offset}")]
    UnexpectedByte {
        /// The field being read.
        field: Field,
        /// Offset of the offending byte.
        offset: usize,
        /// The offending byte.
        found: u8,
    },
    /// Returned when the input ends before a required field (or a required
    /// part of one) starts.
    #[error("{field}: missing (input ends at offset {offset})")]
    MissingField {
        /// The field that is missing.
        field: Field,
        /// Where the field was expected.
        offset: usize,
    },
    /// Returned when a field is longer than this crate accepts: a number
    /// with more than [`MAX_NUMBER_DIGITS`](crate::MAX_NUMBER_DIGITS) digits,
    /// a text longer than its column, or a request longer than its maximum.
    #[error("{field}: {len} bytes at offset {offset}, at most {max} allowed")]
    TooLong {
        /// The field that is too long.
        field: Field,
        /// Where the field starts.
        offset: usize,
        /// Its length.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// Returned when a numeric argument is syntactically fine but outside
    /// the range the protocol allows (e.g. `T00`, `S11`, a UPS number above 999).
    #[error("{field}: {value} is out of range {min}..={max}")]
    OutOfRange {
        /// The field holding the value.
        field: Field,
        /// The value found or requested.
        value: u32,
        /// Smallest value allowed.
        min: u32,
        /// Largest value allowed.
        max: u32,
    },
    /// Returned when an encoder's output buffer cannot hold the message.
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the whole message needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// Returned when a UDP 11541 datagram is not `ups<NNN>cnt001` or
    /// `upsdiscnt001`; names the datagram by its length and the first byte
    /// that does not fit.
    #[error("bad heartbeat datagram ({len} bytes): unexpected content at offset {offset}")]
    BadHeartbeat {
        /// Offset of the first byte that does not fit (equals `len` when the
        /// datagram is too short).
        offset: usize,
        /// Length of the whole datagram.
        len: usize,
    },
    /// Returned when a text field is not valid UTF-8 (raw, or after
    /// percent-decoding).
    #[error("{field}: invalid UTF-8 at offset {offset}")]
    InvalidUtf8 {
        /// The field holding the text.
        field: Field,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// Returned when an SMS alert request carries more than
    /// [`MAX_HEADERS`](crate::sms::MAX_HEADERS) header lines.
    #[error("more than {max} headers")]
    TooManyHeaders {
        /// The maximum allowed.
        max: usize,
    },
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
