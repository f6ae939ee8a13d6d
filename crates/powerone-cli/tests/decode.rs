//! `powerone decode` on every bundled input against checked-in NDJSON, on
//! inline hex with damaged frames, and on bad inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_powerone");

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/powerone")
}

/// Runs the binary; `decode` reads standard input only when told to, so
/// stdin is always a closed pipe with `stdin` written into it.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn bundled() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.to_str().unwrap().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bundled_input_matches_its_expected_ndjson() {
    let files = bundled();
    assert!(files.len() >= 12, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let expected_path = testdata().join("expected").join(format!("{name}.ndjson"));
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let out = run(&["decode", "--json", file.to_str().unwrap()], b"");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let got = stdout(&out);
        assert_eq!(
            json(&got),
            json(&expected),
            "{name}\n--- got ---\n{got}\n--- expected ---\n{expected}"
        );
    }
}

#[test]
fn the_captured_exchange_decodes_as_the_protocol_says() {
    let out = run(
        &[
            "decode",
            "--json",
            testdata().join("powerone-lo.pcap").to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json(&stdout(&out));
    assert_eq!(records.len(), 8);
    // Request: PC (0) to module 1, set date/time 2011-03-15 15:13.
    let r = &records[0];
    assert_eq!(
        (&r["dst"], &r["src"], &r["reply_required"]),
        (&Value::from(1), &Value::from(0), &Value::from(true))
    );
    assert_eq!(r["decoded"]["minute"], 13);
    assert!(r["dst_addr"].as_str().unwrap().ends_with(":4001"));
    // Its reply, from the server's side of the connection.
    let r = &records[1];
    assert_eq!(
        (&r["dst"], &r["src"], &r["reply_required"]),
        (&Value::from(0), &Value::from(1), &Value::from(false))
    );
    assert!(r["src_addr"].as_str().unwrap().ends_with(":4001"));
    assert_eq!(r["decoded"], Value::Null);
    assert_eq!(records[2]["decoded"]["password"], "8888");
    // Each direction is its own stream: offsets count within it.
    assert_eq!(
        (&records[2]["offset"], &records[3]["offset"]),
        (&Value::from(13), &Value::from(8))
    );
}

#[test]
fn inline_hex_flags_bad_checksums_and_noise_and_goes_on() {
    // Noise, a reply with a wrong checksum, then the right one.
    let out = run(
        &[
            "decode",
            "--json",
            "--hex",
            "13 37 FF 08 00 01 00 01 07 11 FF 08 00 01 00 01 07 10",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json(&stdout(&out));
    let kinds: Vec<_> = records
        .iter()
        .map(|r| {
            let reason = r["reason"].as_str().unwrap_or("");
            format!("{}:{}", r["kind"], reason.split(':').next().unwrap())
        })
        .collect();
    assert_eq!(
        kinds,
        ["\"error\":garbage", "\"error\":bad_checksum", "\"frame\":"]
    );
    assert_eq!(records[1]["offset"], 2);
    assert_eq!(records[1]["len"], 8);
    assert_eq!(
        records[1]["reason"],
        "bad_checksum: checksum 0x11, expected 0x10"
    );
    assert_eq!(records[1]["raw"], "ff08000100010711");
    // The shared envelope: every key present, null when unknown.
    for key in [
        "kind", "ts", "src_addr", "dst_addr", "offset", "len", "reason", "raw",
    ] {
        assert!(
            records[0].get(key).is_some(),
            "{key} missing: {}",
            records[0]
        );
    }
    assert_eq!(records[0]["ts"], Value::Null);
    assert_eq!(records[2]["offset"], 10);
    // Text output flags it too.
    let out = run(&["decode", "--hex", "FF 08 00 01 00 01 07 11"], b"");
    assert!(stdout(&out).contains("bad_checksum"), "{}", stdout(&out));
}

#[test]
fn stdin_and_the_verify_code() {
    let frame = [0xFFu8, 0x09, 0x00, 0x01, 0x00, 0x01, 0x0A, 0x01, 0x15];
    let out = run(
        &["decode", "--json", "--verify-function", "0x0a", "-"],
        &frame,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json(&stdout(&out));
    assert_eq!(records[0]["decoded"]["password_ok"], true);
    let out = run(&["decode", "--json", "-"], &frame);
    assert_eq!(json(&stdout(&out))[0]["decoded"], Value::Null);
}

fn assert_fails_naming(out: &Output, name: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("powerone: "), "{err}");
    assert!(err.contains(name), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = std::env::temp_dir().join(format!("powerone-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).to_str().unwrap().to_owned();

    // Empty: an error in every format, naming the file.
    std::fs::write(path("empty"), b"").unwrap();
    let out = run(&["decode", &path("empty")], b"");
    assert!(stderr(&out).contains("empty input"), "{}", stderr(&out));
    assert_fails_naming(&out, "empty");
    assert_fails_naming(
        &run(&["decode", "--input", "pcap", &path("empty")], b""),
        "empty",
    );

    // Truncated capture: what was read is printed, then one error line.
    let pcap = std::fs::read(testdata().join("powerone-lo.pcap")).unwrap();
    std::fs::write(path("cut.pcap"), &pcap[..pcap.len() - 30]).unwrap();
    let out = run(&["decode", &path("cut.pcap")], b"");
    assert_fails_naming(&out, "cut.pcap");
    assert!(stdout(&out).contains("set date/time"), "{}", stdout(&out));

    // Wrong format asked for.
    let hex = testdata().join("requests.xxd.hex");
    assert_fails_naming(
        &run(&["decode", "--input", "pcap", hex.to_str().unwrap()], b""),
        "requests.xxd.hex",
    );

    // Random bytes: error records, exit 0, no panic.
    let mut rng = fastrand::Rng::with_seed(3);
    let noise: Vec<u8> = (0..4096).map(|_| rng.u8(..)).collect();
    std::fs::write(path("noise.bin"), &noise).unwrap();
    let out = run(&["decode", "--json", &path("noise.bin")], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json(&stdout(&out));
    assert!(!records.is_empty());
    let covered: u64 = records
        .iter()
        .map(|r| {
            r["len"]
                .as_u64()
                .unwrap_or_else(|| 8 + r["data"].as_str().unwrap().len() as u64 / 2)
        })
        .sum();
    assert_eq!(covered, 4096, "every byte is a frame or an error");

    // A directory, a missing file, bad --hex.
    assert_fails_naming(
        &run(&["decode", dir.to_str().unwrap()], b""),
        dir.to_str().unwrap(),
    );
    assert_fails_naming(
        &run(&["decode", &path("missing.pcap")], b""),
        "missing.pcap",
    );
    assert_fails_naming(&run(&["decode", "--hex", "FF 0G"], b""), "--hex");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn input_errors_say_each_cause_once() {
    let dir = std::env::temp_dir().join(format!("powerone-cause-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = std::fs::read(testdata().join("powerone-lo.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &pcap[..pcap.len() - 30]).unwrap();
    let out = run(&["decode", cut.to_str().unwrap()], b"");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let parts: Vec<&str> = err.trim_end().split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(part), "{part:?} repeated: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_live_pipe_gets_each_record_at_once() {
    use std::io::{BufRead, BufReader};
    use std::time::Duration;
    let mut child = Command::new(BIN)
        .args(["decode", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    input
        .write_all(&[0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10])
        .unwrap();
    input.flush().unwrap();
    // stdin stays open: the record must come anyway.
    let line = rx.recv_timeout(Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
    drop(input);
    let line = line.expect("no record within 2 s while stdin is open");
    let record: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["function"], 7);
}
