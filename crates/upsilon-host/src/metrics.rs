//! Prometheus `/metrics`: the [`Snapshot`]'s readings and the hub's queue
//! counts, rendered by [`rewire_host::metrics::render`] at each scrape.

use std::net::SocketAddr;
use std::time::SystemTime;

use rewire_host::http::{BindError, HttpConfig, HttpServer, Request, Response};
use rewire_host::reading::{Reading, Unit, Value};
use rewire_host::sink::SinkStats;

use crate::hub::{Hub, Snapshot};
use crate::message::FAMILY;
use crate::webhook::WEBHOOK_SINK;

/// Renders the snapshot and the sinks' counts as classic Prometheus text:
/// `upsilon_input_voltage_volts`, `upsilon_status_bit{bit=…}`,
/// `upsilon_sms_alerts_total`, `upsilon_webhook_dropped_total`, ….
#[must_use]
pub fn render(snap: &Snapshot, sinks: &[SinkStats]) -> String {
    let mut readings = Vec::new();
    snap.readings(&mut readings);
    let now = SystemTime::now();
    let webhook = sinks.iter().find(|s| s.name == WEBHOOK_SINK);
    readings.push(Reading::counter(
        "webhook_dropped",
        "Webhook events dropped because the queue was full",
        webhook.map_or(0, SinkStats::dropped_total),
        now,
    ));
    readings.push(Reading::gauge(
        "webhook_queued",
        "Webhook events waiting",
        // Queue lengths stay far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        Value::Number(webhook.map_or(0, |s| s.queued) as f64),
        Unit::None,
        now,
    ));
    readings.extend(rewire_host::metrics::output_readings(sinks, now));
    rewire_host::metrics::render(FAMILY, &readings)
}

/// Answers one HTTP request: `GET /metrics` (classic Prometheus text), 404
/// for other paths, 405 for other methods.
#[must_use]
pub fn respond(hub: &Hub, request: &Request) -> Response {
    if !matches!(request.method(), "GET" | "HEAD") {
        return Response::text(405, "method not allowed\n");
    }
    match request.path() {
        "/metrics" => {
            let stats = hub.stats();
            let text = render(&hub.shared().lock(), &stats);
            Response::new(
                200,
                rewire_host::metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
                text,
            )
        }
        _ => Response::text(404, "see /metrics\n"),
    }
}

/// Messages the operator's page queues per lane (it only takes a lock).
const PAGE_QUEUE: usize = 1024;

/// Serves `GET /metrics` and the operator's page (`/`, `/api/*`, fed by a
/// [`rewire_page::PageSink`] added to `hub`) on `addr` from its own thread
/// until the returned server is shut down or dropped.
///
/// # Errors
/// When the address cannot be bound.
pub fn serve(addr: SocketAddr, hub: Hub) -> Result<HttpServer, BindError> {
    let page = rewire_page::Page::new(rewire_page::PageConfig::new(
        rewire_page::Headline::upsilon(),
    ));
    hub.add_sink(page.sink(), PAGE_QUEUE);
    let stats = hub.clone();
    page.set_outputs(move || stats.stats());
    let handler = page.handler(move |r: &Request| respond(&hub, r));
    HttpServer::bind(addr, HttpConfig::default(), handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_and_bits() {
        let mut snap = Snapshot::default();
        assert!(!render(&snap, &[]).contains("upsilon_input_voltage_volts"));
        snap.status = Some(
            rewire_upsilon::Status::parse(b"(000.0 230.0 229.0 020 00.0 25.0 --.- 10001001")
                .unwrap(),
        );
        snap.alerts = 2;
        let text = render(&snap, &[]);
        assert!(text.contains("upsilon_input_voltage_volts 0.0\n"), "{text}");
        assert!(text.contains("upsilon_output_voltage_volts 229.0\n"));
        assert!(text.contains("upsilon_load_percent 20.0\n"));
        assert!(!text.contains("upsilon_temperature_celsius"));
        assert!(text.contains("upsilon_status_bit{bit=\"utility_fail\"} 1.0\n"));
        assert!(text.contains("upsilon_status_bit{bit=\"battery_low\"} 0.0\n"));
        assert!(text.contains("upsilon_sms_alerts_total 2.0\n"), "{text}");
        assert!(text.contains("# TYPE upsilon_sms_alerts_total counter\n"));
        assert!(text.contains("# HELP upsilon_sms_alerts_total SMS alert"));
        assert!(
            text.contains("upsilon_webhook_dropped_total 0.0\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn webhook_drops_are_the_fanout_counts() {
        let stats = [SinkStats {
            name: WEBHOOK_SINK.into(),
            dropped: [5, 0, 0],
            queued: 3,
            inner_dropped: 0,
        }];
        let text = render(&Snapshot::default(), &stats);
        assert!(
            text.contains("upsilon_webhook_dropped_total 5.0\n"),
            "{text}"
        );
        assert!(text.contains("upsilon_webhook_queued 3.0\n"), "{text}");
        assert!(
            text.contains("upsilon_output_dropped_total{output=\"webhook\"} 5.0\n"),
            "{text}"
        );
    }
}
