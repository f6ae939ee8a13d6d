//! `upsilon monitor`: beside UPSilon 2000 — reads RupsMon's status stream
//! (TCP 2570, reconnecting), receives heartbeats (UDP 11541), stands in as the
//! SMS gateway (TCP 8652) — and publishes everything through the outputs.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use rewire_host::output::{Format, Sink};
use rewire_transport::framing::{Event, Framer, Upsilon};
use rewire_transport::link::{
    Backoff, ConnectionEvent, Listener, TcpClient, TcpClientConfig, TcpRead, UdpReceiver,
};
use rewire_upsilon::{parse_heartbeat, parse_sms_alert, parse_status, sms};

use crate::hub::{Publisher, Shared};
use crate::metrics;
use crate::nut::{NutConfig, Server};
use crate::record::{Body, ErrorRecord, HeartbeatRecord, Record, SmsRecord, StatusRecord};
use crate::state::LinkChange;
use crate::webhook::{Webhook, WebhookConfig};

/// What a source thread hands the publisher.
#[derive(Debug)]
pub enum Msg {
    /// A decoded (or undecodable) message.
    Record(Record),
    /// A link went up or down.
    Link(LinkChange),
}

/// Where the event stream goes besides stdout.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Text lines or NDJSON on stdout.
    pub format: Format,
    /// NUT server address.
    pub nut: Option<SocketAddr>,
    /// NUT server settings.
    pub nut_config: NutConfig,
    /// Prometheus `/metrics` address.
    pub http: Option<SocketAddr>,
    /// Webhook settings.
    pub webhook: Option<WebhookConfig>,
}

/// Starts the configured servers (each on its own thread) and returns the
/// publisher for the stream. Bound addresses are announced on stderr
/// (`upsilon: nut listening on 127.0.0.1:PORT`).
///
/// # Errors
/// When a listener cannot be bound.
pub fn start_outputs(outputs: &Outputs, stop: &Arc<AtomicBool>) -> Result<Publisher<io::Stdout>> {
    let shared = Shared::default();
    if let Some(addr) = outputs.nut {
        let listener = Listener::bind(addr)?;
        eprintln!("upsilon: nut listening on {}", listener.local_addr());
        let server = Server::new(outputs.nut_config.clone(), shared.clone());
        let stop = Arc::clone(stop);
        thread::spawn(move || server.run(&listener, &stop));
    }
    let http = match outputs.http {
        Some(addr) => {
            let server = metrics::serve(addr, shared.clone())?;
            eprintln!("upsilon: metrics on http://{}/metrics", server.local_addr());
            Some(server)
        }
        None => None,
    };
    let webhook = outputs.webhook.clone().map(Webhook::start);
    Ok(Publisher::new(Sink::stdout(outputs.format, true), shared, webhook).serving(http))
}

/// Settings of `upsilon monitor`.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// RupsMon's status stream (TCP 2570).
    pub rupsmon: Option<String>,
    /// Where to receive heartbeats (UDP 11541).
    pub heartbeat: Option<SocketAddr>,
    /// Where to stand in as the SMS gateway (TCP 8652).
    pub sms_listen: Option<SocketAddr>,
    /// Reconnect backoff for the status stream.
    pub backoff: Backoff,
}

/// Runs the monitor until stdout closes or `stop` is set.
///
/// # Errors
/// When a listener cannot be bound, or stdout fails.
pub fn run(config: &MonitorConfig, outputs: &Outputs, stop: &Arc<AtomicBool>) -> Result<()> {
    let mut publisher = start_outputs(outputs, stop)?;
    let (tx, rx) = mpsc::channel();
    if let Some(target) = &config.rupsmon {
        let client = TcpClient::disconnected(
            target,
            TcpClientConfig {
                connect_timeout: Duration::from_secs(2),
                read_timeout: Duration::from_millis(200),
                backoff: config.backoff,
                max_reconnect_attempts: None,
            },
        );
        let (tx, stop) = (tx.clone(), Arc::clone(stop));
        thread::spawn(move || rupsmon_source(client, &tx, &stop));
    }
    if let Some(addr) = config.heartbeat {
        let rx = UdpReceiver::bind(addr, Duration::from_millis(200))?;
        eprintln!("upsilon: heartbeats on udp {}", rx.local_addr());
        let (tx, stop) = (tx.clone(), Arc::clone(stop));
        thread::spawn(move || heartbeat_source(rx, &tx, &stop));
    }
    if let Some(addr) = config.sms_listen {
        let listener = Listener::bind(addr)?;
        eprintln!("upsilon: sms gateway on {}", listener.local_addr());
        let (tx, stop) = (tx.clone(), Arc::clone(stop));
        thread::spawn(move || {
            let local = listener.local_addr();
            let _ = listener.serve(&stop, &|stream, peer| {
                sms_client(stream, peer, local, &tx, &stop);
            });
        });
    }
    drop(tx);
    pump(&rx, &mut publisher, stop)
}

/// Moves messages from the sources to the publisher until `stop` or until
/// every source is gone.
///
/// # Errors
/// When stdout fails.
pub fn pump<W: Write>(
    rx: &Receiver<Msg>,
    publisher: &mut Publisher<W>,
    stop: &AtomicBool,
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Msg::Record(r)) => publisher.publish(r)?,
            Ok(Msg::Link(l)) => publisher.link(l)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(())
}

/// Turns one framer event of a status stream into a record.
pub fn status_event(event: Event, ts: SystemTime) -> Record {
    match event {
        Event::Message(m) => match parse_status(&m.bytes) {
            Ok(s) => Record::bare(Body::Status(StatusRecord::from_status(&s))).at(ts),
            Err(e) => Record::bare(Body::Error(ErrorRecord::new(
                m.offset,
                m.bytes.len() as u64,
                e.to_string(),
                &m.bytes,
            )))
            .at(ts),
        },
        Event::Skipped(s) => Record::bare(Body::Error(ErrorRecord::new(
            s.offset,
            s.len,
            s.reason.to_string(),
            &s.head,
        )))
        .at(ts),
    }
}

fn rupsmon_source(mut client: TcpClient, tx: &Sender<Msg>, stop: &AtomicBool) {
    let mut framer = Framer::new(Upsilon::default());
    let mut buf = [0u8; 4096];
    let local = |c: &mut TcpClient| c.stream_mut().and_then(|s| s.local_addr().ok());
    let link = "rupsmon".to_owned();
    while !stop.load(Ordering::Relaxed) {
        let msg = match client.read(&mut buf) {
            Ok(TcpRead::Data(n)) => {
                let _ = framer.push(buf.get(..n).unwrap_or_default());
                let (peer, me) = (client.peer_addr(), local(&mut client));
                while let Some(ev) = framer.next() {
                    let r = status_event(ev, SystemTime::now()).between(peer, me);
                    if tx.send(Msg::Record(r)).is_err() {
                        return;
                    }
                }
                continue;
            }
            Ok(TcpRead::Idle) => {
                framer.idle();
                continue;
            }
            Ok(TcpRead::Event(ConnectionEvent::Connected { peer })) => LinkChange::Up {
                link: link.clone(),
                peer: Some(peer.to_string()),
                detail: None,
            },
            Ok(TcpRead::Event(ConnectionEvent::Restored {
                peer,
                attempts,
                downtime,
            })) => LinkChange::Up {
                link: link.clone(),
                peer: Some(peer.to_string()),
                detail: Some(format!(
                    "after {attempts} attempt(s), down {:.1} s",
                    downtime.as_secs_f64()
                )),
            },
            Ok(TcpRead::Event(ConnectionEvent::Lost { peer, cause })) => {
                framer.finish();
                while let Some(ev) = framer.next() {
                    let _ = tx.send(Msg::Record(status_event(ev, SystemTime::now())));
                }
                framer.clear();
                LinkChange::Down {
                    link: link.clone(),
                    peer: Some(peer.to_string()),
                    detail: Some(match cause {
                        Some(kind) => kind.to_string(),
                        None => "closed by peer".into(),
                    }),
                }
            }
            Ok(TcpRead::Event(ConnectionEvent::ReconnectFailed { error, .. })) => {
                LinkChange::Down {
                    link: link.clone(),
                    peer: Some(client.target().to_owned()),
                    detail: Some(error.to_string()),
                }
            }
            Ok(TcpRead::Event(_)) => continue,
            Err(_) => return,
        };
        if tx.send(Msg::Link(msg)).is_err() {
            return;
        }
    }
}

fn heartbeat_source(mut rx: UdpReceiver, tx: &Sender<Msg>, stop: &AtomicBool) {
    let local = rx.local_addr();
    while !stop.load(Ordering::Relaxed) {
        let Ok(Some(d)) = rx.recv() else { continue };
        let (record, change) = match parse_heartbeat(&d.bytes) {
            Ok(hb) => {
                let rec = HeartbeatRecord::new(hb, &d.bytes);
                let change = if rec.connected {
                    LinkChange::Up {
                        link: "heartbeat".into(),
                        peer: Some(d.peer.to_string()),
                        detail: rec.ups.map(|n| format!("UPS {n:03} connected")),
                    }
                } else {
                    LinkChange::Down {
                        link: "heartbeat".into(),
                        peer: Some(d.peer.to_string()),
                        detail: Some("UPSilon reports no UPS connected".into()),
                    }
                };
                (Record::bare(Body::Heartbeat(rec)), Some(change))
            }
            Err(e) => (
                Record::bare(Body::Error(ErrorRecord::new(
                    0,
                    d.bytes.len() as u64,
                    e.to_string(),
                    &d.bytes,
                ))),
                None,
            ),
        };
        let r = record.at(d.received).between(Some(d.peer), Some(local));
        if tx.send(Msg::Record(r)).is_err() {
            return;
        }
        // The heartbeat first, then what it means for the link.
        if let Some(change) = change
            && tx.send(Msg::Link(change)).is_err()
        {
            return;
        }
    }
}

const HTTP_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nOK\n";
const HTTP_BAD: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

fn sms_client(
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    tx: &Sender<Msg>,
    stop: &AtomicBool,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 2048];
    let mut offset = 0u64;
    let mut idle = 0u32;
    // Keep-alive connections are served until the client closes or stays
    // silent for 30 s.
    while !stop.load(Ordering::Relaxed) && idle < 150 {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                idle = 0;
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                idle += 1;
                continue;
            }
            Err(_) => break,
        }
        loop {
            match parse_sms_alert(&buf) {
                Ok(sms::Status::Complete(n, alert)) => {
                    let r = Record::now(Body::SmsAlert(SmsRecord::from_alert(&alert)))
                        .between(Some(peer), Some(local));
                    let _ = stream.write_all(HTTP_OK);
                    let _ = tx.send(Msg::Record(r));
                    buf.drain(..n);
                    offset += n as u64;
                }
                Ok(sms::Status::Partial) => break,
                Err(e) => {
                    let r = Record::now(Body::Error(ErrorRecord::new(
                        offset,
                        buf.len() as u64,
                        e.to_string(),
                        &buf,
                    )))
                    .between(Some(peer), Some(local));
                    let _ = tx.send(Msg::Record(r));
                    let _ = stream.write_all(HTTP_BAD);
                    return;
                }
            }
        }
    }
}
