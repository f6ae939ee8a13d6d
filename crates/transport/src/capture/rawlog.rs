//! The JSON raw log of the original WebSentry MITM exporter (`--raw-log`).
//!
//! The exporter (bradfitz/websentry-mitm-prometheus-exporter, `wmpe.go`)
//! appends one JSON object per proxied session to the log, as Go's
//! `json.MarshalIndent(v, "", "\t")` writes it (indented with tabs, shown
//! here as spaces), followed by a newline:
//!
//! ```text
//! {
//!     "Start": "2024-01-20T10:39:54.264483473-08:00",   RFC 3339, nanoseconds, local offset
//!     "DurSec": 1.52,                                   session length in seconds
//!     "Frames": [                                       null when the session had no frame
//!         {
//!             "N": 1,                                   1-based frame number (a uint8: after
//!                                                       255 it wraps to 0 and is omitted)
//!             "C": "cIOe6OYAEgD/AAIFBAENAJDCDAKzASACBw=="   base64 of a whole frame, header
//!         },                                              included, sent by the client (the unit)
//!         { "N": 2, "S": "..." }                            ... or by the server (the cloud)
//!     ]
//! }
//! ```
//!
//! [`RawLogReader`] streams sessions one at a time; [`RawLogEvents`] turns
//! them into [`CaptureEvent`]s; [`write_raw_log_session`] writes a session
//! back byte for byte in the exporter's format.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{
    CaptureError, CaptureErrorKind, CaptureEvent, Chunk, Direction, EndReason, Location, StreamEnd,
    StreamId,
};

/// A session start time as the exporter records it: an instant plus the
/// UTC offset it was written with (kept so a session is rewritten exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawLogTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: u32,
    /// Offset of the writer's local time from UTC, in minutes.
    pub utc_offset_minutes: i16,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

impl RawLogTime {
    /// Parses an RFC 3339 time as Go's `time.Time` JSON encoding writes it
    /// (`2024-01-20T10:39:54.264483473-08:00`, or `Z` for UTC).
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let field = |from: usize, to: usize| b.get(from..to).and_then(digits);
        let (year, month, day) = (field(0, 4)?, field(5, 7)?, field(8, 10)?);
        let (hour, minute, second) = (field(11, 13)?, field(14, 16)?, field(17, 19)?);
        let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
        if seps.iter().any(|&(i, c)| b.get(i) != Some(&c))
            || !matches!(b.get(10), Some(b'T' | b't'))
            || !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let len = b
                .get(start..)?
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if len == 0 || len > 9 {
                return None;
            }
            let frac = u32::try_from(field(start, start + len)?).ok()?;
            nanos = frac.checked_mul(10u32.checked_pow(u32::try_from(9 - len).ok()?)?)?;
            i = start + len;
        }
        let offset_minutes: i64 = match b.get(i..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2])?;
                let m = digits(&[*m1, *m2])?;
                if h > 23 || m > 59 {
                    return None;
                }
                if *sign == b'-' {
                    -(h * 60 + m)
                } else {
                    h * 60 + m
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let local = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(Self {
            unix_seconds: local - offset_minutes * 60,
            nanos,
            utc_offset_minutes: i16::try_from(offset_minutes).ok()?,
        })
    }

    /// Formats the time as Go's `time.Time` JSON encoding does (RFC 3339
    /// with trailing zeros of the fraction dropped), or `None` when the year
    /// falls outside 0..=9999, which Go refuses to encode too.
    pub fn to_rfc3339(&self) -> Option<String> {
        if self.nanos >= 1_000_000_000 {
            return None;
        }
        let offset = i64::from(self.utc_offset_minutes);
        let local = self.unix_seconds.checked_add(offset * 60)?;
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            return None;
        }
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        );
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        if offset == 0 {
            out.push('Z');
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let a = offset.abs();
            out.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
        }
        Some(out)
    }

    /// Returns the instant as a [`SystemTime`], to
    /// [`super::TIMESTAMP_RESOLUTION_NANOS`].
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let nanos = self.nanos - self.nanos % super::TIMESTAMP_RESOLUTION_NANOS;
        let sub = Duration::from_nanos(u64::from(nanos));
        if self.unix_seconds >= 0 {
            UNIX_EPOCH
                .checked_add(Duration::from_secs(self.unix_seconds.unsigned_abs()))?
                .checked_add(sub)
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(self.unix_seconds.unsigned_abs()))?
                .checked_add(sub)
        }
    }

    /// Makes a start time from a [`SystemTime`] and the UTC offset to write.
    pub fn from_system_time(time: SystemTime, utc_offset_minutes: i16) -> Self {
        let (unix_seconds, nanos) = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    (-secs, 0)
                } else {
                    (-secs - 1, 1_000_000_000 - d.subsec_nanos())
                }
            }
        };
        Self {
            unix_seconds,
            nanos,
            utc_offset_minutes,
        }
    }
}

/// One frame of a raw-log session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLogFrame {
    /// The frame number `N` (1-based; 0 when omitted, as after 255 frames).
    pub n: u8,
    /// Who sent it: `C` (the unit, client→server) or `S` (the cloud).
    pub direction: Direction,
    /// The whole frame as sent, WebSentry header included.
    pub data: Vec<u8>,
}

/// One proxied session of a raw log.
#[derive(Debug, Clone, PartialEq)]
pub struct RawLogSession {
    /// When the session started.
    pub start: RawLogTime,
    /// How long it lasted, in seconds.
    pub dur_sec: f64,
    /// Its frames in the order they were proxied.
    pub frames: Vec<RawLogFrame>,
}

/// The largest session object [`RawLogReader`] holds, in bytes of JSON; a
/// bigger one is reported as an error rather than read into memory. A
/// session of 255 frames of the largest size is about 1.4 MB of JSON, so
/// this leaves room for sessions of many thousands of frames.
pub const MAX_RAW_LOG_SESSION_BYTES: usize = 256 << 20;

/// The free space [`RawLogReader`] offers each `read`.
const READ_CHUNK: usize = 256 << 10;

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

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The search for the end of one session object, resumable when more input
/// comes: offsets are from the object's `{`.
#[derive(Debug, Default, Clone, Copy)]
struct ObjectScan {
    /// Where the search goes on.
    at: usize,
    /// Braces open outside strings.
    depth: usize,
    /// Whether `at` is inside a string.
    in_string: bool,
}

impl ObjectScan {
    /// The length of the object `bytes` starts with (one past its closing
    /// brace), or `None` when `bytes` ends first (call again with more).
    fn end(&mut self, bytes: &[u8]) -> Option<usize> {
        loop {
            let rest = bytes.get(self.at..)?;
            if self.in_string {
                // To the closing quote, stepping over escapes.
                let Some(i) = memchr::memchr2(b'"', b'\\', rest) else {
                    self.at = bytes.len();
                    return None;
                };
                if rest.get(i) == Some(&b'\\') {
                    if i + 1 >= rest.len() {
                        // The escaped byte has not come yet.
                        self.at += i;
                        return None;
                    }
                    self.at += i + 2;
                } else {
                    self.in_string = false;
                    self.at += i + 1;
                }
                continue;
            }
            let Some(i) = memchr::memchr3(b'"', b'{', b'}', rest) else {
                self.at = bytes.len();
                return None;
            };
            self.at += i + 1;
            match rest.get(i) {
                Some(b'{') => self.depth += 1,
                Some(b'}') => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(self.at);
                    }
                }
                _ => self.in_string = true,
            }
        }
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
        // Byte by byte: the tokens are a few bytes, too short for `memcmp`.
        let here = self.bytes.get(self.at..end)?;
        here.iter()
            .zip(token)
            .all(|(a, b)| a == b)
            .then(|| self.at = end)
    }

    /// Skips whitespace, then `token` if it is there.
    fn eat_if(&mut self, token: &[u8]) -> bool {
        self.eat(token).is_some()
    }

    /// A string without escapes: its text (not checked further).
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b"\"")?;
        let rest = self.bytes.get(self.at..)?;
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at += len + 1;
        rest.get(..len)
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

/// Reads a session object of the exporter's exact layout (Go's
/// `json.MarshalIndent`: `Start`, `DurSec`, `Frames` of `N` and `C` or `S`,
/// in that order, any whitespace, no escapes), or `None` for anything else,
/// valid or not, which the general path then reads or reports. Whatever it
/// accepts, `serde_json` reads to the same session.
fn fast_session(bytes: &[u8]) -> Option<RawLogSession> {
    let mut c = Cursor { bytes, at: 0 };
    c.eat(b"{")?;
    c.eat(b"\"Start\"")?;
    c.eat(b":")?;
    // A valid time is plain ASCII, so a valid JSON string as it stands.
    let start = RawLogTime::parse(std::str::from_utf8(c.string()?).ok()?)?;
    c.eat(b",")?;
    c.eat(b"\"DurSec\"")?;
    c.eat(b":")?;
    // serde_json's own number parser, so the value is the same to the bit.
    let dur_sec = serde_json::from_slice::<f64>(c.number()?).ok()?;
    c.eat(b",")?;
    c.eat(b"\"Frames\"")?;
    c.eat(b":")?;
    let mut frames = Vec::new();
    if !c.eat_if(b"null") {
        c.eat(b"[")?;
        if !c.eat_if(b"]") {
            loop {
                c.eat(b"{")?;
                let mut n = 0;
                if c.eat_if(b"\"N\"") {
                    c.eat(b":")?;
                    // 0..=255 written as JSON writes it (no leading zero);
                    // anything else takes the general path.
                    let text = c.number()?;
                    if text.len() > 3
                        || (text.len() > 1 && text.first() == Some(&b'0'))
                        || !text.iter().all(u8::is_ascii_digit)
                    {
                        return None;
                    }
                    let value = text
                        .iter()
                        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
                    n = u8::try_from(value).ok()?;
                    c.eat(b",")?;
                }
                let direction = if c.eat_if(b"\"C\"") {
                    Direction::ClientToServer
                } else {
                    c.eat(b"\"S\"")?;
                    Direction::ServerToClient
                };
                c.eat(b":")?;
                // Base64 is plain ASCII too: what decodes was a valid string.
                let data = STANDARD.decode(c.string()?).ok()?;
                frames.push(RawLogFrame { n, direction, data });
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
    (c.at == bytes.len()).then_some(RawLogSession {
        start,
        dur_sec,
        frames,
    })
}

/// Reads the sessions of a raw log one at a time (only one session is held
/// in memory, at most [`MAX_RAW_LOG_SESSION_BYTES`]).
///
/// It reads what each `read` returns (unbuffered readers are fine: it asks
/// for large reads) and gives a session as soon as its closing brace has
/// come, so it follows a live log or a pipe. Each session object is found
/// by a string-aware brace scan (`memchr`), then read by a scanner for the
/// exact layout the exporter writes, the frames' base64 decoded by the
/// `base64` crate; a session of any other layout (compact, keys in another
/// order, escapes in strings, extra keys) or with an error is read by
/// `serde_json`, which gives the error, at its line and column in the log.
///
/// The layout scanner is hand-written because `serde_json` spent most of
/// the decode time building and copying each session's strings: the
/// exporter's layout is fixed, so the base64 text can be decoded straight
/// from the read buffer.
pub struct RawLogReader<R: Read> {
    reader: R,
    path: Option<PathBuf>,
    /// Read input in `buf[pos..end]`; the rest is space for reads.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// The next session's index (0-based).
    index: u64,
    /// The 1-based line and column of `buf[pos]`.
    line: u64,
    column: u64,
    /// How far the end of the object at `buf[pos]` has been searched.
    scan: ObjectScan,
    done: bool,
}

impl<R: Read> std::fmt::Debug for RawLogReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawLogReader")
            .field("path", &self.path)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<R: Read> RawLogReader<R> {
    /// Reads a raw log from `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            path: None,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            index: 0,
            line: 1,
            column: 1,
            scan: ObjectScan::default(),
            done: false,
        }
    }

    /// Names the file in errors.
    #[must_use]
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Turns the sessions into [`CaptureEvent`]s.
    pub fn events(self) -> RawLogEvents<R> {
        RawLogEvents {
            sessions: self,
            queue: std::collections::VecDeque::new(),
        }
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
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        // Zeroed once: the space stays initialised for later reads.
        if self.buf.len() < self.end + READ_CHUNK / 4 {
            self.buf.resize(self.end + READ_CHUNK, 0);
        }
        let n = loop {
            match self
                .reader
                .read(self.buf.get_mut(self.end..).unwrap_or(&mut []))
            {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    return Err(self
                        .error(CaptureErrorKind::Io, Location::Record(self.index))
                        .with_detail(format!("session {}", self.index))
                        .with_source(e));
                }
            }
        };
        self.end = (self.end + n).min(self.buf.len());
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Moves past `len` read bytes, keeping the line and column.
    fn consume(&mut self, len: usize) {
        let done = self.buf.get(self.pos..self.pos + len).unwrap_or(&[]);
        match memchr::memrchr(b'\n', done) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', done).count() as u64;
                self.column = (len - last) as u64;
            }
            None => self.column += len as u64,
        }
        self.pos += len;
    }

    /// The next session; `Ok(None)` at the end of the log.
    fn next_session(&mut self) -> Result<Option<RawLogSession>, CaptureError> {
        // To the object's first byte.
        loop {
            let rest = self.buf.get(self.pos..self.end).unwrap_or(&[]);
            let skip = rest.iter().position(|&b| !is_ws(b));
            self.consume(skip.unwrap_or(rest.len()));
            if skip.is_some() {
                break;
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
        // To its end.
        self.scan = ObjectScan::default();
        let len = loop {
            let rest = self.buf.get(self.pos..self.end).unwrap_or(&[]);
            if rest.first() != Some(&b'{') {
                // Not a session: serde_json's error, or this one.
                let err = self.general_session(rest).err().filter(|e| {
                    e.kind() == CaptureErrorKind::Json
                        && e.location() != Some(Location::Record(self.index))
                });
                return Err(err.unwrap_or_else(|| {
                    self.error(
                        CaptureErrorKind::Json,
                        Location::Line {
                            line: self.line,
                            column: self.column,
                        },
                    )
                    .with_detail(format!("session {}: expected a JSON object", self.index))
                }));
            }
            if let Some(len) = self.scan.end(rest) {
                break len;
            }
            if rest.len() > MAX_RAW_LOG_SESSION_BYTES {
                return Err(self
                    .error(CaptureErrorKind::Json, Location::Record(self.index))
                    .with_detail(format!(
                        "session {}: larger than {} MiB",
                        self.index,
                        MAX_RAW_LOG_SESSION_BYTES >> 20
                    )));
            }
            if !self.refill()? {
                // The log ends inside the object: serde_json says where it
                // went wrong (or that it ended).
                let rest = self.buf.get(self.pos..self.end).unwrap_or(&[]);
                return match self.general_session(rest) {
                    Err(e) => Err(e),
                    Ok(_) => Err(self
                        .error(CaptureErrorKind::Truncated, Location::Record(self.index))
                        .with_detail(format!("session {}: the log ends inside it", self.index))),
                };
            }
        };
        let bytes = self.buf.get(self.pos..self.pos + len).unwrap_or(&[]);
        let session = match fast_session(bytes) {
            Some(session) => Ok(session),
            None => self.general_session(bytes),
        };
        self.consume(len);
        session.map(Some)
    }

    /// Reads a session object of any JSON layout with `serde_json`, with
    /// the errors' lines and columns those of the log.
    fn general_session(&self, bytes: &[u8]) -> Result<RawLogSession, CaptureError> {
        let mut de = serde_json::Deserializer::from_reader(bytes);
        let json = SessionJson::deserialize(&mut de).map_err(|e| {
            let kind = if e.is_eof() {
                CaptureErrorKind::Truncated
            } else {
                CaptureErrorKind::Json
            };
            let (line, column) = (e.line() as u64, e.column() as u64);
            let (line, column) = if line <= 1 {
                (self.line, self.column - 1 + column)
            } else {
                (self.line + line - 1, column)
            };
            let text = e.to_string();
            let message = text
                .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
                .unwrap_or(&text);
            self.error(kind, Location::Line { line, column })
                .with_detail(format!(
                    "session {}: {message} at line {line} column {column}",
                    self.index
                ))
                .with_source(e)
        })?;
        self.convert(json)
    }

    fn convert(&self, json: SessionJson) -> Result<RawLogSession, CaptureError> {
        let here = |kind| self.error(kind, Location::Record(self.index));
        let start = RawLogTime::parse(&json.start).ok_or_else(|| {
            here(CaptureErrorKind::Timestamp).with_detail(format!("Start {:?}", json.start))
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
            let n = u8::try_from(f.n).map_err(|_| {
                here(CaptureErrorKind::Json)
                    .with_detail(format!("frame {i}: N {} is not 0..=255", f.n))
            })?;
            frames.push(RawLogFrame { n, direction, data });
        }
        Ok(RawLogSession {
            start,
            dur_sec: json.dur_sec,
            frames,
        })
    }
}

impl<R: Read> Iterator for RawLogReader<R> {
    type Item = Result<RawLogSession, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_session().transpose();
        match &item {
            Some(Ok(_)) => self.index = self.index.saturating_add(1),
            Some(Err(_)) | None => self.done = true,
        }
        item
    }
}

/// The events of a raw log: per session, the client's frames on stream
/// `2 × session`, the server's on `2 × session + 1`, each frame one chunk
/// timestamped with the session start, then the end of both streams.
#[derive(Debug)]
pub struct RawLogEvents<R: Read> {
    sessions: RawLogReader<R>,
    queue: std::collections::VecDeque<CaptureEvent>,
}

impl<R: Read> Iterator for RawLogEvents<R> {
    type Item = Result<CaptureEvent, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            let index = self.sessions.index;
            let session = match self.sessions.next()? {
                Ok(s) => s,
                Err(e) => return Some(Err(e)),
            };
            let timestamp = session.start.to_system_time();
            let base = index.saturating_mul(2);
            let mut used = [false; 2];
            for frame in session.frames {
                let side = usize::from(frame.direction == Direction::ServerToClient);
                if let Some(u) = used.get_mut(side) {
                    *u = true;
                }
                self.queue.push_back(CaptureEvent::Chunk(Chunk {
                    stream: StreamId(base.saturating_add(side as u64)),
                    timestamp,
                    direction: Some(frame.direction),
                    endpoints: None,
                    bytes: frame.data,
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
        }
    }
}

/// Formats a float as Go's `encoding/json` does.
fn go_float(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{v:e}");
        // Rust writes 1e21 and 1e-7; Go writes 1e+21 and 1e-7.
        Some(match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        })
    } else {
        Some(format!("{v}"))
    }
}

/// Writes one session in the exporter's exact format (tab-indented JSON
/// followed by a newline), ready to append to a raw log.
///
/// # Errors
///
/// [`CaptureErrorKind::Timestamp`] when the start cannot be written,
/// [`CaptureErrorKind::Json`] for a non-finite duration,
/// [`CaptureErrorKind::RawLogFrame`] for a frame with no bytes (the
/// exporter would write it without `C`/`S`, which no reader accepts),
/// [`CaptureErrorKind::Io`] when writing fails.
pub fn write_raw_log_session<W: Write>(
    mut out: W,
    session: &RawLogSession,
) -> Result<(), CaptureError> {
    let start = session.start.to_rfc3339().ok_or_else(|| {
        CaptureError::new(CaptureErrorKind::Timestamp).with_detail("year outside 0..=9999")
    })?;
    let dur = go_float(session.dur_sec).ok_or_else(|| {
        CaptureError::new(CaptureErrorKind::Json).with_detail("DurSec is not a finite number")
    })?;
    let mut text = format!("{{\n\t\"Start\": \"{start}\",\n\t\"DurSec\": {dur},\n\t\"Frames\": ");
    if session.frames.is_empty() {
        text.push_str("null");
    } else {
        text.push_str("[\n");
        for (i, frame) in session.frames.iter().enumerate() {
            if frame.data.is_empty() {
                return Err(CaptureError::new(CaptureErrorKind::RawLogFrame)
                    .with_detail(format!("frame {i} has no bytes")));
            }
            let key = if frame.direction == Direction::ClientToServer {
                "C"
            } else {
                "S"
            };
            text.push_str("\t\t{\n");
            if frame.n != 0 {
                text.push_str(&format!("\t\t\t\"N\": {},\n", frame.n));
            }
            text.push_str(&format!(
                "\t\t\t\"{key}\": \"{}\"\n\t\t}}",
                STANDARD.encode(&frame.data)
            ));
            text.push_str(if i + 1 < session.frames.len() {
                ",\n"
            } else {
                "\n"
            });
        }
        text.push_str("\t]");
    }
    text.push_str("\n}\n");
    out.write_all(text.as_bytes()).map_err(CaptureError::io)
}

/// Appends one session to the raw log at `path` (creating it), as the
/// exporter does.
///
/// # Errors
///
/// As [`write_raw_log_session`], with `path` in the error.
pub fn append_raw_log_session(path: &Path, session: &RawLogSession) -> Result<(), CaptureError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CaptureError::io(e).with_path(Some(path)))?;
    // One write call, so concurrent appenders do not interleave.
    let mut buf = Vec::new();
    write_raw_log_session(&mut buf, session).map_err(|e| e.with_path(Some(path)))?;
    let mut file = file;
    file.write_all(&buf)
        .map_err(|e| CaptureError::io(e).with_path(Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_format_round_trips() {
        for text in [
            "2024-01-20T10:39:54.264483473-08:00",
            "2024-01-20T10:39:54Z",
            "1999-12-31T23:59:59.5+05:30",
            "1970-01-01T00:00:00.000000001Z",
            "1969-12-31T23:59:59.9-01:00",
        ] {
            let t = RawLogTime::parse(text);
            assert_eq!(t.and_then(|t| t.to_rfc3339()).as_deref(), Some(text));
        }
        let t = RawLogTime::parse("2024-01-20T10:39:54.264483473-08:00");
        assert_eq!(t.map(|t| t.unix_seconds), Some(1_705_775_994));
        for bad in [
            "2024-01-20 10:39:54Z",
            "2024-13-01T00:00:00Z",
            "2024-01-20T10:39:54",
            "x",
        ] {
            assert_eq!(RawLogTime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn go_float_format() {
        for (v, want) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e-7, "1e-7"),
            (1e21, "1e+21"),
            (12.345678, "12.345678"),
        ] {
            assert_eq!(go_float(v).as_deref(), Some(want));
        }
        assert_eq!(go_float(f64::NAN), None);
    }
}
