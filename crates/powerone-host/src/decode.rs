//! `powerone decode`: captures, hex dumps and raw bytes into [`Record`]s,
//! through the shared decode driver (`rewire_cli::decode`).
//!
//! The driver keeps one framer per captured stream (each TCP direction is
//! its own stream). Alongside it, this module keeps each stream's recent
//! bytes ([`History`]) so that a skipped run can be shown and a frame whose
//! only fault is its checksum told apart from noise.

use std::collections::HashMap;
use std::io::Write;

use rewire_cli::decode::{DecodeArgs, open_input};
use rewire_host::stream::{Meta, StreamItem, Streams};
use rewire_host::output::Sink;
use rewire_transport::capture::{CaptureEvent, StreamId};
use rewire_transport::framing::{Framer, PowerOne};

use crate::record::{Codes, Context, ErrorReason, ErrorRecord, Record};
use crate::stream::History;

/// The TCP port of the bundled captures (a serial server's usual first
/// port); `--port` replaces it.
pub const DEFAULT_PORT: u16 = 4001;

/// Turns the driver's stream items into records.
#[derive(Debug, Default)]
pub struct Decoder {
    codes: Codes,
    histories: HashMap<StreamId, History>,
}

fn context(meta: &Meta) -> Context {
    Context {
        ts: meta.ts(),
        src_addr: meta.src_addr(),
        dst_addr: meta.dst_addr(),
        ..Context::default()
    }
}

impl Decoder {
    /// Creates a decoder; `codes` names functions the evidence does not.
    #[must_use]
    pub fn new(codes: Codes) -> Self {
        Self {
            codes,
            ..Self::default()
        }
    }

    /// Records a capture event's bytes before the driver frames them.
    pub fn observe(&mut self, event: &CaptureEvent) {
        if let CaptureEvent::Chunk(chunk) = event {
            self.histories
                .entry(chunk.stream)
                .or_default()
                .push(&chunk.bytes);
        }
    }

    /// Forgets a stream once the driver has ended it.
    pub fn ended(&mut self, stream: StreamId) {
        self.histories.remove(&stream);
    }

    /// Returns the records of one stream item.
    pub fn records(&mut self, meta: &Meta, item: StreamItem<'_>) -> Vec<Record> {
        let context = context(meta);
        match item {
            StreamItem::Framed(event) => self
                .histories
                .entry(meta.stream)
                .or_default()
                .records(event, &context, self.codes),
            StreamItem::Gap {
                offset,
                missing_bytes,
            } => {
                vec![Record::Error(ErrorRecord {
                    context,
                    offset,
                    length: missing_bytes,
                    reason: ErrorReason::Gap,
                    detail: format!("{missing_bytes} bytes of the stream were never captured"),
                    raw: String::new(),
                    raw_truncated: false,
                    frame: None,
                })]
            }
            // The framer reports the discarded run again as a Skipped event.
            StreamItem::Overflow(_) => Vec::new(),
        }
    }
}

/// Decodes the input `args` names into `sink`.
///
/// # Errors
/// When the input cannot be opened or read or is not the format asked for
/// (naming it), or when writing fails.
pub fn run<W: Write>(args: &DecodeArgs, codes: Codes, sink: &mut Sink<W>) -> anyhow::Result<()> {
    let input = open_input(args, &[DEFAULT_PORT], false)?;
    let mut decoder = Decoder::new(codes);
    let mut streams = Streams::new(|| Framer::new(PowerOne));
    let mut result = Ok(());
    for event in input {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        decoder.observe(&event);
        let ended = match &event {
            CaptureEvent::End(end) => Some(end.stream),
            _ => None,
        };
        streams.handle(event, |meta: &Meta, item: StreamItem<'_>| {
            decoder
                .records(meta, item)
                .iter()
                .try_for_each(|r| sink.emit(r))
        })?;
        if let Some(stream) = ended {
            decoder.ended(stream);
        }
    }
    streams.finish(|meta: &Meta, item: StreamItem<'_>| {
        decoder
            .records(meta, item)
            .iter()
            .try_for_each(|r| sink.emit(r))
    })?;
    sink.flush()?;
    result
}
