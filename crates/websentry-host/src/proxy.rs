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

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use rewire_transport::framing::{Event, Framer, WebSentry};

use crate::rawlog::{RawFrame, append_session};
use crate::record::{Direction, ErrorRecord, Origin, Record, decode_frame};
use crate::store::{SessionSummary, SideLabels, Store, rfc3339};

/// At most this many records of a session are kept for the status page
/// (the raw log keeps every frame).
const MAX_SESSION_RECORDS: usize = 10_000;
/// Relay buffer per direction.
const CHUNK: usize = 16 * 1024;
/// Stack of each relay thread (virtual memory; only touched pages are used).
const THREAD_STACK: usize = 1024 * 1024;

/// How the proxy runs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where units connect (`0.0.0.0:1030`).
    pub listen: String,
    /// Where their traffic goes (`websentry.seresco.net:1030`).
    pub upstream: String,
    /// How long to wait for the upstream to accept.
    pub connect_timeout: Duration,
    /// Append each finished session here in the original exporter's JSON
    /// raw-log format.
    pub raw_log: Option<PathBuf>,
    /// Log each frame on stderr, not only anomalies.
    pub verbose: bool,
}

/// A bound proxy; [`Proxy::serve`] runs it.
#[derive(Debug)]
pub struct Proxy {
    listener: TcpListener,
    local: SocketAddr,
    config: ProxyConfig,
    store: Arc<Store>,
    raw_log_lock: Arc<Mutex<()>>,
}

impl Proxy {
    /// Binds the listening socket.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn bind(config: ProxyConfig, store: Arc<Store>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local = listener.local_addr()?;
        Ok(Self {
            listener,
            local,
            config,
            store,
            raw_log_lock: Arc::new(Mutex::new(())),
        })
    }

    /// Returns the bound address (with the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Accepts units until `stop` is set (wake the blocked accept with a
    /// connection after setting it), each session on its own threads.
    ///
    /// # Errors
    /// Only when accepting fails persistently; a failing session never ends
    /// the proxy.
    pub fn serve(&self, stop: &AtomicBool) -> anyhow::Result<()> {
        let mut consecutive_errors = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let (unit, peer) = match self.listener.accept() {
                Ok(pair) => {
                    consecutive_errors = 0;
                    pair
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, give up only
                    // when it does not clear.
                    consecutive_errors += 1;
                    eprintln!("websentry: accept failed: {e}");
                    if consecutive_errors > 100 {
                        return Err(e).context("accept keeps failing");
                    }
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let session = Session {
                config: self.config.clone(),
                store: Arc::clone(&self.store),
                raw_log_lock: Arc::clone(&self.raw_log_lock),
                peer,
            };
            let spawned = thread::Builder::new()
                .name(format!("session {peer}"))
                .stack_size(THREAD_STACK)
                .spawn(move || session.run(unit));
            if let Err(e) = spawned {
                eprintln!("websentry: cannot start a session thread for {peer}: {e}");
            }
        }
        Ok(())
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

struct Session {
    config: ProxyConfig,
    store: Arc<Store>,
    raw_log_lock: Arc<Mutex<()>>,
    peer: SocketAddr,
}

/// What one session collects, shared by its two relay threads.
///
/// Each entry carries the sequence number of the chunk that completed it,
/// taken right after the read and before the write: a unit's answer is read
/// before the cloud can see it and send its next frame, so sorting by it
/// restores the causal order the two threads may have logged out of.
#[derive(Default)]
struct SessionLog {
    records: Vec<(u64, Record)>,
    raw: Vec<(u64, RawFrame)>,
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

impl Session {
    fn run(self, unit: TcpStream) {
        let store = &self.store;
        store.counters.sessions.inc();
        let start = SystemTime::now();
        let started = Instant::now();
        let upstream = match connect(&self.config.upstream, self.config.connect_timeout) {
            Ok(s) => s,
            Err(e) => {
                store.counters.upstream_failures.inc();
                eprintln!(
                    "websentry: {}: upstream {} unreachable ({e}); closing the unit's connection",
                    self.peer, self.config.upstream
                );
                let _ = unit.shutdown(Shutdown::Both);
                return;
            }
        };
        let _ = unit.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        store.counters.active.inc();
        if self.config.verbose {
            eprintln!(
                "websentry: {}: session relayed to {}",
                self.peer, self.config.upstream
            );
        }
        let log = Mutex::new(SessionLog::default());
        let sequence = AtomicU64::new(0);
        let (up_end, down_end) = thread::scope(|scope| {
            let down = thread::Builder::new()
                .stack_size(THREAD_STACK)
                .spawn_scoped(scope, || {
                    self.pump(&upstream, &unit, Direction::Server, &log, &sequence)
                });
            let up = self.pump(&unit, &upstream, Direction::Client, &log, &sequence);
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
        for (end, direction) in [(&up_end, Direction::Client), (&down_end, Direction::Server)] {
            let (side, what, err) = match end {
                PumpEnd::Eof => continue,
                PumpEnd::ReadFailed(e) => (side_of(direction), "read", e),
                PumpEnd::WriteFailed(e) => (side_of(direction.peer()), "write", e),
            };
            store
                .counters
                .relay_errors
                .get_or_create(&SideLabels { side: side.into() })
                .inc();
            eprintln!("websentry: {}: {side} {what} failed: {err}", self.peer);
        }
        store.counters.active.dec();
        let duration = started.elapsed().as_secs_f64();
        let mut log = log.into_inner().unwrap_or_else(|p| p.into_inner());
        log.records.sort_by_key(|(seq, _)| *seq);
        log.raw.sort_by_key(|(seq, _)| *seq);
        let raw: Vec<RawFrame> = log.raw.into_iter().map(|(_, f)| f).collect();
        if let Some(path) = &self.config.raw_log {
            let _guard = self.raw_log_lock.lock();
            if let Err(e) = append_session(path, start, duration, &raw) {
                eprintln!("websentry: raw log {}: {e:#}", path.display());
            }
        }
        store.set_last_session(SessionSummary {
            peer: self.peer.to_string(),
            start: rfc3339(start),
            duration_sec: duration,
            frames: log.records.into_iter().map(|(_, r)| r).collect(),
        });
    }

    /// Relays `src` → `dst` until EOF or failure, decoding a copy.
    fn pump(
        &self,
        src: &TcpStream,
        dst: &TcpStream,
        direction: Direction,
        log: &Mutex<SessionLog>,
        sequence: &AtomicU64,
    ) -> PumpEnd {
        let mut buf = vec![0u8; CHUNK];
        let mut tap = Tap::new(direction);
        let bytes = self
            .store
            .counters
            .bytes
            .get_or_create_owned(&crate::store::DirectionLabels {
                direction: direction.as_str().into(),
            });
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
            let seq = sequence.fetch_add(1, Ordering::Relaxed);
            let chunk = buf.get(..n).unwrap_or(&[]);
            if let Err(e) = (&*dst).write_all(chunk) {
                let _ = src.shutdown(Shutdown::Both);
                let _ = dst.shutdown(Shutdown::Both);
                break PumpEnd::WriteFailed(e);
            }
            bytes.inc_by(n as u64);
            tap.push(chunk, seq, self, log);
        };
        tap.finish(sequence.fetch_add(1, Ordering::Relaxed), self, log);
        end
    }
}

fn side_of(direction: Direction) -> &'static str {
    match direction {
        Direction::Client => "unit",
        Direction::Server => "upstream",
    }
}

/// The decoding copy of one direction.
struct Tap {
    framer: Framer<WebSentry>,
    direction: Direction,
}

impl Tap {
    fn new(direction: Direction) -> Self {
        Self {
            framer: Framer::new(WebSentry),
            direction,
        }
    }

    fn push(&mut self, chunk: &[u8], seq: u64, session: &Session, log: &Mutex<SessionLog>) {
        // An oversize run is reported again as an Event::Skipped below.
        let _ = self.framer.push(chunk);
        self.drain(seq, session, log);
    }

    fn finish(&mut self, seq: u64, session: &Session, log: &Mutex<SessionLog>) {
        self.framer.finish();
        self.drain(seq, session, log);
    }

    fn drain(&mut self, seq: u64, session: &Session, log: &Mutex<SessionLog>) {
        let store = &session.store;
        while let Some(event) = self.framer.next() {
            let now = SystemTime::now();
            let origin = Origin {
                ts: now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs_f64()),
                src_addr: None,
                dst_addr: None,
            };
            let record = match event {
                Event::Message(message) => {
                    // The response's own ids name its values, so the proxy does not
                    // need the query it answers (which the other thread may not
                    // have decoded yet).
                    let record = decode_frame(&message.bytes, Some(self.direction), None, origin);
                    store.counters.count_frame(&record);
                    store.observe(&record, now);
                    if !record.crc_ok
                        || record.body_error.is_some()
                        || record.function.starts_with("0x") && record.function != "0x08"
                        || session.config.verbose
                    {
                        eprintln!("websentry: {}: {record}", session.peer);
                    }
                    if let Ok(mut log) = log.lock() {
                        log.raw.push((
                            seq,
                            RawFrame {
                                direction: self.direction,
                                bytes: message.bytes,
                            },
                        ));
                    }
                    Record::Frame(record)
                }
                Event::Skipped(skipped) => {
                    let record = ErrorRecord {
                        origin,
                        direction: Some(self.direction),
                        offset: skipped.offset,
                        len: skipped.len,
                        reason: skipped.reason.to_string(),
                        raw: hex::encode(&skipped.head),
                    };
                    store
                        .counters
                        .decode_error(self.direction.as_str(), &record.reason);
                    eprintln!("websentry: {}: {record}", session.peer);
                    Record::Error(record)
                }
            };
            if let Ok(mut log) = log.lock()
                && log.records.len() < MAX_SESSION_RECORDS
            {
                log.records.push((seq, record));
            }
        }
    }
}
