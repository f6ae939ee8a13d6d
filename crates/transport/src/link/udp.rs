//! UDP receiver.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, SystemTime};

use super::{LinkError, LinkErrorKind, is_timeout};

/// Largest UDP payload; the receive buffer has this size so nothing is cut.
const MAX_DATAGRAM: usize = 65_535;

/// One received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Who sent it.
    pub peer: SocketAddr,
    /// When it was received (wall clock).
    pub received: SystemTime,
    /// Its payload.
    pub bytes: Vec<u8>,
}

/// A bound UDP socket that receives datagrams with a timeout.
#[derive(Debug)]
pub struct UdpReceiver {
    socket: UdpSocket,
    local: SocketAddr,
    buf: Vec<u8>,
}

impl UdpReceiver {
    /// Binds to `addr` (for example `0.0.0.0:11541`); each
    /// [`UdpReceiver::recv`] waits at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Bind`] naming the address; [`LinkErrorKind::Configure`]
    /// if the timeout cannot be set.
    pub fn bind(
        addr: impl ToSocketAddrs + fmt::Display,
        timeout: Duration,
    ) -> Result<Self, LinkError> {
        let socket = UdpSocket::bind(&addr)
            .map_err(|e| LinkError::with_source(LinkErrorKind::Bind, addr.to_string(), e))?;
        let local = socket
            .local_addr()
            .map_err(|e| LinkError::with_source(LinkErrorKind::Bind, addr.to_string(), e))?;
        let mut receiver = Self {
            socket,
            local,
            buf: vec![0; MAX_DATAGRAM],
        };
        receiver.set_timeout(timeout)?;
        Ok(receiver)
    }

    /// Returns the bound address (with the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Returns the socket, for options this type does not cover.
    #[must_use]
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// Changes how long [`UdpReceiver::recv`] waits.
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Configure`] if the socket refuses it.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), LinkError> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| {
                LinkError::with_source(LinkErrorKind::Configure, self.local.to_string(), e)
            })
    }

    /// Waits for the next datagram; `None` if the timeout elapsed first.
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Read`] if receiving fails.
    pub fn recv(&mut self) -> Result<Option<Datagram>, LinkError> {
        loop {
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, peer)) => {
                    let bytes = self.buf.get(..n).unwrap_or_default().to_vec();
                    return Ok(Some(Datagram {
                        peer,
                        received: SystemTime::now(),
                        bytes,
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Ok(None),
                Err(e) => {
                    return Err(LinkError::with_source(
                        LinkErrorKind::Read,
                        self.local.to_string(),
                        e,
                    ));
                }
            }
        }
    }
}
