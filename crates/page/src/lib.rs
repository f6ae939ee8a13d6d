//! The operator's page of rewire's live tools: one more sink.
//!
//! A [`Page`] is fed by a [`PageSink`] added to a device's
//! [`Fanout`](rewire_host::sink::Fanout) like any other output. It knows no
//! device: it reads every message through
//! [`rewire_host::reading::Observation`] and keeps
//!
//! - the current readings, with the time each arrived (their age) and a
//!   stale mark once the device has been quiet for [`PageConfig::stale_after`];
//! - a fixed-size history [`Ring`](history::Ring) per charted reading over
//!   a bounded window (default 24 h in 1440 one-minute buckets of 32 bytes:
//!   45 KiB per reading, at most [`PageConfig::max_series`] readings, so
//!   2.8 MiB at most by default, whatever the sample rate);
//! - the recent events (alerts and the rest in separate rings, so a flood
//!   of bad frames never pushes an outage out; repeats in a row counted);
//! - the link's health: connected since, last record age, reconnects, and
//!   the drops of the other outputs (from the fan-out's stats, through
//!   [`Page::set_outputs`]).
//!
//! [`Page::respond`] serves it over [`rewire_host::http`]: `/` (one HTML
//! page for every device, all assets inside the binary, polling
//! `/api/state` every two seconds), `GET /api/state`,
//! `GET /api/history?reading=KEY&since=EPOCH` and `GET /api/events?limit=N`,
//! each bounded. What a device shows first is the [`Headline`] its caller
//! passes in.
//!
//! ```
//! use rewire_host::http::Request;
//! use rewire_host::reading::{DeviceId, Event, Observation, Reading, Unit, Value};
//! use rewire_host::sink::Fanout;
//! use rewire_page::{Headline, Page, PageConfig};
//!
//! struct Volts(DeviceId, f64);
//! impl Observation for Volts {
//!     fn device(&self) -> &DeviceId { &self.0 }
//!     fn readings(&self, out: &mut Vec<Reading>) {
//!         out.push(Reading::gauge("input_voltage", "Input voltage", Value::Number(self.1),
//!             Unit::Volt, std::time::SystemTime::now()));
//!     }
//!     fn event(&self) -> Option<Event> { None }
//! }
//!
//! let page = Page::new(PageConfig::new(Headline::upsilon()));
//! let mut fanout = Fanout::new();
//! fanout.add(page.sink(), 1024);
//! fanout.publish(Volts(DeviceId::new("upsilon", "ups"), 231.0));
//! fanout.close();
//! let state = page.respond(&Request::new("GET", "/api/state")?).unwrap();
//! assert!(state.body_text().contains(r#""text":"231 V""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod headline;
pub mod history;
pub mod plot;
pub mod state;

mod api;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rewire_host::http::{Handler, Request, Response};
use rewire_host::reading::Observation;
use rewire_host::sink::{Sink, SinkStats};

pub use headline::{Condition, Headline, Item, Severity};

/// The page's settings and bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct PageConfig {
    /// What the device shows first.
    pub headline: Headline,
    /// How far back the history goes (default 24 h).
    pub window: Duration,
    /// Buckets per charted reading over the window (default 1440).
    pub slots: usize,
    /// Readings with a history at most (default 64).
    pub max_series: usize,
    /// Current readings kept at most (default 512; more are counted and
    /// left out).
    pub max_readings: usize,
    /// Alert events kept (default 100).
    pub max_alerts: usize,
    /// Other events kept (default 100).
    pub max_other_events: usize,
    /// Quiet time after which the page marks the state stale (default 30 s).
    pub stale_after: Duration,
    /// Labels that name a value rather than a reading (default `label`,
    /// the enum text of a WebSentry state).
    pub value_labels: Vec<String>,
}

impl PageConfig {
    /// Makes the default settings for `headline`.
    #[must_use]
    pub fn new(headline: Headline) -> Self {
        Self {
            headline,
            window: Duration::from_secs(24 * 3600),
            slots: 1440,
            max_series: 64,
            max_readings: 512,
            max_alerts: 100,
            max_other_events: 100,
            stale_after: Duration::from_secs(30),
            value_labels: vec!["label".into()],
        }
    }

    /// Returns the width of one history bucket in seconds.
    #[must_use]
    pub fn bucket_width(&self) -> f64 {
        // Slots are few (thousands): exact as f64.
        #[allow(clippy::cast_precision_loss)]
        let slots = self.slots.max(1) as f64;
        self.window.as_secs_f64() / slots
    }

    /// Returns the most the history can take, in bytes
    /// (`max_series × slots × 32`).
    #[must_use]
    pub fn history_limit_bytes(&self) -> usize {
        self.max_series * self.slots.max(1) * std::mem::size_of::<history::Point>()
    }
}

type Outputs = Box<dyn Fn() -> Vec<SinkStats> + Send + Sync>;

struct Inner {
    state: Mutex<state::State>,
    outputs: Mutex<Option<Outputs>>,
}

/// The page: a shared state fed by [`Page::sink`] and read by
/// [`Page::respond`]. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Page(Arc<Inner>);

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page").finish_non_exhaustive()
    }
}

impl Page {
    /// Makes an empty page.
    #[must_use]
    pub fn new(config: PageConfig) -> Self {
        Self(Arc::new(Inner {
            state: Mutex::new(state::State::new(config)),
            outputs: Mutex::new(None),
        }))
    }

    /// Locks the state (a poisoned lock is recovered: the data is plain).
    pub fn lock(&self) -> MutexGuard<'_, state::State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns a sink feeding this page, for a device's fan-out.
    #[must_use]
    pub fn sink(&self) -> PageSink {
        PageSink(self.clone())
    }

    /// Tells the page where the fan-out's counts come from (a hub's or a
    /// proxy's `stats()`), for the drops shown under link health.
    pub fn set_outputs(&self, stats: impl Fn() -> Vec<SinkStats> + Send + Sync + 'static) {
        *self
            .0
            .outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(stats));
    }

    fn outputs(&self) -> Vec<SinkStats> {
        self.0
            .outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|f| f())
            .unwrap_or_default()
    }

    /// Takes one message (what the sink does; also for a caller that feeds
    /// the page directly).
    pub fn observe<M: Observation>(&self, message: &M) {
        self.lock().observe(message);
    }

    /// Answers `/`, `/api/state`, `/api/history` and `/api/events`; returns
    /// `None` for any other path, for the caller's own handler.
    #[must_use]
    pub fn respond(&self, request: &Request) -> Option<Response> {
        let path = request.path();
        if !matches!(path, "/" | "/index.html") && !path.starts_with("/api/") {
            return None;
        }
        if !matches!(request.method(), "GET" | "HEAD") {
            return Some(Response::text(405, "method not allowed\n"));
        }
        Some(match path {
            "/" | "/index.html" => Response::new(200, "text/html; charset=utf-8", api::PAGE),
            "/api/state" => {
                let outputs = self.outputs();
                api::json(200, &api::state(&self.lock(), &outputs))
            }
            "/api/history" => api::history(&self.lock(), request.query().unwrap_or("")),
            "/api/events" => api::events(&self.lock(), request.query().unwrap_or("")),
            _ => api::json(404, &serde_json::json!({"error": "no such endpoint"})),
        })
    }

    /// Returns a handler serving the page and handing every other request
    /// to `fallback` (the mode's `/metrics` handler).
    pub fn handler(&self, fallback: impl Handler) -> impl Handler {
        let page = self.clone();
        move |r: &Request| page.respond(r).unwrap_or_else(|| fallback.handle(r))
    }
}

/// The [`Sink`] that feeds a [`Page`]; generic over every device's message.
#[derive(Debug, Clone)]
pub struct PageSink(Page);

/// The name the page's sink has in the fan-out's counts.
pub const PAGE_SINK: &str = "page";

impl<M: Observation> Sink<M> for PageSink {
    fn name(&self) -> &str {
        PAGE_SINK
    }

    fn observe(&mut self, message: &M) {
        self.0.observe(message);
    }
}
