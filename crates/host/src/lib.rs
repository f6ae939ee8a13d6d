//! What rewire's host libraries share above the transport layer: the pieces
//! a program on the computer beside a device needs whatever the device is.
//!
//! - [`http`]: a bounded HTTP/1.1 server for `/metrics`, pages and JSON.
//!
//! Nothing here prints: diagnostics go through the [`log`] facade, and the
//! program that embeds these libraries chooses where they end up.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod http;
