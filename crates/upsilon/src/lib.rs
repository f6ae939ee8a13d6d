//! UPSilon 2000 and Megatec "Q1" UPS traffic: status lines, `F`/`I` replies,
//! commands, the USB "MEC0003" descriptor mapping, UDP heartbeats and SMS
//! alert requests, parsed without allocating.
//!
//! UPSilon 2000 (RupsMon) watches small UPSes that speak the Megatec
//! protocol. The same text travels on a UPS's serial port (2400 8N1), through
//! USB string descriptors on "MEC0003" bridges ([`usb`]), and between
//! UPSilon's own processes over loopback:
//!
//! | where | what | here |
//! |---|---|---|
//! | TCP 2570 | one status line a second, no authentication | [`scan`], [`Status::parse`] |
//! | UDP 11541 | `ups000cnt001` / `upsdiscnt001` heartbeats | [`parse_heartbeat`] |
//! | TCP 8652 | alerts as HTTP GETs to an SMS gateway | [`sms::parse_sms_alert`] |
//! | serial / USB | `Q1`, `F`, `I`, `T`, `S.5R0002`, … | [`Command`], [`parse_ratings`], [`parse_info`] |
//!
//! The status line, fields separated by spaces:
//!
//! ```text
//! ( MMM.M NNN.N PPP.P QQQ RR.R SS.S TT.T b7b6b5b4b3b2b1b0 <CR>
//! │   │     │     │    │   │    │    │   └ utility fail, battery low, bypass/boost/buck,
//! │   │     │     │    │   │    │    │     UPS failed, standby, test, shutdown, beeper
//! │   │     │     │    │   │    │    └ temperature °C         (--.- = unknown)
//! │   │     │     │    │   │    └ battery V (S.SS: per cell, on-line UPSes)
//! │   │     │     │    │   └ input frequency Hz
//! │   │     │     │    └ load %
//! │   │     │     └ output voltage
//! │   │     └ input fault voltage
//! │   └ input voltage
//! └ start byte
//! ```
//!
//! # Numbers: fixed-point, not float
//!
//! Values are [`Decimal`]s (`raw / 10^scale`), not floats: the wire is
//! decimal text with a fixed number of decimals, so fixed-point keeps every
//! value exact, comparable with `Eq`, hashable, and re-encodable byte for byte;
//! the number of decimals carries meaning (a Q1 battery voltage with two
//! decimals is per cell); and targets without an FPU parse without soft-float.
//! [`Decimal::to_f32`] is there for display.
//!
//! # Grammars: nom, plus one by-position fast path
//!
//! The text grammars (Q1 status line, `F` and `I` replies, the SMS request
//! line and query) are nom parsers (`default-features = false`: no `std`,
//! no `alloc`), named `parse_<thing>`; no nom type appears in the public
//! API. A failure becomes an [`Error`] naming the field and the offset of
//! the byte where the grammar stopped, as precise as a hand-written
//! scanner's. The standard-width Q1 line, nearly every line a UPS sends,
//! is first read by position without tokenizing; anything that reading is
//! not sure of goes through the grammar, and a test checks that both give
//! the same answer.
//!
//! # Guarantees
//!
//! - `no_std`, no `alloc`, no `unsafe`: everything borrows from the input or
//!   writes into a caller's buffer.
//! - No input makes any function panic; numbers are bounded
//!   ([`MAX_NUMBER_DIGITS`]), records ([`DEFAULT_MAX_RECORD_LEN`]) and requests
//!   ([`sms::MAX_REQUEST_LEN`]) too.
//! - Every failure is an [`Error`] naming the [`Field`] and byte offset.
//! - Encoders return [`Error::BufferTooSmall`] instead of writing past a buffer,
//!   and `parse(emit(x)) == x` for every value a parser can return.
//!
//! # Example: parse, then emit
//!
//! ```
//! use rewire_upsilon::{scan, Scan, Status, DEFAULT_MAX_RECORD_LEN};
//!
//! let stream = b"\0(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r";
//! let Scan::Found { message, .. } = scan(stream, DEFAULT_MAX_RECORD_LEN) else {
//!     panic!("no record");
//! };
//! let status = Status::parse(message)?;
//! assert_eq!(status.input_voltage.map(|v| v.raw()), Some(2387));
//! assert_eq!(status.temperature, None);
//! assert!(status.bits.standby() && !status.bits.beeper_on());
//!
//! let mut buf = [0u8; rewire_upsilon::MAX_LINE_LEN];
//! let n = status.emit(&mut buf)?;
//! assert_eq!(&buf[..n], b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r");
//! # Ok::<(), rewire_upsilon::Error>(())
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

#[cfg(test)]
extern crate std;

mod command;
mod decimal;
mod error;
mod grammar;
mod heartbeat;
mod reply;
mod scan;
pub mod sms;
mod status;
pub mod usb;

#[cfg(test)]
mod tests;

pub use command::{
    Command, MAX_COMMAND_LEN, RestoreMinutes, ShutdownDelay, TestMinutes, parse_command,
};
pub use decimal::{Decimal, MAX_NUMBER_DIGITS, MAX_SCALE};
pub use error::{Error, Field, Result};
pub use heartbeat::{HEARTBEAT_LEN, Heartbeat, MAX_UPS_NUMBER, parse_heartbeat};
pub use reply::{
    COMPANY_LEN, INFO_LINE_LEN, Info, MAX_INFO_LEN, MAX_VERSION_LEN, MODEL_LEN, Ratings,
    VERSION_LEN, parse_info, parse_ratings,
};
pub use scan::{DEFAULT_MAX_RECORD_LEN, Scan, scan, scan_final};
pub use sms::{SmsAlert, parse_sms_alert};
#[cfg(fuzzing)]
#[doc(hidden)]
pub use status::parse_status_tokenized;
pub use status::{STATUS_LINE_LEN, Status, StatusBits};

/// A buffer of this many bytes holds any line this crate's encoders write
/// (status, `F`, `I`, command or heartbeat).
pub const MAX_LINE_LEN: usize = 128;
