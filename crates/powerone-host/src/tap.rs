//! The passive tap (`powerone listen`): every frame on the line, in both
//! directions, in the order they arrive, as [`Message`]s to a fan-out.
//!
//! How the tap sees both directions depends on the wiring:
//! - one stream that already carries both directions: a serial port on a
//!   shared line (RS-485, or a monitor port that echoes both wires), or a
//!   TCP connection to a serial server that forwards everything it hears;
//! - two serial ports, one on each wire of an RS-232 Y-cable (each port
//!   hears one direction; frames name the port in `line`);
//! - a TCP relay ([`Tap::relay`]): PowCom connects to the tap, the tap
//!   connects upstream to the PCU's serial server and forwards both ways,
//!   decoding each direction before forwarding it (messages carry the
//!   socket addresses).
//!
//! Every source has its own [`StreamDecoder`], so bytes of two directions are
//! never mixed inside one frame. Messages go to the caller's
//! [`Fanout`]: a slow output (stdout to a stalled pipe) drops and counts
//! messages instead of holding them in memory or stalling the line.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use rewire_host::reading::DeviceId;
use rewire_host::service::{Service, StopFlag};
use rewire_host::sink::{Fanout, SinkStats};
use rewire_transport::link::{LinkError, LinkErrorKind, Listener};

use crate::link::{Link, READ_TICK, error_chain as chain};
use crate::message::{Body, Codes, LinkState, Message, Seen, device};
use crate::stream::StreamDecoder;

/// One byte source of a tap.
pub struct Source {
    /// What to read.
    pub reader: Box<dyn Link>,
    /// Names the source in errors and is its messages' device.
    pub endpoint: String,
    /// Stamped on every message of this source (line, addresses).
    pub seen: Seen,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// How a tap decodes and when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapConfig {
    /// How to read functions the evidence does not name.
    pub codes: Codes,
    /// Stop after this many frames (skipped bytes do not count).
    pub count: Option<u64>,
}

struct State {
    fanout: Fanout<Message>,
    frames: u64,
    limit_reached: bool,
    error: Option<LinkError>,
    /// The module address the tap's line (one per tap) named last.
    pcu: Option<u8>,
}

/// Returns the module address `body` names, if it is a frame: the PC is
/// `00`, so the module is whichever of destination and source is not.
fn module_address(body: &Body) -> Option<u8> {
    let Body::Frame(f) = body else { return None };
    f.frame.check_len().ok()?;
    let addr = match f.frame.destination() {
        0 => f.frame.source(),
        dst => dst,
    };
    (addr != 0).then_some(addr)
}

/// Returns the device id of the PCU at `addr` on `line`: `LINE#ADDR`, or
/// `LINE` while no frame has named a module.
#[must_use]
pub fn pcu_device(line: &str, addr: Option<u8>) -> DeviceId {
    match addr {
        Some(a) => device(format!("{line}#{a}")),
        None => device(line),
    }
}

struct Shared {
    state: Mutex<State>,
    config: TapConfig,
    warnings: Warnings,
}

/// Warnings said at most every ten seconds, with a count of the others
/// (a flood of clients must not flood the log).
#[derive(Default)]
struct Warnings(Mutex<(Option<Instant>, u64)>);

impl Warnings {
    fn warn(&self, text: impl FnOnce() -> String) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, unsaid) = &mut *state;
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(10)) {
            *unsaid += 1;
            return;
        }
        match std::mem::take(unsaid) {
            0 => log::warn!("{}", text()),
            n => log::warn!("{} ({n} more warnings since the last)", text()),
        }
        *last = Some(Instant::now());
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes `messages` in order, counting frames; sets `stop` and drops
    /// the rest once the frame limit is reached.
    /// Publishes `messages` of `line` (after the line's `pending` message,
    /// if one waits), each named by the PCU the line's frames address.
    fn publish(
        &self,
        line: &str,
        messages: &mut Vec<Message>,
        pending: Option<&Mutex<Option<Message>>>,
        stop: &StopFlag,
    ) {
        if messages.is_empty() {
            return;
        }
        let mut state = self.lock();
        if let Some(first) =
            pending.and_then(|p| p.lock().unwrap_or_else(PoisonError::into_inner).take())
        {
            messages.insert(0, first);
        }
        if let Some(addr) = messages
            .iter()
            .filter_map(|m| module_address(&m.body))
            .last()
        {
            state.pcu = Some(addr);
        }
        let id = pcu_device(line, state.pcu);
        for message in messages.iter_mut() {
            message.device.clone_from(&id);
        }
        for message in messages.drain(..) {
            if state.limit_reached {
                break;
            }
            let frame = matches!(message.body, Body::Frame(_));
            state.fanout.publish(message);
            if frame {
                state.frames += 1;
                if self.config.count.is_some_and(|c| state.frames >= c) {
                    state.limit_reached = true;
                    stop.set();
                }
            }
        }
        messages.clear();
    }

    fn fail(&self, error: LinkError, stop: &StopFlag) {
        let mut state = self.lock();
        if state.error.is_none() {
            state.error = Some(error);
        }
        stop.set();
    }
}

/// A running tap or relay. [`Tap::shutdown`] stops it within a second and
/// closes its fan-out.
pub struct Tap {
    service: Service,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Tap {
    fn new(name: &str, config: TapConfig, fanout: Fanout<Message>) -> Self {
        Self {
            service: Service::new(name),
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    fanout,
                    frames: 0,
                    limit_reached: false,
                    error: None,
                    pcu: None,
                }),
                config,
                warnings: Warnings::default(),
            }),
        }
    }

    /// Taps `sources`, each on a thread of its own, until every source
    /// ended, one failed, the frame limit is reached, or
    /// [`Tap::shutdown`].
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn start(
        sources: Vec<Source>,
        config: TapConfig,
        fanout: Fanout<Message>,
    ) -> io::Result<Self> {
        let mut tap = Self::new("tap", config, fanout);
        // The sources of one tap hear one line (a port, or both wires of a
        // Y-cable): the first names it.
        let line = sources
            .first()
            .map(|s| s.endpoint.clone())
            .unwrap_or_default();
        for source in sources {
            let shared = Arc::clone(&tap.shared);
            let part = source.endpoint.clone();
            let line = line.clone();
            tap.service.spawn(&part, move |stop| {
                let endpoint = source.endpoint.clone();
                if let Some(error) = pump(source, None, &line, None, &shared, stop) {
                    shared.fail(
                        LinkError::with_source(LinkErrorKind::Read, endpoint, error),
                        stop,
                    );
                }
            })?;
        }
        Ok(tap)
    }

    /// Runs a TCP relay tap: accepts clients on `listener`, connects each to
    /// `upstream` (waiting at most `connect_timeout`), forwards both ways
    /// and publishes what both directions carry (each chunk before it is
    /// forwarded, so a request's frame always precedes its reply's). Runs
    /// until the frame limit is reached or [`Tap::shutdown`].
    ///
    /// When one side ends its sending (end of file), the relay ends only
    /// that direction towards the other side (`shutdown(Write)`): a client
    /// that sends a request and half-closes still gets the reply.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn relay(
        listener: Listener,
        upstream: String,
        connect_timeout: Duration,
        config: TapConfig,
        fanout: Fanout<Message>,
    ) -> io::Result<Self> {
        let mut tap = Self::new("relay", config, fanout);
        let shared = Arc::clone(&tap.shared);
        tap.service.spawn("accept", move |stop| {
            while !stop.is_set() {
                match listener.accept_timeout(Duration::from_millis(100)) {
                    Ok(Some(client)) => {
                        let (pair_shared, stop, upstream) =
                            (Arc::clone(&shared), stop.clone(), upstream.clone());
                        // Not joined: a connect in progress must not hold
                        // up shutdown; the pair ends within a read tick of
                        // the stop flag.
                        let spawned =
                            thread::Builder::new()
                                .name("relay/client".into())
                                .spawn(move || {
                                    match connect_pair(client, &upstream, connect_timeout) {
                                        Ok(pair) => run_pair(pair, &pair_shared, &stop),
                                        Err(e) => pair_shared
                                            .warnings
                                            .warn(|| format!("dropped a client: {}", chain(&e))),
                                    }
                                });
                        if let Err(e) = spawned {
                            shared
                                .warnings
                                .warn(|| format!("cannot serve a client: {e}"));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        // Out of descriptors, say: say so now and then,
                        // wait a little, accept again.
                        shared
                            .warnings
                            .warn(|| format!("cannot accept: {}", chain(&e)));
                        thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })?;
        Ok(tap)
    }

    /// Returns whether the tap has ended on its own (every source ended,
    /// one failed, or the frame limit was reached).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.service.is_finished() || self.service.stop_flag().is_set()
    }

    /// Returns the fan-out's counts (messages dropped per sink).
    #[must_use]
    pub fn stats(&self) -> Vec<SinkStats> {
        self.shared.lock().fanout.stats()
    }

    /// Returns a function that reads the fan-out's counts for as long as it
    /// lives (for a page's link health), independent of the handle.
    pub fn stats_reader(&self) -> impl Fn() -> Vec<SinkStats> + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.lock().fanout.stats()
    }

    /// Stops the tap, joins its threads, lets the sinks drain for up to a
    /// second and closes them.
    ///
    /// # Errors
    /// The read error that ended a source, if one did.
    pub fn shutdown(self) -> Result<(), LinkError> {
        self.service.shutdown();
        let mut state = self.shared.lock();
        state.fanout.close();
        state.error.take().map_or(Ok(()), Err)
    }
}

/// Reads `source` until it ends or `stop` is set, publishing what it
/// decodes; each chunk is decoded (and published) before it is forwarded
/// to `forward`. Returns the read or forward error that ended it.
fn pump(
    mut source: Source,
    mut forward: Option<TcpStream>,
    line: &str,
    pending: Option<&Mutex<Option<Message>>>,
    shared: &Shared,
    stop: &StopFlag,
) -> Option<io::Error> {
    let mut decoder = StreamDecoder::new(device(&source.endpoint), shared.config.codes);
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let stamp = |seen: &Seen| Seen {
        ts: Some(SystemTime::now()),
        ..seen.clone()
    };
    let error = loop {
        if stop.is_set() {
            break None;
        }
        match source.reader.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                decoder.push(chunk, &stamp(&source.seen), &mut out);
                shared.publish(line, &mut out, pending, stop);
                if let Some(peer) = forward.as_mut()
                    && let Err(e) = peer.write_all(chunk)
                {
                    break Some(io::Error::new(e.kind(), format!("cannot forward: {e}")));
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                decoder.idle(&stamp(&source.seen), &mut out);
                shared.publish(line, &mut out, pending, stop);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Some(e),
        }
    };
    decoder.finish(&stamp(&source.seen), &mut out);
    if let Some(peer) = forward {
        // End of file: pass it on as a half-close, so the other direction
        // still carries the reply. A failure ends both directions.
        let how = if error.is_some() {
            Shutdown::Both
        } else {
            Shutdown::Write
        };
        let _ = peer.shutdown(how);
    }
    out.push(Message {
        device: device(&source.endpoint),
        seen: stamp(&source.seen),
        body: Body::Link {
            endpoint: source.endpoint.clone(),
            state: error
                .as_ref()
                .map_or(LinkState::Down, |e| LinkState::Failed(e.to_string())),
        },
    });
    // The limit may have stopped the tap: what is left is still published.
    shared.publish(line, &mut out, pending, &StopFlag::new());
    error
}

/// A connected socket and its peer's address.
type Peer = (TcpStream, SocketAddr);

fn connect_pair(
    (client, peer): (TcpStream, SocketAddr),
    upstream: &str,
    connect_timeout: Duration,
) -> Result<(Peer, Peer), LinkError> {
    let addr = upstream
        .to_socket_addrs()
        .map_err(|e| LinkError::with_source(LinkErrorKind::Resolve, upstream, e))?
        .next()
        .ok_or_else(|| LinkError::new(LinkErrorKind::Resolve, upstream))?;
    let server = TcpStream::connect_timeout(&addr, connect_timeout)
        .map_err(|e| LinkError::with_source(LinkErrorKind::Connect, upstream, e))?;
    Ok(((client, peer), (server, addr)))
}

fn run_pair(
    ((client, client_addr), (server, server_addr)): (Peer, Peer),
    shared: &Shared,
    stop: &StopFlag,
) {
    let configure = |s: &TcpStream| {
        s.set_read_timeout(Some(READ_TICK))?;
        s.set_nodelay(true)?;
        s.try_clone()
    };
    let (client_reader, server_reader) = match (configure(&client), configure(&server)) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(e), _) | (_, Err(e)) => {
            shared
                .warnings
                .warn(|| format!("dropped client {client_addr}: {e}"));
            return;
        }
    };
    let (c, s) = (client_addr.to_string(), server_addr.to_string());
    let up = Message {
        device: device(&s),
        seen: Seen {
            ts: Some(SystemTime::now()),
            src_addr: Some(c.clone()),
            dst_addr: Some(s.clone()),
            ..Seen::default()
        },
        body: Body::Link {
            endpoint: c.clone(),
            state: LinkState::Up,
        },
    };
    // The link-up is published with the first frame of either direction,
    // which names the PCU it is the link of (or when the pair ends).
    let pending = Mutex::new(Some(up));
    let line = s.clone();
    let client_to_server = Source {
        reader: Box::new(client_reader),
        endpoint: c.clone(),
        seen: Seen {
            src_addr: Some(c.clone()),
            dst_addr: Some(s.clone()),
            ..Seen::default()
        },
    };
    let server_to_client = Source {
        reader: Box::new(server_reader),
        endpoint: s.clone(),
        seen: Seen {
            src_addr: Some(s),
            dst_addr: Some(c),
            ..Seen::default()
        },
    };
    thread::scope(|scope| {
        scope.spawn(|| {
            pump(
                client_to_server,
                Some(server),
                &line,
                Some(&pending),
                shared,
                stop,
            )
        });
        pump(
            server_to_client,
            Some(client),
            &line,
            Some(&pending),
            shared,
            stop,
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_relay_with_no_clients_shuts_down_within_a_second() {
        let listener = Listener::bind("127.0.0.1:0").unwrap();
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let tap = Tap::relay(
            listener,
            upstream.local_addr().unwrap().to_string(),
            Duration::from_secs(1),
            TapConfig::default(),
            Fanout::new(),
        )
        .unwrap();
        thread::sleep(Duration::from_millis(50));
        assert!(!tap.is_finished());
        let started = Instant::now();
        tap.shutdown().unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
