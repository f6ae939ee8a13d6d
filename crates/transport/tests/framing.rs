//! Framer tests: chunking invariance (fixed and proptest splits), garbage
//! accounting with offsets, the buffer cap, idle and end-of-stream handling,
//! for the generic framer and the three protocol framings.

mod support;

use support::{messages, run, skipped};

use std::num::NonZeroUsize;

use proptest::prelude::*;
use rewire_transport::framing::{
    DEFAULT_BUFFER_LIMIT, Event, Framer, Framing, FramingErrorKind, Message, PowerOne, SkipReason,
    Skipped, Step, Upsilon, WebSentry,
};

/// Power-One "set date/time" request to module 0x01 (checksum 0x4F).
const PO_REQUEST: &[u8] = &[
    0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
];
/// The PCU's captured answer (checksum 0x10).
const PO_REPLY: &[u8] = &[0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

/// WebSentry frame with a good CRC: magic, CRC, length 1, payload 0x08.
const WS_GOOD: &[u8] = &[0x70, 0x83, 0x9E, 0x86, 0xBE, 0x00, 0x01, 0x08];
/// Same header with another payload byte: the CRC no longer matches.
const WS_BAD_CRC: &[u8] = &[0x70, 0x83, 0x9E, 0x86, 0xBE, 0x00, 0x01, 0x09];
/// A three-byte payload (CRC not checked by the framing).
const WS_LONGER: &[u8] = &[0x70, 0x83, 0x9E, 0x00, 0x00, 0x00, 0x03, 0xAA, 0xBB, 0xCC];

const Q1: &[u8] = b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000";
const Q1_OTHER: &[u8] = b"(230.0 230.0 230.0 000 50.0 13.6 --.- 00001000";

fn po_stream() -> Vec<u8> {
    [
        &[0x13, 0x00][..],
        PO_REQUEST,
        &[0xFF, 0x02, 0x55],
        PO_REPLY,
        PO_REPLY,
        &[0xAA],
        PO_REQUEST,
        &[0x01, 0xFF, 0x03],
    ]
    .concat()
}

fn ws_stream() -> Vec<u8> {
    [
        &[0xDE, 0xAD][..],
        WS_GOOD,
        &[0x70, 0x83, 0x00],
        WS_BAD_CRC,
        WS_LONGER,
        &[0x70, 0x83, 0x9E, 0x00, 0x00],
        WS_GOOD,
        &[0x70],
    ]
    .concat()
}

fn ups_stream() -> Vec<u8> {
    [
        &b"\0\0"[..],
        Q1,
        b"\r",
        b"noise",
        Q1_OTHER,
        b"\r\n",
        Q1,
        Q1_OTHER,
        b"\r",
        Q1,
    ]
    .concat()
}

/// Checks that messages and skipped runs tile the stream without gaps or
/// overlaps (true for framings whose message is the whole consumed span).
fn assert_tiles(events: &[Event], total: usize) {
    let mut at = 0u64;
    for e in events {
        let (offset, len) = match e {
            Event::Message(m) => (m.offset, m.bytes.len() as u64),
            Event::Skipped(s) => (s.offset, s.len),
        };
        assert_eq!(offset, at, "gap or overlap before {e:?}");
        at += len;
    }
    assert_eq!(at, total as u64);
}

fn cuts_strategy(max_len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=max_len, 0..24).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

#[test]
fn powerone_frames_and_garbage_with_offsets() {
    let stream = po_stream();
    let events = run(&mut Framer::new(PowerOne), &stream, &[]);
    let msgs = messages(&events);
    let bytes: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    assert_eq!(bytes, [PO_REQUEST, PO_REPLY, PO_REPLY, PO_REQUEST]);
    assert_eq!(msgs[0].offset, 2);
    assert_eq!(msgs[1].offset, 2 + 13 + 3);
    let garbage = skipped(&events);
    assert_eq!(
        garbage,
        [
            Skipped {
                offset: 0,
                len: 2,
                reason: SkipReason::Garbage,
                head: stream[0..2].to_vec(),
            },
            Skipped {
                offset: 15,
                len: 3,
                reason: SkipReason::Garbage,
                head: stream[15..18].to_vec(),
            },
            Skipped {
                offset: 34,
                len: 1,
                reason: SkipReason::Garbage,
                head: stream[34..35].to_vec(),
            },
            // The trailing bytes: `01` is garbage, `FF 03` ends the stream
            // as noise that the idle scan at the end passes over.
            Skipped {
                offset: 48,
                len: 3,
                reason: SkipReason::Garbage,
                head: stream[48..51].to_vec(),
            },
        ]
    );
    assert_tiles(&events, stream.len());
}

#[test]
fn byte_by_byte_equals_one_push_for_every_protocol() {
    let po = po_stream();
    let all: Vec<usize> = (1..po.len()).collect();
    assert_eq!(
        run(&mut Framer::new(PowerOne), &po, &all),
        run(&mut Framer::new(PowerOne), &po, &[])
    );
    let ws = ws_stream();
    let all: Vec<usize> = (1..ws.len()).collect();
    assert_eq!(
        run(&mut Framer::new(WebSentry), &ws, &all),
        run(&mut Framer::new(WebSentry), &ws, &[])
    );
    let ups = ups_stream();
    let all: Vec<usize> = (1..ups.len()).collect();
    // Padding (NUL, CR, LF) is never garbage, so for UPSilon too the whole
    // event list, skipped runs included, is independent of the split.
    assert_eq!(
        run(&mut Framer::new(Upsilon::default()), &ups, &all),
        run(&mut Framer::new(Upsilon::default()), &ups, &[])
    );
}

#[test]
fn upsilon_padding_is_consumed_silently_and_noise_is_reported() {
    let ups = ups_stream();
    let noise_at = (2 + Q1.len() + 1) as u64;
    let cuts: Vec<usize> = (1..ups.len()).collect();
    for cuts in [&[][..], &cuts[..]] {
        let mut framer = Framer::new(Upsilon::default());
        let events = run(&mut framer, &ups, cuts);
        assert_eq!(
            skipped(&events),
            [Skipped {
                offset: noise_at,
                len: 5,
                reason: SkipReason::Garbage,
                head: b"noise".to_vec(),
            }],
            "cuts {cuts:?}"
        );
        assert_eq!(framer.garbage_bytes(), 5);
        assert_eq!(messages(&events).len(), 5);
    }
}

#[test]
fn websentry_yields_bad_crc_frames_and_skips_false_magic() {
    let stream = ws_stream();
    let events = run(&mut Framer::new(WebSentry), &stream, &[]);
    let msgs = messages(&events);
    let bytes: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    assert_eq!(bytes, [WS_GOOD, WS_BAD_CRC, WS_LONGER, WS_GOOD]);
    let crc_ok: Vec<bool> = msgs
        .iter()
        .map(|m| rewire_websentry::Frame::new_checked(m.as_slice()).is_ok_and(|f| f.checksum_ok()))
        .collect();
    assert_eq!(crc_ok, [true, false, false, true]);
    assert_eq!(msgs[1].offset, 2 + 8 + 3);
    let last = skipped(&events).pop().expect("a tail");
    assert_eq!(
        last.reason,
        SkipReason::Truncated,
        "a lone magic byte at the end"
    );
    assert_eq!((last.offset, last.len), (stream.len() as u64 - 1, 1));
    assert_tiles(&events, stream.len());
}

#[test]
fn upsilon_records_without_terminators_and_the_unterminated_last_one() {
    let stream = ups_stream();
    let mut framer = Framer::new(Upsilon::default());
    let events = run(&mut framer, &stream, &[]);
    let msgs = messages(&events);
    let bytes: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    // The last Q1 has no terminator: only end of stream completes it.
    assert_eq!(bytes, [Q1, Q1_OTHER, Q1, Q1_OTHER, Q1]);
    assert_eq!(msgs[0].offset, 2);
    assert_eq!(msgs[1].offset, (2 + Q1.len() + 1 + 5) as u64);
    for m in &msgs {
        assert!(rewire_upsilon::Status::parse(&m.bytes).is_ok(), "{m:?}");
    }
    // The two leading NULs are padding, consumed silently; "noise" is garbage.
    assert_eq!(
        skipped(&events),
        [Skipped {
            offset: (2 + Q1.len() + 1) as u64,
            len: 5,
            reason: SkipReason::Garbage,
            head: b"noise".to_vec(),
        }]
    );
    assert_eq!(framer.garbage_bytes(), 5);
    assert_eq!(framer.message_count(), 5);
}

#[test]
fn upsilon_overlong_record_is_skipped_by_its_bound() {
    let mut stream = b"(".to_vec();
    stream.extend(std::iter::repeat_n(b'7', 40));
    stream.extend_from_slice(b"\r(1 2\r");
    let events = run(&mut Framer::new(Upsilon::new(16)), &stream, &[]);
    let msgs = messages(&events);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].bytes[..], b"(1 2"[..]);
    assert_eq!(msgs[0].offset, 42);
    assert_eq!(skipped(&events)[0].len, 42);
}

#[test]
fn powerone_idle_passes_over_a_false_start() {
    // A noise 0xFF makes a candidate claiming 255 bytes; the reply behind it
    // only comes out once the line is idle (or the stream ends).
    let stream = [&[0xFF][..], PO_REPLY].concat();
    let mut framer = Framer::new(PowerOne);
    framer.push(&stream).expect("push");
    assert_eq!(framer.next(), None);
    framer.idle();
    assert_eq!(
        framer.next(),
        Some(Event::Skipped(Skipped {
            offset: 0,
            len: 1,
            reason: SkipReason::Garbage,
            head: vec![0xFF],
        }))
    );
    assert_eq!(
        framer.next(),
        Some(Event::Message(Message {
            offset: 1,
            bytes: PO_REPLY.to_vec().into()
        }))
    );
    assert_eq!(framer.next(), None);
    assert_eq!(framer.buffered(), 0);
}

#[test]
fn finish_reports_a_truncated_tail_and_the_framer_continues() {
    let mut framer = Framer::new(PowerOne);
    framer.push(&PO_REPLY[..5]).expect("push");
    framer.finish();
    assert_eq!(
        framer.next(),
        Some(Event::Skipped(Skipped {
            offset: 0,
            len: 5,
            reason: SkipReason::Truncated,
            head: PO_REPLY[..5].to_vec(),
        }))
    );
    assert_eq!(framer.next(), None);
    // A new stream (say, after a reconnect) keeps counting offsets.
    framer.push(PO_REPLY).expect("push");
    assert_eq!(
        framer.next(),
        Some(Event::Message(Message {
            offset: 5,
            bytes: PO_REPLY.to_vec().into()
        }))
    );
    assert_eq!(framer.stream_offset(), 13);
    assert_eq!(framer.garbage_bytes(), 5);
}

#[test]
fn clear_drops_pending_bytes_silently() {
    let mut framer = Framer::new(PowerOne);
    framer.push(&[0x00, 0xFF, 0x08]).expect("push");
    framer.clear();
    assert_eq!(framer.buffered(), 0);
    assert_eq!(framer.next(), None);
    framer.push(PO_REPLY).expect("push");
    assert_eq!(
        framer.next(),
        Some(Event::Message(Message {
            offset: 3,
            bytes: PO_REPLY.to_vec().into()
        }))
    );
}

/// A framing that never completes a message and never calls anything garbage.
struct Endless;

impl Framing for Endless {
    fn scan(&mut self, _buf: &[u8]) -> Step {
        Step::Partial { skipped: 0 }
    }
}

/// Lines ending in `\n`; bytes before an `@` sync byte are garbage.
struct SyncLines;

impl Framing for SyncLines {
    fn scan(&mut self, buf: &[u8]) -> Step {
        let Some(start) = buf.iter().position(|&b| b == b'@') else {
            return Step::Partial { skipped: buf.len() };
        };
        match buf[start..].iter().position(|&b| b == b'\n') {
            Some(end) => Step::Found {
                skipped: start,
                len: end + 1,
                message: start..start + end,
            },
            None => Step::Partial { skipped: start },
        }
    }
}

#[test]
fn the_cap_discards_an_oversize_message_to_the_next_sync_byte() {
    let limit = NonZeroUsize::new(16).expect("nonzero");
    let mut framer = Framer::with_limit(SyncLines, limit);
    let mut stream = b"@".to_vec();
    stream.extend(std::iter::repeat_n(b'x', 40));
    stream.extend_from_slice(b"@ok\n");
    let err = framer.push(&stream).expect_err("oversize");
    assert_eq!(err.offset(), 0);
    assert_eq!(
        err.kind(),
        FramingErrorKind::Oversize {
            limit: 16,
            discarded: 41
        }
    );
    assert!(err.to_string().contains("16-byte"));
    assert_eq!(
        framer.next(),
        Some(Event::Skipped(Skipped {
            offset: 0,
            len: 41,
            reason: SkipReason::Oversize,
            head: stream[..rewire_transport::framing::SKIPPED_HEAD_LEN].to_vec(),
        }))
    );
    assert_eq!(
        framer.next(),
        Some(Event::Message(Message {
            offset: 41,
            bytes: b"@ok".to_vec().into()
        }))
    );
    assert_eq!(framer.garbage_bytes(), 41);
    // A message of exactly the limit still fits.
    let mut exact = b"@".to_vec();
    exact.extend(std::iter::repeat_n(b'y', 14));
    exact.push(b'\n');
    framer.push(&exact).expect("fits");
    assert!(matches!(framer.next(), Some(Event::Message(m)) if m.bytes.len() == 15));
}

#[test]
fn runaway_input_never_grows_the_buffer() {
    let mut framer = Framer::new(Endless);
    assert_eq!(framer.limit(), DEFAULT_BUFFER_LIMIT);
    let chunk = vec![0x42; 10_000];
    let mut errors = 0;
    for _ in 0..30 {
        if framer.push(&chunk).is_err() {
            errors += 1;
        }
        assert!(framer.buffered() <= DEFAULT_BUFFER_LIMIT);
    }
    assert!(errors > 0);
    assert_eq!(framer.garbage_bytes() + framer.buffered() as u64, 300_000);
    // One big chunk behaves the same.
    let mut framer = Framer::new(Endless);
    let err = framer.push(&vec![0; 200_000]).expect_err("oversize");
    assert!(matches!(err.kind(), FramingErrorKind::Oversize { discarded, .. } if discarded > 0));
    assert!(framer.buffered() <= DEFAULT_BUFFER_LIMIT);
    // Every byte discarded is reported (the run ends at end of stream).
    framer.finish();
    let total: u64 = std::iter::from_fn(|| framer.next())
        .map(|e| match e {
            Event::Skipped(s) => s.len,
            Event::Message(_) => 0,
        })
        .sum();
    assert_eq!(total, framer.garbage_bytes());
}

/// A framing that answers nonsense: the framer must not panic or loop.
struct Liar(usize);

impl Framing for Liar {
    fn scan(&mut self, buf: &[u8]) -> Step {
        self.0 += 1;
        match self.0 % 4 {
            0 => Step::Found {
                skipped: usize::MAX,
                len: 3,
                message: 0..1,
            },
            1 => Step::Found {
                skipped: 0,
                len: buf.len() + 10,
                message: 0..1,
            },
            2 => Step::Found {
                skipped: 1,
                len: 1,
                message: 0..5,
            },
            _ => Step::Partial {
                skipped: usize::MAX,
            },
        }
    }
}

#[test]
fn a_misbehaving_framing_degrades_into_skipped_bytes() {
    let mut framer = Framer::new(Liar(0));
    for _ in 0..50 {
        let _ = framer.push(b"abcdefgh");
    }
    framer.finish();
    assert_eq!(framer.message_count(), 0);
    assert_eq!(framer.garbage_bytes(), 400);
    assert_eq!(framer.buffered(), 0);
}

proptest! {
    #[test]
    fn powerone_any_split_gives_the_same_events(cuts in cuts_strategy(po_stream().len())) {
        let stream = po_stream();
        let whole = run(&mut Framer::new(PowerOne), &stream, &[]);
        let split = run(&mut Framer::new(PowerOne), &stream, &cuts);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn websentry_any_split_gives_the_same_events(cuts in cuts_strategy(ws_stream().len())) {
        let stream = ws_stream();
        let whole = run(&mut Framer::new(WebSentry), &stream, &[]);
        let split = run(&mut Framer::new(WebSentry), &stream, &cuts);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn upsilon_any_split_gives_the_same_messages(cuts in cuts_strategy(ups_stream().len())) {
        let stream = ups_stream();
        let whole = run(&mut Framer::new(Upsilon::default()), &stream, &[]);
        let split = run(&mut Framer::new(Upsilon::default()), &stream, &cuts);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_bytes_with_a_small_cap_never_panic_and_tile_the_stream(
        stream in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in cuts_strategy(600),
        limit in 1usize..64,
    ) {
        let cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= stream.len()).collect();
        let limit = NonZeroUsize::new(limit).expect("nonzero");
        let po = run(&mut Framer::with_limit(PowerOne, limit), &stream, &cuts);
        assert_tiles(&po, stream.len());
        let ws = run(&mut Framer::with_limit(WebSentry, limit), &stream, &cuts);
        assert_tiles(&ws, stream.len());
        let _ = run(&mut Framer::with_limit(Upsilon::new(32), limit), &stream, &cuts);
    }

    #[test]
    fn frames_survive_noise_between_them(
        noise in proptest::collection::vec(any::<u8>().prop_filter("no flag", |b| *b != 0xFF), 0..40),
        cuts in cuts_strategy(120),
    ) {
        let stream = [&noise[..], PO_REQUEST, &noise[..], PO_REPLY].concat();
        let cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= stream.len()).collect();
        let events = run(&mut Framer::new(PowerOne), &stream, &cuts);
        let msgs = messages(&events);
        prop_assert_eq!(msgs.len(), 2);
        prop_assert_eq!(&msgs[0].bytes[..], PO_REQUEST);
        prop_assert_eq!(msgs[0].offset, noise.len() as u64);
        prop_assert_eq!(&msgs[1].bytes[..], PO_REPLY);
        assert_tiles(&events, stream.len());
    }
}
