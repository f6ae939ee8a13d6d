//! Hand-written NDJSON, byte for byte what `serde_json` writes, for the hot
//! records of `decode --json`.
//!
//! A derived `Serialize` goes through `serde_json`'s escaping loop for every
//! key and string, and a record built for it formats addresses and hex into
//! fresh `String`s first. Over a 1 GB capture that was a third of the decode
//! time. Records that implement [`WriteJson`] append themselves to one reused
//! buffer instead: keys are literals, hex and other strings that need no
//! escaping are copied as they are, and only text that may hold a quote,
//! a backslash or a control character goes through [`str()`]. The helpers
//! follow `serde_json` exactly (same escapes, same number formatting: integers
//! in decimal, floats in their shortest round-trip form, non-finite floats as
//! `null`), and the tests compare them with it.

use std::net::SocketAddr;

use serde::Serialize;

/// A record that writes its own NDJSON object (without the newline),
/// identical to `serde_json::to_writer` on its `Serialize`.
pub trait WriteJson {
    /// Appends the record's JSON object to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it.
pub fn str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len().saturating_add(2));
    out.push(b'"');
    let mut rest = s.as_bytes();
    while let Some(at) = first_escape(rest) {
        let (clean, tail) = rest.split_at(at);
        out.extend_from_slice(clean);
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        escape(out, b);
        rest = tail;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Whether `b` must be escaped in a JSON string (as `serde_json` decides).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Returns the index of the first byte that needs escaping. Looks at eight
/// bytes at a time: most strings (hex, names, addresses) need none.
fn first_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    /// Whether some byte of `w` is below `n` (exact for `n <= 128`).
    fn has_less(w: u64, n: u8) -> bool {
        w.wrapping_sub(ONES.wrapping_mul(u64::from(n))) & !w & HIGH != 0
    }
    fn has_byte(w: u64, b: u8) -> bool {
        has_less(w ^ ONES.wrapping_mul(u64::from(b)), 1)
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0usize;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        if (has_less(w, 0x20) || has_byte(w, b'"') || has_byte(w, b'\\'))
            && let Some(i) = chunk.iter().position(|&b| needs_escape(b))
        {
            return Some(base.saturating_add(i));
        }
        base = base.saturating_add(8);
    }
    let tail = chunks.remainder();
    // After at least one word, test the last eight bytes as one (overlapping)
    // word rather than byte by byte: a hit is then searched bytewise.
    if !tail.is_empty()
        && let Some(last) = bytes.len().checked_sub(8).and_then(|at| bytes.get(at..))
    {
        let mut word = [0u8; 8];
        word.copy_from_slice(last);
        let w = u64::from_le_bytes(word);
        if !(has_less(w, 0x20) || has_byte(w, b'"') || has_byte(w, b'\\')) {
            return None;
        }
    }
    tail.iter()
        .position(|&b| needs_escape(b))
        .map(|i| base.saturating_add(i))
}

fn escape(out: &mut Vec<u8>, b: u8) {
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b));
            return;
        }
    };
    out.push(b'\\');
    out.push(short);
}

/// Appends `Some(s)` as a string, `None` as `null`.
pub fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => str(out, s),
        None => null(out),
    }
}

/// Appends `null`.
pub fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

/// Appends `true` or `false`.
pub fn bool(out: &mut Vec<u8>, v: bool) {
    // Two constant-length copies (inlined) rather than one of either length.
    if v {
        out.extend_from_slice(b"true");
    } else {
        out.extend_from_slice(b"false");
    }
}

/// Writes `v` in decimal at the end of `buf`; returns the digits.
fn decimal_digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at = at.saturating_sub(1);
        if let Some(slot) = buf.get_mut(at) {
            // v % 10 < 10, so the narrowing is exact.
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.get(at..).unwrap_or_default()
}

/// Appends an unsigned integer in decimal.
pub fn u64(out: &mut Vec<u8>, v: u64) {
    // Small numbers (ids, lengths, codes) are most: push their digits
    // rather than copy a slice of any length (a memcpy call). The casts
    // take single decimal digits, so they are exact.
    #[allow(clippy::cast_possible_truncation)]
    match v {
        0..=9 => out.push(b'0' + v as u8),
        10..=99 => out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]),
        100..=999 => out.extend_from_slice(&[
            b'0' + (v / 100) as u8,
            b'0' + (v / 10 % 10) as u8,
            b'0' + (v % 10) as u8,
        ]),
        _ => out.extend_from_slice(decimal_digits(v, &mut [0; 20])),
    }
}

/// Appends a float as `serde_json` does: shortest round-trip form, `null`
/// when not finite.
pub fn f64(out: &mut Vec<u8>, v: f64) {
    any(out, &v);
}

/// Appends `Some(v)` as a float, `None` as `null`.
pub fn opt_f64(out: &mut Vec<u8>, v: Option<f64>) {
    match v {
        Some(v) => f64(out, v),
        None => null(out),
    }
}

/// Appends any `Serialize` value with `serde_json` (for the rare parts of a
/// record not worth writing by hand).
pub fn any<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail, and these values have no map with
    // non-string keys; should it ever fail, `null` keeps the line valid JSON.
    let mark = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(mark);
        null(out);
    }
}

/// Appends `bytes` in lowercase hex, unquoted.
pub fn hex_digits(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len().saturating_mul(2));
    for &b in bytes {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b));
    }
}

/// Appends `bytes` as a JSON string of lowercase hex.
pub fn hex_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    hex_digits(out, bytes);
    out.push(b'"');
}

/// Appends `bytes` in lowercase hex to a `String`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len().saturating_mul(2));
    for &b in bytes {
        out.push(char::from(hex_digit(b >> 4)));
        out.push(char::from(hex_digit(b)));
    }
}

/// Appends an unsigned integer in decimal to a `String`.
pub fn push_u64(out: &mut String, v: u64) {
    for &d in decimal_digits(v, &mut [0; 20]) {
        out.push(char::from(d));
    }
}

/// Returns `bytes` in lowercase hex, like `hex::encode` but without its
/// per-`char` iterator.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(2));
    hex_digits(&mut out, bytes);
    // Only ASCII hex digits were written.
    String::from_utf8(out).unwrap_or_default()
}

fn hex_digit(nibble: u8) -> u8 {
    HEX_DIGITS
        .get(usize::from(nibble & 0x0f))
        .copied()
        .unwrap_or(b'0')
}

/// Returns `addr` as its `Display` writes it (`1.2.3.4:5`, `[::1]:5`),
/// without the formatting machinery for the common IPv4 case.
#[must_use]
pub fn socket_addr(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => {
            let mut out = Vec::with_capacity(21);
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                u64(&mut out, u64::from(octet));
            }
            out.push(b':');
            u64(&mut out, u64::from(v4.port()));
            // Only ASCII digits, dots and a colon were written.
            String::from_utf8(out).unwrap_or_else(|_| addr.to_string())
        }
        SocketAddr::V6(_) => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_serde<T: Serialize + ?Sized>(write: impl Fn(&mut Vec<u8>), value: &T) {
        let mut ours = Vec::new();
        write(&mut ours);
        assert_eq!(
            String::from_utf8_lossy(&ours),
            serde_json::to_string(value).unwrap()
        );
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let mut every_control: String = (0u8..0x20).map(char::from).collect();
        every_control.push_str("\u{7f}\"\\/é°F\u{2028}");
        for s in [
            "",
            "plain",
            "\"quoted\"",
            "back\\slash",
            "a\nb\rc\td",
            "\u{0}\u{1f}",
            every_control.as_str(),
            "0123456\"89abcdef\\",
            "01234567\u{1}",
            "é°é°é°é°é°\u{ff}\u{7f}x\"",
            "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnop\n",
        ] {
            same_as_serde(|o| str(o, s), s);
        }
        same_as_serde(|o| opt_str(o, None), &None::<&str>);
    }

    #[test]
    fn every_byte_at_every_position_escapes_like_serde_json() {
        for len in 1..20 {
            for at in 0..len {
                for b in (0u8..0x80).chain([0xc3]) {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    if b == 0xc3 {
                        bytes.insert(at + 1, 0xa9);
                    }
                    let s = String::from_utf8(bytes).unwrap();
                    same_as_serde(|o| str(o, &s), &s);
                }
            }
        }
    }

    #[test]
    fn numbers_and_literals_match_serde_json() {
        for v in [
            0,
            1,
            9,
            10,
            42,
            99,
            100,
            505,
            999,
            1000,
            65535,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            same_as_serde(|o| u64(o, v), &v);
        }
        for v in [
            0.0,
            -0.0,
            1.5,
            238.7,
            1_795_252_566.929_586,
            1e300,
            5e-324,
            f64::NAN,
            f64::INFINITY,
        ] {
            same_as_serde(|o| f64(o, v), &v);
        }
        same_as_serde(|o| opt_f64(o, None), &None::<f64>);
        same_as_serde(|o| bool(o, true), &true);
        same_as_serde(|o| bool(o, false), &false);
    }

    #[test]
    fn hex_is_lowercase_pairs() {
        let bytes = [0x00, 0x0f, 0x70, 0x9e, 0xff];
        assert_eq!(hex(&bytes), ::hex::encode(bytes));
        assert_eq!(hex(&[]), "");
        let mut text = String::from("x");
        push_hex(&mut text, &bytes);
        push_u64(&mut text, 0);
        push_u64(&mut text, u64::MAX);
        assert_eq!(text, format!("x000f709eff0{}", u64::MAX));
        same_as_serde(|o| hex_str(o, &bytes), "000f709eff");
    }

    #[test]
    fn socket_addresses_print_like_display() {
        for a in [
            "127.0.0.1:1030",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.20.3.40:8",
            "[::1]:2570",
            "[fe80::1%2]:80",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(socket_addr(&addr), addr.to_string());
        }
    }
}
