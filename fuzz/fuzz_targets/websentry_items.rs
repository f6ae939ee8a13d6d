//! WebSentry body iterators (`QueryIds`, `Values`, `SetStatuses`, `Pairs`) and `Value` round trips.
//! The body is `rewire_conformance::harness::websentry_items`, which the stable corpus
//! replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::websentry_items(data));
