//! The std layer between bytes and the rewire parser crates: framing, live links
//! (TCP, UDP, serial) and capture readers (pcap, pcapng, hex dumps, raw logs).
//!
//! Skeleton: issue #6 fills this crate. It knows bytes, framing and links, never
//! what a message means; meaning lives in the parser crates.
#![forbid(unsafe_code)]
