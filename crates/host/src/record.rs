//! What the three tools' NDJSON and text outputs share: the error record
//! envelope.
//!
//! Every tool reports bytes that did not decode the same way, in one JSON
//! shape whose keys are always present, in this order:
//!
//! ```text
//! {"kind":"error","ts":1705775994.26,"src_addr":"127.0.0.1:1030","dst_addr":"127.0.0.1:50000",
//!  "offset":120,"len":3,"reason":"bad CRC …","raw":"70839e"}
//! ```
//!
//! `ts`, `src_addr` and `dst_addr` are `null` when the input has no times or
//! addresses; `raw` holds at most the first [`RAW_LIMIT`] bytes as hex. The
//! text form is one line: `[TIME ][SRC > DST ]error at offset N (LEN bytes):
//! REASON [HEX]`.

use std::fmt;

use serde::Serialize;

use crate::json::{self, WriteJson};
use crate::output::Timestamp;

/// How many bytes of the undecodable input an error record keeps.
pub const RAW_LIMIT: usize = 64;

/// Bytes that did not decode, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRecord {
    /// Always `"error"`.
    pub kind: &'static str,
    /// When the bytes arrived, epoch seconds, if the input says.
    pub ts: Option<f64>,
    /// Sender `ip:port`, if the input says.
    pub src_addr: Option<String>,
    /// Receiver `ip:port`, if the input says.
    pub dst_addr: Option<String>,
    /// Offset of the bytes in their stream or datagram.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
    /// Why they did not decode.
    pub reason: String,
    /// The bytes as hex, at most the first [`RAW_LIMIT`].
    pub raw: String,
}

impl ErrorRecord {
    /// Makes a record for `len` bytes at `offset` starting with `bytes`
    /// (cut to [`RAW_LIMIT`]), with no time or addresses yet.
    pub fn new(offset: u64, len: u64, reason: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            kind: "error",
            ts: None,
            src_addr: None,
            dst_addr: None,
            offset,
            len,
            reason: reason.into(),
            raw: json::hex(bytes.get(..bytes.len().min(RAW_LIMIT)).unwrap_or_default()),
        }
    }

    /// Sets the time, epoch seconds.
    #[must_use]
    pub fn at(mut self, ts: Option<f64>) -> Self {
        self.ts = ts;
        self
    }

    /// Sets the addresses.
    #[must_use]
    pub fn between(mut self, src: Option<String>, dst: Option<String>) -> Self {
        self.src_addr = src;
        self.dst_addr = dst;
        self
    }
}

impl WriteJson for ErrorRecord {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"kind\":\"error\",\"ts\":");
        json::opt_f64(out, self.ts);
        out.extend_from_slice(b",\"src_addr\":");
        json::opt_str(out, self.src_addr.as_deref());
        out.extend_from_slice(b",\"dst_addr\":");
        json::opt_str(out, self.dst_addr.as_deref());
        out.extend_from_slice(b",\"offset\":");
        json::u64(out, self.offset);
        out.extend_from_slice(b",\"len\":");
        json::u64(out, self.len);
        out.extend_from_slice(b",\"reason\":");
        json::str(out, &self.reason);
        out.extend_from_slice(b",\"raw\":");
        json::str(out, &self.raw);
        out.push(b'}');
    }
}

impl fmt::Display for ErrorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ts) = self.ts {
            write!(f, "{} ", Timestamp(ts))?;
        }
        if let (Some(src), Some(dst)) = (&self.src_addr, &self.dst_addr) {
            write!(f, "{src} > {dst} ")?;
        }
        write!(
            f,
            "error at offset {} ({} bytes): {}",
            self.offset, self.len, self.reason
        )?;
        if !self.raw.is_empty() {
            write!(f, " [{}]", self.raw)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_key_in_order_and_matches_serde() {
        let r = ErrorRecord::new(7, 3, "bad \"CRC\"", &[0x70, 0x83, 0x9e]);
        let mut out = Vec::new();
        r.write_json(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"error","ts":null,"src_addr":null,"dst_addr":null,"offset":7,"len":3,"reason":"bad \"CRC\"","raw":"70839e"}"#
        );
        assert_eq!(text, serde_json::to_string(&r).unwrap());
        let r = r
            .at(Some(1.5))
            .between(Some("127.0.0.1:1".into()), Some("127.0.0.1:2".into()));
        let mut out = Vec::new();
        r.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&r).unwrap()
        );
    }

    #[test]
    fn raw_is_cut_and_text_is_one_line() {
        let r = ErrorRecord::new(0, 100, "garbage", &[0xAB; 100]);
        assert_eq!(r.raw.len(), 2 * RAW_LIMIT);
        let text = r.to_string();
        assert!(
            text.starts_with("error at offset 0 (100 bytes): garbage ["),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }
}
