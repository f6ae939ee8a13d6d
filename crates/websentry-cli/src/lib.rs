//! The `websentry` tool as a library: the record model shared by every mode
//! ([`record`]), decoding of captures and raw logs ([`decode`]), the transparent relay and exporter ([`proxy`], [`store`],
//! [`web`], [`rawlog`]), and simulators of both ends ([`simulate`]).
//!
//! The binary (`src/main.rs`) only parses arguments into the configs here.
#![forbid(unsafe_code)]

pub mod decode;
pub mod proxy;
pub mod rawlog;
pub mod record;
pub mod simulate;
pub mod store;
pub mod web;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Runs `websentry proxy`: binds the relay and the HTTP server, prints
/// `listening on ADDR` and `http on ADDR` on stdout (the real ports when
/// bound to port 0), then relays until the process ends.
///
/// # Errors
/// When an address cannot be bound, or accepting keeps failing.
pub fn run_proxy(config: proxy::ProxyConfig, http: &str, max_age: Duration) -> anyhow::Result<()> {
    let store = Arc::new(store::Store::new(max_age));
    let relay = proxy::Proxy::bind(config, Arc::clone(&store))?;
    let server = web::serve(http, Arc::clone(&store))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", relay.local_addr())?;
        writeln!(out, "http on {}", server.local_addr())?;
        out.flush()?;
    }
    let served = relay.serve(&AtomicBool::new(false));
    server.shutdown();
    served
}
