//! MQTT output of rewire's readings, with Home Assistant discovery.
//!
//! [`MqttSink`] is one more [`Sink`]: generic over any message that
//! implements [`Observation`], so every live mode of every device feeds it
//! the same way. For each device it publishes
//!
//! ```text
//! BASE/DEVICE/state         retained  JSON object of the current readings,
//!                                     on change and at least every interval
//! BASE/DEVICE/event         QoS 1     one JSON object per event, in order
//! BASE/DEVICE/availability  retained  online | offline (last will, link lost,
//!                                     clean stop)
//! PREFIX/COMPONENT/DEVICE/KEY/config  retained Home Assistant discovery
//! ```
//!
//! Commands never travel over MQTT: the sink subscribes to nothing but
//! Home Assistant's birth topic (`PREFIX/status`), and an `online` there
//! makes it publish discovery again.
//!
//! # Bounded, and never in the device's way
//!
//! Events wait in an outbox of [`Config::queue`] entries while the broker is
//! unreachable; a full outbox drops the newest event and counts it. The count
//! is in [`MqttHandle::stats`], in each device's state object
//! (`mqtt_events_dropped`) and, once the broker is back, in an
//! `events_dropped` event. State is not queued: the latest readings are
//! published once the broker is back. On every (re)connection the sink
//! republishes availability, state and discovery.
//!
//! The network runs on two threads of its own (the client's event loop and
//! a publisher), so [`Sink::observe`] only updates memory.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod discovery;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rewire_host::reading::{DeviceId, Observation, Priority, Reading, Value};
use rewire_host::sink::Sink;
use rumqttc::{
    Client, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS,
    Transport,
};
use serde_json::{Map, Value as Json, json};

use crate::discovery::{DeviceInfo, Entity};

/// Where the broker is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// Host name or address.
    pub host: String,
    /// TCP port (1883 for `mqtt://`, 8883 for `mqtts://` by default).
    pub port: u16,
    /// TLS, or `None` for plain TCP.
    pub tls: Option<Tls>,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password (read from a file or the environment, never a flag).
    pub password: Option<String>,
}

/// Which certificates a TLS connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// The system's root certificates.
    SystemRoots,
    /// The certificates of this PEM file.
    CaFile(PathBuf),
}

/// Everything the MQTT output needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The broker.
    pub broker: Broker,
    /// First topic level (`rewire`).
    pub base_topic: String,
    /// Home Assistant's discovery prefix (`homeassistant`), or `None` for no
    /// discovery.
    pub discovery_prefix: Option<String>,
    /// State is published on change and at least this often.
    pub interval: Duration,
    /// The device id in topics; when `None` it is derived from each
    /// message's device (`FAMILY-NAME`).
    pub device_id: Option<String>,
    /// A stable name of this rewire instance (`upsilon-monitor`): its
    /// availability topic carries the last will when no device id is set.
    pub node: String,
    /// Events kept while the broker is unreachable.
    pub queue: usize,
    /// How long the first connection may take before start-up fails.
    pub connect_timeout: Duration,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
}

impl Config {
    /// Makes a config with the defaults: base topic `rewire`, discovery
    /// under `homeassistant`, state at least every 60 s, 1000 queued
    /// events, a 10 s start-up connection limit and a 30 s keep-alive.
    #[must_use]
    pub fn new(broker: Broker, node: impl Into<String>) -> Self {
        Self {
            broker,
            base_topic: "rewire".to_owned(),
            discovery_prefix: Some("homeassistant".to_owned()),
            interval: Duration::from_secs(60),
            device_id: None,
            node: node.into(),
            queue: 1000,
            connect_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(30),
        }
    }

    /// Returns the topic the broker's last will sets to `offline`.
    #[must_use]
    pub fn will_topic(&self) -> String {
        let id = self.device_id.as_deref().unwrap_or(&self.node);
        format!("{}/{}/availability", self.base_topic, discovery::slug(id))
    }
}

/// Why the MQTT output could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Returned when the broker refuses the connection (a wrong user name
    /// or password, a client id it does not accept).
    Refused {
        /// `host:port`.
        broker: String,
        /// What the broker said.
        reason: String,
    },
    /// Returned when TLS fails (an untrusted certificate, a wrong host name).
    Tls {
        /// `host:port`.
        broker: String,
        /// Why.
        reason: String,
    },
    /// Returned when the CA file cannot be read or holds no certificate.
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Returned when the broker cannot be reached in time.
    Unreachable {
        /// `host:port`.
        broker: String,
        /// Why.
        reason: String,
    },
    /// Returned when a thread cannot be started.
    Thread(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { broker, reason } => {
                write!(
                    f,
                    "the MQTT broker {broker} refused the connection: {reason}"
                )
            }
            Self::Tls { broker, reason } => {
                write!(f, "TLS with the MQTT broker {broker} failed: {reason}")
            }
            Self::CaFile { path, reason } => {
                write!(
                    f,
                    "cannot use the MQTT CA file {}: {reason}",
                    path.display()
                )
            }
            Self::Unreachable { broker, reason } => {
                write!(f, "cannot reach the MQTT broker {broker}: {reason}")
            }
            Self::Thread(e) => write!(f, "cannot start the MQTT output: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Thread(e) => Some(e),
            _ => None,
        }
    }
}

/// What the MQTT output has counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Events dropped because the outbox was full.
    pub dropped: u64,
    /// Events waiting in the outbox now.
    pub queued: u64,
    /// Whether the broker connection is up.
    pub connected: bool,
    /// Messages handed to the broker whose acknowledgement has not come
    /// back yet (resent after a reconnection: QoS 1 is at least once).
    pub unacked: u64,
}

/// A handle on a running MQTT output, for metrics.
#[derive(Clone)]
pub struct MqttHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for MqttHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttHandle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl MqttHandle {
    /// Returns the counts now.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let inner = self.shared.lock();
        Stats {
            dropped: inner.dropped,
            queued: inner.outbox.len() as u64,
            connected: inner.connected,
            unacked: inner.unacked,
        }
    }

    /// Returns the counts as readings (`mqtt_events_dropped`, a counter;
    /// `mqtt_connected`, a state), for `/metrics`.
    #[must_use]
    pub fn readings(&self) -> Vec<Reading> {
        let stats = self.stats();
        let now = SystemTime::now();
        vec![
            Reading::counter(
                "mqtt_events_dropped",
                "Events the MQTT output dropped because its outbox was full",
                stats.dropped,
                now,
            ),
            Reading::state(
                "mqtt_connected",
                "Whether the MQTT broker connection is up",
                Value::Bool(stats.connected),
                now,
            ),
        ]
    }
}

/// One device as the publisher sees it.
struct Device {
    info: DeviceInfo,
    state: Map<String, Json>,
    entities: BTreeMap<String, Entity>,
    undiscovered: Vec<String>,
    state_dirty: bool,
    last_state: Option<Instant>,
    online: bool,
    availability_dirty: bool,
    dropped_unreported: u64,
}

struct Outgoing {
    topic: String,
    payload: Vec<u8>,
}

struct Inner {
    devices: BTreeMap<String, Device>,
    outbox: VecDeque<Outgoing>,
    dropped: u64,
    connected: bool,
    unacked: u64,
    /// Set on each connection and on Home Assistant's `online`.
    republish: bool,
    rediscover: bool,
    closing: bool,
    /// Set by `finish` once the last messages are handed over.
    stop_publisher: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The MQTT output: a [`Sink`] for any [`Observation`].
pub struct MqttSink {
    config: Arc<Config>,
    shared: Arc<Shared>,
    client: Client,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    scratch: Vec<Reading>,
}

impl fmt::Debug for MqttSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSink")
            .field("broker", &self.config.broker.host)
            .finish_non_exhaustive()
    }
}

/// Event names that say a device's link went down or came back. A
/// WebSentry session ending is not one: units reconnect for every session.
const LINK_LOST: &[&str] = &[
    "connection_lost",
    "link_down",
    "link_failed",
    "upstream_failed",
];
const LINK_UP: &[&str] = &["connection_restored", "link_up", "session_opened"];

/// Whether this build can speak TLS: the `tls` feature, on a target ring
/// builds for (not the Windows 7 one).
pub const TLS_AVAILABLE: bool = cfg!(all(feature = "tls", not(target_vendor = "win7")));

#[cfg(not(all(feature = "tls", not(target_vendor = "win7"))))]
fn tls_transport(_: &Tls) -> Result<Transport, Error> {
    Err(Error::Tls {
        broker: String::new(),
        reason: "this build has no TLS (built without the `tls` feature, or for Windows 7); \
                 use plain mqtt:// on loopback or a TLS-capable build"
            .to_owned(),
    })
}

#[cfg(all(feature = "tls", not(target_vendor = "win7")))]
fn tls_transport(tls: &Tls) -> Result<Transport, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match tls {
        Tls::SystemRoots => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
        }
        Tls::CaFile(path) => {
            let err = |reason: String| Error::CaFile {
                path: path.clone(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| err(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(e.to_string()))?;
            if certs.is_empty() {
                return Err(err("no PEM certificate in it".to_owned()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| err(e.to_string()))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls {
            broker: String::new(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Transport::Tls(rumqttc::TlsConfiguration::Rustls(Arc::new(
        config,
    ))))
}

/// How a connection failed: refused, TLS, or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Refused,
    // A client built without TLS (the Windows 7 target) never fails there.
    #[cfg_attr(target_vendor = "win7", allow(dead_code))]
    Tls,
    Other,
}

fn describe(e: &ConnectionError) -> (Failure, String) {
    match e {
        ConnectionError::ConnectionRefused(code) => (
            Failure::Refused,
            match code {
                ConnectReturnCode::BadUserNamePassword => "wrong user name or password".to_owned(),
                ConnectReturnCode::NotAuthorized => {
                    "not authorized (a wrong user name or password?)".to_owned()
                }
                other => format!("{other:?}"),
            },
        ),
        #[cfg(not(target_vendor = "win7"))]
        ConnectionError::Tls(e) => (Failure::Tls, e.to_string()),
        other => (Failure::Other, other.to_string()),
    }
}

impl MqttSink {
    /// Connects to the broker and starts the output. Returns once the
    /// broker accepted the first connection.
    ///
    /// # Errors
    /// When the broker refuses the connection (wrong password), TLS fails,
    /// the CA file is unusable, or the broker cannot be reached within
    /// [`Config::connect_timeout`].
    pub fn start(config: Config) -> Result<Self, Error> {
        let config = Arc::new(config);
        let broker = format!("{}:{}", config.broker.host, config.broker.port);
        let client_id = format!(
            "rewire-{}-{}",
            discovery::slug(config.device_id.as_deref().unwrap_or(&config.node)),
            std::process::id()
        );
        let mut options = MqttOptions::new(client_id, &config.broker.host, config.broker.port);
        options.set_keep_alive(config.keep_alive.max(Duration::from_secs(5)));
        options.set_clean_session(true);
        options.set_max_packet_size(256 * 1024, 256 * 1024);
        options.set_last_will(LastWill::new(
            config.will_topic(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
        if let Some(user) = &config.broker.username {
            options.set_credentials(user, config.broker.password.as_deref().unwrap_or(""));
        }
        let tls = config.broker.tls.is_some();
        if let Some(t) = &config.broker.tls {
            let transport = tls_transport(t).map_err(|e| match e {
                Error::Tls { reason, .. } => Error::Tls {
                    broker: broker.clone(),
                    reason,
                },
                e => e,
            })?;
            options.set_transport(transport);
        }
        let (client, connection) = Client::new(options, 64);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                devices: BTreeMap::new(),
                outbox: VecDeque::new(),
                dropped: 0,
                connected: false,
                unacked: 0,
                republish: true,
                rediscover: true,
                closing: false,
                stop_publisher: false,
            }),
            wake: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (first_tx, first_rx) = mpsc::channel();
        let net = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            let client = client.clone();
            let config = Arc::clone(&config);
            let broker = broker.clone();
            std::thread::Builder::new()
                .name("mqtt network".to_owned())
                .spawn(move || {
                    network(
                        connection, &client, &config, &broker, &shared, &stop, first_tx,
                    );
                })
                .map_err(Error::Thread)?
        };
        let outcome = first_rx
            .recv_timeout(config.connect_timeout)
            .unwrap_or_else(|_| Err((Failure::Other, "no answer in time".to_owned())));
        if let Err((failure, reason)) = outcome {
            stop.store(true, Ordering::Relaxed);
            let _ = client.try_disconnect();
            drop(net);
            let tls_failed = tls && reason.to_ascii_lowercase().contains("certificate");
            return Err(match failure {
                Failure::Refused => Error::Refused { broker, reason },
                Failure::Tls => Error::Tls { broker, reason },
                Failure::Other if tls_failed => Error::Tls { broker, reason },
                Failure::Other => Error::Unreachable { broker, reason },
            });
        }
        let publisher = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            let client = client.clone();
            let config = Arc::clone(&config);
            std::thread::Builder::new()
                .name("mqtt publisher".to_owned())
                .spawn(move || publisher(&client, &config, &shared, &stop))
                .map_err(Error::Thread)?
        };
        Ok(Self {
            config,
            shared,
            client,
            stop,
            threads: vec![net, publisher],
            scratch: Vec::new(),
        })
    }

    /// Returns a handle for the counts.
    #[must_use]
    pub fn handle(&self) -> MqttHandle {
        MqttHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    fn device_key(&self, id: &DeviceId) -> String {
        match &self.config.device_id {
            Some(id) => discovery::slug(id),
            None => discovery::slug(&format!("{}-{}", id.family, id.name)),
        }
    }

    fn new_device(&self, key: &str, id: &DeviceId) -> Device {
        let base = &self.config.base_topic;
        let own = format!("{base}/{key}/availability");
        let will = self.config.will_topic();
        let mut availability = vec![own.clone()];
        if will != own {
            availability.push(will);
        }
        let (manufacturer, kind) = match id.family {
            "upsilon" => ("Megatec (UPSilon 2000)", "UPS"),
            "websentry" => ("WebSentry", "Dehumidifier"),
            "powerone" => ("Power-One", "Power control unit"),
            other => (other, "device"),
        };
        Device {
            info: DeviceInfo {
                id: key.to_owned(),
                name: format!("{kind} {}", id.name),
                manufacturer: manufacturer.to_owned(),
                model: kind.to_owned(),
                sw_version: None,
                state_topic: format!("{base}/{key}/state"),
                availability,
            },
            state: Map::new(),
            entities: BTreeMap::new(),
            undiscovered: Vec::new(),
            state_dirty: true,
            last_state: None,
            online: true,
            availability_dirty: true,
            dropped_unreported: 0,
        }
    }
}

fn add_entity(device: &mut Device, entity: Entity) {
    if !device.entities.contains_key(&entity.key) {
        device.undiscovered.push(entity.key.clone());
        device.entities.insert(entity.key.clone(), entity);
    }
}

fn own_entities(device: &mut Device) {
    add_entity(
        device,
        Entity {
            key: "link".into(),
            name: "Link".into(),
            component: discovery::Component::BinarySensor,
            device_class: Some("connectivity"),
            state_class: None,
            unit: None,
            inverted: false,
            diagnostic: true,
        },
    );
    add_entity(
        device,
        Entity {
            key: "mqtt_events_dropped".into(),
            name: "MQTT events dropped".into(),
            component: discovery::Component::Sensor,
            device_class: None,
            state_class: Some("total_increasing"),
            unit: None,
            inverted: false,
            diagnostic: true,
        },
    );
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Error => "error",
        Priority::Routine => "routine",
        Priority::Alert => "alert",
    }
}

impl<M: Observation> Sink<M> for MqttSink {
    fn name(&self) -> &str {
        "mqtt"
    }

    /// The outbox's drops while the broker is away count as this output's.
    fn inner_drops(&self) -> Option<rewire_host::sink::InnerDrops> {
        let shared = Arc::clone(&self.shared);
        Some(Box::new(move || shared.lock().dropped))
    }

    fn observe(&mut self, message: &M) {
        let id = message.device();
        let key = self.device_key(id);
        self.scratch.clear();
        message.readings(&mut self.scratch);
        let event = message.event();
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if !inner.devices.contains_key(&key) {
            let mut d = self.new_device(&key, id);
            own_entities(&mut d);
            d.state.insert("link".into(), Json::Bool(true));
            d.state.insert("mqtt_events_dropped".into(), json!(0));
            inner.devices.insert(key.clone(), d);
        }
        let Some(device) = inner.devices.get_mut(&key) else {
            return;
        };
        for reading in &self.scratch {
            let entity = discovery::entity_of(reading);
            let value = discovery::json_value(reading);
            if let Json::String(text) = &value {
                match reading.name.as_ref() {
                    "model" => device.info.model.clone_from(text),
                    n if n == "version" || n.contains("firmware") => {
                        device.info.sw_version = Some(text.clone());
                    }
                    _ => {}
                }
            }
            if device.state.get(&entity.key) != Some(&value) {
                device.state.insert(entity.key.clone(), value);
                device.state_dirty = true;
            }
            add_entity(device, entity);
        }
        if !self.scratch.is_empty() && !device.online {
            device.online = true;
            device.availability_dirty = true;
            device.state.insert("link".into(), Json::Bool(true));
            device.state_dirty = true;
        }
        if let Some(event) = event {
            let lost = LINK_LOST.contains(&event.name.as_ref());
            let up = LINK_UP.contains(&event.name.as_ref());
            if lost || up {
                device.online = up;
                device.availability_dirty = true;
                device.state.insert("link".into(), Json::Bool(up));
                device.state_dirty = true;
            }
            let payload = json!({
                "event": event.name,
                "priority": priority_name(event.priority),
                "text": event.text,
                "ts": rewire_host::epoch_seconds(event.ts),
            });
            if inner.outbox.len() >= self.config.queue.max(1) {
                inner.dropped += 1;
                device.dropped_unreported += 1;
                device
                    .state
                    .insert("mqtt_events_dropped".into(), json!(inner.dropped));
                device.state_dirty = true;
            } else {
                inner.outbox.push_back(Outgoing {
                    topic: format!("{}/{key}/event", self.config.base_topic),
                    payload: payload.to_string().into_bytes(),
                });
            }
        }
        self.shared.wake.notify_one();
    }

    /// Says `offline` for every device and the last-will topic, hands over
    /// the last events (for up to half a second) and disconnects.
    fn finish(&mut self) {
        {
            let mut inner = self.shared.lock();
            inner.closing = true;
            for device in inner.devices.values_mut() {
                device.online = false;
                device.availability_dirty = true;
            }
        }
        self.shared.wake.notify_all();
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            let inner = self.shared.lock();
            let handed_over =
                inner.outbox.is_empty() && inner.devices.values().all(|d| !d.availability_dirty);
            if handed_over || !inner.connected || Instant::now() >= deadline {
                break;
            }
            drop(inner);
            std::thread::sleep(Duration::from_millis(10));
        }
        {
            let mut inner = self.shared.lock();
            inner.stop_publisher = true;
            if inner.connected {
                let _ = self.client.try_publish(
                    self.config.will_topic(),
                    QoS::AtLeastOnce,
                    true,
                    "offline",
                );
            }
        }
        self.shared.wake.notify_all();
        let _ = self.client.try_disconnect();
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
    }
}

type First = mpsc::Sender<Result<(), (Failure, String)>>;

/// Drives the client's event loop: tracks the connection, resubscribes,
/// asks for republishing, and retries every second when the broker is gone.
fn network(
    mut connection: rumqttc::Connection,
    client: &Client,
    config: &Config,
    broker: &str,
    shared: &Shared,
    stop: &AtomicBool,
    first: First,
) {
    let mut first = Some(first);
    let mut failing = false;
    // The reason last said at warning level: a new reason (the broker came
    // back but now refuses the password, say) is said again.
    let mut said: Option<String> = None;
    let status_topic = config
        .discovery_prefix
        .as_ref()
        .map(|p| format!("{p}/status"));
    for notification in connection.iter() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match notification {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Some(topic) = &status_topic {
                    let _ = client.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                }
                {
                    let mut inner = shared.lock();
                    inner.connected = true;
                    inner.republish = true;
                    inner.rediscover = true;
                }
                shared.wake.notify_all();
                if let Some(tx) = first.take() {
                    let _ = tx.send(Ok(()));
                }
                if failing {
                    log::info!("MQTT broker {broker} reached again");
                }
                failing = false;
                said = None;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if status_topic.as_deref() == Some(p.topic.as_str())
                    && p.payload.as_ref() == b"online"
                {
                    log::info!("Home Assistant is online: publishing discovery again");
                    shared.lock().rediscover = true;
                    shared.wake.notify_all();
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Publish(_))) => shared.lock().unacked += 1,
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                let mut inner = shared.lock();
                inner.unacked = inner.unacked.saturating_sub(1);
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                if shared.lock().closing {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                {
                    // The unacknowledged ones are sent again on reconnection.
                    let mut inner = shared.lock();
                    inner.connected = false;
                    inner.unacked = 0;
                }
                let (refused, reason) = describe(&e);
                if let Some(tx) = first.take() {
                    let _ = tx.send(Err((refused, reason)));
                    break;
                }
                if shared.lock().closing {
                    break;
                }
                let reason = match refused {
                    Failure::Refused => format!("refused the connection: {reason}"),
                    Failure::Tls => format!("TLS failed: {reason}"),
                    Failure::Other => reason,
                };
                if failing && said.as_deref() == Some(reason.as_str()) {
                    log::debug!("MQTT broker {broker}: {reason}; retrying");
                } else {
                    log::warn!("MQTT broker {broker}: {reason}; retrying every second");
                    failing = true;
                    said = Some(reason);
                }
                for _ in 0..10 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// Publishes what the devices changed whenever the broker is connected:
/// availability, discovery, state, then the outbox in order.
fn publisher(client: &Client, config: &Config, shared: &Shared, stop: &AtomicBool) {
    let base = &config.base_topic;
    let mut inner = shared.lock();
    loop {
        if stop.load(Ordering::Relaxed) || inner.stop_publisher {
            return;
        }
        if inner.connected {
            let republish = std::mem::take(&mut inner.republish);
            let rediscover = std::mem::take(&mut inner.rediscover);
            let mut blocked = false;
            let outbox_empty = inner.outbox.is_empty();
            for (key, device) in &mut inner.devices {
                if republish {
                    device.availability_dirty = true;
                    device.state_dirty = true;
                }
                if rediscover {
                    device.undiscovered = device.entities.keys().cloned().collect();
                }
                if device.availability_dirty {
                    let payload = if device.online { "online" } else { "offline" };
                    let topic = format!("{base}/{key}/availability");
                    if client
                        .try_publish(topic, QoS::AtLeastOnce, true, payload)
                        .is_err()
                    {
                        blocked = true;
                        break;
                    }
                    device.availability_dirty = false;
                }
                if let Some(prefix) = &config.discovery_prefix {
                    while let Some(k) = device.undiscovered.last() {
                        let Some(entity) = device.entities.get(k) else {
                            device.undiscovered.pop();
                            continue;
                        };
                        let topic = discovery::config_topic(prefix, &device.info, entity);
                        let payload = discovery::config_payload(&device.info, entity).to_string();
                        if client
                            .try_publish(topic, QoS::AtLeastOnce, true, payload)
                            .is_err()
                        {
                            blocked = true;
                            break;
                        }
                        device.undiscovered.pop();
                    }
                } else {
                    device.undiscovered.clear();
                }
                if blocked {
                    break;
                }
                let due = device
                    .last_state
                    .is_none_or(|at| at.elapsed() >= config.interval);
                if device.state_dirty || due {
                    let payload = Json::Object(device.state.clone()).to_string();
                    if client
                        .try_publish(
                            device.info.state_topic.clone(),
                            QoS::AtLeastOnce,
                            true,
                            payload,
                        )
                        .is_err()
                    {
                        blocked = true;
                        break;
                    }
                    device.state_dirty = false;
                    device.last_state = Some(Instant::now());
                }
                if outbox_empty && device.dropped_unreported > 0 {
                    let n = device.dropped_unreported;
                    let payload = json!({
                        "event": "events_dropped",
                        "priority": "alert",
                        "text": format!("{n} event(s) dropped while the MQTT broker was unreachable"),
                        "ts": rewire_host::epoch_seconds(SystemTime::now()),
                        "dropped": n,
                    });
                    if client
                        .try_publish(
                            format!("{base}/{key}/event"),
                            QoS::AtLeastOnce,
                            false,
                            payload.to_string(),
                        )
                        .is_err()
                    {
                        blocked = true;
                        break;
                    }
                    device.dropped_unreported = 0;
                }
            }
            if blocked {
                // Ask again for what was not handed over.
                inner.republish |= republish;
                inner.rediscover |= rediscover;
            }
            while !blocked && let Some(out) = inner.outbox.pop_front() {
                if let Err(e) = client.try_publish(&out.topic, QoS::AtLeastOnce, false, out.payload)
                {
                    // The client's queue is full: put it back, in order.
                    let payload = match e {
                        rumqttc::ClientError::TryRequest(rumqttc::Request::Publish(p)) => {
                            p.payload.to_vec()
                        }
                        _ => Vec::new(),
                    };
                    inner.outbox.push_front(Outgoing {
                        topic: out.topic,
                        payload,
                    });
                    blocked = true;
                }
            }
            if blocked {
                drop(inner);
                std::thread::sleep(Duration::from_millis(20));
                inner = shared.lock();
                continue;
            }
        }
        let wait = Duration::from_millis(if inner.connected { 1000 } else { 200 });
        inner = shared
            .wake
            .wait_timeout(inner, wait)
            .map_or_else(|e| e.into_inner().0, |(g, _)| g);
    }
}
