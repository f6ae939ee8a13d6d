//! `websentry decode` on every bundled capture against checked-in NDJSON,
//! and on bad inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_websentry");

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/websentry")
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn bundled() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file() && p.file_name().unwrap().to_str().unwrap() != "websentry.expected.json"
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_bundled_input_matches_its_expected_ndjson() {
    let files = bundled();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let expected_path = testdata().join("expected").join(format!("{name}.ndjson"));
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let out = run(&["decode", "--json", file.to_str().unwrap()], None);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let got = stdout(&out);
        let parse = |text: &str| -> Vec<serde_json::Value> {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        assert_eq!(
            parse(&got),
            parse(&expected),
            "{name}\n--- got ---\n{got}\n--- expected ---\n{expected}"
        );
    }
}

#[test]
fn the_captured_session_decodes_as_the_protocol_says() {
    let out = run(
        &[
            "decode",
            "--json",
            testdata().join("websentry-lo.pcap").to_str().unwrap(),
        ],
        None,
    );
    let records: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["direction"].as_str().unwrap(),
                r["function"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("client", "init"),
            ("server", "query"),
            ("client", "query"),
            ("server", "set"),
            ("server", "query"),
            ("client", "set"),
            ("client", "query"),
            ("server", "query"),
        ]
    );
    assert_eq!(records[0]["properties"][1]["value"], "00:90:c2:0c:02:b3");
    assert!(
        records[0]["src_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(records[0]["dst_addr"], "127.0.0.1:1030");
    let answer = &records[2];
    assert_eq!(
        answer["body_error"],
        serde_json::Value::Null,
        "paired with its query"
    );
    assert_eq!(answer["properties"][0]["name"], "humidity_percent");
    assert_eq!(answer["properties"][0]["value"], 53.4);
    assert_eq!(answer["properties"][2]["value"], "5.15.12");
    assert_eq!(records[3]["properties"][0]["value"], 50);
    assert_eq!(records[5]["properties"][0]["text"], "ok");
    assert_eq!(records[7]["crc_ok"], false);
    assert!(records.iter().take(7).all(|r| r["crc_ok"] == true));
    assert!(records.iter().all(|r| r["ts"].as_f64().unwrap() > 1.7e9));

    let text = run(
        &[
            "decode",
            testdata().join("websentry-lo.pcap").to_str().unwrap(),
        ],
        None,
    );
    let lines = stdout(&text);
    assert!(lines.contains("client query len=22 humidity_percent=53.4% room_temp_f=62.9°F"));
    assert!(lines.contains("BAD-CRC pool_temp_f"));
}

#[test]
fn raw_log_stdin_and_hex_inputs() {
    let raw_log = std::fs::read(testdata().join("rawlog.json")).unwrap();
    let out = run(&["decode", "--input", "wmpe-json", "-"], Some(&raw_log));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("2024-01-20 18:39:54.264484Z client init len=18"));

    let out = run(
        &[
            "decode",
            "--json",
            "--hex",
            "70 83 9e e8 e6 00 12 00 ff 00 02 05 04 01 0d 00 90 c2 0c 02 b3 01 20 02 07 ff ff",
        ],
        None,
    );
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["function"], "init");
    assert_eq!(lines[0]["direction"], serde_json::Value::Null);
    assert_eq!(lines[1]["kind"], "error");
    assert_eq!(lines[1]["offset"], 25);
    assert_eq!(lines[1]["len"], 2);

    // --port keeps only the named ports: nothing on 9999.
    let out = run(
        &[
            "decode",
            "--port",
            "9999",
            testdata().join("websentry-lo.pcap").to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
}

fn assert_fails_naming(out: &Output, name: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("websentry: "), "{err}");
    assert!(err.contains(name), "names {name}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = std::env::temp_dir().join(format!("websentry-decode-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();

    // Missing file, a directory.
    assert_fails_naming(
        &run(&["decode", &path("missing.pcap")], None),
        "missing.pcap",
    );
    assert_fails_naming(
        &run(&["decode", dir.to_str().unwrap()], None),
        dir.to_str().unwrap(),
    );

    // Empty: an error in every format, naming the file.
    std::fs::write(path("empty"), b"").unwrap();
    let out = run(&["decode", &path("empty")], None);
    assert!(stderr(&out).contains("empty input"), "{}", stderr(&out));
    assert_fails_naming(&out, "empty");
    assert_fails_naming(
        &run(&["decode", "--input", "pcap", &path("empty")], None),
        "empty",
    );

    // Truncated capture: what was read is printed, then one error line.
    let pcap = std::fs::read(testdata().join("websentry-lo.pcap")).unwrap();
    std::fs::write(path("cut.pcap"), &pcap[..1000]).unwrap();
    let out = run(&["decode", &path("cut.pcap")], None);
    assert_fails_naming(&out, "cut.pcap");
    assert!(stdout(&out).contains("client init"));

    // Wrong format asked for.
    let raw_log = testdata().join("rawlog.json");
    assert_fails_naming(
        &run(
            &["decode", "--input", "pcap", raw_log.to_str().unwrap()],
            None,
        ),
        "rawlog.json",
    );
    let capture = testdata().join("websentry-lo.pcap");
    assert_fails_naming(
        &run(
            &["decode", "--input", "wmpe-json", capture.to_str().unwrap()],
            None,
        ),
        "websentry-lo.pcap",
    );
    assert_fails_naming(&run(&["decode", "--hex", "70 8z"], None), "--hex");

    // Random bytes: read as raw bytes, reported as errors, exit 0.
    let mut rng = fastrand::Rng::with_seed(42);
    let noise: Vec<u8> = (0..5000).map(|_| rng.u8(..)).collect();
    std::fs::write(path("noise.bin"), &noise).unwrap();
    let out = run(
        &["decode", "--json", "--input", "raw", &path("noise.bin")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let total: u64 = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| match r["kind"].as_str().unwrap() {
            "error" => r["len"].as_u64().unwrap(),
            _ => r["raw"].as_str().unwrap().len() as u64 / 2,
        })
        .sum();
    assert_eq!(total, noise.len() as u64, "every byte accounted for");

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_lists_examples_and_exit_statuses_and_completions_work() {
    let out = run(&["--help"], None);
    let help = stdout(&out);
    assert!(help.contains("websentry decode") && help.contains("Exit status"));
    let out = run(&["completions", "bash"], None);
    assert!(out.status.success());
    assert!(stdout(&out).contains("websentry"));
}

#[test]
fn completions_name_the_binary_and_survive_a_closed_pipe() {
    let out = run(&["completions", "bash"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(
        script
            .lines()
            .any(|l| l.trim_start().starts_with("complete -F _websentry ")
                && l.trim_end().ends_with(" websentry")),
        "completes the command name"
    );
    assert!(
        !script.contains("rewire-websentry-cli"),
        "not the package name"
    );
    // `websentry completions bash | head -1`: the reader goes after one line.
    for shell in ["bash", "zsh", "fish"] {
        let mut child = Command::new(BIN)
            .args(["completions", shell])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut first,
        )
        .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

#[test]
fn version_and_help_name_websentry_and_its_own_exit_statuses() {
    let out = run(&["--version"], None);
    assert!(stdout(&out).starts_with("websentry "), "{}", stdout(&out));
    let help = stdout(&run(&["--help"], None));
    assert!(help.contains("Exit status: 0 done"), "{help}");
    assert!(
        !help.contains(" 1 the device") && !help.contains(" 3 no answer"),
        "{help}"
    );
}

/// A live feed (`nc … | websentry decode -`): each record comes out when its
/// frame is in, while the pipe stays open.
#[test]
fn decode_from_a_pipe_writes_each_record_at_once() {
    use std::io::BufRead as _;
    const INIT: [u8; 25] = [
        0x70, 0x83, 0x9e, 0xe8, 0xe6, 0x00, 0x12, 0x00, 0xff, 0x00, 0x02, 0x05, 0x04, 0x01, 0x0d,
        0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3, 0x01, 0x20, 0x02, 0x07,
    ];
    for json in [false, true] {
        let mut args = vec!["decode"];
        if json {
            args.push("--json");
        }
        args.push("-");
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(&INIT).unwrap();
        input.flush().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(std::time::Duration::from_secs(2));
        // Only now does the input end.
        drop(input);
        let _ = child.wait();
        let line = line.expect("a record within 2 s while stdin stays open");
        assert!(line.contains("init"), "{line}");
    }
}
