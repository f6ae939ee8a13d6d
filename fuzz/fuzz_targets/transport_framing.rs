//! The transport framers (Power-One, WebSentry, UPSilon, Megatec), split-invariance and the buffer cap.
//! The body is `rewire_conformance::harness::transport_framing`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::transport_framing(data));
