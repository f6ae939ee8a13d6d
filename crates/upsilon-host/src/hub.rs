//! One message stream, many outputs: the [`Hub`] derives transitions from
//! what its sources publish and hands every message to its sinks through a
//! bounded [`Fanout`]; one of them keeps the [`Snapshot`] the NUT server
//! and `/metrics` read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use rewire_host::reading::{DeviceId, Reading, Value};
use rewire_host::sink::{Fanout, Sink, SinkStats};
use rewire_upsilon::{Heartbeat, Status};

use crate::battery::{BatteryConfig, BatteryFigures, BatteryModel};
use crate::message::{Body, FAMILY, Message, heartbeat_reading, status_readings};
use crate::state::{LinkChange, Tracker};

/// Messages the snapshot's queue holds per lane (it only takes a lock).
const SNAPSHOT_QUEUE: usize = 1024;

/// What the UPS's `I` and `F` replies said (`upsilon ups` only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// Manufacturer (`I`).
    pub company: Option<String>,
    /// Model (`I`).
    pub model: Option<String>,
    /// Firmware version (`I`).
    pub firmware: Option<String>,
    /// Rated voltage, V (`F`).
    pub rated_voltage: Option<f64>,
    /// Rated current, A (`F`).
    pub rated_current: Option<f64>,
    /// Nominal battery voltage, V (`F`).
    pub rated_battery_voltage: Option<f64>,
    /// Rated frequency, Hz (`F`).
    pub rated_frequency: Option<f64>,
}

/// The latest known state, shared with the servers.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The last status.
    pub status: Option<Status>,
    /// When it arrived.
    pub status_at: Option<Instant>,
    /// The last heartbeat.
    pub heartbeat: Option<Heartbeat>,
    /// When it arrived.
    pub heartbeat_at: Option<Instant>,
    /// SMS alerts received.
    pub alerts: u64,
    /// Messages published, by record kind.
    pub events: BTreeMap<&'static str, u64>,
    /// Links and whether they are up.
    pub links: BTreeMap<String, bool>,
    /// `I`/`F` data.
    pub identity: Identity,
    /// The battery estimate of the last status.
    pub battery: Option<BatteryFigures>,
}

impl Snapshot {
    /// Takes one message into the snapshot.
    pub fn observe(&mut self, m: &Message) {
        *self.events.entry(m.body.kind()).or_default() += 1;
        match &m.body {
            Body::Status(s) => {
                self.status = Some(*s);
                self.status_at = Some(Instant::now());
                self.battery = m.battery;
            }
            Body::Heartbeat { heartbeat, .. } => {
                self.heartbeat = Some(*heartbeat);
                self.heartbeat_at = Some(Instant::now());
            }
            Body::SmsAlert(_) => self.alerts += 1,
            _ => {}
        }
    }

    /// Appends what the snapshot knows as readings (for `/metrics`): the
    /// last status, its age, the last heartbeat and its age, the links, the
    /// alert and record counts.
    pub fn readings(&self, out: &mut Vec<Reading>) {
        let now = SystemTime::now();
        if let Some(s) = &self.status {
            status_readings(s, now, out);
        }
        if let Some(b) = &self.battery {
            let number = |v: Option<f64>| v.map_or(Value::Unset, Value::Number);
            out.push(Reading::gauge(
                "battery_charge_ratio",
                "Battery charge, 0 to 1, as NUT's battery.charge estimates it",
                number(b.charge.map(|c| c / 100.0)),
                rewire_host::reading::Unit::None,
                now,
            ));
            out.push(Reading::gauge(
                "battery_runtime",
                "Battery runtime left, as NUT's battery.runtime estimates it (runtimecal)",
                number(b.runtime),
                rewire_host::reading::Unit::Second,
                now,
            ));
        }
        let age = |name: &'static str, help, at: Option<Instant>| {
            Reading::gauge(
                name,
                help,
                at.map_or(Value::Unset, |t| Value::Number(t.elapsed().as_secs_f64())),
                rewire_host::reading::Unit::Second,
                now,
            )
        };
        out.push(age(
            "status_age",
            "Seconds since the last status",
            self.status_at,
        ));
        out.push(age(
            "heartbeat_age",
            "Seconds since the last UPSilon heartbeat",
            self.heartbeat_at,
        ));
        if let Some(h) = &self.heartbeat {
            out.push(heartbeat_reading(h, now));
        }
        for (name, up) in &self.links {
            out.push(
                Reading::state(
                    "link_up",
                    "1 when the data source link is up",
                    Value::Bool(*up),
                    now,
                )
                .with_label("link", name.clone()),
            );
        }
        out.push(Reading::counter(
            "sms_alerts",
            "SMS alert requests received",
            self.alerts,
            now,
        ));
        for (kind, n) in &self.events {
            out.push(
                Reading::counter("records", "Records published, by kind", *n, now)
                    .with_label("kind", *kind),
            );
        }
    }
}

/// A handle on the shared [`Snapshot`].
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<Snapshot>>);

impl Shared {
    /// Locks the snapshot (a poisoned lock is recovered: the data is plain).
    pub fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sink that keeps a [`Shared`] snapshot up to date.
#[derive(Debug, Clone)]
pub struct SnapshotSink(pub Shared);

impl Sink<Message> for SnapshotSink {
    fn name(&self) -> &str {
        "snapshot"
    }

    fn observe(&mut self, message: &Message) {
        self.0.lock().observe(message);
    }
}

struct Inner {
    device: Arc<DeviceId>,
    shared: Shared,
    /// The tracker and the fan-out under one lock: every sink sees one order.
    state: Mutex<(Tracker, Fanout<Message>)>,
    battery: Mutex<BatteryModel>,
}

/// Where the live modes publish: derives transitions and link events, feeds
/// the sinks (each on its own bounded queue) and the [`Snapshot`]. Cheap to
/// clone; clones share everything. Publishing never blocks on a sink.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("device", &self.0.device)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Makes a hub for the UPS called `name`, with the snapshot sink and no
    /// battery settings (the charge is estimated once the UPS's `F` reply
    /// gives a nominal battery voltage).
    pub fn new(name: impl Into<String>) -> Self {
        Self::with_battery(name, BatteryConfig::default())
    }

    /// Makes a hub whose statuses carry the battery estimate of `battery`.
    pub fn with_battery(name: impl Into<String>, battery: BatteryConfig) -> Self {
        let shared = Shared::default();
        let mut fanout = Fanout::new();
        fanout.add(SnapshotSink(shared.clone()), SNAPSHOT_QUEUE);
        Hub(Arc::new(Inner {
            device: Arc::new(DeviceId::new(FAMILY, name)),
            shared,
            state: Mutex::new((Tracker::new(), fanout)),
            battery: Mutex::new(BatteryModel::new(battery)),
        }))
    }

    fn state(&self) -> MutexGuard<'_, (Tracker, Fanout<Message>)> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns the device messages are about.
    #[must_use]
    pub fn device(&self) -> Arc<DeviceId> {
        Arc::clone(&self.0.device)
    }

    /// Returns the snapshot the servers read.
    #[must_use]
    pub fn shared(&self) -> &Shared {
        &self.0.shared
    }

    /// Adds `sink` on its own thread, with `capacity` messages per lane.
    pub fn add_sink(&self, sink: impl Sink<Message> + 'static, capacity: usize) {
        self.state().1.add(sink, capacity);
    }

    /// Records what the UPS's `I` and `F` replies said (the battery estimate
    /// takes its nominal voltage from `F`).
    pub fn set_identity(&self, identity: Identity) {
        self.0
            .battery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_rated(identity.rated_battery_voltage);
        self.0.shared.lock().identity = identity;
    }

    /// Returns whether [`Hub::set_identity`] recorded anything yet.
    #[must_use]
    pub fn has_identity(&self) -> bool {
        self.0.shared.lock().identity != Identity::default()
    }

    /// Publishes `message`, then the transitions it causes (stamped with its
    /// time). A status gets its battery estimate first.
    pub fn publish(&self, mut message: Message) {
        if let Body::Status(s) = &message.body {
            message.battery = self
                .0
                .battery
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .observe(s, Instant::now());
        }
        let mut state = self.state();
        let (tracker, fanout) = &mut *state;
        let transitions = tracker.observe(&message.body);
        let (ts, status) = (message.ts, message.as_status().copied());
        fanout.publish(message);
        if let Some(status) = status {
            for transition in transitions {
                let mut m = Message::new(self.device(), Body::Transition { transition, status });
                m.ts = ts;
                fanout.publish(m);
            }
        }
    }

    /// Records a link change and publishes `connection_lost` or
    /// `connection_restored` when the tracker says it is one.
    pub fn link(&self, change: LinkChange) {
        let (name, up) = change.state();
        self.0.shared.lock().links.insert(name.to_owned(), up);
        let mut state = self.state();
        let (tracker, fanout) = &mut *state;
        if let Some(event) = tracker.link(change) {
            fanout.publish(Message::new(self.device(), Body::Link(event)).at(SystemTime::now()));
        }
    }

    /// Returns each sink's queue counts (the snapshot's among them).
    #[must_use]
    pub fn stats(&self) -> Vec<SinkStats> {
        self.state().1.stats()
    }

    /// Drains the sinks' queues (for up to a second), finishes the sinks and
    /// joins their threads. Later messages go nowhere.
    pub fn close(&self) {
        self.state().1.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn transitions_follow_their_status_and_the_snapshot_keeps_up() {
        let hub = Hub::new("ups");
        let seen = Arc::new(Mutex::new(Vec::new()));
        struct Kinds(Arc<Mutex<Vec<&'static str>>>);
        impl Sink<Message> for Kinds {
            fn name(&self) -> &str {
                "kinds"
            }
            fn observe(&mut self, m: &Message) {
                self.0.lock().unwrap().push(m.body.kind());
            }
        }
        hub.add_sink(Kinds(Arc::clone(&seen)), 16);
        let s = rewire_upsilon::Status::parse(b"(000.0 230.0 229.0 020 00.0 25.0 --.- 10001000")
            .unwrap();
        hub.link(LinkChange::Down {
            link: "rupsmon".into(),
            peer: None,
            detail: None,
        });
        hub.link(LinkChange::Up {
            link: "rupsmon".into(),
            peer: None,
            detail: None,
        });
        hub.publish(Message::status(hub.device(), s));
        hub.link(LinkChange::Down {
            link: "rupsmon".into(),
            peer: None,
            detail: None,
        });
        hub.close();
        assert_eq!(
            *seen.lock().unwrap(),
            ["status", "on_battery", "connection_lost"]
        );
        let snap = hub.shared().lock();
        assert_eq!(snap.status, Some(s));
        assert_eq!(snap.events.get("on_battery"), Some(&1));
        assert_eq!(snap.links.get("rupsmon"), Some(&false));
        assert!(snap.status_at.unwrap().elapsed() < Duration::from_secs(5));
    }
}
