//! Differential test against the original exporter: a raw log the
//! simulators made through `websentry proxy --raw-log`, decoded by
//! `websentry decode --json`, replayed through the original's
//! change-logging rule (re-implemented below), must give the lines the
//! original printed for the same file, line by line.
//!
//! `data/wmpe-differential.expected` is the original's output, made once
//! (see `data/README.md` for the command); the original is not built here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_websentry");

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// `[08 00 5a …]`: how the original shows a value it does not decode.
fn bracket_hex(bytes: &[u8]) -> String {
    let inner: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("[{}]", inner.join(" "))
}

/// The original's `propertyValue.String()` for a value given as its type
/// byte and body (`wmpe.go`, `DecodedStringOrEmpty`, then `Float64`, then
/// the hex). Labels come from rewire's `text`, which uses the same tables;
/// the documented differences are undone here: an enum kind's name
/// (`2 (DigOut)` there `2(t=DigOut)`), the `?` rewire adds to the guessed
/// `software_variant` label, and the signed reading of type `0x08`.
fn original_text(id: u16, type_code: u8, body: &[u8], text: &str) -> String {
    let mut all = vec![type_code];
    all.extend_from_slice(body);
    let u16_at = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
    let float = |f: f64| format!("{f}");
    match (type_code, body.len()) {
        (0x07, n) if n > 1 => format!("{:?}", String::from_utf8_lossy(&body[1..])),
        (0x0c, 4) | (0x05, 4) => {
            let parts: Vec<String> = body.iter().map(u8::to_string).collect();
            parts.join(".")
        }
        (0x0a, 4) => format!(
            "{:04}-{:02}-{:02}",
            1900 + u16::from(body[0]),
            body[1],
            body[2]
        ),
        (0x0b, 4) => format!("{:02}:{:02}:{:02}", body[0], body[1], body[2] >> 2),
        (0x12, 4) => u32::from_be_bytes([body[0], body[1], body[2], body[3]]).to_string(),
        (0x08, 7) => {
            let (cur, lo, hi, step) = (u16_at(0), u16_at(2), u16_at(4), body[6]);
            if cur == 0 && lo != 0 {
                format!("- ({lo}-{hi} by {step})")
            } else {
                format!("{cur} ({lo}-{hi} by {step})")
            }
        }
        (0x02, 1) => {
            // A label, else the number.
            text.to_owned()
        }
        (0x09, 2) => match text.split_once(" (") {
            Some((n, rest)) => {
                let kind = rest.trim_end_matches(')');
                match kind.strip_prefix("enum 0x") {
                    Some(hex) => format!("{n}(et={})", u8::from_str_radix(hex, 16).unwrap()),
                    None => format!("{n}(t={kind})"),
                }
            }
            None => text.to_owned(),
        },
        (0x06, 2) => float(f64::from(u16_at(0)) / 10.0),
        (0x03, 2) if id == 0x0116 && u16_at(0) == 17 => "NE Modbus/LON".to_owned(),
        (0x03, 2) => float(f64::from(u16_at(0))),
        _ => bracket_hex(&all),
    }
}

#[test]
fn rewire_replays_the_originals_change_log_line_for_line() {
    let out = Command::new(BIN)
        .args(["decode", "--json", "--input", "wmpe-json"])
        .arg(data("wmpe-differential.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The original's rule: every value of a query answer is noted; a value
    // whose bytes differ from the last ones (nothing before the first)
    // logs `prop_0xID ("name") changed WAS => NOW`.
    let mut last: HashMap<u16, (Vec<u8>, String)> = HashMap::new();
    let mut got = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["kind"] != "frame" || r["direction"] != "client" || r["function"] != "query" {
            continue;
        }
        for p in r["properties"].as_array().unwrap() {
            let id = u16::try_from(p["id"].as_u64().unwrap()).unwrap();
            let Some(type_code) = p["type"].as_u64() else {
                continue;
            };
            let type_code = u8::try_from(type_code).unwrap();
            let body = unhex(p["raw"].as_str().unwrap());
            let mut bytes = vec![type_code];
            bytes.extend_from_slice(&body);
            let now = original_text(id, type_code, &body, p["text"].as_str().unwrap());
            let was = match last.get(&id) {
                Some((b, _)) if *b == bytes => continue,
                Some((_, text)) => text.clone(),
                None => "[empty]".to_owned(),
            };
            let name = match p["name"].as_str() {
                Some(n) => format!(" ({n:?})"),
                None => String::new(),
            };
            got.push(format!("prop_0x{id:04x}{name} changed {was} => {now}"));
            last.insert(id, (bytes, now));
        }
    }
    let expected = std::fs::read_to_string(data("wmpe-differential.expected")).unwrap();
    let expected: Vec<&str> = expected.lines().collect();
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "line {}", i + 1);
    }
    assert_eq!(got.len(), expected.len(), "number of changed lines");
    assert!(got.len() > 100, "the log exercises the rule");
}
