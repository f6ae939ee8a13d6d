//! Replays every committed fuzz corpus through the same harness function the
//! fuzz target calls, so `cargo test` on stable re-checks every seed (and
//! every crash input added as a regression) without nightly.

use rewire_conformance::harness::TARGETS;

/// Runs each target's body on each file of its corpus.
#[test]
fn every_corpus_replays() {
    let mut files = 0;
    for (target, body) in TARGETS {
        for (name, bytes) in rewire_conformance::corpus(target) {
            let outcome = std::panic::catch_unwind(|| body(&bytes));
            assert!(outcome.is_ok(), "{target}/{name} ({})", hex::encode(&bytes));
            files += 1;
        }
    }
    assert!(files >= TARGETS.len());
}

/// Every harness target is a fuzz target (a `[[bin]]` in `fuzz/Cargo.toml`
/// whose file calls the harness function of the same name), and the other
/// way round: the fuzzer and the replay cannot drift apart.
#[test]
fn harness_and_fuzz_targets_agree() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "rewire-fuzz")
        .collect();
    bins.sort_unstable();
    let mut names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    assert_eq!(bins, names, "fuzz/Cargo.toml bins vs harness::TARGETS");
    for name in names {
        let source = std::fs::read_to_string(root.join(format!("fuzz_targets/{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz_targets/{name}.rs: {e}"));
        assert!(
            source.contains(&format!("harness::{name}(")),
            "fuzz_targets/{name}.rs does not call harness::{name}"
        );
    }
}
