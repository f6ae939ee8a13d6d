//! `RawLogReader` (a scanner for the exporter's layout, `serde_json` per
//! session for any other) reads what a plain `serde_json` stream reader of
//! the same log reads, session for session and event for event: on the
//! exporter's own layout, on other JSON layouts of the same sessions, on
//! logs cut anywhere and fed a few bytes per read, and on a corrupted byte
//! (the same error kind, place and message).

use std::io::Read;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rewire_transport::capture::{
    CaptureError, CaptureErrorKind, CaptureEvent, Chunk, Direction, EndReason, Location,
    RawLogFrame, RawLogReader, RawLogSession, RawLogTime, StreamEnd, StreamId,
};
use serde::Deserialize;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name)
}

/// An error as the comparison sees it.
#[derive(Debug, PartialEq)]
struct Failure {
    kind: CaptureErrorKind,
    location: Option<Location>,
    detail: String,
}

impl From<&CaptureError> for Failure {
    fn from(e: &CaptureError) -> Self {
        Self {
            kind: e.kind(),
            location: e.location(),
            detail: e.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct SessionJson {
    #[serde(rename = "Start")]
    start: String,
    #[serde(rename = "DurSec", default)]
    dur_sec: f64,
    #[serde(rename = "Frames", default)]
    frames: Option<Vec<FrameJson>>,
}

#[derive(Deserialize)]
struct FrameJson {
    #[serde(rename = "N", default)]
    n: i64,
    #[serde(rename = "C", default)]
    c: Option<String>,
    #[serde(rename = "S", default)]
    s: Option<String>,
}

/// The reference: the whole log through one `serde_json` stream reader,
/// each session checked as the reader promises. The sessions, then the
/// error that ends them.
fn reference(log: &[u8]) -> (Vec<RawLogSession>, Option<Failure>) {
    let mut sessions = Vec::new();
    for (index, json) in serde_json::Deserializer::from_reader(log)
        .into_iter::<SessionJson>()
        .enumerate()
    {
        let fail = |kind, location, detail: String| {
            let e = CaptureError::new(kind).at(location).with_detail(detail);
            Some(Failure::from(&e))
        };
        let json = match json {
            Ok(json) => json,
            Err(e) => {
                let kind = if e.is_eof() {
                    CaptureErrorKind::Truncated
                } else {
                    CaptureErrorKind::Json
                };
                let at = Location::Line {
                    line: e.line() as u64,
                    column: e.column() as u64,
                };
                return (sessions, fail(kind, at, format!("session {index}: {e}")));
            }
        };
        let here = Location::Record(index as u64);
        let Some(start) = RawLogTime::parse(&json.start) else {
            let detail = format!("Start {:?}", json.start);
            return (sessions, fail(CaptureErrorKind::Timestamp, here, detail));
        };
        let mut frames = Vec::new();
        for (i, f) in json.frames.unwrap_or_default().into_iter().enumerate() {
            let (direction, text) = match (f.c, f.s) {
                (Some(c), None) => (Direction::ClientToServer, c),
                (None, Some(s)) => (Direction::ServerToClient, s),
                _ => {
                    let detail = format!("frame {i}");
                    return (sessions, fail(CaptureErrorKind::RawLogFrame, here, detail));
                }
            };
            let Ok(data) = STANDARD.decode(text) else {
                let detail = format!("frame {i}: bad base64");
                return (sessions, fail(CaptureErrorKind::Json, here, detail));
            };
            let Ok(n) = u8::try_from(f.n) else {
                let detail = format!("frame {i}: N {} is not 0..=255", f.n);
                return (sessions, fail(CaptureErrorKind::Json, here, detail));
            };
            frames.push(RawLogFrame { n, direction, data });
        }
        sessions.push(RawLogSession {
            start,
            dur_sec: json.dur_sec,
            frames,
        });
    }
    (sessions, None)
}

/// The reference's events: per session, each frame a chunk on stream
/// `2 × session` (client) or `2 × session + 1` (server), then the ends.
fn reference_events(sessions: &[RawLogSession]) -> Vec<CaptureEvent> {
    let mut events = Vec::new();
    for (index, session) in sessions.iter().enumerate() {
        let base = 2 * index as u64;
        let mut used = [false; 2];
        for frame in &session.frames {
            let side = usize::from(frame.direction == Direction::ServerToClient);
            used[side] = true;
            events.push(CaptureEvent::Chunk(Chunk {
                stream: StreamId(base + side as u64),
                timestamp: session.start.to_system_time(),
                direction: Some(frame.direction),
                endpoints: None,
                bytes: frame.data.clone(),
            }));
        }
        for (side, used) in used.into_iter().enumerate() {
            if used {
                events.push(CaptureEvent::End(StreamEnd {
                    stream: StreamId(base + side as u64),
                    reason: EndReason::EndOfInput,
                }));
            }
        }
    }
    events
}

/// Gives at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = rest;
        Ok(n)
    }
}

/// Checks the reader against the reference on `log`, read whole and a few
/// bytes at a time; returns the number of events.
fn agree(log: &[u8], what: &str) -> usize {
    let (want, want_err) = reference(log);
    let want_events = reference_events(&want);
    for step in [usize::MAX, 7] {
        let what = format!("{what}, reads of {step}");
        let mut got = Vec::new();
        let mut got_err = None;
        for session in RawLogReader::new(Trickle { data: log, step }) {
            match session {
                Ok(s) => got.push(s),
                Err(e) => got_err = Some(Failure::from(&e)),
            }
        }
        assert_eq!(got.len(), want.len(), "{what}: number of sessions");
        for (i, (got, want)) in got.iter().zip(&want).enumerate() {
            assert_eq!(got, want, "{what}: session {i}");
            assert_eq!(got.dur_sec.to_bits(), want.dur_sec.to_bits(), "{what}");
        }
        assert_eq!(got_err, want_err, "{what}: the error at the end");

        let mut events = Vec::new();
        let mut events_err = None;
        for event in RawLogReader::new(Trickle { data: log, step }).events() {
            match event {
                Ok(e) => events.push(e),
                Err(e) => events_err = Some(Failure::from(&e)),
            }
        }
        assert_eq!(events.len(), want_events.len(), "{what}: number of events");
        for (i, (got, want)) in events.iter().zip(&want_events).enumerate() {
            assert_eq!(got, want, "{what}: event {i}");
        }
        assert_eq!(events_err, want_err, "{what}: the events' error");
    }
    want_events.len()
}

fn logs() -> Vec<(String, Vec<u8>)> {
    [
        "testdata/websentry/rawlog.json",
        "crates/websentry-cli/tests/data/wmpe-differential.json",
    ]
    .iter()
    .map(|p| (p.to_string(), std::fs::read(testdata(p)).expect("read")))
    .collect()
}

#[test]
fn the_exporters_layout_reads_as_serde_json_reads_it() {
    for (name, log) in logs() {
        let n = agree(&log, &name);
        assert!(n >= 10, "{name}: {n} events");
    }
}

/// The same sessions written compactly, with keys reordered, with an
/// escaped slash in a string and with extra keys (the general path).
#[test]
fn other_layouts_read_as_serde_json_reads_them() {
    for (name, log) in logs() {
        let sessions: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&log)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("json");
        let compact: Vec<u8> = sessions
            .iter()
            .flat_map(|s| serde_json::to_vec(s).expect("json"))
            .collect();
        agree(&compact, &format!("{name}, compact"));
        let reordered: String = sessions
            .iter()
            .map(|s| {
                format!(
                    "{{\"Frames\": {}, \"Extra\": [1, {{\"x\": \"}}\\\"{{\"}}], \"Start\": {}}}  ",
                    s["Frames"], s["Start"]
                )
            })
            .collect();
        agree(reordered.as_bytes(), &format!("{name}, reordered"));
        // A `/` of the base64 written `\/`: valid JSON, the same frame.
        let text = String::from_utf8(log.clone()).expect("utf-8");
        let escaped = text.replacen("cIOe6OYAEgD/", "cIOe6OYAEgD\\/", 1);
        assert_ne!(escaped, text);
        agree(escaped.as_bytes(), &format!("{name}, escaped"));
    }
}

/// A log cut anywhere, or with a bad byte, gives the same sessions up to
/// the same error.
#[test]
fn broken_logs_end_with_serde_jsons_error() {
    let (_, log) = logs().pop().expect("a log");
    let mut cuts = 0;
    for cut in (1..log.len()).step_by(97) {
        agree(&log[..cut], &format!("cut at {cut}"));
        cuts += 1;
    }
    assert!(cuts > 100);
    let last_session = log.len() - 200;
    for (at, byte) in [
        (0, b'x'),
        (40, b'#'),
        (200, b'"'),
        (log.len() / 2, b'@'),
        (last_session, b'\\'),
        (log.len() - 2, b','),
    ] {
        let mut bad = log.clone();
        bad[at] = byte;
        let (_, err) = reference(&bad);
        assert!(err.is_some(), "{byte} at {at} breaks the log");
        agree(&bad, &format!("{} at {at}", char::from(byte)));
    }
    for text in [
        "{} garbage",
        "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"N\": 300, \"C\": \"cA==\"}]}",
        "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"N\": 007, \"C\": \"cA==\"}]}",
        "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 01, \"Frames\": null}",
        "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"C\": \"c\tA==\"}]}",
        "{\"Start\": \"yesterday\", \"DurSec\": 1, \"Frames\": null}",
        "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"N\": 1}]}",
        "\n  {\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1e999, \"Frames\": null}",
    ] {
        let (_, err) = reference(text.as_bytes());
        assert!(err.is_some(), "{text}");
        agree(text.as_bytes(), text);
    }
}

/// Gives `data`, then fails any further read, as a live log that has
/// nothing more yet would block.
struct Live<'a> {
    data: &'a [u8],
}

impl Read for Live<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() {
            return Err(std::io::Error::other("read while nothing more has come"));
        }
        let n = buf.len().min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = rest;
        Ok(n)
    }
}

/// A session is given as soon as its closing brace has been read, without
/// waiting for the next one or the end of the input.
#[test]
fn a_live_log_gives_each_session_when_it_is_complete() {
    let (_, log) = logs().pop().expect("a log");
    let (sessions, _) = reference(&log);
    // Up to the first session's closing brace, and the start of the next.
    let first = log.windows(3).position(|w| w == b"\n}\n").expect("an end") + 2;
    let mut reader = RawLogReader::new(Live {
        data: &log[..first + 5],
    });
    let got = reader.next().expect("a session").expect("read");
    assert_eq!(got, sessions[0]);
    let err = reader.next().expect("an error").expect_err("no more input");
    assert_eq!(err.kind(), CaptureErrorKind::Io);

    let events: Vec<_> = RawLogReader::new(Live {
        data: &log[..first],
    })
    .events()
    .take_while(Result::is_ok)
    .collect();
    assert_eq!(events.len(), reference_events(&sessions[..1]).len());
}
