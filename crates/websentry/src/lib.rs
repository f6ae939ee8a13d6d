//! A `no_std`, allocation-free codec for the binary protocol WebSentry
//! dehumidifiers (Seresco and sister brands) speak to their cloud service on
//! TCP port 1030.
//!
//! The unit connects about once a minute and sends an *init* frame; the
//! server then sends *query* frames (lists of property ids), *set* frames
//! (ids with new values) and frames of function `0x08` (meaning unknown), and
//! the unit answers each with a frame of the same function.
//!
//! ```text
//!  offset 0        3          5          7          8
//!         +--------+----------+----------+----------+-------------------+
//!         |70 83 9E| CRC (BE) | LEN (BE) | function | body (LEN-1 bytes)|
//!         +--------+----------+----------+----------+-------------------+
//!           magic   CRC-16/MODBUS of       00 init, 02 query,
//!                   the LEN payload bytes  03 set, 08 unknown
//!
//!  query request body:   ( id_hi id_lo 0F )*
//!  query response body:  ( id_hi id_lo type value... )*   same ids, same order
//!  set request body:     ( id_hi id_lo type value... )*
//!  set response body:    ( id_hi id_lo status )*          status 00 = ok
//!  init body:            ( id_hi id_lo type value... )*
//! ```
//!
//! The layers:
//! - [`Frame`]: a checked view over any byte storage, with [`parse`] and the
//!   streaming [`scan`]ner (which yields frames without judging their CRC);
//!   [`Frame::new_checked`] checks magic and length, [`Frame::check_checksum`]
//!   the CRC. Function codes are the open newtype [`FunctionCode`].
//! - [`Value`]: one typed value (type byte and body), with `Display`,
//!   [`Value::as_f64`] and [`Value::emit`].
//! - Body walks: [`QueryIds`], [`Values`], [`SetStatuses`] and [`Pairs`].
//! - [`registry`]: property names and units and enum labels, as static tables.
//! - Encoders: [`encode_frame`], [`encode_query_request`],
//!   [`encode_query_response`], [`encode_set_request`],
//!   [`encode_set_response`], [`encode_values`].
//!
//! # Guarantees
//! - No `std`, no `alloc`, no `unsafe`: it builds for bare-metal targets.
//! - No panics on any input: every read is bounds-checked; malformed input is
//!   a typed [`Error`] naming what and where. After [`Frame::new_checked`]
//!   succeeds, no accessor can fail or panic.
//! - Every length read from the wire is compared with [`MAX_PAYLOAD_LEN`]
//!   before it is used.
//! - The walks and the scanner do bounded work per input byte.
//!
//! # Example: parse, inspect, emit
//! ```
//! use rewire_websentry::{encode_values, parse, FunctionCode, Value};
//!
//! // The init frame a real unit sent (its CRC verifies).
//! let bytes = [
//!     0x70, 0x83, 0x9e, 0xe8, 0xe6, 0x00, 0x12, 0x00, 0xff, 0x00, 0x02, 0x05, 0x04, 0x01,
//!     0x0d, 0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3, 0x01, 0x20, 0x02, 0x07,
//! ];
//! let (frame, used) = parse(&bytes).unwrap();
//! assert_eq!(used, bytes.len());
//! assert_eq!(frame.function(), FunctionCode::INIT);
//!
//! let mut items = [(0u16, Value::U8(0)); 3];
//! for (slot, item) in items.iter_mut().zip(frame.values()) {
//!     *slot = item.unwrap();
//! }
//! assert_eq!(items[1].1.to_string(), "00:90:c2:0c:02:b3");
//!
//! let mut out = [0u8; 64];
//! let n = encode_values(FunctionCode::INIT, &items, &mut out).unwrap();
//! assert_eq!(&out[..n], &bytes[..]);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod frame;
mod function;
mod items;
pub mod registry;
mod value;

pub use error::{Error, Result};
pub use frame::{
    Frame, HEADER_LEN, MAGIC, MAX_FRAME_LEN, MAX_PAYLOAD_LEN, Scan, crc16_modbus, field, parse,
    scan,
};
pub use function::FunctionCode;
pub use items::{
    Item, Items, Pairs, QUERY_MARKER, QueryIds, STATUS_OK, SetStatuses, Values, encode_frame,
    encode_query_request, encode_query_response, encode_set_request, encode_set_response,
    encode_values,
};
pub use registry::{Property, property};
pub use value::{Labeled, RawBody, Value, enum_label, fixed_body_len, type_code};

#[cfg(test)]
mod tests;
