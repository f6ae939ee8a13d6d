//! Prometheus exposition helpers the live tools share.

use std::collections::HashSet;
use std::fmt::Write as _;

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
/// let text = rewire_cli::metrics::to_prometheus_text(
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
