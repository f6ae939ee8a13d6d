//! `--raw-log`: each finished session appended in the original exporter's
//! JSON raw-log format, through `rewire_transport::capture`'s writer.

//!
//! [`RawLogScanner`] reads a raw log back as capture events, faster than the
//! general JSON reader.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rewire_transport::capture::{
    self, CaptureError, CaptureErrorKind, CaptureEvent, Chunk, Direction, EndReason, Location,
    RawLogFrame, RawLogSession, RawLogTime, StreamEnd, StreamId,
};

use crate::record::Sender;

/// One relayed frame, as the raw log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// Who sent it.
    pub direction: Sender,
    /// The whole frame, header included.
    pub bytes: Vec<u8>,
}

/// Returns the local UTC offset at `time` in minutes (0 when unknown), as the
/// exporter writes its start times in local time.
fn local_offset_minutes(time: SystemTime) -> i16 {
    let Ok(ts) = jiff::Timestamp::try_from(time) else {
        return 0;
    };
    let seconds = jiff::tz::TimeZone::system().to_offset(ts).seconds();
    i16::try_from(seconds / 60).unwrap_or(0)
}

/// Builds the raw-log session of a relayed session. Frames are numbered from
/// 1 in relay order; like the exporter's `uint8` counter the number wraps
/// after 255 (and 0 is omitted from the JSON).
#[must_use]
pub fn session(start: SystemTime, duration_sec: f64, frames: &[RawFrame]) -> RawLogSession {
    RawLogSession {
        start: RawLogTime::from_system_time(start, local_offset_minutes(start)),
        dur_sec: duration_sec,
        frames: frames
            .iter()
            .enumerate()
            .map(|(i, f)| RawLogFrame {
                n: u8::try_from((i + 1) % 256).unwrap_or(0),
                direction: match f.direction {
                    Sender::Client => capture::Direction::ClientToServer,
                    Sender::Server => capture::Direction::ServerToClient,
                },
                data: f.bytes.clone(),
            })
            .collect(),
    }
}

/// Appends a session to the raw log at `path`.
///
/// # Errors
/// When the file cannot be opened or written.
pub fn append_session(
    path: &Path,
    start: SystemTime,
    duration_sec: f64,
    frames: &[RawFrame],
) -> Result<(), CaptureError> {
    capture::append_raw_log_session(path, &session(start, duration_sec, frames))
}

/// The largest session object [`RawLogScanner`] holds (bytes of JSON);
/// a bigger one is reported as an error rather than read into memory.
/// A session of 255 frames of the largest size is about 1.4 MB of JSON, so
/// this leaves room for sessions of many thousands of frames.
pub const MAX_SESSION_BYTES: usize = 256 << 20;

/// How much [`RawLogScanner`] reads at a time.
const READ_CHUNK: usize = 256 << 10;

/// The events of a raw log, as [`rewire_transport::capture::RawLogEvents`]
/// gives them (the same streams, times, directions and ends, in the same
/// order), read several times faster.
///
/// Each session object is found by a string-aware brace scan (`memchr`),
/// then read by a scanner for the exact shape the original exporter writes
/// (Go's `json.MarshalIndent`: `Start`, `DurSec`, `Frames` of `N` and `C`
/// or `S`, any whitespace), with the frames' base64 decoded by the
/// `base64` crate. A session of any other JSON shape (keys in another
/// order, escapes in strings, extra keys) is read by `serde_json` instead,
/// with the same errors as the transport reader. Only one session is held
/// in memory, at most [`MAX_SESSION_BYTES`].
///
/// Hand-written because `serde_json` spent most of the decode time
/// building and copying the session's strings (profiled on a 20 MB log):
/// the raw log's shape is fixed, so a scanner can borrow the base64 text
/// from the read buffer and decode it in place of two copies.
pub struct RawLogScanner<R: Read> {
    reader: R,
    path: Option<PathBuf>,
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    pos: usize,
    eof: bool,
    /// The next session's index (0-based).
    index: u64,
    /// The 1-based line at `buf[pos]`.
    line: u64,
    queue: VecDeque<CaptureEvent>,
    done: bool,
}

impl<R: Read> std::fmt::Debug for RawLogScanner<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawLogScanner")
            .field("path", &self.path)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Where a session object ends: the index one past its closing brace in
/// `bytes` (which starts with `{`), or `None` when `bytes` ends first.
fn object_end(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = 0;
    loop {
        let i = at + memchr::memchr3(b'"', b'{', b'}', bytes.get(at..)?)?;
        match bytes.get(i)? {
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {
                // A string: to its closing quote, stepping over escapes.
                let mut j = i + 1;
                loop {
                    j += memchr::memchr2(b'"', b'\\', bytes.get(j..)?)?;
                    if bytes.get(j) == Some(&b'\\') {
                        j += 2;
                    } else {
                        break;
                    }
                }
                at = j + 1;
                continue;
            }
        }
        at = i + 1;
    }
}

/// A cursor over one session object, for the fast path.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while self.bytes.get(self.at).is_some_and(|&b| is_ws(b)) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then `token`.
    fn eat(&mut self, token: &[u8]) -> Option<()> {
        self.ws();
        let end = self.at + token.len();
        let here = self.bytes.get(self.at..end)?;
        // Byte by byte: the tokens are a few bytes, too short for `memcmp`.
        here.iter()
            .zip(token)
            .all(|(a, b)| a == b)
            .then(|| self.at = end)
    }

    /// Skips whitespace, then `token` if it is there.
    fn eat_if(&mut self, token: &[u8]) -> bool {
        self.eat(token).is_some()
    }

    /// A string without escapes: its text.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b"\"")?;
        let rest = self.bytes.get(self.at..)?;
        let len = memchr::memchr(b'"', rest)?;
        let text = rest.get(..len)?;
        if memchr::memchr(b'\\', text).is_some() {
            return None;
        }
        self.at += len + 1;
        Some(text)
    }

    /// A JSON number's text, not checked further than its characters.
    fn number(&mut self) -> Option<&'a [u8]> {
        self.ws();
        let rest = self.bytes.get(self.at..)?;
        let len = rest
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        self.at += len;
        rest.get(..len).filter(|t| !t.is_empty())
    }
}

/// One frame of the fast path: its direction and base64 text.
type FastFrame<'a> = (Direction, &'a [u8]);

/// Reads a session object of the exporter's exact shape: its `Start` text
/// and frames (appended to `frames`), or `None` for any other shape.
fn fast_session<'a>(bytes: &'a [u8], frames: &mut Vec<FastFrame<'a>>) -> Option<&'a [u8]> {
    let mut c = Cursor { bytes, at: 0 };
    c.eat(b"{")?;
    c.eat(b"\"Start\"")?;
    c.eat(b":")?;
    let start = c.string()?;
    c.eat(b",")?;
    c.eat(b"\"DurSec\"")?;
    c.eat(b":")?;
    let dur = c.number()?;
    std::str::from_utf8(dur).ok()?.parse::<f64>().ok()?;
    c.eat(b",")?;
    c.eat(b"\"Frames\"")?;
    c.eat(b":")?;
    if !c.eat_if(b"null") {
        c.eat(b"[")?;
        if !c.eat_if(b"]") {
            loop {
                c.eat(b"{")?;
                if c.eat_if(b"\"N\"") {
                    c.eat(b":")?;
                    let n = c.number()?;
                    // 1..=255 (0 is omitted by the exporter): other numbers
                    // take the general path, which reports them.
                    if n.is_empty() || n.len() > 3 || !n.iter().all(u8::is_ascii_digit) {
                        return None;
                    }
                    let value = n
                        .iter()
                        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
                    if value > 255 {
                        return None;
                    }
                    c.eat(b",")?;
                }
                let direction = if c.eat_if(b"\"C\"") {
                    Direction::ClientToServer
                } else {
                    c.eat(b"\"S\"")?;
                    Direction::ServerToClient
                };
                c.eat(b":")?;
                frames.push((direction, c.string()?));
                c.eat(b"}")?;
                if !c.eat_if(b",") {
                    break;
                }
            }
            c.eat(b"]")?;
        }
    }
    c.eat(b"}")?;
    c.ws();
    (c.at == bytes.len()).then_some(start)
}

#[derive(serde::Deserialize)]
struct SessionJson {
    #[serde(rename = "Start")]
    start: String,
    #[serde(rename = "DurSec", default)]
    _dur_sec: f64,
    #[serde(rename = "Frames", default)]
    frames: Option<Vec<FrameJson>>,
}

#[derive(serde::Deserialize)]
struct FrameJson {
    #[serde(rename = "N", default)]
    n: i64,
    #[serde(rename = "C", default)]
    c: Option<String>,
    #[serde(rename = "S", default)]
    s: Option<String>,
}

impl<R: Read> RawLogScanner<R> {
    /// Reads a raw log from `reader` (unbuffered is fine: it reads in
    /// large chunks).
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            path: None,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            index: 0,
            line: 1,
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

    fn error(&self, kind: CaptureErrorKind, location: Location) -> CaptureError {
        CaptureError::new(kind)
            .with_path(self.path.as_deref())
            .at(location)
    }

    /// Reads more input after what is buffered; returns whether any came.
    fn refill(&mut self) -> Result<bool, CaptureError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(self
                        .error(CaptureErrorKind::Io, Location::Record(self.index))
                        .with_source(e));
                }
            }
        };
        self.buf.truncate(old + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Queues the events of the next session; `Ok(false)` at the end.
    fn next_session(&mut self) -> Result<bool, CaptureError> {
        // To the object's first byte.
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            match rest.iter().position(|&b| !is_ws(b)) {
                Some(skip) => {
                    self.line += memchr::memchr_iter(b'\n', &rest[..skip]).count() as u64;
                    self.pos += skip;
                    break;
                }
                None => {
                    self.line += memchr::memchr_iter(b'\n', rest).count() as u64;
                    self.pos = self.buf.len();
                    if !self.refill()? {
                        return Ok(false);
                    }
                }
            }
        }
        // To its end.
        let len = loop {
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            if rest.first() != Some(&b'{') {
                return Err(self
                    .error(
                        CaptureErrorKind::Json,
                        Location::Line {
                            line: self.line,
                            column: 1,
                        },
                    )
                    .with_detail(format!(
                        "session {}: expected a JSON object, found {:?}",
                        self.index,
                        char::from(rest.first().copied().unwrap_or(b' '))
                    )));
            }
            if let Some(len) = object_end(rest) {
                break len;
            }
            if rest.len() > MAX_SESSION_BYTES {
                return Err(self
                    .error(CaptureErrorKind::Json, Location::Record(self.index))
                    .with_detail(format!(
                        "session {}: larger than {} MiB",
                        self.index,
                        MAX_SESSION_BYTES >> 20
                    )));
            }
            if !self.refill()? {
                return Err(self
                    .error(CaptureErrorKind::Truncated, Location::Record(self.index))
                    .with_detail(format!("session {}: the input ends inside it", self.index)));
            }
        };
        let (from, to) = (self.pos, self.pos + len);
        let result = self.session_events(from, to);
        self.line +=
            memchr::memchr_iter(b'\n', self.buf.get(from..to).unwrap_or(&[])).count() as u64;
        self.pos = to;
        self.index = self.index.saturating_add(1);
        result.map(|()| true)
    }

    /// Queues the events of the session object `buf[from..to]`.
    fn session_events(&mut self, from: usize, to: usize) -> Result<(), CaptureError> {
        let bytes = self.buf.get(from..to).unwrap_or(&[]);
        let here = |kind| {
            CaptureError::new(kind)
                .with_path(self.path.as_deref())
                .at(Location::Record(self.index))
        };
        let mut fast = Vec::new();
        let (start, frames): (String, Vec<(Direction, Vec<u8>)>) =
            match fast_session(bytes, &mut fast) {
                Some(start) => {
                    let start = String::from_utf8_lossy(start).into_owned();
                    let mut frames = Vec::with_capacity(fast.len());
                    for (i, (direction, text)) in fast.into_iter().enumerate() {
                        let data = STANDARD.decode(text).map_err(|e| {
                            here(CaptureErrorKind::Json)
                                .with_detail(format!("frame {i}: bad base64"))
                                .with_source(e)
                        })?;
                        frames.push((direction, data));
                    }
                    (start, frames)
                }
                None => self.general_session(bytes)?,
            };
        let start_time = RawLogTime::parse(&start).ok_or_else(|| {
            here(CaptureErrorKind::Timestamp).with_detail(format!("Start {start:?}"))
        })?;
        let timestamp = start_time.to_system_time();
        let base = self.index.saturating_mul(2);
        let mut used = [false; 2];
        for (direction, bytes) in frames {
            let side = usize::from(direction == Direction::ServerToClient);
            if let Some(u) = used.get_mut(side) {
                *u = true;
            }
            self.queue.push_back(CaptureEvent::Chunk(Chunk {
                stream: StreamId(base.saturating_add(side as u64)),
                timestamp,
                direction: Some(direction),
                endpoints: None,
                bytes,
            }));
        }
        for (side, used) in used.iter().enumerate() {
            if *used {
                self.queue.push_back(CaptureEvent::End(StreamEnd {
                    stream: StreamId(base.saturating_add(side as u64)),
                    reason: EndReason::EndOfInput,
                }));
            }
        }
        Ok(())
    }

    /// Reads a session of any JSON shape with `serde_json`.
    #[allow(clippy::type_complexity, reason = "a private helper's pair")]
    fn general_session(
        &self,
        bytes: &[u8],
    ) -> Result<(String, Vec<(Direction, Vec<u8>)>), CaptureError> {
        let here = |kind| {
            CaptureError::new(kind)
                .with_path(self.path.as_deref())
                .at(Location::Record(self.index))
        };
        let json: SessionJson = serde_json::from_slice(bytes).map_err(|e| {
            let kind = if e.is_eof() {
                CaptureErrorKind::Truncated
            } else {
                CaptureErrorKind::Json
            };
            CaptureError::new(kind)
                .with_path(self.path.as_deref())
                .at(Location::Line {
                    line: self.line + e.line() as u64 - 1,
                    column: e.column() as u64,
                })
                .with_detail(format!("session {}: {e}", self.index))
                .with_source(e)
        })?;
        let mut frames = Vec::new();
        for (i, f) in json.frames.unwrap_or_default().into_iter().enumerate() {
            let (direction, text) = match (f.c, f.s) {
                (Some(c), None) => (Direction::ClientToServer, c),
                (None, Some(s)) => (Direction::ServerToClient, s),
                _ => {
                    return Err(
                        here(CaptureErrorKind::RawLogFrame).with_detail(format!("frame {i}"))
                    );
                }
            };
            let data = STANDARD.decode(text.as_bytes()).map_err(|e| {
                here(CaptureErrorKind::Json)
                    .with_detail(format!("frame {i}: bad base64"))
                    .with_source(e)
            })?;
            if u8::try_from(f.n).is_err() {
                return Err(here(CaptureErrorKind::Json)
                    .with_detail(format!("frame {i}: N {} is not 0..=255", f.n)));
            }
            frames.push((direction, data));
        }
        Ok((json.start, frames))
    }
}

impl<R: Read> Iterator for RawLogScanner<R> {
    type Item = Result<CaptureEvent, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            match self.next_session() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
