//! The library behind the `upsilon` command: the record model, the state
//! machine deriving transitions, simulators, the live monitor and its
//! outputs (NDJSON, webhook, Prometheus metrics, a NUT server), the
//! direct Megatec driver (serial, and the USB "MEC0003" bridge), and
//! `decode`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod decode;
pub mod hub;
pub mod metrics;
pub mod monitor;
pub mod nut;
pub mod record;
pub mod sim;
pub mod state;
pub mod ups;
pub mod usb;
pub mod webhook;
