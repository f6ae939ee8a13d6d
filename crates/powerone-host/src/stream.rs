//! Turns a byte stream into records: frames from the transport's Power-One
//! framer, and error records for what it skipped, with a frame whose only
//! fault is its checksum told apart from line noise.

use rewire_powerone::{CONTROL, Frame, NO_REPLY, REPLY_REQUIRED};
use rewire_transport::framing::{Event, Framer, PowerOne, SkipReason, Skipped};

use crate::record::{Codes, Context, ErrorReason, ErrorRecord, FrameRecord, MAX_RAW_BYTES, Record};

/// Bytes of stream history kept to show skipped runs (beyond the framer's
/// own buffer); older bytes of a very long garbage run are forgotten.
const HISTORY_LIMIT: usize = 256 * 1024;

/// The bytes of one stream that no record has covered yet, addressed by
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

    /// Turns one framer event into records (a frame, or the error records of
    /// a skipped run) and forgets the bytes it covered.
    pub fn records(&mut self, event: Event, context: &Context, codes: Codes) -> Vec<Record> {
        match event {
            Event::Message(m) => {
                let end = m.offset + m.bytes.len() as u64;
                self.forget_before(end);
                vec![Record::Frame(FrameRecord::from_bytes(
                    &m.bytes,
                    context.clone(),
                    Some(m.offset),
                    codes,
                ))]
            }
            Event::Skipped(s) => {
                let records = skipped_records(&s, self.run(s.offset, s.len), codes)
                    .into_iter()
                    .map(|mut r| {
                        r.context = context.clone();
                        Record::Error(r)
                    })
                    .collect();
                self.forget_before(s.offset + s.len);
                records
            }
        }
    }
}

/// Decodes one direction of a byte stream into [`Record`]s, in stream order.
#[derive(Debug)]
pub struct StreamDecoder {
    framer: Framer<PowerOne>,
    history: History,
    codes: Codes,
}

impl StreamDecoder {
    /// Creates a decoder; `codes` names the functions the evidence does not.
    #[must_use]
    pub fn new(codes: Codes) -> Self {
        Self {
            framer: Framer::new(PowerOne),
            history: History::default(),
            codes,
        }
    }

    /// Feeds the next chunk and returns the records it completes; each
    /// gets `context`.
    pub fn push(&mut self, chunk: &[u8], context: &Context) -> Vec<Record> {
        self.history.push(chunk);
        // An oversize discard is also reported as a skipped event.
        let _ = self.framer.push(chunk);
        self.drain(context)
    }

    /// Tells the decoder the line went quiet (so a stray 0xFF cannot hold a
    /// frame back) and returns what that completes.
    pub fn idle(&mut self, context: &Context) -> Vec<Record> {
        self.framer.idle();
        self.drain(context)
    }

    /// Ends the stream and returns the last records (a truncated tail
    /// becomes an error record).
    pub fn finish(&mut self, context: &Context) -> Vec<Record> {
        self.framer.finish();
        self.drain(context)
    }

    /// Returns how many bytes were skipped so far.
    #[must_use]
    pub fn garbage_bytes(&self) -> u64 {
        self.framer.garbage_bytes()
    }

    fn drain(&mut self, context: &Context) -> Vec<Record> {
        let mut out = Vec::new();
        while let Some(event) = self.framer.next() {
            out.extend(self.history.records(event, context, self.codes));
        }
        out
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
        && !frame.verify_checksum();
    plausible.then(|| frame.frame_len())
}

/// Splits a skipped run into error records: damaged frames (bad checksum)
/// and the noise around them. `bytes` may be shorter than the run when its
/// start was forgotten; the offsets stay exact for the part shown.
fn skipped_records(s: &Skipped, bytes: &[u8], codes: Codes) -> Vec<ErrorRecord> {
    let reason = match s.reason {
        SkipReason::Garbage => ErrorReason::Garbage,
        SkipReason::Oversize => ErrorReason::Oversize,
        _ => ErrorReason::Truncated,
    };
    let lost = s.len.saturating_sub(bytes.len() as u64);
    let base = s.offset + lost;
    let mut records = Vec::new();
    if reason != ErrorReason::Garbage {
        records.push(error_record(
            s.offset,
            s.len,
            reason,
            bytes,
            detail_for(reason, s.len),
        ));
        return records;
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
            &mut records,
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
        let mut record = error_record(
            at,
            len as u64,
            ErrorReason::BadChecksum,
            frame_bytes,
            detail,
        );
        record.frame = Some(Box::new(FrameRecord::from_bytes(
            frame_bytes,
            Context::default(),
            Some(at),
            codes,
        )));
        records.push(record);
        i += len;
        noise_start = base + i as u64;
        noise_from = i;
    }
    push_noise(
        &mut records,
        noise_start,
        end,
        bytes.get(noise_from..).unwrap_or_default(),
    );
    records
}

/// Adds a garbage record for the noise from `from` up to `until`, if any.
fn push_noise(records: &mut Vec<ErrorRecord>, from: u64, until: u64, shown: &[u8]) {
    if until > from {
        let length = until - from;
        records.push(error_record(
            from,
            length,
            ErrorReason::Garbage,
            shown,
            detail_for(ErrorReason::Garbage, length),
        ));
    }
}

fn detail_for(reason: ErrorReason, len: u64) -> String {
    match reason {
        ErrorReason::Garbage => format!("{len} bytes that begin no valid frame"),
        ErrorReason::Truncated => "the stream ended inside a would-be frame".to_owned(),
        ErrorReason::Oversize => "a would-be frame outgrew the buffer".to_owned(),
        ErrorReason::BadChecksum | ErrorReason::Gap => String::new(),
    }
}

fn error_record(
    offset: u64,
    length: u64,
    reason: ErrorReason,
    bytes: &[u8],
    detail: String,
) -> ErrorRecord {
    let shown = bytes.get(..MAX_RAW_BYTES).unwrap_or(bytes);
    ErrorRecord {
        context: Context::default(),
        offset,
        length,
        reason,
        detail,
        raw: hex::encode(shown),
        raw_truncated: (shown.len() as u64) < length,
        frame: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET_TIME: [u8; 13] = [
        0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
    ];
    const TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

    fn all(stream: &[u8], chunk: usize) -> Vec<Record> {
        let mut d = StreamDecoder::new(Codes::default());
        let ctx = Context::default();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            out.extend(d.push(piece, &ctx));
        }
        out.extend(d.finish(&ctx));
        out
    }

    fn summary(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| match r {
                Record::Frame(f) => format!("frame@{} f{}", f.offset.unwrap(), f.function),
                Record::Error(e) => format!("{}@{}+{}", e.reason, e.offset, e.length),
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
        let records = all(&stream, 64);
        let Record::Error(e) = &records[2] else {
            panic!()
        };
        assert_eq!(e.detail, "checksum 0x11, expected 0x10");
        assert_eq!(e.raw, "ff08000100010711");
        assert!(!e.frame.as_ref().unwrap().checksum_ok);
    }

    #[test]
    fn noise_ff_is_not_called_a_bad_frame() {
        // 0xFF 0x08 then bytes whose control byte is not 0x01.
        let stream = [0xFF, 0x08, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0xAA];
        let records = all(&stream, 4);
        assert_eq!(summary(&records), ["garbage@0+9"]);
    }
}
