//! Regression tests for `rewire-transport` found by the fuzz campaign (the
//! inputs are also in `fuzz/corpus/<target>/`, replayed by `replay.rs`).

use rewire_transport::capture::{RawLogReader, RawLogSession, RawLogTime, write_raw_log_session};

/// `capture_rawlog` found that a raw log's `DurSec` could read back one ULP
/// off what was written: serde_json's default float parser is not exact
/// for every shortest-form number (`1.164407063206104e-28` read as
/// `…6104e-28` minus one ULP), so a log read and rewritten was not byte for
/// byte the same. serde_json's `float_roundtrip` feature makes it exact.
#[test]
fn raw_log_duration_reads_back_bit_for_bit() {
    for bits in [0x3a22_7365_6d61_7246_u64, 1.513_274_211_f64.to_bits()] {
        let session = RawLogSession {
            start: RawLogTime {
                unix_seconds: 1_705_775_994,
                nanos: 264_483_473,
                utc_offset_minutes: -480,
            },
            dur_sec: f64::from_bits(bits),
            frames: Vec::new(),
        };
        let mut text = Vec::new();
        write_raw_log_session(&mut text, &session).expect("writes");
        let back = RawLogReader::new(text.as_slice())
            .next()
            .expect("a session")
            .expect("reads");
        assert_eq!(
            back.dur_sec.to_bits(),
            bits,
            "{}",
            String::from_utf8_lossy(&text)
        );
        let mut again = Vec::new();
        write_raw_log_session(&mut again, &back).expect("writes");
        assert_eq!(again, text);
    }
}
