//! Prometheus `/metrics` (built with `prometheus-client`, served in the
//! classic text format), from the shared [`Snapshot`] at each scrape.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rewire_host::http::{BindError, HttpConfig, HttpServer, Request, Response};

use crate::hub::{Shared, Snapshot};

type Labels = Vec<(String, String)>;

fn float_gauge(v: f64) -> Gauge<f64, AtomicU64> {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(v);
    g
}

/// Renders the snapshot as OpenMetrics text.
pub fn render(snap: &Snapshot) -> String {
    let mut reg = Registry::default();
    let mut float = |name: &str, help: &str, v: Option<f64>| {
        if let Some(v) = v {
            reg.register(name, help, float_gauge(v));
        }
    };
    let st = snap.status.as_ref();
    float(
        "upsilon_input_voltage_volts",
        "Input voltage",
        st.and_then(|s| s.input_voltage),
    );
    float(
        "upsilon_input_fault_voltage_volts",
        "Input fault voltage held since the last query",
        st.and_then(|s| s.input_fault_voltage),
    );
    float(
        "upsilon_output_voltage_volts",
        "Output voltage",
        st.and_then(|s| s.output_voltage),
    );
    float(
        "upsilon_load_percent",
        "Load in percent of the maximum",
        st.and_then(|s| s.load_percent).map(f64::from),
    );
    float(
        "upsilon_input_frequency_hertz",
        "Input frequency",
        st.and_then(|s| s.input_frequency),
    );
    float(
        "upsilon_battery_voltage_volts",
        "Battery voltage (per cell on on-line UPSes)",
        st.and_then(|s| s.battery_voltage),
    );
    float(
        "upsilon_temperature_celsius",
        "UPS temperature, when the UPS reports one",
        st.and_then(|s| s.temperature),
    );
    float(
        "upsilon_status_age_seconds",
        "Seconds since the last status",
        snap.status_at.map(|t| t.elapsed().as_secs_f64()),
    );
    float(
        "upsilon_heartbeat_age_seconds",
        "Seconds since the last UPSilon heartbeat",
        snap.heartbeat_at.map(|t| t.elapsed().as_secs_f64()),
    );
    if let Some(s) = st {
        let bits: Family<Labels, Gauge> = Family::default();
        for (name, on) in [
            ("utility_fail", s.utility_fail),
            ("battery_low", s.battery_low),
            ("bypass_active", s.bypass_active),
            ("ups_failed", s.ups_failed),
            ("standby", s.standby),
            ("test_in_progress", s.test_in_progress),
            ("shutdown_active", s.shutdown_active),
            ("beeper_on", s.beeper_on),
        ] {
            bits.get_or_create(&vec![("bit".to_owned(), name.to_owned())])
                .set(i64::from(on));
        }
        reg.register("upsilon_status_bit", "Q1 status bits (1 = set)", bits);
    }
    if let Some(h) = &snap.heartbeat {
        let g: Gauge = Gauge::default();
        g.set(i64::from(h.connected));
        reg.register(
            "upsilon_heartbeat_connected",
            "1 when UPSilon's last heartbeat said a UPS is connected",
            g,
        );
    }
    let links: Family<Labels, Gauge> = Family::default();
    for (name, up) in &snap.links {
        links
            .get_or_create(&vec![("link".to_owned(), name.clone())])
            .set(i64::from(*up));
    }
    reg.register(
        "upsilon_link_up",
        "1 when the data source link is up",
        links,
    );
    let alerts: Counter = Counter::default();
    alerts.inc_by(snap.alerts);
    reg.register("upsilon_sms_alerts", "SMS alert requests received", alerts);
    let events: Family<Labels, Counter> = Family::default();
    for (kind, n) in &snap.events {
        events
            .get_or_create(&vec![("kind".to_owned(), (*kind).to_owned())])
            .inc_by(*n);
    }
    reg.register("upsilon_records", "Records published, by kind", events);
    let dropped: Counter = Counter::default();
    dropped.inc_by(snap.webhook_dropped);
    reg.register(
        "upsilon_webhook_dropped",
        "Webhook events dropped because the queue was full",
        dropped,
    );
    let queued: Gauge = Gauge::default();
    queued.set(i64::try_from(snap.webhook_queued).unwrap_or(i64::MAX));
    reg.register("upsilon_webhook_queued", "Webhook events waiting", queued);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    rewire_host::metrics::to_prometheus_text(&out)
}

/// Answers one HTTP request from the shared snapshot: `GET /metrics`
/// (classic Prometheus text), 404 for other paths, 405 for other methods.
#[must_use]
pub fn respond(shared: &Shared, request: &Request) -> Response {
    if !matches!(request.method(), "GET" | "HEAD") {
        return Response::text(405, "method not allowed\n");
    }
    match request.path() {
        "/metrics" => Response::new(
            200,
            rewire_host::metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
            render(&shared.lock()),
        ),
        _ => Response::text(404, "see /metrics\n"),
    }
}

/// Serves `GET /metrics` on `addr` from its own thread until the returned
/// server is shut down or dropped.
///
/// # Errors
/// When the address cannot be bound.
pub fn serve(addr: SocketAddr, shared: Shared) -> Result<HttpServer, BindError> {
    HttpServer::bind(addr, HttpConfig::default(), move |r: &Request| {
        respond(&shared, r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::StatusRecord;
    use rewire_upsilon::parse_status;

    #[test]
    fn renders_values_and_bits() {
        let mut snap = Snapshot::default();
        assert!(!render(&snap).contains("upsilon_input_voltage_volts"));
        snap.status = Some(StatusRecord::from_status(
            &parse_status(b"(000.0 230.0 229.0 020 00.0 25.0 --.- 10001001").unwrap(),
        ));
        snap.alerts = 2;
        let text = render(&snap);
        assert!(text.contains("upsilon_input_voltage_volts 0.0\n"), "{text}");
        assert!(text.contains("upsilon_output_voltage_volts 229.0\n"));
        assert!(text.contains("upsilon_load_percent 20.0\n"));
        assert!(!text.contains("upsilon_temperature_celsius"));
        assert!(text.contains("upsilon_status_bit{bit=\"utility_fail\"} 1\n"));
        assert!(text.contains("upsilon_status_bit{bit=\"battery_low\"} 0\n"));
        assert!(text.contains("upsilon_sms_alerts_total 2\n"));
        assert!(text.contains("# TYPE upsilon_sms_alerts_total counter\n"));
        assert!(text.contains("# HELP upsilon_sms_alerts_total SMS alert"));
        assert!(!text.contains("# EOF"));
    }
}
