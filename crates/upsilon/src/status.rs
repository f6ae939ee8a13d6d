//! The Q1 status line (`(MMM.M NNN.N PPP.P QQQ RR.R S.SS TT.T b7…b0<CR>`).

use core::fmt;

use crate::decimal::{self, Decimal, Writer};
use crate::error::{Error, Field, Result};
use crate::grammar::{self, Fields};

/// Longest status line [`Status::emit`] writes for values this crate parses
/// from standard-width lines (47 bytes with the CR); callers sizing buffers
/// for arbitrary values should use [`MAX_LINE_LEN`](crate::MAX_LINE_LEN).
pub const STATUS_LINE_LEN: usize = 47;

/// The eight Q1 status bits `b7…b0`, as one byte (`b7` is the first
/// character on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StatusBits(u8);

impl StatusBits {
    /// Bit 7: utility (mains) failed, the UPS runs on battery.
    pub const UTILITY_FAIL: u8 = 1 << 7;
    /// Bit 6: battery low.
    pub const BATTERY_LOW: u8 = 1 << 6;
    /// Bit 5: bypass, boost or buck active.
    pub const BYPASS_BOOST_BUCK: u8 = 1 << 5;
    /// Bit 4: UPS failed.
    pub const UPS_FAILED: u8 = 1 << 4;
    /// Bit 3: UPS type is standby (line-interactive); 0 means on-line.
    pub const STANDBY: u8 = 1 << 3;
    /// Bit 2: a self-test is running.
    pub const TEST_IN_PROGRESS: u8 = 1 << 2;
    /// Bit 1: a shutdown is pending.
    pub const SHUTDOWN_ACTIVE: u8 = 1 << 1;
    /// Bit 0: the beeper is on.
    pub const BEEPER_ON: u8 = 1;

    /// Wraps a byte whose bit 7 is the first status character.
    pub const fn from_bits(bits: u8) -> Self {
        StatusBits(bits)
    }

    /// Returns the bits as one byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    const fn has(self, mask: u8) -> bool {
        self.0 & mask != 0
    }

    /// Returns bit 7: the utility failed and the UPS runs on battery.
    pub const fn utility_fail(self) -> bool {
        self.has(Self::UTILITY_FAIL)
    }

    /// Returns bit 6: the battery is low.
    pub const fn battery_low(self) -> bool {
        self.has(Self::BATTERY_LOW)
    }

    /// Returns bit 5: bypass, boost or buck is active.
    pub const fn bypass_boost_buck(self) -> bool {
        self.has(Self::BYPASS_BOOST_BUCK)
    }

    /// Returns bit 4: the UPS reports a failure.
    pub const fn ups_failed(self) -> bool {
        self.has(Self::UPS_FAILED)
    }

    /// Returns bit 3: the UPS is a standby (line-interactive) type; `false`
    /// means on-line.
    pub const fn standby(self) -> bool {
        self.has(Self::STANDBY)
    }

    /// Returns bit 2: a self-test is in progress.
    pub const fn test_in_progress(self) -> bool {
        self.has(Self::TEST_IN_PROGRESS)
    }

    /// Returns bit 1: a shutdown is active (pending).
    pub const fn shutdown_active(self) -> bool {
        self.has(Self::SHUTDOWN_ACTIVE)
    }

    /// Returns bit 0: the beeper is on.
    pub const fn beeper_on(self) -> bool {
        self.has(Self::BEEPER_ON)
    }

    fn write(self, w: &mut Writer<'_>) {
        for i in (0..8).rev() {
            w.byte(if self.0 & (1 << i) != 0 { b'1' } else { b'0' });
        }
    }
}

impl fmt::Display for StatusBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08b}", self.0)
    }
}

/// One decoded Q1 status line.
///
/// Every measured field is `Option`: a UPS writes `--.-` or `---.-` for a
/// quantity it does not measure (the seed's UPS has no temperature sensor).
/// Numbers are [`Decimal`]s, fixed-point and exact (see the crate docs for why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    /// `MMM.M`: input voltage, volts.
    pub input_voltage: Option<Decimal>,
    /// `NNN.N`: input fault voltage, volts (the glitch voltage held since the
    /// last query).
    pub input_fault_voltage: Option<Decimal>,
    /// `PPP.P`: output voltage, volts.
    pub output_voltage: Option<Decimal>,
    /// `QQQ`: load (output current) in percent of the maximum.
    pub load_percent: Option<u16>,
    /// `RR.R`: input frequency, hertz.
    pub input_frequency: Option<Decimal>,
    /// `SS.S` (standby UPS: battery volts) or `S.SS` (on-line UPS: volts per
    /// cell); see [`Status::battery_per_cell`].
    pub battery_voltage: Option<Decimal>,
    /// `TT.T`: temperature, °C.
    pub temperature: Option<Decimal>,
    /// `b7…b0`: the status bits.
    pub bits: StatusBits,
}

impl Status {
    /// Parses one Q1 status line (the inverse of [`Status::emit`]).
    ///
    /// The line starts with `(`; a trailing run of CR, LF and NUL bytes is
    /// ignored, as is a missing CR. Fields are separated by one or more spaces,
    /// so makers' differing widths (`  0` for the load, `2.27` against `27.4`)
    /// all parse. `--.-`, `---.-` and similar dash placeholders read as `None`.
    /// A standard-width line is read by position; any other goes through the
    /// nom grammar, and both give the same answer.
    ///
    /// ```
    /// use rewire_upsilon::Status;
    /// let s = Status::parse(b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000").unwrap();
    /// assert_eq!(s.load_percent, Some(7));
    /// assert_eq!(s.temperature, None);
    /// assert!(s.bits.standby());
    /// ```
    ///
    /// # Errors
    /// [`Error::UnexpectedByte`] for a missing `(`, a non-digit in a number or a
    /// status bit other than `0`/`1`; [`Error::MissingField`] when the line ends
    /// early; [`Error::TooLong`] for over-long numbers or more than eight bits;
    /// [`Error::OutOfRange`] for a load above 65535; each names the field and offset.
    pub fn parse(line: &[u8]) -> Result<Status> {
        let line = decimal::strip_terminator(line);
        match parse_standard(line) {
            Some(status) => Ok(status),
            None => parse_status(line),
        }
    }

    /// Reports whether the battery voltage is written per cell (`S.SS`, two
    /// decimals, on-line UPSes) rather than for the whole battery (`SS.S`).
    pub fn battery_per_cell(&self) -> bool {
        self.battery_voltage.is_some_and(|v| v.scale() == 2)
    }

    /// Writes the line, CR included, into `buf` and returns its length; the
    /// line parses back to `self` with [`Status::parse`].
    ///
    /// Integer parts are zero-padded to the standard widths (`MMM.M`, `QQQ`,
    /// `RR.R`, `SS.S`/`S.SS`, `TT.T`); unknown values become dashes of the
    /// same shape.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` cannot hold the line.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.byte(b'(');
        w.field(self.input_voltage, 5);
        w.byte(b' ');
        w.field(self.input_fault_voltage, 5);
        w.byte(b' ');
        w.field(self.output_voltage, 5);
        w.byte(b' ');
        match self.load_percent {
            Some(l) => w.unsigned(u32::from(l), 3),
            None => w.bytes(b"---"),
        }
        w.byte(b' ');
        w.field(self.input_frequency, 4);
        w.byte(b' ');
        w.field(self.battery_voltage, 4);
        w.byte(b' ');
        w.field(self.temperature, 4);
        w.byte(b' ');
        self.bits.write(&mut w);
        w.byte(b'\r');
        w.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Opt<T>(Option<T>);
        impl<T: fmt::Display> fmt::Display for Opt<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match &self.0 {
                    Some(v) => v.fmt(f),
                    None => f.write_str("?"),
                }
            }
        }
        write!(
            f,
            "Q1 in {}V fault {}V out {}V load {}% {}Hz batt {}V{} temp {}C bits {}",
            Opt(self.input_voltage),
            Opt(self.input_fault_voltage),
            Opt(self.output_voltage),
            Opt(self.load_percent),
            Opt(self.input_frequency),
            Opt(self.battery_voltage),
            if self.battery_per_cell() { "/cell" } else { "" },
            Opt(self.temperature),
            self.bits,
        )
    }
}

/// Length of a standard-width Q1 line without its terminator.
const STANDARD_LEN: usize = 46;

/// Offsets of the single spaces between the fields of a standard-width Q1
/// line (`(MMM.M NNN.N PPP.P QQQ RR.R SS.S TT.T b7…b0`).
const STANDARD_SPACES: [usize; 7] = [6, 12, 18, 22, 27, 32, 37];

/// Decodes a standard-width line by field position, without tokenizing.
///
/// This is the line nearly every UPS sends, and the hot path of every
/// decoder. It returns `None` for anything it is not sure of (other widths,
/// signs, unusual placeholders, any error) and [`Status::parse`] then runs
/// the nom grammar ([`parse_status`]), so both paths give the same answer for
/// every input that reaches this one (a test mutates every byte of real
/// lines to check that).
fn parse_standard(line: &[u8]) -> Option<Status> {
    let line: &[u8; STANDARD_LEN] = line.try_into().ok()?;
    let [
        b'(',
        m0,
        m1,
        m2,
        m3,
        m4,
        _,
        n0,
        n1,
        n2,
        n3,
        n4,
        _,
        p0,
        p1,
        p2,
        p3,
        p4,
        _,
        q0,
        q1,
        q2,
        _,
        r0,
        r1,
        r2,
        r3,
        _,
        s0,
        s1,
        s2,
        s3,
        _,
        t0,
        t1,
        t2,
        t3,
        _,
        bits @ ..,
    ] = *line
    else {
        return None;
    };
    // Single spaces separate the fields; anything else goes the long way.
    if STANDARD_SPACES.iter().any(|&i| line.get(i) != Some(&b' ')) {
        return None;
    }
    let load_percent = match decimal::fixed_width([q0, q1, q2])? {
        None => None,
        Some(d) if d.scale() == 0 => Some(u16::try_from(d.raw()).ok()?),
        Some(_) => return None,
    };
    let mut status_bits = 0u8;
    let mut bad = 0u8;
    for b in bits {
        let bit = b.wrapping_sub(b'0');
        bad |= bit & !1;
        status_bits = (status_bits << 1) | (bit & 1);
    }
    if bad != 0 {
        return None;
    }
    Some(Status {
        input_voltage: decimal::fixed_width([m0, m1, m2, m3, m4])?,
        input_fault_voltage: decimal::fixed_width([n0, n1, n2, n3, n4])?,
        output_voltage: decimal::fixed_width([p0, p1, p2, p3, p4])?,
        load_percent,
        input_frequency: decimal::fixed_width([r0, r1, r2, r3])?,
        battery_voltage: decimal::fixed_width([s0, s1, s2, s3])?,
        temperature: decimal::fixed_width([t0, t1, t2, t3])?,
        bits: StatusBits(status_bits),
    })
}

/// [`Status::parse`] without its by-position path (the nom grammar alone),
/// for the fuzz harness to compare the two paths on arbitrary input.
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn parse_status_tokenized(line: &[u8]) -> Result<Status> {
    parse_status(decimal::strip_terminator(line))
}

/// The general parser, a nom grammar with every error named:
/// `status = "(" 8(*SP token) *SP`, each token read by its own grammar.
// Out of line, so that `Status::parse` stays small around the by-position
// path nearly every line takes (measured in the A/B runs of PERFORMANCE.md).
#[inline(never)]
fn parse_status(line: &[u8]) -> Result<Status> {
    let mut fields = Fields::start(line, b"(")?;
    let mut decimal = |field| grammar::parse_decimal(fields.next(field)?, field);
    let input_voltage = decimal(Field::InputVoltage)?;
    let input_fault_voltage = decimal(Field::InputFaultVoltage)?;
    let output_voltage = decimal(Field::OutputVoltage)?;
    let load_percent = match grammar::parse_integer(fields.next(Field::Load)?, Field::Load)? {
        None => None,
        Some(v) => Some(u16::try_from(v).map_err(|_| Error::OutOfRange {
            field: Field::Load,
            value: v,
            min: 0,
            max: u32::from(u16::MAX),
        })?),
    };
    let mut decimal = |field| grammar::parse_decimal(fields.next(field)?, field);
    let input_frequency = decimal(Field::InputFrequency)?;
    let battery_voltage = decimal(Field::BatteryVoltage)?;
    let temperature = decimal(Field::Temperature)?;
    let bits = StatusBits(grammar::parse_bits(fields.next(Field::StatusBits)?)?);
    fields.finish()?;
    Ok(Status {
        input_voltage,
        input_fault_voltage,
        output_voltage,
        load_percent,
        input_frequency,
        battery_voltage,
        temperature,
        bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real standard-width lines (the seed, NUT driver tests, HID tools)
    /// and placeholders in every numeric field.
    const LINES: [&[u8; STANDARD_LEN]; 12] = [
        b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
        b"(000.0 000.0 238.7 007 50.1 27.4 --.- 10001000",
        b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000",
        b"(215.0 195.0 230.0 014 49.0 2.27 30.0 00101000",
        b"(102.5 000.0 102.4 000 49.9 54.5 22.7 00101000",
        b"(000.0 140.0 227.0 002 00.0 46.8 56.0 10001000",
        b"(---.- ---.- ---.- --- --.- --.- --.- 11111111",
        b"(999.9 999.9 999.9 999 99.9 9.99 99.9 01010101",
        b"(-23.5 -00.0 -1.00 -12 -3.5 -.5- 1.-1 00000000",
        b"(23.55 2.355 .2355 1.5 .255 255. 2..5 00000000",
        b"(2355. 0.001 100.0 0.1 1.00 0.00 00.0 00000000",
        b"(  1.5 --.-- -.--- --. -.-- ---- .--- 00000000",
    ];

    /// Bytes each position is replaced with: digits at the range's ends and
    /// just outside it, the separators, terminators, a sign and high bytes.
    const SUBSTITUTES: [u8; 16] = [
        b'0', b'1', b'9', b'/', b':', b'.', b'-', b'+', b' ', b'(', b'\r', b'\n', 0, b'x', 0x80,
        0xFF,
    ];

    /// Parses `line` both ways, asserts they agree, and reports whether the
    /// by-position path answered.
    fn agree(line: &[u8]) -> bool {
        let stripped = decimal::strip_terminator(line);
        let fast = parse_standard(stripped);
        let general = parse_status(stripped);
        if let Some(fast) = fast {
            assert_eq!(Ok(fast), general, "{:?}", core::str::from_utf8(line));
        }
        assert_eq!(Status::parse(line), general);
        fast.is_some()
    }

    #[test]
    fn by_position_path_and_grammar_agree_on_every_mutation() {
        let mut fast = 0usize;
        let mut total = 0usize;
        for line in LINES {
            fast += usize::from(agree(line));
            total += 1;
            // Every byte replaced by every substitute.
            for i in 0..STANDARD_LEN {
                for b in SUBSTITUTES {
                    let mut m = *line;
                    m[i] = b;
                    fast += usize::from(agree(&m));
                    total += 1;
                }
            }
            // Every pair of bytes replaced by separators and digits.
            for i in 0..STANDARD_LEN {
                for j in i + 1..STANDARD_LEN {
                    for (a, b) in [
                        (b'.', b'-'),
                        (b'-', b'.'),
                        (b' ', b'0'),
                        (b'0', b' '),
                        (b'1', b'9'),
                    ] {
                        let mut m = *line;
                        m[i] = a;
                        m[j] = b;
                        fast += usize::from(agree(&m));
                        total += 1;
                    }
                }
            }
            // Shorter and longer lines never take the by-position path.
            assert!(!agree(&line[..STANDARD_LEN - 1]));
        }
        // Both paths were exercised, many times over.
        assert!(fast > 5_000 && total - fast > 50_000, "{fast} of {total}");
    }

    /// Random standard-width lines (a seeded xorshift stands in for
    /// proptest, which as a dev-dependency would pull `std` into this
    /// crate's feature tree): random digits and bits in the standard
    /// layout, then up to three bytes replaced by bytes fields are made of.
    #[test]
    fn by_position_path_and_grammar_agree_on_random_lines() {
        const LAYOUT: &[u8; STANDARD_LEN] = b"(000.0 000.0 000.0 000 00.0 00.0 00.0 bbbbbbbb";
        const ALPHABET: &[u8] = b"0123456789.-- 01.x+\r";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut fast, mut total) = (0usize, 0usize);
        for _ in 0..40_000 {
            let mut line = *LAYOUT;
            for b in &mut line {
                let r = next();
                *b = match *b {
                    b'0' => b'0' + (r % 10) as u8,
                    b'b' => b'0' + (r % 2) as u8,
                    other => other,
                };
            }
            for _ in 0..next() % 4 {
                let r = next();
                let at = (r % STANDARD_LEN as u64) as usize;
                line[at] = ALPHABET[(r >> 32) as usize % ALPHABET.len()];
            }
            fast += usize::from(agree(&line));
            total += 1;
        }
        // Both paths were exercised.
        assert!(fast > 10_000 && total - fast > 10_000, "{fast} of {total}");
    }

    #[test]
    fn by_position_parser_takes_real_lines() {
        for line in LINES.iter().take(8) {
            assert!(parse_standard(*line).is_some());
        }
        assert!(parse_standard(LINES[8]).is_none(), "signs go the long way");
    }
}
