//! Power-One frames: scan (checksum-verified) + every field read through the
//! view, and scan + `Repr::parse` (which checks the frame again), of a realistic
//! serial stream with noise, against summing the same bytes: the whole
//! stream in one pass (the reference) and each frame on its own.

use std::hint::black_box;
use std::ops::Range;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rewire_conformance::streams::powerone_stream;
use rewire_powerone::{Frame, Repr, Scan, scan, scan_idle};

mod support;

/// Scans the stream as a transport does at its end (`scan`, then
/// `scan_idle` for what is left) and hands each frame found to `each` with
/// its offset in the stream; returns how many frames.
fn for_each_frame(stream: &[u8], mut each: impl FnMut(usize, Frame<&[u8]>)) -> usize {
    let mut at = 0;
    let mut n = 0;
    loop {
        let rest = &stream[at..];
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
        each(at + skipped, message);
        n += 1;
        at += skipped + len;
    }
}

/// Scans the stream and parses each frame with `Repr::parse` (which checks
/// length and checksum again); returns how many parsed.
fn decode(stream: &[u8]) -> usize {
    let mut parsed = 0;
    for_each_frame(stream, |_, frame| {
        if let Ok(repr) = Repr::parse(&frame) {
            black_box(repr);
            parsed += 1;
        }
    });
    parsed
}

/// Scans the stream and reads every field of each frame through the
/// checked view, as `powerone decode` does (the scanner has checked the
/// length and checksum already); returns how many frames.
fn decode_view(stream: &[u8]) -> usize {
    for_each_frame(stream, |_, frame| {
        black_box((
            frame.destination(),
            frame.source(),
            frame.reply_flag(),
            frame.control(),
            frame.function(),
            frame.data(),
            frame.checksum(),
        ));
    })
}

/// Returns where each frame the scanner finds lies in `stream`.
fn frame_ranges(stream: &[u8]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    for_each_frame(stream, |offset, frame| {
        ranges.push(offset..offset + frame.frame_len())
    });
    ranges
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
    config = support::config();
    targets = bench
}
criterion_main!(benches);
