//! The transport hex-dump reader, and a `hexdump -C` round trip.
//! The body is `rewire_conformance::harness::capture_hexdump`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::capture_hexdump(data));
