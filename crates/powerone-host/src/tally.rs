//! Readings for Prometheus and the other generic outputs: what a tap or a
//! simulator has seen so far, counted from its [`Message`]s.
//!
//! A [`Tally`] counts frames, frames per function, skipped bytes by
//! reason (bad checksums among them) and link states, and keeps the
//! latest typed payload readings; [`TallySink`] feeds it from a fan-out.
//!
//! ```
//! use rewire_powerone_host::tally::Tally;
//! let tally = Tally::default();
//! let text = tally.prometheus();
//! assert!(text.contains("powerone_frames_total 0"));
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use std::net::SocketAddr;

use rewire_host::http::{BindError, HttpConfig, HttpServer, Request, Response};
use rewire_host::metrics;
use rewire_host::reading::{Observation, Reading, Value};
use rewire_host::sink::{Sink, SinkStats};

use crate::message::{Body, FAMILY, LinkState, Message, SkipReason};

/// What the messages seen so far add up to.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    frames: u64,
    by_function: BTreeMap<u8, u64>,
    skipped: BTreeMap<&'static str, (u64, u64)>,
    links: BTreeMap<String, bool>,
    latest: BTreeMap<String, Reading>,
}

impl Tally {
    /// Counts one message.
    pub fn observe(&mut self, message: &Message) {
        match &message.body {
            Body::Frame(f) => {
                self.frames += 1;
                *self.by_function.entry(f.frame.function().0).or_default() += 1;
            }
            Body::Skipped(s) => {
                let entry = self.skipped.entry(s.reason.name()).or_default();
                entry.0 += 1;
                entry.1 += s.len;
            }
            Body::Link { endpoint, state } => {
                self.links
                    .insert(endpoint.clone(), matches!(state, LinkState::Up));
            }
            Body::Change(_) => {}
        }
        let mut readings = Vec::new();
        message.readings(&mut readings);
        for r in readings {
            self.latest.insert(r.name.to_string(), r);
        }
    }

    /// Appends the readings: `frames` and `bad_checksums` (counters),
    /// `function_frames{function="0x07"}`, `skipped_bytes{reason="garbage"}`,
    /// `link_up{endpoint=…}` (a state), and the latest payload readings.
    pub fn readings(&self, out: &mut Vec<Reading>) {
        let now = SystemTime::now();
        out.push(Reading::counter(
            "frames",
            "Checksum-valid frames seen",
            self.frames,
            now,
        ));
        let bad = self
            .skipped
            .get(SkipReason::BadChecksum.name())
            .map_or(0, |c| c.0);
        out.push(Reading::counter(
            "bad_checksums",
            "Well-formed frames with a wrong checksum",
            bad,
            now,
        ));
        for (function, n) in &self.by_function {
            out.push(
                Reading::counter("function_frames", "Frames seen per function code", *n, now)
                    .with_label("function", format!("{function:#04x}")),
            );
        }
        for (reason, (_, bytes)) in &self.skipped {
            out.push(
                Reading::counter(
                    "skipped_bytes",
                    "Bytes that formed no frame, by reason",
                    *bytes,
                    now,
                )
                .with_label("reason", *reason),
            );
        }
        for (endpoint, up) in &self.links {
            out.push(
                Reading::state("link_up", "Whether a link is up", Value::Bool(*up), now)
                    .with_label("endpoint", endpoint.clone()),
            );
        }
        out.extend(self.latest.values().cloned());
    }

    /// Renders the readings as Prometheus text (`powerone_frames_total`, …).
    #[must_use]
    pub fn prometheus(&self) -> String {
        let mut readings = Vec::new();
        self.readings(&mut readings);
        metrics::render(FAMILY, &readings)
    }
}

/// Reads the fan-out's counts, for the output metrics.
type OutputsReader = Arc<dyn Fn() -> Vec<SinkStats> + Send + Sync>;

/// A [`Sink`] that keeps a shared [`Tally`] up to date.
#[derive(Clone, Default)]
pub struct TallySink(Arc<Mutex<Tally>>, Arc<Mutex<Option<OutputsReader>>>);

impl std::fmt::Debug for TallySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TallySink").field(&self.snapshot()).finish()
    }
}

impl TallySink {
    /// Makes a sink with an empty tally.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `/metrics` also say what each output of the fan-out dropped
    /// (`powerone_output_dropped_total{output}`) and holds
    /// (`powerone_output_queued{output}`), read by `stats` at each scrape.
    pub fn set_outputs(&self, stats: impl Fn() -> Vec<SinkStats> + Send + Sync + 'static) {
        *self.1.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(stats));
    }

    /// Returns `/metrics`: the tally's readings and the outputs' counts.
    #[must_use]
    pub fn metrics_text(&self) -> String {
        let mut text = self.snapshot().prometheus();
        let outputs = self
            .1
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(stats) = outputs {
            let readings = metrics::output_readings(&stats(), SystemTime::now());
            text.push_str(&metrics::render(FAMILY, &readings));
        }
        text
    }

    /// Returns a copy of the tally now.
    #[must_use]
    pub fn snapshot(&self) -> Tally {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Serves the tally's readings as Prometheus text on `GET /metrics` at
/// `addr` (404 elsewhere), through the bounded HTTP server of
/// `rewire-host`; [`HttpServer::shutdown`] stops it within a second.
///
/// # Errors
/// When the address cannot be bound.
pub fn serve_metrics(addr: SocketAddr, tally: TallySink) -> Result<HttpServer, BindError> {
    HttpServer::bind(addr, HttpConfig::default(), move |r: &Request| {
        respond(&tally, r)
    })
}

fn respond(tally: &TallySink, r: &Request) -> Response {
    match (r.method(), r.path()) {
        ("GET" | "HEAD", "/metrics") => Response::new(
            200,
            metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
            tally.metrics_text(),
        ),
        _ => Response::text(404, "not found: try /metrics\n"),
    }
}

/// Makes the operator's page of a Power-One line (the PCU link, frames,
/// bad checksums, clock sets, password checks); add its
/// [`rewire_page::Page::sink`] to the fan-out and serve it with
/// [`serve_metrics_and_page`].
#[must_use]
pub fn operator_page() -> rewire_page::Page {
    rewire_page::Page::new(rewire_page::PageConfig::new(
        rewire_page::Headline::powerone(),
    ))
}

/// Serves `/metrics` as [`serve_metrics`] does, and the operator's `page`
/// on `/` and `/api/*`.
///
/// # Errors
/// When the address cannot be bound.
pub fn serve_metrics_and_page(
    addr: SocketAddr,
    tally: TallySink,
    page: &rewire_page::Page,
) -> Result<HttpServer, BindError> {
    let handler = page.handler(move |r: &Request| respond(&tally, r));
    HttpServer::bind(addr, HttpConfig::default(), handler)
}

impl Sink<Message> for TallySink {
    fn name(&self) -> &str {
        "tally"
    }

    fn observe(&mut self, message: &Message) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(message);
    }
}
