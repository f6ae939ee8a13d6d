//! What the page knows: the current readings with the time they arrived,
//! a [`Ring`] of history per charted reading, the recent events and the
//! link's health. Every part has a fixed bound.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use rewire_host::epoch_seconds;
use rewire_host::reading::{Event, Kind, Observation, Priority, Reading, Value};

use crate::PageConfig;
use crate::history::Ring;

/// Returns the key of `reading`: its name, then its identity labels as
/// `{k="v",…}` (a label named in `value_labels` names the value and is
/// left out).
#[must_use]
pub fn key(reading: &Reading, value_labels: &[&str]) -> String {
    let mut key = reading.name.to_string();
    let mut first = true;
    for (k, v) in &reading.labels {
        if value_labels.contains(k) {
            continue;
        }
        key.push(if first { '{' } else { ',' });
        first = false;
        let _ = write!(key, "{k}=\"{v}\"");
    }
    if !first {
        key.push('}');
    }
    key
}

/// A reading as the page keeps it.
#[derive(Debug, Clone)]
pub struct Current {
    /// The last reading of this key.
    pub reading: Reading,
    /// The value's name, from a value label (an enum's text).
    pub value_label: Option<String>,
    /// When it arrived here.
    pub received: Instant,
}

/// One entry of the event list (repeats of the same event in a row are
/// counted, not listed).
#[derive(Debug, Clone, PartialEq)]
pub struct EventEntry {
    /// The event (its time is the first of the run).
    pub event: Event,
    /// How many times it came in a row.
    pub count: u64,
    /// Time of the last of the run.
    pub last: SystemTime,
}

/// The page's state.
#[derive(Debug)]
pub struct State {
    pub(crate) config: PageConfig,
    pub(crate) device: Option<String>,
    pub(crate) current: BTreeMap<String, Current>,
    pub(crate) history: BTreeMap<String, Ring>,
    /// Alerts, and everything else, each in its own ring so a flood of bad
    /// frames never pushes an outage out.
    pub(crate) alerts: VecDeque<EventEntry>,
    pub(crate) others: VecDeque<EventEntry>,
    pub(crate) event_counts: BTreeMap<String, u64>,
    pub(crate) records: u64,
    pub(crate) first_record: Option<SystemTime>,
    pub(crate) last_record: Option<Instant>,
    pub(crate) link_up: Option<bool>,
    pub(crate) connected_since: Option<SystemTime>,
    pub(crate) reconnects: u64,
    pub(crate) readings_refused: u64,
}

fn now_epoch() -> f64 {
    epoch_seconds(SystemTime::now())
}

impl State {
    /// Makes an empty state.
    #[must_use]
    pub fn new(config: PageConfig) -> Self {
        Self {
            config,
            device: None,
            current: BTreeMap::new(),
            history: BTreeMap::new(),
            alerts: VecDeque::new(),
            others: VecDeque::new(),
            event_counts: BTreeMap::new(),
            records: 0,
            first_record: None,
            last_record: None,
            link_up: None,
            connected_since: None,
            reconnects: 0,
            readings_refused: 0,
        }
    }

    /// Returns whether a reading should be charted: the headline's charts,
    /// or every numeric gauge when it names none.
    fn charted(&self, key: &str, reading: &Reading) -> bool {
        if self.config.headline.charts.is_empty() {
            reading.kind == Kind::Gauge
        } else {
            self.config.headline.charts.iter().any(|c| c == key)
        }
    }

    /// Takes one message.
    pub fn observe<M: Observation>(&mut self, message: &M) {
        let now = Instant::now();
        if self.device.is_none() {
            self.device = Some(message.device().to_string());
        }
        self.records += 1;
        self.last_record = Some(now);
        if self.first_record.is_none() {
            // Until a link event says otherwise, the link has been up
            // since the first message.
            self.first_record = Some(SystemTime::now());
            self.connected_since = self.first_record;
        }
        let mut readings = Vec::new();
        message.readings(&mut readings);
        for reading in readings {
            self.take_reading(reading, now);
        }
        if let Some(event) = message.event() {
            self.take_event(event);
        }
    }

    fn take_reading(&mut self, reading: Reading, now: Instant) {
        let value_labels: Vec<&str> = self
            .config
            .value_labels
            .iter()
            .map(String::as_str)
            .collect();
        let key = key(&reading, &value_labels);
        let value_label = reading
            .labels
            .iter()
            .find(|(k, _)| value_labels.contains(k))
            .map(|(_, v)| v.to_string());
        if let Some(v) = reading.value.as_f64()
            && self.charted(&key, &reading)
        {
            let ring = if let Some(r) = self.history.get_mut(&key) {
                Some(r)
            } else if self.history.len() < self.config.max_series {
                let ring = Ring::new(self.config.slots, self.config.bucket_width());
                Some(self.history.entry(key.clone()).or_insert(ring))
            } else {
                None
            };
            if let Some(ring) = ring {
                ring.push(epoch_seconds(reading.ts), v);
            }
        }
        if !self.current.contains_key(&key) && self.current.len() >= self.config.max_readings {
            self.readings_refused += 1;
            return;
        }
        self.current.insert(
            key,
            Current {
                reading,
                value_label,
                received: now,
            },
        );
    }

    fn take_event(&mut self, event: Event) {
        let name = event.name.to_string();
        *self.event_counts.entry(name.clone()).or_default() += 1;
        let headline = &self.config.headline;
        if headline.link_up.contains(&name) {
            if self.link_up == Some(false) {
                self.reconnects += 1;
            }
            self.link_up = Some(true);
            self.connected_since = Some(event.ts);
        } else if headline.link_down.contains(&name) {
            self.link_up = Some(false);
            self.connected_since = None;
        }
        let (ring, cap) = if event.priority == Priority::Alert {
            (&mut self.alerts, self.config.max_alerts)
        } else {
            (&mut self.others, self.config.max_other_events)
        };
        if let Some(back) = ring.back_mut()
            && event.priority != Priority::Alert
            && back.event.name == event.name
        {
            back.count += 1;
            back.last = event.ts;
            return;
        }
        if ring.len() >= cap.max(1) {
            ring.pop_front();
        }
        let last = event.ts;
        ring.push_back(EventEntry {
            event,
            count: 1,
            last,
        });
    }

    /// Returns the age of the last message, if any.
    #[must_use]
    pub fn last_record_age(&self) -> Option<Duration> {
        self.last_record.map(|t| t.elapsed())
    }

    /// Returns whether the device has gone quiet (no message for longer
    /// than the configured staleness, or none at all).
    #[must_use]
    pub fn stale(&self) -> bool {
        self.last_record_age()
            .is_none_or(|a| a > self.config.stale_after)
    }

    /// Returns the events, newest first, at most `limit`.
    #[must_use]
    pub fn events(&self, limit: usize) -> Vec<&EventEntry> {
        let mut all: Vec<&EventEntry> = self.alerts.iter().chain(&self.others).collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.last));
        all.truncate(limit);
        all
    }

    /// Returns the bytes the history rings hold.
    #[must_use]
    pub fn history_bytes(&self) -> usize {
        self.history.values().map(Ring::bytes).sum()
    }

    /// Returns the status text and severity the headline shows.
    #[must_use]
    pub fn status(&self) -> (String, crate::Severity) {
        use crate::Severity;
        let headline = &self.config.headline;
        if self.records == 0 {
            return ("NO DATA YET".into(), Severity::Warning);
        }
        if self.link_up == Some(false) {
            return ("LINK DOWN".into(), Severity::Alarm);
        }
        for c in &headline.conditions {
            let holds = self
                .current
                .get(&c.key)
                .and_then(|r| r.reading.value.as_f64())
                .is_some_and(|v| v == c.equals);
            if holds {
                return (c.text.clone(), c.severity);
            }
        }
        match &headline.normal_needs {
            Some(k) if !self.current.contains_key(k) => ("UNKNOWN".into(), Severity::Warning),
            _ => (headline.normal.clone(), Severity::Ok),
        }
    }

    /// Returns the epoch seconds of "now" for the page (for tests).
    #[must_use]
    pub fn now_epoch(&self) -> f64 {
        now_epoch()
    }
}

/// Returns the value of `c` as the page shows it (`230 V`, `on`, `yes`).
#[must_use]
pub fn value_text(c: &Current) -> String {
    if let Some(label) = &c.value_label {
        return label.clone();
    }
    let unit = c.reading.unit.symbol();
    match &c.reading.value {
        Value::Number(v) if unit.is_empty() => number_text(*v),
        Value::Number(v) => format!("{} {unit}", number_text(*v)),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Text(t) => t.to_string(),
        Value::Unset => "not reported".into(),
    }
}

/// Returns `v` for reading: at most two decimals, no trailing zeros
/// (`22.39`, `230.5`, `12`); the JSON `value` keeps every digit.
#[must_use]
pub fn number_text(v: f64) -> String {
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_owned()
    }
}
