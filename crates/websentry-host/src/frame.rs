//! Typed frames: what one WebSentry frame says, decoded from the parser's
//! views into owned values ([`DecodedFrame`]), so that it can travel to other
//! threads and outputs. The NDJSON record of a frame ([`crate::record`]) is
//! made from the bytes only when a record is written.

use bytes::Bytes;
use rewire_websentry::{Frame, FunctionCode, Pairs, QueryIds, SetStatuses, Value, Values};
use serde::Serialize;

/// Property ids and enum values the host code needs by name.
///
/// The parser's registry (`rewire_websentry::registry::PROPERTIES`) names
/// these ids in its table but exports no constants for them; each constant
/// here cites its registry entry, and a test checks them against it.
pub mod ids {
    /// `0x0101` `version_string` (a string): the firmware version.
    pub const VERSION_STRING: u16 = 0x0101;
    /// `0x0103` `serial_number` (a `u32`).
    pub const SERIAL_NUMBER: u16 = 0x0103;
    /// `0x010e` `temp_unit` (typed enum [`TEMP_UNIT_ENUM`]): whether the
    /// unit reports temperatures in Celsius or Fahrenheit.
    pub const TEMP_UNIT: u16 = 0x010e;
    /// Typed enum `0x2d` "temp unit" (`registry::TYPED_ENUMS`): 3 Celsius, 4
    /// Fahrenheit.
    pub const TEMP_UNIT_ENUM: u8 = 0x2d;
    /// Value of [`TEMP_UNIT_ENUM`] meaning Celsius.
    pub const TEMP_UNIT_CELSIUS: u8 = 3;
}

/// Who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    /// The unit (the TCP client): init frames and answers.
    Client,
    /// The cloud service (the TCP server): queries, sets, `0x08` frames.
    Server,
}

impl Sender {
    /// Returns `"client"` or `"server"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }

    /// Returns the other side.
    #[must_use]
    pub fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// An owned typed value: its encoded bytes, type byte first, which
/// [`OwnedValue::value`] reads back as the parser's [`Value`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedValue(Vec<u8>);

impl OwnedValue {
    /// Encodes `value` (a value that cannot be encoded becomes empty and
    /// reads back as `None`).
    #[must_use]
    pub fn of(value: Value<'_>) -> Self {
        let mut buf = vec![0u8; value.encoded_len()];
        let n = value.emit(&mut buf).unwrap_or(0);
        buf.truncate(n);
        Self(buf)
    }

    /// Returns the value.
    #[must_use]
    pub fn value(&self) -> Option<Value<'_>> {
        Value::parse(&self.0).ok().map(|(v, _)| v)
    }

    /// Returns the encoded bytes, type byte first.
    #[must_use]
    pub fn encoded(&self) -> &[u8] {
        &self.0
    }
}

/// One item of a frame body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An id without a value (query requests).
    Id(u16),
    /// An id and its value (init frames, query answers, set requests).
    Value(u16, OwnedValue),
    /// An id and the status a set answer gives it (`0` is ok).
    Status(u16, u8),
}

impl Item {
    /// Returns the property id.
    #[must_use]
    pub fn id(&self) -> u16 {
        match self {
            Self::Id(id) | Self::Value(id, _) | Self::Status(id, _) => *id,
        }
    }
}

/// How a frame's body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Ids,
    Values,
    Statuses,
    Opaque,
}

/// Returns how the body of a `function` frame sent by `direction` is read.
pub(crate) fn body_kind(
    function: FunctionCode,
    direction: Option<Sender>,
    body: &[u8],
) -> BodyKind {
    match (function, direction) {
        (FunctionCode::INIT, _) => BodyKind::Values,
        (FunctionCode::QUERY, Some(Sender::Server)) => BodyKind::Ids,
        (FunctionCode::QUERY, Some(Sender::Client)) => BodyKind::Values,
        (FunctionCode::SET, Some(Sender::Server)) => BodyKind::Values,
        (FunctionCode::SET, Some(Sender::Client)) => BodyKind::Statuses,
        // Without a direction, pick the reading that consumes the whole body.
        (FunctionCode::QUERY, None) => {
            if QueryIds::new(body).all(|r| r.is_ok()) {
                BodyKind::Ids
            } else {
                BodyKind::Values
            }
        }
        (FunctionCode::SET, None) => {
            if Values::new(body).all(|r| r.is_ok()) {
                BodyKind::Values
            } else {
                BodyKind::Statuses
            }
        }
        _ => BodyKind::Opaque,
    }
}

/// One frame, decoded into owned typed items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    /// Who sent it, when known.
    pub direction: Option<Sender>,
    /// The function, `None` when even the header did not read.
    pub function: Option<FunctionCode>,
    /// Whether the header's CRC-16/MODBUS matches the payload.
    pub crc_ok: bool,
    /// The body's items, in order.
    pub items: Vec<Item>,
    /// Why the header or the body walk failed, if it did (items before it
    /// are kept).
    pub error: Option<rewire_websentry::Error>,
    /// The whole frame as it was on the wire (shared with the framer's
    /// buffer when it came from one: no copy).
    pub bytes: Bytes,
}

impl DecodedFrame {
    /// Decodes the bytes of one frame (as cut by the framer). `query` is
    /// the body of the server query a client's query answer responds to,
    /// if known: the answer is then read against it (same ids, same order).
    /// The frame keeps `bytes` as they are (a framed message's [`Bytes`],
    /// or a `Vec<u8>`, neither copied).
    #[must_use]
    pub fn decode(
        bytes: impl Into<Bytes>,
        direction: Option<Sender>,
        query: Option<&[u8]>,
    ) -> Self {
        let bytes: Bytes = bytes.into();
        let mut out = Self {
            direction,
            function: None,
            crc_ok: false,
            items: Vec::new(),
            error: None,
            bytes: Bytes::new(),
        };
        match Frame::new_checked(&bytes[..]) {
            Err(e) => out.error = Some(e),
            Ok(frame) => {
                let function = frame.function();
                out.function = Some(function);
                out.crc_ok = frame.checksum_ok();
                let body = frame.body();
                let mut error = None;
                match body_kind(function, direction, body) {
                    BodyKind::Ids => {
                        for item in QueryIds::new(body) {
                            match item {
                                Ok(id) => out.items.push(Item::Id(id)),
                                Err(e) => error = Some(e),
                            }
                        }
                    }
                    BodyKind::Values => {
                        let mut push = |item: rewire_websentry::Result<(u16, Value<'_>)>| match item
                        {
                            Ok((id, v)) => out.items.push(Item::Value(id, OwnedValue::of(v))),
                            Err(e) => error = Some(e),
                        };
                        match (function, direction, query) {
                            (FunctionCode::QUERY, Some(Sender::Client), Some(q)) => {
                                Pairs::new(q, body).for_each(&mut push);
                            }
                            _ => Values::new(body).for_each(&mut push),
                        }
                    }
                    BodyKind::Statuses => {
                        for item in SetStatuses::new(body) {
                            match item {
                                Ok((id, status)) => out.items.push(Item::Status(id, status)),
                                Err(e) => error = Some(e),
                            }
                        }
                    }
                    BodyKind::Opaque => {}
                }
                out.error = error;
            }
        }
        out.bytes = bytes;
        out
    }

    /// Returns whether the frame carries the unit's current values: an init
    /// frame or a query answer sent by the unit.
    #[must_use]
    pub fn carries_readings(&self) -> bool {
        self.direction == Some(Sender::Client)
            && matches!(
                self.function,
                Some(FunctionCode::INIT | FunctionCode::QUERY)
            )
    }

    /// Returns whether the function is one nobody has described (not init,
    /// query, set or `0x08`).
    #[must_use]
    pub fn unknown_function(&self) -> bool {
        self.function.is_some_and(|f| !f.is_known())
    }

    /// Returns whether something about the frame deserves a look: a bad CRC,
    /// a body or header that did not read, an unknown function.
    #[must_use]
    pub fn is_anomalous(&self) -> bool {
        !self.crc_ok || self.error.is_some() || self.unknown_function()
    }

    /// Returns the values of the items that have one.
    pub fn values(&self) -> impl Iterator<Item = (u16, Value<'_>)> {
        self.items.iter().filter_map(|i| match i {
            Item::Value(id, v) => v.value().map(|v| (*id, v)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewire_websentry::registry;

    #[test]
    fn named_ids_match_the_registry() {
        for (id, name) in [
            (ids::VERSION_STRING, "version_string"),
            (ids::SERIAL_NUMBER, "serial_number"),
            (ids::TEMP_UNIT, "temp_unit"),
        ] {
            assert_eq!(registry::property(id).map(|p| p.name), Some(name));
        }
        assert_eq!(
            registry::property(ids::TEMP_UNIT).and_then(|p| p.enum_type),
            Some(ids::TEMP_UNIT_ENUM)
        );
        assert_eq!(
            registry::typed_enum_label(ids::TEMP_UNIT_ENUM, ids::TEMP_UNIT_CELSIUS),
            Some("Celsius")
        );
    }

    #[test]
    fn decodes_init_query_answer_and_set_status() {
        let init = [
            0x70, 0x83, 0x9e, 0xe8, 0xe6, 0x00, 0x12, 0x00, 0xff, 0x00, 0x02, 0x05, 0x04, 0x01,
            0x0d, 0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3, 0x01, 0x20, 0x02, 0x07,
        ];
        let f = DecodedFrame::decode(init.to_vec(), Some(Sender::Client), None);
        assert_eq!(f.function, Some(FunctionCode::INIT));
        assert!(f.crc_ok && f.carries_readings() && !f.is_anomalous());
        assert_eq!(f.items.len(), 3);
        assert_eq!(
            f.values().nth(1),
            Some((0x0401, Value::Mac([0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3])))
        );
        let mut ack = [0u8; 16];
        let n = rewire_websentry::encode_set_response(&[(0x2501, 1)], &mut ack).unwrap();
        let f = DecodedFrame::decode(ack[..n].to_vec(), Some(Sender::Client), None);
        assert_eq!(f.items, [Item::Status(0x2501, 1)]);
        assert!(!f.carries_readings());
        let f = DecodedFrame::decode(vec![0x70, 0x83], None, None);
        assert!(f.function.is_none() && f.error.is_some());
    }
}
