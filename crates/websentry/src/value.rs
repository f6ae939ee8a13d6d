//! Typed property values: a type byte, then a body whose shape the type fixes.

use core::fmt;
use core::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::registry;

/// Type codes of the value types this crate knows.
pub mod type_code {
    /// One byte, unsigned.
    pub const U8: u8 = 0x01;
    /// One byte, an enum specific to the property.
    pub const ENUM: u8 = 0x02;
    /// Two bytes, big-endian unsigned.
    pub const U16: u8 = 0x03;
    /// Two bytes of unknown meaning.
    pub const BYTES2: u8 = 0x04;
    /// Four bytes, a dotted version `a.b.c.d`.
    pub const VERSION: u8 = 0x05;
    /// Two bytes, big-endian unsigned tenths.
    pub const TENTHS: u8 = 0x06;
    /// A length byte, then that many bytes of text.
    pub const STRING: u8 = 0x07;
    /// Value, minimum, maximum (two bytes each) and a step byte.
    pub const RANGED: u8 = 0x08;
    /// Enum-type byte, then value byte.
    pub const TYPED_ENUM: u8 = 0x09;
    /// Year − 1900, month, day, a zero byte.
    pub const DATE: u8 = 0x0A;
    /// Hour, minute, seconds × 4, a zero byte.
    pub const TIME: u8 = 0x0B;
    /// Four bytes, an IPv4 address.
    pub const IPV4: u8 = 0x0C;
    /// Six bytes, a MAC address.
    pub const MAC: u8 = 0x0D;
    /// Four bytes, big-endian unsigned.
    pub const U32: u8 = 0x12;
}

/// Length of the body that follows each fixed-size type byte, or `None` for
/// the string type (whose length is in the body) and for unknown types.
#[must_use]
pub const fn fixed_body_len(type_code: u8) -> Option<usize> {
    match type_code {
        type_code::U8 | type_code::ENUM => Some(1),
        type_code::U16 | type_code::BYTES2 | type_code::TENTHS | type_code::TYPED_ENUM => Some(2),
        type_code::VERSION
        | type_code::DATE
        | type_code::TIME
        | type_code::IPV4
        | type_code::U32 => Some(4),
        type_code::MAC => Some(6),
        type_code::RANGED => Some(7),
        _ => None,
    }
}

/// One typed property value, borrowed from the frame for strings.
///
/// ```
/// use rewire_websentry::Value;
/// let (value, used) = Value::parse(&[0x06, 0x02, 0x16]).unwrap();
/// assert_eq!(used, 3);
/// assert_eq!(value, Value::Tenths(534));
/// assert_eq!(value.as_f64(), Some(53.4));
/// let mut out = [0u8; 3];
/// assert_eq!(value.emit(&mut out), Ok(3));
/// assert_eq!(out, [0x06, 0x02, 0x16]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Value<'a> {
    /// `0x01`: one unsigned byte.
    U8(u8),
    /// `0x02`: an enum value whose labels depend on the property
    /// ([`registry::property_enum_label`]).
    Enum(u8),
    /// `0x03`: a big-endian `u16`. Set requests carry every new value in
    /// this type, whatever type the property answers queries with.
    U16(u16),
    /// `0x04`: two bytes of unknown meaning.
    Bytes2([u8; 2]),
    /// `0x05`: a four-part version, shown `a.b.c.d`.
    Version([u8; 4]),
    /// `0x06`: a big-endian `u16` counting tenths (temperatures, humidity,
    /// pressures).
    Tenths(u16),
    /// `0x07`: text bytes (at most 255), not necessarily UTF-8.
    Str(&'a [u8]),
    /// `0x08`: a setting with its limits and step. The three numbers are
    /// read as signed: captured limits such as `ff ce` (−50) only make sense
    /// that way.
    Ranged {
        /// Current value.
        value: i16,
        /// Smallest allowed value.
        min: i16,
        /// Largest allowed value.
        max: i16,
        /// Granularity.
        step: u8,
    },
    /// `0x09`: a value of a shared enum type ([`registry::typed_enum_label`]).
    TypedEnum {
        /// Which enum.
        enum_type: u8,
        /// The value within it.
        value: u8,
    },
    /// `0x0A`: a calendar date.
    Date {
        /// Years since 1900.
        year_since_1900: u8,
        /// Month, 1–12.
        month: u8,
        /// Day of the month.
        day: u8,
        /// Fourth byte, always zero in captures.
        reserved: u8,
    },
    /// `0x0B`: a time of day.
    Time {
        /// Hour, 0–23.
        hour: u8,
        /// Minute.
        minute: u8,
        /// Seconds times four (the two low bits were always zero in captures).
        seconds_x4: u8,
        /// Fourth byte, always zero in captures.
        reserved: u8,
    },
    /// `0x0C`: an IPv4 address.
    Ipv4(Ipv4Addr),
    /// `0x0D`: a MAC address (seen in the init frame).
    Mac([u8; 6]),
    /// `0x12`: a big-endian `u32` (the serial number).
    U32(u32),
}

/// Body length per type byte, for the lazy walk: the fixed length, 1 (the
/// length byte) for the string type, 0 for an unknown type.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds fails the build"
)]
pub(crate) static BODY_LEN: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = match fixed_body_len(code as u8) {
            // Every fixed length is at most 7.
            Some(len) => len as u8,
            None if code == type_code::STRING as usize => 1,
            None => 0,
        };
        code += 1;
    }
    table
};

/// How [`Item::as_f64`](crate::Item::as_f64) reads a number from the
/// first four body bytes (big-endian, zero-padded) without a branch per
/// type: shift right, mask, read as signed 16 bits or not, divide.
#[derive(Clone, Copy)]
pub(crate) struct NumberRule {
    /// Right shift of the four-byte word.
    pub(crate) shift: u8,
    /// Mask after the shift (0 for a type that is not a number).
    pub(crate) mask: u32,
    /// Whether the 16 masked bits are an `i16` (the ranged type).
    pub(crate) signed: bool,
    /// 10 for tenths, else 1.
    pub(crate) divisor: f64,
}

/// [`NumberRule`] per type byte; the same numbers as [`Value::as_f64`].
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds fails the build"
)]
pub(crate) static NUMBER_RULE: [NumberRule; 256] = {
    const NONE: NumberRule = NumberRule {
        shift: 0,
        mask: 0,
        signed: false,
        divisor: 1.0,
    };
    let mut table = [NONE; 256];
    table[type_code::U8 as usize] = NumberRule {
        shift: 24,
        mask: 0xff,
        ..NONE
    };
    table[type_code::ENUM as usize] = table[type_code::U8 as usize];
    table[type_code::TYPED_ENUM as usize] = NumberRule {
        shift: 16,
        mask: 0xff,
        ..NONE
    };
    table[type_code::U16 as usize] = NumberRule {
        shift: 16,
        mask: 0xffff,
        ..NONE
    };
    table[type_code::TENTHS as usize] = NumberRule {
        shift: 16,
        mask: 0xffff,
        signed: false,
        divisor: 10.0,
    };
    table[type_code::RANGED as usize] = NumberRule {
        shift: 16,
        mask: 0xffff,
        signed: true,
        divisor: 1.0,
    };
    table[type_code::U32 as usize] = NumberRule {
        shift: 0,
        mask: 0xffff_ffff,
        ..NONE
    };
    table
};

fn take<const N: usize>(body: &[u8], offset: usize) -> Result<[u8; N]> {
    body.get(..N)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or(Error::Truncated {
            offset,
            needed: N,
            available: body.len(),
        })
}

impl<'a> Value<'a> {
    /// Parses one typed value (type byte and body) at the start of `bytes`
    /// and returns it with the number of bytes it used.
    ///
    /// # Errors
    /// [`Error::UnknownType`] for a type byte this crate does not know (at
    /// offset 0), [`Error::Truncated`] when the body is cut short.
    pub fn parse(bytes: &'a [u8]) -> Result<(Self, usize)> {
        Self::parse_at(bytes, 0)
    }

    /// As [`Value::parse`], with error offsets shifted by `base`.
    #[inline]
    pub(crate) fn parse_at(bytes: &'a [u8], base: usize) -> Result<(Self, usize)> {
        let Some((&code, body)) = bytes.split_first() else {
            return Err(Error::Truncated {
                offset: base,
                needed: 1,
                available: 0,
            });
        };
        let at = base + 1;
        let value = match code {
            type_code::U8 => Self::U8(take::<1>(body, at)?[0]),
            type_code::ENUM => Self::Enum(take::<1>(body, at)?[0]),
            type_code::U16 => Self::U16(u16::from_be_bytes(take(body, at)?)),
            type_code::BYTES2 => Self::Bytes2(take(body, at)?),
            type_code::VERSION => Self::Version(take(body, at)?),
            type_code::TENTHS => Self::Tenths(u16::from_be_bytes(take(body, at)?)),
            type_code::STRING => {
                let [len] = take::<1>(body, at)?;
                let text = body.get(1..1 + usize::from(len)).ok_or(Error::Truncated {
                    offset: at,
                    needed: 1 + usize::from(len),
                    available: body.len(),
                })?;
                Self::Str(text)
            }
            type_code::RANGED => {
                let [v0, v1, n0, n1, x0, x1, step] = take(body, at)?;
                Self::Ranged {
                    value: i16::from_be_bytes([v0, v1]),
                    min: i16::from_be_bytes([n0, n1]),
                    max: i16::from_be_bytes([x0, x1]),
                    step,
                }
            }
            type_code::TYPED_ENUM => {
                let [enum_type, value] = take(body, at)?;
                Self::TypedEnum { enum_type, value }
            }
            type_code::DATE => {
                let [year_since_1900, month, day, reserved] = take(body, at)?;
                Self::Date {
                    year_since_1900,
                    month,
                    day,
                    reserved,
                }
            }
            type_code::TIME => {
                let [hour, minute, seconds_x4, reserved] = take(body, at)?;
                Self::Time {
                    hour,
                    minute,
                    seconds_x4,
                    reserved,
                }
            }
            type_code::IPV4 => Self::Ipv4(Ipv4Addr::from(take::<4>(body, at)?)),
            type_code::MAC => Self::Mac(take(body, at)?),
            type_code::U32 => Self::U32(u32::from_be_bytes(take(body, at)?)),
            other => {
                return Err(Error::UnknownType {
                    offset: base,
                    type_code: other,
                });
            }
        };
        Ok((value, 1 + value.body_len()))
    }

    /// Builds the value of type `code` from its body, as the lazy walk
    /// found it (string bodies include their length byte), or `None` for
    /// an unknown type or a body of the wrong length.
    #[inline]
    pub(crate) fn from_body(code: u8, body: &'a [u8]) -> Option<Self> {
        fn arr<const N: usize>(body: &[u8]) -> Option<[u8; N]> {
            body.try_into().ok()
        }
        Some(match code {
            type_code::U8 => Self::U8(body.first().copied().filter(|_| body.len() == 1)?),
            type_code::ENUM => Self::Enum(body.first().copied().filter(|_| body.len() == 1)?),
            type_code::U16 => Self::U16(u16::from_be_bytes(arr(body)?)),
            type_code::BYTES2 => Self::Bytes2(arr(body)?),
            type_code::VERSION => Self::Version(arr(body)?),
            type_code::TENTHS => Self::Tenths(u16::from_be_bytes(arr(body)?)),
            type_code::STRING => {
                let (&len, text) = body.split_first()?;
                if text.len() != usize::from(len) {
                    return None;
                }
                Self::Str(text)
            }
            type_code::RANGED => {
                let [v0, v1, n0, n1, x0, x1, step] = arr(body)?;
                Self::Ranged {
                    value: i16::from_be_bytes([v0, v1]),
                    min: i16::from_be_bytes([n0, n1]),
                    max: i16::from_be_bytes([x0, x1]),
                    step,
                }
            }
            type_code::TYPED_ENUM => {
                let [enum_type, value] = arr(body)?;
                Self::TypedEnum { enum_type, value }
            }
            type_code::DATE => {
                let [year_since_1900, month, day, reserved] = arr(body)?;
                Self::Date {
                    year_since_1900,
                    month,
                    day,
                    reserved,
                }
            }
            type_code::TIME => {
                let [hour, minute, seconds_x4, reserved] = arr(body)?;
                Self::Time {
                    hour,
                    minute,
                    seconds_x4,
                    reserved,
                }
            }
            type_code::IPV4 => Self::Ipv4(Ipv4Addr::from(arr::<4>(body)?)),
            type_code::MAC => Self::Mac(arr(body)?),
            type_code::U32 => Self::U32(u32::from_be_bytes(arr(body)?)),
            _ => return None,
        })
    }

    /// Returns whether the value says "not set": a ranged value (`0x08`)
    /// of 0 below its minimum (`00 00 00 05 01 2c 05`, 0 in 5..300), the
    /// convention of the original exporter (`wmpe.go`: "if current == 0 and less
    /// than min, unset/not applicable"). Such a value has no number
    /// ([`Value::as_f64`] is `None`) and shows as `unset (5-300 by 5)`.
    ///
    /// ```
    /// use rewire_websentry::Value;
    /// let (v, _) = Value::parse(&[0x08, 0x00, 0x00, 0x00, 0x05, 0x01, 0x2c, 0x05]).unwrap();
    /// assert!(v.is_unset());
    /// assert_eq!(v.as_f64(), None);
    /// assert_eq!(v.to_string(), "unset (5-300 by 5)");
    /// ```
    #[must_use]
    #[inline]
    pub const fn is_unset(&self) -> bool {
        matches!(*self, Self::Ranged { value: 0, min, .. } if min > 0)
    }

    /// Returns the type byte this value is encoded with.
    #[must_use]
    pub const fn type_code(&self) -> u8 {
        match self {
            Self::U8(_) => type_code::U8,
            Self::Enum(_) => type_code::ENUM,
            Self::U16(_) => type_code::U16,
            Self::Bytes2(_) => type_code::BYTES2,
            Self::Version(_) => type_code::VERSION,
            Self::Tenths(_) => type_code::TENTHS,
            Self::Str(_) => type_code::STRING,
            Self::Ranged { .. } => type_code::RANGED,
            Self::TypedEnum { .. } => type_code::TYPED_ENUM,
            Self::Date { .. } => type_code::DATE,
            Self::Time { .. } => type_code::TIME,
            Self::Ipv4(_) => type_code::IPV4,
            Self::Mac(_) => type_code::MAC,
            Self::U32(_) => type_code::U32,
        }
    }

    /// Returns the length of the body (everything after the type byte).
    #[must_use]
    pub const fn body_len(&self) -> usize {
        match self {
            Self::Str(text) => 1 + text.len(),
            other => match fixed_body_len(other.type_code()) {
                Some(len) => len,
                None => 0,
            },
        }
    }

    /// Returns the encoded length: type byte plus body.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        1 + self.body_len()
    }

    /// Returns the body bytes as they are on the wire (without the type byte).
    #[must_use]
    pub fn raw(&self) -> RawBody<'a> {
        let mut bytes = [0u8; 7];
        let fixed: &[u8] = match self {
            Self::Str(text) => return RawBody::String(text),
            Self::U8(b) | Self::Enum(b) => &[*b],
            Self::U16(v) | Self::Tenths(v) => &v.to_be_bytes(),
            Self::Bytes2(b) => b,
            Self::Version(b) => b,
            Self::Ranged {
                value,
                min,
                max,
                step,
            } => {
                let [v0, v1] = value.to_be_bytes();
                let [n0, n1] = min.to_be_bytes();
                let [x0, x1] = max.to_be_bytes();
                &[v0, v1, n0, n1, x0, x1, *step]
            }
            Self::TypedEnum { enum_type, value } => &[*enum_type, *value],
            Self::Date {
                year_since_1900,
                month,
                day,
                reserved,
            } => &[*year_since_1900, *month, *day, *reserved],
            Self::Time {
                hour,
                minute,
                seconds_x4,
                reserved,
            } => &[*hour, *minute, *seconds_x4, *reserved],
            Self::Ipv4(addr) => &addr.octets(),
            Self::Mac(b) => b,
            Self::U32(v) => &v.to_be_bytes(),
        };
        let len = fixed.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), fixed.get(..len)) {
            dst.copy_from_slice(src);
        }
        RawBody::Fixed {
            bytes,
            len: u8::try_from(len).unwrap_or(7),
        }
    }

    /// Writes the value (type byte and body) at the start of `buf` and
    /// returns the number of bytes written.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` is too short,
    /// [`Error::StringTooLong`] for a string over 255 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.encoded_len();
        let len_byte = match self {
            Self::Str(text) => Some(
                u8::try_from(text.len()).map_err(|_| Error::StringTooLong { len: text.len() })?,
            ),
            _ => None,
        };
        let available = buf.len();
        let Some((head, body)) = buf.get_mut(..len).and_then(|b| b.split_first_mut()) else {
            return Err(Error::BufferTooSmall {
                needed: len,
                available,
            });
        };
        *head = self.type_code();
        match (len_byte, self) {
            (Some(n), Self::Str(text)) => {
                if let Some((first, rest)) = body.split_first_mut() {
                    *first = n;
                    rest.copy_from_slice(text);
                }
            }
            _ => body.copy_from_slice(self.raw().as_ref()),
        }
        Ok(len)
    }

    /// Returns the value as a number where it is one: the integer types,
    /// enum values, the ranged current value, and tenths divided by ten.
    #[must_use]
    #[inline]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::U8(v) | Self::Enum(v) | Self::TypedEnum { value: v, .. } => Some(f64::from(v)),
            Self::U16(v) => Some(f64::from(v)),
            Self::Tenths(v) => Some(f64::from(v) / 10.0),
            Self::Ranged { .. } if self.is_unset() => None,
            Self::Ranged { value, .. } => Some(f64::from(value)),
            Self::U32(v) => Some(f64::from(v)),
            Self::Bytes2(_)
            | Self::Version(_)
            | Self::Str(_)
            | Self::Date { .. }
            | Self::Time { .. }
            | Self::Ipv4(_)
            | Self::Mac(_) => None,
        }
    }

    /// Returns a [`Display`](fmt::Display) that also labels property-specific
    /// enums (type `0x02`) using the registry entry of property `id`.
    ///
    /// ```
    /// use rewire_websentry::Value;
    /// assert_eq!(format!("{}", Value::Enum(2)), "2");
    /// assert_eq!(format!("{}", Value::Enum(2).labeled(0x120e)), "Ready");
    /// ```
    #[must_use]
    pub const fn labeled(self, id: u16) -> Labeled<'a> {
        Labeled { id, value: self }
    }
}

/// A value's body bytes, returned by [`Value::raw`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RawBody<'a> {
    /// A fixed-size body, copied out (at most 7 bytes).
    Fixed {
        /// Storage; only the first `len` bytes count.
        bytes: [u8; 7],
        /// How many bytes count.
        len: u8,
    },
    /// A string body: the text only (the length byte is implied).
    String(&'a [u8]),
}

impl AsRef<[u8]> for RawBody<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Fixed { bytes, len } => bytes.get(..usize::from(*len)).unwrap_or(bytes),
            Self::String(text) => text,
        }
    }
}

impl fmt::Debug for RawBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, self.as_ref())
    }
}

impl fmt::Display for RawBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, self.as_ref())
    }
}

pub(crate) fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn write_text(f: &mut fmt::Formatter<'_>, text: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            write!(f, "{}", c.escape_debug())?;
        }
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Value<'_> {
    /// Shows the value the way the unit's panel would: `53.4`, `2024-01-16`,
    /// `20:34:02`, `10.15.25.34`, `00:90:c2:0c:02:b3`, `0.5.15.12`,
    /// `90 (0-100 by 5)`, typed-enum labels, quoted strings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::U8(v) | Self::Enum(v) => write!(f, "{v}"),
            Self::U16(v) => write!(f, "{v}"),
            Self::Bytes2(b) => write_hex(f, &b),
            Self::Version([a, b, c, d]) => write!(f, "{a}.{b}.{c}.{d}"),
            Self::Tenths(v) => write!(f, "{}.{}", v / 10, v % 10),
            Self::Str(text) => write_text(f, text),
            Self::Ranged { min, max, step, .. } if self.is_unset() => {
                write!(f, "unset ({min}-{max} by {step})")
            }
            Self::Ranged {
                value,
                min,
                max,
                step,
            } => write!(f, "{value} ({min}-{max} by {step})"),
            Self::TypedEnum { enum_type, value } => match registry::typed_enum(enum_type) {
                Some(e) => match (registry::label_in(e.labels, value), e.kind) {
                    (Some(label), _) => f.write_str(label),
                    (None, Some(kind)) => write!(f, "{value} ({kind})"),
                    (None, None) => write!(f, "{value} (enum {enum_type:#04x})"),
                },
                None => write!(f, "{value} (enum {enum_type:#04x})"),
            },
            Self::Date {
                year_since_1900,
                month,
                day,
                ..
            } => write!(
                f,
                "{:04}-{month:02}-{day:02}",
                1900 + u16::from(year_since_1900)
            ),
            Self::Time {
                hour,
                minute,
                seconds_x4,
                ..
            } => write!(f, "{hour:02}:{minute:02}:{:02}", seconds_x4 / 4),
            Self::Ipv4(addr) => write!(f, "{addr}"),
            Self::Mac([a, b, c, d, e, g]) => {
                write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
            }
            Self::U32(v) => write!(f, "{v}"),
        }
    }
}

/// Returns the label of a value answered for property `id`: from the
/// property's own table for [`Value::Enum`], from the shared table for
/// [`Value::TypedEnum`], from [`registry::NUMBER_LABELS`] for a plain
/// number the reverse-engineering names (`software_variant` 17); `None` for
/// other values and unknown labels.
///
/// ```
/// use rewire_websentry::{enum_label, Value};
/// assert_eq!(enum_label(0x120e, &Value::Enum(2)), Some("Ready"));
/// assert_eq!(enum_label(0x010e, &Value::TypedEnum { enum_type: 0x2d, value: 4 }), Some("Fahrenheit"));
/// assert_eq!(enum_label(0x0116, &Value::U16(17)), Some("NE Modbus/LON?"));
/// ```
#[must_use]
pub fn enum_label(id: u16, value: &Value<'_>) -> Option<&'static str> {
    match *value {
        Value::Enum(v) => registry::property_enum_label(id, v),
        Value::TypedEnum { enum_type, value } => registry::typed_enum_label(enum_type, value),
        Value::U8(v) => registry::number_label(id, u16::from(v)),
        Value::U16(v) => registry::number_label(id, v),
        _ => None,
    }
}

/// A value shown with the help of its property's registry entry; made by
/// [`Value::labeled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labeled<'a> {
    /// The property id.
    pub id: u16,
    /// The value.
    pub value: Value<'a>,
}

impl fmt::Display for Labeled<'_> {
    /// Shows a value by its label when the registry has one ([`enum_label`]),
    /// anything else as [`Value`]'s `Display` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match enum_label(self.id, &self.value) {
            Some(label) => f.write_str(label),
            None => fmt::Display::fmt(&self.value, f),
        }
    }
}
