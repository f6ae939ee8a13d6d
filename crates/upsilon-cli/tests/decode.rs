//! `upsilon decode` on every bundled capture (compared with the checked-in
//! NDJSON) and on bad inputs (exit status, one-line message, no panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_upsilon");

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/upsilon")
}

fn decode(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn every_capture_matches_its_expected_ndjson() {
    let mut checked = 0;
    for entry in std::fs::read_dir(testdata()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let out = decode(&["--json", path.to_str().unwrap()], None);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).unwrap();
        let expected_path = testdata().join("expected").join(format!("{name}.ndjson"));
        let want = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        assert!(
            got == want,
            "{name}: output differs from {}\n--- expected\n{want}\n--- got\n{got}",
            expected_path.display()
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} captures found");
}

#[test]
fn hex_and_raw_inputs_decode_as_a_status_stream() {
    let out = decode(
        &[
            "--json",
            "--hex",
            "28 32 33 30 2e 30 20 32 33 30 2e 30 20 32 33 30 2e 30 20 30 31 32 20 35 30 2e 30 20 32 37 2e 32 20 2d 2d 2e 2d 20 30 30 30 30 31 30 30 30 0d",
        ],
        None,
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("{\"kind\":\"status\",\"input_voltage\":230.0"),
        "{text}"
    );
    let raw = b"(230.0 230.0 230.0 012 50.0 27.2 --.- 10001000\r\xff\xfe(bad\r";
    let out = decode(&["--json", "--input", "raw", "-"], Some(raw));
    assert!(out.status.success());
    let kinds: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["status", "error", "error"]);
}

fn assert_fails(args: &[&str], stdin: Option<&[u8]>, needle: &str) {
    let out = decode(args, stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.starts_with("upsilon: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_fail_with_one_line_naming_the_input() {
    let dir = std::env::temp_dir().join(format!("upsilon-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let capture = std::fs::read(testdata().join("upsilon-lo.pcap")).unwrap();
    let truncated = dir.join("truncated.pcap");
    std::fs::write(&truncated, &capture[..capture.len() - 7]).unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, b"hello, this is not a capture\n").unwrap();
    let random = dir.join("random.bin");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&random, &bytes).unwrap();

    assert_fails(
        &["--input", "pcap", empty.to_str().unwrap()],
        None,
        "empty.pcap",
    );
    assert_fails(&[empty.to_str().unwrap()], None, "empty.pcap: empty input");
    assert_fails(&[truncated.to_str().unwrap()], None, "truncated.pcap");
    assert_fails(
        &["--input", "pcap", text.to_str().unwrap()],
        None,
        "notes.txt",
    );
    assert_fails(
        &["--input", "pcap", random.to_str().unwrap()],
        None,
        "random.bin",
    );
    assert_fails(&[dir.to_str().unwrap()], None, "directory");
    assert_fails(
        &[dir.join("missing.pcap").to_str().unwrap()],
        None,
        "missing.pcap",
    );
    assert_fails(&["--hex", "28 3G"], None, "--hex");

    // Random bytes read as raw input are decoded, not fatal: error records, exit 0.
    let out = decode(&["--json", random.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decode_from_a_pipe_shows_each_record_at_once() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = Command::new(BIN)
        .args(["decode", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"(230.0 230.0 230.0 012 50.0 27.2 --.- 00001000\r")
        .unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    // stdin stays open: the record must come out now, not at the end.
    let line = rx.recv_timeout(std::time::Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    let line = line.expect("no record within 2 s while stdin stayed open");
    assert!(line.starts_with("{\"kind\":\"status\""), "{line}");
}
