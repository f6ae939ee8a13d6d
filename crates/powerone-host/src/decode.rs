//! Decoding captures: capture events (pcap/pcapng, hex dumps, raw bytes,
//! from `rewire_transport::capture`) into [`Message`]s.
//!
//! One framer per captured stream (each TCP direction is its own stream,
//! through `rewire_host::stream::Streams`). Alongside, each stream's recent
//! bytes are kept ([`History`]) so that a skipped run can be shown and a
//! frame whose only fault is its checksum told apart from noise.
//!
//! ```
//! use rewire_powerone_host::decode::Decoder;
//! use rewire_powerone_host::message::{Body, Codes};
//! use rewire_transport::capture::{CaptureEvent, Chunk, StreamId};
//!
//! let mut decoder = Decoder::new("example", Codes::default());
//! let bytes = vec![0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
//! let chunk = Chunk { stream: StreamId(0), timestamp: None, direction: None, endpoints: None, bytes };
//! let mut frames = 0;
//! decoder.push(CaptureEvent::Chunk(chunk), &mut |m| {
//!     frames += usize::from(matches!(m.body, Body::Frame(_)));
//!     Ok::<(), ()>(())
//! })?;
//! decoder.finish(&mut |_| Ok::<(), ()>(()))?;
//! assert_eq!(frames, 1);
//! # Ok::<(), ()>(())
//! ```

use rewire_host::FastHashMap;
use rewire_host::reading::DeviceId;
use rewire_host::stream::{Meta, StreamItem, Streams};
use rewire_transport::capture::{CaptureEvent, StreamId};
use rewire_transport::framing::{Framer, PowerOne};

use crate::message::{Body, Codes, Message, Seen, SkipReason, Skipped, device};
use crate::stream::History;

/// The TCP port of the bundled captures (a serial server's usual first
/// port); callers may keep others.
pub const DEFAULT_PORT: u16 = 4001;

type MakeFramer = fn() -> Framer<PowerOne>;

fn make_framer() -> Framer<PowerOne> {
    Framer::new(PowerOne)
}

/// Turns capture events into messages, in stream order.
pub struct Decoder {
    codes: Codes,
    device: DeviceId,
    streams: Streams<PowerOne, MakeFramer>,
    histories: FastHashMap<StreamId, History>,
    scratch: Vec<Message>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("device", &self.device)
            .field("codes", &self.codes)
            .finish_non_exhaustive()
    }
}

fn seen(meta: &Meta) -> Seen {
    Seen {
        ts: meta.timestamp,
        src_addr: meta.src_addr(),
        dst_addr: meta.dst_addr(),
        ..Seen::default()
    }
}

impl Decoder {
    /// Creates a decoder for the input called `name` (the messages'
    /// device); `codes` names functions the evidence does not.
    #[must_use]
    pub fn new(name: &str, codes: Codes) -> Self {
        Self {
            codes,
            device: device(name),
            streams: Streams::new(make_framer as MakeFramer),
            histories: FastHashMap::default(),
            scratch: Vec::new(),
        }
    }

    /// Feeds one capture event and hands every message it completes to
    /// `out`, in stream order.
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn push<E>(
        &mut self,
        event: CaptureEvent,
        out: &mut dyn FnMut(Message) -> Result<(), E>,
    ) -> Result<(), E> {
        let ended = match &event {
            CaptureEvent::Chunk(chunk) => {
                self.histories
                    .entry(chunk.stream)
                    .or_default()
                    .push(&chunk.bytes);
                None
            }
            CaptureEvent::End(end) => Some(end.stream),
            CaptureEvent::Gap(_) => None,
        };
        let Self {
            codes,
            device,
            streams,
            histories,
            scratch,
        } = self;
        streams.handle(event, |meta, item| {
            items(*codes, device, histories, scratch, meta, item);
            scratch.drain(..).try_for_each(&mut *out)
        })?;
        if let Some(stream) = ended {
            self.histories.remove(&stream);
        }
        Ok(())
    }

    /// Ends every open stream (at end of input) and hands what their
    /// framers still held to `out`.
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn finish<E>(&mut self, out: &mut dyn FnMut(Message) -> Result<(), E>) -> Result<(), E> {
        let Self {
            codes,
            device,
            streams,
            histories,
            scratch,
        } = self;
        streams.finish(|meta, item| {
            items(*codes, device, histories, scratch, meta, item);
            scratch.drain(..).try_for_each(&mut *out)
        })?;
        self.histories.clear();
        Ok(())
    }
}

fn items(
    codes: Codes,
    device: &DeviceId,
    histories: &mut FastHashMap<StreamId, History>,
    out: &mut Vec<Message>,
    meta: &Meta,
    item: StreamItem<'_>,
) {
    let seen = seen(meta);
    match item {
        StreamItem::Framed(event) => histories
            .entry(meta.stream)
            .or_default()
            .messages(event, device, &seen, codes, out),
        StreamItem::Gap {
            offset,
            missing_bytes,
        } => out.push(Message {
            device: device.clone(),
            seen,
            body: Body::Skipped(Skipped {
                reason: SkipReason::Gap,
                offset,
                len: missing_bytes,
                bytes: Vec::new(),
                detail: format!("{missing_bytes} bytes of the stream were never captured"),
            }),
        }),
        // The framer reports the discarded run again as a Skipped event.
        StreamItem::Overflow(_) => {}
    }
}
