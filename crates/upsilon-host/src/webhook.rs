//! Webhook delivery: each event POSTed as its JSON record, retried with
//! capped exponential backoff. The sink runs behind its own bounded queue in
//! the hub's [`rewire_host::sink::Fanout`], so a flood of error records can
//! never push out a state transition or an alert, and what it drops is
//! counted there (`upsilon_webhook_dropped_total`).

use std::time::{Duration, Instant};

use rewire_host::reading::{Observation, Priority};
use rewire_host::service::StopFlag;
use rewire_host::sink::Sink;
use rewire_transport::link::{Backoff, BackoffTimer};

use crate::message::Message;
use crate::record::Record;

/// The name of the webhook sink in the hub's queue counts.
pub const WEBHOOK_SINK: &str = "webhook";

/// Failed posts are said in the log at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Settings of a [`WebhookSink`].
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// The `http://` URL to POST to.
    pub url: String,
    /// How many messages of each priority may wait; beyond, new ones are
    /// dropped and counted.
    pub capacity: usize,
    /// Delays between retries of the message being delivered.
    pub backoff: Backoff,
    /// How long one POST may take.
    pub timeout: Duration,
    /// Also post `status` and `heartbeat` records (by default only events:
    /// transitions, link changes, alerts, errors).
    pub all_records: bool,
}

/// POSTs each message's JSON record to a URL, retrying each until it is
/// delivered or the sink is asked to stop.
pub struct WebhookSink {
    config: WebhookConfig,
    agent: ureq::Agent,
    timer: BackoffTimer,
    stop: StopFlag,
    delivered: u64,
    failures: u64,
    unreported: u64,
    last_report: Option<Instant>,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.config.url)
            .field("delivered", &self.delivered)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// Makes the sink; setting `stop` ends its retries (then it drops what
    /// it holds).
    #[must_use]
    pub fn new(config: WebhookConfig, stop: StopFlag) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(true)
            .build()
            .into();
        let timer = BackoffTimer::new(config.backoff);
        WebhookSink {
            config,
            agent,
            timer,
            stop,
            delivered: 0,
            failures: 0,
            unreported: 0,
            last_report: None,
        }
    }

    /// Returns whether `message` is posted: events always, statuses and
    /// heartbeats only with [`WebhookConfig::all_records`].
    #[must_use]
    pub fn wants(&self, message: &Message) -> bool {
        self.config.all_records || message.priority() != Priority::Routine
    }

    fn failed(&mut self, e: &ureq::Error) {
        self.failures += 1;
        self.unreported += 1;
        if self.last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            log::warn!(
                "webhook {}: {} post(s) failed ({e}); retrying",
                self.config.url,
                self.unreported
            );
            self.unreported = 0;
            self.last_report = Some(Instant::now());
        }
    }

    /// Sleeps `d` in short steps, returning early when asked to stop.
    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop.is_set() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}

impl Sink<Message> for WebhookSink {
    fn name(&self) -> &str {
        WEBHOOK_SINK
    }

    fn observe(&mut self, message: &Message) {
        if !self.wants(message) {
            return;
        }
        let body = Record::from_message(message).to_json();
        while !self.stop.is_set() {
            let sent = self
                .agent
                .post(&self.config.url)
                .header("Content-Type", "application/json")
                .send(body.as_str());
            match sent {
                Ok(_) => {
                    self.timer.reset();
                    self.delivered += 1;
                    return;
                }
                Err(e) => {
                    self.failed(&e);
                    let delay = self.timer.next_delay();
                    self.pause(delay);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use crate::message::{Body, Garbage};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    fn config(url: String, capacity: usize) -> WebhookConfig {
        WebhookConfig {
            url,
            capacity,
            backoff: Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(50),
                jitter: 0.0,
            },
            timeout: Duration::from_secs(2),
            all_records: false,
        }
    }

    /// Accepts posts after `hold` and sends each body's `kind` back.
    fn receiver(hold: Duration) -> (String, mpsc::Receiver<String>) {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/events", server.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            std::thread::sleep(hold);
            for conn in server.incoming() {
                let Ok(conn) = conn else { return };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut w = conn.try_clone().unwrap();
                    let mut r = BufReader::new(conn);
                    loop {
                        let mut len = 0;
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            let mut h = String::new();
                            if r.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            if h.trim().is_empty() {
                                break;
                            }
                            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; len];
                        r.read_exact(&mut body).unwrap();
                        w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        let _ = tx.send(v["kind"].as_str().unwrap().to_owned());
                    }
                });
            }
        });
        (url, rx)
    }

    #[test]
    fn an_error_flood_never_evicts_a_transition() {
        // The receiver answers only after the flood: the queue is full of
        // errors by then, and the transitions must still be delivered.
        let (url, rx) = receiver(Duration::from_millis(500));
        let hub = Hub::new("ups");
        let stop = StopFlag::new();
        hub.add_sink(WebhookSink::new(config(url, 4), stop.clone()), 4);
        for n in 0..200 {
            hub.publish(Message::new(
                hub.device(),
                Body::Error(Garbage::new(n, 1, "garbage", b"x")),
            ));
        }
        let online =
            rewire_upsilon::Status::parse(b"(230.0 230.0 230.0 020 50.0 27.2 --.- 00001000")
                .unwrap();
        let on_batt =
            rewire_upsilon::Status::parse(b"(000.0 230.0 229.0 020 00.0 25.0 --.- 10001000")
                .unwrap();
        hub.publish(Message::status(hub.device(), online));
        hub.publish(Message::status(hub.device(), on_batt));
        hub.publish(Message::status(hub.device(), online));
        let dropped = hub
            .stats()
            .into_iter()
            .find(|s| s.name == WEBHOOK_SINK)
            .unwrap()
            .dropped;
        assert!(dropped[0] > 150, "errors dropped: {dropped:?}");
        assert_eq!(dropped[2], 0, "no alert dropped: {dropped:?}");
        let mut kinds = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !kinds.contains(&"back_on_line".to_owned()) {
            let left = deadline.saturating_duration_since(Instant::now());
            kinds.push(rx.recv_timeout(left).expect("transitions delivered"));
        }
        assert!(kinds.contains(&"on_battery".to_owned()), "{kinds:?}");
        assert!(!kinds.contains(&"status".to_owned()), "{kinds:?}");
        stop.set();
        hub.close();
    }
}
