//! Property tests and the fuzz-corpus replay for `rewire-websentry`.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use rewire_websentry::{
    Error, Frame, FunctionCode, HEADER_LEN, MAX_PAYLOAD_LEN, Pairs, Scan, Value, encode_frame,
    encode_query_request, encode_query_response, encode_set_response, encode_values, parse, scan,
};

/// An owned value, so that strategies can produce strings.
#[derive(Debug, Clone)]
enum Owned {
    Plain(Value<'static>),
    Str(Vec<u8>),
}

impl Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Self::Plain(v) => *v,
            Self::Str(s) => Value::Str(s),
        }
    }
}

fn arb_value() -> impl Strategy<Value = Owned> {
    let plain = prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<u8>().prop_map(Value::Enum),
        any::<u16>().prop_map(Value::U16),
        any::<[u8; 2]>().prop_map(Value::Bytes2),
        any::<[u8; 4]>().prop_map(Value::Version),
        any::<u16>().prop_map(Value::Tenths),
        (any::<i16>(), any::<i16>(), any::<i16>(), any::<u8>()).prop_map(
            |(value, min, max, step)| Value::Ranged {
                value,
                min,
                max,
                step
            }
        ),
        (any::<u8>(), any::<u8>())
            .prop_map(|(enum_type, value)| Value::TypedEnum { enum_type, value }),
        any::<[u8; 4]>().prop_map(|[year_since_1900, month, day, reserved]| Value::Date {
            year_since_1900,
            month,
            day,
            reserved
        }),
        any::<[u8; 4]>().prop_map(|[hour, minute, seconds_x4, reserved]| Value::Time {
            hour,
            minute,
            seconds_x4,
            reserved
        }),
        any::<[u8; 4]>().prop_map(|o| Value::Ipv4(Ipv4Addr::from(o))),
        any::<[u8; 6]>().prop_map(Value::Mac),
        any::<u32>().prop_map(Value::U32),
    ];
    prop_oneof![
        13 => plain.prop_map(Owned::Plain),
        1 => proptest::collection::vec(any::<u8>(), 0..=255).prop_map(Owned::Str),
    ]
}

fn arb_items() -> impl Strategy<Value = Vec<(u16, Owned)>> {
    proptest::collection::vec((any::<u16>(), arb_value()), 0..40)
}

/// Walks everything a decoder could walk over `bytes`: the same harness
/// functions the `websentry_frame`, `websentry_scan` and `websentry_items`
/// fuzz targets call. Used by the arbitrary-input property and the replay.
fn exercise(bytes: &[u8]) {
    use rewire_conformance::harness;
    harness::websentry_frame(bytes);
    harness::websentry_scan(bytes);
    harness::websentry_items(bytes);
    // Off cfg(fuzzing) the CRC is checked: a parsed frame's CRC is right.
    if let Ok((frame, _)) = parse(bytes) {
        assert!(frame.checksum_ok());
    }
}

/// Feeds `stream` to the scanner in the pieces `cuts` makes, like a
/// transport: keep the unconsumed bytes, append a piece, scan until
/// `Partial`. Returns the frames and the garbage count.
fn feed(stream: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, usize) {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    bounds.push(stream.len());
    bounds.sort_unstable();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut frames = Vec::new();
    let mut garbage = 0;
    for bound in bounds {
        pending.extend_from_slice(&stream[fed..bound]);
        fed = bound;
        loop {
            match scan(&pending) {
                Scan::Found {
                    skipped,
                    len,
                    message,
                } => {
                    frames.push(message.as_bytes().to_vec());
                    garbage += skipped;
                    pending.drain(..skipped + len);
                }
                Scan::Partial { skipped } => {
                    garbage += skipped;
                    pending.drain(..skipped);
                    break;
                }
            }
        }
    }
    (frames, garbage)
}

fn encode(function: u8, body: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; HEADER_LEN + 1 + body.len()];
    let n = encode_frame(FunctionCode::from(function), body, &mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

proptest! {
    #[test]
    fn frame_round_trip(function in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let bytes = encode(function, &body);
        let (frame, used) = parse(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert!(frame.checksum_ok());
        prop_assert_eq!(u8::from(frame.function()), function);
        prop_assert_eq!(frame.body(), &body[..]);
        prop_assert_eq!(frame.payload_len() as usize, body.len() + 1);
        // Any single flipped payload bit is caught by the CRC.
        let mut bad = bytes.clone();
        let at = HEADER_LEN + (body.len() / 2);
        bad[at] ^= 0x01;
        let caught = matches!(parse(&bad), Err(Error::ChecksumMismatch { .. }));
        prop_assert!(caught);
        // The view checks the length only; the checksum is checked apart.
        let view = Frame::new_checked(&bad[..]).unwrap();
        prop_assert!(!view.checksum_ok());
        let caught = matches!(view.check_checksum(), Err(Error::ChecksumMismatch { .. }));
        prop_assert!(caught);
    }

    #[test]
    fn every_value_type_round_trips(owned in arb_value()) {
        let value = owned.value();
        let mut buf = [0u8; 300];
        let n = value.emit(&mut buf).unwrap();
        prop_assert_eq!(n, value.encoded_len());
        prop_assert_eq!(buf[0], value.type_code());
        prop_assert_eq!(Value::parse(&buf[..n]), Ok((value, n)));
        // Bytes after the value are left alone.
        buf[n] = 0xAA;
        prop_assert_eq!(Value::parse(&buf[..=n]), Ok((value, n)));
        // Every strict prefix is truncated.
        for cut in 0..n {
            let truncated = matches!(Value::parse(&buf[..cut]), Err(Error::Truncated { .. }));
            prop_assert!(truncated);
        }
        let _ = (value.to_string(), value.as_f64());
    }

    #[test]
    fn value_items_round_trip(items in arb_items(), function in prop_oneof![Just(FunctionCode::INIT), Just(FunctionCode::QUERY), Just(FunctionCode::SET)]) {
        let items: Vec<(u16, Value<'_>)> = items.iter().map(|(id, v)| (*id, v.value())).collect();
        let mut buf = vec![0u8; 16_384];
        match encode_values(function, &items, &mut buf) {
            Ok(n) => {
                let (frame, used) = parse(&buf[..n]).unwrap();
                prop_assert_eq!(used, n);
                prop_assert_eq!(frame.function(), function);
                let back: Vec<_> = frame.values().collect::<Result<_, _>>().unwrap();
                prop_assert_eq!(back, items);
            }
            Err(Error::PayloadTooLong { len, max }) => {
                prop_assert_eq!(max, MAX_PAYLOAD_LEN);
                prop_assert!(len > MAX_PAYLOAD_LEN);
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn query_exchange_round_trips(items in proptest::collection::vec((any::<u16>(), arb_value()), 0..30)) {
        let ids: Vec<u16> = items.iter().map(|(id, _)| *id).collect();
        let answers: Vec<(u16, Value<'_>)> = items.iter().map(|(id, v)| (*id, v.value())).collect();
        let mut request = vec![0u8; 8 + 3 * ids.len()];
        let n = encode_query_request(&ids, &mut request).unwrap();
        prop_assert_eq!(n, request.len());
        let request = Frame::new_checked(&request[..]).unwrap();
        prop_assert_eq!(request.query_ids().collect::<Result<Vec<_>, _>>().unwrap(), ids.clone());
        let mut response = vec![0u8; 16_384];
        let m = encode_query_response(&answers, &mut response).unwrap();
        let response = Frame::new_checked(&response[..m]).unwrap();
        let paired: Vec<_> = Pairs::new(request.body(), response.body()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(paired, answers);
    }

    #[test]
    fn set_statuses_round_trip(items in proptest::collection::vec((any::<u16>(), any::<u8>()), 0..50)) {
        let mut buf = vec![0u8; 8 + 3 * items.len()];
        let n = encode_set_response(&items, &mut buf).unwrap();
        let frame = Frame::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(frame.set_statuses().collect::<Result<Vec<_>, _>>().unwrap(), items);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300), function in any::<u8>()) {
        exercise(&encode(function, &body));
    }

    #[test]
    fn scanner_is_split_invariant_and_recovers_after_noise(
        frames in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..80)), 1..6),
        noise in proptest::collection::vec(proptest::collection::vec(any::<u8>().prop_filter("no magic start", |b| *b != 0x70), 0..20), 6),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        bad_crc in any::<bool>(),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (i, (function, body)) in frames.iter().enumerate() {
            stream.extend_from_slice(&noise[i]);
            let mut frame = encode(*function, body);
            if bad_crc && i == 0 {
                frame[3] ^= 0xFF;
            }
            stream.extend_from_slice(&frame);
            expected.push(frame);
        }
        stream.extend_from_slice(&noise[5]);
        let noise_len: usize = noise[..frames.len()].iter().map(Vec::len).sum::<usize>() + noise[5].len();

        let (whole, garbage) = feed(&stream, &[]);
        prop_assert_eq!(&whole, &expected);
        prop_assert_eq!(garbage, noise_len);
        let (split, split_garbage) = feed(&stream, &cuts);
        prop_assert_eq!(split, whole);
        prop_assert_eq!(split_garbage, garbage);
        // Byte by byte too.
        let every: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(feed(&stream, &every).0, expected);
    }

    #[test]
    fn scanner_is_split_invariant_on_arbitrary_streams(
        stream in proptest::collection::vec(prop_oneof![3 => any::<u8>(), 1 => Just(0x70u8), 1 => Just(0x83u8), 1 => Just(0x9eu8), 2 => Just(0u8)], 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        prop_assert_eq!(feed(&stream, &cuts), feed(&stream, &[]));
    }
}

#[test]
fn oversize_length_is_garbage_and_the_next_frame_is_found() {
    let good = encode(0x02, &[0x06, 0x00, 0x0f]);
    let mut stream = vec![0x70, 0x83, 0x9e, 0x00, 0x00, 0xea, 0x60];
    stream.extend_from_slice(&good);
    let (frames, garbage) = feed(&stream, &[3, 9]);
    assert_eq!(frames, vec![good]);
    assert_eq!(garbage, 7);
}

#[test]
fn corpus_replay() {
    let corpus = rewire_conformance::corpus("websentry_frame");
    assert!(corpus.len() >= 5);
    for (name, bytes) in corpus {
        exercise(&bytes);
        if name.starts_with("valid_") {
            let (frame, used) = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(used, bytes.len(), "{name}");
            let walked_ok = match frame.function() {
                FunctionCode::QUERY if name.contains("request") => {
                    frame.query_ids().all(|r| r.is_ok())
                }
                FunctionCode::SET if name.contains("response") => {
                    frame.set_statuses().all(|r| r.is_ok())
                }
                _ => frame.values().all(|r| r.is_ok()),
            };
            assert!(walked_ok, "{name}");
        }
    }
}
