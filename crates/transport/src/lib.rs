//! The std layer between bytes and the rewire parser crates: framing, live links
//! (TCP, UDP, serial) and capture readers (pcap, pcapng, hex dumps, raw logs).
//!
//! It knows bytes, framing and links, never what a message means; meaning lives
//! in the parser crates (`rewire-upsilon`, `rewire-websentry`, `rewire-powerone`).
//!
//! - [`framing`]: one framing abstraction, with a framer per protocol built on
//!   the parser crates' streaming scanners.
//! - [`link`]: TCP client with reconnect, TCP listener, UDP receiver, serial
//!   ports, request/response helper.
//! - [`capture`]: streaming readers for pcap/pcapng (with TCP reassembly), hex
//!   dumps, raw binary files and the WebSentry exporter's JSON raw log.
#![forbid(unsafe_code)]

pub mod capture;
pub mod framing;
pub mod link;
