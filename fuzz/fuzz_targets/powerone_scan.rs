//! Power-One `scan` fed whole and in pieces, then `scan_idle`.
//! The body is `rewire_conformance::harness::powerone_scan`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::powerone_scan(data));
