//! The nom grammars shared by the text formats: space-separated tokens
//! (Q1 status lines, `F` replies), the numbers and placeholders in them,
//! fixed columns (`I` replies), and the few primitives nom lacks for
//! byte-precise error offsets.
//!
//! Every grammar runs on the complete input (`nom::*::complete`), with
//! nom's own error type; the callers turn a nom failure into an [`Error`]
//! that names the field and the absolute offset of the byte where the
//! grammar stopped. No nom type leaves the crate.

use nom::branch::alt;
use nom::bytes::complete::{tag, take, take_till1, take_while, take_while_m_n};
use nom::character::complete::digit0;
use nom::combinator::{eof, opt, rest};
use nom::error::{ErrorKind, ParseError};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::decimal::{Decimal, MAX_NUMBER_DIGITS, MAX_SCALE};
use crate::error::{Error, Field};

/// nom's error for byte input: the tail where a parser stopped, and why.
pub(crate) type NomError<'a> = nom::error::Error<&'a [u8]>;

/// What every grammar here returns.
pub(crate) type PResult<'a, O> = IResult<&'a [u8], O, NomError<'a>>;

/// Returns where `rest`, a tail of `input`, starts in `input`.
pub(crate) fn offset(input: &[u8], rest: &[u8]) -> usize {
    input.len().saturating_sub(rest.len())
}

/// Names the byte that starts `rest` (a tail of `input`, which itself
/// starts `base` bytes into the message): unexpected, or, at the end of
/// the input, the field is missing there.
pub(crate) fn stopped_at(input: &[u8], base: usize, field: Field, rest: &[u8]) -> Error {
    let offset = base + offset(input, rest);
    match rest.first() {
        Some(&found) => Error::UnexpectedByte {
            field,
            offset,
            found,
        },
        None => Error::MissingField { field, offset },
    }
}

/// Turns a nom failure on `input` into [`stopped_at`] its position.
pub(crate) fn failure(input: &[u8], base: usize, field: Field, e: nom::Err<NomError<'_>>) -> Error {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => stopped_at(input, base, field, e.input),
        // Only streaming parsers ask for more, and none is used here.
        nom::Err::Incomplete(_) => Error::MissingField {
            field,
            offset: base + input.len(),
        },
    }
}

/// Matches `expected` byte for byte. Unlike nom's `tag`, a mismatch stops
/// at the first byte that differs (or at the end of a too-short input), so
/// the error offset names that byte.
pub(crate) fn exact<'a>(expected: &'static [u8]) -> impl Fn(&'a [u8]) -> PResult<'a, &'a [u8]> {
    move |input: &'a [u8]| {
        let same = input
            .iter()
            .zip(expected)
            .take_while(|(a, b)| a == b)
            .count();
        match input.split_at_checked(same) {
            Some((matched, rest)) if same == expected.len() => Ok((rest, matched)),
            _ => Err(nom::Err::Error(NomError::from_error_kind(
                input.get(same..).unwrap_or_default(),
                ErrorKind::Tag,
            ))),
        }
    }
}

/// Takes everything before the *last* occurrence of `needle` (nom's
/// `take_until` stops at the first), leaving the needle in the rest.
pub(crate) fn take_until_last<'a>(
    needle: &'static [u8],
) -> impl Fn(&'a [u8]) -> PResult<'a, &'a [u8]> {
    move |input: &'a [u8]| {
        // Candidates by their first byte, from the end (as nom's
        // `take_until` finds its first: short texts, no searcher to build).
        let found = needle.split_first().and_then(|(&first, _)| {
            let last_start = input.len().checked_sub(needle.len())?;
            let head = input.get(..=last_start)?;
            memchr::memrchr_iter(first, head)
                .find(|&i| input.get(i..i + needle.len()) == Some(needle))
        });
        match found.and_then(|i| input.split_at_checked(i)) {
            Some((before, rest)) => Ok((rest, before)),
            None => Err(nom::Err::Error(NomError::from_error_kind(
                input,
                ErrorKind::TakeUntil,
            ))),
        }
    }
}

// Single bytes as tags: nom's `tag` on bytes inlines where `char` does not.
const POINT: &[u8] = b".";
const MINUS: &[u8] = b"-";

const fn is_space(b: u8) -> bool {
    b == b' '
}

const fn is_dash(b: u8) -> bool {
    b == b'-'
}

const fn is_bit(b: u8) -> bool {
    matches!(b, b'0' | b'1')
}

/// `token = *SP 1*(any byte but SP)`.
fn parse_token(input: &[u8]) -> PResult<'_, &[u8]> {
    preceded(take_while(is_space), take_till1(is_space)).parse(input)
}

/// A space-separated token of a line, with its offset in the line.
#[derive(Clone, Copy)]
pub(crate) struct Token<'a> {
    pub(crate) offset: usize,
    pub(crate) bytes: &'a [u8],
}

/// A line of space-separated fields after its start byte:
/// `line = start 1*(token) *SP`, one [`Fields::next`] per token.
pub(crate) struct Fields<'a> {
    line: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Checks the start byte (`(` or `#`) and returns the fields after it.
    pub(crate) fn start(line: &'a [u8], start: &'static [u8]) -> Result<Self, Error> {
        let (rest, _) = tag(start)
            .parse(line)
            .map_err(|e| failure(line, 0, Field::Start, e))?;
        Ok(Fields { line, rest })
    }

    /// Returns what follows the start byte (or the tokens read so far).
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Returns the next token, or [`Error::MissingField`] for `field` at
    /// the end of the line.
    pub(crate) fn next(&mut self, field: Field) -> Result<Token<'a>, Error> {
        let (rest, bytes) = parse_token(self.rest).map_err(|_| Error::MissingField {
            field,
            offset: self.line.len(),
        })?;
        self.rest = rest;
        Ok(Token {
            offset: offset(self.line, rest) - bytes.len(),
            bytes,
        })
    }

    /// Checks that only spaces remain: `*SP EOF`.
    pub(crate) fn finish(self) -> Result<(), Error> {
        preceded(take_while(is_space), eof)
            .parse(self.rest)
            .map(|_| ())
            .map_err(|e| failure(self.line, 0, Field::Trailing, e))
    }
}

/// Reports whether a token is an "unknown" placeholder such as `--.-`,
/// `---.-` or `---`: `placeholder = *"-" ["." *"-"]` with at least one
/// dash, and not a lone `-` (a sign without digits).
pub(crate) fn is_placeholder(bytes: &[u8]) -> bool {
    let parsed: PResult<'_, _> = (
        take_while(is_dash),
        opt(tag(POINT)),
        take_while(is_dash),
        eof,
    )
        .parse(bytes);
    matches!(parsed, Ok((_, (a, _, b, _))) if a.len() + b.len() > 0) && bytes != b"-"
}

/// Parses a decimal token, `number = ["-"] 1*DIGIT ["." 1*DIGIT]` with at
/// most [`MAX_NUMBER_DIGITS`] digits and [`MAX_SCALE`] decimals, or a
/// placeholder (`None`).
///
/// Errors come in reading order: too many digits as soon as the digits
/// run past the limit, then the first byte that breaks the grammar, then a
/// missing digit run, then too many decimals.
pub(crate) fn parse_decimal(tok: Token<'_>, field: Field) -> Result<Option<Decimal>, Error> {
    let bytes = tok.bytes;
    // A placeholder starts with a dash or a point; most tokens are numbers.
    if matches!(bytes.first(), Some(b'-' | b'.')) && is_placeholder(bytes) {
        return Ok(None);
    }
    let too_long = |max| Error::TooLong {
        field,
        offset: tok.offset,
        len: bytes.len(),
        max,
    };
    let fail = |e| failure(bytes, tok.offset, field, e);
    let (rest, (minus, int)) = (opt(tag(MINUS)), digit0).parse(bytes).map_err(fail)?;
    if int.len() > MAX_NUMBER_DIGITS {
        return Err(too_long(MAX_NUMBER_DIGITS));
    }
    // A point needs digits before it.
    let (rest, frac) = if int.is_empty() {
        (rest, None)
    } else {
        opt(preceded(tag(POINT), digit0))
            .parse(rest)
            .map_err(fail)?
    };
    let point = frac.is_some();
    let frac = frac.unwrap_or_default();
    if int.len() + frac.len() > MAX_NUMBER_DIGITS {
        return Err(too_long(MAX_NUMBER_DIGITS));
    }
    eof.parse(rest).map_err(fail)?;
    // No digits at all, or none after the point.
    if int.is_empty() || (point && frac.is_empty()) {
        return Err(Error::MissingField {
            field,
            offset: tok.offset + bytes.len(),
        });
    }
    if frac.len() > usize::from(MAX_SCALE) {
        return Err(too_long(usize::from(MAX_SCALE)));
    }
    let raw = frac.iter().fold(
        int.iter()
            .fold(0i32, |raw, &d| raw * 10 + i32::from(d - b'0')),
        |raw, &d| raw * 10 + i32::from(d - b'0'),
    );
    let raw = if minus.is_some() { -raw } else { raw };
    Ok(u8::try_from(frac.len())
        .ok()
        .and_then(|scale| Decimal::new(raw, scale)))
}

/// Parses an unsigned integer token (`1*DIGIT`, at most
/// [`MAX_NUMBER_DIGITS`]); a placeholder yields `None`.
pub(crate) fn parse_integer(tok: Token<'_>, field: Field) -> Result<Option<u32>, Error> {
    if is_placeholder(tok.bytes) {
        return Ok(None);
    }
    parse_digits(tok.bytes, tok.offset, field).map(Some)
}

/// Parses `1*DIGIT` filling all of `bytes` (at most [`MAX_NUMBER_DIGITS`],
/// checked before the digits are); `offset` is where `bytes` starts.
pub(crate) fn parse_digits(bytes: &[u8], offset: usize, field: Field) -> Result<u32, Error> {
    if bytes.is_empty() {
        return Err(Error::MissingField { field, offset });
    }
    if bytes.len() > MAX_NUMBER_DIGITS {
        return Err(Error::TooLong {
            field,
            offset,
            len: bytes.len(),
            max: MAX_NUMBER_DIGITS,
        });
    }
    let (_, digits) = (digit0, eof)
        .parse(bytes)
        .map(|(rest, (digits, _))| (rest, digits))
        .map_err(|e| failure(bytes, offset, field, e))?;
    Ok(digits
        .iter()
        .fold(0u32, |v, &d| v * 10 + u32::from(d - b'0')))
}

/// Parses the eight status bits, `bits = 8("0" / "1")`, filling the token.
pub(crate) fn parse_bits(tok: Token<'_>) -> Result<u8, Error> {
    let field = Field::StatusBits;
    let (rest, bits) = take_while_m_n(0, 8, is_bit)
        .parse(tok.bytes)
        .map_err(|e| failure(tok.bytes, tok.offset, field, e))?;
    if !rest.is_empty() {
        return Err(if bits.len() == 8 {
            Error::TooLong {
                field,
                offset: tok.offset,
                len: tok.bytes.len(),
                max: 8,
            }
        } else {
            stopped_at(tok.bytes, tok.offset, field, rest)
        });
    }
    if bits.len() < 8 {
        return Err(Error::MissingField {
            field,
            offset: tok.offset + bits.len(),
        });
    }
    Ok(bits.iter().fold(0u8, |acc, &b| (acc << 1) | (b - b'0')))
}

/// `column(n) = n(any byte) / *(any byte)`: a fixed-width column, cut
/// short when the input ends inside it.
pub(crate) fn column<'a>(
    width: usize,
) -> impl Parser<&'a [u8], Output = &'a [u8], Error = NomError<'a>> {
    alt((take(width), rest))
}

/// `text = *(%x20-7E)` filling all of `bytes`: printable ASCII, returned as
/// a `str`; `offset` is where `bytes` starts.
pub(crate) fn parse_printable(bytes: &[u8], offset: usize, field: Field) -> Result<&str, Error> {
    let (_, (text, _)) = (take_while(|b| matches!(b, 0x20..=0x7e)), eof)
        .parse(bytes)
        .map_err(|e| failure(bytes, offset, field, e))?;
    // Printable ASCII is always UTF-8.
    core::str::from_utf8(text).map_err(|e| Error::InvalidUtf8 {
        field,
        offset: offset + e.valid_up_to(),
    })
}
