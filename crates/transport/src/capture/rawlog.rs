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
use std::io::{BufReader, Read, Write};
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

/// Reads the sessions of a raw log one at a time (only one session is held
/// in memory).
pub struct RawLogReader<R: Read> {
    stream:
        serde_json::StreamDeserializer<'static, serde_json::de::IoRead<BufReader<R>>, SessionJson>,
    path: Option<PathBuf>,
    index: u64,
    done: bool,
}

impl<R: Read> std::fmt::Debug for RawLogReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawLogReader")
            .field("path", &self.path)
            .field("index", &self.index)
            .finish()
    }
}

impl<R: Read> RawLogReader<R> {
    /// Reads a raw log from `reader`.
    pub fn new(reader: R) -> Self {
        let stream = serde_json::Deserializer::from_reader(BufReader::new(reader)).into_iter();
        Self {
            stream,
            path: None,
            index: 0,
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

    fn convert(&self, json: SessionJson) -> Result<RawLogSession, CaptureError> {
        let here = |kind| {
            CaptureError::new(kind)
                .with_path(self.path.as_deref())
                .at(Location::Record(self.index))
        };
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
        let item = match self.stream.next()? {
            Ok(json) => self.convert(json),
            Err(e) => {
                let kind = if e.is_io() {
                    CaptureErrorKind::Io
                } else if e.is_eof() {
                    CaptureErrorKind::Truncated
                } else {
                    CaptureErrorKind::Json
                };
                let location = Location::Line {
                    line: e.line() as u64,
                    column: e.column() as u64,
                };
                Err(CaptureError::new(kind)
                    .with_path(self.path.as_deref())
                    .at(location)
                    .with_detail(format!("session {}: {e}", self.index))
                    .with_source(e))
            }
        };
        self.index = self.index.saturating_add(1);
        if item.is_err() {
            self.done = true;
        }
        Some(item)
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
