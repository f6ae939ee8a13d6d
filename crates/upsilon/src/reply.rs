//! The `F` (ratings) and `I` (information) replies.

use core::fmt;

use nom::Parser;

use crate::decimal::{self, Decimal, Writer};
use crate::error::{Error, Field};
use crate::grammar::{self, Fields};

/// Width of the company column of an `I` reply.
pub const COMPANY_LEN: usize = 15;
/// Width of the model column of an `I` reply.
pub const MODEL_LEN: usize = 10;
/// Width of the version column of an `I` reply.
pub const VERSION_LEN: usize = 10;
/// Longest `I` reply accepted (without its terminator).
pub const MAX_INFO_LEN: usize = 64;

/// Longest version [`Info::emit`] accepts: the version column may run to
/// the end of a reply of [`MAX_INFO_LEN`] bytes.
pub const MAX_VERSION_LEN: usize = MAX_INFO_LEN - (1 + COMPANY_LEN + 1 + MODEL_LEN + 1);

/// Length of an `I` reply as [`Info::emit`] writes it when the version fits
/// its column: `#`, 15 + 1 + 10 + 1 + 10 columns, CR.
pub const INFO_LINE_LEN: usize = 1 + COMPANY_LEN + 1 + MODEL_LEN + 1 + VERSION_LEN + 1;

/// Decoded `F` reply: the UPS's ratings (`#220.0 000 024.0 50.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratings {
    /// Rated voltage, volts.
    pub voltage: Option<Decimal>,
    /// Rated current, amperes (usually an integer such as `005`).
    pub current: Option<Decimal>,
    /// Nominal battery voltage, volts (`024.0`, or `24.00` on some models).
    pub battery_voltage: Option<Decimal>,
    /// Rated frequency, hertz.
    pub frequency: Option<Decimal>,
}

impl Ratings {
    /// Writes the reply, CR included, into `buf` and returns its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` cannot hold the reply.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        w.byte(b'#');
        w.field(self.voltage, 5);
        w.byte(b' ');
        w.field(self.current, 3);
        w.byte(b' ');
        w.field(self.battery_voltage, 5);
        w.byte(b' ');
        w.field(self.frequency, 4);
        w.byte(b'\r');
        w.finish()
    }
}

impl fmt::Display for Ratings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("F")?;
        for (name, v, unit) in [
            ("voltage", self.voltage, "V"),
            ("current", self.current, "A"),
            ("battery", self.battery_voltage, "V"),
            ("frequency", self.frequency, "Hz"),
        ] {
            match v {
                Some(v) => write!(f, " {name} {v}{unit}")?,
                None => write!(f, " {name} ?")?,
            }
        }
        Ok(())
    }
}

/// Parses an `F` reply: `#`, then rated voltage, current, battery voltage and
/// frequency separated by spaces; a trailing CR/LF/NUL run is ignored.
///
/// ```
/// use rewire_upsilon::parse_ratings;
/// let r = parse_ratings(b"#220.0 000 024.0 50.0\r").unwrap();
/// assert_eq!(r.voltage.unwrap().to_string(), "220.0");
/// assert_eq!(r.current.unwrap().raw(), 0);
/// ```
///
/// # Errors
/// [`Error::UnexpectedByte`] for a missing `#` or a bad digit,
/// [`Error::MissingField`] when the reply ends early, [`Error::TooLong`] for
/// an over-long number; each names the field and offset.
pub fn parse_ratings(line: &[u8]) -> Result<Ratings, Error> {
    // ratings = "#" 4(*SP number) *SP
    let line = decimal::strip_terminator(line);
    let mut fields = Fields::start(line, b"#")?;
    let mut next = |field| -> Result<Option<Decimal>, Error> {
        grammar::parse_decimal(fields.next(field)?, field)
    };
    let voltage = next(Field::RatedVoltage)?;
    let current = next(Field::RatedCurrent)?;
    let battery_voltage = next(Field::RatedBatteryVoltage)?;
    let frequency = next(Field::RatedFrequency)?;
    fields.finish()?;
    Ok(Ratings {
        voltage,
        current,
        battery_voltage,
        frequency,
    })
}

/// Decoded `I` reply: company, model and firmware version, trimmed of spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Info<'a> {
    /// Company name (column of 15 characters on the wire).
    pub company: &'a str,
    /// Model (column of 10 characters).
    pub model: &'a str,
    /// Firmware version (column of 10 characters, or the rest of the line).
    pub version: &'a str,
}

impl Info<'_> {
    /// Writes the reply, CR included, into `buf` and returns its length
    /// ([`INFO_LINE_LEN`]): each field left-aligned and space-padded to its
    /// column, columns separated by one space. A version longer than its
    /// column (up to [`MAX_VERSION_LEN`]) runs on, as it may when parsed.
    ///
    /// # Errors
    /// [`Error::TooLong`] when a field exceeds its column;
    /// [`Error::UnexpectedByte`] when a field holds a byte outside printable
    /// ASCII; [`Error::BufferTooSmall`] when `buf` cannot hold the reply.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        w.byte(b'#');
        // (field, text, longest allowed, column width to pad to)
        for (i, (field, text, max, column)) in [
            (Field::Company, self.company, COMPANY_LEN, COMPANY_LEN),
            (Field::Model, self.model, MODEL_LEN, MODEL_LEN),
            (Field::Version, self.version, MAX_VERSION_LEN, VERSION_LEN),
        ]
        .into_iter()
        .enumerate()
        {
            if text.len() > max {
                return Err(Error::TooLong {
                    field,
                    offset: 0,
                    len: text.len(),
                    max,
                });
            }
            if let Some(pos) = text.bytes().position(|b| !is_printable(b)) {
                return Err(Error::UnexpectedByte {
                    field,
                    offset: pos,
                    found: text.as_bytes().get(pos).copied().unwrap_or(0),
                });
            }
            if i > 0 {
                w.byte(b' ');
            }
            w.bytes(text.as_bytes());
            for _ in text.len()..column {
                w.byte(b' ');
            }
        }
        w.byte(b'\r');
        w.finish()
    }
}

impl fmt::Display for Info<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "I company {:?} model {:?} version {:?}",
            self.company, self.model, self.version
        )
    }
}

const fn is_printable(b: u8) -> bool {
    matches!(b, 0x20..=0x7e)
}

/// Parses an `I` reply: `#`, company (columns 1–15), model (17–26) and
/// version (28 to the end of the line), each trimmed of spaces.
///
/// Columns beyond the end of a short reply read as empty strings; replies
/// whose columns are all blank (some UPSes answer `#` and spaces) give an
/// `Info` of empty strings.
///
/// ```
/// use rewire_upsilon::parse_info;
/// let i = parse_info(b"#NOT_A_LIVE_UPS  TESTING    TESTING   \r").unwrap();
/// assert_eq!((i.company, i.model, i.version), ("NOT_A_LIVE_UPS", "TESTING", "TESTING"));
/// ```
///
/// # Errors
/// [`Error::UnexpectedByte`] for a missing `#` or a byte outside printable
/// ASCII; [`Error::TooLong`] for a reply longer than [`MAX_INFO_LEN`].
pub fn parse_info(line: &[u8]) -> Result<Info<'_>, Error> {
    // info = "#" column(15) column(1) column(10) column(1) *byte, every
    // byte printable; a short reply ends inside a column.
    let line = decimal::strip_terminator(line);
    let fields = Fields::start(line, b"#")?;
    if line.len() > MAX_INFO_LEN {
        return Err(Error::TooLong {
            field: Field::Request,
            offset: 0,
            len: line.len(),
            max: MAX_INFO_LEN,
        });
    }
    let (version, (company, gap1, model, gap2)) = (
        grammar::column(COMPANY_LEN),
        grammar::column(1),
        grammar::column(MODEL_LEN),
        grammar::column(1),
    )
        .parse(fields.rest())
        .map_err(|e| grammar::failure(line, 0, Field::Company, e))?;
    fn text(field: Field, part: &[u8], start: usize) -> Result<&str, Error> {
        grammar::parse_printable(part, start, field).map(|s| s.trim_matches(' '))
    }
    let company_at = 1;
    let model_at = company_at + COMPANY_LEN + 1;
    let version_at = model_at + MODEL_LEN + 1;
    // The gaps between columns belong to no field but must still be
    // printable; they are checked first.
    text(Field::Company, gap1, model_at - 1)?;
    text(Field::Model, gap2, version_at - 1)?;
    Ok(Info {
        company: text(Field::Company, company, company_at)?,
        model: text(Field::Model, model, model_at)?,
        version: text(Field::Version, version, version_at)?,
    })
}
