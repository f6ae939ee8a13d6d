//! Synthetic protocols with random layouts: sync, length (width, byte
//! order, what it counts), checksum (sums, xor, CRCs with random or
//! catalogue parameters, trailing or in the header), and header fields with
//! random roles and positions. The structure recovered from generated
//! traffic must equal the generated one in at least 95 % of the layouts, and
//! thin evidence must give "not found" rather than a guess.
//!
//! Fixed seeds: every run tests the same layouts.

use rewire_infer::crc::CrcParams;
use rewire_infer::report::{Algorithm, Endian, GroupReport, Role};
use rewire_infer::{Boundary, ByteStream, Config, Direction, infer_streams};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Simple(Algorithm),
    Crc(CrcParams),
}

#[derive(Debug, Clone)]
struct Protocol {
    sync: Vec<u8>,
    /// Header slots after the sync, in order.
    header: Vec<Slot>,
    len_width: usize,
    len_endian: Endian,
    /// Frame length = value + adjust.
    adjust: i64,
    cs: Kind,
    cs_width: usize,
    cs_endian: Endian,
    /// Trailing, or at this header offset.
    cs_fixed: Option<usize>,
    cs_range_from: usize,
    addr_master: u8,
    addr_devices: [u8; 3],
    flags: (u8, u8),
    constant: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Length,
    Function,
    AddrDst,
    AddrSrc,
    Flag,
    Constant,
    Checksum,
}

impl Slot {
    fn width(self, p: &Protocol) -> usize {
        match self {
            Self::Length => p.len_width,
            Self::Checksum => p.cs_width,
            _ => 1,
        }
    }
}

fn offset_of(p: &Protocol, slot: Slot) -> Option<usize> {
    let mut o = p.sync.len();
    for s in &p.header {
        if *s == slot {
            return Some(o);
        }
        o += s.width(p);
    }
    None
}

fn header_len(p: &Protocol) -> usize {
    p.sync.len() + p.header.iter().map(|s| s.width(p)).sum::<usize>()
}

fn mask(width: u32) -> u64 {
    if width == 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    }
}

fn random_protocol(rng: &mut fastrand::Rng) -> Protocol {
    let sync_len = rng.usize(1..=3);
    let mut sync: Vec<u8> = (0..sync_len).map(|_| rng.u8(1..=255)).collect();
    // A sync that repeats its first byte would make shorter syncs ambiguous.
    for i in 1..sync.len() {
        if sync[i] == sync[0] {
            sync[i] ^= 0x5a;
        }
    }
    let (cs, cs_width) = match rng.usize(0..8) {
        0 => (Kind::Simple(Algorithm::Sum8), 1),
        1 => (Kind::Simple(Algorithm::Sum8TwosComplement), 1),
        2 => (Kind::Simple(Algorithm::Xor8), 1),
        3 => (Kind::Simple(Algorithm::Sum16), 2),
        4 => (Kind::Simple(Algorithm::Sum8OnesComplement), 1),
        _ => {
            let width = [8u32, 16, 32][rng.usize(0..3)];
            let refl = rng.bool();
            let m = mask(width);
            let params = CrcParams {
                width,
                poly: (rng.u64(..) & m) | 1,
                init: if rng.bool() { 0 } else { rng.u64(..) & m },
                refin: refl,
                refout: refl,
                xorout: if rng.bool() { 0 } else { rng.u64(..) & m },
            };
            (Kind::Crc(params), width as usize / 8)
        }
    };
    let mut header = vec![Slot::Length, Slot::Function, Slot::Flag, Slot::Constant];
    rng.shuffle(&mut header);
    // Addresses side by side (destination, source), somewhere.
    let at = rng.usize(0..=header.len());
    header.insert(at, Slot::AddrSrc);
    header.insert(at, Slot::AddrDst);
    let cs_fixed = rng.usize(0..4) == 0;
    if cs_fixed {
        let at = rng.usize(0..=header.len());
        header.insert(at, Slot::Checksum);
    }
    let len_width = [1usize, 1, 2, 2, 4][rng.usize(0..5)];
    let mut p = Protocol {
        sync,
        header,
        len_width,
        len_endian: if rng.bool() {
            Endian::Big
        } else {
            Endian::Little
        },
        adjust: 0,
        cs,
        cs_width,
        cs_endian: if rng.bool() {
            Endian::Big
        } else {
            Endian::Little
        },
        cs_fixed: None,
        cs_range_from: 0,
        addr_master: rng.u8(..),
        addr_devices: [rng.u8(..), rng.u8(..), rng.u8(..)],
        flags: (rng.u8(..), rng.u8(..)),
        constant: rng.u8(1..=255),
    };
    if p.len_width == 1 || p.cs_width == 1 {
        p.len_endian = Endian::Big;
    }
    if p.cs_width == 1 {
        p.cs_endian = Endian::Big;
    }
    while p.addr_devices.contains(&p.addr_master) {
        p.addr_master = p.addr_master.wrapping_add(1);
    }
    while p.flags.0 == p.flags.1 {
        p.flags.1 = p.flags.1.wrapping_add(1);
    }
    let hl = header_len(&p);
    p.cs_fixed = offset_of(&p, Slot::Checksum);
    p.cs_range_from = match p.cs_fixed {
        // Covers what follows the field (the search looks up to 8 bytes on).
        Some(o) => {
            let after = o + p.cs_width;
            if rng.bool() {
                after
            } else {
                (after + rng.usize(0..=3)).min(hl)
            }
        }
        None => [0, p.sync.len(), hl][rng.usize(0..3)],
    };
    let trailing = if p.cs_fixed.is_none() { p.cs_width } else { 0 };
    p.adjust = match rng.usize(0..3) {
        0 => 0,
        1 => hl as i64,
        _ => (hl + trailing) as i64,
    };
    p
}

fn checksum(kind: Kind, data: &[u8]) -> u64 {
    let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    match kind {
        Kind::Simple(Algorithm::Sum8) => sum & 0xff,
        Kind::Simple(Algorithm::Sum8TwosComplement) => sum.wrapping_neg() & 0xff,
        Kind::Simple(Algorithm::Sum8OnesComplement) => !sum & 0xff,
        Kind::Simple(Algorithm::Xor8) => u64::from(data.iter().fold(0, |a, &b| a ^ b)),
        Kind::Simple(Algorithm::Sum16) => sum & 0xffff,
        Kind::Simple(Algorithm::Crc) => unreachable!(),
        Kind::Crc(p) => p.compute(data),
    }
}

fn put(endian: Endian, value: u64, width: usize) -> Vec<u8> {
    let be: Vec<u8> = (0..width).rev().map(|i| (value >> (8 * i)) as u8).collect();
    match endian {
        Endian::Big => be,
        Endian::Little => be.into_iter().rev().collect(),
    }
}

fn read(endian: Endian, bytes: &[u8]) -> u64 {
    endian.read(bytes)
}

fn frame(
    p: &Protocol,
    rng: &mut fastrand::Rng,
    function: u8,
    device: u8,
    request: bool,
) -> Vec<u8> {
    let payload: Vec<u8> = (0..rng.usize(1..=10)).map(|_| rng.u8(..)).collect();
    let trailing = if p.cs_fixed.is_none() { p.cs_width } else { 0 };
    let total = header_len(p) + payload.len() + trailing;
    let mut m = p.sync.clone();
    let (dst, src) = if request {
        (device, p.addr_master)
    } else {
        (p.addr_master, device)
    };
    for slot in &p.header {
        match slot {
            Slot::Length => {
                let v = (total as i64 - p.adjust) as u64;
                m.extend(put(p.len_endian, v, p.len_width));
            }
            Slot::Function => m.push(function),
            Slot::AddrDst => m.push(dst),
            Slot::AddrSrc => m.push(src),
            Slot::Flag => m.push(if request { p.flags.0 } else { p.flags.1 }),
            Slot::Constant => m.push(p.constant),
            Slot::Checksum => m.extend(std::iter::repeat_n(0, p.cs_width)),
        }
    }
    m.extend(payload);
    match p.cs_fixed {
        Some(o) => {
            let v = checksum(p.cs, &m[p.cs_range_from..]);
            m.splice(o..o + p.cs_width, put(p.cs_endian, v, p.cs_width));
        }
        None => {
            let v = checksum(p.cs, &m[p.cs_range_from..]);
            m.extend(put(p.cs_endian, v, p.cs_width));
        }
    }
    m
}

/// Options for the generated traffic.
#[derive(Debug, Clone, Copy, Default)]
struct Traffic {
    exchanges: usize,
    noise: bool,
    corrupt: usize,
    truncate: bool,
}

fn traffic(p: &Protocol, rng: &mut fastrand::Rng, t: Traffic) -> Vec<ByteStream> {
    let mut c2s = ByteStream::default();
    let mut s2c = ByteStream::default();
    c2s.direction = Some(Direction::ClientToServer);
    s2c.direction = Some(Direction::ServerToClient);
    let functions: Vec<u8> = (0..5).map(|_| rng.u8(..)).collect();
    let mut seq = 0u64;
    for i in 0..t.exchanges {
        let f = functions[rng.usize(0..functions.len())];
        let dev = p.addr_devices[rng.usize(0..3)];
        for (request, s) in [(true, &mut c2s), (false, &mut s2c)] {
            let mut m = frame(p, rng, f, dev, request);
            if i < t.corrupt && request {
                let last = m.len() - 1;
                m[last] ^= 0x5a;
                if let Some(o) = p.cs_fixed {
                    m[o] ^= 0x21;
                }
            }
            if t.truncate && i == t.exchanges / 2 && !request {
                m.truncate(m.len() / 2);
            }
            seq += 1;
            s.boundaries.push(Boundary {
                offset: s.bytes.len(),
                time: None,
                seq,
            });
            if t.noise && i % 7 == 3 {
                s.bytes.extend((0..rng.usize(1..=4)).map(|_| rng.u8(..)));
            }
            s.bytes.extend(m);
        }
    }
    vec![c2s, s2c]
}

/// Compares the report with the protocol; returns what differs.
fn differences(p: &Protocol, r: &GroupReport) -> Vec<String> {
    let mut d = Vec::new();
    // Sync: the generated bytes, possibly followed by the constant byte.
    let mut with_const = p.sync.clone();
    if p.header.first() == Some(&Slot::Constant) {
        with_const.push(p.constant);
    }
    let sync = r.sync.found().map(|s| s.bytes.clone()).unwrap_or_default();
    let hexs = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let sync_ok = sync == hexs(&p.sync) || sync == hexs(&with_const);
    if !sync_ok {
        d.push(format!("sync {sync} != {}", hexs(&p.sync)));
    }
    let lo = offset_of(p, Slot::Length);
    match r.length.found() {
        Some(l) => {
            let got = (Some(l.offset), l.width, l.adjust);
            if got != (lo, p.len_width, p.adjust) || (l.width > 1 && l.endian != p.len_endian) {
                d.push(format!("length {got:?}/{:?}", l.endian));
            }
        }
        None => d.push(format!("length not found: {:?}", r.length)),
    }
    match r.checksum.found() {
        Some(c) => {
            // With a two's/ones' complement sum or a xor, the field and its
            // range sum (xor) to a constant: a trailing field over X..end-1
            // is the same rule as a field at X over X+1..end.
            let symmetric = matches!(
                p.cs,
                Kind::Simple(
                    Algorithm::Sum8TwosComplement | Algorithm::Sum8OnesComplement | Algorithm::Xor8
                )
            );
            let closure = |from_end: bool, offset: usize, range_from: usize| {
                if from_end { range_from } else { offset }
            };
            let twin = symmetric
                && match p.cs_fixed {
                    Some(o) => p.cs_range_from == o + 1,
                    None => true,
                }
                && closure(c.from_end, c.offset, c.range_from)
                    == closure(
                        p.cs_fixed.is_none(),
                        p.cs_fixed.unwrap_or(0),
                        p.cs_range_from,
                    )
                && (if c.from_end {
                    c.range_to_end == 1
                } else {
                    c.range_from == c.offset + 1
                });
            let pos_ok = twin
                || match p.cs_fixed {
                    Some(o) => !c.from_end && c.offset == o && c.range_to_end == 0,
                    None => c.from_end && c.offset == p.cs_width && c.range_to_end == p.cs_width,
                };
            let endian_ok = c.width == 1 || c.endian == p.cs_endian;
            let alg_ok = match p.cs {
                Kind::Simple(a) => c.algorithm == a && (twin || c.range_from == p.cs_range_from),
                // A constant prefix is absorbed by init: another range with
                // another init is the same CRC. Check it reproduces fresh frames.
                Kind::Crc(params) => c.crc.as_ref().is_some_and(|got| {
                    let hex =
                        |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
                    let found = CrcParams {
                        width: got.params.width,
                        poly: hex(&got.params.poly),
                        init: hex(&got.params.init),
                        refin: got.params.refin,
                        refout: got.params.refout,
                        xorout: hex(&got.params.xorout),
                    };
                    let mut rng = fastrand::Rng::with_seed(99);
                    found.poly == params.poly
                        && (0..20).all(|i| {
                            let m = frame(p, &mut rng, i, p.addr_devices[0], i % 2 == 0);
                            let stored = match p.cs_fixed {
                                Some(o) => read(p.cs_endian, &m[o..o + p.cs_width]),
                                None => read(p.cs_endian, &m[m.len() - p.cs_width..]),
                            };
                            let end = m.len() - c.range_to_end;
                            found.compute(&m[c.range_from..end]) == stored
                        })
                }),
            };
            if !(pos_ok && endian_ok && alg_ok && c.width == p.cs_width) {
                d.push(format!("checksum {c:?}"));
            }
        }
        None => d.push(format!("checksum not found: {:?}", r.checksum)),
    }
    let mut want: Vec<(usize, Role)> = Vec::new();
    for (slot, role) in [
        (Slot::Function, Role::Function),
        (Slot::AddrDst, Role::Address),
        (Slot::AddrSrc, Role::Address),
        (Slot::Flag, Role::DirectionFlag),
        (Slot::Constant, Role::Constant),
    ] {
        if let Some(o) = offset_of(p, slot)
            && !(slot == Slot::Constant && sync.len() / 2 > o)
        {
            want.push((o, role));
        }
    }
    want.sort_by_key(|w| w.0);
    let got: Vec<(usize, Role)> = r.fields.iter().map(|f| (f.offset, f.role)).collect();
    if got != want {
        d.push(format!("fields {got:?} != {want:?}"));
    }
    d
}

fn run_layouts(seed: u64, count: usize, t: Traffic) -> (usize, Vec<String>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut ok = 0;
    let mut failures = Vec::new();
    for case in 0..count {
        let p = random_protocol(&mut rng);
        let streams = traffic(&p, &mut rng, t);
        let r = infer_streams("synthetic", &streams, &Config::default());
        let d = differences(&p, &r);
        if d.is_empty() {
            ok += 1;
        } else {
            failures.push(format!("case {case}: {p:?}\n  {}", d.join("\n  ")));
        }
    }
    (ok, failures)
}

#[test]
fn random_layouts_are_recovered() {
    let count = 200;
    let t = Traffic {
        exchanges: 30,
        ..Traffic::default()
    };
    let (ok, failures) = run_layouts(0x5eed, count, t);
    eprintln!("random layouts: {ok}/{count} recovered");
    assert!(
        ok * 100 >= count * 95,
        "{ok}/{count} recovered; failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn noise_truncation_and_corrupt_checksums_do_not_change_the_answer() {
    let count = 60;
    let t = Traffic {
        exchanges: 30,
        noise: true,
        corrupt: 2,
        truncate: true,
    };
    let (ok, failures) = run_layouts(0xbad, count, t);
    eprintln!("noise, truncation, corrupt checksums: {ok}/{count} recovered");
    assert!(
        ok * 100 >= count * 95,
        "{ok}/{count} recovered; failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn thin_evidence_is_not_found() {
    let mut rng = fastrand::Rng::with_seed(3);
    let mut guessed = Vec::new();
    for case in 0..100 {
        let p = random_protocol(&mut rng);
        // One exchange: two messages, far too few to name anything.
        let streams = traffic(
            &p,
            &mut rng,
            Traffic {
                exchanges: 1,
                ..Traffic::default()
            },
        );
        let r = infer_streams("thin", &streams, &Config::default());
        if r.length.found().is_some() || r.checksum.found().is_some() {
            guessed.push(format!("case {case}: {r}"));
        }
    }
    assert!(guessed.is_empty(), "{}", guessed.join("\n"));
}
