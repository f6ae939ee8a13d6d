//! `--raw-log`: each finished session appended in the original exporter's
//! JSON raw-log format, through `rewire_transport::capture`'s writer (a log
//! is read back by `rewire_transport::capture::RawLogReader`).

use std::path::Path;
use std::time::SystemTime;

use rewire_transport::capture::{self, CaptureError, RawLogFrame, RawLogSession, RawLogTime};

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
