//! `upsilon plot`: a bundled capture drawn as SVG, one point per status
//! record of its expected decode; a reading never seen is an error.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_upsilon");

fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn plots_a_capture_and_refuses_an_unknown_reading() {
    let statuses = std::fs::read_to_string(testdata("upsilon/expected/upsilon-lo.pcap.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""kind":"status""#))
        .count();
    let out = std::env::temp_dir().join(format!("upsilon-plot-{}.svg", std::process::id()));
    let run = Command::new(BIN)
        .args(["plot", &testdata("upsilon/upsilon-lo.pcap")])
        .args(["--reading", "input_voltage", "--reading", "load", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let svg = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    for reading in ["input_voltage", "load"] {
        assert!(
            svg.contains(&format!(
                r#"data-reading="{reading}" data-points="{statuses}""#
            )),
            "{reading}: {svg}"
        );
    }
    assert!(
        svg.contains(">V<") || svg.contains(" V<") || svg.contains("(V)"),
        "no volt axis"
    );
    let run = Command::new(BIN)
        .args([
            "plot",
            &testdata("upsilon/upsilon-lo.pcap"),
            "--reading",
            "nope",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.starts_with("upsilon: no samples of nope"), "{err}");
    assert!(!out.exists());
}
