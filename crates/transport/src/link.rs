//! Live links: a TCP client that reconnects, a TCP listener, a UDP receiver,
//! serial ports with typed settings, and a request/response helper.
//!
//! Everything is blocking `std` I/O with timeouts; no async runtime. Links
//! hand out bytes; feed them to a [`crate::framing::Framer`] to get messages.
//! Every error is a [`LinkError`] naming the address, port or device.

mod error;
mod exchange;
mod serial;
mod tcp;
mod udp;

pub use error::{LinkError, LinkErrorKind};
pub use exchange::{Exchange, Outcome, RequestPolicy, Requester};
#[cfg(unix)]
pub use serial::Pty;
pub use serial::{
    DataBits, FlowControl, Parity, SerialSettings, StopBits, apply_settings, open_serial,
};
pub use tcp::{
    Backoff, BackoffTimer, ConnectionEvent, ConnectionState, DEFAULT_BACKLOG,
    DEFAULT_MAX_CONNECTIONS, Listener, ListenerStats, TcpClient, TcpClientConfig, TcpRead,
};
pub use udp::{Datagram, UdpReceiver};

/// Returns whether an I/O error only says that a read or accept timed out.
pub(crate) fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
