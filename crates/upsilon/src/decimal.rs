//! Fixed-point decimal numbers as they appear on the wire, the by-position
//! reading of standard-width Q1 fields, and the writer the line formats
//! share (their grammars are in `grammar`).

use core::fmt;

use crate::error::Error;
use crate::grammar;

/// Most digits (integer and fractional together) a number may carry.
///
/// Nine decimal digits always fit an `i32`, so parsing never overflows.
pub const MAX_NUMBER_DIGITS: usize = 9;

/// Most fractional digits a [`Decimal`] may carry.
pub const MAX_SCALE: u8 = 3;

/// A decimal number kept exactly as the UPS wrote it: `raw / 10^scale`.
///
/// `27.4` is `raw = 274, scale = 1`; `2.27` is `raw = 227, scale = 2`; `014`
/// is `raw = 14, scale = 0`. The scale is part of the value (two equal
/// quantities written with different numbers of decimals compare unequal),
/// because it carries meaning: a Q1 battery voltage with two decimals is a
/// per-cell reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    raw: i32,
    scale: u8,
}

impl Decimal {
    /// Builds `raw / 10^scale`, or `None` when `scale` exceeds [`MAX_SCALE`].
    ///
    /// ```
    /// use rewire_upsilon::Decimal;
    /// let v = Decimal::new(2387, 1).unwrap();
    /// assert_eq!(v.to_f32(), 238.7);
    /// assert_eq!(v.to_string(), "238.7");
    /// ```
    pub const fn new(raw: i32, scale: u8) -> Option<Self> {
        if scale > MAX_SCALE {
            None
        } else {
            Some(Decimal { raw, scale })
        }
    }

    /// Returns the number without its decimal point (`238.7` → `2387`).
    pub const fn raw(self) -> i32 {
        self.raw
    }

    /// Returns how many fractional digits the number has.
    pub const fn scale(self) -> u8 {
        self.scale
    }

    /// Returns the value in thousandths (`238.7` → `238_700`), exact for
    /// every value this crate parses.
    pub const fn milli(self) -> i64 {
        let factor: i64 = match self.scale {
            0 => 1000,
            1 => 100,
            2 => 10,
            _ => 1,
        };
        self.raw as i64 * factor
    }

    /// Returns the value as an `f32` (for display and arithmetic; may round).
    pub fn to_f32(self) -> f32 {
        let div: f32 = match self.scale {
            0 => 1.0,
            1 => 10.0,
            2 => 100.0,
            _ => 1000.0,
        };
        self.raw as f32 / div
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let div = 10u32.pow(u32::from(self.scale));
        let abs = self.raw.unsigned_abs();
        let sign = if self.raw < 0 { "-" } else { "" };
        if self.scale == 0 {
            write!(f, "{sign}{abs}")
        } else {
            write!(
                f,
                "{sign}{}.{:0width$}",
                abs / div,
                abs % div,
                width = usize::from(self.scale)
            )
        }
    }
}

/// Strips a trailing run of CR, LF and NUL bytes (the line terminators seen
/// on serial, USB and TCP 2570).
pub(crate) fn strip_terminator(line: &[u8]) -> &[u8] {
    let keep = line.len()
        - line
            .iter()
            .rev()
            .take_while(|&&b| matches!(b, b'\r' | b'\n' | 0))
            .count();
    line.get(..keep).unwrap_or_default()
}

/// Decodes a field of a standard-width Q1 line (`DDD.D`, `DD.D`, `D.DD`,
/// `DDD` or a placeholder of dashes) the way [`parse_decimal`] does, without
/// errors: `None` means "not sure, ask `parse_decimal`".
///
/// `Some(None)` is a placeholder; `Some(Some(d))` a number of digits with
/// at most one `.` that has digits on both sides. Anything starting with
/// `-` other than a placeholder (a negative number) is left to
/// `parse_decimal`.
///
/// [`parse_decimal`]: crate::grammar::parse_decimal
#[inline(always)]
pub(crate) fn fixed_width<const N: usize>(tok: [u8; N]) -> Option<Option<Decimal>> {
    // The shape nearly every UPS writes: `DDD`, `DD.D`, `DDD.D` (one
    // decimal, or none for three bytes), checked and summed without a loop.
    // And the placeholders of those shapes (`---`, `--.-`, `---.-`).
    let (point, scale) = match N {
        3 => (N, 0),
        _ => (N - 2, 1),
    };
    let mut raw = 0i32;
    let mut largest = 0u8;
    let mut dashes = true;
    for (i, &b) in tok.iter().enumerate() {
        if i != point {
            let digit = b.wrapping_sub(b'0');
            largest = largest.max(digit);
            raw = raw * 10 + i32::from(digit);
            dashes &= b == b'-';
        }
    }
    let pointed = point == N || tok.get(point) == Some(&b'.');
    if largest < 10 && pointed {
        return Some(Some(Decimal { raw, scale }));
    }
    if dashes && pointed {
        return Some(None);
    }
    any_width(tok)
}

/// [`fixed_width`] for every other shape: a point anywhere with digits on
/// both sides, placeholders.
#[inline(always)]
fn any_width<const N: usize>(tok: [u8; N]) -> Option<Option<Decimal>> {
    // One pass over the bytes: the digits' value, the last point's
    // position, and how many bytes are neither digits nor the one point.
    let mut raw = 0i32;
    let mut point = N;
    let mut points = 0u32;
    let mut others = 0u32;
    for (i, b) in tok.into_iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        let is_digit = digit < 10;
        let is_point = b == b'.';
        raw = if is_digit {
            raw * 10 + i32::from(digit)
        } else {
            raw
        };
        point = if is_point { i } else { point };
        points += u32::from(is_point);
        others += u32::from(!is_digit && !is_point);
    }
    if others > 0 || points > 1 {
        // Not a plain number: a placeholder, or a job for the full parser.
        return (tok.first() == Some(&b'-') && grammar::is_placeholder(&tok)).then_some(None);
    }
    // A point needs digits on both sides (and `N` ≤ 5 keeps the scale ≤ 3).
    let scale = match point {
        p if p == N => 0,
        0 => return None,
        p if p + 1 == N => return None,
        p => N - 1 - p,
    };
    Some(Some(Decimal::new(raw, u8::try_from(scale).ok()?)?))
}

/// Writes into a caller's buffer, counting what would not fit so that
/// `BufferTooSmall` can report the whole size needed.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    pub(crate) fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.pos) {
            *slot = b;
        }
        self.pos = self.pos.saturating_add(1);
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    /// Writes `v` in decimal, zero-padded to at least `width` digits.
    pub(crate) fn unsigned(&mut self, v: u32, width: usize) {
        let mut digits = [0u8; 10];
        let mut n = 0;
        let mut rest = v;
        loop {
            if let Some(d) = digits.get_mut(n) {
                // `rest % 10` is below 10, so the narrowing cannot lose bits.
                *d = b'0' + (rest % 10) as u8;
            }
            n += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for _ in n..width {
            self.byte(b'0');
        }
        for i in (0..n).rev() {
            self.byte(digits.get(i).copied().unwrap_or(b'0'));
        }
    }

    /// Writes a decimal with its integer part zero-padded to `int_width`.
    pub(crate) fn decimal(&mut self, d: Decimal, int_width: usize) {
        let div = 10u32.pow(u32::from(d.scale));
        let abs = d.raw.unsigned_abs();
        if d.raw < 0 {
            self.byte(b'-');
        }
        self.unsigned(abs / div, int_width);
        if d.scale > 0 {
            self.byte(b'.');
            self.unsigned(abs % div, usize::from(d.scale));
        }
    }

    /// Writes an optional decimal of nominal `width` characters (point
    /// included): the integer part takes what the fraction leaves, and an
    /// unknown value becomes dashes of the same shape (`--.-`, `---.-`).
    pub(crate) fn field(&mut self, d: Option<Decimal>, width: usize) {
        match d {
            Some(d) => {
                let int_width = if d.scale == 0 {
                    width
                } else {
                    width.saturating_sub(1 + usize::from(d.scale)).max(1)
                };
                self.decimal(d, int_width);
            }
            None if width < 4 => {
                for _ in 0..width {
                    self.byte(b'-');
                }
            }
            None => {
                for _ in 0..width - 2 {
                    self.byte(b'-');
                }
                self.bytes(b".-");
            }
        }
    }

    pub(crate) fn finish(self) -> Result<usize, Error> {
        if self.pos > self.buf.len() {
            Err(Error::BufferTooSmall {
                needed: self.pos,
                available: self.buf.len(),
            })
        } else {
            Ok(self.pos)
        }
    }
}
