//! The one error type of the capture readers.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong while reading or writing a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// Returned when the underlying file or reader fails (see `source()`).
    Io,
    /// Returned when the first bytes are not the magic number of the expected
    /// format (pcap, pcapng).
    WrongMagic,
    /// Returned when the input ends in the middle of a header or record.
    Truncated,
    /// Returned when a pcap/pcapng header or block is malformed (see the detail).
    Malformed,
    /// Returned when packets use a link type this reader does not decode.
    UnsupportedLinkType {
        /// The LINKTYPE_ number from the file.
        link_type: u32,
    },
    /// Returned when a hex dump line holds something that is not hex.
    HexSyntax,
    /// Returned when a text line is longer than the reader's limit.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// Returned when the JSON raw log is not valid JSON or not shaped like a
    /// session (see `source()` and the detail).
    Json,
    /// Returned when a raw-log frame carries neither or both of `C` and `S`.
    RawLogFrame,
    /// Returned when a raw-log `Start` time cannot be parsed or written.
    Timestamp,
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io => f.write_str("I/O error"),
            Self::WrongMagic => f.write_str("not a pcap or pcapng file (wrong magic number)"),
            Self::Truncated => f.write_str("truncated input"),
            Self::Malformed => f.write_str("malformed capture"),
            Self::UnsupportedLinkType { link_type } => {
                write!(f, "unsupported link type {link_type}")
            }
            Self::HexSyntax => f.write_str("hex dump syntax error"),
            Self::LineTooLong { limit } => write!(f, "line longer than {limit} bytes"),
            Self::Json => f.write_str("invalid raw log JSON"),
            Self::RawLogFrame => f.write_str("raw log frame needs exactly one of \"C\" and \"S\""),
            Self::Timestamp => f.write_str("invalid timestamp"),
        }
    }
}

/// Where in the input an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// A byte offset from the start of the file.
    Offset(u64),
    /// A 1-based line and column (columns count bytes).
    Line {
        /// 1-based line number.
        line: u64,
        /// 1-based column (byte position within the line).
        column: u64,
    },
    /// A 0-based record index (a raw-log session).
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Offset(o) => write!(f, "offset {o}"),
            Self::Line { line, column } => write!(f, "line {line}, column {column}"),
            Self::Record(r) => write!(f, "session {r}"),
        }
    }
}

/// An error from a capture reader or writer: a kind, where it happened
/// (file and location), a human detail and the underlying cause.
#[derive(Debug)]
pub struct CaptureError {
    kind: CaptureErrorKind,
    path: Option<PathBuf>,
    location: Option<Location>,
    detail: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl CaptureError {
    /// Creates an error of `kind` with no context yet.
    pub fn new(kind: CaptureErrorKind) -> Self {
        Self {
            kind,
            path: None,
            location: None,
            detail: None,
            source: None,
        }
    }

    /// Returns what went wrong.
    pub fn kind(&self) -> CaptureErrorKind {
        self.kind
    }

    /// Returns the file the error is about, when known.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Returns where in the input the error was found, when known.
    pub fn location(&self) -> Option<Location> {
        self.location
    }

    /// Returns the human-readable detail, when there is one.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Sets the file the error is about (kept if already set).
    #[must_use]
    pub fn with_path(mut self, path: Option<&Path>) -> Self {
        if self.path.is_none() {
            self.path = path.map(Path::to_path_buf);
        }
        self
    }

    /// Sets where the error was found (kept if already set).
    #[must_use]
    pub fn at(mut self, location: Location) -> Self {
        if self.location.is_none() {
            self.location = Some(location);
        }
        self
    }

    /// Adds a human-readable detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Records the underlying cause, returned by `source()`.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub(crate) fn io(err: std::io::Error) -> Self {
        let kind = if err.kind() == std::io::ErrorKind::UnexpectedEof {
            CaptureErrorKind::Truncated
        } else {
            CaptureErrorKind::Io
        };
        Self::new(kind).with_source(err)
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.kind)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl StdError for CaptureError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
