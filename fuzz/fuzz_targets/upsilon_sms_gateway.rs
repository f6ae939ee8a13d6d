//! UPSilon monitor's SMS gateway (HTTP on TCP 8652) request handling.
//! The body is `rewire_conformance::harness::upsilon_sms_gateway`, which the
//! stable corpus replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::upsilon_sms_gateway(data));
