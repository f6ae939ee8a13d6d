//! The HTTP side of the proxy: `/metrics`, `/` and `/props.json`, served by
//! `tiny_http` on one thread (scrapes and page views are rare and cheap).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::anyhow;
use tiny_http::{Header, Method, Response, Server};

use rewire_cli::metrics::to_prometheus_text;

use crate::store::Store;

/// A bound HTTP server.
pub struct HttpServer {
    server: Arc<Server>,
    local: SocketAddr,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("local", &self.local)
            .finish()
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

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
            rewire_cli::metrics::OPENMETRICS_CONTENT_TYPE,
            store.render_metrics(now),
        ),
        "/metrics" => (
            200,
            rewire_cli::metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
            to_prometheus_text(&store.render_metrics(now)),
        ),
        "/props.json" => (200, "application/json", store.props_json(now)),
        "/" => (200, "text/html; charset=utf-8", store.status_page(now)),
        _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

impl HttpServer {
    /// Binds `addr`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn bind(addr: &str) -> anyhow::Result<Self> {
        let server = Server::http(addr).map_err(|e| anyhow!("cannot listen on {addr}: {e}"))?;
        let local = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow!("{addr} is not an IP address"))?;
        Ok(Self {
            server: Arc::new(server),
            local,
        })
    }

    /// Returns the bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Returns a handle that stops [`HttpServer::serve`] when dropped or
    /// unblocked.
    #[must_use]
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.server))
    }

    /// Answers requests until stopped.
    pub fn serve(&self, store: &Store) {
        for request in self.server.incoming_requests() {
            let method = request.method().to_string();
            let accept = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Accept"))
                .map(|h| h.value.as_str().to_owned())
                .unwrap_or_default();
            let (status, content_type, body) =
                respond(store, &method, request.url(), &accept, SystemTime::now());
            let mut response = Response::from_string(body).with_status_code(status);
            if let Some(h) = header("Content-Type", content_type) {
                response = response.with_header(h);
            }
            if *request.method() == Method::Head {
                let _ = request.respond(response.with_data(std::io::empty(), Some(0)));
            } else {
                let _ = request.respond(response);
            }
        }
    }
}

/// Stops an [`HttpServer`]'s `serve` loop.
#[derive(Clone)]
pub struct Stopper(Arc<Server>);

impl std::fmt::Debug for Stopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stopper")
    }
}

impl Stopper {
    /// Makes `serve` return.
    pub fn stop(&self) {
        self.0.unblock();
    }
}
