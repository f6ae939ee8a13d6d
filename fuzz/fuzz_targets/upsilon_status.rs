//! UPSilon/Megatec Q1 status line parser and its emit round trip.
//! The body is `rewire_conformance::harness::upsilon_status`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::upsilon_status(data));
