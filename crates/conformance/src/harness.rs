//! One function per fuzz target: the body every `fuzz/fuzz_targets/<name>.rs`
//! calls, and the function the stable corpus replays call, so the fuzzer and
//! `cargo test` exercise each entry point the same way.
//!
//! Each function takes arbitrary bytes, drives one public entry point (and
//! what it hands out) the way a real caller would, and asserts the
//! invariants the crate documents: no panic, lengths within the input,
//! `parse(emit(x)) == x`, a streaming scanner or framer finding the same
//! messages however the stream is split, a reader finishing after an error.
//! A broken invariant panics, which is what libFuzzer reports as a crash.
//!
//! Under `cfg(fuzzing)` the parser crates skip their checksum checks, so no
//! assertion here depends on a checksum being right or wrong.

use std::fmt::Write as _;
use std::io::Cursor;
use std::num::NonZeroUsize;

use rewire_transport::capture::{
    CaptureEvent, CaptureOptions, HexDumpReader, InputFormat, PacketCaptureReader, RawLogReader,
};
use rewire_transport::framing::{
    Event, Framer, Framing, Megatec, Message, PowerOne, Upsilon, WebSentry,
};

/// A fuzz target: its name (the `fuzz/Cargo.toml` bin and the
/// `fuzz/corpus/` folder) and the function its body calls.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target, in the order `fuzz/run.sh` runs them.
pub const TARGETS: &[Target] = &[
    ("powerone_frame", powerone_frame),
    ("powerone_scan", powerone_scan),
    ("websentry_frame", websentry_frame),
    ("websentry_scan", websentry_scan),
    ("websentry_items", websentry_items),
    ("upsilon_status", upsilon_status),
    ("upsilon_reply", upsilon_reply),
    ("upsilon_scan", upsilon_scan),
    ("upsilon_heartbeat", upsilon_heartbeat),
    ("upsilon_sms", upsilon_sms),
    ("transport_framing", transport_framing),
    ("capture_hexdump", capture_hexdump),
    ("capture_pcap", capture_pcap),
    ("capture_rawlog", capture_rawlog),
    ("upsilon_nut", upsilon_nut),
    ("upsilon_sms_gateway", upsilon_sms_gateway),
];

/// Cuts `data` into pieces whose sizes cycle from a seed taken from the
/// data itself, so the fuzzer controls the split without a separate input.
fn pieces(data: &[u8]) -> Vec<&[u8]> {
    let mut size = 1 + usize::from(data.first().copied().unwrap_or(0) % 23);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at(size.min(rest.len()));
        out.push(head);
        rest = tail;
        size = size % 23 + 1;
    }
    out
}

/// Messages found by [`feed`] as (stream offset, bytes), the count of
/// skipped bytes, and the bytes left pending.
type Fed = (Vec<(usize, Vec<u8>)>, usize, Vec<u8>);

/// Feeds `chunks` to a parser scanner the way a transport does (keep the
/// unconsumed bytes, append the next chunk, scan until partial) and returns
/// the messages as (stream offset, bytes) with the count of skipped bytes
/// and the bytes left pending at the end.
///
/// `scan` answers `Ok((skipped, len, message))` for a message or
/// `Err(skipped)` for "partial", so one helper serves the three crates.
fn feed<S>(chunks: &[&[u8]], mut scan: S) -> Fed
where
    S: FnMut(&[u8]) -> Result<(usize, usize, Vec<u8>), usize>,
{
    let mut pending: Vec<u8> = Vec::new();
    let mut base = 0; // stream offset of pending[0]
    let mut found = Vec::new();
    let mut garbage = 0;
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            match scan(&pending) {
                Ok((skipped, len, message)) => {
                    let end = skipped.checked_add(len).expect("skipped + len overflows");
                    assert!(len > 0, "an empty message");
                    assert!(end <= pending.len(), "message runs past the buffer");
                    found.push((base + skipped, message));
                    garbage += skipped;
                    pending.drain(..end);
                    base += end;
                }
                Err(skipped) => {
                    assert!(skipped <= pending.len(), "skips past the buffer");
                    garbage += skipped;
                    pending.drain(..skipped);
                    base += skipped;
                    break;
                }
            }
        }
    }
    (found, garbage, pending)
}

/// Asserts that a scanner finds the same messages in `data` whether it
/// comes at once or in pieces, and returns what the one-pass scan found.
fn split_invariant<S>(data: &[u8], mut scan: S) -> (Vec<(usize, Vec<u8>)>, Vec<u8>)
where
    S: FnMut(&[u8]) -> Result<(usize, usize, Vec<u8>), usize>,
{
    let (whole, garbage, left) = feed(&[data], &mut scan);
    let (split, _, split_left) = feed(&pieces(data), &mut scan);
    assert_eq!(whole, split, "messages depend on how the stream is split");
    assert_eq!(left, split_left, "pending bytes depend on the split");
    assert!(garbage + left.len() <= data.len());
    (whole, left)
}

// ---- Power-One --------------------------------------------------------------

/// `powerone_frame`: [`rewire_powerone::parse`], the unchecked view's
/// accessors, `Repr::parse`/`emit`, `Display`, and the payload codecs.
pub fn powerone_frame(data: &[u8]) {
    use rewire_powerone::{Frame, Repr, parse};

    if let Ok((frame, used)) = parse(data) {
        assert_eq!(used, frame.frame_len());
        assert!(used <= data.len());
        let repr = Repr::parse(&frame).expect("a parsed frame has a Repr");
        let mut out = [0u8; 255];
        let n = repr.emit(&mut out).expect("a parsed frame re-emits");
        assert_eq!(n, used);
        // The checksum is not checked under cfg(fuzzing): compare the rest.
        assert_eq!(out[..n - 1], data[..n - 1]);
        let _ = frame.to_string();
        powerone_payloads(frame.data());
    }
    let view = Frame::new_unchecked(data);
    let _ = (view.destination(), view.source(), view.function().name());
    let _ = (view.data(), view.checksum(), view.computed_checksum());
    let _ = (view.length(), view.reply_required(), view.control());
    powerone_payloads(data);
}

fn powerone_payloads(data: &[u8]) {
    use rewire_powerone::{DateTime, Password, PasswordCheck};

    let mut out = [0u8; 255];
    if let Ok(when) = DateTime::parse(data) {
        let n = when.emit(&mut out).expect("emit date/time");
        assert_eq!(&out[..n], data);
    }
    if let Ok(password) = Password::parse(data) {
        let n = password.emit(&mut out).expect("emit password");
        assert_eq!(&out[..n], data);
        assert_eq!(password.as_str().as_bytes(), data);
    }
    if let Ok(check) = PasswordCheck::parse(data) {
        let n = check.emit(&mut out).expect("emit check");
        assert_eq!(&out[..n], data);
    }
}

/// `powerone_scan`: [`rewire_powerone::scan`] over a stream fed whole and
/// in pieces (the same frames either way, each one `parse`s), then
/// [`rewire_powerone::scan_idle`] on what is left.
pub fn powerone_scan(data: &[u8]) {
    use rewire_powerone::{Scan, parse, scan, scan_idle};

    // The SIMD search agrees with the byte-loop oracle at every offset.
    for from in 0..data.len().min(16) {
        let buf = &data[from..];
        for idle in [false, true] {
            let got = match if idle { scan_idle(buf) } else { scan(buf) } {
                Scan::Found { skipped, len, .. } => Ok((skipped, len)),
                Scan::Partial { skipped } => Err(skipped),
            };
            assert_eq!(got, powerone_scan_model(buf, idle), "idle {idle}");
        }
    }

    let (frames, mut left) = split_invariant(data, |buf| match scan(buf) {
        Scan::Found {
            skipped,
            len,
            message,
        } => {
            assert_eq!(message.as_bytes(), &buf[skipped..skipped + len]);
            Ok((skipped, len, message.as_bytes().to_vec()))
        }
        Scan::Partial { skipped } => Err(skipped),
    });
    for (offset, bytes) in &frames {
        assert_eq!(&data[*offset..*offset + bytes.len()], &bytes[..]);
        let (_, used) = parse(bytes).expect("a scanned frame parses");
        assert_eq!(used, bytes.len());
    }
    // Idle: every candidate is decided now, so the buffer drains.
    loop {
        match scan_idle(&left) {
            Scan::Found { skipped, len, .. } => {
                assert!(len > 0 && skipped + len <= left.len());
                parse(&left[skipped..]).expect("an idle-scanned frame parses");
                left.drain(..skipped + len);
            }
            Scan::Partial { skipped } => {
                assert!(skipped <= left.len());
                break;
            }
        }
    }
}

/// The Power-One scanner's rule as a plain byte loop, the oracle
/// [`powerone_scan`] checks `scan`/`scan_idle` against: the first 0xFF
/// whose length byte (≥ 8) and checksum hold is a frame; one that runs past
/// the end waits for more bytes (`Err(its offset)`), or under `idle` is
/// passed over and bounds the bytes reported skipped.
pub fn powerone_scan_model(buf: &[u8], idle: bool) -> Result<(usize, usize), usize> {
    let mut first_incomplete = None;
    for pos in (0..buf.len()).filter(|&i| buf[i] == 0xFF) {
        let Some(&length) = buf.get(pos + 1) else {
            if !idle {
                return Err(pos);
            }
            first_incomplete = first_incomplete.or(Some(pos));
            continue;
        };
        let length = usize::from(length);
        if length < rewire_powerone::MIN_FRAME_LEN {
            continue;
        }
        let Some(frame) = buf.get(pos..pos + length) else {
            if !idle {
                return Err(pos);
            }
            first_incomplete = first_incomplete.or(Some(pos));
            continue;
        };
        let sum = frame[..length - 1]
            .iter()
            .fold(0u8, |sum, &b| sum.wrapping_add(b));
        if cfg!(fuzzing) || sum == frame[length - 1] {
            return Ok((pos, length));
        }
    }
    Err(first_incomplete.unwrap_or(buf.len()))
}

// ---- WebSentry --------------------------------------------------------------

/// Walks `body` with every iterator and formats what they yield.
fn websentry_walk(body: &[u8], sink: &mut String) {
    use rewire_websentry::{Pairs, QueryIds, SetStatuses, Values};

    for item in QueryIds::new(body) {
        let _ = write!(sink, "{item:?}");
    }
    let mut values = Values::new(body);
    for (id, value) in values.by_ref().flatten() {
        let _ = write!(
            sink,
            "{} {} {:?} {:?} {:?}",
            value.labeled(id),
            value,
            value.raw(),
            value.as_f64(),
            rewire_websentry::enum_label(id, &value)
        );
    }
    assert!(values.position() <= body.len());
    for item in SetStatuses::new(body) {
        let _ = write!(sink, "{item:?}");
    }
    let (request, response) = body.split_at(body.len() / 2);
    for item in Pairs::new(request, response) {
        let _ = write!(sink, "{item:?}");
    }
}

/// `websentry_frame`: the frame view (unchecked, checked, its checksum),
/// its accessors and formatting, [`rewire_websentry::parse`], the body walks
/// and re-encoding a frame whose values all parse.
pub fn websentry_frame(data: &[u8]) {
    use rewire_websentry::{Frame, encode_values, parse};

    let mut sink = String::new();
    let view = Frame::new_unchecked(data);
    let _ = (view.checksum(), view.payload_len(), view.function());
    let _ = (view.checksum_ok(), view.computed_checksum(), view.magic());
    let _ = view.check_checksum();
    websentry_walk(view.body(), &mut sink);
    let _ = write!(sink, "{view} {view:?}");

    if let Ok(frame) = Frame::new_checked(data) {
        assert_eq!(frame.payload().len(), usize::from(frame.payload_len()));
        assert!(frame.total_len() <= data.len());
        websentry_walk(frame.body(), &mut sink);
        let _ = write!(sink, "{frame} {frame:?}");
    }

    if let Ok((frame, used)) = parse(data) {
        assert_eq!(used, frame.as_bytes().len());
        assert_eq!(frame.as_bytes(), &data[..used]);
        if let Ok(items) = frame.values().collect::<Result<Vec<_>, _>>() {
            let mut out = vec![0u8; used];
            let n = encode_values(frame.function(), &items, &mut out).expect("re-encodes");
            assert_eq!(n, used);
            // The CRC is not checked under cfg(fuzzing): compare the rest.
            assert_eq!(out[..3], data[..3]);
            assert_eq!(out[5..n], data[5..n]);
        }
    }
}

/// `websentry_scan`: [`rewire_websentry::scan`] over a stream fed whole
/// and in pieces (the same frames either way, each a checked frame of its
/// own length, whatever its CRC), with the body walks over every frame found.
pub fn websentry_scan(data: &[u8]) {
    use rewire_websentry::{Frame, Scan, scan};

    let (frames, _) = split_invariant(data, |buf| match scan(buf) {
        Scan::Found {
            skipped,
            len,
            message,
        } => {
            assert_eq!(message.as_bytes(), &buf[skipped..skipped + len]);
            Ok((skipped, len, message.as_bytes().to_vec()))
        }
        Scan::Partial { skipped } => Err(skipped),
    });
    let mut sink = String::new();
    for (offset, bytes) in &frames {
        assert_eq!(&data[*offset..*offset + bytes.len()], &bytes[..]);
        let frame = Frame::new_checked(&bytes[..]).expect("a scanned frame is a frame");
        assert_eq!(frame.total_len(), bytes.len());
        websentry_walk(frame.body(), &mut sink);
    }
}

/// `websentry_items`: every body iterator ([`rewire_websentry::QueryIds`],
/// [`rewire_websentry::Values`], [`rewire_websentry::SetStatuses`],
/// [`rewire_websentry::Pairs`]) over arbitrary bodies, and
/// `Value::parse`/`emit` round trips.
pub fn websentry_items(data: &[u8]) {
    use rewire_websentry::{Value, Values, encode_values};

    let mut sink = String::new();
    websentry_walk(data, &mut sink);

    if let Ok((value, used)) = Value::parse(data) {
        assert!(used <= data.len());
        let mut out = [0u8; 512];
        let n = value.emit(&mut out).expect("a parsed value re-emits");
        assert_eq!(&out[..n], &data[..used]);
    }

    // A body whose every value parses re-encodes byte for byte.
    if let Ok(items) = Values::new(data).collect::<Result<Vec<_>, _>>() {
        let mut out = vec![0u8; data.len() + rewire_websentry::HEADER_LEN + 1];
        if let Ok(n) = encode_values(rewire_websentry::FunctionCode::INIT, &items, &mut out) {
            assert_eq!(&out[rewire_websentry::HEADER_LEN + 1..n], data);
        }
    }
}

// ---- UPSilon ----------------------------------------------------------------

/// `upsilon_status`: [`rewire_upsilon::Status::parse`] on arbitrary lines;
/// a parsed status survives `emit` → `parse`, and formats.
pub fn upsilon_status(data: &[u8]) {
    use rewire_upsilon::{MAX_LINE_LEN, Status};

    // The by-position path and the tokenizer agree, errors included.
    #[cfg(fuzzing)]
    assert_eq!(
        Status::parse(data),
        rewire_upsilon::parse_status_tokenized(data)
    );
    if let Ok(status) = Status::parse(data) {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = status.emit(&mut buf).expect("a status fits MAX_LINE_LEN");
        assert_eq!(Status::parse(&buf[..n]), Ok(status));
        let _ = (status.to_string(), status.battery_per_cell());
    }
}

/// `upsilon_reply`: the `F` ([`rewire_upsilon::parse_ratings`]) and `I`
/// ([`rewire_upsilon::parse_info`]) replies, commands
/// ([`rewire_upsilon::parse_command`]) and the USB bridge helpers; each
/// parsed value survives `emit` → `parse`.
pub fn upsilon_reply(data: &[u8]) {
    use rewire_upsilon::{MAX_LINE_LEN, parse_command, parse_info, parse_ratings, usb};

    let mut buf = [0u8; MAX_LINE_LEN];
    if let Ok(ratings) = parse_ratings(data) {
        let n = ratings.emit(&mut buf).expect("ratings fit MAX_LINE_LEN");
        assert_eq!(parse_ratings(&buf[..n]), Ok(ratings));
        let _ = ratings.to_string();
    }
    if let Ok(info) = parse_info(data) {
        let n = info.emit(&mut buf).expect("info fits MAX_LINE_LEN");
        assert_eq!(parse_info(&buf[..n]), Ok(info));
        let _ = info.to_string();
    }
    if let Ok(command) = parse_command(data) {
        let n = command.emit(&mut buf).expect("a command fits MAX_LINE_LEN");
        assert_eq!(parse_command(&buf[..n]), Ok(command));
        assert!(command.is_echoed_by(&buf[..n]));
        let _ = (command.to_string(), usb::string_index(&command));
    }
    assert_eq!(usb::reply(data).is_none(), usb::is_no_ack(data));
}

/// `upsilon_scan`: [`rewire_upsilon::scan`] over a TCP 2570 stream fed
/// whole and in pieces (the same records either way, each starting with
/// `(` and within the record bound), then [`rewire_upsilon::scan_final`] on
/// what is left, and `Status::parse` on every record.
pub fn upsilon_scan(data: &[u8]) {
    use rewire_upsilon::{DEFAULT_MAX_RECORD_LEN, Scan, scan, scan_final};

    // The SIMD search agrees with the byte-loop oracle at every offset, for
    // the default bound and for bounds records hit.
    let max = 1 + usize::from(data.first().copied().unwrap_or(0) % 64);
    for from in 0..data.len().min(16) {
        let buf = &data[from..];
        for max in [DEFAULT_MAX_RECORD_LEN, max] {
            for at_end in [false, true] {
                let found = if at_end {
                    scan_final(buf, max)
                } else {
                    scan(buf, max)
                };
                let got = match found {
                    Scan::Found {
                        skipped,
                        len,
                        message,
                    } => {
                        assert_eq!(message.as_ptr(), buf[skipped..].as_ptr());
                        Ok((skipped, len, message.len()))
                    }
                    Scan::Partial { skipped } => Err(skipped),
                };
                assert_eq!(got, upsilon_scan_model(buf, max, at_end), "max {max}");
            }
        }
    }

    let to_result = |buf: &[u8], found: Scan<&[u8]>| match found {
        Scan::Found {
            skipped,
            len,
            message,
        } => {
            let span = &buf[skipped..skipped + len];
            assert!(span.starts_with(message), "the record starts the span");
            assert!(message.first() == Some(&b'('));
            assert!(message.len() <= DEFAULT_MAX_RECORD_LEN + 1);
            Ok((skipped, len, message.to_vec()))
        }
        Scan::Partial { skipped } => Err(skipped),
    };
    let (records, left) = split_invariant(data, |buf| {
        to_result(buf, scan(buf, DEFAULT_MAX_RECORD_LEN))
    });
    let mut tail = left.as_slice();
    let mut last = Vec::new();
    while let Ok((skipped, len, record)) = to_result(tail, scan_final(tail, DEFAULT_MAX_RECORD_LEN))
    {
        tail = &tail[skipped + len..];
        last.push(record);
    }
    for record in records.iter().map(|(_, r)| r).chain(&last) {
        upsilon_status(record);
    }
}

/// The Q1 scanner's rule as a plain byte loop, the oracle [`upsilon_scan`]
/// checks `scan`/`scan_final` against. A record is `(` up to the first CR,
/// LF, NUL or `(` within `max` bytes after it (or the end of `buf` when
/// `at_end`); its span also takes the CR/LF/NUL run after it. A `(` with
/// no end within `max` bytes is passed over. Returns `Ok((skipped, len,
/// record length))` or `Err(skipped)`.
pub fn upsilon_scan_model(
    buf: &[u8],
    max: usize,
    at_end: bool,
) -> Result<(usize, usize, usize), usize> {
    let ends = |b: u8| matches!(b, b'\r' | b'\n' | 0);
    for start in (0..buf.len()).filter(|&i| buf[i] == b'(') {
        let body = &buf[start + 1..];
        let window = &body[..body.len().min(max)];
        let end = match window.iter().position(|&b| ends(b) || b == b'(') {
            Some(i) => start + 1 + i,
            None if body.len() >= max => continue,
            None if at_end => buf.len(),
            None => return Err(start),
        };
        let trailing = buf[end..].iter().take_while(|&&b| ends(b)).count();
        return Ok((start, end - start + trailing, end - start));
    }
    Err(buf.len())
}

/// `upsilon_heartbeat`: [`rewire_upsilon::parse_heartbeat`] on arbitrary
/// datagrams; a parsed heartbeat re-emits the same bytes.
pub fn upsilon_heartbeat(data: &[u8]) {
    use rewire_upsilon::{HEARTBEAT_LEN, MAX_LINE_LEN, parse_heartbeat};

    if let Ok(heartbeat) = parse_heartbeat(data) {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = heartbeat.emit(&mut buf).expect("a heartbeat fits");
        assert_eq!(n, HEARTBEAT_LEN);
        assert_eq!(&buf[..n], data);
        let _ = heartbeat.to_string();
    }
}

/// `upsilon_sms`: [`rewire_upsilon::parse_sms_alert`] on arbitrary
/// requests: a complete request parses the same from exactly its own bytes,
/// its strict prefixes are partial, and its accessors and decoders run.
pub fn upsilon_sms(data: &[u8]) {
    use rewire_upsilon::sms::{Parsed, parse_sms_alert};

    if let Ok(Parsed::Complete(n, alert)) = parse_sms_alert(data) {
        assert!(n <= data.len());
        assert_eq!(parse_sms_alert(&data[..n]), Ok(Parsed::Complete(n, alert)));
        for i in [0, n / 2, n.saturating_sub(1)] {
            assert!(matches!(parse_sms_alert(&data[..i]), Ok(Parsed::Partial)));
        }
        let _ = alert.headers().count();
        let _ = (alert.content_host(), alert.message(), alert.to_string());
        let _ = alert.header("host");
        let mut buf = [0u8; 256];
        let _ = alert.decoded_content(&mut buf);
        let mut buf = [0u8; 256];
        let _ = alert.decoded_recipient(&mut buf);
    }
}

// ---- transport: framers -----------------------------------------------------

/// Runs a framer over `chunks` (then `finish`) and returns its events,
/// checking that they are in stream order, do not overlap, stay within the
/// stream, and that the skipped runs add up to `garbage_bytes`.
fn frame_all<F: Framing>(mut framer: Framer<F>, chunks: &[&[u8]], total: usize) -> Vec<Event> {
    let mut events = Vec::new();
    for chunk in chunks {
        // An oversize report is not a stop: the framer has already recovered.
        let _ = framer.push(chunk);
        events.extend(std::iter::from_fn(|| framer.next()));
    }
    framer.finish();
    events.extend(std::iter::from_fn(|| framer.next()));
    assert_eq!(framer.buffered(), 0);

    let mut end = 0u64;
    let mut skipped = 0u64;
    let mut messages = 0u64;
    for event in &events {
        let (offset, len) = match event {
            Event::Message(m) => {
                messages += 1;
                (m.offset, m.bytes.len() as u64)
            }
            Event::Skipped(s) => {
                skipped += s.len;
                assert!(s.len > 0, "an empty skipped run");
                (s.offset, s.len)
            }
        };
        assert!(offset >= end, "events overlap or go backwards: {events:?}");
        end = offset + len;
    }
    assert!(end <= total as u64);
    assert_eq!(skipped, framer.garbage_bytes());
    assert_eq!(messages, framer.message_count());
    events
}

fn messages(events: &[Event]) -> Vec<&Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            Event::Skipped(_) => None,
        })
        .collect()
}

/// Like [`frame_all`] with [`Framer::push_owned`]: the events must be the
/// same as with `push`.
fn frame_all_owned<F: Framing>(mut framer: Framer<F>, chunks: &[&[u8]]) -> Vec<Event> {
    let mut events = Vec::new();
    for chunk in chunks {
        let _ = framer.push_owned(chunk.to_vec());
        events.extend(std::iter::from_fn(|| framer.next()));
    }
    framer.finish();
    events.extend(std::iter::from_fn(|| framer.next()));
    events
}

fn check_framing<F: Framing + Clone>(framing: F, data: &[u8]) {
    let whole = frame_all(Framer::new(framing.clone()), &[data], data.len());
    let split = frame_all(Framer::new(framing.clone()), &pieces(data), data.len());
    assert_eq!(
        messages(&whole),
        messages(&split),
        "framed messages depend on the split"
    );
    let owned = frame_all_owned(Framer::new(framing.clone()), &pieces(data));
    assert_eq!(owned, split, "push_owned and push disagree");
    // A tight cap exercises the oversize discard and resync.
    let limit = NonZeroUsize::new(48).expect("48 is not zero");
    frame_all(
        Framer::with_limit(framing, limit),
        &pieces(data),
        data.len(),
    );
}

/// `transport_framing`: the four framers of `rewire_transport::framing`
/// (Power-One, WebSentry, UPSilon records, Megatec reply lines) over the
/// same bytes, fed whole and in pieces (the same messages either way), in
/// pieces with `push_owned` (the same events as `push`), then with a
/// 48-byte cap; the Power-One framer also idles between pieces.
pub fn transport_framing(data: &[u8]) {
    check_framing(PowerOne, data);
    check_framing(WebSentry, data);
    check_framing(Upsilon::default(), data);
    check_framing(Megatec::default(), data);

    let mut framer = Framer::new(PowerOne);
    for chunk in pieces(data) {
        let _ = framer.push(chunk);
        framer.idle();
        while let Some(event) = framer.next() {
            if let Event::Message(m) = event {
                rewire_powerone::parse(&m.bytes).expect("a framed Power-One frame parses");
            }
        }
    }
}

// ---- transport: capture readers ---------------------------------------------

/// Drains a capture reader: after an error it must be finished, and every
/// chunk must belong to a stream that has not ended.
fn drain_capture<I>(reader: I)
where
    I: Iterator<Item = Result<CaptureEvent, rewire_transport::capture::CaptureError>>,
{
    let mut ended = std::collections::BTreeSet::new();
    let mut reader = reader.fuse();
    while let Some(item) = reader.next() {
        match item {
            Ok(CaptureEvent::End(end)) => {
                assert!(
                    ended.insert(end.stream),
                    "stream {:?} ended twice",
                    end.stream
                );
            }
            Ok(event) => {
                assert!(
                    !ended.contains(&event.stream()),
                    "event after its stream ended: {event:?}"
                );
            }
            Err(err) => {
                let _ = (err.to_string(), err.kind());
                assert!(reader.next().is_none(), "a reader goes on after an error");
                break;
            }
        }
    }
}

/// Formats `bytes` the way `hexdump -C` does (without `*` folding).
fn hexdump_c(bytes: &[u8]) -> String {
    let mut text = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let _ = write!(text, "{:08x} ", i * 16);
        for (j, b) in line.iter().enumerate() {
            if j == 8 {
                text.push(' ');
            }
            let _ = write!(text, " {b:02x}");
        }
        text.push_str("  |");
        for &b in line {
            text.push(if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            });
        }
        text.push_str("|\n");
    }
    let _ = writeln!(text, "{:08x}", bytes.len());
    text
}

/// `capture_hexdump`: [`HexDumpReader`] over arbitrary text (and input
/// detection), then over `data` rendered as `hexdump -C` output, which must
/// read back as exactly `data`.
pub fn capture_hexdump(data: &[u8]) {
    let _ = InputFormat::detect(data);
    drain_capture(HexDumpReader::new(data));

    let text = hexdump_c(data);
    let mut back = Vec::new();
    for event in HexDumpReader::new(text.as_bytes()) {
        match event.expect("a hexdump -C rendering reads back") {
            CaptureEvent::Chunk(chunk) => back.extend_from_slice(&chunk.bytes),
            CaptureEvent::Gap(gap) => panic!("gap in a whole dump: {gap:?}"),
            CaptureEvent::End(_) => {}
        }
    }
    assert_eq!(back, data, "hexdump -C round trip");
}

/// `capture_pcap`: [`PacketCaptureReader`] (pcap and pcapng, link layers,
/// IP, TCP reassembly, UDP) over an in-memory capture, with small
/// connection and reordering bounds so eviction and gaps are reached; then
/// `data` sent as one TCP stream (segmented, some segments swapped or sent
/// twice, as [`tcp_capture`] builds it) must reassemble to exactly `data`.
pub fn capture_pcap(data: &[u8]) {
    let mut options = CaptureOptions::default();
    options.max_connections = 4;
    options.max_out_of_order_bytes = 1024;
    if let Ok(reader) = PacketCaptureReader::new(Cursor::new(data), options) {
        let _ = reader.format();
        drain_capture(reader);
    }

    let capture = tcp_capture(data);
    let reader = PacketCaptureReader::new(Cursor::new(&capture), CaptureOptions::default())
        .expect("a built capture opens");
    let mut stream = Vec::new();
    let mut ends = 0;
    for event in reader {
        match event.expect("a built capture reads") {
            CaptureEvent::Chunk(chunk) => {
                assert_eq!(
                    chunk.direction,
                    Some(rewire_transport::capture::Direction::ClientToServer)
                );
                stream.extend_from_slice(&chunk.bytes);
            }
            CaptureEvent::Gap(gap) => panic!("gap in a complete stream: {gap:?}"),
            CaptureEvent::End(_) => ends += 1,
        }
    }
    assert_eq!(stream, data, "TCP reassembly");
    // A stream that carried bytes is ended (by its FIN); an empty one may
    // never be announced at all.
    assert!(data.is_empty() || ends >= 1, "the stream never ended");
}

/// Builds a classic pcap (Ethernet, IPv4) of one TCP connection that carries
/// `data` from client to server: handshake, `data` cut as `pieces` cuts
/// it, the segment after one whose first byte is odd sent before it, a
/// segment whose first byte has bit 1 set sent twice, then FIN from both
/// sides.
pub fn tcp_capture(data: &[u8]) -> Vec<u8> {
    use etherparse::{PacketBuilder, TcpHeader};

    const CLIENT: [u8; 4] = [10, 0, 0, 1];
    const SERVER: [u8; 4] = [10, 0, 0, 2];
    let client_isn: u32 = 0xFFFF_FF00; // wraps inside longer streams
    let server_isn: u32 = 1000;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut packet = |from_client: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
        let (sport, dport, src, dst) = if from_client {
            (40000, 2570, CLIENT, SERVER)
        } else {
            (2570, 40000, SERVER, CLIENT)
        };
        let mut tcp = TcpHeader::new(sport, dport, seq, 65535);
        tcp.syn = flags.contains('S');
        tcp.fin = flags.contains('F');
        tcp.psh = !payload.is_empty();
        tcp.ack = flags.contains('A');
        tcp.acknowledgment_number = ack;
        let mut bytes = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp_header(tcp)
            .write(&mut bytes, payload)
            .expect("a small packet builds");
        packets.push(bytes);
    };
    let data_seq = client_isn.wrapping_add(1);
    packet(true, client_isn, 0, "S", &[]);
    packet(false, server_isn, data_seq, "SA", &[]);
    packet(true, data_seq, server_isn + 1, "A", &[]);

    let mut segments = Vec::new();
    let mut offset = 0u32;
    for piece in pieces(data) {
        segments.push((offset, piece));
        offset = offset.wrapping_add(piece.len() as u32);
    }
    let mut i = 0;
    while i < segments.len() {
        let swap = segments[i].1[0] & 1 == 1 && i + 1 < segments.len();
        let order: &[usize] = if swap { &[i + 1, i] } else { &[i] };
        for &j in order {
            let (at, piece) = segments[j];
            let times = if piece[0] & 2 == 2 { 2 } else { 1 };
            for _ in 0..times {
                packet(true, data_seq.wrapping_add(at), server_isn + 1, "A", piece);
            }
        }
        i += order.len();
    }
    let fin_seq = data_seq.wrapping_add(offset);
    packet(true, fin_seq, server_isn + 1, "FA", &[]);
    packet(false, server_isn + 1, fin_seq.wrapping_add(1), "FA", &[]);
    packet(true, fin_seq.wrapping_add(1), server_isn + 2, "A", &[]);

    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&[0; 8]); // time zone, accuracy
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (n, bytes) in packets.iter().enumerate() {
        let len = bytes.len() as u32;
        pcap.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        pcap.extend_from_slice(&(n as u32).to_le_bytes()); // microseconds
        pcap.extend_from_slice(&len.to_le_bytes());
        pcap.extend_from_slice(&len.to_le_bytes());
        pcap.extend_from_slice(bytes);
    }
    pcap
}

/// `capture_rawlog`: [`RawLogReader`] and its events over an arbitrary
/// WebSentry JSON raw log; then a session built from `data` (frames cut as
/// `pieces` cuts it, directions, numbers, start time and duration taken
/// from the bytes) must read back equal after
/// [`rewire_transport::capture::write_raw_log_session`].
pub fn capture_rawlog(data: &[u8]) {
    use rewire_transport::capture::{
        Direction, RawLogFrame, RawLogSession, RawLogTime, write_raw_log_session,
    };

    drain_capture(RawLogReader::new(data).events());

    let word = |at: usize| -> u64 {
        let mut b = [0u8; 8];
        for (k, slot) in b.iter_mut().enumerate() {
            *slot = data.get(at + k).copied().unwrap_or(0);
        }
        u64::from_le_bytes(b)
    };
    let frames: Vec<RawLogFrame> = pieces(data)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| RawLogFrame {
            n: (i + 1) as u8,
            direction: if piece[0] & 1 == 0 {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            },
            data: piece.to_vec(),
        })
        .collect();
    let session = RawLogSession {
        start: RawLogTime {
            // Years 1970..=9999, any nanosecond, offsets within ±18 h.
            unix_seconds: (word(0) % 253_402_300_800) as i64,
            nanos: (word(8) % 1_000_000_000) as u32,
            utc_offset_minutes: (word(16) % 2161) as i16 - 1080,
        },
        dur_sec: f64::from_bits(word(24)),
        frames,
    };
    let mut text = Vec::new();
    match write_raw_log_session(&mut text, &session) {
        Ok(()) => {
            let mut sessions = RawLogReader::new(text.as_slice());
            let back = sessions
                .next()
                .expect("one session")
                .unwrap_or_else(|e| panic!("a written session reads back: {e}"));
            assert_eq!(back, session, "raw log round trip");
            assert!(sessions.next().is_none());
        }
        // Only a duration that JSON cannot hold may fail.
        Err(_) => assert!(!session.dur_sec.is_finite()),
    }
}

// ---- upsilon host: the live modes' request handling -------------------------

/// `upsilon_nut`: the NUT server's command handling
/// ([`rewire_upsilon_host::nut::Server::answer`], [`parse_command_line`]) on
/// arbitrary lines, read-only and driving a UPS, with a users file: every
/// reply is one newline-terminated line (or one `BEGIN LIST` … `END LIST`
/// block) of bounded size, and queued commands are taken.
///
/// [`parse_command_line`]: rewire_upsilon_host::nut::parse_command_line
pub fn upsilon_nut(data: &[u8]) {
    use rewire_upsilon_host::hub::Shared;
    use rewire_upsilon_host::nut::{NutConfig, Server, Session, command_queue, parse_command_line};
    use rewire_upsilon_host::users::Users;
    use std::time::{Duration, Instant};

    let shared = Shared::default();
    {
        let mut snap = shared.lock();
        snap.status =
            rewire_upsilon::Status::parse(b"(230.0 230.0 230.0 020 50.0 27.2 --.- 00011010").ok();
        snap.status_at = Some(Instant::now());
    }
    let mut config = NutConfig::new("ups", "fuzz", Duration::from_secs(3600));
    config.users = Users::parse(
        "[admin]\npassword = secret\ninstcmds = all\nactions = SET\n[mon]\npassword = pw\nupsmon primary\n",
    )
    .expect("the fuzz users file parses");
    let (driver, jobs) = command_queue();
    let servers = [
        Server::new(config.clone(), shared.clone()),
        Server::new(config, shared).with_driver(driver),
    ];
    for server in &servers {
        let mut session = Session::default();
        for line in data.split(|&b| b == b'\n').take(64) {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches('\r');
            if let Ok(words) = parse_command_line(text) {
                assert!(words.iter().map(|w| w.len()).sum::<usize>() <= text.len());
            }
            let reply = server.answer(&mut session, text);
            assert!(reply.ends_with('\n'), "{text:?} -> {reply:?}");
            assert!(reply.len() < 16 * 1024, "{text:?}: {} bytes", reply.len());
            if reply.starts_with("BEGIN LIST") {
                assert!(
                    reply
                        .lines()
                        .last()
                        .is_some_and(|l| l.starts_with("END LIST"))
                );
            } else {
                assert_eq!(reply.matches('\n').count(), 1, "{text:?} -> {reply:?}");
            }
            while let Ok(job) = jobs.try_recv() {
                job.finish(true);
            }
            if session.closing {
                break;
            }
        }
    }
}

/// `upsilon_sms_gateway`: what `upsilon monitor`'s SMS gateway (an HTTP
/// endpoint) does with a connection's bytes, fed in pieces
/// ([`rewire_upsilon_host::monitor::sms_step`]): every alert consumes
/// bytes it was given, the unanswered buffer never exceeds
/// [`rewire_upsilon_host::monitor::MAX_REQUEST`] plus one piece, and a
/// rejected request ends the connection.
pub fn upsilon_sms_gateway(data: &[u8]) {
    use rewire_upsilon_host::monitor::{MAX_REQUEST, SmsStep, sms_step};

    let mut buf: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    let mut alerts = 0usize;
    'conn: for piece in pieces(data) {
        buf.extend_from_slice(piece);
        assert!(buf.len() <= MAX_REQUEST + piece.len());
        loop {
            match sms_step(&buf, offset) {
                SmsStep::Alert { consumed, sms } => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    let _ = (sms.recipient.len(), sms.content.len(), sms.host, sms.code);
                    buf.drain(..consumed);
                    offset += consumed as u64;
                    alerts += 1;
                }
                SmsStep::NeedMore => {
                    assert!(buf.len() <= MAX_REQUEST);
                    break;
                }
                SmsStep::Reject(garbage) => {
                    assert_eq!(garbage.offset, offset);
                    assert!(garbage.head.len() <= buf.len());
                    break 'conn;
                }
            }
        }
    }
    assert!(alerts <= data.len());
}
