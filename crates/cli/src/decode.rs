//! The `decode` driver every tool shares: the common flags, opening and
//! detecting the input (file, stdin or `--hex`), and one framer per captured
//! stream.
//!
//! A tool's `decode` is then: [`open_input`], and for each event either handle
//! it directly (UDP datagrams are whole messages) or hand it to
//! [`Streams::handle`], which keeps a [`Framer`] per stream and reports framed
//! messages, skipped garbage, gaps and oversize input with the stream's
//! timestamp, direction and endpoints.

use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use foldhash::HashMap;
use rewire_transport::capture::{
    self, CaptureEvent, CaptureOptions, CaptureReader, Direction, Endpoints, HexDumpReader,
    PacketCaptureReader, RawFileReader, RawLogReader, StreamId,
};
use rewire_transport::framing::{self, Framer, Framing, FramingError};

use crate::input::{InputFormat, InputSource};

/// How many leading bytes format detection looks at.
const SNIFF_LEN: usize = 8 * 1024;

/// The flags every `DEVICE decode` takes.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeArgs {
    /// Input file: a pcap/pcapng capture, a hex dump, raw bytes or (websentry)
    /// a raw log. `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub input: InputFormat,
    /// Write NDJSON, one object per message, instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Ports to decode in captures (repeatable); replaces the device's defaults.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,
    /// Decode these hex bytes instead of a file (e.g. "FF 08 00 01 00 01 07 10").
    #[arg(long, value_name = "HEX", conflicts_with = "file")]
    pub hex: Option<String>,
}

impl DecodeArgs {
    /// Returns where the input comes from.
    pub fn source(&self) -> InputSource {
        InputSource::from_args(self.file.clone(), self.hex.clone())
    }

    /// Returns the ports to keep from captures: `--port` values, else `defaults`.
    pub fn ports_or(&self, defaults: &[u16]) -> Vec<u16> {
        if self.ports.is_empty() {
            defaults.to_vec()
        } else {
            self.ports.clone()
        }
    }
}

/// An opened input: an iterator of capture events whose errors name the input.
pub struct Input {
    name: String,
    format: capture::InputFormat,
    reader: CaptureReader<Box<dyn Read>>,
    progress: Option<indicatif::ProgressBar>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// Returns the input's name for messages (a path, `<stdin>` or `--hex`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the format that was read (detected, or as asked).
    pub fn format(&self) -> capture::InputFormat {
        self.format
    }
}

impl Iterator for Input {
    type Item = anyhow::Result<CaptureEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.reader.next();
        if item.is_none()
            && let Some(bar) = self.progress.take()
        {
            bar.finish_and_clear();
        }
        // CaptureError's Display names the file already; stdin and --hex get a name here.
        let name = &self.name;
        item.map(|r| {
            r.map_err(|e| {
                if e.path().is_some() {
                    anyhow::Error::new(e)
                } else {
                    anyhow::Error::new(e).context(name.clone())
                }
            })
        })
    }
}

/// Opens the input `args` name, detecting its format when `--input auto`.
///
/// Captures keep only packets to or from `--port` values, or
/// `default_ports` when none were given. `raw_log_ok` says whether the
/// device reads the WebSentry raw log (only `websentry` does).
///
/// # Errors
/// Fails, naming the input, when it cannot be opened or read, when it is not
/// the format asked for, or when `--hex` is not valid hex.
pub fn open_input(
    args: &DecodeArgs,
    default_ports: &[u16],
    raw_log_ok: bool,
) -> anyhow::Result<Input> {
    let source = args.source();
    let name = source.to_string();
    let options = CaptureOptions::with_ports(args.ports_or(default_ports));
    let (path, len, mut stream): (Option<PathBuf>, Option<u64>, Box<dyn Read>) = match &source {
        InputSource::File(path) => {
            let file = std::fs::File::open(path).with_context(|| name.clone())?;
            let meta = file.metadata().with_context(|| name.clone())?;
            if meta.is_dir() {
                bail!("{name}: is a directory, not an input file");
            }
            (Some(path.clone()), Some(meta.len()), Box::new(file))
        }
        InputSource::Stdin => (None, None, Box::new(io::stdin())),
        InputSource::Inline(text) => {
            let bytes = parse_hex_arg(text).context("--hex")?;
            (None, None, Box::new(Cursor::new(bytes)))
        }
    };
    let progress = len.and_then(crate::progress_bar);
    if let Some(bar) = &progress {
        stream = Box::new(bar.wrap_read(stream));
    }
    let mut prefix = Vec::with_capacity(SNIFF_LEN);
    (&mut stream)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut prefix)
        .with_context(|| name.clone())?;
    let detected = capture::InputFormat::detect(&prefix);
    let format = match (args.input, &source) {
        (_, InputSource::Inline(_)) => capture::InputFormat::Binary,
        (InputFormat::Auto, _) if detected == capture::InputFormat::RawLog && !raw_log_ok => {
            capture::InputFormat::Binary
        }
        (InputFormat::Auto, _) => detected,
        (InputFormat::Pcap, _) => capture::sniff_capture_format(&prefix)
            .with_context(|| format!("{name}: not a pcap or pcapng file (wrong magic number)"))?,
        (InputFormat::Hex, _) => capture::InputFormat::HexText,
        (InputFormat::Raw, _) => capture::InputFormat::Binary,
        (InputFormat::WmpeJson, _) if !raw_log_ok => {
            bail!("{name}: --input wmpe-json is only for websentry")
        }
        (InputFormat::WmpeJson, _) => {
            if !capture::looks_like_raw_log(&prefix) {
                bail!("{name}: not a WebSentry raw log (expected a JSON object with \"Start\")");
            }
            capture::InputFormat::RawLog
        }
    };
    // An empty input is almost always a mistake (a capture that never ran, a
    // wrong path in a pipe): say so rather than print nothing and succeed.
    if prefix.is_empty() {
        bail!("{name}: empty input, nothing to decode");
    }
    let rest: Box<dyn Read> = Box::new(Cursor::new(prefix).chain(stream));
    let reader = match format {
        capture::InputFormat::Pcap | capture::InputFormat::PcapNg => {
            let mut r = PacketCaptureReader::new(rest, options).with_context(|| name.clone())?;
            if let Some(path) = &path {
                r = r.with_path(path);
            }
            CaptureReader::Packets(Box::new(r))
        }
        capture::InputFormat::HexText => {
            let mut r = HexDumpReader::new(io::BufReader::new(rest));
            if let Some(path) = &path {
                r = r.with_path(path);
            }
            CaptureReader::Hex(r)
        }
        capture::InputFormat::RawLog => {
            let mut r = RawLogReader::new(rest);
            if let Some(path) = &path {
                r = r.with_path(path);
            }
            CaptureReader::RawLog(r.events())
        }
        _ => {
            let mut r = RawFileReader::new(rest);
            if let Some(path) = &path {
                r = r.with_path(path);
            }
            CaptureReader::Raw(r)
        }
    };
    Ok(Input {
        name,
        format,
        reader,
        progress,
    })
}

/// Parses `--hex` text: hex byte pairs, optionally separated by spaces,
/// colons, commas or dashes, with an optional `0x` on each byte.
///
/// # Errors
/// Names the first character that is not hex, or an odd digit count.
pub fn parse_hex_arg(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut digits = String::with_capacity(text.len());
    for token in text.split(|c: char| c.is_ascii_whitespace() || matches!(c, ':' | ',' | '-')) {
        let token = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
            .unwrap_or(token);
        if let Some((i, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            bail!("not hex: {c:?} in {token:?} (at character {})", i + 1);
        }
        if token.len() % 2 != 0 {
            bail!("odd number of hex digits in {token:?}");
        }
        digits.push_str(token);
    }
    if digits.is_empty() {
        bail!("no hex bytes given");
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .context("not hex")
        })
        .collect()
}

/// Returns `time` as seconds since the Unix epoch (the `ts` of records).
pub fn epoch_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// What a stream knows about where its bytes came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meta {
    /// The stream.
    pub stream: StreamId,
    /// Timestamp of the chunk that completed the item, if the input has one.
    pub timestamp: Option<SystemTime>,
    /// Direction of the stream, if known.
    pub direction: Option<Direction>,
    /// Endpoints of the stream, for network captures.
    pub endpoints: Option<Endpoints>,
}

impl Meta {
    /// Returns the timestamp as epoch seconds.
    pub fn ts(&self) -> Option<f64> {
        self.timestamp.map(epoch_seconds)
    }

    /// Returns `ip:port` of the sender, for network captures.
    pub fn src_addr(&self) -> Option<String> {
        self.endpoints.map(|e| crate::json::socket_addr(&e.src))
    }

    /// Returns `ip:port` of the receiver, for network captures.
    pub fn dst_addr(&self) -> Option<String> {
        self.endpoints.map(|e| crate::json::socket_addr(&e.dst))
    }
}

/// What [`Streams::handle`] reports for a stream.
#[derive(Debug)]
pub enum StreamItem<'a> {
    /// A framed message, or a run of skipped bytes (see [`framing::Event`]).
    Framed(framing::Event),
    /// Bytes of the stream were never captured; the framer restarted after them.
    Gap {
        /// Stream offset (counting the bytes delivered so far) where the hole is.
        offset: u64,
        /// How many bytes are missing.
        missing_bytes: u64,
    },
    /// The framer dropped a message that outgrew its buffer limit.
    Overflow(&'a FramingError),
}

struct StreamState<F> {
    framer: Framer<F>,
    meta: Meta,
}

/// One framer per captured stream, created on first sight and dropped when
/// the stream ends.
pub struct Streams<F, M> {
    make: M,
    streams: HashMap<StreamId, StreamState<F>>,
}

impl<F, M> std::fmt::Debug for Streams<F, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("open", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl<F: Framing, M: FnMut() -> Framer<F>> Streams<F, M> {
    /// Creates a demultiplexer that makes each stream's framer with `make`.
    pub fn new(make: M) -> Self {
        Self {
            make,
            streams: HashMap::default(),
        }
    }

    /// Feeds one capture event and calls `out` for everything it yields, in
    /// stream order.
    ///
    /// # Errors
    /// Returns the first error `out` returns.
    pub fn handle<E>(
        &mut self,
        event: CaptureEvent,
        mut out: impl FnMut(&Meta, StreamItem<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        match event {
            CaptureEvent::Chunk(chunk) => {
                let make = &mut self.make;
                let state = self
                    .streams
                    .entry(chunk.stream)
                    .or_insert_with(|| StreamState {
                        framer: make(),
                        meta: Meta {
                            stream: chunk.stream,
                            timestamp: None,
                            direction: None,
                            endpoints: None,
                        },
                    });
                state.meta.timestamp = chunk.timestamp.or(state.meta.timestamp);
                state.meta.direction = chunk.direction.or(state.meta.direction);
                state.meta.endpoints = chunk.endpoints.or(state.meta.endpoints);
                let pushed = state.framer.push_owned(chunk.bytes);
                drain(state, &mut out)?;
                if let Err(err) = pushed {
                    out(&state.meta, StreamItem::Overflow(&err))?;
                }
                Ok(())
            }
            CaptureEvent::Gap(gap) => {
                if let Some(state) = self.streams.get_mut(&gap.stream) {
                    state.meta.timestamp = gap.timestamp.or(state.meta.timestamp);
                    state.framer.finish();
                    drain(state, &mut out)?;
                    out(
                        &state.meta,
                        StreamItem::Gap {
                            offset: state.framer.stream_offset(),
                            missing_bytes: gap.missing_bytes,
                        },
                    )?;
                    state.framer.clear();
                } else {
                    let meta = Meta {
                        stream: gap.stream,
                        timestamp: gap.timestamp,
                        direction: gap.direction,
                        endpoints: gap.endpoints,
                    };
                    out(
                        &meta,
                        StreamItem::Gap {
                            offset: 0,
                            missing_bytes: gap.missing_bytes,
                        },
                    )?;
                }
                Ok(())
            }
            CaptureEvent::End(end) => {
                if let Some(mut state) = self.streams.remove(&end.stream) {
                    state.framer.finish();
                    drain(&mut state, &mut out)?;
                }
                Ok(())
            }
        }
    }

    /// Ends every open stream (at end of input), reporting what their
    /// framers still held.
    ///
    /// # Errors
    /// Returns the first error `out` returns.
    pub fn finish<E>(
        &mut self,
        mut out: impl FnMut(&Meta, StreamItem<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut ids: Vec<StreamId> = self.streams.keys().copied().collect();
        ids.sort();
        for id in ids {
            if let Some(mut state) = self.streams.remove(&id) {
                state.framer.finish();
                drain(&mut state, &mut out)?;
            }
        }
        Ok(())
    }
}

fn drain<F: Framing, E>(
    state: &mut StreamState<F>,
    out: &mut impl FnMut(&Meta, StreamItem<'_>) -> Result<(), E>,
) -> Result<(), E> {
    while let Some(event) = state.framer.next() {
        out(&state.meta, StreamItem::Framed(event))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_arguments() {
        assert_eq!(
            parse_hex_arg("FF 08 00 01 00 01 07 10").unwrap(),
            [0xFF, 8, 0, 1, 0, 1, 7, 0x10]
        );
        assert_eq!(parse_hex_arg("ff:08,0x00-01").unwrap(), [0xFF, 8, 0, 1]);
        assert_eq!(parse_hex_arg("ff0800").unwrap(), [0xFF, 8, 0]);
        let err = parse_hex_arg("FF 0G").unwrap_err().to_string();
        assert!(err.contains("'G'"), "{err}");
        assert!(
            parse_hex_arg("FFF")
                .unwrap_err()
                .to_string()
                .contains("odd")
        );
        assert!(parse_hex_arg("  ").is_err());
    }

    #[test]
    fn epoch_seconds_has_fractions() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        assert!((epoch_seconds(t) - 1.5).abs() < 1e-9);
    }
}
