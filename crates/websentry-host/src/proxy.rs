//! The transparent relay: every byte from the unit goes to the upstream and
//! back unchanged, in the order and chunks it arrives; a copy of each chunk
//! is framed and decoded *after* it has been written on, so decoding can
//! neither alter, hold back nor drop traffic.
//!
//! One session = one unit connection = two relay threads (one per
//! direction). When one side ends its stream (EOF) the other side's socket
//! is shut down for writing, so a half-close propagates; when one side
//! resets its connection, the other is reset too (closed with `SO_LINGER`
//! 0), after every byte already read has been written; other socket
//! failures close both connections.
//!
//! Bounds: at most [`ProxyConfig::max_sessions`] sessions at once (more are
//! closed on accept, counted in `websentry_sessions_refused_total` and said
//! in a log line at most every 10 s); a session silent both ways for
//! [`ProxyConfig::idle_timeout`] is closed and counted; a peer that stops
//! reading stalls its session for the idle timeout at most. The listener
//! is [`rewire_transport::link::Listener`], which outlives descriptor
//! exhaustion (`EMFILE`): it logs, backs off and accepts again.
//!
//! [`Proxy::start`] runs the relay (and, if asked, its HTTP exporter) as a
//! service: what it sees goes to the [`Store`] behind `/metrics` and to the
//! caller's sinks as [`Message`]s through a [`Fanout`], so a slow output
//! never holds the relay back; [`Proxy::shutdown`] stops it within a second.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use rewire_host::service::{Service, StopFlag};
use rewire_host::sink::{Fanout, SinkStats};
use rewire_transport::framing::{Event, Framer, WebSentry};
use rewire_transport::link::Listener;

use crate::frame::{DecodedFrame, Sender};
use crate::message::{Message, Side, Units};
use crate::rawlog::{RawFrame, append_session};
use crate::store::{MetricNames, SessionSummary, Store, rfc3339};

/// At most this many messages of a session are kept for the status page.
const MAX_SESSION_RECORDS: usize = 10_000;
/// Relay buffer per direction.
const CHUNK: usize = 16 * 1024;
/// Stack of each relay thread (virtual memory; only touched pages are used).
const THREAD_STACK: usize = 1024 * 1024;
/// How long the accept loop waits for a unit before looking at its flag.
const ACCEPT_POLL: Duration = Duration::from_millis(100);
/// The shortest wake-up of a relay thread to check the idle timeout (it
/// wakes every eighth of the timeout, at most every 30 s).
const TICK: Duration = Duration::from_millis(200);
/// How long shutting down waits for sessions to end.
const SESSION_GRACE: Duration = Duration::from_millis(700);
/// Accept failures are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The listen backlog when none is given: room for a thousand units
/// connecting at once (std's fixed 128 overflowed with 500).
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Sessions relayed at once when no cap is given.
pub const DEFAULT_MAX_SESSIONS: usize = 1024;

/// How long a session may stay silent both ways when no idle timeout is
/// given (the unit talks every minute or so).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How the proxy runs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where units connect (`0.0.0.0:1030`).
    pub listen: SocketAddr,
    /// Where their traffic goes (`websentry.seresco.net:1030`), resolved
    /// for each session.
    pub upstream: String,
    /// How long to wait for the upstream to accept.
    pub connect_timeout: Duration,
    /// Append each finished session here in the original exporter's JSON
    /// raw-log format (frames are kept per session only when set).
    pub raw_log: Option<PathBuf>,
    /// The listen backlog: connections the kernel queues before accept.
    pub backlog: u32,
    /// Where `/metrics`, `/` and `/props.json` are served, if anywhere.
    pub http: Option<SocketAddr>,
    /// Which names `/metrics` uses: rewire's or the original exporter's.
    pub metric_names: MetricNames,
    /// Property values older than this leave `/metrics`.
    pub max_age: Duration,
    /// A session with no byte either way for this long is closed; a peer
    /// that does not read stalls a write for this long at most.
    pub idle_timeout: Duration,
    /// Sessions relayed at once; units beyond are closed on accept.
    pub max_sessions: usize,
}

impl ProxyConfig {
    /// Returns a config relaying `listen` to `upstream` with the defaults:
    /// 5 s connect timeout, no raw log, [`DEFAULT_BACKLOG`], no HTTP, 5 min
    /// maximum age, [`DEFAULT_IDLE_TIMEOUT`], [`DEFAULT_MAX_SESSIONS`].
    pub fn new(listen: SocketAddr, upstream: impl Into<String>) -> Self {
        Self {
            listen,
            upstream: upstream.into(),
            connect_timeout: Duration::from_secs(5),
            raw_log: None,
            backlog: DEFAULT_BACKLOG,
            http: None,
            metric_names: MetricNames::Rewire,
            max_age: Duration::from_secs(300),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

/// Binds the relay's listener on `addr` with `backlog`.
fn bind(addr: SocketAddr, backlog: u32) -> io::Result<Listener> {
    Listener::bind_with_backlog(addr, i32::try_from(backlog).unwrap_or(i32::MAX)).map_err(|e| {
        let kind = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .map_or(io::ErrorKind::Other, io::Error::kind);
        io::Error::new(kind, format!("cannot listen on {addr}: {e}"))
    })
}

/// What the relay's threads share.
struct Shared {
    config: ProxyConfig,
    store: Arc<Store>,
    fanout: Mutex<Fanout<Message>>,
    raw_log_lock: Mutex<()>,
    /// The sockets of live sessions, to end them on shutdown.
    live: Mutex<HashMap<u64, Vec<TcpStream>>>,
    /// Sessions started and not yet ended (connecting ones included).
    open: AtomicUsize,
    /// The units known by the MAC address their init frame reported.
    units: Units,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn publish(&self, message: Message) {
        lock(&self.fanout).publish(message);
    }

    fn track(&self, id: u64, stream: &TcpStream) {
        if let Ok(clone) = stream.try_clone() {
            lock(&self.live).entry(id).or_default().push(clone);
        }
    }
}

/// A running proxy: the relay, its HTTP exporter if configured, and the
/// sinks its messages go to.
pub struct Proxy {
    service: Service,
    shared: Arc<Shared>,
    local: SocketAddr,
    http: Option<SocketAddr>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("local", &self.local)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Binds the relay (and the HTTP server, if configured) and starts
    /// relaying; every message goes to the sinks of `sinks`.
    ///
    /// # Errors
    /// When an address cannot be bound or a thread cannot start.
    pub fn start(config: ProxyConfig, sinks: Fanout<Message>) -> io::Result<Self> {
        let listener = bind(config.listen, config.backlog)?;
        let local = listener.local_addr();
        let store = Arc::new(Store::new(config.max_age).with_metric_names(config.metric_names));
        let mut service = Service::new("proxy");
        let http = match config.http {
            Some(addr) => {
                let server =
                    crate::web::serve(addr, Arc::clone(&store)).map_err(io::Error::other)?;
                let bound = server.local_addr();
                service.serve_http(server);
                Some(bound)
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            config,
            store,
            fanout: Mutex::new(sinks),
            raw_log_lock: Mutex::new(()),
            live: Mutex::new(HashMap::new()),
            open: AtomicUsize::new(0),
            units: Units::default(),
        });
        let accept_shared = Arc::clone(&shared);
        service.spawn("accept", move |stop| {
            accept_loop(&listener, &accept_shared, stop)
        })?;
        Ok(Self {
            service,
            shared,
            local,
            http,
        })
    }

    /// Returns the address units connect to (the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Returns the HTTP server's address, if it serves one.
    #[must_use]
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// Returns what the relay has learnt (the data behind `/metrics`).
    #[must_use]
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    /// Returns each sink's drop counts.
    #[must_use]
    pub fn sink_stats(&self) -> Vec<SinkStats> {
        lock(&self.shared.fanout).stats()
    }

    /// Returns a function that reads each sink's drop counts for as long as
    /// it lives (for a page's link health), independent of the handle.
    pub fn sink_stats_reader(&self) -> impl Fn() -> Vec<SinkStats> + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || lock(&shared.fanout).stats()
    }

    /// Returns whether the relay has stopped on its own (it does not, short
    /// of a thread dying).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.service.is_finished()
    }

    /// Stops accepting, ends every session, stops the HTTP server, lets the
    /// sinks drain what they hold, all within about a second.
    pub fn shutdown(self) {
        self.service.shutdown();
        lock(&self.shared.fanout).close();
    }
}

fn accept_loop(listener: &Listener, shared: &Arc<Shared>, stop: &StopFlag) {
    let mut sessions: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    let mut failures = 0u64;
    let mut last_failure_report: Option<Instant> = None;
    let mut refused = 0u64;
    let mut last_refusal_report: Option<Instant> = None;
    let max_sessions = shared.config.max_sessions.max(1);
    while !stop.is_set() {
        sessions.retain(|h| !h.is_finished());
        // Out of descriptors is waited out inside `accept_timeout`.
        let (unit, peer) = match listener.accept_timeout(ACCEPT_POLL) {
            Ok(Some(pair)) => pair,
            Ok(None) => continue,
            Err(e) => {
                failures += 1;
                if last_failure_report.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                    log::warn!("accept failed ({failures} time(s) so far): {e}");
                    last_failure_report = Some(Instant::now());
                }
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if shared.open.load(Ordering::Acquire) >= max_sessions {
            refused += 1;
            shared.store.counters.sessions_refused.inc(&[]);
            if last_refusal_report.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                log::warn!(
                    "{max_sessions} sessions open: refusing {peer} ({refused} refused so far)"
                );
                last_refusal_report = Some(Instant::now());
            }
            drop(unit);
            continue;
        }
        next_id += 1;
        let id = next_id;
        shared.track(id, &unit);
        shared.open.fetch_add(1, Ordering::AcqRel);
        let session_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("session {peer}"))
            .stack_size(THREAD_STACK)
            .spawn(move || {
                run_session(&session_shared, unit, peer, id);
                lock(&session_shared.live).remove(&id);
                session_shared.open.fetch_sub(1, Ordering::AcqRel);
            });
        match spawned {
            Ok(handle) => sessions.push(handle),
            Err(e) => {
                lock(&shared.live).remove(&id);
                shared.open.fetch_sub(1, Ordering::AcqRel);
                log::error!("cannot start a session thread for {peer}: {e}");
            }
        }
    }
    // End every session: their reads return and their threads finish.
    for streams in lock(&shared.live).values() {
        for s in streams {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
    let deadline = Instant::now() + SESSION_GRACE;
    while sessions.iter().any(|h| !h.is_finished()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let stuck = sessions.iter().filter(|h| !h.is_finished()).count();
    if stuck > 0 {
        // Only a session still connecting upstream can be here; it ends when
        // its connect timeout does.
        log::debug!("{stuck} session(s) still connecting upstream at shutdown");
    }
}

/// Connects to `target` (a name or address), trying each resolved address.
fn connect(target: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in target.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}

/// What one session collects, shared by its two relay threads.
///
/// Each entry carries the sequence number of the chunk that completed it,
/// taken right after the read and before the write: a unit's answer is read
/// before the cloud can see it and send its next frame, so sorting by it
/// restores the causal order the two threads may have logged out of.
#[derive(Default)]
struct SessionLog {
    messages: Vec<(u64, Message)>,
    /// Frames for the raw log, kept only when there is one.
    raw: Vec<(u64, RawFrame)>,
    frames: u64,
}

/// How one direction ended.
#[derive(Debug)]
enum PumpEnd {
    /// The sender closed its stream.
    Eof,
    /// Reading from the sender failed (reset).
    ReadFailed(io::Error),
    /// Writing to the receiver failed.
    WriteFailed(io::Error),
    /// Neither side sent anything for the idle timeout.
    Idle,
}

/// Returns whether `e` says the peer reset the connection (or that it is
/// gone, which on a write is what a reset turns into).
fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Makes `stream` end with a reset instead of a FIN: `SO_LINGER` 0, so the
/// close that ends the session sends RST; reading is shut down so that the
/// thread relaying from it wakes up at once (which sends nothing).
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Read);
}

/// One session's context for its relay threads.
struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    log: Mutex<SessionLog>,
    sequence: AtomicU64,
    /// When the session started; activity is counted from here.
    started: Instant,
    /// Milliseconds after `started` when a byte last came from either side.
    last_activity: AtomicU64,
    /// Set by the first relay thread to find the session idle.
    idle: AtomicBool,
    /// The session's `SessionOpened`, until it is published.
    opened: Mutex<Option<Message>>,
}

impl<'a> Session<'a> {
    fn new(shared: &'a Shared, peer: SocketAddr) -> Self {
        Self {
            shared,
            peer,
            log: Mutex::new(SessionLog::default()),
            sequence: AtomicU64::new(0),
            started: Instant::now(),
            last_activity: AtomicU64::new(0),
            idle: AtomicBool::new(false),
            opened: Mutex::new(None),
        }
    }

    /// Publishes the session's `SessionOpened` if it has not been yet, under
    /// the unit's id as now known. The lock is held while publishing, so the
    /// other relay thread cannot publish a frame of the session before it.
    fn publish_opened(&self) {
        let mut opened = lock(&self.opened);
        if let Some(mut message) = opened.take() {
            if let Message::SessionOpened { device, .. } = &mut message {
                *device = self.shared.units.device(self.peer);
            }
            self.shared.publish(message);
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Notes that a byte came from either side now.
    fn touch(&self) {
        self.last_activity
            .fetch_max(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// Returns how long neither side has sent anything.
    fn silent_for(&self) -> Duration {
        Duration::from_millis(
            self.elapsed_ms()
                .saturating_sub(self.last_activity.load(Ordering::Relaxed)),
        )
    }
}

fn run_session(shared: &Shared, unit: TcpStream, peer: SocketAddr, id: u64) {
    let store = &shared.store;
    let config = &shared.config;
    store.counters.sessions.inc(&[]);
    let start = SystemTime::now();
    let started = Instant::now();
    let upstream = match connect(&config.upstream, config.connect_timeout) {
        Ok(s) => s,
        Err(e) => {
            store.counters.upstream_failures.inc(&[]);
            shared.publish(Message::UpstreamFailed {
                device: shared.units.device(peer),
                peer,
                upstream: config.upstream.clone(),
                error: e.to_string(),
                ts: SystemTime::now(),
            });
            let _ = unit.shutdown(Shutdown::Both);
            return;
        }
    };
    shared.track(id, &upstream);
    for s in [&unit, &upstream] {
        let _ = s.set_nodelay(true);
        // Reads wake up to look at the idle timeout; a peer that does not
        // read holds a write for the idle timeout at most.
        let wake = (config.idle_timeout / 8).clamp(TICK, Duration::from_secs(30));
        let _ = s.set_read_timeout(Some(wake));
        let _ = s.set_write_timeout(Some(config.idle_timeout.max(TICK)));
    }
    store.counters.active.fetch_add(1, Ordering::Relaxed);
    // Published with the session's first frame, when the unit's init frame
    // may have named it by its MAC address.
    let session = Session::new(shared, peer);
    *lock(&session.opened) = Some(Message::SessionOpened {
        device: shared.units.device(peer),
        peer,
        upstream: config.upstream.clone(),
        ts: start,
    });
    let (up_end, down_end) = thread::scope(|scope| {
        let down = thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn_scoped(scope, || session.pump(&upstream, &unit, Sender::Server));
        let up = session.pump(&unit, &upstream, Sender::Client);
        let down = match down {
            Ok(handle) => handle.join().unwrap_or(PumpEnd::Eof),
            Err(e) => {
                // No second thread: close both sides rather than relay one way.
                let _ = unit.shutdown(Shutdown::Both);
                let _ = upstream.shutdown(Shutdown::Both);
                PumpEnd::ReadFailed(e)
            }
        };
        (up, down)
    });
    for (end, direction) in [(&up_end, Sender::Client), (&down_end, Sender::Server)] {
        let (side, what, err) = match end {
            PumpEnd::Eof | PumpEnd::Idle => continue,
            PumpEnd::ReadFailed(e) => (Side::sending(direction), "read", e),
            PumpEnd::WriteFailed(e) => (Side::sending(direction.peer()), "write", e),
        };
        store.counters.relay_errors.inc(&[side.as_str()]);
        session.publish_opened();
        shared.publish(Message::RelayFailed {
            device: shared.units.device(peer),
            peer,
            side,
            what,
            error: err.to_string(),
            ts: SystemTime::now(),
        });
    }
    store.counters.active.fetch_sub(1, Ordering::Relaxed);
    session.publish_opened();
    let duration = started.elapsed();
    let mut log = session
        .log
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    log.messages.sort_by_key(|(seq, _)| *seq);
    log.raw.sort_by_key(|(seq, _)| *seq);
    if let Some(path) = &config.raw_log {
        let raw: Vec<RawFrame> = log.raw.into_iter().map(|(_, f)| f).collect();
        let _guard = lock(&shared.raw_log_lock);
        if let Err(e) = append_session(path, start, duration.as_secs_f64(), &raw) {
            log::error!("raw log {}: {e}", path.display());
        }
    }
    shared.publish(Message::SessionClosed {
        device: shared.units.device(peer),
        peer,
        duration,
        frames: log.frames,
        ts: SystemTime::now(),
    });
    store.set_last_session(SessionSummary {
        peer: peer.to_string(),
        start: rfc3339(start),
        duration_sec: duration.as_secs_f64(),
        messages: log.messages.into_iter().map(|(_, m)| m).collect(),
    });
}

impl Session<'_> {
    /// Relays `src` → `dst` until EOF or failure, decoding a copy.
    fn pump(&self, src: &TcpStream, dst: &TcpStream, direction: Sender) -> PumpEnd {
        let mut buf = vec![0u8; CHUNK];
        let mut framer = Framer::new(WebSentry);
        let bytes = &self.shared.store.counters.bytes;
        let idle_timeout = self.shared.config.idle_timeout.max(TICK);
        let end = loop {
            let n = match (&*src).read(&mut buf) {
                Ok(0) => {
                    let _ = dst.shutdown(Shutdown::Write);
                    break PumpEnd::Eof;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.silent_for() < idle_timeout {
                        continue;
                    }
                    if !self.idle.swap(true, Ordering::Relaxed) {
                        self.shared.store.counters.sessions_idle_closed.inc(&[]);
                        log::debug!(
                            "{}: nothing either way for {idle_timeout:?}; closing the session",
                            self.peer
                        );
                    }
                    let _ = dst.shutdown(Shutdown::Both);
                    let _ = src.shutdown(Shutdown::Both);
                    break PumpEnd::Idle;
                }
                Err(e) => {
                    // Whatever was read has been written; now end both
                    // connections, passing a reset on as a reset.
                    if is_reset(&e) {
                        reset(dst);
                    } else {
                        let _ = dst.shutdown(Shutdown::Both);
                    }
                    let _ = src.shutdown(Shutdown::Both);
                    break PumpEnd::ReadFailed(e);
                }
            };
            self.touch();
            let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
            let chunk = buf.get(..n).unwrap_or(&[]);
            if let Err(e) = (&*dst).write_all(chunk) {
                if is_reset(&e) {
                    reset(src);
                } else {
                    let _ = src.shutdown(Shutdown::Both);
                }
                let _ = dst.shutdown(Shutdown::Both);
                break PumpEnd::WriteFailed(e);
            }
            bytes.add(&[direction.as_str()], n as u64);
            // An oversize run is reported again as an Event::Skipped.
            let _ = framer.push(chunk);
            self.drain(&mut framer, direction, seq);
        };
        framer.finish();
        self.drain(
            &mut framer,
            direction,
            self.sequence.fetch_add(1, Ordering::Relaxed),
        );
        end
    }

    /// Decodes what the framer holds, counts it, keeps it for the page and
    /// hands it to the sinks.
    fn drain(&self, framer: &mut Framer<WebSentry>, direction: Sender, seq: u64) {
        let store = &self.shared.store;
        let keep_raw = self.shared.config.raw_log.is_some();
        while let Some(event) = framer.next() {
            let ts = SystemTime::now();
            let mut raw = None;
            let message = match event {
                Event::Message(m) => {
                    // The response's own ids name its values, so the relay does
                    // not need the query it answers (which the other thread may
                    // not have decoded yet).
                    let frame = DecodedFrame::decode(m.bytes, Some(direction), None);
                    store.counters.count_frame(&frame);
                    store.observe(&frame, ts);
                    if direction == Sender::Client {
                        self.shared.units.learn(self.peer, &frame);
                    }
                    if keep_raw {
                        raw = Some(RawFrame {
                            direction,
                            // A copy on purpose: the session's raw log lives
                            // to its end, and a shared `Bytes` would pin the
                            // whole read buffer each frame was cut from.
                            bytes: frame.bytes.to_vec(),
                        });
                    }
                    Message::Frame {
                        device: self.shared.units.device(self.peer),
                        peer: self.peer,
                        frame,
                        ts,
                    }
                }
                Event::Skipped(s) => {
                    let reason = s.reason.to_string();
                    store.counters.decode_error(direction.as_str(), &reason);
                    Message::Garbage {
                        device: self.shared.units.device(self.peer),
                        peer: self.peer,
                        direction,
                        offset: s.offset,
                        len: s.len,
                        reason,
                        head: s.head,
                        ts,
                    }
                }
            };
            {
                let mut log = lock(&self.log);
                if matches!(message, Message::Frame { .. }) {
                    log.frames += 1;
                }
                if let Some(raw) = raw {
                    log.raw.push((seq, raw));
                }
                if log.messages.len() < MAX_SESSION_RECORDS {
                    log.messages.push((seq, message.clone()));
                }
            }
            self.publish_opened();
            self.shared.publish(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewire_host::sink::Sink;
    use std::sync::mpsc;

    struct Channel(mpsc::Sender<Message>);

    impl Sink<Message> for Channel {
        fn name(&self) -> &str {
            "channel"
        }
        fn observe(&mut self, m: &Message) {
            let _ = self.0.send(m.clone());
        }
    }

    #[test]
    fn relays_reports_to_observers_and_shuts_down_within_a_second() {
        let cloud = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (tx, rx) = mpsc::channel();
        let mut sinks = Fanout::new();
        sinks.add(Channel(tx), 64);
        let config = ProxyConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            cloud.local_addr().unwrap().to_string(),
        );
        let proxy = Proxy::start(config, sinks).unwrap();
        let mut unit = TcpStream::connect(proxy.local_addr()).unwrap();
        let (mut up, _) = cloud.accept().unwrap();
        let init = crate::simulate::init_frame([0, 1, 2, 3, 4, 5]);
        unit.write_all(&init).unwrap();
        let mut got = vec![0u8; init.len()];
        up.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        up.read_exact(&mut got).unwrap();
        assert_eq!(got, init);
        let deadline = Instant::now() + Duration::from_secs(5);
        let frame = loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Message::Frame { frame, .. }) => break frame,
                Ok(_) => {}
                Err(e) => panic!("no frame message: {e}"),
            }
        };
        assert_eq!(frame.bytes, init);
        assert!(frame.carries_readings());
        // A session is open and idle: shutdown ends it too.
        let started = Instant::now();
        proxy.shutdown();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let mut rest = Vec::new();
        unit.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        assert_eq!(unit.read_to_end(&mut rest).map(|_| ()).ok(), Some(()));
    }

    /// Raw frames are kept for a session only when there is a raw log to
    /// write them to (a 40 MB session of small frames used to cost 375 MB).
    #[test]
    fn raw_frames_are_kept_only_for_a_raw_log() {
        for (raw_log, kept) in [(None, 0), (Some(PathBuf::from("unused.json")), 1)] {
            let mut config = ProxyConfig::new("127.0.0.1:0".parse().unwrap(), "127.0.0.1:9");
            config.raw_log = raw_log;
            let shared = Shared {
                config,
                store: Arc::new(Store::new(Duration::from_secs(60))),
                fanout: Mutex::new(Fanout::new()),
                raw_log_lock: Mutex::new(()),
                live: Mutex::new(HashMap::new()),
                open: AtomicUsize::new(0),
                units: Units::default(),
            };
            let session = Session::new(&shared, "127.0.0.1:1".parse().unwrap());
            let mut framer = Framer::new(WebSentry);
            let _ = framer.push(&crate::simulate::init_frame([0, 1, 2, 3, 4, 5]));
            session.drain(&mut framer, Sender::Client, 0);
            let log = session.log.into_inner().unwrap();
            assert_eq!(log.frames, 1);
            assert_eq!(log.raw.len(), kept);
        }
    }

    /// A proxy relaying to a fresh cloud listener, and that listener.
    fn proxy_to_cloud(tweak: impl FnOnce(&mut ProxyConfig)) -> (Proxy, std::net::TcpListener) {
        let cloud = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = ProxyConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            cloud.local_addr().unwrap().to_string(),
        );
        tweak(&mut config);
        (Proxy::start(config, Fanout::new()).unwrap(), cloud)
    }

    /// Connects a unit through the proxy and returns it with the cloud's end.
    fn session(proxy: &Proxy, cloud: &std::net::TcpListener) -> (TcpStream, TcpStream) {
        let unit = TcpStream::connect(proxy.local_addr()).unwrap();
        let (up, _) = cloud.accept().unwrap();
        for s in [&unit, &up] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        (unit, up)
    }

    /// Closes `s` with a reset (RST) instead of a FIN.
    fn abort(s: TcpStream) {
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    }

    #[test]
    fn a_reset_is_passed_on_as_a_reset_both_ways() {
        let (proxy, cloud) = proxy_to_cloud(|_| {});
        // Upstream resets: the unit sees a reset, not an end of stream.
        let (mut unit, mut up) = session(&proxy, &cloud);
        unit.write_all(b"ping").unwrap();
        let mut four = [0u8; 4];
        up.read_exact(&mut four).unwrap();
        abort(up);
        let mut rest = Vec::new();
        let err = unit.read_to_end(&mut rest).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        // The unit resets: the upstream sees a reset.
        let (unit, mut up) = session(&proxy, &cloud);
        abort(unit);
        let err = up.read_to_end(&mut rest).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        // A FIN stays a FIN.
        let (unit, mut up) = session(&proxy, &cloud);
        drop(unit);
        assert_eq!(up.read_to_end(&mut rest).unwrap(), 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        while proxy.store().counters.relay_errors.total() < 2 {
            assert!(Instant::now() < deadline, "resets not counted");
            thread::sleep(Duration::from_millis(10));
        }
        proxy.shutdown();
    }

    #[test]
    fn idle_sessions_are_closed_and_counted() {
        let (proxy, cloud) = proxy_to_cloud(|c| c.idle_timeout = Duration::from_millis(300));
        let (mut unit, mut up) = session(&proxy, &cloud);
        // Traffic keeps it open past the timeout.
        for _ in 0..4 {
            thread::sleep(Duration::from_millis(150));
            unit.write_all(b"x").unwrap();
            let mut one = [0u8; 1];
            up.read_exact(&mut one).unwrap();
        }
        assert_eq!(proxy.store().counters.sessions_idle_closed.total(), 0);
        // Silence closes it, both ways.
        let started = Instant::now();
        let mut rest = Vec::new();
        assert_eq!(unit.read_to_end(&mut rest).unwrap(), 0);
        assert_eq!(up.read_to_end(&mut rest).unwrap(), 0);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(proxy.store().counters.sessions_idle_closed.total(), 1);
        proxy.shutdown();
    }

    #[test]
    fn sessions_beyond_the_cap_are_refused_and_counted() {
        let (proxy, cloud) = proxy_to_cloud(|c| c.max_sessions = 2);
        let held: Vec<_> = (0..2).map(|_| session(&proxy, &cloud)).collect();
        let mut extra = TcpStream::connect(proxy.local_addr()).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        // Closed on accept, never relayed.
        assert_eq!(extra.read_to_end(&mut rest).unwrap_or(0), 0);
        assert_eq!(proxy.store().counters.sessions_refused.total(), 1);
        assert!(
            proxy
                .store()
                .render_metrics(SystemTime::now())
                .contains("websentry_sessions_refused_total 1")
        );
        // Once one ends, a new unit gets through.
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(5);
        while proxy.shared.open.load(Ordering::Acquire) > 0 {
            assert!(Instant::now() < deadline, "sessions did not end");
            thread::sleep(Duration::from_millis(10));
        }
        let (mut unit, mut up) = session(&proxy, &cloud);
        unit.write_all(b"ok").unwrap();
        let mut two = [0u8; 2];
        up.read_exact(&mut two).unwrap();
        proxy.shutdown();
    }

    #[test]
    fn the_backlog_is_what_was_asked_for() {
        let l = bind("127.0.0.1:0".parse().unwrap(), 2000).unwrap();
        let port = l.local_addr().port();
        // /proc/net/tcp has no backlog; `ss -ltn` shows it as Send-Q.
        let out = std::process::Command::new("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output();
        if let Ok(out) = out
            && out.status.success()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            let send_q: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(send_q.get(2), Some(&"2000"), "{text}");
        }
    }
}
