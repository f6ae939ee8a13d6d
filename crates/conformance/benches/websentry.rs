//! WebSentry frames: the scanner (header), plus the CRC check, plus the
//! full value walk, over a realistic TCP 1030 stream; against CRC-16/MODBUS
//! alone with the `crc` crate over the same bytes, slice-by-16 and byte-wise.
//! The parser's CRC is slice-by-16 with its default `crc-slice16` feature;
//! the walk with a byte-wise CRC in its place is what a build without the
//! feature does, measured in the same run. The lazy walk (`Frame::items`,
//! every item's type and length checked, each number read by
//! `Item::as_f64`) reads the same numbers as the typed walk. Then the registry lookup: the
//! compile-time index against a binary search of the same table.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rewire_conformance::streams::websentry_stream;
use rewire_websentry::{Frame, Scan, registry, scan};

mod support;

/// CRC-16/MODBUS with the byte-wise table, as without `crc-slice16`.
static BYTEWISE: crc::Crc<u16, crc::Table<1>> =
    crc::Crc::<u16, crc::Table<1>>::new(&crc::CRC_16_MODBUS);
/// CRC-16/MODBUS slice-by-16, as with `crc-slice16` (the default).
static SLICE16: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_MODBUS);

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
    walk(frame)
}

/// As [`full`], with the byte-wise CRC of a build without `crc-slice16`.
fn full_bytewise(frame: &Frame<&[u8]>) -> bool {
    if BYTEWISE.checksum(frame.payload()) != frame.checksum() {
        return false;
    }
    walk(frame)
}

/// The CRC check and the lazy walk: every item's id, type and length
/// checked, and its number read without decoding the typed value.
fn full_lazy(frame: &Frame<&[u8]>) -> bool {
    if !frame.checksum_ok() {
        return false;
    }
    black_box(lazy_sum(frame));
    true
}

/// The sum of every number in the frame, through the lazy walk.
fn lazy_sum(frame: &Frame<&[u8]>) -> f64 {
    let mut sum = 0.0;
    for item in frame.items().flatten() {
        sum += item.as_f64().unwrap_or(0.0);
    }
    sum
}

/// The sum of every number in the frame, through the typed walk.
fn typed_sum(frame: &Frame<&[u8]>) -> f64 {
    let mut sum = 0.0;
    for (_, value) in frame.values().flatten() {
        sum += value.as_f64().unwrap_or(0.0);
    }
    sum
}

/// The walk over every value.
fn walk(frame: &Frame<&[u8]>) -> bool {
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
    assert_eq!(count, frames(&stream, full_bytewise));
    // Both walks read the same numbers.
    frames(&stream, |f| {
        assert_eq!(lazy_sum(f).to_bits(), typed_sum(f).to_bits());
        true
    });
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
    group.bench_function("header_crc_items_lazy", |b| {
        b.iter(|| frames(black_box(&stream), full_lazy))
    });
    group.bench_function("header_crc_values_bytewise_crc", |b| {
        b.iter(|| frames(black_box(&stream), full_bytewise))
    });
    group.bench_function("reference_crc_crate_slice16", |b| {
        b.iter(|| SLICE16.checksum(black_box(&stream)))
    });
    group.bench_function("reference_crc_crate_bytewise", |b| {
        b.iter(|| BYTEWISE.checksum(black_box(&stream)))
    });
    group.finish();

    // Every named id and as many unnamed ones, looked up in turn.
    let ids: Vec<u16> = registry::PROPERTIES
        .iter()
        .flat_map(|p| [p.id, p.id ^ 0x0080])
        .collect();
    let mut group = c.benchmark_group("websentry_registry");
    group.throughput(Throughput::Elements(ids.len() as u64));
    group.bench_function("index", |b| {
        b.iter(|| {
            black_box(&ids)
                .iter()
                .filter(|&&id| registry::property(id).is_some())
                .count()
        })
    });
    group.bench_function("reference_binary_search", |b| {
        b.iter(|| {
            black_box(&ids)
                .iter()
                .filter(|&&id| {
                    registry::PROPERTIES
                        .binary_search_by_key(&id, |p| p.id)
                        .is_ok()
                })
                .count()
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
