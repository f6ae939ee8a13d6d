//! The HTTP side of the proxy: `/metrics`, `/` and `/props.json`, served by
//! the bounded server of [`rewire_host::http`].

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::anyhow;
use rewire_host::http::{HttpConfig, HttpServer, Request, Response};

use rewire_host::metrics::to_prometheus_text;

use crate::store::Store;

/// What a request gets: status, content type, body. `/metrics` is
/// OpenMetrics when the `Accept` header asks for it, else the classic
/// Prometheus text format.
#[must_use]
pub fn respond(
    store: &Store,
    method: &str,
    path: &str,
    accept: &str,
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
        "/metrics" if accept.contains("application/openmetrics-text") => (
            200,
            rewire_host::metrics::OPENMETRICS_CONTENT_TYPE,
            store.render_metrics(now),
        ),
        "/metrics" => (
            200,
            rewire_host::metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
            to_prometheus_text(&store.render_metrics(now)),
        ),
        "/props.json" => (200, "application/json", store.props_json(now)),
        "/" => (200, "text/html; charset=utf-8", store.status_page(now)),
        _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

/// Serves `store` over HTTP on `addr` (an `IP:PORT`; a name is resolved and
/// its first address used) from a thread of its own, until the returned
/// server is shut down or dropped.
///
/// # Errors
/// When the address does not resolve or cannot be bound.
pub fn serve(addr: &str, store: Arc<Store>) -> anyhow::Result<HttpServer> {
    let resolved = addr
        .to_socket_addrs()
        .map_err(|e| anyhow!("cannot listen on {addr}: {e}"))?
        .next()
        .ok_or_else(|| anyhow!("cannot listen on {addr}: no address"))?;
    let server = HttpServer::bind(resolved, HttpConfig::default(), move |r: &Request| {
        let (status, content_type, body) = respond(
            &store,
            r.method(),
            r.path(),
            r.header("accept").unwrap_or(""),
            SystemTime::now(),
        );
        Response::new(status, content_type, body)
    })?;
    Ok(server)
}
