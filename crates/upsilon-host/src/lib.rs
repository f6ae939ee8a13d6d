//! UPSilon 2000 and Megatec UPSes as a library: everything the `upsilon`
//! command does, without a command line, so another program can decode a
//! capture, watch UPSilon, serve its own UPS over NUT or drive a UPS itself.
//!
//! The device speaks one typed message, [`Message`]: parser types
//! ([`rewire_upsilon::Status`], [`rewire_upsilon::Heartbeat`]) or values
//! derived from them, with the transitions and link changes the
//! [`state::Tracker`] derives. It implements
//! [`rewire_host::reading::Observation`], so any generic output
//! (Prometheus, MQTT, a page) reads it as readings and events; the NDJSON
//! and text records of [`record`] are one such output ([`record::RecordSink`]).
//!
//! - [`hub`]: the [`hub::Hub`] every live mode publishes to: it derives
//!   transitions, hands each message to its sinks through a bounded
//!   [`rewire_host::sink::Fanout`] and keeps the [`hub::Snapshot`] the
//!   servers read.
//! - [`decode`]: captures (pcap, hex, raw) to messages, one framer per
//!   stream ([`rewire_host::stream::Streams`]).
//! - [`monitor`]: beside UPSilon: RupsMon's status stream, heartbeats, SMS
//!   alerts; and [`monitor::Outputs`], the servers any live mode may start.
//! - [`nut`]: a NUT server (what `upsc`, `upsmon`, `upscmd`, `upsrw` and
//!   Home Assistant speak), with users from an `upsd.users` file ([`users`]).
//! - [`battery`]: `battery.charge` and `battery.runtime` as NUT's Megatec
//!   drivers estimate them.
//! - [`metrics`]: Prometheus `/metrics` from readings.
//! - [`webhook`]: each event POSTed as JSON, from its own queue.
//! - [`ups`]: Megatec over a serial line or the USB bridge ([`usb`]).
//! - [`sim`]: simulators of RupsMon, the heartbeat and SMS senders and a UPS.
//!
//! Nothing here prints: diagnostics go through the [`log`] facade. Every
//! server and loop returns a handle whose `shutdown()` stops it within a
//! second.
//!
//! # Example: serve your own readings over NUT
//!
//! ```
//! use std::time::Duration;
//! use rewire_upsilon_host::hub::Hub;
//! use rewire_upsilon_host::message::Message;
//! use rewire_upsilon_host::nut::{NutConfig, NutServer};
//!
//! let hub = Hub::new("ups");
//! let status = rewire_upsilon::Status::parse(b"(230.0 230.0 230.0 012 50.0 27.2 --.- 00001000")?;
//! hub.publish(Message::status(hub.device(), status));
//! let server = NutServer::start(
//!     "127.0.0.1:0".parse()?,
//!     NutConfig::new("ups", "my UPS", Duration::from_secs(15)),
//!     hub.shared().clone(),
//! )?;
//! println!("upsc ups@{}", server.local_addr());
//! server.shutdown();
//! hub.close();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod battery;
pub mod decode;
pub mod hub;
pub mod message;
pub mod metrics;
pub mod monitor;
pub mod nut;
pub mod record;
pub mod sim;
pub mod state;
pub mod ups;
pub mod usb;
pub mod users;
pub mod webhook;

pub use message::{Body, Message};
