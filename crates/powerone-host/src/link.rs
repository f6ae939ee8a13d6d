//! Opening the line to a PCU: a serial port ([`SerialSettings::POWERONE`],
//! 9600 8N1, at another speed if told) or a TCP connection to a serial
//! server that carries the same frames.

use std::fmt;
use std::io::{Read, Write};
use std::time::Duration;

use rewire_transport::link::{
    LinkError, LinkErrorKind, SerialSettings, TcpClient, TcpClientConfig, open_serial,
};
use serialport::ClearBuffer;

/// A byte link the tools can read, write and move to a thread.
pub trait Link: Read + Write + Send {}

impl<T: Read + Write + Send + ?Sized> Link for T {}

/// Which line to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSpec {
    /// A serial device at `baud` bit/s, 8N1.
    Serial {
        /// Device path, e.g. `/dev/ttyS0`.
        path: String,
        /// Bit rate (the PCU uses 9600).
        baud: u32,
    },
    /// A TCP connection to `target` (`host:port`).
    Tcp {
        /// `host:port`.
        target: String,
    },
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serial { path, baud } => write!(f, "{path} ({baud} 8N1)"),
            Self::Tcp { target } => write!(f, "tcp {target}"),
        }
    }
}

/// How long one read waits before the tools look at their deadlines again;
/// short, so a request's timeout is kept to within a few tens of ms.
pub const READ_TICK: Duration = Duration::from_millis(30);

/// Opens `spec`: serial ports get their settings and a cleared input buffer
/// (stale bytes from before are not a reply); TCP gets `connect_timeout`.
/// Reads time out after [`READ_TICK`].
///
/// # Errors
/// The transport's [`LinkError`]: [`LinkErrorKind::OpenSerial`],
/// [`LinkErrorKind::Resolve`], [`LinkErrorKind::Connect`], ….
pub fn open_link(spec: &LinkSpec, connect_timeout: Duration) -> Result<Box<dyn Link>, LinkError> {
    match spec {
        LinkSpec::Serial { path, baud } => {
            let settings = SerialSettings {
                baud: *baud,
                ..SerialSettings::POWERONE
            }
            .with_read_timeout(READ_TICK);
            let port = open_serial(path, &settings)?;
            port.clear(ClearBuffer::Input)
                .map_err(|e| LinkError::with_source(LinkErrorKind::Configure, path, e))?;
            Ok(Box::new(port))
        }
        LinkSpec::Tcp { target } => {
            let config = TcpClientConfig {
                connect_timeout,
                read_timeout: READ_TICK,
                max_reconnect_attempts: Some(1),
                ..TcpClientConfig::default()
            };
            let mut client = TcpClient::connect(target, config)?;
            let stream = client
                .stream_mut()
                .ok_or_else(|| LinkError::new(LinkErrorKind::NotConnected, target))?
                .try_clone()
                .map_err(|e| LinkError::with_source(LinkErrorKind::Configure, target, e))?;
            Ok(Box::new(stream))
        }
    }
}

/// Formats an error and its causes, each once: `error: cause: cause`.
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their cause in their own text: say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
