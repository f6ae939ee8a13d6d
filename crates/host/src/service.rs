//! Running services and stopping them: every server and long-running loop
//! of the host libraries returns a [`Service`] whose [`Service::shutdown`]
//! stops it within a second and joins its threads.
//!
//! The loops poll a shared [`StopFlag`] at least every 200 ms (their reads
//! and accepts have timeouts), so a flag is all they need.
//!
//! ```
//! use std::time::Duration;
//! use rewire_host::service::Service;
//!
//! let mut service = Service::new("ticker");
//! service.spawn("tick", |stop| {
//!     while !stop.is_set() {
//!         std::thread::sleep(Duration::from_millis(10));
//!     }
//! })?;
//! service.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http::HttpServer;

/// A flag that asks loops to stop; cheap to clone and to check.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Makes a flag that is not set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps an existing flag (a Ctrl-C handler's, say).
    #[must_use]
    pub fn from_arc(flag: Arc<AtomicBool>) -> Self {
        Self(flag)
    }

    /// Asks every loop holding the flag to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Returns whether stopping was asked for.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Returns the flag as the `&AtomicBool` older loops take.
    #[must_use]
    pub fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
}

/// How long [`Service::shutdown`] waits for threads before leaving them.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(1);

/// A running service: its threads, its HTTP servers and the flag that stops
/// them. Dropping it stops it too.
#[derive(Debug)]
pub struct Service {
    name: String,
    stop: StopFlag,
    threads: Vec<JoinHandle<()>>,
    http: Vec<HttpServer>,
}

impl Service {
    /// Makes an empty service called `name` (for thread names and logs).
    pub fn new(name: impl Into<String>) -> Self {
        Self::with_flag(name, StopFlag::new())
    }

    /// Makes an empty service stopped by an existing `stop` flag too.
    pub fn with_flag(name: impl Into<String>, stop: StopFlag) -> Self {
        Self {
            name: name.into(),
            stop,
            threads: Vec::new(),
            http: Vec::new(),
        }
    }

    /// Returns the service's stop flag.
    #[must_use]
    pub fn stop_flag(&self) -> &StopFlag {
        &self.stop
    }

    /// Runs `body` on a new thread named `NAME/part`; `body` must return
    /// soon after the flag it gets is set.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn(
        &mut self,
        part: &str,
        body: impl FnOnce(&StopFlag) + Send + 'static,
    ) -> io::Result<()> {
        let stop = self.stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{}/{part}", self.name))
            .spawn(move || body(&stop))?;
        self.threads.push(thread);
        Ok(())
    }

    /// Keeps `server` running as part of the service.
    pub fn serve_http(&mut self, server: HttpServer) {
        self.http.push(server);
    }

    /// Returns whether every thread of the service has ended (a service
    /// whose sources all ended has nothing left to do).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Stops the service: sets the flag, shuts the HTTP servers down and
    /// joins the threads, waiting at most [`SHUTDOWN_LIMIT`] for them.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.set();
        for server in self.http.drain(..) {
            server.shutdown();
        }
        let deadline = Instant::now() + SHUTDOWN_LIMIT;
        for thread in self.threads.drain(..) {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                log::warn!("{}: a thread did not stop within a second", self.name);
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop_now();
    }
}
