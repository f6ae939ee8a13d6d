//! Text protocols: a start character, the line terminator and the fields of
//! each line (Megatec's `(238.7 238.7 … 00001000` is eight space-separated
//! fields after a `(`).

use std::collections::HashMap;

use crate::report::{Evidence, TextField, TextReport};

/// Fields reported at most.
const MAX_FIELDS: usize = 32;

/// Returns whether `messages` are printable text.
pub(crate) fn is_text(messages: &[&[u8]]) -> bool {
    let mut total = 0usize;
    let mut printable = 0usize;
    for m in messages {
        for &b in *m {
            total += 1;
            if (0x20..0x7f).contains(&b) || matches!(b, b'\r' | b'\n' | b'\t') {
                printable += 1;
            }
        }
    }
    total > 0 && printable * 100 >= total * 97
}

/// Returns the shape of a value: digits `9`, letters `a`, the rest as is.
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_ascii_alphabetic() {
                'a'
            } else {
                c
            }
        })
        .collect()
}

/// Analyses text lines (without their terminators).
pub(crate) fn analyse(lines: &[&[u8]], terminator: &str) -> TextReport {
    let n = lines.len();
    let texts: Vec<String> = lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    // A start character shared by (nearly) every line, not a letter or digit.
    let mut firsts: HashMap<char, usize> = HashMap::new();
    for t in &texts {
        if let Some(c) = t.chars().next() {
            *firsts.entry(c).or_default() += 1;
        }
    }
    let start = firsts
        .iter()
        .max_by_key(|(c, k)| (**k, std::cmp::Reverse(**c)))
        .filter(|(c, k)| **k * 10 >= n * 9 && !c.is_ascii_alphanumeric())
        .map(|(c, _)| *c);
    let bodies: Vec<&str> = texts
        .iter()
        .map(|t| match start {
            Some(c) => t.strip_prefix(c).unwrap_or(t),
            None => t.as_str(),
        })
        .collect();
    // The separator that splits lines into the most consistent field count.
    let mut best: Option<(char, usize, usize)> = None;
    for sep in [' ', ',', ';', '\t', '|'] {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for b in &bodies {
            *counts.entry(b.split(sep).count()).or_default() += 1;
        }
        if let Some((&fields, &agree)) = counts.iter().max_by_key(|(f, a)| (**a, **f))
            && fields > 1
            && best.is_none_or(|(_, bf, ba)| agree > ba || (agree == ba && fields > bf))
        {
            best = Some((sep, fields, agree));
        }
    }
    let (separator, field_count, agree) = match best {
        Some((s, f, a)) if a * 2 >= n => (Some(s), f, a),
        _ => (None, 1, n),
    };
    let mut fields = Vec::new();
    let rows: Vec<Vec<&str>> = bodies
        .iter()
        .map(|b| match separator {
            Some(s) => b.split(s).collect(),
            None => vec![*b],
        })
        .filter(|r: &Vec<&str>| r.len() == field_count)
        .collect();
    for index in 0..field_count.min(MAX_FIELDS) {
        let mut shapes: HashMap<String, usize> = HashMap::new();
        let mut examples: Vec<String> = Vec::new();
        for r in &rows {
            if let Some(v) = r.get(index) {
                *shapes.entry(shape(v)).or_default() += 1;
                if examples.len() < 3 && !examples.iter().any(|e| e == v) {
                    examples.push((*v).to_owned());
                }
            }
        }
        let Some((shape, count)) = shapes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        else {
            continue;
        };
        fields.push(TextField {
            index,
            shape,
            constant: examples.len() == 1,
            examples,
            evidence: Evidence::new(count, rows.len()),
        });
    }
    TextReport {
        start: start.map(|c| c.to_string()),
        terminator: terminator.to_owned(),
        separator: separator.map(|c| c.to_string()),
        field_count,
        evidence: Evidence::new(agree, n),
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megatec_status_lines() {
        let lines: [&[u8]; 3] = [
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
            b"(000.0 238.7 238.7 007 50.1 27.4 --.- 10001000",
            b"(237.9 238.0 238.1 012 50.0 27.3 --.- 00001000",
        ];
        let r = analyse(&lines, "CR");
        assert_eq!(r.start.as_deref(), Some("("));
        assert_eq!(r.separator.as_deref(), Some(" "));
        assert_eq!(r.field_count, 8);
        assert_eq!(r.fields.first().map(|f| f.shape.as_str()), Some("999.9"));
        assert!(r.fields.get(6).is_some_and(|f| f.constant));
    }
}
