//! UPSilon TCP 8652 SMS alert request parser.
//! The body is `rewire_conformance::harness::upsilon_sms`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::upsilon_sms(data));
