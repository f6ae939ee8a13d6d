//! The `decode` flags every tool shares, and opening and detecting the input
//! they name (file, stdin or `--hex`), with a progress bar for large files.
//!
//! A tool's `decode` is then: [`open_input`], and the device library's
//! decoder over the capture events (see `rewire_host::stream::Streams`).

use std::io::{self, Cursor, Read};
use std::path::PathBuf;

use anyhow::{Context, bail};
use rewire_transport::capture::pcap_out::{SerialPcapWriter, SerialProtocol};
use rewire_transport::capture::{
    self, CaptureEvent, CaptureOptions, CaptureReader, HexDumpReader, PacketCaptureReader,
    RawFileReader, RawLogReader,
};

use crate::input::{InputArg, InputSource};

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
    #[arg(long, value_enum, default_value_t = InputArg::Auto)]
    pub input: InputArg,
    /// Write NDJSON, one object per message, instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Ports to decode in captures (repeatable); replaces the device's defaults.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,
    /// Decode these hex bytes instead of a file: pairs of hex digits, with
    /// spaces, colons, commas or `0x` allowed between them.
    #[arg(long, value_name = "HEX", conflicts_with = "file")]
    pub hex: Option<String>,
    /// Also write what a serial input (hex dump, raw bytes) holds to FILE as
    /// a pcap for Wireshark (link type USER0 with a direction header; see
    /// the Wireshark notes). Not for inputs that are captures already.
    #[arg(long, value_name = "FILE")]
    pub pcap_out: Option<PathBuf>,
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
    live: bool,
    pcap: Option<PcapOut>,
}

/// The `--pcap-out` copy of a serial input.
struct PcapOut {
    path: PathBuf,
    writer: Option<SerialPcapWriter<io::BufWriter<std::fs::File>>>,
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

    /// Returns whether the input is a live feed (a pipe, a terminal, a
    /// FIFO) rather than a file: its records should then be written out one
    /// by one as they come, not buffered.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Honours `--pcap-out`: every event read from now on is also written
    /// to that file as a serial pcap tagged with `protocol`, finished when
    /// the input ends.
    ///
    /// # Errors
    /// When the input is a packet capture already (nothing serial to
    /// write), or the file cannot be created.
    pub fn tee_pcap(mut self, args: &DecodeArgs, protocol: SerialProtocol) -> anyhow::Result<Self> {
        let Some(path) = &args.pcap_out else {
            return Ok(self);
        };
        if !matches!(
            self.format,
            capture::InputFormat::HexText | capture::InputFormat::Binary
        ) {
            bail!(
                "--pcap-out {}: {} is a {:?} input, not serial bytes; it can be opened in Wireshark as it is",
                path.display(),
                self.name,
                self.format
            );
        }
        let file = std::fs::File::create(path)
            .with_context(|| format!("--pcap-out {}", path.display()))?;
        let writer = SerialPcapWriter::new(io::BufWriter::new(file), protocol)
            .with_context(|| format!("--pcap-out {}", path.display()))?;
        self.pcap = Some(PcapOut {
            path: path.clone(),
            writer: Some(writer),
        });
        Ok(self)
    }

    fn tee(
        &mut self,
        item: Option<anyhow::Result<CaptureEvent>>,
    ) -> Option<anyhow::Result<CaptureEvent>> {
        let Some(pcap) = &mut self.pcap else {
            return item;
        };
        let result = match &item {
            Some(Ok(event)) => pcap
                .writer
                .as_mut()
                .map_or(Ok(()), |w| w.write_event(event)),
            Some(Err(_)) => Ok(()),
            None => pcap
                .writer
                .take()
                .map_or(Ok(()), |w| w.finish().map(|_| ())),
        };
        match result {
            Ok(()) => item,
            Err(e) => {
                let path = pcap.path.display().to_string();
                self.pcap = None;
                Some(Err(
                    anyhow::Error::new(e).context(format!("--pcap-out {path}"))
                ))
            }
        }
    }
}

impl Iterator for Input {
    type Item = anyhow::Result<CaptureEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.read_next();
        self.tee(item)
    }
}

impl Input {
    fn read_next(&mut self) -> Option<anyhow::Result<CaptureEvent>> {
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
            let bytes = crate::value::hex(text)
                .map_err(anyhow::Error::msg)
                .context("--hex")?;
            (None, None, Box::new(Cursor::new(bytes)))
        }
    };
    let progress = len.and_then(crate::progress_bar);
    if let Some(bar) = &progress {
        stream = Box::new(bar.wrap_read(stream));
    }
    // Detection looks at the first read only: a file fills it, and a live
    // feed (`nc … | tool decode -`) must not wait for 8 KiB that may take
    // minutes to come.
    let mut prefix = vec![0u8; SNIFF_LEN];
    let n = loop {
        match stream.read(&mut prefix) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other.with_context(|| name.clone())?,
        }
    };
    prefix.truncate(n);
    let detected = capture::InputFormat::detect(&prefix);
    let format = match (args.input, &source) {
        (_, InputSource::Inline(_)) => capture::InputFormat::Binary,
        (InputArg::Auto, _) if detected == capture::InputFormat::RawLog && !raw_log_ok => {
            capture::InputFormat::Binary
        }
        (InputArg::Auto, _) => detected,
        (InputArg::Pcap, _) => capture::sniff_capture_format(&prefix)
            .with_context(|| format!("{name}: not a pcap or pcapng file (wrong magic number)"))?,
        (InputArg::Hex, _) => capture::InputFormat::HexText,
        (InputArg::Raw, _) => capture::InputFormat::Binary,
        (InputArg::WmpeJson, _) if !raw_log_ok => {
            bail!("{name}: --input wmpe-json is only for websentry")
        }
        (InputArg::WmpeJson, _) => {
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
        live: is_live(&source),
        pcap: None,
    })
}

/// Returns whether `source` is a live feed: stdin that is not a regular
/// file, or a path that is a FIFO or device rather than a file.
pub fn is_live(source: &InputSource) -> bool {
    match source {
        InputSource::Stdin => stdin_is_live(),
        InputSource::File(path) => {
            std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
        }
        InputSource::Inline(_) => false,
    }
}

#[cfg(unix)]
fn stdin_is_live() -> bool {
    use std::os::fd::AsFd;
    io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| !m.is_file())
}

#[cfg(not(unix))]
fn stdin_is_live() -> bool {
    use std::io::IsTerminal;
    io::stdin().is_terminal()
}
