//! Megatec commands (`Q1`, `T`, `S.5R0002`, …), their encoder and parser, and
//! echo detection.

use core::fmt;

use crate::decimal::{self, Writer};
use crate::error::{Error, Field};
use crate::grammar;

/// Longest command on the wire, CR included (`S.5R0000\r`, `S10R9999\r`).
pub const MAX_COMMAND_LEN: usize = 9;

/// Minutes of a timed battery test `T<n>`: 1 to 99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TestMinutes(u8);

impl TestMinutes {
    /// Smallest test length, minutes.
    pub const MIN: u8 = 1;
    /// Largest test length, minutes.
    pub const MAX: u8 = 99;

    /// Checks that `minutes` is within 1..=99.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] otherwise.
    pub const fn new(minutes: u8) -> Result<Self, Error> {
        if minutes < Self::MIN || minutes > Self::MAX {
            Err(Error::OutOfRange {
                field: Field::TestMinutes,
                value: minutes as u32,
                min: Self::MIN as u32,
                max: Self::MAX as u32,
            })
        } else {
            Ok(TestMinutes(minutes))
        }
    }

    /// Returns the minutes.
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// Delay before a shutdown `S<n>`: `.2` … `.9` minutes (12 to 54 s, written
/// with a leading point) or `01` … `10` whole minutes.
///
/// Stored in tenths of a minute (6-second steps): 2..=9, then 10, 20, … 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShutdownDelay(u8);

impl ShutdownDelay {
    /// Builds a sub-minute delay of `tenths` tenths of a minute (2..=9, so
    /// `.2` … `.9`).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] outside 2..=9.
    pub const fn from_tenths(tenths: u8) -> Result<Self, Error> {
        if tenths < 2 || tenths > 9 {
            Err(Error::OutOfRange {
                field: Field::ShutdownDelay,
                value: tenths as u32,
                min: 2,
                max: 9,
            })
        } else {
            Ok(ShutdownDelay(tenths))
        }
    }

    /// Builds a delay of whole `minutes` (1..=10, so `01` … `10`).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] outside 1..=10.
    pub const fn from_minutes(minutes: u8) -> Result<Self, Error> {
        if minutes < 1 || minutes > 10 {
            Err(Error::OutOfRange {
                field: Field::ShutdownDelay,
                value: minutes as u32,
                min: 1,
                max: 10,
            })
        } else {
            Ok(ShutdownDelay(minutes * 10))
        }
    }

    /// Returns the delay in tenths of a minute (2..=9 or 10, 20, … 100).
    pub const fn tenths(self) -> u8 {
        self.0
    }

    /// Returns the delay in seconds (12 … 600).
    pub const fn seconds(self) -> u16 {
        self.0 as u16 * 6
    }

    fn write(self, w: &mut Writer<'_>) {
        if self.0 < 10 {
            w.byte(b'.');
            w.unsigned(u32::from(self.0), 1);
        } else {
            w.unsigned(u32::from(self.0 / 10), 2);
        }
    }
}

impl fmt::Display for ShutdownDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 10 {
            write!(f, ".{}", self.0)
        } else {
            write!(f, "{:02}", self.0 / 10)
        }
    }
}

/// Minutes before the UPS restores power after an `S<n>R<m>` shutdown:
/// 0 … 9999 (`R0000`: stay off until a `C` command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RestoreMinutes(u16);

impl RestoreMinutes {
    /// Largest restore delay, minutes.
    pub const MAX: u16 = 9999;

    /// Checks that `minutes` is within 0..=9999.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] above 9999.
    pub const fn new(minutes: u16) -> Result<Self, Error> {
        if minutes > Self::MAX {
            Err(Error::OutOfRange {
                field: Field::RestoreMinutes,
                value: minutes as u32,
                min: 0,
                max: Self::MAX as u32,
            })
        } else {
            Ok(RestoreMinutes(minutes))
        }
    }

    /// Returns the minutes.
    pub const fn get(self) -> u16 {
        self.0
    }
}

/// A Megatec command, as a monitor sends it to the UPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `Q1`: status inquiry; the UPS answers a status line.
    Status,
    /// `D`: the older status inquiry (same answer as `Q1`; Megatec 2.7
    /// disabled it, some UPSes still answer it).
    StatusLegacy,
    /// `T`: ten-second battery test.
    Test,
    /// `TL`: battery test until battery low.
    TestUntilLow,
    /// `T<n>`: battery test for `n` minutes (`T01` … `T99`).
    TestFor(TestMinutes),
    /// `Q`: toggle the beeper.
    ToggleBeeper,
    /// `S<n>` / `S<n>R<m>`: shut the output down after `delay`; with
    /// `restore`, power back on `m` minutes later (`R0000`: stay off);
    /// without it, when the utility returns.
    Shutdown {
        /// Delay before the shutdown.
        delay: ShutdownDelay,
        /// The `R<m>` part, if present.
        restore: Option<RestoreMinutes>,
    },
    /// `C`: cancel a pending shutdown (or switch the output back on).
    CancelShutdown,
    /// `CT`: cancel a battery test.
    CancelTest,
    /// `F`: ratings inquiry; the UPS answers `#…` ([`parse_ratings`](crate::parse_ratings)).
    Ratings,
    /// `I`: information inquiry; the UPS answers `#…` ([`parse_info`](crate::parse_info)).
    Info,
}

impl Command {
    /// Writes the command, CR included, into `buf` and returns its length
    /// (at most [`MAX_COMMAND_LEN`]).
    ///
    /// ```
    /// use rewire_upsilon::{Command, RestoreMinutes, ShutdownDelay};
    /// let cmd = Command::Shutdown {
    ///     delay: ShutdownDelay::from_tenths(5)?,
    ///     restore: Some(RestoreMinutes::new(2)?),
    /// };
    /// let mut buf = [0u8; 16];
    /// let n = cmd.emit(&mut buf)?;
    /// assert_eq!(&buf[..n], b"S.5R0002\r");
    /// # Ok::<(), rewire_upsilon::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` cannot hold the command.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        self.write(&mut w);
        w.byte(b'\r');
        w.finish()
    }

    fn write(&self, w: &mut Writer<'_>) {
        match *self {
            Command::Status => w.bytes(b"Q1"),
            Command::StatusLegacy => w.bytes(b"D"),
            Command::Test => w.bytes(b"T"),
            Command::TestUntilLow => w.bytes(b"TL"),
            Command::TestFor(m) => {
                w.byte(b'T');
                w.unsigned(u32::from(m.get()), 2);
            }
            Command::ToggleBeeper => w.bytes(b"Q"),
            Command::Shutdown { delay, restore } => {
                w.byte(b'S');
                delay.write(w);
                if let Some(r) = restore {
                    w.byte(b'R');
                    w.unsigned(u32::from(r.get()), 4);
                }
            }
            Command::CancelShutdown => w.bytes(b"C"),
            Command::CancelTest => w.bytes(b"CT"),
            Command::Ratings => w.bytes(b"F"),
            Command::Info => w.bytes(b"I"),
        }
    }

    /// Reports whether `reply` is this command echoed back, which is how a
    /// Megatec UPS (and NUT's USB bridges) say "unknown or refused command".
    ///
    /// Trailing CR/LF/NUL bytes on the reply are ignored.
    ///
    /// ```
    /// use rewire_upsilon::Command;
    /// assert!(Command::TestUntilLow.is_echoed_by(b"TL\r"));
    /// assert!(!Command::TestUntilLow.is_echoed_by(b"(ACK\r"));
    /// ```
    pub fn is_echoed_by(&self, reply: &[u8]) -> bool {
        let mut buf = [0u8; MAX_COMMAND_LEN];
        let mut w = Writer::new(&mut buf);
        self.write(&mut w);
        match w.finish() {
            Ok(n) => buf.get(..n) == Some(decimal::strip_terminator(reply)),
            Err(_) => false,
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; MAX_COMMAND_LEN];
        let mut w = Writer::new(&mut buf);
        self.write(&mut w);
        let n = w.finish().map_err(|_| fmt::Error)?;
        let text = buf.get(..n).ok_or(fmt::Error)?;
        f.write_str(core::str::from_utf8(text).map_err(|_| fmt::Error)?)
    }
}

/// Parses one command as a UPS (or a simulator) receives it: the command
/// letters and arguments, optionally followed by its CR.
///
/// ```
/// use rewire_upsilon::{parse_command, Command, TestMinutes};
/// assert_eq!(parse_command(b"T05\r")?, Command::TestFor(TestMinutes::new(5)?));
/// assert!(parse_command(b"T00\r").is_err());
/// # Ok::<(), rewire_upsilon::Error>(())
/// ```
///
/// # Errors
/// [`Error::UnexpectedByte`] for unknown letters or anything after the CR;
/// [`Error::MissingField`] / [`Error::TooLong`] for arguments of the wrong
/// width; [`Error::OutOfRange`] for `T00`, `S00`, `S11`, `S.1` and the like.
pub fn parse_command(input: &[u8]) -> Result<Command, Error> {
    let body = match input.split_last() {
        Some((b'\r', body)) => body,
        _ => input,
    };
    let unexpected = |offset: usize| Error::UnexpectedByte {
        field: Field::Command,
        offset,
        found: body.get(offset).copied().unwrap_or(b'\r'),
    };
    let simple = match body {
        b"Q1" => Some(Command::Status),
        b"D" => Some(Command::StatusLegacy),
        b"T" => Some(Command::Test),
        b"TL" => Some(Command::TestUntilLow),
        b"Q" => Some(Command::ToggleBeeper),
        b"C" => Some(Command::CancelShutdown),
        b"CT" => Some(Command::CancelTest),
        b"F" => Some(Command::Ratings),
        b"I" => Some(Command::Info),
        _ => None,
    };
    if let Some(cmd) = simple {
        return Ok(cmd);
    }
    match body.split_first() {
        None => Err(Error::MissingField {
            field: Field::Command,
            offset: 0,
        }),
        Some((b'T', digits)) => {
            let n = fixed_digits(digits, 1, 2, Field::TestMinutes)?;
            Ok(Command::TestFor(TestMinutes::new(narrow(
                n,
                Field::TestMinutes,
            )?)?))
        }
        Some((b'S', rest)) => parse_shutdown(rest),
        // Known letters followed by something unknown: point past the letter
        // only when the letter alone is a command.
        Some((b'Q' | b'C' | b'D' | b'F' | b'I', _)) => Err(unexpected(1)),
        Some(_) => Err(unexpected(0)),
    }
}

/// Parses what follows `S`: `.n` or `nn`, optionally `R` and four digits.
fn parse_shutdown(rest: &[u8]) -> Result<Command, Error> {
    // Offsets below count from the `S`, which sits at offset 0.
    let (delay, after) = match rest.split_first() {
        Some((b'.', tail)) => {
            let (digit, after) = tail.split_at_checked(1).ok_or(Error::MissingField {
                field: Field::ShutdownDelay,
                offset: 2,
            })?;
            let n = fixed_digits(digit, 2, 1, Field::ShutdownDelay)?;
            (
                ShutdownDelay::from_tenths(narrow(n, Field::ShutdownDelay)?)?,
                after,
            )
        }
        _ => {
            let (digits, after) = rest.split_at_checked(2).ok_or(Error::MissingField {
                field: Field::ShutdownDelay,
                offset: 1 + rest.len(),
            })?;
            let n = fixed_digits(digits, 1, 2, Field::ShutdownDelay)?;
            (
                ShutdownDelay::from_minutes(narrow(n, Field::ShutdownDelay)?)?,
                after,
            )
        }
    };
    let r_offset = 1 + rest.len() - after.len();
    let restore = match after.split_first() {
        None => None,
        Some((b'R', digits)) => {
            let m = fixed_digits(digits, r_offset + 1, 4, Field::RestoreMinutes)?;
            let m = u16::try_from(m).map_err(|_| Error::OutOfRange {
                field: Field::RestoreMinutes,
                value: m,
                min: 0,
                max: u32::from(RestoreMinutes::MAX),
            })?;
            Some(RestoreMinutes::new(m)?)
        }
        Some((&found, _)) => {
            return Err(Error::UnexpectedByte {
                field: Field::Command,
                offset: r_offset,
                found,
            });
        }
    };
    Ok(Command::Shutdown { delay, restore })
}

/// Parses exactly `width` ASCII digits found at `offset`.
fn fixed_digits(bytes: &[u8], offset: usize, width: usize, field: Field) -> Result<u32, Error> {
    if bytes.len() < width {
        // Report the first non-digit if there is one, else the shortfall.
        if let Some(pos) = bytes.iter().position(|b| !b.is_ascii_digit()) {
            return Err(Error::UnexpectedByte {
                field,
                offset: offset + pos,
                found: bytes.get(pos).copied().unwrap_or(0),
            });
        }
        return Err(Error::MissingField {
            field,
            offset: offset + bytes.len(),
        });
    }
    if bytes.len() > width {
        return Err(Error::TooLong {
            field,
            offset,
            len: bytes.len(),
            max: width,
        });
    }
    grammar::parse_digits(bytes, offset, field)
}

fn narrow(v: u32, field: Field) -> Result<u8, Error> {
    u8::try_from(v).map_err(|_| Error::OutOfRange {
        field,
        value: v,
        min: 0,
        max: u32::from(u8::MAX),
    })
}
