//! TCP client with reconnect and backoff, and a TCP listener.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{LinkError, LinkErrorKind, is_timeout};

/// Shortest timeout handed to a socket: std rejects a zero timeout.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// How often blocking helpers wake up to look at deadlines and stop flags.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Capped exponential backoff with jitter, for reconnect attempts.
///
/// The `n`th delay (counting from 0) is `initial * 2^n`, capped at `max`, then
/// shortened by a random fraction of at most `jitter` (so delays spread out
/// but never exceed `max`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first attempt.
    pub initial: Duration,
    /// Upper bound on every delay.
    pub max: Duration,
    /// Fraction of each delay (0.0..=1.0) that may be randomly cut off.
    pub jitter: f64,
}

impl Default for Backoff {
    /// Returns 250 ms doubling up to 30 s, with 20 % jitter.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// Returns the delay before attempt `attempt` (from 0) without jitter.
    #[must_use]
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    fn jitter_fraction(&self) -> f64 {
        if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// The state of a [`Backoff`] sequence: which attempt is next, and the
/// random source for jitter.
#[derive(Debug, Clone)]
pub struct BackoffTimer {
    backoff: Backoff,
    attempt: u32,
    rng: fastrand::Rng,
}

impl BackoffTimer {
    /// Starts a sequence with a randomly seeded jitter source.
    #[must_use]
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            attempt: 0,
            rng: fastrand::Rng::new(),
        }
    }

    /// Starts a sequence with a fixed jitter seed (reproducible delays).
    #[must_use]
    pub fn with_seed(backoff: Backoff, seed: u64) -> Self {
        Self {
            backoff,
            attempt: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Returns the next delay and advances the sequence.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.backoff.base_delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let cut = self.backoff.jitter_fraction() * self.rng.f64();
        base.mul_f64((1.0 - cut).clamp(0.0, 1.0))
    }

    /// Returns how many delays have been handed out since the last reset.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts the sequence over (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Settings for a [`TcpClient`].
#[derive(Debug, Clone, PartialEq)]
pub struct TcpClientConfig {
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long [`TcpClient::read`] waits for bytes before answering
    /// [`TcpRead::Idle`].
    pub read_timeout: Duration,
    /// Delays between reconnect attempts.
    pub backoff: Backoff,
    /// Consecutive failed reconnect attempts after which [`TcpClient::read`]
    /// fails with [`LinkErrorKind::ReconnectExhausted`]; `None` retries forever.
    pub max_reconnect_attempts: Option<u32>,
}

impl Default for TcpClientConfig {
    /// Returns a 5 s connect timeout, a 1 s read timeout, the default backoff
    /// and unlimited reconnect attempts.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(1),
            backoff: Backoff::default(),
            max_reconnect_attempts: None,
        }
    }
}

/// Whether a [`TcpClient`] has a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Connected to the peer.
    Connected,
    /// Not connected; the next [`TcpClient::read`] tries to (re)connect.
    Disconnected,
}

/// A change in a [`TcpClient`]'s connection, for a monitor to report.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// The first connection was established.
    Connected {
        /// The peer's address.
        peer: SocketAddr,
    },
    /// The connection was lost. A framer fed from it should be
    /// [finished](crate::framing::Framer::finish): the next bytes belong to a
    /// new connection.
    Lost {
        /// The peer's address.
        peer: SocketAddr,
        /// The I/O error that ended it; `None` when the peer closed it.
        cause: Option<io::ErrorKind>,
    },
    /// A reconnect attempt failed; the next read waits and tries again.
    ReconnectFailed {
        /// Consecutive failed attempts so far (from 1).
        attempt: u32,
        /// Why it failed.
        error: LinkError,
    },
    /// The connection came back after being lost.
    Restored {
        /// The peer's address.
        peer: SocketAddr,
        /// Attempts it took (from 1).
        attempts: u32,
        /// Time since the loss.
        downtime: Duration,
    },
}

impl fmt::Display for ConnectionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connected { peer } => write!(f, "connected to {peer}"),
            Self::Lost { peer, cause: None } => write!(f, "connection to {peer} closed by peer"),
            Self::Lost {
                peer,
                cause: Some(kind),
            } => write!(f, "connection to {peer} lost: {kind}"),
            Self::ReconnectFailed { attempt, error } => {
                write!(f, "reconnect attempt {attempt} failed: {error}")?;
                if let Some(kind) = error.io_kind() {
                    write!(f, ": {kind}")?;
                }
                Ok(())
            }
            Self::Restored {
                peer,
                attempts,
                downtime,
            } => write!(
                f,
                "connection to {peer} restored after {attempts} attempt(s), down {:.1} s",
                downtime.as_secs_f64()
            ),
        }
    }
}

/// What one [`TcpClient::read`] produced.
#[derive(Debug)]
pub enum TcpRead {
    /// This many bytes were read into the buffer.
    Data(usize),
    /// The read timeout elapsed with no bytes.
    Idle,
    /// The connection changed state; no bytes were read.
    Event(ConnectionEvent),
}

/// A TCP client that reconnects on its own, with capped exponential backoff.
///
/// Drive it with [`TcpClient::read`] in a loop: it returns bytes, idle ticks
/// and [`ConnectionEvent`]s. After a loss, each `read` waits one backoff
/// delay and makes one connection attempt, so a caller stays in control
/// (it can stop between attempts) and sees every failure.
#[derive(Debug)]
pub struct TcpClient {
    target: String,
    config: TcpClientConfig,
    stream: Option<TcpStream>,
    peer: Option<SocketAddr>,
    timer: BackoffTimer,
    failures: u32,
    lost_at: Option<Instant>,
    ever_connected: bool,
    /// A loss noticed by a write, reported by the next read.
    pending: Option<ConnectionEvent>,
}

impl TcpClient {
    /// Connects to `target` (`host:port` or a socket address) once, failing
    /// fast: use this when a first failure should stop the program.
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Resolve`] if the name does not resolve,
    /// [`LinkErrorKind::Connect`] (naming the address) if no address accepts
    /// within the connect timeout, [`LinkErrorKind::Configure`] if the socket
    /// options cannot be set.
    pub fn connect(target: impl fmt::Display, config: TcpClientConfig) -> Result<Self, LinkError> {
        let mut client = Self::disconnected(target, config);
        let (stream, peer) = client.open()?;
        client.stream = Some(stream);
        client.peer = Some(peer);
        client.ever_connected = true;
        Ok(client)
    }

    /// Creates a client that connects on the first [`TcpClient::read`] and
    /// keeps retrying (with backoff) until the peer is up.
    #[must_use]
    pub fn disconnected(target: impl fmt::Display, config: TcpClientConfig) -> Self {
        let timer = BackoffTimer::new(config.backoff);
        Self {
            target: target.to_string(),
            config,
            stream: None,
            peer: None,
            timer,
            failures: 0,
            lost_at: None,
            ever_connected: false,
            pending: None,
        }
    }

    /// Replaces the jitter source with a seeded one (reproducible delays).
    #[must_use]
    pub fn with_backoff_seed(mut self, seed: u64) -> Self {
        self.timer = BackoffTimer::with_seed(self.config.backoff, seed);
        self
    }

    /// Returns the target as given.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Returns whether the client is connected.
    #[must_use]
    pub fn state(&self) -> ConnectionState {
        if self.stream.is_some() {
            ConnectionState::Connected
        } else {
            ConnectionState::Disconnected
        }
    }

    /// Returns the peer's address while connected.
    #[must_use]
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.as_ref().and(self.peer)
    }

    /// Returns the connected stream, for request/response use
    /// (see [`crate::link::Requester`]).
    pub fn stream_mut(&mut self) -> Option<&mut TcpStream> {
        self.stream.as_mut()
    }

    /// Drops the connection; the next [`TcpClient::read`] reconnects.
    pub fn disconnect(&mut self) {
        if self.stream.take().is_some() {
            self.lost_at = Some(Instant::now());
        }
    }

    /// Reads the next bytes, or reports an idle tick or a connection event.
    ///
    /// While disconnected, waits one backoff delay, tries to connect once,
    /// and returns [`ConnectionEvent::Connected`], [`ConnectionEvent::Restored`]
    /// or [`ConnectionEvent::ReconnectFailed`].
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::ReconnectExhausted`] once `max_reconnect_attempts`
    /// consecutive attempts failed (the last failure is its source).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<TcpRead, LinkError> {
        if let Some(event) = self.pending.take() {
            return Ok(TcpRead::Event(event));
        }
        let Some(stream) = self.stream.as_mut() else {
            return self.reconnect();
        };
        let peer = self.peer;
        loop {
            match stream.read(buf) {
                Ok(0) if !buf.is_empty() => return Ok(self.lost(None, peer)),
                Ok(n) => return Ok(TcpRead::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Ok(TcpRead::Idle),
                Err(e) => return Ok(self.lost(Some(e.kind()), peer)),
            }
        }
    }

    /// Writes all of `data` to the current connection.
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::NotConnected`] without a connection;
    /// [`LinkErrorKind::Write`] if the write fails; the connection is then
    /// dropped, and the next [`TcpClient::read`] reports it as
    /// [`ConnectionEvent::Lost`].
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), LinkError> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(LinkError::new(LinkErrorKind::NotConnected, &self.target));
        };
        match stream.write_all(data).and_then(|()| stream.flush()) {
            Ok(()) => Ok(()),
            Err(e) => {
                let endpoint = self.endpoint();
                if let Some(peer) = self.peer {
                    self.pending = Some(ConnectionEvent::Lost {
                        peer,
                        cause: Some(e.kind()),
                    });
                }
                self.disconnect();
                Err(LinkError::with_source(LinkErrorKind::Write, endpoint, e))
            }
        }
    }

    fn endpoint(&self) -> String {
        match self.peer {
            Some(peer) if peer.to_string() != self.target => format!("{} ({peer})", self.target),
            _ => self.target.clone(),
        }
    }

    fn lost(&mut self, cause: Option<io::ErrorKind>, peer: Option<SocketAddr>) -> TcpRead {
        self.disconnect();
        match peer {
            Some(peer) => TcpRead::Event(ConnectionEvent::Lost { peer, cause }),
            None => TcpRead::Idle,
        }
    }

    fn reconnect(&mut self) -> Result<TcpRead, LinkError> {
        if self.ever_connected || self.failures > 0 {
            thread::sleep(self.timer.next_delay());
        }
        match self.open() {
            Ok((stream, peer)) => {
                let attempts = self.failures.saturating_add(1);
                self.stream = Some(stream);
                self.peer = Some(peer);
                self.failures = 0;
                self.timer.reset();
                let event = if self.ever_connected {
                    ConnectionEvent::Restored {
                        peer,
                        attempts,
                        downtime: self.lost_at.map(|t| t.elapsed()).unwrap_or_default(),
                    }
                } else {
                    ConnectionEvent::Connected { peer }
                };
                self.ever_connected = true;
                self.lost_at = None;
                Ok(TcpRead::Event(event))
            }
            Err(error) => {
                self.failures = self.failures.saturating_add(1);
                match self.config.max_reconnect_attempts {
                    Some(max) if self.failures >= max => Err(LinkError::with_source(
                        LinkErrorKind::ReconnectExhausted,
                        &self.target,
                        error,
                    )),
                    _ => Ok(TcpRead::Event(ConnectionEvent::ReconnectFailed {
                        attempt: self.failures,
                        error,
                    })),
                }
            }
        }
    }

    fn open(&self) -> Result<(TcpStream, SocketAddr), LinkError> {
        let addrs: Vec<SocketAddr> = self
            .target
            .as_str()
            .to_socket_addrs()
            .map_err(|e| LinkError::with_source(LinkErrorKind::Resolve, &self.target, e))?
            .collect();
        let timeout = self.config.connect_timeout.max(MIN_TIMEOUT);
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    let configure = |s: &TcpStream| {
                        s.set_read_timeout(Some(self.config.read_timeout.max(MIN_TIMEOUT)))?;
                        s.set_nodelay(true)
                    };
                    configure(&stream).map_err(|e| {
                        LinkError::with_source(LinkErrorKind::Configure, addr.to_string(), e)
                    })?;
                    return Ok((stream, addr));
                }
                Err(e) => last = Some((addr, e)),
            }
        }
        Err(match last {
            Some((addr, e)) => {
                let endpoint = if addr.to_string() == self.target {
                    self.target.clone()
                } else {
                    format!("{} ({addr})", self.target)
                };
                LinkError::with_source(LinkErrorKind::Connect, endpoint, e)
            }
            None => LinkError::new(LinkErrorKind::Resolve, &self.target),
        })
    }
}

/// Connections [`Listener::serve`] runs at once unless told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The listen backlog [`Listener::bind`] asks for (std asks for 128, which a
/// fleet of units reconnecting at once overflows).
pub const DEFAULT_BACKLOG: i32 = 1024;

/// The longest pause between accept retries while the process is out of
/// file descriptors.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What a [`Listener`] has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed at once by [`Listener::serve`] because
    /// [`Listener::max_connections`] handlers were running.
    pub rejected: u64,
    /// Failed accepts that were retried (out of file descriptors, say).
    pub accept_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    accept_errors: AtomicU64,
    /// Current retry pause in ms while accepting fails; 0 when it works.
    backoff_ms: AtomicU64,
}

/// Returns whether an accept error means the process or system ran out of
/// something that comes back (descriptors, buffers, memory): the listener
/// should wait and retry, not end.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    // EMFILE, ENFILE, ENOBUFS, ENOMEM (Linux numbers) and WSAEMFILE,
    // WSAENOBUFS on Windows.
    #[cfg(target_os = "linux")]
    const CODES: &[i32] = &[24, 23, 105, 12];
    #[cfg(all(unix, not(target_os = "linux")))]
    const CODES: &[i32] = &[24, 23, 55, 12];
    #[cfg(windows)]
    const CODES: &[i32] = &[10024, 10055];
    #[cfg(not(any(unix, windows)))]
    const CODES: &[i32] = &[];
    e.raw_os_error().is_some_and(|c| CODES.contains(&c))
}

/// A TCP listener with an accept timeout and an accept-loop helper.
///
/// It outlives descriptor exhaustion: when `accept` fails with `EMFILE`
/// (or `ENFILE`, `ENOBUFS`, `ENOMEM`), the condition is logged once, the
/// listener waits with a backoff capped at a second, counts the failure,
/// and accepts again once descriptors free up.
#[derive(Debug)]
pub struct Listener {
    inner: TcpListener,
    local: SocketAddr,
    max_connections: usize,
    counters: Counters,
}

impl Listener {
    /// Binds to `addr` (for example `127.0.0.1:0` for any free port) with a
    /// backlog of [`DEFAULT_BACKLOG`].
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Bind`] naming the address; [`LinkErrorKind::Configure`]
    /// if the socket cannot be made non-blocking.
    pub fn bind(addr: impl ToSocketAddrs + fmt::Display) -> Result<Self, LinkError> {
        Self::bind_with_backlog(addr, DEFAULT_BACKLOG)
    }

    /// Binds to `addr` with a listen backlog of `backlog` pending connections
    /// (the system may cap it: `net.core.somaxconn` on Linux).
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Bind`] naming the address; [`LinkErrorKind::Configure`]
    /// if the socket cannot be made non-blocking.
    pub fn bind_with_backlog(
        addr: impl ToSocketAddrs + fmt::Display,
        backlog: i32,
    ) -> Result<Self, LinkError> {
        let bind_err = |e| LinkError::with_source(LinkErrorKind::Bind, addr.to_string(), e);
        let mut last = None;
        let mut bound = None;
        for a in addr.to_socket_addrs().map_err(bind_err)? {
            match bind_socket(a, backlog) {
                Ok(l) => {
                    bound = Some(l);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let inner = match (bound, last) {
            (Some(l), _) => l,
            (None, Some(e)) => return Err(bind_err(e)),
            (None, None) => {
                return Err(bind_err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "resolves to no address",
                )));
            }
        };
        let local = inner.local_addr().map_err(bind_err)?;
        inner
            .set_nonblocking(true)
            .map_err(|e| LinkError::with_source(LinkErrorKind::Configure, local.to_string(), e))?;
        Ok(Self {
            inner,
            local,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            counters: Counters::default(),
        })
    }

    /// Sets how many handlers [`Listener::serve`] runs at once; connections
    /// beyond are closed on accept and counted.
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Returns how many handlers [`Listener::serve`] runs at once.
    #[must_use]
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Returns what the listener has counted so far.
    #[must_use]
    pub fn stats(&self) -> ListenerStats {
        ListenerStats {
            accepted: self.counters.accepted.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            accept_errors: self.counters.accept_errors.load(Ordering::Relaxed),
        }
    }

    /// Returns the bound address (with the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits up to `timeout` for a connection; `None` if none came (also
    /// while the process is out of descriptors: see [`Listener`]).
    ///
    /// The returned stream is in blocking mode.
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Accept`] if accepting fails for a reason that does
    /// not pass.
    pub fn accept_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<(TcpStream, SocketAddr)>, LinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.inner.accept() {
                Ok((stream, peer)) => {
                    if self.counters.backoff_ms.swap(0, Ordering::Relaxed) > 0 {
                        log::info!("{}: accepting connections again", self.local);
                    }
                    self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                    stream.set_nonblocking(false).map_err(|e| {
                        LinkError::with_source(LinkErrorKind::Configure, peer.to_string(), e)
                    })?;
                    return Ok(Some((stream, peer)));
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    thread::sleep(POLL_INTERVAL.min(deadline - now));
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) if is_resource_exhaustion(&e) => {
                    self.counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                    let previous = self.counters.backoff_ms.load(Ordering::Relaxed);
                    if previous == 0 {
                        log::warn!(
                            "{}: cannot accept connections: {e}; retrying until descriptors free up",
                            self.local
                        );
                    }
                    let max = u64::try_from(MAX_ACCEPT_BACKOFF.as_millis()).unwrap_or(1000);
                    let pause = (previous * 2).clamp(20, max);
                    self.counters.backoff_ms.store(pause, Ordering::Relaxed);
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    thread::sleep(Duration::from_millis(pause).min(deadline - now));
                }
                Err(e) => {
                    return Err(LinkError::with_source(
                        LinkErrorKind::Accept,
                        self.local.to_string(),
                        e,
                    ));
                }
            }
        }
    }

    /// Accepts connections until `stop` is set, running `handler` for each
    /// on its own thread, at most [`Listener::max_connections`] at once
    /// (more are closed on accept and counted); returns once `stop` is set
    /// and every handler has returned (handlers should watch `stop` too).
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Accept`] if accepting fails for a reason that does
    /// not pass; handlers already started are still joined first.
    pub fn serve<F>(&self, stop: &AtomicBool, handler: &F) -> Result<(), LinkError>
    where
        F: Fn(TcpStream, SocketAddr) + Sync,
    {
        let open = AtomicUsize::new(0);
        let mut refusing = false;
        thread::scope(|scope| {
            while !stop.load(Ordering::Relaxed) {
                if let Some((stream, peer)) = self.accept_timeout(POLL_INTERVAL * 5)? {
                    if open.load(Ordering::Acquire) >= self.max_connections {
                        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                        if !refusing {
                            refusing = true;
                            log::warn!(
                                "{}: {} connections open; closing new ones until some end",
                                self.local,
                                self.max_connections
                            );
                        }
                        drop(stream);
                        continue;
                    }
                    refusing = false;
                    open.fetch_add(1, Ordering::AcqRel);
                    let open = &open;
                    // Out of threads (or memory for a stack) is like out of
                    // descriptors: drop this connection, keep listening.
                    let spawned = thread::Builder::new().spawn_scoped(scope, move || {
                        handler(stream, peer);
                        open.fetch_sub(1, Ordering::AcqRel);
                    });
                    if let Err(e) = spawned {
                        open.fetch_sub(1, Ordering::AcqRel);
                        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                        log::warn!("{}: cannot start a handler thread: {e}", self.local);
                    }
                }
            }
            Ok(())
        })
    }
}

fn bind_socket(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std does: a restarted service can bind again at once.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}
