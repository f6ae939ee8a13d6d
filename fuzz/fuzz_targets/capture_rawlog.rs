//! The transport WebSentry JSON raw-log reader.
//! The body is `rewire_conformance::harness::capture_rawlog`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::capture_rawlog(data));
