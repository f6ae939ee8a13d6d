//! One framing abstraction, and a framing per protocol built on the parser
//! crates' streaming scanners.
//!
//! A [`Framing`] is sans-IO: given the bytes buffered so far it says where the
//! next message is ([`Step::Found`]), or that more bytes are needed
//! ([`Step::Partial`]), and how many leading bytes can never start a message
//! (garbage). A [`Framer`] owns the buffer: feed it chunks of any size with
//! [`Framer::push`], take owned [`Event`]s out in stream order with
//! [`Framer::next`], and call [`Framer::finish`] at end of stream.
//!
//! The contract follows tokio-util's `Decoder` (`Ok(None)` = need more bytes,
//! `Some` = bytes consumed, `Err` = corrupt) with two differences that suit a
//! blocking, std-only stack: garbage is never fatal (it is skipped, counted and
//! reported as an [`Event::Skipped`] with its stream offset), and the buffer
//! has a hard cap (default [`DEFAULT_BUFFER_LIMIT`]): a would-be message that
//! outgrows it is discarded up to the next possible start and reported, so
//! runaway input never grows memory.
//!
//! Messages are the frame's bytes: this layer knows framing, not meaning.
//!
//! The buffer is a [`BytesMut`] and each message is a [`Bytes`] split off
//! its front (`split_to(len).freeze()`), so handing out a message copies
//! nothing: it shares the buffer's allocation, which the framer reuses once
//! every message cut from it has been dropped. A consumer that keeps
//! messages for long (a log of a whole session) should copy the ones it
//! keeps ([`Bytes::copy_from_slice`]), or each pins the chunk it came from.
//!
//! ```
//! use rewire_transport::framing::{Event, Framer, Framing, Step};
//!
//! /// Lines ending in `\n`, at most 80 bytes.
//! struct Lines;
//! impl Framing for Lines {
//!     fn scan(&mut self, buf: &[u8]) -> Step {
//!         match buf.iter().position(|&b| b == b'\n') {
//!             Some(end) => Step::Found { skipped: 0, len: end + 1, message: 0..end },
//!             None => Step::Partial { skipped: 0 },
//!         }
//!     }
//! }
//!
//! let mut framer = Framer::new(Lines);
//! framer.push(b"he")?;
//! assert!(framer.next().is_none());
//! framer.push(b"llo\nwor")?;
//! match framer.next() {
//!     Some(Event::Message(m)) => assert_eq!((m.offset, &m.bytes[..]), (0, &b"hello"[..])),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), rewire_transport::framing::FramingError>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

mod megatec;
mod powerone;
mod upsilon;
mod websentry;

pub use megatec::Megatec;
pub use powerone::PowerOne;
pub use upsilon::Upsilon;
pub use websentry::WebSentry;

/// Default cap on the bytes a [`Framer`] buffers: 64 KiB.
pub const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;

/// What a [`Framing`] found at the front of a buffer.
///
/// The shape mirrors the parser crates' `Scan<T>`, with the message given as a
/// byte range so that a framing can name a part of the consumed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A complete message starts `skipped` bytes into the buffer and occupies
    /// `len` bytes; the caller consumes `skipped + len` bytes. `message` is the
    /// range of the buffer that the owned message holds (normally
    /// `skipped..skipped + len`; it must lie inside that span).
    Found {
        /// Leading bytes that can never begin a message (garbage).
        skipped: usize,
        /// Length of the message's bytes after the garbage.
        len: usize,
        /// Range of the buffer handed out as the message.
        message: Range<usize>,
    },
    /// No complete message yet. The first `skipped` bytes can never begin a
    /// message; the rest may be the start of one.
    Partial {
        /// Leading bytes that can never begin a message (garbage).
        skipped: usize,
    },
}

/// Locates messages in a byte stream; implemented once per protocol.
///
/// Implementations must give the same messages however the stream is split,
/// must not panic on any input, and should do bounded work per byte. A
/// [`Framer`] checks every returned length against the buffer, so an
/// out-of-range answer degrades into skipped bytes, never a panic.
pub trait Framing {
    /// Scans `buf` (the unconsumed bytes of the stream) for the next message.
    fn scan(&mut self, buf: &[u8]) -> Step;

    /// Scans `buf` after the input went quiet (an inter-frame silence on a
    /// live link).
    ///
    /// Protocols whose scanner must otherwise wait for more bytes to stay
    /// independent of how the stream is split (a noise byte that looks like a
    /// long frame's start) may decide here; [`Framer::idle`] calls it. The
    /// default is [`Framing::scan`].
    fn idle(&mut self, buf: &[u8]) -> Step {
        self.scan(buf)
    }

    /// Scans what is left at end of stream; `buf` is everything unconsumed.
    ///
    /// Protocols whose last message may lack its terminator return it here.
    /// [`Step::Partial`] means no further message: the [`Framer`] reports the
    /// remaining bytes as [`SkipReason::Truncated`]. The default finds nothing.
    fn finish(&mut self, buf: &[u8]) -> Step {
        let _ = buf;
        Step::Partial { skipped: 0 }
    }

    /// Tells whether `skipped`, a run the scanner passed over, is only the
    /// protocol's harmless padding between messages (for UPSilon: NUL, CR
    /// and LF). The [`Framer`] consumes such a run silently instead of
    /// reporting and counting it as garbage, so padding that a read split
    /// from its message is never mistaken for noise. The default is `false`.
    fn is_filler(&self, skipped: &[u8]) -> bool {
        let _ = skipped;
        false
    }
}

impl<F: Framing + ?Sized> Framing for &mut F {
    fn scan(&mut self, buf: &[u8]) -> Step {
        (**self).scan(buf)
    }

    fn idle(&mut self, buf: &[u8]) -> Step {
        (**self).idle(buf)
    }

    fn finish(&mut self, buf: &[u8]) -> Step {
        (**self).finish(buf)
    }

    fn is_filler(&self, skipped: &[u8]) -> bool {
        (**self).is_filler(skipped)
    }
}

/// An owned message cut from the stream.
///
/// `bytes` shares the framer's buffer (see the [module](self) docs); it
/// dereferences to `&[u8]`, and [`Message::as_slice`] and `AsRef<[u8]>` give
/// the same.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Stream offset of the message's first byte.
    pub offset: u64,
    /// The message's bytes.
    pub bytes: Bytes,
}

impl Message {
    /// Returns the message's bytes.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// Returns the message's length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Tells whether the message has no bytes (a framing may hand out an
    /// empty part of what it consumed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl AsRef<[u8]> for Message {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Message {{ offset: {}, bytes: ", self.offset)?;
        for b in self.bytes.iter() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(" }")
    }
}

/// Why a run of bytes was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// The bytes cannot begin a message (noise, a corrupt frame, a resync).
    Garbage,
    /// A would-be message outgrew the framer's buffer limit and was discarded
    /// up to the next possible start.
    Oversize,
    /// The stream ended (or was reset) in the middle of a would-be message.
    Truncated,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Garbage => "garbage",
            Self::Oversize => "oversize",
            Self::Truncated => "truncated",
        })
    }
}

/// How many leading bytes of a skipped run [`Skipped::head`] keeps: enough
/// to show what was there, bounded however long the run.
pub const SKIPPED_HEAD_LEN: usize = 32;

/// A run of skipped bytes; adjacent runs with the same reason are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Stream offset of the first skipped byte.
    pub offset: u64,
    /// Number of bytes skipped.
    pub len: u64,
    /// Why they were skipped.
    pub reason: SkipReason,
    /// The run's first bytes, at most [`SKIPPED_HEAD_LEN`] of them (all of
    /// them when `len` is no larger), for showing what was skipped.
    pub head: Vec<u8>,
}

/// What a [`Framer`] hands out, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete message.
    Message(Message),
    /// Bytes that were skipped. A run of garbage is reported once it ends:
    /// when a message follows it, when the reason changes, or at
    /// [`Framer::finish`]. [`Framer::garbage_bytes`] counts it at once.
    Skipped(Skipped),
}

/// What went wrong while framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FramingErrorKind {
    /// Returned when a would-be message outgrew the buffer limit; `discarded`
    /// bytes were dropped (up to the next possible message start) and the
    /// framer resumed. Events already queued are still valid.
    Oversize {
        /// The framer's buffer limit in bytes.
        limit: usize,
        /// Bytes discarded during the push that reported this.
        discarded: u64,
    },
}

/// A framing error: what happened and where in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingError {
    kind: FramingErrorKind,
    offset: u64,
}

impl FramingError {
    /// Returns what went wrong.
    #[must_use]
    pub fn kind(&self) -> FramingErrorKind {
        self.kind
    }

    /// Returns the stream offset of the first discarded byte.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FramingErrorKind::Oversize { limit, discarded } => write!(
                f,
                "message at stream offset {} exceeds the {limit}-byte buffer limit; \
                 {discarded} bytes discarded",
                self.offset
            ),
        }
    }
}

impl std::error::Error for FramingError {}

/// Buffers a byte stream and cuts it into owned messages with a [`Framing`].
#[derive(Debug)]
pub struct Framer<F> {
    framing: F,
    /// The unconsumed bytes; messages are split off its front.
    buf: BytesMut,
    /// `buf` is a chunk [`Framer::push_owned`] took whole and nothing has
    /// been split from it: a message that ends it takes the whole buffer.
    owned: bool,
    /// Stream offset of `buf[0]`.
    offset: u64,
    limit: usize,
    events: VecDeque<Event>,
    /// A run of skipped bytes not yet queued (it may still grow).
    run: Option<Skipped>,
    garbage: u64,
    messages: u64,
    /// Set by an oversize discard: skipped bytes count as part of it until a
    /// possible message start is found.
    resyncing: bool,
    /// Bytes discarded as oversize during the current push.
    oversize_in_push: u64,
}

impl<F: Framing> Framer<F> {
    /// Creates a framer with the default buffer limit ([`DEFAULT_BUFFER_LIMIT`]).
    pub fn new(framing: F) -> Self {
        Self::with_limit(
            framing,
            NonZeroUsize::new(DEFAULT_BUFFER_LIMIT).unwrap_or(NonZeroUsize::MIN),
        )
    }

    /// Creates a framer that never buffers more than `limit` bytes (its
    /// allocation stays within a small multiple of that, as [`BytesMut`]
    /// reclaims consumed space lazily).
    ///
    /// A would-be message longer than `limit` is discarded up to the next
    /// possible start, so `limit` is also the longest message it can return.
    pub fn with_limit(framing: F, limit: NonZeroUsize) -> Self {
        Self {
            framing,
            buf: BytesMut::new(),
            owned: false,
            offset: 0,
            limit: limit.get(),
            events: VecDeque::new(),
            run: None,
            garbage: 0,
            messages: 0,
            resyncing: false,
            oversize_in_push: 0,
        }
    }

    /// Returns the framing.
    pub fn framing(&self) -> &F {
        &self.framing
    }

    /// Returns the buffer limit in bytes.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Returns how many bytes are buffered, waiting to complete a message.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Returns the stream offset of the next byte [`Framer::push`] will take.
    #[must_use]
    pub fn stream_offset(&self) -> u64 {
        self.offset.saturating_add(self.buffered() as u64)
    }

    /// Returns the total number of bytes skipped so far, for any reason.
    #[must_use]
    pub fn garbage_bytes(&self) -> u64 {
        self.garbage
    }

    /// Returns the number of messages found so far.
    #[must_use]
    pub fn message_count(&self) -> u64 {
        self.messages
    }

    /// Feeds the next chunk of the stream and frames what it completes.
    ///
    /// The whole chunk is always taken; take the results with [`Framer::next`].
    ///
    /// # Errors
    ///
    /// Returns [`FramingErrorKind::Oversize`] when a would-be message outgrew
    /// the buffer limit during this push. The framer has already discarded it
    /// (reported as an [`Event::Skipped`] with [`SkipReason::Oversize`]) and
    /// framed the rest of the chunk, so the error is a report, not a stop.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), FramingError> {
        let mut rest = chunk;
        let mut first_oversize: Option<u64> = None;
        self.oversize_in_push = 0;
        loop {
            let take = self.limit.saturating_sub(self.buffered()).min(rest.len());
            let (now, later) = rest.split_at(take);
            self.owned = false;
            self.buf.extend_from_slice(now);
            rest = later;
            self.drain();
            if self.buffered() >= self.limit {
                // Full and still no message: the candidate at the front is too long.
                first_oversize.get_or_insert(self.offset);
                self.discard_oversize();
                self.drain();
            }
            if rest.is_empty() && self.buffered() < self.limit {
                break;
            }
        }
        match first_oversize {
            Some(offset) => Err(FramingError {
                kind: FramingErrorKind::Oversize {
                    limit: self.limit,
                    discarded: self.oversize_in_push,
                },
                offset,
            }),
            None => Ok(()),
        }
    }

    /// Feeds the next chunk of the stream, as [`Framer::push`] does, taking
    /// ownership of it: when nothing is buffered, the chunk becomes the
    /// buffer (`BytesMut::from(chunk)`), and a message that ends the chunk
    /// is handed out in the chunk's own allocation, so the common case (one
    /// message per chunk) copies and allocates nothing.
    ///
    /// # Errors
    ///
    /// As [`Framer::push`].
    pub fn push_owned(&mut self, chunk: Vec<u8>) -> Result<(), FramingError> {
        if self.buffered() > 0 || chunk.is_empty() || chunk.len() >= self.limit {
            return self.push(&chunk);
        }
        // What `push` does for a chunk below the limit into an empty buffer,
        // without copying it in.
        self.oversize_in_push = 0;
        // No copy: a `Vec` becomes a `Bytes` and, being unique, a `BytesMut`.
        self.buf = BytesMut::from(Bytes::from(chunk));
        self.owned = true;
        self.drain();
        Ok(())
    }

    /// Takes the next event, in stream order; `None` when more bytes are needed.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Tells the framer the input went quiet: frames what the buffer holds
    /// with [`Framing::idle`], which may pass over a false start that would
    /// otherwise wait for more bytes. Bytes that may still start a message
    /// stay buffered. Live links call it when a read times out.
    pub fn idle(&mut self) {
        while self.buffered() > 0 {
            let step = self.framing.idle(&self.buf);
            match self.apply(step) {
                Some(true) => {}
                Some(false) | None => break,
            }
        }
    }

    /// Ends the stream: frames what the protocol allows at end of stream and
    /// reports the rest as [`SkipReason::Truncated`].
    ///
    /// Take the final events with [`Framer::next`]. The framer is then empty
    /// and may be fed a new stream (for example after a reconnect); stream
    /// offsets keep counting.
    pub fn finish(&mut self) {
        loop {
            let avail = self.buffered();
            if avail == 0 {
                break;
            }
            let step = self.framing.finish(&self.buf);
            match self.apply(step) {
                Some(true) => {}
                _ => {
                    let left = self.buffered();
                    self.skip(left, SkipReason::Truncated);
                    break;
                }
            }
        }
        self.flush_run();
        self.buf.clear();
        self.resyncing = false;
    }

    /// Drops buffered bytes and queued events without reporting them, for a
    /// caller that starts over (for example, before resending a request).
    /// Counters and stream offsets keep counting.
    pub fn clear(&mut self) {
        let left = self.buffered() as u64;
        self.offset = self.offset.saturating_add(left);
        self.buf.clear();
        self.events.clear();
        self.run = None;
        self.resyncing = false;
    }

    /// Restarts after `missing` bytes of the stream were never seen (a hole
    /// in a capture): like [`Framer::clear`], and the stream offset moves
    /// past the hole, so later messages carry their true offsets.
    pub fn skip_missing(&mut self, missing: u64) {
        self.clear();
        self.offset = self.offset.saturating_add(missing);
    }

    /// Frames everything the buffer holds now.
    fn drain(&mut self) {
        while self.buffered() > 0 {
            let step = self.framing.scan(&self.buf);
            match self.apply(step) {
                Some(true) => {}
                Some(false) | None => break,
            }
        }
    }

    /// Applies a step: `Some(true)` = a message was taken, `Some(false)` =
    /// partial, `None` = the framing answered out of range (its bytes skipped).
    fn apply(&mut self, step: Step) -> Option<bool> {
        let avail = self.buffered();
        match step {
            Step::Partial { skipped } => {
                let skipped = skipped.min(avail);
                self.skip_unframed(skipped);
                if skipped < avail {
                    // Something that may start a message: resync is over.
                    self.resyncing = false;
                }
                Some(false)
            }
            Step::Found {
                skipped,
                len,
                message,
            } => {
                let end = skipped.checked_add(len).filter(|&e| e <= avail && len > 0);
                let valid = end.is_some()
                    && message.start >= skipped
                    && message.start <= message.end
                    && Some(message.end) <= end;
                if !valid {
                    // A framing bug must not take the stream down: skip what it
                    // pointed at (at least one byte, so framing progresses).
                    let n = skipped.saturating_add(len).clamp(1, avail.max(1));
                    self.skip(n.min(avail), SkipReason::Garbage);
                    return None;
                }
                self.skip_unframed(skipped);
                self.resyncing = false;
                self.flush_run();
                // The message's bytes, relative to the buffer's front now.
                let from = message.start.saturating_sub(skipped);
                let to = message.end.saturating_sub(skipped);
                let mut cut = if self.owned && len >= self.buf.len() {
                    // The chunk `push_owned` took is exactly this message (and
                    // what precedes it): hand out its allocation as it is.
                    std::mem::take(&mut self.buf)
                } else {
                    self.buf.split_to(len.min(self.buf.len()))
                };
                self.owned = false;
                cut.truncate(to);
                if from <= cut.len() {
                    cut.advance(from);
                }
                let offset = self.offset.saturating_add(from as u64);
                self.offset = self.offset.saturating_add(len as u64);
                self.events.push_back(Event::Message(Message {
                    offset,
                    bytes: cut.freeze(),
                }));
                self.messages = self.messages.saturating_add(1);
                Some(true)
            }
        }
    }

    /// Drops the first buffered byte as oversize; the bytes the framing then
    /// skips, up to the next possible message start, count as oversize too.
    fn discard_oversize(&mut self) {
        self.skip(1, SkipReason::Oversize);
        self.resyncing = true;
    }

    fn garbage_reason(&self) -> SkipReason {
        if self.resyncing {
            SkipReason::Oversize
        } else {
            SkipReason::Garbage
        }
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.buffered());
        self.buf.advance(n);
        self.offset = self.offset.saturating_add(n as u64);
    }

    /// Passes over `n` bytes a scan step could not frame: padding is
    /// consumed silently, anything else is skipped as garbage.
    fn skip_unframed(&mut self, n: usize) {
        let filler = n > 0
            && self
                .buf
                .get(..n)
                .is_some_and(|run| self.framing.is_filler(run));
        if filler {
            self.consume(n);
        } else {
            self.skip(n, self.garbage_reason());
        }
    }

    fn skip(&mut self, n: usize, reason: SkipReason) {
        if n == 0 {
            return;
        }
        let len = n as u64;
        let bytes = self.buf.get(..n).unwrap_or_default();
        let keep = |head: &mut Vec<u8>| {
            let room = SKIPPED_HEAD_LEN.saturating_sub(head.len());
            head.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        };
        match &mut self.run {
            Some(run)
                if run.reason == reason && run.offset.saturating_add(run.len) == self.offset =>
            {
                run.len = run.len.saturating_add(len);
                keep(&mut run.head);
            }
            _ => {
                let mut head = Vec::with_capacity(n.min(SKIPPED_HEAD_LEN));
                keep(&mut head);
                self.flush_run();
                self.run = Some(Skipped {
                    offset: self.offset,
                    len,
                    reason,
                    head,
                });
            }
        }
        self.garbage = self.garbage.saturating_add(len);
        if reason == SkipReason::Oversize {
            self.oversize_in_push = self.oversize_in_push.saturating_add(len);
        }
        self.consume(n);
    }

    fn flush_run(&mut self) {
        if let Some(run) = self.run.take() {
            self.events.push_back(Event::Skipped(run));
        }
    }
}

/// Returns the range `inner` occupies inside `outer`, if it is a sub-slice.
///
/// Scanners that hand out a sub-slice (rather than offsets) are mapped back to
/// ranges with this; it compares addresses only.
fn subslice_range(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let outer_start = outer.as_ptr() as usize;
    let inner_start = inner.as_ptr() as usize;
    let start = inner_start.checked_sub(outer_start)?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subslice_range_maps_back() {
        let outer = b"hello world";
        assert_eq!(subslice_range(outer, &outer[6..]), Some(6..11));
        assert_eq!(subslice_range(outer, &outer[..0]), Some(0..0));
        let other = b"xx";
        assert_eq!(subslice_range(outer, other), None);
    }

    /// Feeds `stream` cut at `cuts` with `push` or `push_owned`, finishes,
    /// and returns every event and the oversize reports.
    fn run<F: Framing>(
        mut framer: Framer<F>,
        stream: &[u8],
        cuts: &[usize],
        owned: bool,
    ) -> (Vec<Event>, Vec<FramingError>) {
        let mut events = Vec::new();
        let mut errors = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
            let cut = cut.clamp(from, stream.len());
            let piece = &stream[from..cut];
            let pushed = if owned {
                framer.push_owned(piece.to_vec())
            } else {
                framer.push(piece)
            };
            errors.extend(pushed.err());
            assert!(framer.buffered() <= framer.limit());
            from = cut;
            events.extend(std::iter::from_fn(|| framer.next()));
        }
        framer.finish();
        events.extend(std::iter::from_fn(|| framer.next()));
        (events, errors)
    }

    const WS_GOOD: &[u8] = &[0x70, 0x83, 0x9E, 0x86, 0xBE, 0x00, 0x01, 0x08];

    fn messages<F: Framing>(framer: &mut Framer<F>) -> Vec<Message> {
        std::iter::from_fn(|| framer.next())
            .filter_map(|e| match e {
                Event::Message(m) => Some(m),
                Event::Skipped(_) => None,
            })
            .collect()
    }

    /// Messages pushed together are cut from one buffer, side by side:
    /// handing them out copied nothing.
    #[test]
    fn messages_share_the_buffer_they_were_cut_from() {
        let mut framer = Framer::new(websentry::WebSentry);
        framer
            .push(&[WS_GOOD, b"xx", WS_GOOD, WS_GOOD].concat())
            .unwrap();
        let m = messages(&mut framer);
        assert_eq!(m.len(), 3);
        let at = |i: usize| m[i].bytes.as_ptr() as usize;
        assert_eq!(at(1), at(0) + WS_GOOD.len() + 2);
        assert_eq!(at(2), at(1) + WS_GOOD.len());
        assert_eq!(framer.garbage_bytes(), 2);
    }

    /// A chunk that `push_owned` takes and that holds one message (after
    /// garbage, before nothing) is handed out in the chunk's own allocation.
    #[test]
    fn push_owned_hands_out_the_chunk_itself() {
        let mut framer = Framer::new(websentry::WebSentry);
        for garbage in [&b""[..], b"\x01\x02"] {
            let chunk = [garbage, WS_GOOD].concat();
            let start = chunk.as_ptr() as usize;
            framer.push_owned(chunk).unwrap();
            let m = messages(&mut framer);
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].as_slice(), WS_GOOD);
            assert_eq!(m[0].bytes.as_ptr() as usize, start + garbage.len());
            assert_eq!(framer.buffered(), 0);
        }
        assert_eq!(framer.garbage_bytes(), 2);
    }

    /// A framer reuses its buffer once the messages cut from it are gone,
    /// and never holds more than a small multiple of its limit.
    #[test]
    fn the_buffer_is_reused_and_bounded() {
        let limit = NonZeroUsize::new(64).unwrap();
        let mut framer = Framer::with_limit(websentry::WebSentry, limit);
        let chunk = [WS_GOOD, WS_GOOD, &WS_GOOD[..3]].concat();
        for _ in 0..1000 {
            framer.push(&chunk).unwrap();
            framer.push(&WS_GOOD[3..]).unwrap();
            assert_eq!(messages(&mut framer).len(), 3);
            assert!(
                framer.buf.capacity() <= 8 * limit.get(),
                "{}",
                framer.buf.capacity()
            );
        }
        let mut framer = Framer::with_limit(websentry::WebSentry, limit);
        let mut first = None;
        let reused = (0..10).all(|_| {
            framer.push(WS_GOOD).unwrap();
            let at = messages(&mut framer)[0].bytes.as_ptr() as usize;
            *first.get_or_insert(at) == at
        });
        assert!(reused, "each push allocated a new buffer");
    }
    const Q1: &[u8] = b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000";

    fn pieces() -> Vec<Vec<u8>> {
        vec![
            WS_GOOD.to_vec(),
            [Q1, b"\r"].concat(),
            [b"\0\n", Q1, b"\r"].concat(),
            b"noise".to_vec(),
            vec![0x70, 0x83, 0x9E, 0x00, 0x00, 0x00, 0x03, 0xAA],
            vec![0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10],
            vec![0x70],
        ]
    }

    proptest::proptest! {
        /// `push_owned` gives exactly what `push` gives, however the
        /// stream is cut (one message per chunk being the fast case).
        #[test]
        fn push_owned_equals_push(
            picks in proptest::collection::vec(0usize..7, 0..40),
            at_pieces in proptest::bool::ANY,
            cuts in proptest::collection::vec(0usize..600, 0..30),
            limit in 1usize..200,
        ) {
            let pieces = pieces();
            let mut stream = Vec::new();
            let mut bounds = Vec::new();
            for p in picks {
                stream.extend_from_slice(&pieces[p]);
                bounds.push(stream.len());
            }
            let mut cuts = if at_pieces { bounds } else { cuts };
            cuts.sort_unstable();
            let limit = NonZeroUsize::new(limit).unwrap();
            let ws = |owned| run(Framer::with_limit(websentry::WebSentry, limit), &stream, &cuts, owned);
            proptest::prop_assert_eq!(ws(true), ws(false));
            let ups = |owned| run(Framer::with_limit(upsilon::Upsilon::default(), limit), &stream, &cuts, owned);
            proptest::prop_assert_eq!(ups(true), ups(false));
            let po = |owned| run(Framer::with_limit(powerone::PowerOne, limit), &stream, &cuts, owned);
            proptest::prop_assert_eq!(po(true), po(false));
        }
    }
}
