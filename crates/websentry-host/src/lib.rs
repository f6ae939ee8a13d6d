//! WebSentry on the host, without a command line: what the `websentry` tool
//! does, as a library another program can embed.
//!
//! - [`frame`]: typed frames ([`frame::DecodedFrame`]) from the parser's
//!   views, and the property ids the host code needs by name.
//! - [`message`]: what the relay reports ([`message::Message`]), as typed
//!   messages that implement [`rewire_host::reading::Observation`], and the
//!   readings a unit's values make.
//! - [`record`]: the NDJSON/text record model, an output format only.
//! - [`decode`]: captures, raw logs, hex dumps and raw bytes into records.
//! - [`proxy`]: the transparent relay, a service with `shutdown()` that
//!   reports to caller-supplied sinks.
//! - [`store`] and [`web`]: what the relay learnt, as Prometheus metrics
//!   (from readings), `/props.json` and a status page over HTTP.
//! - [`rawlog`]: sessions appended in the original exporter's raw-log format
//!   (read back by `rewire_transport::capture::RawLogReader`).
//! - [`changes`]: the property-change log of `websentry decode --changes`.
//! - [`simulate`]: a simulated unit and cloud.
//!
//! Nothing here prints: messages go to the sinks the caller adds, and
//! diagnostics to the [`log`] facade.
//!
//! ```
//! use rewire_websentry_host::frame::{DecodedFrame, Sender};
//! use rewire_websentry_host::simulate::init_frame;
//!
//! let frame = DecodedFrame::decode(init_frame([0, 0x90, 0xc2, 0x0c, 0x02, 0xb3]), Some(Sender::Client), None);
//! assert!(frame.crc_ok && frame.carries_readings());
//! assert_eq!(frame.values().nth(1).unwrap().1.to_string(), "00:90:c2:0c:02:b3");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod changes;
pub mod decode;
pub mod frame;
pub mod message;
pub mod proxy;
pub mod rawlog;
pub mod record;
pub mod simulate;
pub mod store;
pub mod web;
