//! Readings over time as a standalone SVG file, for plots drawn offline
//! from captures and raw logs.
//!
//! Hand-written SVG rather than `plotters`: a plot here is a few polylines,
//! axes and text, which is about 150 lines; `plotters` would add a drawing
//! stack and its font handling to every tool for that. The output needs no
//! font or script: one panel per reading (readings rarely share a unit),
//! each with a value axis in the reading's unit, a time axis labelled in
//! UTC, and the samples as a polyline (`data-points` says how many).
//!
//! ```
//! use rewire_page::plot::{Series, svg};
//! let s = Series { label: "input_voltage".into(), unit: "V".into(),
//!                  points: vec![(0.0, 230.0), (60.0, 0.0), (120.0, 231.0)] };
//! let out = svg("UPS", &[s]);
//! assert!(out.contains(r#"data-points="3""#) && out.contains("00:02:00"));
//! ```

use std::fmt::Write as _;

use rewire_host::epoch_seconds;
use rewire_host::reading::Observation;

use crate::state::key;

/// One reading's samples: its label, unit and `(epoch seconds, value)`
/// points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// What the panel is called (the reading's key).
    pub label: String,
    /// The unit symbol (`V`, `%`, `°C`), empty for none.
    pub unit: String,
    /// The samples.
    pub points: Vec<(f64, f64)>,
}

/// Collects the numeric samples of the readings named in `keys` (a name,
/// or a key with labels: `status_bit{bit="utility_fail"}`) from `messages`,
/// one series per key in the order given; a key never seen gives an empty
/// series. A label named `label` is a value's name, as on the page.
pub fn collect<M: Observation>(
    messages: impl IntoIterator<Item = M>,
    keys: &[&str],
) -> Vec<Series> {
    let mut collector = Collector::new(keys);
    for m in messages {
        collector.push(&m);
    }
    collector.finish()
}

/// [`collect`] one message at a time, for a decoder that hands messages
/// to a callback: memory holds the points only, never the messages.
#[derive(Debug)]
pub struct Collector {
    series: Vec<Series>,
    readings: Vec<rewire_host::reading::Reading>,
}

impl Collector {
    /// Starts empty series for the readings named in `keys` (as [`collect`]).
    #[must_use]
    pub fn new(keys: &[&str]) -> Self {
        Self {
            series: keys
                .iter()
                .map(|k| Series {
                    label: (*k).to_owned(),
                    unit: String::new(),
                    points: Vec::new(),
                })
                .collect(),
            readings: Vec::new(),
        }
    }

    /// Takes the samples of `message`'s readings that are asked for.
    pub fn push<M: Observation>(&mut self, message: &M) {
        self.readings.clear();
        message.readings(&mut self.readings);
        for r in &self.readings {
            let k = key(r, &["label"]);
            let Some(s) = self.series.iter_mut().find(|s| s.label == k) else {
                continue;
            };
            if let Some(v) = r.value.as_f64() {
                r.unit.symbol().clone_into(&mut s.unit);
                s.points.push((epoch_seconds(r.ts), v));
            }
        }
    }

    /// Returns the series, one per key in the order given.
    #[must_use]
    pub fn finish(self) -> Vec<Series> {
        self.series
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Returns the UTC date (`YYYY-MM-DD`) and time (`HH:MM:SS`) of `t`.
#[must_use]
pub fn utc(t: f64) -> (String, String) {
    // Far outside any capture: clamp rather than overflow.
    #[allow(clippy::cast_possible_truncation)]
    let secs = t.clamp(-1e13, 1e13).floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

/// Returns a round tick step (1, 2 or 5 times a power of ten) giving about
/// five ticks over `range`.
fn nice_step(range: f64) -> f64 {
    let raw = (range / f64::from(TICKS)).max(1e-9);
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

fn number(v: f64) -> String {
    crate::state::number_text(v)
}

const WIDTH: f64 = 960.0;
const PANEL: f64 = 220.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;
const TICKS: u32 = 5;

/// Draws `series` as one SVG document titled `title`: a panel per series,
/// stacked, with value and time axes.
#[must_use]
pub fn svg(title: &str, series: &[Series]) -> String {
    // Panels are few.
    #[allow(clippy::cast_precision_loss)]
    let height = 40.0 + PANEL * series.len().max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (i, s) in series.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y0 = 40.0 + PANEL * i as f64;
        panel(&mut out, s, y0);
    }
    out.push_str("</svg>\n");
    out
}

fn panel(out: &mut String, s: &Series, y0: f64) {
    let unit = if s.unit.is_empty() {
        String::new()
    } else {
        format!(" ({})", s.unit)
    };
    let (top, bottom) = (y0 + TOP, y0 + PANEL - BOTTOM);
    let (left, right) = (LEFT, WIDTH - RIGHT);
    let _ = writeln!(
        out,
        r#"<g class="series" data-reading="{}" data-points="{}">"#,
        escape(&s.label),
        s.points.len()
    );
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="{}" font-weight="bold">{}{}</text>"#,
        y0 + 18.0,
        escape(&s.label),
        escape(&unit)
    );
    let _ = writeln!(
        out,
        r##"<path d="M{left},{top} V{bottom} H{right}" fill="none" stroke="#333"/>"##
    );
    if s.points.is_empty() {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}">no samples</text></g>"#,
            left + 10.0,
            (top + bottom) / 2.0
        );
        return;
    }
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        s.points.iter().map(pick).fold(init, f)
    };
    let (t0, t1) = (
        fold(f64::min, f64::INFINITY, |p| p.0),
        fold(f64::max, f64::NEG_INFINITY, |p| p.0),
    );
    let (mut lo, mut hi) = (
        fold(f64::min, f64::INFINITY, |p| p.1),
        fold(f64::max, f64::NEG_INFINITY, |p| p.1),
    );
    if hi - lo < 1e-9 {
        lo -= 1.0;
        hi += 1.0;
    }
    let span = if t1 - t0 < 1e-9 { 1.0 } else { t1 - t0 };
    let x = |t: f64| left + (t - t0) / span * (right - left);
    let y = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top);
    let step = nice_step(hi - lo);
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 {
        let ty = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{left}" y1="{ty}" x2="{right}" y2="{ty}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{} {}</text>"##,
            left - 6.0,
            ty + 4.0,
            number(v),
            escape(&s.unit)
        );
        v += step;
    }
    for k in 0..=TICKS {
        let f = f64::from(k) / f64::from(TICKS);
        let t = t0 + span * f;
        let tx = x(t);
        let (_, mut time) = utc(t);
        // Fractions of a second for short captures.
        if span < 1.0 {
            let _ = write!(time, ".{:03.0}", (t.rem_euclid(1.0) * 1000.0).floor());
        } else if span < 10.0 {
            let _ = write!(time, ".{:.0}", (t.rem_euclid(1.0) * 10.0).floor());
        }
        let anchor = match k {
            0 => "start",
            TICKS => "end",
            _ => "middle",
        };
        let _ = writeln!(
            out,
            r##"<line x1="{tx}" y1="{bottom}" x2="{tx}" y2="{}" stroke="#333"/><text x="{tx}" y="{}" text-anchor="{anchor}">{time}</text>"##,
            bottom + 5.0,
            bottom + 18.0
        );
    }
    let (date, _) = utc(t0);
    let _ = writeln!(
        out,
        r#"<text x="{right}" y="{}" text-anchor="end">time (UTC) from {date}</text>"#,
        bottom + 34.0
    );
    let mut points = String::new();
    for (t, v) in &s.points {
        let _ = write!(points, "{:.1},{:.1} ", x(*t), y(*v));
    }
    let _ = writeln!(
        out,
        r##"<polyline fill="none" stroke="#05a" stroke-width="1.5" points="{}"/>"##,
        points.trim_end()
    );
    if s.points.len() <= 200 {
        for (t, v) in &s.points {
            let _ = write!(
                out,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#05a"/>"##,
                x(*t),
                y(*v)
            );
        }
        out.push('\n');
    }
    out.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_and_times() {
        assert_eq!(utc(0.0), ("1970-01-01".into(), "00:00:00".into()));
        assert_eq!(utc(951_782_400.0).0, "2000-02-29");
        assert_eq!(
            utc(1_700_000_000.0),
            ("2023-11-14".into(), "22:13:20".into())
        );
        assert_eq!(utc(-1.0), ("1969-12-31".into(), "23:59:59".into()));
    }

    #[test]
    fn empty_and_flat_series_draw_without_dividing_by_zero() {
        let flat = Series {
            label: "a<b".into(),
            unit: "%".into(),
            points: vec![(5.0, 1.0)],
        };
        let empty = Series {
            label: "none".into(),
            unit: String::new(),
            points: Vec::new(),
        };
        let out = svg("t & u", &[flat, empty]);
        assert!(out.contains("a&lt;b (%)") && out.contains("t &amp; u"));
        assert!(out.contains("no samples"));
        assert!(!out.contains("NaN") && !out.contains("inf"));
    }
}
