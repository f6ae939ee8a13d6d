//! The `rewire` binary end to end: reports on the bundled captures, the JSON
//! schema's top level, errors as one line and a non-zero exit.

use std::path::PathBuf;
use std::process::{Command, Output};

fn rewire(args: &[&str]) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    Command::new(env!("CARGO_BIN_EXE_rewire"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("run rewire")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version() {
    let o = rewire(&["--version"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "rewire 0.1.0");
}

#[test]
fn powerone_report_is_the_articles_table() {
    let o = rewire(&["infer", "testdata/powerone/powerone-lo.pcap"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "tcp/4001: 8 messages",
        "0      1      sync            FF",
        "1      1      length          u8, counts the whole frame",
        "2      1      address         swaps with byte 3",
        "4      1      direction flag  01 client→server, 00 server→client",
        "5      1      constant        always 01",
        "6      1      function code",
        "-1     1      checksum        8-bit sum of bytes 0..end-1",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
}

#[test]
fn websentry_json() {
    let o = rewire(&["infer", "--json", "testdata/websentry/websentry-lo.pcap"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_eq!(v["schema"], "rewire-infer/1");
    let g = &v["groups"][0];
    assert_eq!(g["name"], "tcp/1030");
    assert_eq!(g["sync"]["status"], "found");
    assert_eq!(g["sync"]["bytes"], "70839e");
    assert_eq!(g["length"]["offset"], 5);
    assert_eq!(g["checksum"]["crc"]["name"], "CRC-16/MODBUS");
    assert_eq!(g["checksum"]["range_from"], 7);
}

#[test]
fn port_filter_and_text() {
    let o = rewire(&[
        "infer",
        "--port",
        "2570",
        "testdata/upsilon/upsilon-lo.pcap",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("tcp/2570"), "{out}");
    assert!(!out.contains("udp/11541"), "{out}");
    assert!(out.contains("start \"(\", end CR, 8 fields"), "{out}");
}

#[test]
fn thin_evidence_says_not_found() {
    let o = rewire(&["infer", "--hex", "FF 08 00 01 00 01 07 10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("checksum: not found"), "{out}");
}

#[test]
fn errors_are_one_line() {
    for args in [
        &["infer", "no/such/file.pcap"][..],
        &[
            "infer",
            "--gap",
            "5 parsecs",
            "testdata/powerone/exchange.hex",
        ][..],
        &["infer", "--hex", "FG"][..],
    ] {
        let o = rewire(args);
        assert!(!o.status.success(), "{args:?}");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{err}");
        if args[1] != "--gap" {
            assert!(err.starts_with("rewire: "), "{err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
}
