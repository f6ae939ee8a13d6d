//! Megatec `F` and `I` replies, commands and the USB bridge helpers.
//! The body is `rewire_conformance::harness::upsilon_reply`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::upsilon_reply(data));
