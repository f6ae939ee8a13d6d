//! The hex-dump line grammar as table rows: each dump, the chunks it
//! reads as (direction, bytes), or the error with its line, column and
//! what it says. Dumps as `xxd`, `xxd -p`, `hexdump -C`, `od -A x -t x1`
//! and serial monitors write them.

use std::io::Cursor;

use rewire_transport::capture::{
    CaptureError, CaptureErrorKind, CaptureEvent, Direction, HexDumpReader, Location, MAX_HEX_LINE,
};

type Chunks = Vec<(Option<Direction>, Vec<u8>)>;

const TX: Option<Direction> = Some(Direction::ClientToServer);
const RX: Option<Direction> = Some(Direction::ServerToClient);

fn read(bytes: &[u8], max_line: usize) -> Result<Chunks, CaptureError> {
    let mut out = Vec::new();
    for event in HexDumpReader::new(Cursor::new(bytes.to_vec())).with_max_line(max_line) {
        if let CaptureEvent::Chunk(c) = event? {
            out.push((c.direction, c.bytes));
        }
    }
    Ok(out)
}

fn one(bytes: &[u8]) -> Chunks {
    vec![(None, bytes.to_vec())]
}

#[test]
fn dumps_read_as_bytes() {
    let hello = b"Hello world\n";
    let rows: Vec<(&[u8], Chunks)> = vec![
        // Empty input, blank lines, comments: no bytes.
        (b"", vec![]),
        (b"\n", vec![]),
        (b"   \t \n", vec![]),
        (b"# a comment\n", vec![]),
        (b"  # indented comment ff\n", vec![]),
        // Plain hex in its spellings.
        (b"ff 0d 01\n", one(&[0xff, 0x0d, 0x01])),
        (b"ff 0d", one(&[0xff, 0x0d])),
        (b"ff 0d\r\n", one(&[0xff, 0x0d])),
        (b"FF 0D aB\n", one(&[0xff, 0x0d, 0xab])),
        (b"\tff\t0d\t\n", one(&[0xff, 0x0d])),
        (b"ff:0d:01\n", one(&[0xff, 0x0d, 0x01])),
        (b"ff0d01\n", one(&[0xff, 0x0d, 0x01])),
        (b"0xff 0X0d\n", one(&[0xff, 0x0d])),
        (b"0xff:0x0d\n", one(&[0xff, 0x0d])),
        (b"ff 0d # 99 is not read\n", one(&[0xff, 0x0d])),
        (b"ff 0d#99\n", one(&[0xff, 0x0d])),
        // xxd, xxd -g1 and xxd -p.
        (
            b"00000000: 4865 6c6c 6f20 776f 726c 640a            Hello world.\n",
            one(hello),
        ),
        (
            b"00000000: 48 65 6c 6c 6f 20 77 6f 72 6c 64 0a              Hello world.\n",
            one(hello),
        ),
        (b"48656c6c6f20776f726c640a\n", one(hello)),
        // An xxd gutter that holds '|' and '#' is still a gutter.
        (b"00000000: 7c23 41                                  |#A\n", one(b"|#A")),
        (b"7c 41 23  |A#\n", one(b"|A#")),
        (b"ff 41  .A\n", one(&[0xff, 0x41])),
        // hexdump -C, with its closing offset line.
        (
            b"00000000  48 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |Hello world.|\n0000000c\n",
            one(hello),
        ),
        // od -A x -t x1: six-digit offsets without a colon.
        (
            b"000000 48 65 6c 6c 6f 20 77 6f 72 6c 64 0a\n00000c\n",
            one(hello),
        ),
        // Offsets with a colon, any number of digits up to 16.
        (b"0: ff\n1: 0d\n", one(&[0xff, 0x0d])),
        (b"0000: ff 0d\n0002: 01\n", one(&[0xff, 0x0d, 0x01])),
        // A lone token ending in a colon is an offset, not bytes.
        (b"ff:\n", vec![]),
        // 12-digit offsets, as hexdump -C writes them past 4 GiB.
        (
            b"000000000000  ff 0d  |..|\n000000000002  01  |.|\n",
            one(&[0xff, 0x0d, 0x01]),
        ),
        // A token that is not the running count is bytes, not an offset.
        (b"ff\n1234 56\n", one(&[0xff, 0x12, 0x34, 0x56])),
        // '*' repeats the line above up to the next offset.
        (
            b"00000000  00 01 00 01  |....|\n*\n0000000c  ff  |.|\n0000000d\n",
            one(&[0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0xff]),
        ),
        // Direction marks, any case, with or without a space.
        (b"TX: ff 01\nRX: 02\n", vec![(TX, vec![0xff, 1]), (RX, vec![2])]),
        (b"tx:01\nRx: 02\n", vec![(TX, vec![1]), (RX, vec![2])]),
        (b"> 01\n>02\n<03\n", vec![(TX, vec![1, 2]), (RX, vec![3])]),
        // An unmarked line continues the direction above; a blank line
        // ends a chunk.
        (b"TX: 01\n02\n\n03\n", vec![(TX, vec![1, 2]), (TX, vec![3])]),
        (b"01\n\n02\n", vec![(None, vec![1]), (None, vec![2])]),
    ];
    for (text, want) in rows {
        assert_eq!(
            read(text, MAX_HEX_LINE).ok(),
            Some(want),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn errors_name_line_column_and_what() {
    let rows: &[(&[u8], u64, u64, &str)] = &[
        // Not a hex digit: the column of the character.
        (b"ff 0g\n", 1, 5, "expected a hex digit, found 'g'"),
        (b"hello world\n", 1, 1, "found 'h'"),
        (b"0xzz\n", 1, 3, "found 'z'"),
        (b"01\n02\n\nhello world\n", 4, 1, "found 'h'"),
        (b"0000: ff zz\n", 1, 10, "found 'z'"),
        (b"TX: 01 0x1q\n", 1, 11, "found 'q'"),
        // Non-ASCII and non-UTF-8 bytes are not hex digits.
        ("ff \u{e9}\n".as_bytes(), 1, 4, "found '\u{c3}'"),
        (b"ff \xff\n", 1, 4, "found '\u{ff}'"),
        (b"ff\x00\n", 1, 3, "found '\\0'"),
        // Nothing where hex digits belong.
        (b"ff::01\n", 1, 4, "expected hex digits"),
        (b"ff:0d:\n", 1, 7, "expected hex digits"),
        (b"0x\n", 1, 3, "expected hex digits"),
        (b":ff\n", 1, 1, "expected hex digits"),
        // An odd number of digits: the column of the last one.
        (b"ff\nTX: 01 2\n", 2, 8, "odd number of hex digits"),
        (b"abc\n", 1, 3, "odd number of hex digits"),
        (b"0x123\n", 1, 5, "odd number of hex digits"),
        // 17 digits are no offset, and an odd number of digits.
        (
            b"00000000000000000: ff\n",
            1,
            17,
            "odd number of hex digits",
        ),
        // A quote cannot open a word here.
        (b"\"ff\"\n", 1, 1, "found '\"'"),
        // A '*' repeat beyond the limit.
        (
            b"00000000  00 01 00 01  |....|\n*\n000100000000\n",
            3,
            1,
            "'*' repeat of",
        ),
    ];
    for &(text, line, column, what) in rows {
        let shown = String::from_utf8_lossy(text);
        let err = read(text, MAX_HEX_LINE).expect_err(&shown);
        assert_eq!(err.kind(), CaptureErrorKind::HexSyntax, "{shown:?}");
        assert_eq!(
            err.location(),
            Some(Location::Line { line, column }),
            "{shown:?}: {err}"
        );
        let detail = err.detail().unwrap_or_default();
        assert!(detail.contains(what), "{shown:?}: {detail:?}");
    }
}

#[test]
fn lines_at_the_length_bound() {
    // Exactly the limit (without the newline) is read; one byte more is not.
    assert_eq!(
        read(b"0102030405060708\n", 16).ok(),
        Some(one(&[1, 2, 3, 4, 5, 6, 7, 8]))
    );
    for text in [&b"010203040506070809\n"[..], b"01020304050607080"] {
        let err = read(text, 16).expect_err("too long");
        assert_eq!(err.kind(), CaptureErrorKind::LineTooLong { limit: 16 });
        assert_eq!(
            err.location(),
            Some(Location::Line {
                line: 1,
                column: 16
            })
        );
    }
    // The default limit: 64 KiB of digits is 32 KiB of bytes.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(MAX_HEX_LINE / 2).collect();
    let mut text = hex::encode(&bytes).into_bytes();
    assert_eq!(text.len(), MAX_HEX_LINE);
    text.push(b'\n');
    assert_eq!(read(&text, MAX_HEX_LINE).ok(), Some(one(&bytes)));
    text.insert(0, b'0');
    text.insert(0, b'0');
    let err = read(&text, MAX_HEX_LINE).expect_err("too long");
    assert_eq!(
        err.kind(),
        CaptureErrorKind::LineTooLong {
            limit: MAX_HEX_LINE
        }
    );
}

/// Reads `data`, then fails.
struct Failing<'a>(&'a [u8]);

impl std::io::Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("the disk is gone"));
        }
        let n = buf.len().min(self.0.len());
        let (now, later) = self.0.split_at(n);
        buf[..n].copy_from_slice(now);
        self.0 = later;
        Ok(n)
    }
}

#[test]
fn a_read_error_names_the_line_it_stopped_on() {
    let reader = std::io::BufReader::with_capacity(4, Failing(b"ff 0d\n01 02"));
    let err = HexDumpReader::new(reader)
        .find_map(Result::err)
        .expect("an error");
    assert_eq!(err.kind(), CaptureErrorKind::Io);
    assert_eq!(err.location(), Some(Location::Line { line: 2, column: 1 }));
}
