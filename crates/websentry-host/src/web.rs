//! The HTTP side of the proxy: `/metrics`, `/` and `/props.json`, served by
//! the bounded server of [`rewire_host::http`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use rewire_host::http::{BindError, HttpConfig, HttpServer, Request, Response};

use crate::store::Store;

/// What a request gets: status, content type, body. `/metrics` is the
/// classic Prometheus text format (which scrapers asking for OpenMetrics
/// accept too).
#[must_use]
pub fn respond(
    store: &Store,
    method: &str,
    path: &str,
    now: SystemTime,
) -> (u16, &'static str, String) {
    if method != "GET" && method != "HEAD" {
        return (
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".into(),
        );
    }
    match path.split('?').next().unwrap_or("") {
        "/metrics" => (
            200,
            rewire_host::metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
            store.render_metrics(now),
        ),
        "/props.json" => (200, "application/json", store.props_json(now)),
        "/" => (200, "text/html; charset=utf-8", store.status_page(now)),
        _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

/// Serves `store` over HTTP on `addr` from a thread of its own, until the
/// returned server is shut down or dropped.
///
/// # Errors
/// When the address cannot be bound.
pub fn serve(addr: SocketAddr, store: Arc<Store>) -> Result<HttpServer, BindError> {
    HttpServer::bind(addr, HttpConfig::default(), move |r: &Request| {
        let (status, content_type, body) = respond(&store, r.method(), r.path(), SystemTime::now());
        Response::new(status, content_type, body)
    })
}
