//! Test-only crate: property tests (`tests/*.rs`), the stable replay of the
//! cargo-fuzz corpora under `fuzz/corpus/`, the fuzz-target bodies
//! ([`harness`]), the zero-allocation test and the criterion benches.
//!
//! It exists so that `rewire-upsilon`, `rewire-websentry` and `rewire-powerone`
//! need no std dev-dependencies: `cargo tree -e features -p rewire-websentry`
//! then shows no `std` or `alloc` feature anywhere in a parser's graph.

use std::path::PathBuf;

pub mod harness;
pub mod streams;

/// Returns every file of the committed seed corpus of fuzz target `target`,
/// sorted by name, as `(file name, bytes)`.
///
/// # Panics
/// Panics when the corpus folder is missing or empty, or a file cannot be
/// read: a replay test must fail loudly rather than pass on nothing.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "corpus {} is empty", dir.display());
    entries
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                bytes,
            )
        })
        .collect()
}
