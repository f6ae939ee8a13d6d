//! Allocation-free walks over frame bodies, and the encoders that build them.
//!
//! Every walk is a fused iterator of `Result`s: after the first error it
//! yields nothing more, and the items before the error stay valid. Offsets in
//! errors count from the first byte of the body handed to the walk.

use crate::error::{Error, Result};
use crate::frame::{Frame, HEADER_LEN, MAX_PAYLOAD_LEN, field};
use crate::function::FunctionCode;
use crate::value::{self, Value, type_code};

/// The byte that follows each id in a query request.
pub const QUERY_MARKER: u8 = 0x0F;

/// Status byte a unit answers a successful set with.
pub const STATUS_OK: u8 = 0x00;

#[inline]
fn id_at(body: &[u8], pos: usize, needed: usize) -> Result<(u16, &[u8])> {
    let rest = body.get(pos..).unwrap_or(&[]);
    match rest {
        [hi, lo, tail @ ..] => Ok((u16::from_be_bytes([*hi, *lo]), tail)),
        _ => Err(Error::Truncated {
            offset: pos,
            needed,
            available: rest.len(),
        }),
    }
}

/// The property ids of a query request body (`id_hi id_lo 0x0F`, repeated).
///
/// ```
/// use rewire_websentry::QueryIds;
/// let ids: Vec<u16> = QueryIds::new(&[0x06, 0x00, 0x0f, 0x06, 0x01, 0x0f])
///     .collect::<Result<_, _>>().unwrap();
/// assert_eq!(ids, [0x0600, 0x0601]);
/// ```
#[derive(Debug, Clone)]
pub struct QueryIds<'a> {
    body: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> QueryIds<'a> {
    /// Walks `body` (the payload after the function byte).
    #[must_use]
    pub const fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            pos: 0,
            done: false,
        }
    }
}

impl Iterator for QueryIds<'_> {
    type Item = Result<u16>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.body.len() {
            return None;
        }
        let item = id_at(self.body, self.pos, 3).and_then(|(id, tail)| match tail.first() {
            Some(&QUERY_MARKER) => Ok(id),
            Some(&found) => Err(Error::BadQueryMarker {
                offset: self.pos + 2,
                found,
            }),
            None => Err(Error::Truncated {
                offset: self.pos,
                needed: 3,
                available: 2,
            }),
        });
        self.pos += 3;
        self.done = item.is_err();
        Some(item)
    }
}

impl core::iter::FusedIterator for QueryIds<'_> {}

/// One `(id, value)` item of a body, found by the lazy walk ([`Items`]):
/// its type byte is known and its body is all there, but the value is not
/// decoded until asked ([`Item::value`], [`Item::as_f64`]).
///
/// ```
/// use rewire_websentry::{Items, Value};
/// let item = Items::new(&[0x06, 0x00, 0x06, 0x02, 0x16]).next().unwrap().unwrap();
/// assert_eq!((item.id(), item.type_code(), item.body()), (0x0600, 0x06, &[0x02, 0x16][..]));
/// assert_eq!(item.as_f64(), Some(53.4));
/// assert_eq!(item.value(), Value::Tenths(534));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    id: u16,
    type_code: u8,
    /// The body and whatever follows it in the frame body.
    tail: &'a [u8],
    /// The body's length.
    len: usize,
}

impl<'a> Item<'a> {
    /// Returns the property id.
    #[must_use]
    #[inline]
    pub const fn id(&self) -> u16 {
        self.id
    }

    /// Returns the type byte (one this crate knows).
    #[must_use]
    #[inline]
    pub const fn type_code(&self) -> u8 {
        self.type_code
    }

    /// Returns the body: the bytes after the type byte (for a string, its
    /// length byte and text).
    #[must_use]
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        self.tail.get(..self.len).unwrap_or(self.tail)
    }

    /// Decodes the typed value.
    #[must_use]
    #[inline]
    pub fn value(&self) -> Value<'a> {
        // The walk checked the type and the length, so this is `Some`; a
        // string of an empty text stands in for the impossible case.
        Value::from_body(self.type_code, self.body()).unwrap_or(Value::Str(&[]))
    }

    /// Returns the value as a number, as [`Value::as_f64`] does, without
    /// decoding the typed value: the number is read from the body's first
    /// four bytes by a per-type rule, with no branch on the type (a walk
    /// over mixed types then mispredicts no jump).
    #[must_use]
    #[inline]
    pub fn as_f64(&self) -> Option<f64> {
        let word = match self.tail.first_chunk::<4>() {
            Some(&head) => u32::from_be_bytes(head),
            None => {
                let mut head = [0u8; 4];
                for (dst, src) in head.iter_mut().zip(self.tail) {
                    *dst = *src;
                }
                u32::from_be_bytes(head)
            }
        };
        // Bytes past the body (the next item's) are masked off by the rule.
        let rule = value::NUMBER_RULE
            .get(usize::from(self.type_code))
            .copied()
            .unwrap_or(value::NumberRule {
                shift: 0,
                mask: 0,
                signed: false,
                divisor: 1.0,
            });
        let bits = word.checked_shr(u32::from(rule.shift)).unwrap_or(0) & rule.mask;
        let signed = i64::from(bits as u16 as i16);
        let number = if rule.signed { signed } else { i64::from(bits) };
        // The ranged type's "unset": 0 below a positive minimum.
        let min = i64::from(word as u16 as i16);
        let unset = rule.signed & (number == 0) & (min > 0);
        let is_number = (rule.mask != 0) & !unset;
        is_number.then_some(number as f64 / rule.divisor)
    }
}

/// The lazy walk over the `(id, value)` items of a query response, a set
/// request or an init body (`id_hi id_lo type body`, repeated): each item's
/// type byte and length are checked, and the value is left undecoded
/// ([`Item`]). [`Values`] is this walk with every value decoded.
///
/// Errors are those of [`Values`], at the same offsets. An unknown type
/// byte ends the walk with [`Error::UnknownType`]: its length is unknown,
/// so nothing after it can be found.
///
/// ```
/// use rewire_websentry::Items;
/// let sum: f64 = Items::new(&[0x25, 0x01, 0x03, 0x00, 0x32, 0x06, 0x00, 0x06, 0x02, 0x16])
///     .map(|item| item.unwrap().as_f64().unwrap_or(0.0))
///     .sum();
/// assert_eq!(sum, 50.0 + 53.4);
/// ```
#[derive(Debug, Clone)]
pub struct Items<'a> {
    body: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Items<'a> {
    /// Walks `body` (the payload after the function byte).
    #[must_use]
    pub const fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            pos: 0,
            done: false,
        }
    }

    /// Returns how many body bytes the walk has consumed so far.
    #[must_use]
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// The error at the current position, as the typed parser reports it
    /// (the lazy walk found that the item there is not whole or not known).
    #[cold]
    fn error(&self) -> Error {
        let found =
            id_at(self.body, self.pos, 3).and_then(|(_, tail)| Value::parse_at(tail, self.pos + 2));
        match found {
            Err(e) => e,
            // Not reached: the two walks accept the same items.
            Ok(_) => Error::Truncated {
                offset: self.pos,
                needed: 3,
                available: self.body.len().saturating_sub(self.pos),
            },
        }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let body: &'a [u8] = self.body;
        let rest = body.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            return None;
        }
        // Id, type and length in one step: a table gives the body length
        // (0 for an unknown type), the string's length byte adds its text,
        // without a branch on the type.
        if let [hi, lo, code, tail @ ..] = rest {
            let fixed = usize::from(
                value::BODY_LEN
                    .get(usize::from(*code))
                    .copied()
                    .unwrap_or(0),
            );
            let text = usize::from(tail.first().copied().unwrap_or(0));
            let len = fixed + usize::from(*code == type_code::STRING) * text;
            if fixed != 0 && len <= tail.len() {
                self.pos += 3 + len;
                return Some(Ok(Item {
                    id: u16::from_be_bytes([*hi, *lo]),
                    type_code: *code,
                    tail,
                    len,
                }));
            }
        }
        self.done = true;
        Some(Err(self.error()))
    }
}

impl core::iter::FusedIterator for Items<'_> {}

/// The `(id, value)` items of a query response, a set request or an init
/// body (`id_hi id_lo type body`, repeated), every value decoded: the items
/// and errors of the lazy walk ([`Items`]).
///
/// An unknown type byte ends the walk with [`Error::UnknownType`]: its
/// length is unknown, so nothing after it can be found.
///
/// ```
/// use rewire_websentry::{Value, Values};
/// let mut items = Values::new(&[0x25, 0x01, 0x03, 0x00, 0x32]);
/// assert_eq!(items.next(), Some(Ok((0x2501, Value::U16(50)))));
/// assert_eq!(items.next(), None);
/// ```
#[derive(Debug, Clone)]
pub struct Values<'a> {
    body: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Values<'a> {
    /// Walks `body` (the payload after the function byte).
    #[must_use]
    pub const fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            pos: 0,
            done: false,
        }
    }

    /// Returns how many body bytes the walk has consumed so far.
    #[must_use]
    pub const fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = Result<(u16, Value<'a>)>;

    // The typed parse item by item: a match per value on its type, faster
    // here than the lazy walk followed by a second dispatch.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.body.len() {
            return None;
        }
        let body: &'a [u8] = self.body;
        let item = id_at(body, self.pos, 3).and_then(|(id, tail)| {
            let (value, used) = Value::parse_at(tail, self.pos + 2)?;
            Ok((id, value, 2 + used))
        });
        Some(match item {
            Ok((id, value, used)) => {
                self.pos += used;
                Ok((id, value))
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        })
    }
}

impl core::iter::FusedIterator for Values<'_> {}

/// The `(id, status)` items of a set response (`id_hi id_lo status`,
/// repeated; status [`STATUS_OK`] means accepted).
///
/// ```
/// use rewire_websentry::SetStatuses;
/// let mut items = SetStatuses::new(&[0x25, 0x01, 0x00]);
/// assert_eq!(items.next(), Some(Ok((0x2501, 0x00))));
/// assert_eq!(items.next(), None);
/// ```
#[derive(Debug, Clone)]
pub struct SetStatuses<'a> {
    body: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> SetStatuses<'a> {
    /// Walks `body` (the payload after the function byte).
    #[must_use]
    pub const fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            pos: 0,
            done: false,
        }
    }
}

impl Iterator for SetStatuses<'_> {
    type Item = Result<(u16, u8)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.body.len() {
            return None;
        }
        let item = id_at(self.body, self.pos, 3).and_then(|(id, tail)| match tail.first() {
            Some(&status) => Ok((id, status)),
            None => Err(Error::Truncated {
                offset: self.pos,
                needed: 3,
                available: 2,
            }),
        });
        self.pos += 3;
        self.done = item.is_err();
        Some(item)
    }
}

impl core::iter::FusedIterator for SetStatuses<'_> {}

/// Walks a query request beside its response, yielding `(id, value)` for
/// each requested property.
///
/// The response must answer the same ids in the same order and number
/// (the only behaviour ever captured); a difference ends the walk with
/// [`Error::OrderMismatch`] or [`Error::CountMismatch`]. Errors inside either
/// body end it as they end [`QueryIds`] and [`Values`].
///
/// ```
/// use rewire_websentry::{Pairs, Value};
/// let request = [0x06, 0x00, 0x0f];
/// let response = [0x06, 0x00, 0x06, 0x02, 0x16];
/// let mut pairs = Pairs::new(&request, &response);
/// assert_eq!(pairs.next(), Some(Ok((0x0600, Value::Tenths(534)))));
/// assert_eq!(pairs.next(), None);
/// ```
#[derive(Debug, Clone)]
pub struct Pairs<'q, 'r> {
    ids: QueryIds<'q>,
    values: Values<'r>,
    index: usize,
    done: bool,
}

impl<'q, 'r> Pairs<'q, 'r> {
    /// Pairs the body of a query request with the body of its response.
    #[must_use]
    pub const fn new(request_body: &'q [u8], response_body: &'r [u8]) -> Self {
        Self {
            ids: QueryIds::new(request_body),
            values: Values::new(response_body),
            index: 0,
            done: false,
        }
    }

    fn count_mismatch(&mut self, requested_extra: usize, answered_extra: usize) -> Error {
        // Count the longer side's remaining items, stopping at its first error.
        let requested =
            self.index + requested_extra + self.ids.by_ref().take_while(Result::is_ok).count();
        let answered =
            self.index + answered_extra + self.values.by_ref().take_while(Result::is_ok).count();
        Error::CountMismatch {
            requested,
            answered,
        }
    }
}

impl<'r> Iterator for Pairs<'_, 'r> {
    type Item = Result<(u16, Value<'r>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match (self.ids.next(), self.values.next()) {
            (None, None) => {
                self.done = true;
                return None;
            }
            (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e),
            (Some(Ok(_)), None) => Err(self.count_mismatch(1, 0)),
            (None, Some(Ok(_))) => Err(self.count_mismatch(0, 1)),
            (Some(Ok(requested)), Some(Ok((answered, value)))) => {
                if requested == answered {
                    Ok((answered, value))
                } else {
                    Err(Error::OrderMismatch {
                        index: self.index,
                        requested,
                        answered,
                    })
                }
            }
        };
        self.index += 1;
        self.done = item.is_err();
        Some(item)
    }
}

impl core::iter::FusedIterator for Pairs<'_, '_> {}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Walks the body as query-request ids (see [`QueryIds`]).
    #[must_use]
    pub fn query_ids(&self) -> QueryIds<'_> {
        QueryIds::new(self.body())
    }

    /// Walks the body as `(id, value)` items (see [`Values`]): for a query
    /// response, a set request or an init frame.
    #[must_use]
    pub fn values(&self) -> Values<'_> {
        Values::new(self.body())
    }

    /// Walks the body as `(id, value)` items without decoding the values
    /// (see [`Items`]).
    #[must_use]
    pub fn items(&self) -> Items<'_> {
        Items::new(self.body())
    }

    /// Walks the body as set-response `(id, status)` items (see [`SetStatuses`]).
    #[must_use]
    pub fn set_statuses(&self) -> SetStatuses<'_> {
        SetStatuses::new(self.body())
    }
}

/// A cursor that writes a frame's body after its header and function byte.
struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    fn new(buf: &'b mut [u8], function: FunctionCode) -> Result<Self> {
        let mut w = Self {
            buf,
            pos: field::PAYLOAD,
        };
        w.put(&[function.0])?;
        Ok(w)
    }

    fn too_small(&self, more: usize) -> Error {
        Error::BufferTooSmall {
            needed: self.pos.saturating_add(more),
            available: self.buf.len(),
        }
    }

    fn check_room(&self, more: usize) -> Result<()> {
        let payload = self.pos.saturating_add(more).saturating_sub(HEADER_LEN);
        if payload > MAX_PAYLOAD_LEN {
            return Err(Error::PayloadTooLong {
                len: payload,
                max: MAX_PAYLOAD_LEN,
            });
        }
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_room(bytes.len())?;
        let end = self.pos + bytes.len();
        let err = self.too_small(bytes.len());
        let dst = self.buf.get_mut(self.pos..end).ok_or(err)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn put_value(&mut self, value: &Value<'_>) -> Result<()> {
        self.check_room(value.encoded_len())?;
        let too_small = self.too_small(value.encoded_len());
        let rest = self.buf.get_mut(self.pos..).unwrap_or(&mut []);
        let used = value.emit(rest).map_err(|e| match e {
            Error::BufferTooSmall { .. } => too_small,
            other => other,
        })?;
        self.pos += used;
        Ok(())
    }

    /// Fills in magic, length and CRC; returns the frame's total length.
    fn finish(self) -> Result<usize> {
        let payload_len = self.pos - HEADER_LEN;
        let len = u16::try_from(payload_len).map_err(|_| Error::PayloadTooLong {
            len: payload_len,
            max: MAX_PAYLOAD_LEN,
        })?;
        let total = self.pos;
        let mut frame = Frame::new_unchecked(self.buf.get_mut(..total).unwrap_or(&mut []));
        frame.set_magic();
        frame.set_payload_len(len);
        frame.fill_checksum();
        Ok(total)
    }
}

/// Writes a complete frame (header with length and CRC, function byte,
/// `body`) into `buf` and returns its length.
///
/// # Errors
/// [`Error::PayloadTooLong`] when the payload would exceed
/// [`MAX_PAYLOAD_LEN`]; [`Error::BufferTooSmall`] when `buf` is too short.
///
/// ```
/// use rewire_websentry::{encode_frame, Frame, FunctionCode};
/// let mut buf = [0u8; 16];
/// let n = encode_frame(FunctionCode::SET, &[0x25, 0x01, 0x00], &mut buf).unwrap();
/// let frame = Frame::new_checked(&buf[..n]).unwrap();
/// assert_eq!(frame.body(), [0x25, 0x01, 0x00]);
/// ```
pub fn encode_frame(function: FunctionCode, body: &[u8], buf: &mut [u8]) -> Result<usize> {
    let mut w = Writer::new(buf, function)?;
    w.put(body)?;
    w.finish()
}

/// Writes a query request frame asking for `ids`.
///
/// # Errors
/// As [`encode_frame`].
pub fn encode_query_request(ids: &[u16], buf: &mut [u8]) -> Result<usize> {
    let mut w = Writer::new(buf, FunctionCode::QUERY)?;
    for id in ids {
        let [hi, lo] = id.to_be_bytes();
        w.put(&[hi, lo, QUERY_MARKER])?;
    }
    w.finish()
}

/// Writes a frame of `function` whose body is `(id, value)` items: a query
/// response ([`FunctionCode::QUERY`]), a set request ([`FunctionCode::SET`]) or an
/// init frame ([`FunctionCode::INIT`]).
///
/// # Errors
/// As [`encode_frame`], and [`Error::StringTooLong`] for a string value over
/// 255 bytes.
///
/// ```
/// use rewire_websentry::{encode_values, Frame, FunctionCode, Value};
/// let mut buf = [0u8; 32];
/// let n = encode_values(FunctionCode::SET, &[(0x2501, Value::U16(50))], &mut buf).unwrap();
/// assert_eq!(Frame::new_checked(&buf[..n]).unwrap().payload(), [0x03, 0x25, 0x01, 0x03, 0x00, 0x32]);
/// ```
pub fn encode_values(
    function: FunctionCode,
    items: &[(u16, Value<'_>)],
    buf: &mut [u8],
) -> Result<usize> {
    let mut w = Writer::new(buf, function)?;
    for (id, value) in items {
        w.put(&id.to_be_bytes())?;
        w.put_value(value)?;
    }
    w.finish()
}

/// Writes a query response frame answering `items` in order.
///
/// # Errors
/// As [`encode_values`].
pub fn encode_query_response(items: &[(u16, Value<'_>)], buf: &mut [u8]) -> Result<usize> {
    encode_values(FunctionCode::QUERY, items, buf)
}

/// Writes a set request frame setting `items`.
///
/// # Errors
/// As [`encode_values`].
pub fn encode_set_request(items: &[(u16, Value<'_>)], buf: &mut [u8]) -> Result<usize> {
    encode_values(FunctionCode::SET, items, buf)
}

/// Writes a set response frame answering each `(id, status)`.
///
/// # Errors
/// As [`encode_frame`].
pub fn encode_set_response(items: &[(u16, u8)], buf: &mut [u8]) -> Result<usize> {
    let mut w = Writer::new(buf, FunctionCode::SET)?;
    for (id, status) in items {
        let [hi, lo] = id.to_be_bytes();
        w.put(&[hi, lo, *status])?;
    }
    w.finish()
}
