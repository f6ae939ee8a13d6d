//! WebSentry frames: the scanner (header), plus the CRC check, plus the
//! full value walk, over a realistic TCP 1030 stream; against CRC-16/MODBUS
//! alone with the `crc` crate over the same bytes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rewire_conformance::streams::websentry_stream;
use rewire_websentry::{Frame, Scan, scan};

/// Feeds the stream to the scanner and hands every frame to `each`;
/// returns how many frames `each` accepted.
fn frames(mut rest: &[u8], mut each: impl FnMut(&Frame<&[u8]>) -> bool) -> usize {
    let mut n = 0;
    while let Scan::Found {
        skipped,
        len,
        message,
    } = scan(rest)
    {
        n += usize::from(each(&message));
        rest = &rest[skipped + len..];
    }
    n
}

/// The CRC check and the walk over every value, as a decoder does.
fn full(frame: &Frame<&[u8]>) -> bool {
    if !frame.checksum_ok() {
        return false;
    }
    let mut sum = 0.0;
    for (_, value) in frame.values().flatten() {
        sum += value.as_f64().unwrap_or(0.0);
    }
    black_box(sum);
    true
}

fn bench(c: &mut Criterion) {
    let stream = websentry_stream(1 << 20, 0x1030);
    let count = frames(&stream, full);
    assert!(count > 1_000, "the stream holds frames");
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS);
    let mut group = c.benchmark_group("websentry_frames");
    group.throughput(Throughput::ElementsAndBytes {
        elements: count as u64,
        bytes: stream.len() as u64,
    });
    group.bench_function("header", |b| {
        b.iter(|| frames(black_box(&stream), |f| black_box(f.payload_len()) > 0))
    });
    group.bench_function("header_crc", |b| {
        b.iter(|| frames(black_box(&stream), |f| f.checksum_ok()))
    });
    group.bench_function("header_crc_values", |b| {
        b.iter(|| frames(black_box(&stream), full))
    });
    group.bench_function("reference_crc_crate", |b| {
        b.iter(|| crc.checksum(black_box(&stream)))
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
