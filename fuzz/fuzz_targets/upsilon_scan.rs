//! UPSilon TCP 2570 record scanner fed whole and in pieces, then `scan_final`.
//! The body is `rewire_conformance::harness::upsilon_scan`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::upsilon_scan(data));
