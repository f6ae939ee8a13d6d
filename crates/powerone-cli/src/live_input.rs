//! Decoding a live feed on stdin (`nc … | powerone decode -`): records must
//! come out as the bytes come in.
//!
//! `rewire_cli::decode::open_input` reads up to 8 KiB to detect the format
//! and the raw reader fills 64 KiB chunks, both blocking on a pipe that is
//! still open; here detection takes the first read, whatever its size, and
//! raw bytes are handed on read by read.

use std::io::{self, Cursor, Read};

use anyhow::{Context as _, bail};
use rewire_cli::decode::DecodeArgs;
use rewire_cli::input::{InputFormat, InputSource};
use rewire_transport::capture::{
    self, CaptureEvent, CaptureOptions, Chunk, EndReason, HexDumpReader, PacketCaptureReader,
    StreamEnd, StreamId,
};

/// Returns whether `source` is a live feed (a pipe, a terminal, a FIFO):
/// records are then flushed one by one.
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
    false
}

/// The capture events of a live input; errors name it.
pub type Events = Box<dyn Iterator<Item = anyhow::Result<CaptureEvent>>>;

/// Opens stdin as a live feed: the format is detected from the first read
/// (or taken from `--input`).
///
/// # Errors
/// When stdin cannot be read, is empty, or is not the format asked for.
pub fn open_stdin(args: &DecodeArgs, default_ports: &[u16]) -> anyhow::Result<Events> {
    let mut stdin = io::stdin();
    let mut prefix = vec![0u8; 8 * 1024];
    let n = loop {
        match stdin.read(&mut prefix) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other.context(NAME)?,
        }
    };
    prefix.truncate(n);
    if prefix.is_empty() {
        bail!("{NAME}: empty input, nothing to decode");
    }
    let format = match args.input {
        InputFormat::Auto => capture::InputFormat::detect(&prefix),
        InputFormat::Pcap => capture::sniff_capture_format(&prefix)
            .with_context(|| format!("{NAME}: not a pcap or pcapng file (wrong magic number)"))?,
        InputFormat::Hex => capture::InputFormat::HexText,
        InputFormat::Raw => capture::InputFormat::Binary,
        InputFormat::WmpeJson => bail!("{NAME}: --input wmpe-json is only for websentry"),
    };
    let rest: Box<dyn Read> = Box::new(Cursor::new(prefix).chain(stdin));
    let named = |r: Result<CaptureEvent, _>| r.map_err(|e| anyhow::Error::new(e).context(NAME));
    Ok(match format {
        capture::InputFormat::Pcap | capture::InputFormat::PcapNg => {
            let options = CaptureOptions::with_ports(args.ports_or(default_ports));
            let reader = PacketCaptureReader::new(rest, options).context(NAME)?;
            Box::new(reader.map(named))
        }
        capture::InputFormat::HexText => {
            Box::new(HexDumpReader::new(io::BufReader::new(rest)).map(named))
        }
        _ => Box::new(RawReads {
            reader: rest,
            ended: false,
        }),
    })
}

const NAME: &str = "<stdin>";

/// Raw bytes, one chunk per read, then the stream's end.
struct RawReads {
    reader: Box<dyn Read>,
    ended: bool,
}

impl Iterator for RawReads {
    type Item = anyhow::Result<CaptureEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match self.reader.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.ended = true;
                    return Some(Err(anyhow::Error::new(e).context(NAME)));
                }
                Ok(n) => break n,
            }
        };
        if n == 0 {
            self.ended = true;
            return Some(Ok(CaptureEvent::End(StreamEnd {
                stream: StreamId(0),
                reason: EndReason::EndOfInput,
            })));
        }
        buf.truncate(n);
        Some(Ok(CaptureEvent::Chunk(Chunk {
            stream: StreamId(0),
            timestamp: None,
            direction: None,
            endpoints: None,
            bytes: buf,
        })))
    }
}
