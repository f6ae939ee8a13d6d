//! WebSentry frame view (unchecked, lenient, checked), `parse`, re-encoding.
//! The body is `rewire_conformance::harness::websentry_frame`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::websentry_frame(data));
