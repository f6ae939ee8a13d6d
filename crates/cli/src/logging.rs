//! Where the libraries' diagnostics (the [`log`] facade) go in the tools:
//! one line each on stderr, `tool: message`, written by a thread of its own
//! through a bounded queue.
//!
//! Under a Windows service, [`to_file`] sends the lines to a file instead,
//! each after its time.
//!
//! A service must not stall because nobody reads its stderr: when the queue
//! is full, lines are dropped and counted, and the count is reported in one
//! line as soon as stderr takes lines again.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Lines waiting for stderr before new ones are dropped.
pub const QUEUE_LINES: usize = 1024;

#[derive(Debug, Default)]
struct Counts {
    /// Lines queued and not yet written.
    pending: AtomicUsize,
    /// Lines dropped since the last report.
    dropped: AtomicU64,
}

struct StderrLog {
    tool: String,
    tx: SyncSender<String>,
    counts: Arc<Counts>,
}

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(&self.tool, record.level(), &record.args().to_string());
        self.counts.pending.fetch_add(1, Ordering::SeqCst);
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counts.pending.fetch_sub(1, Ordering::SeqCst);
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self) {}
}

/// Formats one diagnostic: `tool: message`, with `warning: ` or `error: `
/// before the message at those levels.
#[must_use]
pub fn format_line(tool: &str, level: log::Level, message: &str) -> String {
    let message = message.replace('\n', " ");
    match level {
        log::Level::Error => format!("{tool}: error: {message}\n"),
        log::Level::Warn => format!("{tool}: warning: {message}\n"),
        _ => format!("{tool}: {message}\n"),
    }
}

static COUNTS: OnceLock<Arc<Counts>> = OnceLock::new();

/// The file lines go to instead of stderr, once [`to_file`] is called.
static FILE: OnceLock<std::sync::Mutex<std::fs::File>> = OnceLock::new();

/// Sends the diagnostics to `path` (appended, each line after its time in
/// RFC 3339) instead of stderr, from now on (the first call wins).
///
/// # Errors
/// When the file cannot be opened for appending.
pub fn to_file(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let _ = FILE.set(std::sync::Mutex::new(file));
    Ok(())
}

/// Writes one line to the log file, when there is one.
fn write_file(line: &str) {
    let Some(file) = FILE.get() else {
        return;
    };
    if let Ok(mut f) = file.lock() {
        let now = jiff::Timestamp::now()
            .round(jiff::Unit::Millisecond)
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let _ = write!(f, "{now} {line}");
        let _ = f.flush();
    }
}

/// Installs the stderr logger for `tool` at `level` (the first call wins;
/// later calls only change the level).
pub fn init(tool: &str, level: log::LevelFilter) {
    log::set_max_level(level);
    if COUNTS.get().is_some() {
        return;
    }
    let (tx, rx) = mpsc::sync_channel::<String>(QUEUE_LINES);
    let counts = Arc::new(Counts::default());
    let logger = StderrLog {
        tool: tool.to_owned(),
        tx,
        counts: Arc::clone(&counts),
    };
    if log::set_boxed_logger(Box::new(logger)).is_err() {
        return;
    }
    let _ = COUNTS.set(Arc::clone(&counts));
    let tool = tool.to_owned();
    let spawned = std::thread::Builder::new()
        .name("stderr log".into())
        .spawn(move || {
            for line in rx {
                let dropped = counts.dropped.swap(0, Ordering::Relaxed);
                let note = (dropped > 0).then(|| {
                    format!(
                        "{tool}: warning: {dropped} log line(s) dropped while stderr was not read\n"
                    )
                });
                if FILE.get().is_some() {
                    note.iter().chain(Some(&line)).for_each(|l| write_file(l));
                } else {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(note.unwrap_or_default().as_bytes());
                    let _ = err.write_all(line.as_bytes());
                }
                counts.pending.fetch_sub(1, Ordering::SeqCst);
            }
        });
    if spawned.is_err() {
        // No writer: every line would be dropped; say nothing rather than block.
        log::set_max_level(log::LevelFilter::Off);
    }
}

/// Waits up to `limit` for queued lines to reach stderr (before exiting).
pub fn flush(limit: Duration) {
    let Some(counts) = COUNTS.get() else { return };
    let until = Instant::now() + limit;
    while counts.pending.load(Ordering::SeqCst) > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_tool_and_the_level() {
        assert_eq!(
            format_line("upsilon", log::Level::Warn, "accept failed:\nEMFILE"),
            "upsilon: warning: accept failed: EMFILE\n"
        );
        assert_eq!(
            format_line("powerone", log::Level::Error, "x"),
            "powerone: error: x\n"
        );
        assert_eq!(
            format_line("websentry", log::Level::Info, "listening"),
            "websentry: listening\n"
        );
    }
}
