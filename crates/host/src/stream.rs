//! One framer per captured stream: the demultiplexer every decode pipeline
//! shares.
//!
//! A capture yields [`CaptureEvent`]s for many streams at once (each TCP
//! direction, each UDP flow). [`Streams::handle`] keeps a [`Framer`] per
//! stream and reports framed messages, skipped garbage, gaps and oversize
//! input with the stream's timestamp, direction and endpoints.

use std::time::SystemTime;

use foldhash::HashMap;
use rewire_transport::capture::{CaptureEvent, Direction, Endpoints, StreamId};
use rewire_transport::framing::{self, Framer, Framing, FramingError};

use crate::epoch_seconds;

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
                    state.framer.skip_missing(gap.missing_bytes);
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
    use rewire_transport::capture::{Chunk, Gap};
    use rewire_transport::framing::{Event, PowerOne};

    const FRAME: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

    fn chunk(bytes: &[u8]) -> CaptureEvent {
        CaptureEvent::Chunk(Chunk {
            stream: StreamId(7),
            timestamp: None,
            direction: None,
            endpoints: None,
            bytes: bytes.to_vec(),
        })
    }

    #[test]
    fn offsets_after_a_gap_count_the_missing_bytes() {
        let mut streams = Streams::new(|| Framer::new(PowerOne));
        let mut seen = Vec::new();
        let mut out = |_: &Meta, item: StreamItem<'_>| {
            match item {
                StreamItem::Framed(Event::Message(m)) => seen.push(("frame", m.offset)),
                StreamItem::Gap { offset, .. } => seen.push(("gap", offset)),
                other => panic!("{other:?}"),
            }
            Ok::<_, ()>(())
        };
        streams.handle(chunk(&FRAME), &mut out).unwrap();
        let gap = Gap {
            stream: StreamId(7),
            missing_bytes: 100,
            timestamp: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(9)),
            direction: None,
            endpoints: None,
        };
        streams.handle(CaptureEvent::Gap(gap), &mut out).unwrap();
        streams.handle(chunk(&FRAME), &mut out).unwrap();
        streams.finish(&mut out).unwrap();
        assert_eq!(seen, [("frame", 0), ("gap", 8), ("frame", 108)]);
    }
}
