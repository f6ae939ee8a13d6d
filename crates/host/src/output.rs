//! The record sink: one readable line per message, or NDJSON with `--json`.

use std::fmt::Display;
use std::io::{self, BufWriter, Write};

use serde::Serialize;

use crate::json::WriteJson;

/// A record's time (seconds since the Unix epoch) as the readable lines of
/// every tool print it: `2026-11-21 09:16:06.929586Z`, in UTC so output does
/// not depend on the machine's zone (tcpdump `-tttt`, with the zone said).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timestamp(pub f64);

impl Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = (self.0 * 1e6).round();
        // Out-of-range times print as raw seconds rather than failing.
        #[allow(clippy::cast_possible_truncation)]
        match jiff::Timestamp::from_microsecond(micros as i64) {
            Ok(t) => write!(f, "{}", t.strftime("%Y-%m-%d %H:%M:%S%.6fZ")),
            Err(_) => write!(f, "{:.6}", self.0),
        }
    }
}

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One tcpdump-like line per record (the record's `Display`).
    Text,
    /// One JSON object per line (NDJSON), the record's `Serialize`.
    Json,
}

impl Format {
    /// Returns [`Format::Json`] when `json` is set, else [`Format::Text`].
    pub fn from_flag(json: bool) -> Self {
        if json { Self::Json } else { Self::Text }
    }
}

/// Writes records to a byte sink, buffered.
///
/// Live tools set `flush_each` so every record leaves at once; batch decoding
/// leaves it off and flushes at the end.
pub struct Sink<W: Write> {
    out: BufWriter<W>,
    format: Format,
    flush_each: bool,
    written: u64,
    /// Reused buffer for records that write their own JSON.
    scratch: Vec<u8>,
}

impl Sink<io::Stdout> {
    /// Creates a sink on stdout.
    pub fn stdout(format: Format, flush_each: bool) -> Self {
        Self::new(io::stdout(), format, flush_each)
    }
}

impl<W: Write> Sink<W> {
    /// Creates a sink over `out`.
    pub fn new(out: W, format: Format, flush_each: bool) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            format,
            flush_each,
            written: 0,
            scratch: Vec::new(),
        }
    }

    /// Returns the format this sink writes.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Returns how many records were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes one record.
    ///
    /// # Errors
    /// Returns the I/O error of the underlying writer (a closed pipe among them).
    pub fn emit<R: Serialize + Display + ?Sized>(&mut self, record: &R) -> io::Result<()> {
        match self.format {
            Format::Text => writeln!(self.out, "{record}")?,
            Format::Json => {
                serde_json::to_writer(&mut self.out, record).map_err(io::Error::from)?;
                self.out.write_all(b"\n")?;
            }
        }
        self.written += 1;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Writes one record that writes its own JSON ([`WriteJson`], the same
    /// bytes as [`Sink::emit`] would write, faster).
    ///
    /// # Errors
    /// Returns the I/O error of the underlying writer (a closed pipe among them).
    pub fn emit_record<R: WriteJson + Display + ?Sized>(&mut self, record: &R) -> io::Result<()> {
        match self.format {
            Format::Text => writeln!(self.out, "{record}")?,
            Format::Json => {
                self.scratch.clear();
                record.write_json(&mut self.scratch);
                self.scratch.push(b'\n');
                self.out.write_all(&self.scratch)?;
            }
        }
        self.written += 1;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes buffered records.
    ///
    /// # Errors
    /// Returns the I/O error of the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    ///
    /// # Errors
    /// Returns the I/O error of the final flush.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct R {
        kind: &'static str,
        n: u32,
    }

    impl Display for R {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{} n={}", self.kind, self.n)
        }
    }

    #[test]
    fn timestamps_print_in_utc_with_microseconds() {
        assert_eq!(
            Timestamp(1_300_201_980.25).to_string(),
            "2011-03-15 15:13:00.250000Z"
        );
        assert_eq!(Timestamp(1.5).to_string(), "1970-01-01 00:00:01.500000Z");
        assert_eq!(Timestamp(1e300).to_string().len(), 308);
    }

    #[test]
    fn writes_text_and_ndjson() {
        let mut text = Sink::new(Vec::new(), Format::Text, false);
        text.emit(&R { kind: "a", n: 1 }).unwrap();
        text.emit(&R { kind: "b", n: 2 }).unwrap();
        assert_eq!(text.written(), 2);
        assert_eq!(text.into_inner().unwrap(), b"a n=1\nb n=2\n");
        let mut json = Sink::new(Vec::new(), Format::Json, true);
        json.emit(&R { kind: "a", n: 1 }).unwrap();
        assert_eq!(json.into_inner().unwrap(), b"{\"kind\":\"a\",\"n\":1}\n");
    }
}
