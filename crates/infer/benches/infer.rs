//! Speed of inference: 10,000 messages must take under a second
//! (`docs/infer.md` records the figures measured).
//!
//! Two workloads, both as captured byte streams (two directions, one piece
//! per message) so boundary finding is included:
//! - `powerone_like`: `FF len dst src reply 01 func data… sum`, 8-bit sum;
//! - `websentry_like`: `70 83 9E crc16 len16 func body`, CRC-16/MODBUS over
//!   the payload (the CRC solver runs).

use criterion::{Criterion, criterion_group, criterion_main};
use rewire_infer::crc::CrcParams;
use rewire_infer::{Boundary, ByteStream, Config, Direction, infer_streams};
use std::hint::black_box;

const MESSAGES: usize = 10_000;

fn streams(make: impl Fn(&mut fastrand::Rng, bool, u8) -> Vec<u8>) -> Vec<ByteStream> {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut c2s = ByteStream::default();
    let mut s2c = ByteStream::default();
    c2s.direction = Some(Direction::ClientToServer);
    s2c.direction = Some(Direction::ServerToClient);
    for i in 0..MESSAGES / 2 {
        let function = rng.u8(1..40);
        for (request, s) in [(true, &mut c2s), (false, &mut s2c)] {
            s.boundaries.push(Boundary {
                offset: s.bytes.len(),
                time: Some(i as f64 * 0.1),
                seq: (2 * i + usize::from(!request)) as u64,
            });
            let m = make(&mut rng, request, function);
            s.bytes.extend(m);
        }
    }
    vec![c2s, s2c]
}

fn powerone(rng: &mut fastrand::Rng, request: bool, function: u8) -> Vec<u8> {
    let data: Vec<u8> = (0..rng.usize(0..12)).map(|_| rng.u8(..)).collect();
    let (dst, src) = if request { (1, 0) } else { (0, 1) };
    let mut m = vec![0xFF, 0, dst, src, u8::from(request), 1, function];
    m.extend(data);
    m[1] = (m.len() + 1) as u8;
    let sum = m.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    m.push(sum);
    m
}

fn websentry(rng: &mut fastrand::Rng, _request: bool, function: u8) -> Vec<u8> {
    let modbus = CrcParams {
        width: 16,
        poly: 0x8005,
        init: 0xffff,
        refin: true,
        refout: true,
        xorout: 0,
    };
    let mut payload = vec![function];
    payload.extend((0..rng.usize(3..24)).map(|_| rng.u8(..)));
    let crc = modbus.compute(&payload) as u16;
    let mut m = vec![0x70, 0x83, 0x9E];
    m.extend(crc.to_be_bytes());
    m.extend((payload.len() as u16).to_be_bytes());
    m.extend(payload);
    m
}

fn bench(c: &mut Criterion) {
    let config = Config::default();
    let mut group = c.benchmark_group("infer_10k_messages");
    group.sample_size(10);
    let p = streams(powerone);
    let w = streams(websentry);
    // What is timed must be the real work: both structures are found.
    let r = infer_streams("bench", &p, &config);
    assert_eq!(r.messages, MESSAGES, "{r}");
    assert!(r.checksum.found().is_some(), "{r}");
    let r = infer_streams("bench", &w, &config);
    let crc = r.checksum.found().and_then(|c| c.crc.as_ref());
    assert_eq!(
        crc.and_then(|c| c.name.as_deref()),
        Some("CRC-16/MODBUS"),
        "{r}"
    );
    group.bench_function("powerone_like", |b| {
        b.iter(|| infer_streams("bench", black_box(&p), &config))
    });
    group.bench_function("websentry_like", |b| {
        b.iter(|| infer_streams("bench", black_box(&w), &config))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
