//! Text hex dumps as serial monitors, `hexdump -C` and `xxd` write them.
//!
//! One line at a time:
//!
//! ```text
//! [mark] [offset] bytes [gutter] [# comment]
//!
//! mark    TX: RX: > <          (TX and > are client→server, RX and < server→client)
//! offset  0000:  00000010:     (any hex digits followed by a colon)
//!         00000010             (4-8 hex digits without a colon, only when the
//!                               value is the running byte count, or 0 at the start)
//! bytes   ff 0d 01 | ff:0d:01 | ff0d01 | 0xff 0x0d   (pairs of hex digits)
//! gutter  |....O...|           (from the first '|')
//!         ....O...             (after two or more spaces, when it is exactly
//!                               the printable rendering of the line's bytes)
//! *                            (hexdump's "same as the line above until the next offset")
//! ```
//!
//! Consecutive lines with the same direction join into one chunk; an
//! unmarked line continues the direction of the line before it. A blank
//! line, a change of direction or [`MAX_HEX_CHUNK`] bytes end a chunk.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::{
    CaptureError, CaptureErrorKind, CaptureEvent, Chunk, Direction, EndReason, Location, StreamEnd,
    StreamId,
};

/// Longest line accepted by [`HexDumpReader`] by default.
pub const MAX_HEX_LINE: usize = 64 * 1024;
/// Largest chunk [`HexDumpReader`] accumulates before delivering it.
pub const MAX_HEX_CHUNK: usize = 64 * 1024;
/// Most bytes one `*` repeat line may stand for.
const MAX_REPEAT: u64 = 1 << 20;

/// What one line of a dump holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Line {
    pub blank: bool,
    pub direction: Option<Direction>,
    pub offset: Option<u64>,
    pub repeat: bool,
    pub bytes: Vec<u8>,
}

/// A syntax error: 1-based column and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub column: usize,
    pub message: String,
}

/// The lexical grammar of a dump line, in nom; which token is an offset
/// and where the gutter starts depend on the lines around it and stay in
/// [`strip_offset`] and [`gutter_split`].
mod grammar {
    use nom::branch::alt;
    use nom::bytes::complete::{
        tag, tag_no_case, take_till, take_while, take_while_m_n, take_while1,
    };
    use nom::character::complete::{char, hex_digit0};
    use nom::combinator::{all_consuming, opt, value};
    use nom::sequence::{preceded, terminated};
    use nom::{IResult, Parser};

    use super::Direction;

    type Res<'a, O> = IResult<&'a [u8], O, ()>;

    /// A blank: space or tab.
    pub(super) fn is_space(b: u8) -> bool {
        b == b' ' || b == b'\t'
    }

    /// Blanks, possibly none.
    pub(super) fn parse_blanks(input: &[u8]) -> Res<'_, &[u8]> {
        take_while(is_space)(input)
    }

    /// The next token: blanks, then a run of anything else.
    pub(super) fn parse_token(input: &[u8]) -> Res<'_, &[u8]> {
        preceded(parse_blanks, take_while1(|b| !is_space(b))).parse(input)
    }

    /// A direction mark: `TX:` `RX:` (any case), `>` or `<`.
    pub(super) fn parse_mark(input: &[u8]) -> Res<'_, Direction> {
        alt((
            value(Direction::ClientToServer, tag_no_case(&b"TX:"[..])),
            value(Direction::ServerToClient, tag_no_case(&b"RX:"[..])),
            value(Direction::ClientToServer, tag(&b">"[..])),
            value(Direction::ServerToClient, tag(&b"<"[..])),
        ))
        .parse(input)
    }

    /// One `:`-separated piece of a byte token, up to the next `:`.
    pub(super) fn parse_piece(input: &[u8]) -> Res<'_, &[u8]> {
        take_till(|b| b == b':')(input)
    }

    /// The `:` between two pieces.
    pub(super) fn parse_piece_separator(input: &[u8]) -> Res<'_, char> {
        char(':')(input)
    }

    /// Inside a piece: an optional `0x`, then hex digits; what follows the
    /// digits is left over (and is an error when not empty).
    pub(super) fn parse_hex_digits(input: &[u8]) -> Res<'_, (Option<&[u8]>, &[u8])> {
        // Two plain tags: nom's `tag_no_case` costs a tenth of the decode.
        (opt(alt((tag(&b"0x"[..]), tag(&b"0X"[..])))), hex_digit0).parse(input)
    }

    /// 1 to 16 hex digits.
    fn parse_hex_run(input: &[u8]) -> Res<'_, &[u8]> {
        take_while_m_n(1, 16, |b: u8| b.is_ascii_hexdigit())(input)
    }

    /// The value of up to 16 hex digits.
    fn value_of(digits: &[u8]) -> u64 {
        digits
            .iter()
            .fold(0u64, |acc, &b| acc << 4 | u64::from(super::hex_value(b)))
    }

    /// A whole token of 1 to 16 hex digits, as a number.
    pub(super) fn parse_hex_number(input: &[u8]) -> Option<u64> {
        all_consuming(parse_hex_run)
            .parse(input)
            .ok()
            .map(|(_, digits)| value_of(digits))
    }

    /// A whole token that is an offset with a colon: `0000:`.
    pub(super) fn parse_colon_offset(input: &[u8]) -> Option<u64> {
        all_consuming(terminated(parse_hex_run, char(':')))
            .parse(input)
            .ok()
            .map(|(_, digits)| value_of(digits))
    }
}

/// The value of a hex digit (0 for anything else; callers check first).
fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

fn render(b: u8) -> u8 {
    if (0x20..0x7f).contains(&b) { b } else { b'.' }
}

/// Tokens of `line[from..to]` as (start index, bytes).
fn tokens(line: &[u8], from: usize, to: usize) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let Some(mut rest) = line.get(from..to) else {
        return out;
    };
    let mut at = from;
    while let Ok((after, tok)) = grammar::parse_token(rest) {
        let start = at.saturating_add(
            rest.len()
                .saturating_sub(after.len())
                .saturating_sub(tok.len()),
        );
        out.push((start, tok));
        at = at.saturating_add(rest.len().saturating_sub(after.len()));
        rest = after;
    }
    out
}

/// Decodes one piece (`[0x]` pairs of hex digits) starting at index `at`.
fn decode_piece(at: usize, piece: &[u8], out: &mut Vec<u8>) -> Result<(), SyntaxError> {
    let (junk, prefix, digits) = match grammar::parse_hex_digits(piece) {
        Ok((junk, (prefix, digits))) => (junk, prefix, digits),
        // Both parts are optional: never reached.
        Err(_) => (piece, None, &[][..]),
    };
    let digits_at = at.saturating_add(prefix.map_or(0, <[u8]>::len));
    if let Some(&found) = junk.first() {
        return Err(SyntaxError {
            column: digits_at.saturating_add(digits.len()).saturating_add(1),
            message: format!("expected a hex digit, found {:?}", char::from(found)),
        });
    }
    if digits.is_empty() {
        return Err(SyntaxError {
            column: digits_at.saturating_add(1),
            message: "expected hex digits".into(),
        });
    }
    if digits.len() % 2 != 0 {
        return Err(SyntaxError {
            column: digits_at.saturating_add(digits.len()),
            message: "odd number of hex digits (bytes are pairs)".into(),
        });
    }
    out.reserve(digits.len() / 2);
    for pair in digits.chunks_exact(2) {
        if let [hi, lo] = pair {
            out.push(hex_value(*hi) << 4 | hex_value(*lo));
        }
    }
    Ok(())
}

/// Decodes byte tokens (pairs, colon-separated, optional 0x) into `out`.
fn decode_tokens(toks: &[(usize, &[u8])], out: &mut Vec<u8>) -> Result<(), SyntaxError> {
    for &(start, tok) in toks {
        let mut rest = tok;
        loop {
            let at = start.saturating_add(tok.len().saturating_sub(rest.len()));
            let (after, piece) = grammar::parse_piece(rest).unwrap_or((&[][..], rest));
            decode_piece(at, piece, out)?;
            match grammar::parse_piece_separator(after) {
                Ok((next, _)) => rest = next,
                Err(_) => break,
            }
        }
    }
    Ok(())
}

/// Finds an xxd-style gutter: after a run of 2+ spaces, exactly the
/// rendering of the bytes before it. Returns where the data ends.
fn gutter_split(line: &[u8], from: usize) -> Option<usize> {
    // A run of spaces splits no token, so the tokens before a candidate
    // are a prefix of the line's: tokenize once.
    let all = tokens(line, from, line.len());
    let mut bytes = Vec::new();
    let mut i = from;
    while i < line.len() {
        let is_run = line.get(i..i.saturating_add(2)) == Some(b"  ");
        if is_run {
            bytes.clear();
            let before = all.partition_point(|&(start, _)| start < i);
            let toks = strip_offset(all.get(..before).unwrap_or_default(), None).1;
            if decode_tokens(toks, &mut bytes).is_ok() && !bytes.is_empty() {
                let n = bytes.len();
                if let Some(tail_start) = line.len().checked_sub(n) {
                    let between_ok = tail_start >= i.saturating_add(2)
                        && line
                            .get(i..tail_start)
                            .is_some_and(|s| s.iter().all(|&b| b == b' '));
                    let tail = line.get(tail_start..).unwrap_or_default();
                    if between_ok && tail.iter().zip(&bytes).all(|(&t, &b)| t == render(b)) {
                        return Some(i);
                    }
                }
            }
            while line.get(i) == Some(&b' ') {
                i = i.saturating_add(1);
            }
        } else {
            i = i.saturating_add(1);
        }
    }
    None
}

/// Splits a leading offset off `toks`. `expected` is the running byte count
/// and whether a `*` repeat is pending; when unknown (`None`) only colon
/// offsets and 8-digit offsets followed by bytes are taken.
fn strip_offset<'t, 'a>(
    toks: &'t [(usize, &'a [u8])],
    expected: Option<(u64, bool)>,
) -> (Option<u64>, &'t [(usize, &'a [u8])]) {
    let Some(((_, first), rest)) = toks.split_first() else {
        return (None, toks);
    };
    if let Some(v) = grammar::parse_colon_offset(first) {
        return (Some(v), rest);
    }
    if (4..=16).contains(&first.len())
        && let Some(v) = grammar::parse_hex_number(first)
    {
        // Offsets past 4 GiB take more than 8 digits (`hexdump -C` writes
        // as many as it needs); such a long token is only an offset where
        // one is expected, never a guess.
        let long = first.len() > 8;
        let plausible = match expected {
            // After a '*' line the next offset is past the repeated bytes.
            Some((e, repeat)) => {
                v == e || (!long && v == 0 && !rest.is_empty()) || (repeat && v > e)
            }
            None => !long && first.len() == 8 && !rest.is_empty(),
        };
        if plausible {
            return (Some(v), rest);
        }
    }
    (None, toks)
}

/// Parses one line (without its line ending). `expected` is the running
/// byte count, used to recognise offsets that have no colon.
pub(crate) fn parse_line(line: &[u8], expected: u64, repeat: bool) -> Result<Line, SyntaxError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut out = Line::default();
    let rest = grammar::parse_blanks(line).map_or(line, |(rest, _)| rest);
    if rest.is_empty() {
        out.blank = true;
        return Ok(out);
    }
    if rest.first() == Some(&b'#') {
        return Ok(out);
    }
    let rest = match grammar::parse_mark(rest) {
        Ok((after, direction)) => {
            out.direction = Some(direction);
            after
        }
        Err(_) => rest,
    };
    let i = line.len().saturating_sub(rest.len());
    // An exact rendering of the bytes is the gutter even when it holds '|'.
    let end = if let Some(split) = gutter_split(line, i) {
        split
    } else if let Some(bar) = line.iter().skip(i).position(|&b| b == b'|') {
        i.saturating_add(bar)
    } else {
        line.len()
    };
    let end = line
        .get(i..end)
        .and_then(|s| s.iter().position(|&b| b == b'#'))
        .map_or(end, |p| i.saturating_add(p));
    let toks = tokens(line, i, end);
    if let [(_, b"*")] = toks.as_slice() {
        out.repeat = true;
        return Ok(out);
    }
    let (offset, toks) = strip_offset(&toks, Some((expected, repeat)));
    out.offset = offset;
    decode_tokens(toks, &mut out.bytes)?;
    Ok(out)
}

/// Returns whether `prefix` (the first bytes of an input) looks like a text
/// hex dump: printable text whose complete lines parse as hex, with at least
/// one line of bytes.
pub fn looks_like_hex_text(prefix: &[u8]) -> bool {
    if prefix.is_empty()
        || prefix
            .iter()
            .any(|&b| !(b.is_ascii_graphic() || b.is_ascii_whitespace()))
    {
        return false;
    }
    let mut lines: Vec<&[u8]> = prefix.split(|&b| b == b'\n').collect();
    if !prefix.ends_with(b"\n") && lines.len() > 1 {
        lines.pop();
    }
    let (mut good, mut bad, mut expected) = (0usize, 0usize, 0u64);
    for line in lines {
        match parse_line(line, expected, false) {
            Ok(l) => {
                let n = l.bytes.len() as u64;
                expected = l.offset.unwrap_or(expected).saturating_add(n);
                if n > 0 {
                    good = good.saturating_add(1);
                }
            }
            Err(_) => bad = bad.saturating_add(1),
        }
    }
    good > 0 && bad.saturating_mul(10) <= good
}

fn stream_of(direction: Option<Direction>) -> StreamId {
    match direction {
        None => StreamId(0),
        Some(Direction::ClientToServer) => StreamId(1),
        Some(Direction::ServerToClient) => StreamId(2),
    }
}

/// Reads a text hex dump line by line and delivers its bytes as chunks.
///
/// Streams: [`StreamId`] 0 for bytes without a direction, 1 for
/// client→server (`TX:`, `>`), 2 for server→client (`RX:`, `<`). Chunks
/// carry no timestamp or endpoints. At the end of the input each stream
/// that delivered bytes ends with [`EndReason::EndOfInput`].
#[derive(Debug)]
pub struct HexDumpReader<R> {
    reader: R,
    path: Option<PathBuf>,
    max_line: usize,
    line_no: u64,
    expected: u64,
    direction: Option<Direction>,
    pending: Option<(Option<Direction>, Vec<u8>)>,
    last_line: Vec<u8>,
    repeat: bool,
    used: [bool; 3],
    queue: VecDeque<CaptureEvent>,
    done: bool,
}

impl<R: BufRead> HexDumpReader<R> {
    /// Reads a dump from `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            path: None,
            max_line: MAX_HEX_LINE,
            line_no: 0,
            expected: 0,
            direction: None,
            pending: None,
            last_line: Vec::new(),
            repeat: false,
            used: [false; 3],
            queue: VecDeque::new(),
            done: false,
        }
    }

    /// Names the file in errors.
    #[must_use]
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Sets the longest accepted line, in bytes.
    #[must_use]
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line.max(1);
        self
    }

    fn error(&self, kind: CaptureErrorKind, column: u64, detail: String) -> CaptureError {
        CaptureError::new(kind)
            .with_path(self.path.as_deref())
            .at(Location::Line {
                line: self.line_no,
                column,
            })
            .with_detail(detail)
    }

    /// Reads the next line into `buf`; Ok(false) at the end of the input.
    fn read_line(&mut self, buf: &mut Vec<u8>) -> Result<bool, CaptureError> {
        buf.clear();
        let mut any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(CaptureError::io(e).with_path(self.path.as_deref()).at(
                        Location::Line {
                            line: self.line_no.saturating_add(1),
                            column: 1,
                        },
                    ));
                }
            };
            if available.is_empty() {
                if any {
                    self.line_no = self.line_no.saturating_add(1);
                }
                return Ok(any);
            }
            any = true;
            let (take, found) = match available.iter().position(|&b| b == b'\n') {
                Some(p) => (p, true),
                None => (available.len(), false),
            };
            buf.extend_from_slice(available.get(..take).unwrap_or_default());
            self.reader
                .consume(if found { take.saturating_add(1) } else { take });
            if buf.len() > self.max_line {
                self.line_no = self.line_no.saturating_add(1);
                return Err(self.error(
                    CaptureErrorKind::LineTooLong {
                        limit: self.max_line,
                    },
                    self.max_line as u64,
                    "is this a text hex dump?".into(),
                ));
            }
            if found {
                self.line_no = self.line_no.saturating_add(1);
                return Ok(true);
            }
        }
    }

    fn flush(&mut self) {
        if let Some((direction, bytes)) = self.pending.take()
            && !bytes.is_empty()
        {
            let stream = stream_of(direction);
            if let Some(u) = usize::try_from(stream.0)
                .ok()
                .and_then(|i| self.used.get_mut(i))
            {
                *u = true;
            }
            self.queue.push_back(CaptureEvent::Chunk(Chunk {
                stream,
                timestamp: None,
                direction,
                endpoints: None,
                bytes,
            }));
        }
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        let direction = self.direction;
        if self.pending.as_ref().is_some_and(|(d, _)| *d != direction) {
            self.flush();
        }
        for piece in bytes.chunks(MAX_HEX_CHUNK) {
            let pending = self.pending.get_or_insert_with(|| (direction, Vec::new()));
            pending.1.extend_from_slice(piece);
            if pending.1.len() >= MAX_HEX_CHUNK {
                self.flush();
            }
        }
    }

    fn line(&mut self, line: Line) -> Result<(), CaptureError> {
        if line.blank {
            self.flush();
            return Ok(());
        }
        if line.repeat {
            self.repeat = true;
            return Ok(());
        }
        if let Some(d) = line.direction {
            if self.direction != Some(d) {
                self.flush();
            }
            self.direction = Some(d);
        }
        if let Some(offset) = line.offset {
            if self.repeat && offset > self.expected && !self.last_line.is_empty() {
                let missing = offset.saturating_sub(self.expected);
                if missing > MAX_REPEAT {
                    return Err(self.error(
                        CaptureErrorKind::HexSyntax,
                        1,
                        format!("'*' repeat of {missing} bytes is more than {MAX_REPEAT}"),
                    ));
                }
                let last = std::mem::take(&mut self.last_line);
                let fill: Vec<u8> = last
                    .iter()
                    .copied()
                    .cycle()
                    .take(usize::try_from(missing).unwrap_or(0))
                    .collect();
                self.push_bytes(&fill);
                self.last_line = last;
            }
            self.expected = offset;
        }
        self.repeat = false;
        if !line.bytes.is_empty() {
            self.expected = self.expected.saturating_add(line.bytes.len() as u64);
            self.push_bytes(&line.bytes);
            self.last_line = line.bytes;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), CaptureError> {
        let mut buf = Vec::new();
        if !self.read_line(&mut buf)? {
            self.done = true;
            self.flush();
            for (i, used) in self.used.iter().enumerate() {
                if *used {
                    self.queue.push_back(CaptureEvent::End(StreamEnd {
                        stream: StreamId(i as u64),
                        reason: EndReason::EndOfInput,
                    }));
                }
            }
            return Ok(());
        }
        match parse_line(&buf, self.expected, self.repeat) {
            Ok(line) => self.line(line),
            Err(e) => Err(self.error(CaptureErrorKind::HexSyntax, e.column as u64, e.message)),
        }
    }
}

impl<R: BufRead> Iterator for HexDumpReader<R> {
    type Item = Result<CaptureEvent, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.step() {
                self.done = true;
                self.queue.clear();
                return Some(Err(e));
            }
        }
    }
}
