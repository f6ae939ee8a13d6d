//! The transparent relay: every byte from the unit goes to the upstream and
//! back unchanged, in the order and chunks it arrives; a copy of each chunk
//! is framed and decoded *after* it has been written on, so decoding can
//! neither alter, hold back nor drop traffic.
//!
//! One session = one unit connection = two relay threads (one per
//! direction). When one side ends its stream (EOF) the other side's socket
//! is shut down for writing, so a half-close propagates; when a socket
//! fails (reset, write error) both connections are shut down, after every
//! byte already read has been written.
//!
//! [`Proxy::start`] runs the relay (and, if asked, its HTTP exporter) as a
//! service: what it sees goes to the [`Store`] behind `/metrics` and to the
//! caller's sinks as [`Message`]s through a [`Fanout`], so a slow output
//! never holds the relay back; [`Proxy::shutdown`] stops it within a second.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use rewire_host::service::{Service, StopFlag};
use rewire_host::sink::{Fanout, SinkStats};
use rewire_transport::framing::{Event, Framer, WebSentry};

use crate::frame::{DecodedFrame, Sender};
use crate::message::{Message, Side, device_of};
use crate::rawlog::{RawFrame, append_session};
use crate::store::{SessionSummary, Store, rfc3339};

/// At most this many messages of a session are kept for the status page.
const MAX_SESSION_RECORDS: usize = 10_000;
/// Relay buffer per direction.
const CHUNK: usize = 16 * 1024;
/// Stack of each relay thread (virtual memory; only touched pages are used).
const THREAD_STACK: usize = 1024 * 1024;
/// How long the accept loop sleeps when no unit is waiting.
const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// How long shutting down waits for sessions to end.
const SESSION_GRACE: Duration = Duration::from_millis(700);
/// Accept failures are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The listen backlog when none is given: room for a thousand units
/// connecting at once (std's fixed 128 overflowed with 500).
pub const DEFAULT_BACKLOG: u32 = 1024;

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
    /// Property values older than this leave `/metrics`.
    pub max_age: Duration,
}

impl ProxyConfig {
    /// Returns a config relaying `listen` to `upstream` with the defaults:
    /// 5 s connect timeout, no raw log, [`DEFAULT_BACKLOG`], no HTTP, 5 min
    /// maximum age.
    pub fn new(listen: SocketAddr, upstream: impl Into<String>) -> Self {
        Self {
            listen,
            upstream: upstream.into(),
            connect_timeout: Duration::from_secs(5),
            raw_log: None,
            backlog: DEFAULT_BACKLOG,
            http: None,
            max_age: Duration::from_secs(300),
        }
    }
}

/// Binds a TCP listener on `addr` with `backlog` (std's `bind` always asks
/// for 128), non-blocking, with `SO_REUSEADDR` as std sets it on Unix.
///
/// # Errors
/// When the socket cannot be made, bound or put to listen, naming `addr`.
pub fn bind_listener(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(named)?;
    #[cfg(unix)]
    socket.set_reuse_address(true).map_err(named)?;
    socket.bind(&addr.into()).map_err(named)?;
    socket
        .listen(i32::try_from(backlog).unwrap_or(i32::MAX))
        .map_err(named)?;
    socket.set_nonblocking(true).map_err(named)?;
    Ok(socket.into())
}

/// What the relay's threads share.
struct Shared {
    config: ProxyConfig,
    store: Arc<Store>,
    fanout: Mutex<Fanout<Message>>,
    raw_log_lock: Mutex<()>,
    /// The sockets of live sessions, to end them on shutdown.
    live: Mutex<HashMap<u64, Vec<TcpStream>>>,
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
        let listener = bind_listener(config.listen, config.backlog)?;
        let local = listener.local_addr()?;
        let store = Arc::new(Store::new(config.max_age));
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

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stop: &StopFlag) {
    let mut sessions: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    let mut failures = 0u64;
    let mut last_report: Option<Instant> = None;
    while !stop.is_set() {
        let (unit, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                sessions.retain(|h| !h.is_finished());
                thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning, and say so
                // now and then rather than for every attempt.
                failures += 1;
                if last_report.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                    log::warn!("accept failed ({failures} time(s) so far): {e}");
                    last_report = Some(Instant::now());
                }
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if unit.set_nonblocking(false).is_err() {
            continue;
        }
        next_id += 1;
        let id = next_id;
        shared.track(id, &unit);
        let session_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("session {peer}"))
            .stack_size(THREAD_STACK)
            .spawn(move || {
                run_session(&session_shared, unit, peer, id);
                lock(&session_shared.live).remove(&id);
            });
        match spawned {
            Ok(handle) => sessions.push(handle),
            Err(e) => {
                lock(&shared.live).remove(&id);
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
}

/// One session's context for its relay threads.
struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    log: Mutex<SessionLog>,
    sequence: AtomicU64,
}

fn run_session(shared: &Shared, unit: TcpStream, peer: SocketAddr, id: u64) {
    let store = &shared.store;
    let config = &shared.config;
    store.counters.sessions.inc(&[]);
    let start = SystemTime::now();
    let started = Instant::now();
    let device = device_of(peer);
    let upstream = match connect(&config.upstream, config.connect_timeout) {
        Ok(s) => s,
        Err(e) => {
            store.counters.upstream_failures.inc(&[]);
            shared.publish(Message::UpstreamFailed {
                device,
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
    let _ = unit.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    store.counters.active.fetch_add(1, Ordering::Relaxed);
    shared.publish(Message::SessionOpened {
        device: device.clone(),
        peer,
        upstream: config.upstream.clone(),
        ts: start,
    });
    let session = Session {
        shared,
        peer,
        log: Mutex::new(SessionLog::default()),
        sequence: AtomicU64::new(0),
    };
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
            PumpEnd::Eof => continue,
            PumpEnd::ReadFailed(e) => (Side::sending(direction), "read", e),
            PumpEnd::WriteFailed(e) => (Side::sending(direction.peer()), "write", e),
        };
        store.counters.relay_errors.inc(&[side.as_str()]);
        shared.publish(Message::RelayFailed {
            device: device.clone(),
            peer,
            side,
            what,
            error: err.to_string(),
            ts: SystemTime::now(),
        });
    }
    store.counters.active.fetch_sub(1, Ordering::Relaxed);
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
        device,
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
        let end = loop {
            let n = match (&*src).read(&mut buf) {
                Ok(0) => {
                    let _ = dst.shutdown(Shutdown::Write);
                    break PumpEnd::Eof;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Whatever was read has been written; now end both connections.
                    let _ = dst.shutdown(Shutdown::Both);
                    let _ = src.shutdown(Shutdown::Both);
                    break PumpEnd::ReadFailed(e);
                }
            };
            let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
            let chunk = buf.get(..n).unwrap_or(&[]);
            if let Err(e) = (&*dst).write_all(chunk) {
                let _ = src.shutdown(Shutdown::Both);
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
            let device = device_of(self.peer);
            let mut raw = None;
            let message = match event {
                Event::Message(m) => {
                    // The response's own ids name its values, so the relay does
                    // not need the query it answers (which the other thread may
                    // not have decoded yet).
                    let frame = DecodedFrame::decode(m.bytes, Some(direction), None);
                    store.counters.count_frame(&frame);
                    store.observe(&frame, ts);
                    if keep_raw {
                        raw = Some(RawFrame {
                            direction,
                            bytes: frame.bytes.clone(),
                        });
                    }
                    Message::Frame {
                        device,
                        peer: self.peer,
                        frame,
                        ts,
                    }
                }
                Event::Skipped(s) => {
                    let reason = s.reason.to_string();
                    store.counters.decode_error(direction.as_str(), &reason);
                    Message::Garbage {
                        device,
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
        let cloud = TcpListener::bind("127.0.0.1:0").unwrap();
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
            };
            let session = Session {
                shared: &shared,
                peer: "127.0.0.1:1".parse().unwrap(),
                log: Mutex::new(SessionLog::default()),
                sequence: AtomicU64::new(0),
            };
            let mut framer = Framer::new(WebSentry);
            let _ = framer.push(&crate::simulate::init_frame([0, 1, 2, 3, 4, 5]));
            session.drain(&mut framer, Sender::Client, 0);
            let log = session.log.into_inner().unwrap();
            assert_eq!(log.frames, 1);
            assert_eq!(log.raw.len(), kept);
        }
    }

    #[test]
    fn the_backlog_is_what_was_asked_for() {
        let l = bind_listener("127.0.0.1:0".parse().unwrap(), 2000).unwrap();
        let port = l.local_addr().unwrap().port();
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
