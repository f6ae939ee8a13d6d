//! `Megatec` framing tests: every reply shape, leading CR/LF/NUL, empty
//! lines, the line bound (with the discard state across splits, silences and
//! stream ends), and split invariance (fixed and proptest splits).

mod support;

use support::{messages, run, skipped};

use std::num::NonZeroUsize;

use proptest::prelude::*;
use rewire_transport::framing::{Event, Framer, Megatec, SKIPPED_HEAD_LEN, SkipReason, Skipped};

/// A Q1 status line (46 bytes), as a Megatec UPS sends it before its CR.
const Q1: &[u8] = b"(230.0 230.0 230.0 012 50.0 27.2 25.1 00001000";
/// The F ratings line.
const F: &[u8] = b"#220.0 005 24.00 50.0";
/// The I info line.
const I: &[u8] = b"#REWIRE SIM      MEC0003    VSIM-1.0  ";

fn bodies(events: &[Event]) -> Vec<Vec<u8>> {
    messages(events)
        .into_iter()
        .map(|m| m.bytes.to_vec())
        .collect()
}

fn cuts_strategy(max_len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=max_len, 0..24).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// A line of `n` bytes that is not a reply.
fn long(n: usize) -> Vec<u8> {
    vec![b'A'; n]
}

/// A stream with every case: padding, CR LF, an echo, (ACK)/(NAK), an
/// overlong line with its CR, an unterminated tail.
fn mixed_stream() -> Vec<u8> {
    [
        &b"\0\0"[..],
        Q1,
        b"\r\n",
        F,
        b"\r",
        I,
        b"\r\r\r",
        b"T\r(NAK\r(ACK\r",
        &long(200),
        b"\r",
        b"\n\0",
        Q1,
        b"\r",
        &long(140),
        b"\r",
        F,
        b"\r#unterminated",
    ]
    .concat()
}

#[test]
fn every_reply_shape_is_a_line_without_its_cr() {
    let stream = [Q1, b"\r", F, b"\r", I, b"\rT05\r(NAK\r(ACK\r"].concat();
    let events = run(&mut Framer::new(Megatec::default()), &stream, &[]);
    assert!(skipped(&events).is_empty(), "{events:?}");
    let msgs = messages(&events);
    let got: Vec<(u64, &[u8])> = msgs.iter().map(|m| (m.offset, &m.bytes[..])).collect();
    assert_eq!(
        got,
        vec![
            (0, Q1),
            (47, F),
            (69, I),
            (108, &b"T05"[..]),
            (112, b"(NAK"),
            (117, b"(ACK"),
        ]
    );
}

#[test]
fn leading_cr_lf_and_nul_are_skipped_and_empty_lines_are_no_messages() {
    let stream = [&b"\0\r\n"[..], Q1, b"\r\n\0", F, b"\r\r\r\n"].concat();
    let events = run(&mut Framer::new(Megatec::default()), &stream, &[]);
    let msgs = messages(&events);
    assert_eq!(msgs.len(), 2);
    assert_eq!((msgs[0].offset, &msgs[0].bytes[..]), (3, Q1));
    assert_eq!((msgs[1].offset, &msgs[1].bytes[..]), (52, F));
    let gaps: Vec<(u64, u64)> = skipped(&events).iter().map(|s| (s.offset, s.len)).collect();
    assert_eq!(gaps, vec![(0, 3), (50, 2), (74, 3)]);
    assert!(
        skipped(&events)
            .iter()
            .all(|s| s.reason == SkipReason::Garbage)
    );
}

#[test]
fn a_line_at_the_bound_is_kept_and_one_byte_more_is_dropped_with_its_cr() {
    let framing = Megatec::new(16);
    assert_eq!(framing.max_line_len(), 16);
    let stream = [&long(16)[..], b"\r", &long(17), b"\r", b"(ACK\r"].concat();
    let events = run(&mut Framer::new(framing), &stream, &[]);
    assert_eq!(bodies(&events), vec![long(16), b"(ACK".to_vec()]);
    assert_eq!(
        skipped(&events),
        vec![Skipped {
            offset: 17,
            len: 18,
            reason: SkipReason::Garbage,
            head: stream[17..35].to_vec(),
        }]
    );
}

#[test]
fn the_tail_of_an_overlong_line_is_never_a_reply_however_it_is_split() {
    // 150 bytes arrive first (over the bound, no CR yet), then the last 50
    // and the CR: the tail alone would fit the bound, but it is garbage.
    let stream = [&long(200)[..], b"\r", Q1, b"\r"].concat();
    let whole = run(&mut Framer::new(Megatec::default()), &stream, &[]);
    assert_eq!(bodies(&whole), vec![Q1.to_vec()]);
    assert_eq!(
        skipped(&whole),
        vec![Skipped {
            offset: 0,
            len: 201,
            reason: SkipReason::Garbage,
            head: stream[..SKIPPED_HEAD_LEN].to_vec(),
        }]
    );
    for cut in [129, 150, 199, 200, 201] {
        let split = run(&mut Framer::new(Megatec::default()), &stream, &[cut]);
        assert_eq!(split, whole, "cut at {cut}");
    }
    let cuts: Vec<usize> = (1..stream.len()).collect();
    let bytewise = run(&mut Framer::new(Megatec::default()), &stream, &cuts);
    assert_eq!(bytewise, whole);
}

#[test]
fn a_silence_ends_an_overlong_line() {
    let mut framer = Framer::new(Megatec::default());
    framer.push(&long(300)).unwrap();
    assert_eq!(
        framer.buffered(),
        1,
        "the discard keeps one byte for idle/finish"
    );
    framer.idle();
    assert_eq!(framer.buffered(), 0);
    framer.push(&[Q1, b"\r"].concat()).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| framer.next()).collect();
    assert_eq!(bodies(&events), vec![Q1.to_vec()]);
    assert_eq!(
        skipped(&events),
        vec![Skipped {
            offset: 0,
            len: 300,
            reason: SkipReason::Garbage,
            head: long(300)[..SKIPPED_HEAD_LEN].to_vec(),
        }]
    );

    // Without the silence the same bytes still belong to the overlong line.
    let mut framer = Framer::new(Megatec::default());
    framer.push(&long(300)).unwrap();
    framer.push(&[Q1, b"\r", F, b"\r"].concat()).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| framer.next()).collect();
    assert_eq!(bodies(&events), vec![F.to_vec()]);
}

#[test]
fn idle_frames_complete_lines_like_scan() {
    let mut framer = Framer::new(Megatec::default());
    framer.push(&[F, b"\r(23"].concat()).unwrap();
    framer.idle();
    let events: Vec<Event> = std::iter::from_fn(|| framer.next()).collect();
    assert_eq!(bodies(&events), vec![F.to_vec()]);
    assert_eq!(framer.buffered(), 3, "a partial line waits for its CR");
}

#[test]
fn the_end_of_stream_reports_an_unterminated_line_and_ends_a_discard() {
    let mut framer = Framer::new(Megatec::default());
    let events = run(&mut framer, &[F, b"\r#unterminated"].concat(), &[]);
    assert_eq!(bodies(&events), vec![F.to_vec()]);
    assert_eq!(
        skipped(&events),
        vec![Skipped {
            offset: 22,
            len: 13,
            reason: SkipReason::Truncated,
            head: b"#unterminated".to_vec(),
        }]
    );

    // A stream that ends inside an overlong line: the next one starts afresh.
    let mut framer = Framer::new(Megatec::default());
    let first = run(&mut framer, &long(500), &[]);
    assert!(messages(&first).is_empty());
    let total: u64 = skipped(&first).iter().map(|s| s.len).sum();
    assert_eq!(total, 500);
    let second = run(&mut framer, &[Q1, b"\r"].concat(), &[]);
    assert_eq!(bodies(&second), vec![Q1.to_vec()]);
    assert_eq!(messages(&second)[0].offset, 500);
}

#[test]
fn the_mixed_stream_yields_its_replies_byte_by_byte_as_in_one_push() {
    let stream = mixed_stream();
    let whole = run(&mut Framer::new(Megatec::default()), &stream, &[]);
    assert_eq!(
        bodies(&whole),
        vec![
            Q1.to_vec(),
            F.to_vec(),
            I.to_vec(),
            b"T".to_vec(),
            b"(NAK".to_vec(),
            b"(ACK".to_vec(),
            Q1.to_vec(),
            F.to_vec(),
        ]
    );
    let cuts: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(
        run(&mut Framer::new(Megatec::default()), &stream, &cuts),
        whole
    );
}

#[test]
fn a_zero_bound_is_taken_as_one() {
    let events = run(&mut Framer::new(Megatec::new(0)), b"Q\rQ1\r", &[]);
    assert_eq!(Megatec::new(0).max_line_len(), 1);
    assert_eq!(bodies(&events), vec![b"Q".to_vec()]);
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in cuts_strategy(mixed_stream().len())) {
        let stream = mixed_stream();
        let whole = run(&mut Framer::new(Megatec::default()), &stream, &[]);
        let split = run(&mut Framer::new(Megatec::default()), &stream, &cuts);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn random_bytes_never_panic_and_lines_respect_the_bound(
        stream in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(0u8), any::<u8>()],
            0..600,
        ),
        cuts in cuts_strategy(600),
        bound in 0usize..40,
        limit in 1usize..64,
    ) {
        let cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= stream.len()).collect();
        let limit = NonZeroUsize::new(limit).expect("nonzero");
        let framing = Megatec::new(bound);
        let events = run(&mut Framer::with_limit(framing, limit), &stream, &cuts);
        let mut accounted = 0u64;
        for e in &events {
            match e {
                Event::Message(m) => {
                    prop_assert!(!m.bytes.is_empty());
                    prop_assert!(m.bytes.len() <= framing.max_line_len());
                    prop_assert!(!m.bytes.contains(&b'\r'));
                    prop_assert_eq!(stream.get(m.offset as usize + m.bytes.len()), Some(&b'\r'));
                    accounted += m.bytes.len() as u64 + 1;
                }
                Event::Skipped(s) => accounted += s.len,
            }
        }
        prop_assert_eq!(accounted, stream.len() as u64);
    }

    #[test]
    fn replies_survive_noise_lines_between_them(
        noise in proptest::collection::vec(any::<u8>().prop_filter("no CR", |b| *b != b'\r'), 0..300),
        cuts in cuts_strategy(400),
    ) {
        let stream = [&noise[..], b"\r", Q1, b"\r", &noise[..], b"\r", F, b"\r"].concat();
        let cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= stream.len()).collect();
        let events = run(&mut Framer::new(Megatec::default()), &stream, &cuts);
        let got = bodies(&events);
        let want: Vec<Vec<u8>> = [Q1, F].iter().map(|l| l.to_vec()).collect();
        let shown = |line: &[u8]| -> Vec<u8> {
            line.iter().copied().skip_while(|b| matches!(b, b'\n' | 0)).collect()
        };
        // A short noise line is a (junk) message of its own; the replies
        // always come out, in order, right after it.
        let replies: Vec<Vec<u8>> = got.iter().filter(|m| want.contains(m)).cloned().collect();
        prop_assert_eq!(replies, want);
        let line = shown(&noise);
        let kept = !line.is_empty() && line.len() <= Megatec::DEFAULT_MAX_LINE_LEN;
        prop_assert_eq!(got.len(), if kept { 4 } else { 2 });
    }
}
