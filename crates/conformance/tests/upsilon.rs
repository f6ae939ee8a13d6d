//! Property tests and fuzz-corpus replays for `rewire-upsilon`.

use proptest::prelude::*;
use rewire_upsilon::sms::{self, parse_sms_alert};
use rewire_upsilon::{
    Command, DEFAULT_MAX_RECORD_LEN, Decimal, Heartbeat, Info, MAX_LINE_LEN, Ratings,
    RestoreMinutes, Scan, ShutdownDelay, Status, StatusBits, TestMinutes, parse_command,
    parse_heartbeat, parse_info, parse_ratings, scan, scan_final, usb,
};

// ---- strategies ---------------------------------------------------------------

fn decimal() -> impl Strategy<Value = Decimal> {
    (-99_999i32..=999_999, 0u8..=3).prop_map(|(raw, scale)| Decimal::new(raw, scale).unwrap())
}

fn opt_decimal() -> impl Strategy<Value = Option<Decimal>> {
    prop_oneof![1 => Just(None), 4 => decimal().prop_map(Some)]
}

fn status() -> impl Strategy<Value = Status> {
    (
        (opt_decimal(), opt_decimal(), opt_decimal()),
        prop::option::of(any::<u16>()),
        (opt_decimal(), opt_decimal(), opt_decimal()),
        any::<u8>(),
    )
        .prop_map(
            |((vin, vfault, vout), load, (freq, batt, temp), bits)| Status {
                input_voltage: vin,
                input_fault_voltage: vfault,
                output_voltage: vout,
                load_percent: load,
                input_frequency: freq,
                battery_voltage: batt,
                temperature: temp,
                bits: StatusBits::from_bits(bits),
            },
        )
}

fn command() -> impl Strategy<Value = Command> {
    let delay = prop_oneof![
        (2u8..=9).prop_map(|t| ShutdownDelay::from_tenths(t).unwrap()),
        (1u8..=10).prop_map(|m| ShutdownDelay::from_minutes(m).unwrap()),
    ];
    prop_oneof![
        Just(Command::Status),
        Just(Command::StatusLegacy),
        Just(Command::Test),
        Just(Command::TestUntilLow),
        (1u8..=99).prop_map(|m| Command::TestFor(TestMinutes::new(m).unwrap())),
        Just(Command::ToggleBeeper),
        (delay, prop::option::of(0u16..=9999)).prop_map(|(delay, r)| Command::Shutdown {
            delay,
            restore: r.map(|m| RestoreMinutes::new(m).unwrap()),
        }),
        Just(Command::CancelShutdown),
        Just(Command::CancelTest),
        Just(Command::Ratings),
        Just(Command::Info),
    ]
}

/// Printable ASCII without leading or trailing spaces, at most `max` bytes.
fn column(max: usize) -> impl Strategy<Value = String> {
    prop::string::string_regex(&format!("([!-~]([ -~]{{0,{}}}[!-~])?)?", max - 2)).unwrap()
}

/// Runs the scanner over `chunks` as a transport would: append, drain found
/// records and skipped garbage, and finish with `scan_final`.
fn scan_stream(chunks: &[&[u8]], max: usize) -> Vec<Vec<u8>> {
    let mut pending: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            match scan(&pending, max) {
                Scan::Found {
                    skipped,
                    len,
                    message,
                } => {
                    assert!(skipped + len <= pending.len());
                    out.push(message.to_vec());
                    pending.drain(..skipped + len);
                }
                Scan::Partial { skipped } => {
                    assert!(skipped <= pending.len());
                    pending.drain(..skipped);
                    break;
                }
            }
        }
    }
    loop {
        match scan_final(&pending, max) {
            Scan::Found {
                skipped,
                len,
                message,
            } => {
                out.push(message.to_vec());
                pending.drain(..skipped + len);
            }
            Scan::Partial { skipped } => {
                assert_eq!(skipped, pending.len(), "scan_final leaves nothing pending");
                break;
            }
        }
    }
    out
}

fn emit_status(s: &Status) -> Vec<u8> {
    let mut buf = [0u8; MAX_LINE_LEN];
    let n = s.emit(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Noise that may sit between records: NULs, CR/LF, junk without `(`.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(0u8), Just(b'\r'), Just(b'\n'), Just(b'x'), Just(b' ')],
        0..6,
    )
}

// ---- properties -----------------------------------------------------------------

proptest! {
    #[test]
    fn status_emit_parse_round_trip(s in status()) {
        let line = emit_status(&s);
        prop_assert_eq!(Status::parse(&line).unwrap(), s);
        // A buffer one byte short is refused, never overrun.
        let mut short = vec![0u8; line.len() - 1];
        prop_assert_eq!(
            s.emit(&mut short),
            Err(rewire_upsilon::Error::BufferTooSmall { needed: line.len(), available: line.len() - 1 })
        );
    }

    #[test]
    fn ratings_emit_parse_round_trip(v in opt_decimal(), c in opt_decimal(), b in opt_decimal(), f in opt_decimal()) {
        let r = Ratings { voltage: v, current: c, battery_voltage: b, frequency: f };
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(parse_ratings(&buf[..n]).unwrap(), r);
    }

    #[test]
    fn info_emit_parse_round_trip(company in column(15), model in column(10), version in column(36)) {
        let i = Info { company: &company, model: &model, version: &version };
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = i.emit(&mut buf).unwrap();
        prop_assert_eq!(n, rewire_upsilon::INFO_LINE_LEN + version.len().saturating_sub(10));
        prop_assert_eq!(parse_info(&buf[..n]).unwrap(), i);
    }

    #[test]
    fn command_emit_parse_round_trip(c in command()) {
        let mut buf = [0u8; rewire_upsilon::MAX_COMMAND_LEN];
        let n = c.emit(&mut buf).unwrap();
        prop_assert_eq!(buf[n - 1], b'\r');
        prop_assert_eq!(parse_command(&buf[..n]).unwrap(), c);
        prop_assert!(c.is_echoed_by(&buf[..n]));
        // Every index the USB mapping gives is a valid descriptor index.
        if let Some(i) = usb::string_index(&c) {
            prop_assert!(i != 0);
        }
    }

    #[test]
    fn heartbeat_emit_parse_round_trip(ups in prop::option::of(0u16..=999)) {
        let hb = ups.map_or(Heartbeat::Disconnected, |ups| Heartbeat::Connected { ups });
        let mut buf = [0u8; 16];
        let n = hb.emit(&mut buf).unwrap();
        prop_assert_eq!(parse_heartbeat(&buf[..n]).unwrap(), hb);
    }

    #[test]
    fn sms_built_request_parses_back(
        to in "[0-9+]{1,15}",
        host in "[A-Za-z0-9-]{1,15}",
        msg in "[ -~&&[^%]]{0,60}",
        code in "[0-9]{1,3}",
    ) {
        prop_assume!(!msg.contains("&$sms_code="));
        let content = format!("{host}: {msg}");
        let req = format!(
            "GET /smssend_hide.cgi?$sms_recptmobile={to}&$sms_content={content}&$sms_code={code} HTTP/1.1\r\nUser-Agent: RUPS2K SMS\r\nHost: 127.0.0.1\r\nConnection: Keep-Alive\r\n\r\n"
        );
        let bytes = req.as_bytes();
        let sms::Parsed::Complete(n, a) = parse_sms_alert(bytes).unwrap() else {
            panic!("partial")
        };
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(a.recipient, to.as_str());
        prop_assert_eq!(a.content, content.as_str());
        prop_assert_eq!(a.content_host(), Some(host.as_str()));
        prop_assert_eq!(a.message(), msg.as_str());
        prop_assert_eq!(a.code, code.as_str());
        prop_assert_eq!(a.user_agent, Some("RUPS2K SMS"));
        for i in 0..bytes.len() {
            prop_assert_eq!(parse_sms_alert(&bytes[..i]), Ok(sms::Parsed::Partial));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), max in 0usize..80) {
        let _ = Status::parse(&bytes);
        let _ = parse_ratings(&bytes);
        let _ = parse_info(&bytes);
        let _ = parse_command(&bytes);
        let _ = parse_heartbeat(&bytes);
        let _ = usb::reply(&bytes);
        if let Ok(sms::Parsed::Complete(n, a)) = parse_sms_alert(&bytes) {
            prop_assert!(n <= bytes.len());
            let _ = a.headers().count();
            let _ = a.decoded_content(&mut [0u8; 64]);
        }
        for r in [scan(&bytes, max), scan_final(&bytes, max)] {
            match r {
                Scan::Found { skipped, len, message } => {
                    prop_assert!(skipped + len <= bytes.len());
                    prop_assert!(message.len() <= len && message.len() <= max);
                    prop_assert_eq!(message.first(), Some(&b'('));
                }
                Scan::Partial { skipped } => prop_assert!(skipped <= bytes.len()),
            }
        }
    }

    #[test]
    fn arbitrary_text_like_bytes_never_panic(bytes in prop::collection::vec(
        prop_oneof![Just(b'('), Just(b'#'), Just(b' '), Just(b'.'), Just(b'-'), Just(b'\r'), Just(b'0'), Just(b'1'), Just(b'9')],
        0..80,
    )) {
        let _ = Status::parse(&bytes);
        let _ = parse_ratings(&bytes);
        let _ = parse_info(&bytes);
        let _ = parse_command(&bytes);
    }

    #[test]
    fn scanner_matches_its_byte_loop_oracle(
        bytes in prop::collection::vec(
            prop::sample::select(&b"((((\r\r\n\0 0.-x"[..]),
            0..400,
        ),
    ) {
        // Dense with starts and ends, so every branch of the search runs;
        // the harness compares scan/scan_final with the oracle at each
        // offset and with two bounds.
        rewire_conformance::harness::upsilon_scan(&bytes);
        for max in [1, 2, 46, DEFAULT_MAX_RECORD_LEN] {
            let got = match scan(&bytes, max) {
                Scan::Found { skipped, len, message } => Ok((skipped, len, message.len())),
                Scan::Partial { skipped } => Err(skipped),
            };
            prop_assert_eq!(
                got,
                rewire_conformance::harness::upsilon_scan_model(&bytes, max, false)
            );
        }
    }

    #[test]
    fn scanner_is_split_invariant(
        records in prop::collection::vec((status(), noise(), any::<bool>()), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        let mut after_cr = true;
        for (s, gap, drop_cr) in &records {
            // Without its CR a record runs to the next `(`, so noise may
            // only follow records that kept their CR.
            if after_cr {
                stream.extend_from_slice(gap);
            }
            after_cr = !drop_cr;
            let line = emit_status(s);
            let body = &line[..line.len() - 1];
            expected.push(body.to_vec());
            stream.extend_from_slice(body);
            if !drop_cr {
                stream.push(b'\r');
            }
        }
        let whole = scan_stream(&[&stream], DEFAULT_MAX_RECORD_LEN);
        prop_assert_eq!(&whole, &expected);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut prev = 0;
        for p in points {
            chunks.push(&stream[prev..p]);
            prev = p;
        }
        chunks.push(&stream[prev..]);
        prop_assert_eq!(scan_stream(&chunks, DEFAULT_MAX_RECORD_LEN), whole);
        // Byte by byte too.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(scan_stream(&bytes, DEFAULT_MAX_RECORD_LEN), expected);
    }

    #[test]
    fn scanner_recovers_after_oversize_garbage(junk_len in DEFAULT_MAX_RECORD_LEN..400, s in status()) {
        let mut stream = vec![b'('];
        stream.extend(std::iter::repeat_n(b'7', junk_len));
        let line = emit_status(&s);
        stream.extend_from_slice(&line);
        let records = scan_stream(&[&stream], DEFAULT_MAX_RECORD_LEN);
        prop_assert_eq!(records, vec![line[..line.len() - 1].to_vec()]);
    }
}

// ---- corpus replays --------------------------------------------------------------

#[test]
fn scanner_matches_its_oracle_around_standard_length_records() {
    // The scanner guesses the standard 46-byte record and checks the guess
    // eight bytes at a time; put every kind of byte at every position of
    // records of 44 to 48 bytes, followed by every kind of end.
    let line = b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000";
    let specials = [
        b'(', b')', b'\r', b'\n', 0, 0x01, 0x0F, 0x10, 0x1F, 0x27, 0x29, b'\'', 0x80, 0xA8, 0xFF,
    ];
    let mut checked = 0;
    for len in 44..=48 {
        let mut record: Vec<u8> = line.iter().copied().cycle().take(len).collect();
        record[0] = b'(';
        for end in [b'\r', b'\n', 0, b'(', b'1'] {
            for at in 0..=len {
                for special in specials {
                    let mut bytes = record.clone();
                    if at < len {
                        bytes[at] = special;
                    }
                    bytes.push(end);
                    bytes.extend_from_slice(b"\r\n(1");
                    for max in [DEFAULT_MAX_RECORD_LEN, 46, 45, 20] {
                        for at_end in [false, true] {
                            let found = if at_end {
                                scan_final(&bytes, max)
                            } else {
                                scan(&bytes, max)
                            };
                            let got = match found {
                                Scan::Found {
                                    skipped,
                                    len,
                                    message,
                                } => Ok((skipped, len, message.len())),
                                Scan::Partial { skipped } => Err(skipped),
                            };
                            let model = rewire_conformance::harness::upsilon_scan_model(
                                &bytes, max, at_end,
                            );
                            assert_eq!(got, model, "{bytes:02x?} max {max}");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 10_000);
}

#[test]
fn replay_upsilon_scan_corpus() {
    for (name, bytes) in rewire_conformance::corpus("upsilon_scan") {
        let records = scan_stream(&[&bytes], DEFAULT_MAX_RECORD_LEN);
        let parsed: Vec<_> = records.iter().map(|r| Status::parse(r)).collect();
        if name.starts_with("ok_") {
            assert!(!parsed.is_empty(), "{name}: no record");
            for (r, p) in records.iter().zip(&parsed) {
                let s =
                    p.unwrap_or_else(|e| panic!("{name}: {e} in {:?}", String::from_utf8_lossy(r)));
                assert_eq!(Status::parse(&emit_status(&s)).unwrap(), s, "{name}");
            }
        }
        // Whatever the file, byte-by-byte scanning agrees with one pass.
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            scan_stream(&single, DEFAULT_MAX_RECORD_LEN),
            records,
            "{name}"
        );
    }
}

/// Single status lines: `ok_*` parse and re-emit, `bad_*` are rejected.
#[test]
fn replay_upsilon_status_corpus() {
    for (name, bytes) in rewire_conformance::corpus("upsilon_status") {
        let parsed = Status::parse(&bytes);
        if name.starts_with("ok_") {
            let s = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(Status::parse(&emit_status(&s)).unwrap(), s, "{name}");
        } else if name.starts_with("bad_") {
            assert!(parsed.is_err(), "{name}: {parsed:?}");
        }
    }
}

/// `F`/`I` replies and commands: `ok_*` are accepted by one of the
/// parsers, `bad_*` by none.
#[test]
fn replay_upsilon_reply_corpus() {
    for (name, bytes) in rewire_conformance::corpus("upsilon_reply") {
        let accepted = parse_ratings(&bytes).is_ok()
            || parse_info(&bytes).is_ok()
            || parse_command(&bytes).is_ok()
            || usb::is_no_ack(&bytes);
        if name.starts_with("ok_") {
            assert!(accepted, "{name}");
        } else if name.starts_with("bad_") {
            assert!(!accepted, "{name}");
        }
    }
}

/// Heartbeats: `ok_*` parse, `bad_*` do not (`fuzz-*` may do either).
#[test]
fn replay_upsilon_heartbeat_corpus() {
    for (name, bytes) in rewire_conformance::corpus("upsilon_heartbeat") {
        let parsed = parse_heartbeat(&bytes);
        if name.starts_with("ok_") {
            assert!(parsed.is_ok(), "{name}: {parsed:?}");
        } else if name.starts_with("bad_") {
            assert!(parsed.is_err(), "{name}: {parsed:?}");
        }
    }
}

#[test]
fn replay_upsilon_sms_corpus() {
    for (name, bytes) in rewire_conformance::corpus("upsilon_sms") {
        let result = parse_sms_alert(&bytes);
        if name.starts_with("ok_") {
            let Ok(sms::Parsed::Complete(n, alert)) = result else {
                panic!("{name}: {result:?}");
            };
            assert!(n <= bytes.len(), "{name}");
            assert!(!alert.recipient.is_empty(), "{name}");
        } else if name.starts_with("partial_") {
            assert_eq!(result, Ok(sms::Parsed::Partial), "{name}");
        } else if name.starts_with("bad_") {
            assert!(result.is_err(), "{name}: {result:?}");
        }
    }
}
