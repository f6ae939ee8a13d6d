//! `RawLogScanner` gives the events of the transport's `serde_json` raw-log
//! reader, event for event, on the exporter's own layout, on other JSON
//! layouts of the same sessions (which take its general path), and on
//! broken logs (an error where the reader has one).

use std::io::Cursor;
use std::path::PathBuf;

use rewire_transport::capture::{CaptureEvent, RawLogReader};
use rewire_websentry_host::rawlog::RawLogScanner;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name)
}

/// The events, or the position of the first error and that it happened.
fn scanner(log: &[u8]) -> (Vec<CaptureEvent>, bool) {
    let mut events = Vec::new();
    for event in RawLogScanner::new(Cursor::new(log.to_vec())) {
        match event {
            Ok(e) => events.push(e),
            Err(_) => return (events, true),
        }
    }
    (events, false)
}

fn reader(log: &[u8]) -> (Vec<CaptureEvent>, bool) {
    let mut events = Vec::new();
    for event in RawLogReader::new(Cursor::new(log.to_vec())).events() {
        match event {
            Ok(e) => events.push(e),
            Err(_) => return (events, true),
        }
    }
    (events, false)
}

fn agree(log: &[u8], what: &str) -> usize {
    let (a, a_err) = scanner(log);
    let (b, b_err) = reader(log);
    assert_eq!(a.len(), b.len(), "{what}: number of events");
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(a, b, "{what}: event {i}");
    }
    assert_eq!(a_err, b_err, "{what}: error at the end");
    a.len()
}

fn logs() -> Vec<(String, Vec<u8>)> {
    [
        "testdata/websentry/rawlog.json",
        "crates/websentry-cli/tests/data/wmpe-differential.json",
    ]
    .iter()
    .map(|p| (p.to_string(), std::fs::read(testdata(p)).unwrap()))
    .collect()
}

#[test]
fn the_exporters_layout_gives_the_readers_events() {
    for (name, log) in logs() {
        let n = agree(&log, &name);
        assert!(n >= 10, "{name}: {n} events");
    }
}

/// The same sessions written compactly, with keys reordered, with an
/// escaped slash in a string and with an extra key: the general path.
#[test]
fn other_layouts_give_the_readers_events() {
    for (name, log) in logs() {
        let sessions: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&log)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let compact: Vec<u8> = sessions
            .iter()
            .flat_map(|s| serde_json::to_vec(s).unwrap())
            .collect();
        agree(&compact, &format!("{name}, compact"));
        let reordered: String = sessions
            .iter()
            .map(|s| {
                format!(
                    "{{\"Frames\": {}, \"Extra\": [1, {{\"x\": \"}}\"}}], \"Start\": {}}}\n",
                    s["Frames"], s["Start"]
                )
            })
            .collect();
        agree(reordered.as_bytes(), &format!("{name}, reordered"));
        let escaped = String::from_utf8(log.clone())
            .unwrap()
            .replacen("cIOe", "cIOe\\/", 1);
        // A `/` in base64 written as `\/`: valid JSON, another frame.
        agree(escaped.as_bytes(), &format!("{name}, escaped"));
    }
}

/// A log cut anywhere, or with a bad byte, gives the reader's events up to
/// its error and an error too.
#[test]
fn broken_logs_end_where_the_reader_ends() {
    let (_, log) = logs().pop().unwrap();
    let mut cuts = 0;
    for cut in (1..log.len()).step_by(97) {
        agree(&log[..cut], &format!("cut at {cut}"));
        cuts += 1;
    }
    assert!(cuts > 100);
    for (at, byte) in [(0, b'['), (40, b'#'), (200, b'"'), (log.len() / 2, b'@')] {
        let mut bad = log.clone();
        bad[at] = byte;
        agree(&bad, &format!("{byte} at {at}"));
    }
    let (_, err) = scanner(b"{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"N\": 300, \"C\": \"cA==\"}]}");
    assert!(err, "N out of range");
    let (_, err) = scanner(b"{\"Start\": \"yesterday\", \"DurSec\": 1, \"Frames\": null}");
    assert!(err, "a bad Start");
}
