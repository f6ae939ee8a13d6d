//! One event stream, many outputs: the [`Publisher`] writes each record to
//! stdout, derives transitions, feeds the webhook queue, and keeps the
//! [`Snapshot`] that the NUT server and the metrics endpoint read.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rewire_host::output::Sink;
use rewire_host::http::HttpServer;

use crate::record::{Body, HeartbeatRecord, Record, StatusRecord};
use crate::state::{LinkChange, Tracker};
use crate::webhook::Webhook;

/// What the UPS's `I` and `F` replies said (serial mode only).
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
    pub status: Option<StatusRecord>,
    /// When it arrived.
    pub status_at: Option<Instant>,
    /// The last heartbeat.
    pub heartbeat: Option<HeartbeatRecord>,
    /// When it arrived.
    pub heartbeat_at: Option<Instant>,
    /// SMS alerts received.
    pub alerts: u64,
    /// Records published, by kind.
    pub events: BTreeMap<&'static str, u64>,
    /// Links and whether they are up.
    pub links: BTreeMap<String, bool>,
    /// `I`/`F` data.
    pub identity: Identity,
    /// Webhook deliveries dropped because the queue was full.
    pub webhook_dropped: u64,
    /// Webhook deliveries waiting.
    pub webhook_queued: u64,
}

/// A handle on the shared [`Snapshot`].
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<Snapshot>>);

impl Shared {
    /// Locks the snapshot (a poisoned lock is recovered: the data is plain).
    pub fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Publishes records to every configured output.
pub struct Publisher<W: io::Write> {
    sink: Sink<W>,
    tracker: Tracker,
    shared: Shared,
    webhook: Option<Webhook>,
    /// The metrics server, stopped when the publisher goes.
    http: Option<HttpServer>,
}

impl<W: io::Write> Publisher<W> {
    /// Creates a publisher writing to `sink`, updating `shared`, and posting
    /// to `webhook` if given.
    pub fn new(sink: Sink<W>, shared: Shared, webhook: Option<Webhook>) -> Self {
        Publisher {
            sink,
            tracker: Tracker::new(),
            shared,
            webhook,
            http: None,
        }
    }

    /// Keeps `http` running as long as the publisher lives.
    #[must_use]
    pub fn serving(mut self, http: Option<HttpServer>) -> Self {
        self.http = http;
        self
    }

    /// Returns the shared snapshot.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Publishes a message record and the transitions it causes.
    ///
    /// # Errors
    /// When stdout fails (a closed pipe ends the monitor).
    pub fn publish(&mut self, record: Record) -> io::Result<()> {
        let transitions = self.tracker.observe(&record);
        self.emit(record)?;
        for t in transitions {
            self.emit(t)?;
        }
        Ok(())
    }

    /// Publishes a link change (a `connection_lost`/`connection_restored`
    /// record when the tracker says it is one).
    ///
    /// # Errors
    /// When stdout fails.
    pub fn link(&mut self, change: LinkChange) -> io::Result<()> {
        let (name, up) = match &change {
            LinkChange::Up { link, .. } => (link.clone(), true),
            LinkChange::Down { link, .. } => (link.clone(), false),
        };
        self.shared.lock().links.insert(name, up);
        match self.tracker.link(change) {
            Some(body) => self.emit(Record::now(body)),
            None => Ok(()),
        }
    }

    fn emit(&mut self, record: Record) -> io::Result<()> {
        {
            let mut snap = self.shared.lock();
            *snap.events.entry(record.body.kind()).or_default() += 1;
            match &record.body {
                Body::Status(s) => {
                    snap.status = Some(s.clone());
                    snap.status_at = Some(Instant::now());
                }
                Body::Heartbeat(h) => {
                    snap.heartbeat = Some(h.clone());
                    snap.heartbeat_at = Some(Instant::now());
                }
                Body::SmsAlert(_) => snap.alerts += 1,
                _ => {}
            }
            if let Some(w) = &self.webhook {
                snap.webhook_dropped = w.dropped();
                snap.webhook_queued = w.queued();
            }
        }
        if let Some(w) = &self.webhook {
            w.push(record.to_json());
        }
        self.sink.emit(&record)
    }
}
