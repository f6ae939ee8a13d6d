//! Turns a byte stream into messages: frames from the transport's Power-One
//! framer, and skipped runs for what it left, with a frame whose only fault
//! is its checksum told apart from line noise.

use rewire_host::reading::DeviceId;
use rewire_host::record::RAW_LIMIT;
use rewire_powerone::{CONTROL, Frame, NO_REPLY, REPLY_REQUIRED};
use rewire_transport::framing::{self, Event, Framer, PowerOne};

use crate::message::{Body, Codes, FrameSeen, Message, Seen, SkipReason, Skipped};

/// Bytes of stream history kept to show skipped runs (beyond the framer's
/// own buffer); older bytes of a very long garbage run are forgotten.
const HISTORY_LIMIT: usize = 256 * 1024;

/// The bytes of one stream that no message has covered yet, addressed by
/// stream offset, so a skipped run can be shown and examined.
#[derive(Debug, Default)]
pub struct History {
    bytes: Vec<u8>,
    start: u64,
}

impl History {
    /// Appends the stream's next bytes (forgetting the oldest beyond the
    /// limit).
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > HISTORY_LIMIT {
            let drop = self.bytes.len() - HISTORY_LIMIT;
            self.bytes.drain(..drop);
            self.start += drop as u64;
        }
    }

    /// Returns the kept bytes of the run at `offset`, `len` bytes long (all
    /// of it unless the run outgrew the history).
    #[must_use]
    pub fn run(&self, offset: u64, len: u64) -> &[u8] {
        let index = |at: u64| {
            usize::try_from(at.saturating_sub(self.start))
                .unwrap_or(usize::MAX)
                .min(self.bytes.len())
        };
        self.bytes
            .get(index(offset)..index(offset.saturating_add(len)))
            .unwrap_or_default()
    }

    /// Forgets the bytes before stream offset `offset`.
    pub fn forget_before(&mut self, offset: u64) {
        let n = usize::try_from(offset.saturating_sub(self.start))
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        self.bytes.drain(..n);
        self.start += n as u64;
    }

    /// Turns one framer event into messages (a frame, or the skipped runs
    /// of a skipped range) and forgets the bytes it covered.
    pub fn messages(
        &mut self,
        event: Event,
        device: &DeviceId,
        seen: &Seen,
        codes: Codes,
        out: &mut Vec<Message>,
    ) {
        let message = |body| Message {
            device: device.clone(),
            seen: seen.clone(),
            body,
        };
        match event {
            Event::Message(m) => {
                let end = m.offset + m.bytes.len() as u64;
                self.forget_before(end);
                out.push(message(Body::Frame(FrameSeen::new(
                    m.bytes,
                    Some(m.offset),
                    codes,
                ))));
            }
            Event::Skipped(s) => {
                out.extend(
                    skipped(&s, self.run(s.offset, s.len))
                        .into_iter()
                        .map(|k| message(Body::Skipped(k))),
                );
                self.forget_before(s.offset + s.len);
            }
        }
    }
}

/// Decodes one direction of a live byte stream into [`Message`]s, in
/// stream order.
#[derive(Debug)]
pub struct StreamDecoder {
    framer: Framer<PowerOne>,
    history: History,
    codes: Codes,
    device: DeviceId,
}

impl StreamDecoder {
    /// Creates a decoder for the line of `device`; `codes` names the
    /// functions the evidence does not.
    #[must_use]
    pub fn new(device: DeviceId, codes: Codes) -> Self {
        Self {
            framer: Framer::new(PowerOne),
            history: History::default(),
            codes,
            device,
        }
    }

    /// Feeds the next chunk and appends the messages it completes to `out`;
    /// each gets `seen`.
    pub fn push(&mut self, chunk: &[u8], seen: &Seen, out: &mut Vec<Message>) {
        self.history.push(chunk);
        // An oversize discard is also reported as a skipped event.
        let _ = self.framer.push(chunk);
        self.drain(seen, out);
    }

    /// Tells the decoder the line went quiet (so a stray 0xFF cannot hold a
    /// frame back) and appends what that completes.
    pub fn idle(&mut self, seen: &Seen, out: &mut Vec<Message>) {
        self.framer.idle();
        self.drain(seen, out);
    }

    /// Ends the stream and appends the last messages (a truncated tail
    /// becomes a skipped run).
    pub fn finish(&mut self, seen: &Seen, out: &mut Vec<Message>) {
        self.framer.finish();
        self.drain(seen, out);
    }

    /// Returns how many bytes were skipped so far.
    #[must_use]
    pub fn garbage_bytes(&self) -> u64 {
        self.framer.garbage_bytes()
    }

    fn drain(&mut self, seen: &Seen, out: &mut Vec<Message>) {
        while let Some(event) = self.framer.next() {
            self.history
                .messages(event, &self.device, seen, self.codes, out);
        }
    }
}

/// Returns whether `bytes` starts with a frame that is well formed (length
/// in range and present, reply flag 0x00/0x01, control 0x01) but whose
/// checksum is wrong, and its length.
///
/// The reply-flag and control tests keep a noise 0xFF from being reported
/// as a damaged frame: every captured frame has those values.
fn bad_checksum_frame(bytes: &[u8]) -> Option<usize> {
    let frame = Frame::new_checked(bytes).ok()?;
    let plausible = matches!(frame.reply_flag(), NO_REPLY | REPLY_REQUIRED)
        && frame.control() == CONTROL
        && !frame.checksum_ok();
    plausible.then(|| frame.frame_len())
}

/// Splits a skipped range into runs: damaged frames (bad checksum) and the
/// noise around them. `bytes` may be shorter than the range when its start
/// was forgotten; the offsets stay exact for the part shown.
fn skipped(s: &framing::Skipped, bytes: &[u8]) -> Vec<Skipped> {
    let reason = match s.reason {
        framing::SkipReason::Garbage => SkipReason::Garbage,
        framing::SkipReason::Oversize => SkipReason::Oversize,
        _ => SkipReason::Truncated,
    };
    let lost = s.len.saturating_sub(bytes.len() as u64);
    let base = s.offset + lost;
    let mut runs = Vec::new();
    if reason != SkipReason::Garbage {
        runs.push(run(
            s.offset,
            s.len,
            reason,
            bytes,
            detail_for(reason, s.len),
        ));
        return runs;
    }
    let end = s.offset + s.len;
    // Noise not yet reported: from stream offset `noise_start`, shown from `bytes[noise_from..]`.
    let mut noise_start = s.offset;
    let mut noise_from = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        let Some(len) = bad_checksum_frame(rest) else {
            i += 1;
            continue;
        };
        let at = base + i as u64;
        push_noise(
            &mut runs,
            noise_start,
            at,
            bytes.get(noise_from..i).unwrap_or_default(),
        );
        let frame_bytes = rest.get(..len).unwrap_or_default();
        let frame = Frame::new_unchecked(frame_bytes);
        let detail = format!(
            "checksum {:#04x}, expected {:#04x}",
            frame.checksum(),
            frame.computed_checksum()
        );
        runs.push(run(
            at,
            len as u64,
            SkipReason::BadChecksum,
            frame_bytes,
            detail,
        ));
        i += len;
        noise_start = base + i as u64;
        noise_from = i;
    }
    push_noise(
        &mut runs,
        noise_start,
        end,
        bytes.get(noise_from..).unwrap_or_default(),
    );
    runs
}

/// Adds a garbage run for the noise from `from` up to `until`, if any.
fn push_noise(runs: &mut Vec<Skipped>, from: u64, until: u64, shown: &[u8]) {
    if until > from {
        let length = until - from;
        runs.push(run(
            from,
            length,
            SkipReason::Garbage,
            shown,
            detail_for(SkipReason::Garbage, length),
        ));
    }
}

fn detail_for(reason: SkipReason, len: u64) -> String {
    match reason {
        SkipReason::Garbage => format!("{len} bytes that begin no valid frame"),
        SkipReason::Truncated => "the stream ended inside a would-be frame".to_owned(),
        SkipReason::Oversize => "a would-be frame outgrew the buffer".to_owned(),
        SkipReason::BadChecksum | SkipReason::Gap => String::new(),
    }
}

fn run(offset: u64, len: u64, reason: SkipReason, bytes: &[u8], detail: String) -> Skipped {
    Skipped {
        reason,
        offset,
        len,
        bytes: bytes.get(..RAW_LIMIT).unwrap_or(bytes).to_vec(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::device;

    const SET_TIME: [u8; 13] = [
        0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
    ];
    const TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

    fn all(stream: &[u8], chunk: usize) -> Vec<Message> {
        let mut d = StreamDecoder::new(device("test"), Codes::default());
        let seen = Seen::default();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            d.push(piece, &seen, &mut out);
        }
        d.finish(&seen, &mut out);
        out
    }

    fn summary(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match &m.body {
                Body::Frame(f) => format!("frame@{} f{}", f.offset.unwrap(), f.frame.function().0),
                Body::Skipped(e) => format!("{}@{}+{}", e.reason, e.offset, e.len),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn interleaved_frames_noise_and_a_bad_checksum_in_order() {
        let mut bad = TIME_SET;
        bad[7] = 0x11;
        let mut stream = Vec::new();
        stream.extend_from_slice(&SET_TIME); // 0..13
        stream.extend_from_slice(&[0x13, 0x37]); // 13..15 noise
        stream.extend_from_slice(&bad); // 15..23 damaged reply
        stream.extend_from_slice(&SET_TIME); // 23..36
        stream.extend_from_slice(&TIME_SET); // 36..44
        stream.extend_from_slice(&[0xFF, 0x20, 0x01]); // 44..47 truncated tail
        let want = [
            "frame@0 f7",
            "garbage@13+2",
            "bad checksum@15+8",
            "frame@23 f7",
            "frame@36 f7",
            "truncated@44+3",
        ];
        for chunk in [1, 3, 7, 64] {
            assert_eq!(summary(&all(&stream, chunk)), want, "chunk {chunk}");
        }
        let messages = all(&stream, 64);
        let Body::Skipped(e) = &messages[2].body else {
            panic!()
        };
        assert_eq!(e.detail, "checksum 0x11, expected 0x10");
        assert_eq!(e.bytes, bad);
    }

    #[test]
    fn noise_ff_is_not_called_a_bad_frame() {
        // 0xFF 0x08 then bytes whose control byte is not 0x01.
        let stream = [0xFF, 0x08, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0xAA];
        assert_eq!(summary(&all(&stream, 4)), ["garbage@0+9"]);
    }
}
