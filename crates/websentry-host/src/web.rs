//! The HTTP side of the proxy: `/metrics`, `/` and `/props.json`, served by
//! the bounded server of [`rewire_host::http`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rewire_host::http::{BindError, HttpConfig, HttpServer, Request, Response};

use crate::store::{MetricNames, Store};

/// What a request gets: status, content type, body. `/metrics` is the
/// classic Prometheus text format (which scrapers asking for OpenMetrics
/// accept too), with the names [`Store::metric_names`] says; with the
/// original exporter's names, `/props` (`?format=md` for markdown) and
/// `/last` are its pages too. `path` may carry a query (`/props?format=md`).
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
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let wmpe = store.metric_names() == MetricNames::Wmpe;
    match path {
        "/metrics" if wmpe => (
            200,
            rewire_host::metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
            store.render_wmpe_metrics(now),
        ),
        "/props" if wmpe && query.split('&').any(|q| q == "format=md") => {
            (200, "text/plain; charset=utf-8", store.wmpe_props(true))
        }
        "/props" if wmpe => (200, "text/html; charset=utf-8", store.wmpe_props(false)),
        "/last" if wmpe => match store.wmpe_last() {
            Some(page) => (200, "text/html; charset=utf-8", page),
            None => (
                404,
                "text/plain; charset=utf-8",
                "no last session (yet?)\n".into(),
            ),
        },
        "/metrics" => (
            200,
            rewire_host::metrics::PROMETHEUS_TEXT_CONTENT_TYPE,
            store.render_metrics(now),
        ),
        "/props.json" => (200, "application/json", store.props_json(now)),
        "/" | "/props" => (200, "text/html; charset=utf-8", store.status_page(now)),
        _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

/// Returns the request's path with its query, if any (`/props?format=md`).
fn target(r: &Request) -> String {
    match r.query() {
        Some(q) => format!("{}?{q}", r.path()),
        None => r.path().to_owned(),
    }
}

/// How long a rendered page is served again before it is rendered anew:
/// clients that pipeline requests for a large `/props.json` (and never read
/// the answers) cost one rendering per page per interval, not one each.
pub const RENDER_REUSE: Duration = Duration::from_millis(200);

/// The last rendering of each page.
#[derive(Default)]
struct Cache {
    pages: Mutex<Vec<(String, Instant, Response)>>,
}

impl Cache {
    fn get_or_render(&self, key: &str, render: impl FnOnce() -> Response) -> Response {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, at, r)) = pages.iter().find(|(k, _, _)| k == key)
            && at.elapsed() < RENDER_REUSE
        {
            return r.clone();
        }
        let response = render();
        pages.retain(|(k, _, _)| k != key);
        pages.push((key.to_owned(), Instant::now(), response.clone()));
        response
    }
}

/// Serves `store` over HTTP on `addr` from a thread of its own, until the
/// returned server is shut down or dropped. A page is rendered at most once
/// every [`RENDER_REUSE`].
///
/// # Errors
/// When the address cannot be bound.
pub fn serve(addr: SocketAddr, store: Arc<Store>) -> Result<HttpServer, BindError> {
    let cache = Cache::default();
    HttpServer::bind(addr, HttpConfig::default(), move |r: &Request| {
        let render = || {
            let (status, content_type, body) =
                respond(&store, r.method(), &target(r), SystemTime::now());
            Response::new(status, content_type, body)
        };
        match (r.method(), r.path()) {
            ("GET" | "HEAD", "/metrics" | "/props.json" | "/" | "/props" | "/last") => {
                cache.get_or_render(&target(r), render)
            }
            _ => render(),
        }
    })
}

/// Makes the operator's page of a dehumidifier (humidity against its set
/// point, temperatures, blower, modes, sessions); add its
/// [`rewire_page::Page::sink`] to the proxy's sinks and serve it with
/// [`serve_with_page`].
#[must_use]
pub fn operator_page() -> rewire_page::Page {
    rewire_page::Page::new(rewire_page::PageConfig::new(
        rewire_page::Headline::websentry(),
    ))
}

/// Serves what [`serve`] serves, with the operator's `page` on `/` and
/// `/api/*`; the full property table moves to `/props`, one click away.
///
/// # Errors
/// When the address cannot be bound.
pub fn serve_with_page(
    addr: SocketAddr,
    store: Arc<Store>,
    page: &rewire_page::Page,
) -> Result<HttpServer, BindError> {
    let cache = Cache::default();
    let page = page.clone();
    HttpServer::bind(addr, HttpConfig::default(), move |r: &Request| {
        if let Some(response) = page.respond(r) {
            return response;
        }
        let render = || {
            let (status, content_type, body) =
                respond(&store, r.method(), &target(r), SystemTime::now());
            Response::new(status, content_type, body)
        };
        match (r.method(), r.path()) {
            ("GET" | "HEAD", "/metrics" | "/props.json" | "/props" | "/last") => {
                cache.get_or_render(&target(r), render)
            }
            _ => render(),
        }
    })
}
