//! Prometheus exposition: metrics from [`Reading`]s, and the text-format
//! helpers the live tools share.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::reading::{Kind, Reading, Value};

type Labels = Vec<(String, String)>;

/// A counter with labels, bumped from any thread, that lists itself as
/// [`Reading`]s for [`render`] (a service's own counts: sessions, frames,
/// bytes relayed, errors).
#[derive(Debug)]
pub struct CounterFamily {
    name: &'static str,
    help: &'static str,
    label_names: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterFamily {
    /// Makes a family `name` (without family prefix or `_total`) whose
    /// samples carry the labels `label_names`, in that order.
    #[must_use]
    pub const fn new(
        name: &'static str,
        help: &'static str,
        label_names: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            help,
            label_names,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds `n` to the sample with these label values (one per label name;
    /// missing ones are empty, extra ones ignored).
    pub fn add(&self, label_values: &[&str], n: u64) {
        let key: Vec<String> = (0..self.label_names.len())
            .map(|i| label_values.get(i).copied().unwrap_or("").to_owned())
            .collect();
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let v = values.entry(key).or_insert(0);
        *v = v.saturating_add(n);
    }

    /// Adds one to the sample with these label values.
    pub fn inc(&self, label_values: &[&str]) {
        self.add(label_values, 1);
    }

    /// Returns the sample with these label values (0 if never counted).
    #[must_use]
    pub fn get(&self, label_values: &[&str]) -> u64 {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values
            .iter()
            .find(|(k, _)| {
                k.iter()
                    .map(String::as_str)
                    .eq(label_values.iter().copied())
            })
            .map_or(0, |(_, v)| *v)
    }

    /// Returns the sum over every label value.
    #[must_use]
    pub fn total(&self) -> u64 {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values.values().sum()
    }

    /// Appends one counter reading per sample (one unlabelled zero reading
    /// for a family without labels that was never counted, so that it is
    /// always exported).
    pub fn readings(&self, ts: SystemTime, out: &mut Vec<Reading>) {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        if values.is_empty() && self.label_names.is_empty() {
            out.push(Reading::counter(self.name, self.help, 0, ts));
        }
        for (key, n) in values.iter() {
            let mut r = Reading::counter(self.name, self.help, *n, ts);
            for (name, value) in self.label_names.iter().zip(key) {
                r.labels.push((name, Cow::Owned(value.clone())));
            }
            out.push(r);
        }
    }
}

/// Returns the readings every live mode exports about its outputs (the
/// sinks of its fan-out): `output_dropped{output}`, a counter of what each
/// dropped rather than stall the device (its own drops included), and
/// `output_queued{output}`, what waits now.
#[must_use]
pub fn output_readings(sinks: &[crate::sink::SinkStats], ts: SystemTime) -> Vec<Reading> {
    let mut out = Vec::with_capacity(sinks.len() * 2);
    for s in sinks {
        out.push(
            Reading::counter(
                "output_dropped",
                "Messages an output dropped because it was not keeping up",
                s.dropped_total(),
                ts,
            )
            .with_label("output", s.name.clone()),
        );
        // Queue lengths stay far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        let queued = s.queued as f64;
        out.push(
            Reading::gauge(
                "output_queued",
                "Messages waiting for an output",
                Value::Number(queued),
                crate::reading::Unit::None,
                ts,
            )
            .with_label("output", s.name.clone()),
        );
    }
    out
}

/// Returns the Prometheus name of `reading` for a device `family`:
/// `family_name_unit` (`upsilon_input_voltage_volts`).
#[must_use]
pub fn metric_name(family: &str, reading: &Reading) -> String {
    let suffix = reading.unit.metric_suffix();
    let mut name = format!("{family}_{}", reading.name);
    if !suffix.is_empty() && !name.ends_with(suffix) {
        name.push('_');
        name.push_str(suffix);
    }
    name
}

/// Renders `readings` of a device `family` as classic Prometheus text:
/// gauges and states as gauges (a flag is 0 or 1; a text state is a
/// `NAME_info{value="TEXT"} 1` sample), counters as counters with `_total`,
/// unset values left out. Readings that share a name become one family with
/// their labels; the last reading of a name and label wins.
#[must_use]
pub fn render(family: &str, readings: &[Reading]) -> String {
    // name -> (help, kind, samples by labels)
    let mut groups: BTreeMap<String, (String, Kind, BTreeMap<Labels, f64>)> = BTreeMap::new();
    for r in readings {
        let mut name = metric_name(family, r);
        let mut labels: Labels = r
            .labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_string()))
            .collect();
        let value = match &r.value {
            Value::Unset => continue,
            Value::Text(t) => {
                name.push_str("_info");
                labels.push(("value".to_owned(), t.to_string()));
                1.0
            }
            v => match v.as_f64() {
                Some(x) => x,
                None => continue,
            },
        };
        let kind = if r.kind == Kind::Counter {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        groups
            .entry(name)
            .or_insert_with(|| (r.help.to_string(), kind, BTreeMap::new()))
            .2
            .insert(labels, value);
    }
    let mut registry = Registry::default();
    for (name, (help, kind, samples)) in groups {
        let name = if kind == Kind::Counter {
            name.strip_suffix("_total")
                .map_or(name.clone(), str::to_owned)
        } else {
            name
        };
        let plain = samples.len() == 1 && samples.keys().all(Vec::is_empty);
        match (kind, plain) {
            (Kind::Counter, true) => {
                let counter = Counter::<f64, AtomicU64>::default();
                counter.inc_by(samples.values().sum());
                registry.register(name, help, counter);
            }
            (Kind::Counter, false) => {
                let family = Family::<Labels, Counter<f64, AtomicU64>>::default();
                for (labels, v) in samples {
                    family.get_or_create(&labels).inc_by(v);
                }
                registry.register(name, help, family);
            }
            (_, true) => {
                let gauge = Gauge::<f64, AtomicU64>::default();
                gauge.set(samples.values().sum());
                registry.register(name, help, gauge);
            }
            (_, false) => {
                let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                for (labels, v) in samples {
                    family.get_or_create(&labels).set(v);
                }
                registry.register(name, help, family);
            }
        }
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    to_prometheus_text(&out)
}

/// `Content-Type` of OpenMetrics text, for scrapers that ask for it.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `Content-Type` of the classic Prometheus text format.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Rewrites `prometheus-client`'s OpenMetrics text as the classic Prometheus
/// text format (version 0.0.4), which every scraper and `promtool check
/// metrics` read: a counter family's `# HELP`/`# TYPE` lines take the
/// `_total` name its samples carry, and the OpenMetrics-only `# UNIT` and
/// `# EOF` lines go. Sample lines pass through unchanged.
///
/// ```
/// let text = rewire_host::metrics::to_prometheus_text(
///     "# HELP jobs Jobs run.\n# TYPE jobs counter\njobs_total 3\n# EOF\n",
/// );
/// assert_eq!(text, "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total 3\n");
/// ```
#[must_use]
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let (name, tail) = line.strip_prefix(prefix)?.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        // Writing into a String cannot fail.
        let _ = writeln!(out, "{}", renamed.as_deref().unwrap_or(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use crate::reading::Unit;

    #[test]
    fn counter_families_list_their_samples_as_readings() {
        static FRAMES: CounterFamily =
            CounterFamily::new("frames", "Frames seen", &["function", "direction"]);
        static SESSIONS: CounterFamily = CounterFamily::new("sessions", "Sessions", &[]);
        FRAMES.inc(&["init", "client"]);
        FRAMES.add(&["query", "server"], 2);
        FRAMES.inc(&["init", "client"]);
        assert_eq!(FRAMES.get(&["init", "client"]), 2);
        assert_eq!(FRAMES.total(), 4);
        let mut readings = Vec::new();
        FRAMES.readings(UNIX_EPOCH, &mut readings);
        SESSIONS.readings(UNIX_EPOCH, &mut readings);
        let text = render("websentry", &readings);
        assert!(
            text.contains("websentry_frames_total{function=\"init\",direction=\"client\"} 2"),
            "{text}"
        );
        assert!(text.contains("websentry_sessions_total 0"), "{text}");
    }

    #[test]
    fn renders_readings_as_prometheus_families() {
        let t = UNIX_EPOCH;
        let readings = [
            Reading::gauge(
                "input_voltage",
                "Input voltage",
                Value::Number(230.5),
                Unit::Volt,
                t,
            ),
            Reading::gauge("temperature", "Temperature", Value::Unset, Unit::Celsius, t),
            Reading::state("status_bit", "Status bits", Value::Bool(true), t)
                .with_label("bit", "utility_fail"),
            Reading::state("status_bit", "Status bits", Value::Bool(false), t)
                .with_label("bit", "battery_low"),
            Reading::state("model", "Model", Value::Text("X1".into()), t),
            Reading::counter("sms_alerts", "SMS alerts received", 2, t),
        ];
        let text = render("upsilon", &readings);
        assert!(
            text.contains(
                "# TYPE upsilon_input_voltage_volts gauge\nupsilon_input_voltage_volts 230.5\n"
            ),
            "{text}"
        );
        assert!(!text.contains("temperature"), "{text}");
        assert!(
            text.contains("upsilon_status_bit{bit=\"utility_fail\"} 1.0\n"),
            "{text}"
        );
        assert!(
            text.contains("upsilon_status_bit{bit=\"battery_low\"} 0.0\n"),
            "{text}"
        );
        assert!(
            text.contains("upsilon_model_info{value=\"X1\"} 1.0\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# TYPE upsilon_sms_alerts_total counter\nupsilon_sms_alerts_total 2.0\n"
            ),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }

    use super::*;

    #[test]
    fn counters_take_their_total_name_and_openmetrics_lines_go() {
        let text = to_prometheus_text(
            "# HELP a_b Things.\n# TYPE a_b counter\n# UNIT a_b x\na_b_total 1\n# TYPE g gauge\ng 2\n# EOF\n",
        );
        assert_eq!(
            text,
            "# HELP a_b_total Things.\n# TYPE a_b_total counter\na_b_total 1\n# TYPE g gauge\ng 2\n"
        );
    }
}
