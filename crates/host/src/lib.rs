//! What rewire's host libraries share above the transport layer: the pieces
//! a program on the computer beside a device needs, whatever the device.
//!
//! - [`reading`]: the one readings model (readings, events, device ids) that
//!   every device yields and every output reads.
//! - [`sink`]: the output trait and the bounded fan-out that keeps a slow
//!   output from stalling a device.
//! - [`service`]: stop flags and service handles that stop within a second.
//! - [`http`]: a bounded HTTP/1.1 server for `/metrics`, pages and JSON.
//! - [`metrics`]: Prometheus text from readings.
//! - [`stream`]: one framer per captured stream, for decode pipelines.
//! - [`output`], [`json`] and [`record`]: readable lines and NDJSON writers,
//!   and the error record envelope the tools share.
//!
//! Nothing here prints: diagnostics go through the [`log`] facade, and the
//! program that embeds these libraries chooses where they end up.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod http;
pub mod json;
pub mod metrics;
pub mod output;
pub mod reading;
pub mod record;
pub mod service;
pub mod sink;
pub mod stream;

use std::time::{SystemTime, UNIX_EPOCH};

/// A `HashMap` with a fast, randomly seeded hasher (foldhash) for the
/// per-packet flow and stream tables of the decode paths.
pub use foldhash::HashMap as FastHashMap;

/// Returns `time` as seconds since the Unix epoch (the `ts` of records);
/// times before the epoch are negative.
#[must_use]
pub fn epoch_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_has_fractions_and_sign() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        assert!((epoch_seconds(t) - 1.5).abs() < 1e-9);
        let before = UNIX_EPOCH - std::time::Duration::from_millis(500);
        assert!((epoch_seconds(before) + 0.5).abs() < 1e-9);
    }
}
