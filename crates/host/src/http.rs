//! A small HTTP/1.1 server for the live tools' `/metrics`, pages and JSON,
//! with every resource bounded.
//!
//! It is hyper's HTTP/1 connection state machine on a one-thread tokio
//! runtime in a thread of its own, so the blocking device paths never share
//! a thread with it and one slow client never holds up another. The limits:
//!
//! - **header size**: a request head larger than [`HttpConfig::max_header_bytes`]
//!   closes the connection (hyper's read buffer cap);
//! - **body size**: the handlers read no body; a request that declares more
//!   than [`HttpConfig::max_body_bytes`] (or a chunked body) is answered
//!   `413` and the connection closed, and nothing is buffered for it;
//! - **time**: the head must arrive within [`HttpConfig::header_timeout`],
//!   and a connection lives at most [`HttpConfig::connection_timeout`], so a
//!   client that never reads its response frees its slot;
//! - **connections**: at most [`HttpConfig::max_connections`] at once; more
//!   are accepted and closed at once, and counted.
//!
//! Accept errors (`EMFILE` when descriptors run out) are logged once per
//! episode, retried with a capped backoff, and counted; the server keeps
//! serving when descriptors free up. [`HttpServer::shutdown`] (or dropping the
//! server) stops it and joins its thread within a second.
//!
//! ```no_run
//! use rewire_host::http::{HttpConfig, HttpServer, Response};
//!
//! let server = HttpServer::bind(
//!     "127.0.0.1:0".parse()?,
//!     HttpConfig::default(),
//!     |req: &rewire_host::http::Request| match req.path() {
//!         "/metrics" => Response::new(200, "text/plain; version=0.0.4", "up 1\n"),
//!         _ => Response::text(404, "not found\n"),
//!     },
//! )?;
//! println!("serving on http://{}/metrics", server.local_addr());
//! server.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};

/// hyper refuses a read buffer below this size.
const MIN_HEADER_BYTES: usize = 8 * 1024;
/// The longest pause between accept retries while accepting fails.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The limits of an [`HttpServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// Connections served at once; more are closed on accept (default 64).
    pub max_connections: usize,
    /// Largest request head in bytes (default 16 KiB; at least 8 KiB is used).
    pub max_header_bytes: usize,
    /// Largest request body a client may declare (default 0: no handler reads one).
    pub max_body_bytes: u64,
    /// Time a client has to send a request head, also between keep-alive
    /// requests (default 10 s).
    pub header_timeout: Duration,
    /// Longest life of one connection, whatever it is doing (default 60 s).
    pub connection_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_connections: 64,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 0,
            header_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(60),
        }
    }
}

/// A request as a handler sees it: method, target and headers (never a body).
#[derive(Debug)]
pub struct Request {
    parts: hyper::http::request::Parts,
}

impl Request {
    /// Builds a request for `method` and `target` (`/path?query`), as a test
    /// or an embedding program would hand it to a handler.
    ///
    /// # Errors
    /// When the method or target is not valid HTTP.
    pub fn new(method: &str, target: &str) -> Result<Self, InvalidRequest> {
        let (parts, ()) = hyper::Request::builder()
            .method(method)
            .uri(target)
            .body(())
            .map_err(|_| InvalidRequest)?
            .into_parts();
        Ok(Self { parts })
    }

    /// Adds a header (for tests and embedding programs).
    ///
    /// # Errors
    /// When the name or value is not a valid header.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, InvalidRequest> {
        let name =
            hyper::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| InvalidRequest)?;
        let value = HeaderValue::from_str(value).map_err(|_| InvalidRequest)?;
        self.parts.headers.append(name, value);
        Ok(self)
    }

    /// Returns the method (`GET`, `HEAD`, …).
    #[must_use]
    pub fn method(&self) -> &str {
        self.parts.method.as_str()
    }

    /// Returns the path without the query.
    #[must_use]
    pub fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// Returns the query string after `?`, if any.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.parts.uri.query()
    }

    /// Returns the first value of header `name` (any case), if it is text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Returned by [`Request::new`] for a method, target or header that is not
/// valid HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid HTTP request")]
pub struct InvalidRequest;

/// What a handler answers: a status, a content type and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    content_type: Cow<'static, str>,
    body: Bytes,
}

impl Response {
    /// Makes a response with `status`, `content_type` and `body`.
    pub fn new(
        status: u16,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Bytes>,
    ) -> Self {
        Self {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// Makes a `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }

    /// Returns the status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Returns the content type.
    #[must_use]
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Returns the body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Returns the body as text (lossy for bytes that are not UTF-8).
    #[must_use]
    pub fn body_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// Answers requests. Runs on the server's thread: keep it short (render from
/// a snapshot under a lock, never wait on a device).
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: &Request) -> Response;
}

impl<F> Handler for F
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &Request) -> Response {
        self(request)
    }
}

/// What an [`HttpServer`] has counted since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections closed on accept because [`HttpConfig::max_connections`]
    /// were open.
    pub rejected: u64,
    /// Failed `accept` calls (such as `EMFILE`).
    pub accept_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    accept_errors: AtomicU64,
}

/// Returned by [`HttpServer::bind`] when the server cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// A running HTTP server; stops when shut down or dropped.
#[derive(Debug)]
pub struct HttpServer {
    local: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl HttpServer {
    /// Binds `addr` and serves `handler` on a thread of its own.
    ///
    /// # Errors
    /// When the address cannot be bound or the thread cannot start.
    pub fn bind(
        addr: SocketAddr,
        config: HttpConfig,
        handler: impl Handler,
    ) -> Result<Self, BindError> {
        let err = |source| BindError { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(err)?;
        let (stop, stopped) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let handler: Arc<dyn Handler> = Arc::new(handler);
        let thread_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name(format!("http {local}"))
            .spawn(move || {
                runtime.block_on(accept_loop(
                    listener,
                    local,
                    config,
                    handler,
                    thread_counters,
                    stopped,
                ));
                // Open connections end here, wherever they are.
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .map_err(err)?;
        Ok(Self {
            local,
            stop,
            thread: Some(thread),
            counters,
        })
    }

    /// Returns the bound address (the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Returns what the server has counted so far.
    #[must_use]
    pub fn stats(&self) -> HttpStats {
        HttpStats {
            accepted: self.counters.accepted.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            accept_errors: self.counters.accept_errors.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting, closes every connection and joins the server thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    local: SocketAddr,
    config: HttpConfig,
    handler: Arc<dyn Handler>,
    counters: Arc<Counters>,
    mut stopped: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            log::error!("http {local}: cannot start: {e}");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut backoff: Option<Duration> = None;
    let mut refusing = false;
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                if backoff.take().is_some() {
                    log::info!("http {local}: accepting connections again");
                }
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    counters.rejected.fetch_add(1, Ordering::Relaxed);
                    if !refusing {
                        refusing = true;
                        log::warn!(
                            "http {local}: {} connections open; closing new ones until some end",
                            config.max_connections
                        );
                    }
                    drop(stream);
                    continue;
                };
                refusing = false;
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    serve_connection(stream, config, handler).await;
                    drop(permit);
                });
            }
            Err(e) => {
                counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                let wait = match backoff {
                    None => {
                        log::warn!("http {local}: accept failed: {e}; retrying");
                        Duration::from_millis(20)
                    }
                    Some(d) => (d * 2).min(MAX_ACCEPT_BACKOFF),
                };
                backoff = Some(wait);
                tokio::select! {
                    _ = stopped.changed() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    config: HttpConfig,
    handler: Arc<dyn Handler>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let response = answer(&*handler, request, config.max_body_bytes);
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(config.max_header_bytes.max(MIN_HEADER_BYTES))
        .serve_connection(TokioIo::new(stream), service);
    // Whatever the connection is doing when its time is up, it ends.
    let _ = tokio::time::timeout(config.connection_timeout, connection).await;
}

fn answer(
    handler: &dyn Handler,
    request: hyper::Request<Incoming>,
    max_body: u64,
) -> hyper::Response<Full<Bytes>> {
    let declared = request.body().size_hint().upper();
    let too_large = declared.is_none_or(|n| n > max_body);
    let (parts, _body) = request.into_parts();
    let head = parts.method == hyper::Method::HEAD;
    let response = if too_large {
        Response::text(413, "request body too large\n")
    } else {
        handler.handle(&Request { parts })
    };
    let body = if head {
        Bytes::new()
    } else {
        response.body.clone()
    };
    let mut out = hyper::Response::new(Full::new(body));
    *out.status_mut() = hyper::StatusCode::from_u16(response.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(&response.content_type) {
        out.headers_mut().insert(CONTENT_TYPE, v);
    }
    if too_large {
        out.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    out
}
