//! Power-One `parse`, the frame view, `Repr` round trip and payload codecs.
//! The body is `rewire_conformance::harness::powerone_frame`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::powerone_frame(data));
