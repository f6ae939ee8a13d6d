//! What inference found: the report model (the `--json` schema, documented
//! in `docs/infer.md`) and its readable rendering, a field table with byte
//! offsets.

use std::fmt::{self, Display, Write as _};

use serde::Serialize;

use crate::crc::CrcParams;

/// The version of the JSON schema written by `rewire infer --json`.
pub const SCHEMA: &str = "rewire-infer/1";

/// How strongly the messages support a finding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evidence {
    /// Messages (or request/reply pairs, or steps) that agree.
    pub agree: usize,
    /// Messages (or pairs, or steps) examined.
    pub total: usize,
    /// 0..1: the agreeing fraction, discounted when there are few of them.
    pub confidence: f64,
}

impl Evidence {
    /// Builds evidence from counts; confidence is `agree/total * (1 - 2^-agree)`,
    /// rounded to two decimals.
    pub fn new(agree: usize, total: usize) -> Self {
        let frac = if total == 0 {
            0.0
        } else {
            agree as f64 / total as f64
        };
        let n = i32::try_from(agree.min(60)).unwrap_or(60);
        let c = frac * (1.0 - 0.5f64.powi(n));
        Self {
            agree,
            total,
            confidence: (c * 100.0).round() / 100.0,
        }
    }

    fn label(&self) -> &'static str {
        if self.confidence >= 0.9 {
            "high"
        } else if self.confidence >= 0.6 {
            "medium"
        } else {
            "low"
        }
    }
}

impl Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.agree, self.total, self.label())
    }
}

/// A finding, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Finding<T> {
    /// Found, with the details.
    Found(T),
    /// Not found; the reason says whether the evidence was thin or ambiguous.
    NotFound {
        /// Why nothing is reported.
        reason: String,
    },
}

impl<T> Finding<T> {
    /// Returns the finding, if there is one.
    pub fn found(&self) -> Option<&T> {
        match self {
            Self::Found(t) => Some(t),
            Self::NotFound { .. } => None,
        }
    }

    pub(crate) fn not_found(reason: impl Into<String>) -> Self {
        Self::NotFound {
            reason: reason.into(),
        }
    }
}

/// Byte order of a multi-byte field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endian {
    /// Most significant byte first.
    Big,
    /// Least significant byte first.
    Little,
}

impl Endian {
    /// Reads `bytes` as an unsigned integer in this byte order.
    pub fn read(self, bytes: &[u8]) -> u64 {
        match self {
            Self::Big => bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)),
            Self::Little => bytes
                .iter()
                .rev()
                .fold(0u64, |v, &b| (v << 8) | u64::from(b)),
        }
    }

    fn short(self) -> &'static str {
        match self {
            Self::Big => "BE",
            Self::Little => "LE",
        }
    }
}

/// How message boundaries were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryMethod {
    /// Each UDP datagram is a message.
    Datagram,
    /// A sync sequence and a length field that predicts the next sync.
    SyncLength,
    /// Text lines ended by a terminator.
    Delimiter,
    /// The capture's own pieces (TCP segments, hex-dump chunks, pauses on a
    /// serial line).
    Transport,
    /// Split before each occurrence of a sync sequence.
    Sync,
    /// Messages were given already framed.
    Given,
}

impl Display for BoundaryMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Datagram => "one message per UDP datagram",
            Self::SyncLength => "sync bytes + length field (each length predicts the next sync)",
            Self::Delimiter => "text lines",
            Self::Transport => "the capture's own pieces (segments, chunks, pauses)",
            Self::Sync => "split before each sync sequence",
            Self::Given => "messages given framed",
        })
    }
}

/// How messages were cut out of the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Boundaries {
    /// The method.
    pub method: BoundaryMethod,
    /// Bytes between messages that belong to none (noise, truncated frames).
    pub skipped_bytes: u64,
}

/// The sync (magic) bytes every message starts with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sync {
    /// Offset of the first sync byte (always 0).
    pub offset: usize,
    /// The bytes, as lowercase hex without spaces.
    pub bytes: String,
    /// How many messages start with them.
    pub evidence: Evidence,
}

/// A length field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthField {
    /// Offset of the field.
    pub offset: usize,
    /// 1, 2 or 4 bytes.
    pub width: usize,
    /// Byte order (`big` for one-byte fields).
    pub endian: Endian,
    /// Message length = field value + `adjust`.
    pub adjust: i64,
    /// The field counts the bytes from this offset to the end of the message
    /// (0: the whole frame); `None` when `adjust` is negative.
    pub counts_from: Option<usize>,
    /// Messages whose length the field predicts.
    pub evidence: Evidence,
}

/// A checksum or CRC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Sum of the bytes modulo 256.
    Sum8,
    /// Two's complement of the 8-bit sum (the bytes plus it sum to 0).
    Sum8TwosComplement,
    /// Ones' complement (bitwise not) of the 8-bit sum.
    Sum8OnesComplement,
    /// Xor of the bytes.
    Xor8,
    /// Sum of the bytes modulo 65536.
    Sum16,
    /// A CRC; see [`ChecksumField::crc`].
    Crc,
}

impl Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sum8 => "8-bit sum",
            Self::Sum8TwosComplement => "two's complement of the 8-bit sum",
            Self::Sum8OnesComplement => "ones' complement of the 8-bit sum",
            Self::Xor8 => "xor",
            Self::Sum16 => "16-bit sum",
            Self::Crc => "CRC",
        })
    }
}

/// The CRC parameters found, as CRC RevEng writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrcReport {
    /// The parameters.
    #[serde(flatten)]
    pub params: CrcParamsJson,
    /// The catalogue name when the parameters are a well-known CRC.
    pub name: Option<String>,
    /// False when the messages all had one length, so init and xorout could
    /// not be told apart (an equivalent pair is given: a catalogue entry that
    /// fits, else init 0).
    pub init_xorout_unique: bool,
}

/// CRC parameters with the numbers as `0x…` hex strings (JSON has no hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrcParamsJson {
    /// Width in bits.
    pub width: u32,
    /// Polynomial, e.g. `0x8005`.
    pub poly: String,
    /// Initial register value.
    pub init: String,
    /// Input bytes reflected.
    pub refin: bool,
    /// Output reflected.
    pub refout: bool,
    /// Final xor.
    pub xorout: String,
}

impl From<CrcParams> for CrcParamsJson {
    fn from(p: CrcParams) -> Self {
        let digits = (p.width as usize).div_ceil(4);
        Self {
            width: p.width,
            poly: format!("0x{:0digits$x}", p.poly),
            init: format!("0x{:0digits$x}", p.init),
            refin: p.refin,
            refout: p.refout,
            xorout: format!("0x{:0digits$x}", p.xorout),
        }
    }
}

/// A checksum field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecksumField {
    /// Offset of the field: from the start, or back from the end when
    /// `from_end` (then the field starts `offset` bytes before the end).
    pub offset: usize,
    /// Whether `offset` counts back from the end of the message.
    pub from_end: bool,
    /// 1, 2 or 4 bytes.
    pub width: usize,
    /// Byte order of the stored value.
    pub endian: Endian,
    /// First byte covered.
    pub range_from: usize,
    /// Bytes at the end not covered (the range ends this many bytes before
    /// the end of the message).
    pub range_to_end: usize,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// CRC parameters, for [`Algorithm::Crc`].
    pub crc: Option<CrcReport>,
    /// Messages whose checksum matches.
    pub evidence: Evidence,
}

/// What a header byte (or bytes) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The same value in every message.
    Constant,
    /// An address that swaps with the field at `pair_offset` between the
    /// directions (sender/receiver).
    Address,
    /// One value in each direction (request/reply flag).
    DirectionFlag,
    /// A code a request and its reply share (function, command).
    Function,
    /// Further bytes a reply repeats from its request (after the function
    /// code: a register or property id, a sequence number).
    Echo,
    /// Counts up by one from message to message.
    Counter,
    /// Grows with time.
    Timestamp,
}

impl Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Constant => "constant",
            Self::Address => "address",
            Self::DirectionFlag => "direction flag",
            Self::Function => "function code",
            Self::Echo => "echoed",
            Self::Counter => "counter",
            Self::Timestamp => "timestamp",
        })
    }
}

/// A field found in the header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Offset of the field.
    pub offset: usize,
    /// Width in bytes.
    pub width: usize,
    /// What it does.
    pub role: Role,
    /// Byte order, for multi-byte fields.
    pub endian: Option<Endian>,
    /// For addresses: the offset of the field it swaps with.
    pub pair_offset: Option<usize>,
    /// Values seen, hex (at most 8; per direction `c2s/s2c` for flags).
    pub values: Vec<String>,
    /// A sentence saying what was observed.
    pub note: String,
    /// How many messages, pairs or steps agree.
    pub evidence: Evidence,
}

/// A field of a text protocol's lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextField {
    /// 0-based index of the separated field.
    pub index: usize,
    /// The usual shape: digits as `9`, letters as `a`, other characters as
    /// themselves (`999.9`).
    pub shape: String,
    /// Whether the value never changes.
    pub constant: bool,
    /// A few example values.
    pub examples: Vec<String>,
    /// Lines whose field has the usual shape.
    pub evidence: Evidence,
}

/// What was found about a text protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextReport {
    /// The character every line starts with, if there is one.
    pub start: Option<String>,
    /// The line terminator: `CR`, `LF` or `CRLF`.
    pub terminator: String,
    /// The field separator, if the lines split into fields.
    pub separator: Option<String>,
    /// The usual number of fields.
    pub field_count: usize,
    /// Lines with the usual number of fields.
    pub evidence: Evidence,
    /// The fields (of the lines with the usual count).
    pub fields: Vec<TextField>,
}

/// Whether the messages are text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Bytes.
    Binary,
    /// Printable lines.
    Text,
}

/// What was found for one service (port) or input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    /// `tcp/4001`, `udp/11541`, or `input` when the input has no ports.
    pub name: String,
    /// Messages analysed.
    pub messages: usize,
    /// Distinct messages among them.
    pub distinct: usize,
    /// Messages client → server (TX), when directions are known.
    pub client_to_server: usize,
    /// Messages server → client (RX).
    pub server_to_client: usize,
    /// Binary or text.
    pub kind: Kind,
    /// How messages were cut out.
    pub boundaries: Boundaries,
    /// Shortest and longest message.
    pub min_len: usize,
    /// Longest message.
    pub max_len: usize,
    /// Sync bytes, for binary protocols.
    pub sync: Finding<Sync>,
    /// The length field, for binary protocols.
    pub length: Finding<LengthField>,
    /// The checksum, for binary protocols.
    pub checksum: Finding<ChecksumField>,
    /// Header fields, by offset.
    pub fields: Vec<Field>,
    /// Text protocol findings, for text.
    pub text: Option<TextReport>,
    /// Remarks (limits reached, why something could not be tried).
    pub notes: Vec<String>,
}

/// The whole report: one section per service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The input's name.
    pub input: String,
    /// One entry per service (port) or the whole input.
    pub groups: Vec<GroupReport>,
    /// Remarks about the whole input.
    pub notes: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02X}");
    }
    s
}

pub(crate) fn hex_compact(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn spaced(compact: &str) -> String {
    let bytes: Vec<u8> = (0..compact.len() / 2)
        .filter_map(|i| {
            compact
                .get(2 * i..2 * i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect();
    hex(&bytes)
}

struct Row {
    offset: String,
    width: String,
    field: String,
    meaning: String,
    evidence: String,
}

impl Display for GroupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} messages ({} distinct",
            self.name, self.messages, self.distinct
        )?;
        if self.client_to_server + self.server_to_client > 0 {
            write!(
                f,
                ", {} client→server, {} server→client",
                self.client_to_server, self.server_to_client
            )?;
        }
        writeln!(
            f,
            "), {} bytes each, {}",
            if self.min_len == self.max_len {
                format!("{}", self.min_len)
            } else {
                format!("{}..{}", self.min_len, self.max_len)
            },
            match self.kind {
                Kind::Binary => "binary",
                Kind::Text => "text",
            }
        )?;
        write!(f, "boundaries: {}", self.boundaries.method)?;
        if self.boundaries.skipped_bytes > 0 {
            write!(
                f,
                "; {} bytes between messages skipped",
                self.boundaries.skipped_bytes
            )?;
        }
        writeln!(f)?;
        if let Some(text) = &self.text {
            return write_text(f, text, &self.notes);
        }
        let mut rows: Vec<(i64, Row)> = Vec::new();
        if let Some(s) = self.sync.found() {
            rows.push((
                s.offset as i64,
                Row {
                    offset: format!("{}", s.offset),
                    width: format!("{}", s.bytes.len() / 2),
                    field: "sync".into(),
                    meaning: spaced(&s.bytes),
                    evidence: s.evidence.to_string(),
                },
            ));
        }
        if let Some(l) = self.length.found() {
            let counts = match l.counts_from {
                Some(0) => "counts the whole frame".to_owned(),
                Some(n) => format!("counts bytes {n}.. to the end"),
                None => format!("frame length = value {}", l.adjust),
            };
            rows.push((
                l.offset as i64,
                Row {
                    offset: format!("{}", l.offset),
                    width: format!("{}", l.width),
                    field: "length".into(),
                    meaning: if l.width == 1 {
                        format!("u8, {counts}")
                    } else {
                        format!("u{} {}, {counts}", l.width * 8, l.endian.short())
                    },
                    evidence: l.evidence.to_string(),
                },
            ));
        }
        if let Some(c) = self.checksum.found() {
            let what = match &c.crc {
                Some(crc) => {
                    let p = &crc.params;
                    let name = crc
                        .name
                        .as_deref()
                        .map(|n| format!("{n}: "))
                        .unwrap_or_default();
                    format!(
                        "{name}CRC-{} poly={} init={} refin={} refout={} xorout={}",
                        p.width, p.poly, p.init, p.refin, p.refout, p.xorout
                    )
                }
                None => c.algorithm.to_string(),
            };
            let end = if c.range_to_end == 0 {
                "end".to_owned()
            } else {
                format!("end-{}", c.range_to_end)
            };
            let order = if c.width > 1 {
                format!(" {}", c.endian.short())
            } else {
                String::new()
            };
            rows.push((
                if c.from_end {
                    i64::MAX - c.offset as i64
                } else {
                    c.offset as i64
                },
                Row {
                    offset: if c.from_end {
                        format!("-{}", c.offset)
                    } else {
                        format!("{}", c.offset)
                    },
                    width: format!("{}", c.width),
                    field: "checksum".into(),
                    meaning: format!("{what}{order} of bytes {}..{end}", c.range_from),
                    evidence: c.evidence.to_string(),
                },
            ));
        }
        for fl in &self.fields {
            let mut meaning = fl.note.clone();
            if !fl.values.is_empty() && fl.role != Role::Address {
                let _ = write!(meaning, " [{}]", fl.values.join(" "));
            }
            rows.push((
                fl.offset as i64,
                Row {
                    offset: format!("{}", fl.offset),
                    width: format!("{}", fl.width),
                    field: fl.role.to_string(),
                    meaning,
                    evidence: fl.evidence.to_string(),
                },
            ));
        }
        rows.sort_by_key(|(k, _)| *k);
        let mw = rows
            .iter()
            .map(|(_, r)| r.meaning.chars().count())
            .max()
            .unwrap_or(0)
            .max(7)
            + 2;
        writeln!(
            f,
            "{:<7}{:<7}{:<16}{:<mw$}evidence",
            "offset", "width", "field", "meaning"
        )?;
        for (_, r) in &rows {
            writeln!(
                f,
                "{:<7}{:<7}{:<16}{:<mw$}{}",
                r.offset, r.width, r.field, r.meaning, r.evidence
            )?;
        }
        for (what, finding) in [
            ("sync", not_found(&self.sync)),
            ("length", not_found(&self.length)),
            ("checksum", not_found(&self.checksum)),
        ] {
            if let Some(reason) = finding {
                writeln!(f, "{what}: not found ({reason})")?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

fn not_found<T>(f: &Finding<T>) -> Option<&str> {
    match f {
        Finding::Found(_) => None,
        Finding::NotFound { reason } => Some(reason),
    }
}

fn write_text(f: &mut fmt::Formatter<'_>, t: &TextReport, notes: &[String]) -> fmt::Result {
    writeln!(
        f,
        "text lines: start {}, end {}, {} fields separated by {} ({})",
        t.start
            .as_deref()
            .map_or("(none)".to_owned(), |s| format!("{s:?}")),
        t.terminator,
        t.field_count,
        t.separator
            .as_deref()
            .map_or("(none)".to_owned(), |s| format!("{s:?}")),
        t.evidence
    )?;
    writeln!(
        f,
        "{:<7}{:<14}{:<10}{:<40}evidence",
        "field", "shape", "", "examples"
    )?;
    for fl in &t.fields {
        writeln!(
            f,
            "{:<7}{:<14}{:<10}{:<40}{}",
            fl.index,
            fl.shape,
            if fl.constant { "constant" } else { "" },
            fl.examples.join(" "),
            fl.evidence
        )?;
    }
    for n in notes {
        writeln!(f, "note: {n}")?;
    }
    Ok(())
}

impl Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.input)?;
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{g}")?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
