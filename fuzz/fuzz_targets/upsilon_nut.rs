//! UPSilon NUT server command handling (`upsilon monitor|ups --nut`).
//! The body is `rewire_conformance::harness::upsilon_nut`, which the stable
//! corpus replay runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rewire_conformance::harness::upsilon_nut(data));
