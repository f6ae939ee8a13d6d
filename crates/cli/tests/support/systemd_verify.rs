//! Shared by the tools' `tests/systemd.rs` (included with `#[path]`): checks
//! a unit of `contrib/systemd/` with `systemd-analyze verify`.

use std::path::Path;
use std::process::Command;

/// Verifies `contrib/systemd/UNIT.service` with its `ExecStart` pointed at
/// `bin_path` (the binary `bin` just built): no error, no warning.
pub fn verify(unit: &str, bin: &str, bin_path: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib/systemd")
        .join(format!("{unit}.service"));
    let text = std::fs::read_to_string(&file).unwrap();
    let installed = format!("ExecStart=/usr/local/bin/{bin} ");
    assert!(text.contains(&installed), "{text}");
    let text = text.replace(&format!("/usr/local/bin/{bin}"), bin_path);
    let dir = std::env::temp_dir().join(format!("rewire-systemd-{unit}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{unit}.service"));
    std::fs::write(&path, text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{unit}: {stderr}"
    );
}
