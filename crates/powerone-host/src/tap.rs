//! The passive tap (`powerone listen`): print every frame on the line, in
//! both directions, in the order they arrive.
//!
//! How the tap sees both directions depends on the wiring:
//! - one stream that already carries both directions: a serial port on a
//!   shared line (RS-485, or a monitor port that echoes both wires), or a
//!   TCP connection to a serial server that forwards everything it hears;
//! - two serial ports, one on each wire of an RS-232 Y-cable (each port
//!   hears one direction; records name the port in `line`);
//! - a TCP relay: PowCom connects to the tap, the tap connects upstream to
//!   the PCU's serial server and forwards both ways, decoding each direction
//!   before forwarding it (records carry `src_addr`/`dst_addr`).
//!
//! Every source has its own [`StreamDecoder`], so bytes of two directions are
//! never mixed inside one frame; records from all sources meet in one channel
//! in arrival order.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

use rewire_transport::link::{LinkError, LinkErrorKind, Listener};

use crate::link::{Link, READ_TICK};
use crate::record::{Codes, Context, Record, now_seconds};
use crate::stream::StreamDecoder;

/// One byte source of a tap.
pub struct Source {
    /// What to read.
    pub reader: Box<dyn Link>,
    /// Names the source in errors.
    pub endpoint: String,
    /// Stamped on every record of this source (line, addresses).
    pub context: Context,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// What a tap's reader threads send to the printer.
#[derive(Debug)]
pub enum TapMessage {
    /// A decoded record.
    Record(Record),
    /// A source ended (end of file, or an error, as text).
    Ended {
        /// The source's endpoint.
        endpoint: String,
        /// Why, when it failed.
        error: Option<String>,
    },
}

/// Reads `source` until it ends or `stop` is set, decoding what it reads
/// and sending the records; each chunk is decoded (and its records sent)
/// before it is forwarded to `forward`, so a relayed request's record always
/// precedes its reply's.
pub fn pump(
    mut source: Source,
    mut forward: Option<TcpStream>,
    codes: Codes,
    stop: &AtomicBool,
    out: &Sender<TapMessage>,
) {
    let mut decoder = StreamDecoder::new(codes);
    let mut buf = [0u8; 4096];
    let stamp = |context: &Context| Context {
        ts: Some(now_seconds()),
        ..context.clone()
    };
    let error = loop {
        if stop.load(Ordering::Relaxed) {
            break None;
        }
        let records = match source.reader.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default();
                let records = decoder.push(chunk, &stamp(&source.context));
                let sent = send_all(out, records);
                if let Some(peer) = forward.as_mut()
                    && let Err(e) = peer.write_all(chunk)
                {
                    break Some(format!("cannot forward: {e}"));
                }
                if !sent {
                    break None;
                }
                continue;
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                decoder.idle(&stamp(&source.context))
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Some(e.to_string()),
        };
        if !send_all(out, records) {
            break None;
        }
    };
    let _ = send_all(out, decoder.finish(&stamp(&source.context)));
    if let Some(peer) = forward {
        let _ = peer.shutdown(Shutdown::Both);
    }
    let _ = out.send(TapMessage::Ended {
        endpoint: source.endpoint,
        error,
    });
}

fn send_all(out: &Sender<TapMessage>, records: Vec<Record>) -> bool {
    records
        .into_iter()
        .all(|r| out.send(TapMessage::Record(r)).is_ok())
}

/// Stops the tap: after `count` frame records, or when every source ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapLimits {
    /// Stop after this many frame records (error records do not count).
    pub count: Option<u64>,
}

/// Taps `sources` (each on its own thread) and hands every record to
/// `emit`, in arrival order, until every source ended or the limit is
/// reached.
///
/// # Errors
/// The first error `emit` returns; a source that fails with a read error
/// ends the tap with [`LinkErrorKind::Read`].
pub fn tap(
    sources: Vec<Source>,
    codes: Codes,
    limits: TapLimits,
    emit: &mut dyn FnMut(&Record) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    let live = sources.len();
    for source in sources {
        let (stop, tx) = (Arc::clone(&stop), tx.clone());
        handles.push(thread::spawn(move || pump(source, None, codes, &stop, &tx)));
    }
    drop(tx);
    let result = print(&rx, live, limits, emit);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    result
}

/// Prints records from `rx` until `live` sources ended or the limit.
fn print(
    rx: &Receiver<TapMessage>,
    mut live: usize,
    limits: TapLimits,
    emit: &mut dyn FnMut(&Record) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut frames = 0u64;
    while live > 0 {
        let message = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match message {
            TapMessage::Record(record) => {
                emit(&record)?;
                if matches!(record, Record::Frame(_)) {
                    frames += 1;
                    if limits.count.is_some_and(|c| frames >= c) {
                        return Ok(());
                    }
                }
            }
            TapMessage::Ended { endpoint, error } => {
                if let Some(error) = error {
                    return Err(LinkError::with_source(
                        LinkErrorKind::Read,
                        endpoint,
                        std::io::Error::other(error),
                    )
                    .into());
                }
                live -= 1;
            }
        }
    }
    Ok(())
}

/// Runs a TCP relay tap: accepts clients on `listener` one at a time,
/// connects each to `upstream`, forwards both ways and emits the records of
/// both directions (client → upstream first as they arrive). Returns after
/// the limit, or never.
///
/// # Errors
/// Accept failures, or `emit`'s errors. A client whose upstream cannot be
/// reached is dropped and reported on stderr by the caller's `on_drop`.
pub fn relay(
    listener: &Listener,
    upstream: &str,
    connect_timeout: Duration,
    codes: Codes,
    limits: TapLimits,
    emit: &mut dyn FnMut(&Record) -> std::io::Result<()>,
    on_drop: &dyn Fn(&LinkError),
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<TapMessage>();
    let mut frames = 0u64;
    loop {
        // Print while waiting for the next client, so records keep flowing.
        let client = loop {
            if let Some(c) = listener.accept_timeout(Duration::from_millis(50))? {
                break c;
            }
            while let Ok(m) = rx.try_recv() {
                if handle_relay_message(m, &mut frames, limits, emit)? {
                    stop.store(true, Ordering::Relaxed);
                    return Ok(());
                }
            }
        };
        match connect_pair(client, upstream, connect_timeout) {
            Ok((client, server)) => {
                spawn_pair(client, server, codes, &stop, &tx)?;
            }
            Err(e) => on_drop(&e),
        }
    }
}

fn handle_relay_message(
    message: TapMessage,
    frames: &mut u64,
    limits: TapLimits,
    emit: &mut dyn FnMut(&Record) -> std::io::Result<()>,
) -> anyhow::Result<bool> {
    if let TapMessage::Record(record) = message {
        emit(&record)?;
        if matches!(record, Record::Frame(_)) {
            *frames += 1;
            return Ok(limits.count.is_some_and(|c| *frames >= c));
        }
    }
    Ok(false)
}

/// A connected socket and its peer's address.
type Peer = (TcpStream, SocketAddr);

fn connect_pair(
    (client, peer): (TcpStream, SocketAddr),
    upstream: &str,
    connect_timeout: Duration,
) -> Result<(Peer, Peer), LinkError> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(upstream)
        .map_err(|e| LinkError::with_source(LinkErrorKind::Resolve, upstream, e))?
        .next()
        .ok_or_else(|| LinkError::new(LinkErrorKind::Resolve, upstream))?;
    let server = TcpStream::connect_timeout(&addr, connect_timeout)
        .map_err(|e| LinkError::with_source(LinkErrorKind::Connect, upstream, e))?;
    Ok(((client, peer), (server, addr)))
}

fn spawn_pair(
    (client, client_addr): Peer,
    (server, server_addr): Peer,
    codes: Codes,
    stop: &Arc<AtomicBool>,
    tx: &Sender<TapMessage>,
) -> Result<(), LinkError> {
    let configure = |s: &TcpStream, name: &SocketAddr| {
        s.set_read_timeout(Some(READ_TICK))
            .and_then(|()| s.set_nodelay(true))
            .map_err(|e| LinkError::with_source(LinkErrorKind::Configure, name.to_string(), e))
    };
    configure(&client, &client_addr)?;
    configure(&server, &server_addr)?;
    let clone = |s: &TcpStream, name: &SocketAddr| {
        s.try_clone()
            .map_err(|e| LinkError::with_source(LinkErrorKind::Configure, name.to_string(), e))
    };
    let client_to_server = Source {
        reader: Box::new(clone(&client, &client_addr)?),
        endpoint: client_addr.to_string(),
        context: Context {
            src_addr: Some(client_addr.to_string()),
            dst_addr: Some(server_addr.to_string()),
            ..Context::default()
        },
    };
    let server_to_client = Source {
        reader: Box::new(clone(&server, &server_addr)?),
        endpoint: server_addr.to_string(),
        context: Context {
            src_addr: Some(server_addr.to_string()),
            dst_addr: Some(client_addr.to_string()),
            ..Context::default()
        },
    };
    for (source, forward) in [(client_to_server, server), (server_to_client, client)] {
        let (stop, tx) = (Arc::clone(stop), tx.clone());
        thread::spawn(move || pump(source, Some(forward), codes, &stop, &tx));
    }
    Ok(())
}
