//! WebSentry `scan` fed whole and in pieces, with the body walks.
//! The body is `rewire_conformance::harness::websentry_scan`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::websentry_scan(data));
