//! Power-One frames: scan (checksum-verified) + every field read through the
//! view, and scan + `Repr::parse` (which checks the frame again), of a realistic
//! serial stream with noise, against summing the same bytes: the whole
//! stream in one pass (the reference) and each frame on its own.

use std::hint::black_box;
use std::ops::Range;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rewire_conformance::streams::powerone_stream;
use rewire_powerone::{Repr, Scan, scan, scan_idle};

/// Scans the stream as a transport does at its end (`scan`, then
/// `scan_idle` for what is left) and parses each frame's fields.
fn decode(mut rest: &[u8]) -> usize {
    let mut n = 0;
    loop {
        let found = match scan(rest) {
            found @ Scan::Found { .. } => found,
            Scan::Partial { .. } => scan_idle(rest),
        };
        let Scan::Found {
            skipped,
            len,
            message,
        } = found
        else {
            return n;
        };
        if let Ok(repr) = Repr::parse(&message) {
            black_box(repr);
            n += 1;
        }
        rest = &rest[skipped + len..];
    }
}

/// Returns where each frame [`decode`] finds lies in `stream`.
fn frame_ranges(stream: &[u8]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut at = 0;
    loop {
        let rest = &stream[at..];
        let found = match scan(rest) {
            found @ Scan::Found { .. } => found,
            Scan::Partial { .. } => scan_idle(rest),
        };
        let Scan::Found { skipped, len, .. } = found else {
            return ranges;
        };
        ranges.push(at + skipped..at + skipped + len);
        at += skipped + len;
    }
}

/// Scans the stream like [`decode`] and reads every field of each frame
/// through the checked view, as `powerone decode` does (the scanner has
/// checked the length and checksum already).
fn decode_view(mut rest: &[u8]) -> usize {
    let mut n = 0;
    loop {
        let found = match scan(rest) {
            found @ Scan::Found { .. } => found,
            Scan::Partial { .. } => scan_idle(rest),
        };
        let Scan::Found {
            skipped,
            len,
            message,
        } = found
        else {
            return n;
        };
        black_box((
            message.destination(),
            message.source(),
            message.reply_flag(),
            message.control(),
            message.function(),
            message.data(),
            message.checksum(),
        ));
        n += 1;
        rest = &rest[skipped + len..];
    }
}

fn bench(c: &mut Criterion) {
    let stream = powerone_stream(1 << 20, 0x9600);
    let count = decode(&stream);
    assert!(count > 10_000, "the stream holds frames");
    let mut group = c.benchmark_group("powerone_frames");
    group.throughput(Throughput::ElementsAndBytes {
        elements: count as u64,
        bytes: stream.len() as u64,
    });
    group.bench_function("scan_view", |b| b.iter(|| decode_view(black_box(&stream))));
    group.bench_function("scan_parse", |b| b.iter(|| decode(black_box(&stream))));
    // The checksum work alone at the decoder's granularity: each frame's
    // bytes summed on their own, with the frame boundaries found
    // beforehand (outside the timing).
    let frames = frame_ranges(&stream);
    group.bench_function("reference_sum_each_frame", |b| {
        b.iter(|| {
            let stream = black_box(&stream);
            frames
                .iter()
                .map(|range| {
                    stream[range.clone()]
                        .iter()
                        .fold(0u8, |sum, &b| sum.wrapping_add(b))
                })
                .fold(0u8, |acc, sum| acc ^ black_box(sum))
        })
    });
    group.bench_function("reference_sum_bytes", |b| {
        b.iter(|| {
            black_box(&stream)
                .iter()
                .fold(0u8, |sum, &b| sum.wrapping_add(b))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
