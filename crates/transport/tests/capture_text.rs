//! Hex dumps, raw files and the WebSentry raw log.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rewire_transport::capture::{
    CaptureError, CaptureErrorKind, CaptureEvent, CaptureOptions, Direction, EndReason,
    HexDumpReader, InputFormat, Location, RawFileReader, RawLogFrame, RawLogReader, RawLogSession,
    RawLogTime, StreamId, looks_like_hex_text, looks_like_raw_log, open, read_prefix,
    sniff_capture_format, write_raw_log_session,
};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

type Chunks = Vec<(Option<Direction>, Vec<u8>)>;

fn hex_chunks(text: &str) -> Result<Chunks, CaptureError> {
    let mut out = Vec::new();
    for event in HexDumpReader::new(Cursor::new(text.as_bytes().to_vec())) {
        if let CaptureEvent::Chunk(c) = event? {
            out.push((c.direction, c.bytes));
        }
    }
    Ok(out)
}

const TX: Option<Direction> = Some(Direction::ClientToServer);
const RX: Option<Direction> = Some(Direction::ServerToClient);

#[test]
fn hex_dump_table() {
    let rows: Vec<(&str, Chunks)> = vec![
        ("ff 0d 01\n", vec![(None, vec![0xff, 0x0d, 0x01])]),
        ("ff:0d:01\r\n", vec![(None, vec![0xff, 0x0d, 0x01])]),
        ("ff0d01\n", vec![(None, vec![0xff, 0x0d, 0x01])]),
        ("0xFF 0x0d\n", vec![(None, vec![0xff, 0x0d])]),
        (
            "  ff 0d   # a comment 12 34\n# only a comment\n",
            vec![(None, vec![0xff, 0x0d])],
        ),
        (
            "0000: ff 0d\n0002: 01\n",
            vec![(None, vec![0xff, 0x0d, 0x01])],
        ),
        (
            "00000000  ff 0d  |..|\n00000002\n",
            vec![(None, vec![0xff, 0x0d])],
        ),
        ("ff 41  .A\n", vec![(None, vec![0xff, 0x41])]),
        ("7c 41 23  |A#\n", vec![(None, vec![0x7c, 0x41, 0x23])]),
        (
            "TX: ff 01\nRX: 02\n",
            vec![(TX, vec![0xff, 0x01]), (RX, vec![0x02])],
        ),
        (
            "tx: 01\ntx: 02\n03\nrx:04\n",
            vec![(TX, vec![1, 2, 3]), (RX, vec![4])],
        ),
        ("> 01\n> 02\n< 03\n", vec![(TX, vec![1, 2]), (RX, vec![3])]),
        ("01\n\n02\n", vec![(None, vec![1]), (None, vec![2])]),
        ("\n\n# nothing\n", vec![]),
        // hexdump -C collapses repeated lines into '*'.
        (
            "00000000  00 01 00 01  |....|\n*\n0000000c  ff  |.|\n0000000d\n",
            vec![(None, vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0xff])],
        ),
        // Offsets longer than 8 digits, where an offset is expected.
        (
            "000000000000  ff 0d  |..|\n000000000002  01  |.|\n",
            vec![(None, vec![0xff, 0x0d, 0x01])],
        ),
    ];
    for (text, want) in rows {
        assert_eq!(hex_chunks(text).ok(), Some(want), "{text:?}");
    }
}

#[test]
fn a_long_offset_after_a_repeat_is_an_offset_not_data() {
    // hexdump -C past 4 GiB: the offset after '*' has 12 digits. It is
    // read as an offset (so the repeat is too long to expand, an error),
    // never as the bytes 00 01 00 00 00 00.
    let text = "00000000  00 01 00 01  |....|\n*\n000100000000\n";
    let err = hex_chunks(text).unwrap_err().to_string();
    assert!(err.contains("'*' repeat"), "{err}");
    let text = "00000000  00 01 00 01  |....|\n*\n000000000008  ff  |.|\n";
    assert_eq!(
        hex_chunks(text).unwrap(),
        vec![(None, vec![0, 1, 0, 1, 0, 1, 0, 1, 0xff])]
    );
}

#[test]
fn hex_dump_errors_name_line_and_column() {
    let rows: [(&str, u64, u64); 5] = [
        ("ff 0g\n", 1, 5),
        ("ff\nTX: 01 2\n", 2, 8),
        ("0000: ff zz\n", 1, 10),
        ("ff::01\n", 1, 4),
        ("01\n02\n\nhello world\n", 4, 1),
    ];
    for (text, line, column) in rows {
        let err = hex_chunks(text).expect_err("an error");
        assert_eq!(err.kind(), CaptureErrorKind::HexSyntax, "{text:?}");
        assert_eq!(
            err.location(),
            Some(Location::Line { line, column }),
            "{text:?}: {err}"
        );
    }
    let long = format!("{}\n", "ab".repeat(40));
    let err = HexDumpReader::new(Cursor::new(long.into_bytes()))
        .with_max_line(16)
        .find_map(Result::err);
    assert_eq!(
        err.map(|e| e.kind()),
        Some(CaptureErrorKind::LineTooLong { limit: 16 })
    );
}

#[test]
fn hex_files_from_real_tools_and_monitors() {
    let requests = std::fs::read(testdata("powerone/requests.bin")).expect("requests.bin");
    let replies = std::fs::read(testdata("powerone/replies.bin")).expect("replies.bin");
    for file in [
        "powerone/requests.hexdump-c.hex",
        "powerone/requests.xxd.hex",
    ] {
        let text = std::fs::read_to_string(testdata(file)).expect("read");
        let chunks = hex_chunks(&text).expect("parses");
        let bytes: Vec<u8> = chunks.into_iter().flat_map(|(_, b)| b).collect();
        assert_eq!(bytes, requests, "{file}");
    }
    // The article's two exchanges, in two monitor styles.
    let (req, rep) = (
        requests.get(..25).unwrap_or_default(),
        replies.get(..16).unwrap_or_default(),
    );
    for file in ["powerone/exchange.hex", "powerone/exchange-arrows.hex"] {
        let path = testdata(file);
        let prefix = read_prefix(&path, 4096).expect("prefix");
        assert_eq!(InputFormat::detect(&prefix), InputFormat::HexText, "{file}");
        let reader = open(&path, InputFormat::HexText, &CaptureOptions::default()).expect("open");
        let events: Vec<CaptureEvent> = reader.collect::<Result<_, _>>().expect("parses");
        let collect = |stream: u64| -> Vec<u8> {
            events
                .iter()
                .filter_map(CaptureEvent::as_chunk)
                .filter(|c| c.stream == StreamId(stream))
                .flat_map(|c| c.bytes.clone())
                .collect()
        };
        assert_eq!(collect(1), req, "{file}: TX");
        assert_eq!(collect(2), rep, "{file}: RX");
        let chunks = events.iter().filter(|e| e.as_chunk().is_some()).count();
        assert_eq!(chunks, 4, "{file}: two requests, two replies");
        assert!(
            matches!(events.last(), Some(CaptureEvent::End(e)) if e.reason == EndReason::EndOfInput)
        );
    }
}

#[test]
fn detection() {
    let pcap = read_prefix(&testdata("websentry/websentry-lo.pcap"), 64).expect("pcap");
    let pcapng = read_prefix(&testdata("websentry/websentry-lo.pcapng"), 64).expect("pcapng");
    let rawlog = read_prefix(&testdata("websentry/rawlog.json"), 4096).expect("rawlog");
    let bin = read_prefix(&testdata("powerone/requests.bin"), 4096).expect("bin");
    assert_eq!(sniff_capture_format(&pcap), Some(InputFormat::Pcap));
    assert_eq!(sniff_capture_format(&pcapng), Some(InputFormat::PcapNg));
    assert_eq!(sniff_capture_format(b"\xa1\xb2"), None);
    assert_eq!(InputFormat::detect(&rawlog), InputFormat::RawLog);
    assert!(looks_like_raw_log(b"  {\n\t\"Start\": \"x\""));
    assert_eq!(InputFormat::detect(&bin), InputFormat::Binary);
    assert!(looks_like_hex_text(b"TX: FF 0D\nRX: FF 08\n"));
    assert!(looks_like_hex_text(b"00000000  ff 0d 01  |...|\n00000003"));
    assert!(!looks_like_hex_text(b"GET / HTTP/1.1\r\nHost: x\r\n"));
    assert!(!looks_like_hex_text(
        b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r"
    ));
    assert!(!looks_like_hex_text(b""));
    assert!(!looks_like_hex_text(b"\xff\x0d\x01"));
}

#[test]
fn raw_file_chunks() {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let events: Vec<_> = RawFileReader::with_chunk_size(Cursor::new(bytes.clone()), 4096)
        .collect::<Result<_, _>>()
        .expect("reads");
    let sizes: Vec<usize> = events
        .iter()
        .filter_map(|e| e.as_chunk().map(|c| c.bytes.len()))
        .collect();
    assert_eq!(sizes, vec![4096, 4096, 1808]);
    let joined: Vec<u8> = events
        .iter()
        .filter_map(|e| e.as_chunk())
        .flat_map(|c| c.bytes.clone())
        .collect();
    assert_eq!(joined, bytes);
    assert!(matches!(events.last(), Some(CaptureEvent::End(_))));
    let empty: Vec<_> = RawFileReader::new(Cursor::new(Vec::new())).collect();
    assert_eq!(empty.len(), 1);
}

#[test]
fn raw_log_reads_the_captured_frames() {
    let path = testdata("websentry/rawlog.json");
    let sessions: Vec<RawLogSession> = RawLogReader::new(std::fs::File::open(&path).expect("open"))
        .collect::<Result<_, _>>()
        .expect("parses");
    assert_eq!(sessions.len(), 2);
    let s = &sessions[0];
    assert_eq!(
        s.start.to_rfc3339().as_deref(),
        Some("2024-01-20T10:39:54.264483473-08:00")
    );
    assert_eq!(s.start.utc_offset_minutes, -480);
    assert!((s.dur_sec - 1.513274211).abs() < 1e-12);
    assert_eq!(s.frames.len(), 8);
    assert_eq!(s.frames[0].n, 1);
    assert_eq!(s.frames[0].direction, Direction::ClientToServer);
    assert_eq!(
        hex::encode(&s.frames[0].data),
        "70839ee8e6001200ff00020504010d0090c20c02b301200207"
    );
    assert_eq!(s.frames[1].direction, Direction::ServerToClient);
    assert!(sessions[1].frames.is_empty());

    // The frames are the captured streams, per direction.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(testdata("websentry/websentry.expected.json")).expect("read"),
    )
    .expect("json");
    let c2s: Vec<u8> = s
        .frames
        .iter()
        .filter(|f| f.direction == Direction::ClientToServer)
        .flat_map(|f| f.data.clone())
        .collect();
    assert_eq!(
        hex::encode(c2s),
        json["flows"][0]["client_to_server"]
            .as_str()
            .unwrap_or_default()
    );

    // As events: stream 0 = client, 1 = server of the first session.
    let events: Vec<_> = open(&path, InputFormat::RawLog, &CaptureOptions::default())
        .expect("open")
        .collect::<Result<_, _>>()
        .expect("events");
    let first = events
        .first()
        .and_then(CaptureEvent::as_chunk)
        .expect("chunk");
    assert_eq!(
        (first.stream, first.direction),
        (StreamId(0), Some(Direction::ClientToServer))
    );
    assert_eq!(first.timestamp, s.start.to_system_time());
    assert_eq!(events.iter().filter(|e| e.as_chunk().is_some()).count(), 8);
}

#[test]
fn raw_log_round_trips_byte_for_byte() {
    let original = std::fs::read(testdata("websentry/rawlog.json")).expect("read");
    let mut rewritten = Vec::new();
    for session in RawLogReader::new(Cursor::new(original.clone())) {
        write_raw_log_session(&mut rewritten, &session.expect("session")).expect("write");
    }
    assert_eq!(
        String::from_utf8_lossy(&rewritten),
        String::from_utf8_lossy(&original)
    );

    // And a written session reads back equal, including N omitted (wrapped to 0).
    let session = RawLogSession {
        start: RawLogTime::from_system_time(
            std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5),
            60,
        ),
        dur_sec: 2.0,
        frames: vec![
            RawLogFrame {
                n: 0,
                direction: Direction::ServerToClient,
                data: vec![0x70, 0x83, 0x9e, 0, 0, 0, 0],
            },
            RawLogFrame {
                n: 255,
                direction: Direction::ClientToServer,
                data: vec![1, 2, 3],
            },
        ],
    };
    let mut buf = Vec::new();
    write_raw_log_session(&mut buf, &session).expect("write");
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(
        text.contains("\"Start\": \"2023-11-14T23:13:20.000000005+01:00\""),
        "{text}"
    );
    assert!(text.contains("\"DurSec\": 2,"), "{text}");
    let back: Vec<_> = RawLogReader::new(Cursor::new(buf))
        .collect::<Result<_, _>>()
        .expect("reads");
    assert_eq!(back, vec![session]);
}

#[test]
fn raw_log_errors() {
    let rows: [(&str, CaptureErrorKind); 5] = [
        (
            "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"N\": 1}]}",
            CaptureErrorKind::RawLogFrame,
        ),
        (
            "{\"Start\": \"yesterday\", \"DurSec\": 1, \"Frames\": null}",
            CaptureErrorKind::Timestamp,
        ),
        (
            "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"C\": \"!!\"}]}",
            CaptureErrorKind::Json,
        ),
        (
            "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Frames\": [{\"N\": 300, \"C\": \"AA==\"}]}",
            CaptureErrorKind::Json,
        ),
        (
            "{\"Start\": \"2024-01-20T10:39:54Z\", \"DurSec\": 1, \"Fr",
            CaptureErrorKind::Truncated,
        ),
    ];
    for (text, kind) in rows {
        let err = RawLogReader::new(Cursor::new(text.as_bytes().to_vec()))
            .find_map(Result::err)
            .expect("error");
        assert_eq!(err.kind(), kind, "{text}: {err}");
    }
    let err = RawLogReader::new(Cursor::new(b"{} garbage".to_vec()))
        .find_map(Result::err)
        .expect("error");
    assert_eq!(err.kind(), CaptureErrorKind::Json);
    assert!(std::error::Error::source(&err).is_some());
    assert!(matches!(
        err.location(),
        Some(Location::Line { line: 1, .. })
    ));
}

proptest! {
    #[test]
    fn hex_reader_never_panics(text in "[0-9a-fA-FxX:|#<>TRX \\t\\r\\n*.]{0,400}") {
        for _ in HexDumpReader::new(Cursor::new(text.into_bytes())) {}
    }

    #[test]
    fn hex_dump_of_any_bytes_reads_back(bytes in proptest::collection::vec(any::<u8>(), 1..200)) {
        // xxd-like layout, with the gutter.
        let mut text = String::new();
        for (i, line) in bytes.chunks(16).enumerate() {
            let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            let gutter: String = line.iter().map(|&b| if (0x20..0x7f).contains(&b) { char::from(b) } else { '.' }).collect();
            text.push_str(&format!("{:08x}: {:<48}  {gutter}\n", i * 16, hex.join(" ")));
        }
        let got: Vec<u8> = hex_chunks(&text).expect("parses").into_iter().flat_map(|(_, b)| b).collect();
        prop_assert_eq!(got, bytes);
    }

    #[test]
    fn raw_log_reader_never_panics(text in "[{}\\[\\]\":,A-Za-z0-9+/= \\n-]{0,300}") {
        for _ in RawLogReader::new(Cursor::new(text.into_bytes())) {}
    }
}
