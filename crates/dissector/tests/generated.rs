//! The checked-in dissector is exactly what the generator writes now.

use std::path::PathBuf;

#[test]
fn checked_in_lua_is_up_to_date() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(rewire_dissector::LUA_PATH);
    let current = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let fresh = rewire_dissector::generate();
    if current != fresh {
        let line = current
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || current.lines().count().min(fresh.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "{} is out of date (first difference at line {line}).\n\
             Regenerate it from the workspace root with:\n    {}",
            rewire_dissector::LUA_PATH,
            rewire_dissector::REGENERATE
        );
    }
}
