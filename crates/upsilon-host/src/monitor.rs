//! Beside UPSilon 2000: [`Monitor`] reads RupsMon's status stream (TCP 2570,
//! reconnecting), receives heartbeats (UDP 11541) and stands in as the SMS
//! gateway (TCP 8652), publishing everything to a [`Hub`]; [`Outputs`]
//! starts the servers any live mode offers (NUT, `/metrics`, a webhook).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use rewire_host::http::HttpServer;
use rewire_host::service::{Service, StopFlag};
use rewire_transport::framing::{Framer, Upsilon};
use rewire_transport::link::{
    Backoff, ConnectionEvent, Listener, TcpClient, TcpClientConfig, TcpRead, UdpReceiver,
};
use rewire_upsilon::{Heartbeat, parse_sms_alert, sms};

use crate::decode::{heartbeat, status_event};
use crate::hub::Hub;
use crate::message::{Body, Garbage, Message, Sms};
use crate::metrics;
use crate::nut::{Driver, NutConfig, NutServer, Server};
use crate::state::LinkChange;
use crate::webhook::{WebhookConfig, WebhookSink};

/// The servers a live mode may offer besides its record output.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// NUT server address.
    pub nut: Option<SocketAddr>,
    /// NUT server settings.
    pub nut_config: NutConfig,
    /// Prometheus `/metrics` address.
    pub http: Option<SocketAddr>,
    /// Webhook settings.
    pub webhook: Option<WebhookConfig>,
}

/// The running servers of [`Outputs::start`].
#[derive(Debug)]
pub struct Servers {
    nut: Option<NutServer>,
    http: Option<HttpServer>,
    webhook_stop: StopFlag,
}

impl Outputs {
    /// Starts the NUT and metrics servers over `hub`'s snapshot and adds the
    /// webhook sink to `hub`.
    ///
    /// # Errors
    /// When a server cannot bind its address.
    pub fn start(&self, hub: &Hub) -> Result<Servers> {
        self.start_with_driver(hub, None)
    }

    /// [`Outputs::start`], the NUT server handing `INSTCMD`s to `driver`
    /// (when this process drives the UPS itself).
    ///
    /// # Errors
    /// When a server cannot bind its address.
    pub fn start_with_driver(&self, hub: &Hub, driver: Option<Driver>) -> Result<Servers> {
        let nut = match self.nut {
            Some(addr) => {
                let mut server = Server::new(self.nut_config.clone(), hub.shared().clone());
                if let Some(driver) = driver {
                    server = server.with_driver(driver);
                }
                Some(NutServer::start_server(addr, server)?)
            }
            None => None,
        };
        let http = match self.http {
            Some(addr) => Some(metrics::serve(addr, hub.clone())?),
            None => None,
        };
        let webhook_stop = StopFlag::new();
        if let Some(config) = &self.webhook {
            let capacity = config.capacity.max(1);
            hub.add_sink(
                WebhookSink::new(config.clone(), webhook_stop.clone()),
                capacity,
            );
        }
        Ok(Servers {
            nut,
            http,
            webhook_stop,
        })
    }
}

impl Servers {
    /// Returns where the NUT server listens.
    #[must_use]
    pub fn nut_addr(&self) -> Option<SocketAddr> {
        self.nut.as_ref().map(NutServer::local_addr)
    }

    /// Returns where `/metrics` is served.
    #[must_use]
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpServer::local_addr)
    }

    /// Stops the servers and the webhook's retries (close the hub after, to
    /// finish its sinks).
    pub fn shutdown(self) {
        self.webhook_stop.set();
        if let Some(nut) = self.nut {
            nut.shutdown();
        }
        if let Some(http) = self.http {
            http.shutdown();
        }
    }
}

/// Settings of [`Monitor`].
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// RupsMon's status stream (TCP 2570), `HOST:PORT`.
    pub rupsmon: Option<String>,
    /// Where to receive heartbeats (UDP 11541).
    pub heartbeat: Option<SocketAddr>,
    /// Where to stand in as the SMS gateway (TCP 8652).
    pub sms_listen: Option<SocketAddr>,
    /// Reconnect backoff for the status stream.
    pub backoff: Backoff,
    /// SMS gateway clients served at once; more are closed on accept.
    pub max_clients: usize,
}

/// The running sources of a monitor; stopped by [`Monitor::shutdown`]
/// within a second.
#[derive(Debug)]
pub struct Monitor {
    service: Service,
    heartbeat: Option<SocketAddr>,
    sms: Option<SocketAddr>,
}

impl Monitor {
    /// Starts a thread per configured source, each publishing to `hub`.
    ///
    /// # Errors
    /// When a listener cannot be bound or a thread cannot start.
    pub fn start(config: &MonitorConfig, hub: &Hub) -> Result<Self> {
        let mut service = Service::new("monitor");
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
            let hub = hub.clone();
            service.spawn("rupsmon", move |stop| rupsmon_source(client, &hub, stop))?;
        }
        let mut heartbeat = None;
        if let Some(addr) = config.heartbeat {
            let rx = UdpReceiver::bind(addr, Duration::from_millis(200))?;
            heartbeat = Some(rx.local_addr());
            let hub = hub.clone();
            service.spawn("heartbeat", move |stop| heartbeat_source(rx, &hub, stop))?;
        }
        let mut sms = None;
        if let Some(addr) = config.sms_listen {
            let listener = Listener::bind(addr)?.with_max_connections(config.max_clients);
            let local = listener.local_addr();
            sms = Some(local);
            let hub = hub.clone();
            service.spawn("sms", move |stop| {
                let stop = stop.as_atomic();
                if let Err(e) = listener.serve(stop, &|stream, peer| {
                    sms_client(stream, peer, local, &hub, stop);
                }) {
                    log::error!("sms gateway {local}: {e}");
                }
            })?;
        }
        Ok(Monitor {
            service,
            heartbeat,
            sms,
        })
    }

    /// Returns where heartbeats are received.
    #[must_use]
    pub fn heartbeat_addr(&self) -> Option<SocketAddr> {
        self.heartbeat
    }

    /// Returns where the SMS gateway listens.
    #[must_use]
    pub fn sms_addr(&self) -> Option<SocketAddr> {
        self.sms
    }

    /// Returns whether every source has ended.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.service.is_finished()
    }

    /// Stops the sources and joins their threads.
    pub fn shutdown(self) {
        self.service.shutdown();
    }
}

/// Says that a link that never came up still cannot connect: the first
/// failure, then at most every 30 s.
struct CannotConnect {
    last: Option<Instant>,
    failures: u64,
}

impl CannotConnect {
    fn failed(&mut self, target: &str, error: &dyn std::fmt::Display) {
        self.failures += 1;
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(30))
        {
            log::warn!(
                "rupsmon {target}: cannot connect ({error}); {} attempt(s) so far, retrying",
                self.failures
            );
            self.last = Some(Instant::now());
        }
    }
}

fn rupsmon_source(mut client: TcpClient, hub: &Hub, stop: &StopFlag) {
    let mut framer = Framer::new(Upsilon::default());
    let mut buf = [0u8; 4096];
    let local = |c: &mut TcpClient| c.stream_mut().and_then(|s| s.local_addr().ok());
    let link = "rupsmon".to_owned();
    let mut ever_up = false;
    let mut cannot = CannotConnect {
        last: None,
        failures: 0,
    };
    while !stop.is_set() {
        let change = match client.read(&mut buf) {
            Ok(TcpRead::Data(n)) => {
                let _ = framer.push(buf.get(..n).unwrap_or_default());
                let (peer, me) = (client.peer_addr(), local(&mut client));
                while let Some(ev) = framer.next() {
                    hub.publish(
                        Message::new(hub.device(), status_event(ev))
                            .at(SystemTime::now())
                            .between(peer, me),
                    );
                }
                continue;
            }
            Ok(TcpRead::Idle) => {
                framer.idle();
                continue;
            }
            Ok(TcpRead::Event(ConnectionEvent::Connected { peer })) => {
                ever_up = true;
                log::info!("rupsmon: connected to {peer}");
                LinkChange::Up {
                    link: link.clone(),
                    peer: Some(peer.to_string()),
                    detail: None,
                }
            }
            Ok(TcpRead::Event(ConnectionEvent::Restored {
                peer,
                attempts,
                downtime,
            })) => LinkChange::Up {
                link: link.clone(),
                peer: Some(peer.to_string()),
                detail: Some(format!(
                    "after {attempts} attempt{}, down {:.1} s",
                    if attempts == 1 { "" } else { "s" },
                    downtime.as_secs_f64()
                )),
            },
            Ok(TcpRead::Event(ConnectionEvent::Lost { peer, cause })) => {
                framer.finish();
                while let Some(ev) = framer.next() {
                    hub.publish(Message::new(hub.device(), status_event(ev)).at(SystemTime::now()));
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
                if !ever_up {
                    cannot.failed(client.target(), &error);
                }
                LinkChange::Down {
                    link: link.clone(),
                    peer: Some(client.target().to_owned()),
                    detail: Some(error.to_string()),
                }
            }
            Ok(TcpRead::Event(_)) => continue,
            Err(e) => {
                log::error!("rupsmon: {e}");
                return;
            }
        };
        hub.link(change);
    }
}

fn heartbeat_source(mut rx: UdpReceiver, hub: &Hub, stop: &StopFlag) {
    let local = rx.local_addr();
    while !stop.is_set() {
        let Ok(Some(d)) = rx.recv() else { continue };
        let body = heartbeat(&d.bytes);
        let change = match &body {
            Body::Heartbeat {
                heartbeat: Heartbeat::Connected { ups },
                ..
            } => Some(LinkChange::Up {
                link: "heartbeat".into(),
                peer: Some(d.peer.to_string()),
                detail: Some(format!("UPS {ups:03} connected")),
            }),
            Body::Heartbeat { .. } => Some(LinkChange::Down {
                link: "heartbeat".into(),
                peer: Some(d.peer.to_string()),
                detail: Some("UPSilon reports no UPS connected".into()),
            }),
            _ => None,
        };
        hub.publish(
            Message::new(hub.device(), body)
                .at(d.received)
                .between(Some(d.peer), Some(local)),
        );
        // The heartbeat first, then what it means for the link.
        if let Some(change) = change {
            hub.link(change);
        }
    }
}

const HTTP_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nOK\n";
const HTTP_BAD: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
/// The largest request kept while waiting for its end.
pub const MAX_REQUEST: usize = 16 * 1024;

/// What the SMS gateway does with the bytes a client has sent so far.
#[derive(Debug, Clone, PartialEq)]
pub enum SmsStep {
    /// A complete alert request of `consumed` bytes: answer `200 OK`, drop
    /// those bytes, look again.
    Alert {
        /// Bytes the request took.
        consumed: usize,
        /// What it says.
        sms: Sms,
    },
    /// No complete request yet: read more.
    NeedMore,
    /// Not an alert request, or one longer than [`MAX_REQUEST`]: answer
    /// `400` and close.
    Reject(Garbage),
}

/// Decides what the SMS gateway does with `buf`, the unanswered bytes of a
/// connection (starting at stream `offset`). Pure, bounded by [`MAX_REQUEST`].
#[must_use]
pub fn sms_step(buf: &[u8], offset: u64) -> SmsStep {
    match parse_sms_alert(buf) {
        Ok(sms::Parsed::Complete(n, alert)) if n > 0 => SmsStep::Alert {
            consumed: n.min(buf.len()),
            sms: Sms::from_alert(&alert),
        },
        Ok(sms::Parsed::Complete(..)) => {
            SmsStep::Reject(Garbage::new(offset, 0, "empty SMS request", buf))
        }
        Ok(sms::Parsed::Partial) if buf.len() <= MAX_REQUEST => SmsStep::NeedMore,
        Ok(sms::Parsed::Partial) => SmsStep::Reject(Garbage::new(
            offset,
            buf.len() as u64,
            "SMS request too long",
            buf,
        )),
        Err(e) => SmsStep::Reject(Garbage::new(offset, buf.len() as u64, e.to_string(), buf)),
    }
}

fn sms_client(
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    hub: &Hub,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering;
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 2048];
    let mut offset = 0u64;
    let mut idle = 0u32;
    let publish = |body| {
        hub.publish(
            Message::new(hub.device(), body)
                .at(SystemTime::now())
                .between(Some(peer), Some(local)),
        );
    };
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
            match sms_step(&buf, offset) {
                SmsStep::Alert { consumed, sms } => {
                    if stream.write_all(HTTP_OK).is_err() {
                        return;
                    }
                    publish(Body::SmsAlert(sms));
                    buf.drain(..consumed);
                    offset += consumed as u64;
                }
                SmsStep::NeedMore => break,
                SmsStep::Reject(garbage) => {
                    publish(Body::Error(garbage));
                    let _ = stream.write_all(HTTP_BAD);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Rupsmon, RupsmonConfig, Script};
    use std::io::{BufRead, BufReader};

    fn backoff() -> Backoff {
        Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            jitter: 0.0,
        }
    }

    #[test]
    fn the_monitor_and_its_servers_shut_down_within_a_second() {
        let sim = Rupsmon::start(&RupsmonConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            interval: Duration::from_millis(20),
            script: Script::Steady,
            count: None,
        })
        .unwrap();
        let hub = Hub::new("ups");
        let outputs = Outputs {
            nut: Some("127.0.0.1:0".parse().unwrap()),
            nut_config: NutConfig::new("ups", "test", Duration::from_secs(5)),
            http: Some("127.0.0.1:0".parse().unwrap()),
            webhook: None,
        };
        let servers = outputs.start(&hub).unwrap();
        let monitor = Monitor::start(
            &MonitorConfig {
                rupsmon: Some(sim.local_addr().to_string()),
                heartbeat: Some("127.0.0.1:0".parse().unwrap()),
                sms_listen: Some("127.0.0.1:0".parse().unwrap()),
                backoff: backoff(),
                max_clients: 64,
            },
            &hub,
        )
        .unwrap();
        // NUT answers once a status has arrived.
        let deadline = Instant::now() + Duration::from_secs(10);
        let answer = loop {
            let mut c = TcpStream::connect(servers.nut_addr().unwrap()).unwrap();
            c.write_all(b"GET VAR ups ups.load\n").unwrap();
            let mut line = String::new();
            BufReader::new(c).read_line(&mut line).unwrap();
            if line.starts_with("VAR") || Instant::now() > deadline {
                break line;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(answer, "VAR ups ups.load \"7\"\n");
        let started = Instant::now();
        monitor.shutdown();
        servers.shutdown();
        hub.close();
        sim.shutdown();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_link_that_never_came_up_is_not_reported_lost() {
        let hub = Hub::new("ups");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Kinds(std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>);
        impl rewire_host::sink::Sink<Message> for Kinds {
            fn name(&self) -> &str {
                "kinds"
            }
            fn observe(&mut self, m: &Message) {
                self.0.lock().unwrap().push(m.body.kind());
            }
        }
        hub.add_sink(Kinds(std::sync::Arc::clone(&seen)), 64);
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let monitor = Monitor::start(
            &MonitorConfig {
                rupsmon: Some(format!("127.0.0.1:{port}")),
                heartbeat: None,
                sms_listen: None,
                backoff: backoff(),
                max_clients: 64,
            },
            &hub,
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(600));
        monitor.shutdown();
        hub.close();
        assert!(
            seen.lock().unwrap().is_empty(),
            "{:?}",
            seen.lock().unwrap()
        );
        assert_eq!(hub.shared().lock().links.get("rupsmon"), Some(&false));
    }
}
