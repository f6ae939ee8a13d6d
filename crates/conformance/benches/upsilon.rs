//! Q1 status lines: scan + parse of a realistic TCP 2570 stream, against
//! finding the line ends alone with `memchr` over the same bytes (counted in
//! one pass, and visited one by one).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rewire_conformance::streams::upsilon_stream;
use rewire_upsilon::{DEFAULT_MAX_RECORD_LEN, Scan, Status, scan};

mod support;

/// Scans every record and parses it as a status; returns how many parsed.
fn decode(mut rest: &[u8]) -> usize {
    let mut ok = 0;
    while let Scan::Found {
        skipped,
        len,
        message,
    } = scan(rest, DEFAULT_MAX_RECORD_LEN)
    {
        if let Ok(status) = Status::parse(message) {
            black_box(&status);
            ok += 1;
        }
        rest = &rest[skipped + len..];
    }
    ok
}

/// Scans every record without parsing it; returns how many.
fn scan_only(mut rest: &[u8]) -> usize {
    let mut n = 0;
    while let Scan::Found { skipped, len, .. } = scan(rest, DEFAULT_MAX_RECORD_LEN) {
        n += 1;
        rest = &rest[skipped + len..];
    }
    n
}

fn bench(c: &mut Criterion) {
    let stream = upsilon_stream(1 << 20, 0x5150);
    let lines = decode(&stream);
    assert!(lines > 10_000, "the stream holds status lines");
    let mut group = c.benchmark_group("upsilon_q1");
    group.throughput(Throughput::ElementsAndBytes {
        elements: lines as u64,
        bytes: stream.len() as u64,
    });
    group.bench_function("scan_parse_status", |b| {
        b.iter(|| decode(black_box(&stream)))
    });
    group.bench_function("scan_only", |b| b.iter(|| scan_only(black_box(&stream))));
    group.bench_function("reference_memchr_cr", |b| {
        b.iter(|| memchr::memchr_iter(b'\r', black_box(&stream)).count())
    });
    // Every line end visited one at a time, as a line splitter must (the
    // plain `count` above is a SIMD popcount that never stops at a line).
    group.bench_function("reference_memchr_each_cr", |b| {
        b.iter(|| {
            let mut last = 0;
            for i in memchr::memchr_iter(b'\r', black_box(&stream)) {
                last = black_box(i);
            }
            last
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
