//! `websentry plot`: a raw log and a capture drawn as SVG, one point per
//! humidity value in their expected decodes (answers paired with queries).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_websentry");

fn testdata(rel: &str) -> String {
    format!("{}/../../testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// How many humidity values (property 0x0600) the expected decode holds.
fn humidity_values(expected: &str) -> usize {
    std::fs::read_to_string(testdata(expected))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .flat_map(|r| r["properties"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["id"] == 0x0600 && p["value"].is_number())
        .count()
}

#[test]
fn plots_humidity_from_a_raw_log_and_a_capture() {
    for (input, expected) in [
        (
            "websentry/rawlog.json",
            "websentry/expected/rawlog.json.ndjson",
        ),
        (
            "websentry/websentry-lo.pcap",
            "websentry/expected/websentry-lo.pcap.ndjson",
        ),
    ] {
        let n = humidity_values(expected);
        assert!(n > 0, "{expected}");
        let out = std::env::temp_dir().join(format!("websentry-plot-{}.svg", std::process::id()));
        let run = Command::new(BIN)
            .args(["plot", &testdata(input), "--reading", "humidity", "-o"])
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
        assert!(
            svg.contains(&format!(r#"data-reading="humidity" data-points="{n}""#)),
            "{input}: {n} points expected: {svg}"
        );
    }
}
