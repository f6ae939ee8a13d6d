//! Fuzzes every WebSentry entry point: the frame view (checked, lenient and
//! unchecked), `parse`, the scanner fed as a stream, every body walk, value
//! formatting, and re-encoding of frames whose items all parse.
#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use rewire_websentry::{
    Frame, Pairs, QueryIds, Scan, SetStatuses, Values, encode_values, parse, scan,
};

fn walk(body: &[u8], sink: &mut String) {
    for item in QueryIds::new(body) {
        let _ = write!(sink, "{item:?}");
    }
    let mut values = Values::new(body);
    for (id, value) in values.by_ref().flatten() {
        let _ = write!(
            sink,
            "{} {} {:?} {:?}",
            value.labeled(id),
            value,
            value.raw(),
            value.as_f64()
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

fuzz_target!(|data: &[u8]| {
    let mut sink = String::new();

    let view = Frame::new_unchecked(data);
    let _ = (
        view.crc(),
        view.payload_len(),
        view.function(),
        view.crc_ok(),
    );
    walk(view.body(), &mut sink);
    let _ = write!(sink, "{view} {view:?}");

    if let Ok(frame) = Frame::new_lenient(data) {
        assert_eq!(frame.payload().len(), usize::from(frame.payload_len()));
        walk(frame.body(), &mut sink);
    }

    if let Ok((frame, used)) = parse(data) {
        assert_eq!(used, frame.as_bytes().len());
        if let Ok(items) = frame.values().collect::<Result<Vec<_>, _>>() {
            let mut out = vec![0u8; used];
            let n = encode_values(frame.function(), &items, &mut out).expect("re-encodes");
            // The CRC check is skipped under cfg(fuzzing): compare the rest.
            assert_eq!(out[..3], frame.as_bytes()[..3]);
            assert_eq!(out[5..n], frame.as_bytes()[5..]);
        }
    }

    // Stream the input through the scanner the way a transport does.
    let mut rest = data;
    loop {
        match scan(rest) {
            Scan::Found {
                skipped,
                len,
                message,
            } => {
                assert!(skipped + len <= rest.len());
                walk(message.body(), &mut sink);
                rest = &rest[skipped + len..];
            }
            Scan::Partial { skipped } => {
                assert!(skipped <= rest.len());
                break;
            }
        }
    }
});
