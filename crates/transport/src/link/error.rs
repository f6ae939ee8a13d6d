//! The link error type.

use std::error::Error as StdError;
use std::fmt;

/// What kind of link operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkErrorKind {
    /// Returned when a host name does not resolve to any address.
    Resolve,
    /// Returned when a TCP connection cannot be established (refused,
    /// unreachable, or the connect timeout elapsed).
    Connect,
    /// Returned when the TCP client gave up reconnecting after its configured
    /// number of consecutive failed attempts.
    ReconnectExhausted,
    /// Returned when a socket cannot be bound to its local address.
    Bind,
    /// Returned when accepting an incoming connection fails.
    Accept,
    /// Returned when configuring a socket or port (timeouts, modes) fails.
    Configure,
    /// Returned when a serial port cannot be opened.
    OpenSerial,
    /// Returned when reading from a link fails.
    Read,
    /// Returned when writing to a link fails.
    Write,
    /// Returned when the peer closed the link where more bytes were needed.
    Closed,
    /// Returned when an operation needs a connection and there is none.
    NotConnected,
}

impl fmt::Display for LinkErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Resolve => "cannot resolve",
            Self::Connect => "cannot connect to",
            Self::ReconnectExhausted => "gave up reconnecting to",
            Self::Bind => "cannot bind",
            Self::Accept => "cannot accept on",
            Self::Configure => "cannot configure",
            Self::OpenSerial => "cannot open serial port",
            Self::Read => "cannot read from",
            Self::Write => "cannot write to",
            Self::Closed => "connection closed by",
            Self::NotConnected => "not connected to",
        })
    }
}

/// A link error: what failed, on which endpoint, and the underlying cause.
///
/// `Display` names the operation and endpoint only; the cause is available
/// through [`std::error::Error::source`] (print the chain, e.g. with
/// `anyhow`'s `{:#}`, to see both).
#[derive(Debug)]
pub struct LinkError {
    kind: LinkErrorKind,
    endpoint: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl LinkError {
    /// Creates an error without an underlying cause.
    pub fn new(kind: LinkErrorKind, endpoint: impl Into<String>) -> Self {
        Self {
            kind,
            endpoint: endpoint.into(),
            source: None,
        }
    }

    /// Creates an error caused by `source`.
    pub fn with_source(
        kind: LinkErrorKind,
        endpoint: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            kind,
            endpoint: endpoint.into(),
            source: Some(source.into()),
        }
    }

    /// Returns what kind of operation failed.
    #[must_use]
    pub fn kind(&self) -> LinkErrorKind {
        self.kind
    }

    /// Returns the endpoint: a socket address, `host:port`, or a device path.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Returns the underlying I/O error kind, when the cause is an I/O error.
    #[must_use]
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        self.source
            .as_deref()
            .and_then(|e| e.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind)
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.endpoint)
    }
}

impl StdError for LinkError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
