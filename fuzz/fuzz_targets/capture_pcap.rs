//! The transport pcap/pcapng reader with TCP reassembly, over an in-memory capture.
//! The body is `rewire_conformance::harness::capture_pcap`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::capture_pcap(data));
