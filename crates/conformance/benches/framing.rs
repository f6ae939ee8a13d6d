//! The transport's `Framer` over the bench streams of the three protocols,
//! fed three ways: `push` of 1460-byte pieces (a TCP read of a busy link),
//! `push` of one message per piece (a relay reading one segment per frame),
//! and `push_owned` of one message per owned chunk (a capture reader's
//! segments, as the decode pipeline feeds them). Every message is taken out
//! and dropped, its first byte read, as a consumer does.
//!
//! The code only uses `Message::bytes` through `len()` and indexing, so the
//! same file measures a `Vec<u8>` framer and a `Bytes` one.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rewire_conformance::streams::{powerone_stream, upsilon_stream, websentry_stream};
use rewire_transport::framing::{Event, Framer, Framing, PowerOne, Upsilon, WebSentry};

mod support;

/// Takes every event out of `framer`; returns the message count plus the
/// sum of each message's first byte (so no message goes unread).
fn take<F: Framing>(framer: &mut Framer<F>) -> u64 {
    let mut n = 0u64;
    while let Some(event) = framer.next() {
        if let Event::Message(m) = event {
            n += 1 + u64::from(m.bytes.first().copied().unwrap_or(0));
        }
    }
    n
}

/// Splits `stream` after each message (garbage goes with the message after
/// it): the pieces a sender writing one message at a time produces.
fn message_pieces<F: Framing>(framing: F, stream: &[u8]) -> Vec<Vec<u8>> {
    let mut framer = Framer::new(framing);
    let _ = framer.push(stream);
    let mut ends = Vec::new();
    while let Some(event) = framer.next() {
        if let Event::Message(m) = event {
            ends.push(m.offset as usize + m.bytes.len());
        }
    }
    let mut pieces = Vec::with_capacity(ends.len() + 1);
    let mut from = 0;
    for end in ends.into_iter().chain(std::iter::once(stream.len())) {
        if end > from {
            pieces.push(stream[from..end].to_vec());
            from = end;
        }
    }
    pieces
}

fn group<F: Framing + Clone>(c: &mut Criterion, name: &str, framing: F, stream: &[u8]) {
    let pieces = message_pieces(framing.clone(), stream);
    assert!(pieces.len() > 1_000, "{name}: the stream holds messages");
    let mut group = c.benchmark_group(format!("framer_{name}"));
    group.throughput(Throughput::ElementsAndBytes {
        elements: pieces.len() as u64,
        bytes: stream.len() as u64,
    });
    let mut framer = Framer::new(framing.clone());
    group.bench_function("push_1460", |b| {
        b.iter(|| {
            let mut n = 0;
            for piece in black_box(stream).chunks(1460) {
                let _ = framer.push(piece);
                n += take(&mut framer);
            }
            n
        })
    });
    let mut framer = Framer::new(framing.clone());
    group.bench_function("push_per_message", |b| {
        b.iter(|| {
            let mut n = 0;
            for piece in black_box(&pieces) {
                let _ = framer.push(piece);
                n += take(&mut framer);
            }
            n
        })
    });
    let mut framer = Framer::new(framing);
    group.bench_function("push_owned_per_message", |b| {
        // The chunks are made outside the timed part: a capture reader
        // allocates them whichever framer takes them.
        b.iter_batched(
            || pieces.clone(),
            |chunks| {
                let mut n = 0;
                for chunk in chunks {
                    let _ = framer.push_owned(chunk);
                    n += take(&mut framer);
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    group(
        c,
        "upsilon",
        Upsilon::default(),
        &upsilon_stream(1 << 20, 0x5150),
    );
    group(
        c,
        "websentry",
        WebSentry,
        &websentry_stream(1 << 20, 0x1030),
    );
    group(c, "powerone", PowerOne, &powerone_stream(1 << 20, 0x9600));
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = bench
}
criterion_main!(benches);
