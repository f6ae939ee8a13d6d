//! `websentry decode --changes`: the checked-in change log of the
//! differential raw log, byte for byte, and the same changes, in the same
//! order, as the original exporter logged for that file.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_websentry");

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn changes(input: &PathBuf) -> String {
    let out = Command::new(BIN)
        .args(["decode", "--changes"])
        .arg(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_change_log_matches_the_checked_in_one() {
    let got = changes(&data("wmpe-differential.json"));
    let expected = std::fs::read_to_string(data("wmpe-differential.changes")).unwrap();
    if got != expected {
        for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
            assert_eq!(g, e, "line {}", i + 1);
        }
        panic!(
            "{} lines, expected {}",
            got.lines().count(),
            expected.lines().count()
        );
    }
}

/// Each line is a change the original logged, in its order: the same id,
/// and a first sighting exactly where the original had `[empty]`.
#[test]
fn the_changes_are_the_originals() {
    let got = changes(&data("wmpe-differential.json"));
    let original = std::fs::read_to_string(data("wmpe-differential.expected")).unwrap();
    let got: Vec<&str> = got.lines().collect();
    let original: Vec<&str> = original.lines().collect();
    assert_eq!(got.len(), original.len(), "number of changes");
    for (g, o) in got.iter().zip(&original) {
        // `2026-11-30 08:08:01.383747Z 0x0100 version changed - => 0.5.15.12`
        let fields: Vec<&str> = g.split(' ').collect();
        let id = fields[2];
        assert!(o.starts_with(&format!("prop_{id}")), "{g}\n{o}");
        let first = g.contains(" changed - => ");
        assert_eq!(first, o.contains(" changed [empty] => "), "{g}\n{o}");
    }
}

#[test]
fn changes_and_json_are_exclusive() {
    let out = Command::new(BIN)
        .args(["decode", "--changes", "--json"])
        .arg(data("wmpe-differential.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}
