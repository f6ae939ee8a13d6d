//! Property tests and the fuzz-corpus replay for `rewire-powerone`.

use proptest::prelude::*;
use rewire_powerone::{
    DateTime, Error, Frame, FunctionCode, MAX_DATA_LEN, MIN_FRAME_LEN, Password, PasswordCheck,
    Repr, Scan, parse, scan, scan_idle,
};

/// A frame found by feeding a stream: where it started in the stream and its
/// bytes.
type Found = (usize, Vec<u8>);

/// Feeds `stream` to the scanner in the pieces `cuts` makes, like a
/// streaming consumer: keep the unconsumed bytes, append the next piece,
/// scan until `Partial`. At the end, when `flush` is set, drains what is
/// left with `scan_idle` as a transport does when the line goes quiet.
/// Returns the frames with their stream offsets and the garbage count.
fn feed(stream: &[u8], cuts: &[usize], flush: bool) -> (Vec<Found>, usize) {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    bounds.push(stream.len());
    bounds.sort_unstable();
    let mut pending: Vec<u8> = Vec::new();
    let mut consumed = 0; // stream offset of pending[0]
    let mut fed = 0;
    let mut frames = Vec::new();
    let mut garbage = 0;
    let drain = |pending: &mut Vec<u8>,
                 consumed: &mut usize,
                 frames: &mut Vec<Found>,
                 garbage: &mut usize,
                 idle: bool| loop {
        let outcome = if idle {
            scan_idle(pending)
        } else {
            scan(pending)
        };
        match outcome {
            Scan::Found {
                skipped,
                len,
                message,
            } => {
                assert!(message.checksum_ok(), "scanner yielded a bad frame");
                assert_eq!(message.frame_len(), len);
                assert_eq!(message.as_bytes(), &pending[skipped..skipped + len]);
                frames.push((*consumed + skipped, message.as_bytes().to_vec()));
                *garbage += skipped;
                pending.drain(..skipped + len);
                *consumed += skipped + len;
            }
            Scan::Partial { skipped } => {
                assert!(skipped <= pending.len());
                *garbage += skipped;
                pending.drain(..skipped);
                *consumed += skipped;
                return;
            }
        }
    };
    for bound in bounds {
        pending.extend_from_slice(&stream[fed..bound]);
        fed = bound;
        drain(
            &mut pending,
            &mut consumed,
            &mut frames,
            &mut garbage,
            false,
        );
    }
    if flush {
        drain(&mut pending, &mut consumed, &mut frames, &mut garbage, true);
    }
    (frames, garbage)
}

fn any_repr_parts() -> impl Strategy<Value = (u8, u8, u8, u8, u8, Vec<u8>)> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..=MAX_DATA_LEN),
    )
}

fn emit(repr: &Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut buf).expect("emit");
    assert_eq!(n, buf.len());
    buf
}

/// Valid frames (as bytes) built from arbitrary fields.
fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..=40),
    )
        .prop_map(|(dst, src, reply, function, data)| {
            emit(&Repr {
                destination: dst,
                source: src,
                reply_flag: reply,
                control: 0x01,
                function: FunctionCode(function),
                data: &data,
            })
        })
}

/// Noise that cannot be mistaken for a frame start: any 0xFF in it is
/// followed by an impossible length (below 8) and it never ends in 0xFF.
fn benign_noise() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(|mut noise| {
        let mut i = 0;
        while i < noise.len() {
            if noise[i] == 0xFF {
                match noise.get(i + 1) {
                    Some(&next) => noise[i + 1] = next % MIN_FRAME_LEN as u8,
                    None => noise[i] = 0x00,
                }
                i += 1;
            }
            i += 1;
        }
        noise
    })
}

fn arbitrary_noise() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![3 => any::<u8>(), 1 => Just(0xFFu8)], 0..40)
}

/// Joins noise and frames, returning the stream and each frame's offset.
fn interleave(parts: &[(Vec<u8>, Vec<u8>)], tail: &[u8]) -> (Vec<u8>, Vec<Found>) {
    let mut stream = Vec::new();
    let mut frames = Vec::new();
    for (noise, frame) in parts {
        stream.extend_from_slice(noise);
        frames.push((stream.len(), frame.clone()));
        stream.extend_from_slice(frame);
    }
    stream.extend_from_slice(tail);
    (stream, frames)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn checksum_is_the_byte_sum(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        // Every length, so each tail of the word-at-a-time sum is taken.
        for len in 0..=bytes.len().min(40) {
            let plain = bytes[..len].iter().fold(0u8, |sum, &b| sum.wrapping_add(b));
            prop_assert_eq!(rewire_powerone::checksum(&bytes[..len]), plain);
        }
        let plain = bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b));
        prop_assert_eq!(rewire_powerone::checksum(&bytes), plain);
    }

    #[test]
    fn scanner_matches_its_byte_loop_oracle(
        parts in prop::collection::vec(
            prop_oneof![
                // A valid frame, a lone flag, a flag with a short or long
                // length byte, and plain bytes.
                any_repr_parts().prop_map(|(dst, src, reply, control, function, data)| emit(&Repr {
                    destination: dst,
                    source: src,
                    reply_flag: reply,
                    control,
                    function: FunctionCode(function),
                    data: &data,
                })),
                Just(vec![0xFF]),
                (0u8..=16).prop_map(|len| vec![0xFF, len]),
                prop::collection::vec(any::<u8>(), 1..12),
            ],
            0..12,
        ),
    ) {
        let stream: Vec<u8> = parts.concat();
        // The harness compares scan/scan_idle with the oracle at each offset.
        rewire_conformance::harness::powerone_scan(&stream);
        for idle in [false, true] {
            let got = match if idle { scan_idle(&stream) } else { scan(&stream) } {
                Scan::Found { skipped, len, .. } => Ok((skipped, len)),
                Scan::Partial { skipped } => Err(skipped),
            };
            prop_assert_eq!(got, rewire_conformance::harness::powerone_scan_model(&stream, idle));
        }
    }

    #[test]
    fn emit_then_parse_round_trips((dst, src, reply, control, function, data) in any_repr_parts()) {
        let repr = Repr {
            destination: dst,
            source: src,
            reply_flag: reply,
            control,
            function: FunctionCode(function),
            data: &data,
        };
        let bytes = emit(&repr);
        prop_assert_eq!(bytes.len(), data.len() + MIN_FRAME_LEN);
        let (frame, used) = parse(&bytes).expect("parse");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(frame.destination(), dst);
        prop_assert_eq!(frame.source(), src);
        prop_assert_eq!(frame.reply_flag(), reply);
        prop_assert_eq!(frame.control(), control);
        prop_assert_eq!(frame.function(), FunctionCode(function));
        prop_assert_eq!(frame.data(), &data[..]);
        prop_assert_eq!(Repr::parse(&frame).expect("repr"), repr);
        // The scanner finds it too, and every strict prefix is incomplete.
        let found = matches!(scan(&bytes), Scan::Found { skipped: 0, len, .. } if len == bytes.len());
        prop_assert!(found);
        for cut in [0, 1, 2, bytes.len() / 2, bytes.len() - 1] {
            let truncated = matches!(parse(&bytes[..cut]), Err(Error::Truncated { .. }));
            prop_assert!(truncated);
            prop_assert_eq!(scan(&bytes[..cut]), Scan::Partial { skipped: 0 });
        }
    }

    #[test]
    fn request_builder_round_trips(dst in any::<u8>(), src in any::<u8>(), function in any::<u8>(),
                                   data in prop::collection::vec(any::<u8>(), 0..=MAX_DATA_LEN)) {
        let repr = Repr::request(dst, FunctionCode(function), &data).with_source(src);
        let bytes = emit(&repr);
        prop_assert_eq!(&bytes[..7], &[0xFF, bytes.len() as u8, dst, src, 0x01, 0x01, function][..]);
        let (frame, _) = parse(&bytes).expect("parse");
        prop_assert_eq!(Repr::parse(&frame).expect("repr"), repr);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok((frame, used)) = parse(&bytes) {
            prop_assert!(used >= MIN_FRAME_LEN && used <= bytes.len());
            prop_assert!(Repr::parse(&frame).is_ok());
            let _ = DateTime::parse(frame.data());
            let _ = Password::parse(frame.data());
            let _ = PasswordCheck::parse(frame.data());
        }
        let view = Frame::new_unchecked(&bytes[..]);
        let _ = (view.length(), view.destination(), view.source(), view.reply_flag());
        let _ = (view.control(), view.function(), view.data(), view.checksum());
        let _ = (view.computed_checksum(), view.checksum_ok(), format!("{view} {view:?}"));
        for outcome in [scan(&bytes), scan_idle(&bytes)] {
            match outcome {
                Scan::Found { skipped, len, message } => {
                    prop_assert!(skipped + len <= bytes.len());
                    prop_assert!(message.checksum_ok());
                }
                Scan::Partial { skipped } => prop_assert!(skipped <= bytes.len()),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_with_flags_never_panic(bytes in arbitrary_noise(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let _ = feed(&bytes, &cuts, true);
    }

    /// With noise that cannot start a frame, every frame comes back exactly,
    /// at its offset, however the stream is cut, and all noise is garbage.
    #[test]
    fn scanner_recovers_every_frame_from_benign_noise(
        parts in prop::collection::vec((benign_noise(), any_frame()), 1..8),
        tail in benign_noise(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let (stream, expected) = interleave(&parts, &tail);
        let (found, garbage) = feed(&stream, &cuts, false);
        prop_assert_eq!(&found, &expected);
        let frame_bytes: usize = expected.iter().map(|(_, f)| f.len()).sum();
        prop_assert_eq!(garbage, stream.len() - frame_bytes);
    }

    /// With arbitrary noise (0xFF included) the scanner never yields a bad
    /// frame, answers the same however the stream is cut, and every real
    /// frame is found at its offset unless a checksum-valid frame made of
    /// noise overlaps it.
    #[test]
    fn scanner_recovers_frames_from_arbitrary_noise(
        parts in prop::collection::vec((arbitrary_noise(), any_frame()), 1..8),
        tail in arbitrary_noise(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let (stream, expected) = interleave(&parts, &tail);
        let (found, garbage) = feed(&stream, &cuts, true);
        prop_assert_eq!(feed(&stream, &[], true), (found.clone(), garbage));
        prop_assert_eq!(feed(&stream, &[], false), feed(&stream, &cuts, false));
        for window in found.windows(2) {
            prop_assert!(window[0].0 + window[0].1.len() <= window[1].0);
        }
        for (at, frame) in &found {
            prop_assert_eq!(&stream[*at..*at + frame.len()], &frame[..]);
        }
        for (at, frame) in &expected {
            let exact = found.iter().any(|f| f.0 == *at && f.1 == *frame);
            let overlapped = found
                .iter()
                .any(|(start, bytes)| *start < at + frame.len() && *at < start + bytes.len());
            prop_assert!(exact || overlapped, "frame at {} lost", at);
        }
    }

    #[test]
    fn date_time_round_trips(year in 2000u16..=2099, month in 1u8..=12, day in 1u8..=31,
                             hour in 0u8..=23, minute in 0u8..=59) {
        match DateTime::new(year, month, day, hour, minute) {
            Ok(when) => {
                let mut buf = [0u8; DateTime::LEN];
                prop_assert_eq!(when.emit(&mut buf), Ok(DateTime::LEN));
                prop_assert_eq!(buf, [(year - 2000) as u8, month, day, hour, minute]);
                prop_assert_eq!(DateTime::parse(&buf), Ok(when));
            }
            Err(err) => {
                prop_assert!(day >= 29, "only short months reject a day: {err}");
            }
        }
    }

    #[test]
    fn date_time_parse_never_accepts_out_of_range(data in prop::array::uniform5(any::<u8>())) {
        if let Ok(when) = DateTime::parse(&data) {
            prop_assert!(data[0] <= 99 && (1..=12).contains(&data[1]) && (1..=31).contains(&data[2]));
            prop_assert!(data[3] <= 23 && data[4] <= 59);
            let mut buf = [0u8; 5];
            when.emit(&mut buf).expect("emit");
            prop_assert_eq!(buf, data);
        }
    }

    #[test]
    fn password_round_trips(digits in "[0-9]{1,247}") {
        let password = Password::new(digits.as_bytes()).expect("digits");
        let mut buf = vec![0u8; MAX_DATA_LEN];
        let n = password.emit(&mut buf).expect("emit");
        prop_assert_eq!(&buf[..n], digits.as_bytes());
        prop_assert_eq!(Password::parse(&buf[..n]).expect("parse").as_str(), digits.as_str());
        let request = Repr::request(0x01, FunctionCode::SET_PASSWORD, &buf[..n]);
        let bytes = emit(&request);
        let (frame, _) = parse(&bytes).expect("frame");
        prop_assert_eq!(Password::parse(frame.data()).expect("payload"), password);
    }

    #[test]
    fn password_rejects_non_digits(bytes in prop::collection::vec(any::<u8>(), 1..=MAX_DATA_LEN)) {
        match bytes.iter().position(|b| !b.is_ascii_digit()) {
            Some(offset) => prop_assert_eq!(
                Password::new(&bytes),
                Err(Error::BadPassword { offset, byte: bytes[offset] })
            ),
            None => prop_assert!(Password::new(&bytes).is_ok()),
        }
    }
}

#[test]
fn password_check_round_trips() {
    for check in [PasswordCheck::Wrong, PasswordCheck::Right] {
        let mut buf = [0xAAu8; 1];
        assert_eq!(check.emit(&mut buf), Ok(1));
        assert_eq!(PasswordCheck::parse(&buf), Ok(check));
    }
    for value in 2..=u8::MAX {
        assert_eq!(
            PasswordCheck::parse(&[value]),
            Err(Error::BadPasswordCheck { value })
        );
    }
}

/// Replays the committed seed corpus of the `powerone_frame` fuzz target.
/// Files named `valid_*` hold exactly one frame, `invalid_*` none at their
/// start, `stream_*` frames among other bytes, `fuzz-*` (inputs the fuzzer
/// found) any bytes; the scanner must digest every one.
#[test]
fn corpus_powerone_frame_replays() {
    let corpus = rewire_conformance::corpus("powerone_frame");
    for (name, bytes) in &corpus {
        let parsed = parse(bytes);
        if name.starts_with("valid_") {
            let (frame, used) = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(used, bytes.len(), "{name}");
            let repr = Repr::parse(&frame).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(emit(&repr), *bytes, "{name}");
        } else if name.starts_with("invalid_") {
            assert!(parsed.is_err(), "{name} parsed");
        } else {
            assert!(
                name.starts_with("stream_") || name.starts_with("fuzz-"),
                "unexpected corpus name {name}"
            );
        }
        let (found, garbage) = feed(bytes, &[bytes.len() / 3, bytes.len() / 2], true);
        let found_bytes: usize = found.iter().map(|(_, f)| f.len()).sum();
        assert!(found_bytes + garbage <= bytes.len(), "{name}");
        if name.starts_with("stream_") {
            assert!(
                !found.is_empty(),
                "{name}: the stream seeds each hold frames"
            );
        }
    }
}
