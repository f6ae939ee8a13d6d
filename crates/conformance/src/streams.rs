//! Realistic byte streams for the benches: valid messages of each protocol
//! (the captured ones and variations of them) mixed with line noise,
//! generated deterministically from a seed so every run measures the same
//! bytes.

use rewire_powerone::{FunctionCode, Repr};
use rewire_websentry::{Value, encode_query_response, encode_set_response, encode_values};

/// A small xorshift generator: deterministic, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Creates a generator; the same seed gives the same numbers.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Returns a number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Returns a random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }
}

/// Appends a run of 1..=16 random noise bytes to `out` one time in `every`.
fn noise(rng: &mut Rng, every: usize, out: &mut Vec<u8>) {
    if rng.below(every) == 0 {
        let n = 1 + rng.below(16);
        out.extend((0..n).map(|_| rng.byte()));
    }
}

/// Status lines from the seed capture and real UPSes (NUT driver tests and
/// HID tools), as they travel on TCP 2570 and serial lines.
const Q1_LINES: &[&[u8]] = &[
    b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
    b"(000.0 000.0 238.7 007 50.1 27.4 --.- 10001000",
    b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000",
    b"(215.0 195.0 230.0 014 49.0 22.7 30.0 00000000",
    b"(215.0 195.0 230.0 014 49.0 2.27 30.0 00101000",
    b"(102.5 000.0 102.4 000 49.9 54.5 22.7 00101000",
    b"(000.0 140.0 227.0 002 00.0 46.8 56.0 10001000",
    b"(228.6 228.7 228.6 000 50.0 13.5 --.- 00001000",
];

/// Builds about `size` bytes of a TCP 2570 / serial Q1 stream: status
/// lines ended by CR (some CR LF, some CR NUL, as captured), with a run of
/// noise after one line in eight. Returns the stream.
pub fn upsilon_stream(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(size + 64);
    while out.len() < size {
        out.extend_from_slice(Q1_LINES[rng.below(Q1_LINES.len())]);
        out.extend_from_slice(match rng.below(4) {
            0 => b"\r\n",
            1 => b"\r\0",
            _ => b"\r",
        });
        noise(&mut rng, 8, &mut out);
    }
    out
}

/// Frames captured from a real unit and its cloud (hex).
const WEBSENTRY_CAPTURED: &[&str] = &[
    "70839ee8e6001200ff00020504010d0090c20c02b301200207",
    "70839e8b2b000a0206000f06010f01010f",
    "70839e93800016020600060216060106027501010707352e31352e3132",
    "70839ec63d0006032501030032",
    "70839e3b10000403250100",
];

/// Decodes a hex string of the tables above.
fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Builds about `size` bytes of WebSentry TCP 1030 traffic: the captured
/// frames and query responses of 4 to 40 values of every type (the shape a
/// full status poll has), with noise after one frame in eight.
pub fn websentry_stream(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let captured: Vec<Vec<u8>> = WEBSENTRY_CAPTURED.iter().map(|h| unhex(h)).collect();
    let strings: [&[u8]; 3] = [b"5.15.12", b"Seresco NE-004", b"room"];
    let mut out = Vec::with_capacity(size + 4096);
    let mut buf = vec![0u8; rewire_websentry::MAX_FRAME_LEN];
    while out.len() < size {
        match rng.below(4) {
            0 => out.extend_from_slice(&captured[rng.below(captured.len())]),
            1 => {
                let items: Vec<(u16, u8)> = (0..1 + rng.below(8))
                    .map(|_| (rng.next_u64() as u16, 0))
                    .collect();
                if let Ok(n) = encode_set_response(&items, &mut buf) {
                    out.extend_from_slice(&buf[..n]);
                }
            }
            _ => {
                let items: Vec<(u16, Value<'_>)> = (0..4 + rng.below(37))
                    .map(|_| {
                        let id = 0x0100 + rng.below(0x0800) as u16;
                        let v = rng.next_u64();
                        let value = match rng.below(8) {
                            0 => Value::U8(v as u8),
                            1 => Value::Enum(v as u8 % 4),
                            2 => Value::U16(v as u16),
                            3 => Value::Tenths(v as u16 % 1200),
                            4 => Value::Str(strings[rng.below(strings.len())]),
                            5 => Value::Ranged {
                                value: 50,
                                min: -50,
                                max: 100,
                                step: 1,
                            },
                            6 => Value::Version([5, 15, 12, 0]),
                            _ => Value::U32(v as u32),
                        };
                        (id, value)
                    })
                    .collect();
                if let Ok(n) = encode_query_response(&items, &mut buf) {
                    out.extend_from_slice(&buf[..n]);
                }
            }
        }
        noise(&mut rng, 8, &mut out);
    }
    // The init frame once more, encoded from values, so the encoder of
    // every function is in the stream.
    if let Ok(n) = encode_values(
        rewire_websentry::FunctionCode::INIT,
        &[(0x0205, Value::U8(0x0d))],
        &mut buf,
    ) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Builds about `size` bytes of a Power-One serial line: the captured
/// requests and replies and requests of unknown functions carrying 0 to 64
/// data bytes, with noise after one frame in eight.
pub fn powerone_stream(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let captured: [&[u8]; 4] = [
        &[
            0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
        ],
        &[0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10],
        &[
            0xFF, 0x0C, 0x01, 0x00, 0x01, 0x01, 0x08, 0x38, 0x38, 0x38, 0x38, 0xF6,
        ],
        &[0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x08, 0x11],
    ];
    let mut out = Vec::with_capacity(size + 300);
    let mut buf = [0u8; rewire_powerone::MAX_FRAME_LEN];
    let mut data = [0u8; 64];
    while out.len() < size {
        if rng.below(2) == 0 {
            out.extend_from_slice(captured[rng.below(captured.len())]);
        } else {
            let n = rng.below(data.len() + 1);
            for b in &mut data[..n] {
                *b = rng.byte();
            }
            let module = 1 + rng.below(8) as u8;
            let request = Repr::request(module, FunctionCode(0x20 + rng.byte() % 16), &data[..n]);
            if let Ok(len) = request.emit(&mut buf) {
                out.extend_from_slice(&buf[..len]);
            }
        }
        noise(&mut rng, 8, &mut out);
    }
    out
}
