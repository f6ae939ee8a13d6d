//! Webhook delivery: each event POSTed as JSON from a bounded queue, retried
//! with capped exponential backoff; when the queue is full the oldest event
//! is dropped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use rewire_transport::link::{Backoff, BackoffTimer};

/// Settings of a [`Webhook`].
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// The `http://` URL to POST to.
    pub url: String,
    /// How many events may wait; beyond, the oldest is dropped.
    pub capacity: usize,
    /// Delays between retries of the event at the head of the queue.
    pub backoff: Backoff,
    /// How long one POST may take.
    pub timeout: Duration,
    /// Also post `status` and `heartbeat` records (by default only events:
    /// transitions, alerts, errors).
    pub all_records: bool,
}

#[derive(Debug, Default)]
struct Inner {
    queue: Mutex<VecDeque<String>>,
    ready: Condvar,
    dropped: AtomicU64,
    delivered: AtomicU64,
    failures: AtomicU64,
    stop: AtomicBool,
}

/// A running webhook sender (cheap to clone; all clones share the queue).
#[derive(Debug, Clone)]
pub struct Webhook {
    inner: Arc<Inner>,
    capacity: usize,
    all_records: bool,
}

impl Webhook {
    /// Starts the sender thread.
    pub fn start(config: WebhookConfig) -> Self {
        let inner = Arc::new(Inner::default());
        let hook = Webhook {
            inner: Arc::clone(&inner),
            capacity: config.capacity.max(1),
            all_records: config.all_records,
        };
        thread::spawn(move || deliver(&inner, &config));
        hook
    }

    /// Queues one JSON record, unless it is a status/heartbeat and the
    /// webhook posts events only. Drops the oldest when full.
    pub fn push(&self, json: String) {
        if !self.all_records
            && (json.starts_with("{\"kind\":\"status\"")
                || json.starts_with("{\"kind\":\"heartbeat\""))
        {
            return;
        }
        let mut q = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while q.len() >= self.capacity {
            q.pop_front();
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(json);
        self.inner.ready.notify_one();
    }

    /// Returns how many events were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Returns how many events were delivered.
    pub fn delivered(&self) -> u64 {
        self.inner.delivered.load(Ordering::Relaxed)
    }

    /// Returns how many POSTs failed (each retry counts).
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Returns how many events wait.
    pub fn queued(&self) -> u64 {
        let q = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q.len() as u64
    }

    /// Stops the sender after its current attempt.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        self.inner.ready.notify_all();
    }
}

fn deliver(inner: &Inner, config: &WebhookConfig) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(config.timeout))
        .http_status_as_error(true)
        .build()
        .into();
    let mut timer = BackoffTimer::new(config.backoff);
    while !inner.stop.load(Ordering::Relaxed) {
        let head = {
            let mut q = inner
                .queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while q.is_empty() && !inner.stop.load(Ordering::Relaxed) {
                q = inner
                    .ready
                    .wait_timeout(q, Duration::from_millis(200))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            match q.front() {
                Some(h) => h.clone(),
                None => continue,
            }
        };
        let sent = agent
            .post(&config.url)
            .header("Content-Type", "application/json")
            .send(head.as_str());
        match sent {
            Ok(_) => {
                timer.reset();
                inner.delivered.fetch_add(1, Ordering::Relaxed);
                let mut q = inner
                    .queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // The head may have been dropped meanwhile by a full queue.
                if q.front() == Some(&head) {
                    q.pop_front();
                }
            }
            Err(_) => {
                inner.failures.fetch_add(1, Ordering::Relaxed);
                thread::sleep(timer.next_delay());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable_hook(capacity: usize) -> Webhook {
        // Port 9 on loopback: nothing listens, every POST fails fast.
        Webhook::start(WebhookConfig {
            url: "http://127.0.0.1:9/".into(),
            capacity,
            backoff: Backoff {
                initial: Duration::from_secs(30),
                max: Duration::from_secs(30),
                jitter: 0.0,
            },
            timeout: Duration::from_millis(200),
            all_records: false,
        })
    }

    #[test]
    fn full_queue_drops_the_oldest_and_counts() {
        let hook = unreachable_hook(3);
        for i in 0..10 {
            hook.push(format!("{{\"kind\":\"on_battery\",\"n\":{i}}}"));
        }
        assert_eq!(hook.queued(), 3);
        assert_eq!(hook.dropped(), 7);
        let q = hook.inner.queue.lock().unwrap();
        assert!(q.back().unwrap().contains("\"n\":9"));
        drop(q);
        hook.stop();
    }

    #[test]
    fn statuses_are_not_posted_by_default() {
        let hook = unreachable_hook(3);
        hook.push("{\"kind\":\"status\"}".into());
        hook.push("{\"kind\":\"heartbeat\"}".into());
        assert_eq!(hook.queued(), 0);
        hook.stop();
    }
}
