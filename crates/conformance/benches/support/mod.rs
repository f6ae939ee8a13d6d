//! What the benches here share (a directory, so Cargo does not take it for
//! a bench of its own).

use std::time::Duration;

use criterion::Criterion;

/// The criterion settings of every bench here: 20 samples, a 1 s warm-up
/// and 3 s of measurement per benchmark.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}
