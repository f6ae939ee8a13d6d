//! UPSilon UDP 11541 heartbeat parser.
//! The body is `rewire_conformance::harness::upsilon_heartbeat`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::upsilon_heartbeat(data));
