//! Where a device library's messages go: the [`Sink`] trait, and the
//! [`Fanout`] that hands every message to many sinks without letting a slow
//! one stall the device.
//!
//! Each sink added with [`Fanout::add`] runs on a thread of its own behind a
//! bounded queue with three lanes, one per [`Priority`]: a flood of errors
//! fills only the error lane, so it can never push a state transition or an
//! alert out. A full lane drops the newest message of that lane and counts
//! it; the count is in [`Fanout::stats`] (for `/metrics`) and said in a log
//! line at most every ten seconds. A sink's thread takes messages in the
//! order they were published, whatever their lane.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use rewire_host::reading::{DeviceId, Event, Observation, Reading};
//! use rewire_host::sink::{Fanout, Sink};
//!
//! struct Line(DeviceId, &'static str);
//! impl Observation for Line {
//!     fn device(&self) -> &DeviceId { &self.0 }
//!     fn readings(&self, _: &mut Vec<Reading>) {}
//!     fn event(&self) -> Option<Event> { None }
//! }
//! struct Collect(Arc<Mutex<Vec<&'static str>>>);
//! impl Sink<Line> for Collect {
//!     fn name(&self) -> &str { "collect" }
//!     fn observe(&mut self, m: &Line) { self.0.lock().unwrap().push(m.1) }
//! }
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let mut fanout = Fanout::new();
//! fanout.add(Collect(Arc::clone(&seen)), 16);
//! fanout.publish(Line(DeviceId::new("upsilon", "ups"), "hello"));
//! fanout.close();
//! assert_eq!(*seen.lock().unwrap(), ["hello"]);
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::reading::{Observation, Priority};

/// An output of a device library's messages: stdout, a webhook, a shared
/// snapshot, MQTT, a page. One implementation per output, written once for
/// every device when it only uses [`Observation`].
pub trait Sink<M>: Send {
    /// Returns a short name for logs and drop counts (`stdout`, `webhook`).
    fn name(&self) -> &str;
    /// Takes one message. May block (a slow pipe, a network post): it runs
    /// on the sink's own thread.
    fn observe(&mut self, message: &M);
    /// Called once when the fan-out closes, after the last message.
    fn finish(&mut self) {}
    /// Returns a reader of what the output itself dropped after taking it
    /// (a broker's bounded outbox while the broker is away), so that
    /// [`Fanout::stats`] counts those drops with the queue's. `None` (the
    /// default) for outputs that drop nothing of their own.
    fn inner_drops(&self) -> Option<InnerDrops> {
        None
    }
}

/// Reads how many messages an output dropped by itself (see
/// [`Sink::inner_drops`]).
pub type InnerDrops = Box<dyn Fn() -> u64 + Send + Sync>;

/// What one queued sink has counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Messages dropped because its queue was full, by lane: errors,
    /// routine, alerts.
    pub dropped: [u64; 3],
    /// Messages waiting now.
    pub queued: u64,
    /// Messages the output dropped by itself after taking them (see
    /// [`Sink::inner_drops`]).
    pub inner_dropped: u64,
}

impl SinkStats {
    /// Returns all messages dropped, whatever the lane, the output's own
    /// drops included.
    #[must_use]
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum::<u64>() + self.inner_dropped
    }
}

fn lane(priority: Priority) -> usize {
    match priority {
        Priority::Error => 0,
        Priority::Routine => 1,
        Priority::Alert => 2,
    }
}

struct Lanes<M> {
    lanes: [VecDeque<(u64, Arc<M>)>; 3],
    cap: usize,
    dropped: [u64; 3],
    /// Drops not yet said in a log line.
    unreported: u64,
    last_report: Option<Instant>,
    closed: bool,
}

impl<M> Lanes<M> {
    fn queued(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum()
    }

    /// Takes the oldest message across the lanes.
    fn pop(&mut self) -> Option<Arc<M>> {
        let lane = (0..3)
            .filter_map(|i| self.lanes.get(i)?.front().map(|(seq, _)| (*seq, i)))
            .min()?
            .1;
        self.lanes.get_mut(lane)?.pop_front().map(|(_, m)| m)
    }
}

struct Queue<M> {
    name: String,
    inner_drops: Option<InnerDrops>,
    state: Mutex<Lanes<M>>,
    ready: Condvar,
}

impl<M> Queue<M> {
    fn lock(&self) -> MutexGuard<'_, Lanes<M>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Hands every published message to each sink, each on its own thread
/// behind a bounded queue. Closed (queues drained for up to a second, sinks
/// finished, threads joined) by [`Fanout::close`] or on drop.
pub struct Fanout<M> {
    queues: Vec<Arc<Queue<M>>>,
    threads: Vec<JoinHandle<()>>,
    seq: u64,
}

impl<M> std::fmt::Debug for Fanout<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("sinks", &self.queues.len())
            .finish_non_exhaustive()
    }
}

impl<M> Default for Fanout<M> {
    fn default() -> Self {
        Self {
            queues: Vec::new(),
            threads: Vec::new(),
            seq: 0,
        }
    }
}

impl<M: Observation + Send + Sync + 'static> Fanout<M> {
    /// Makes a fan-out with no sinks.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `sink` on a thread of its own, with `capacity` messages per lane.
    pub fn add(&mut self, mut sink: impl Sink<M> + 'static, capacity: usize) {
        let queue = Arc::new(Queue {
            name: sink.name().to_owned(),
            inner_drops: sink.inner_drops(),
            state: Mutex::new(Lanes {
                lanes: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
                cap: capacity.max(1),
                dropped: [0; 3],
                unreported: 0,
                last_report: None,
                closed: false,
            }),
            ready: Condvar::new(),
        });
        let q = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("sink {}", queue.name))
            .spawn(move || {
                loop {
                    let next = {
                        let mut state = q.lock();
                        loop {
                            if let Some(m) = state.pop() {
                                break Some(m);
                            }
                            if state.closed {
                                break None;
                            }
                            state = q.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
                        }
                    };
                    match next {
                        Some(m) => sink.observe(&m),
                        None => break,
                    }
                }
                sink.finish();
            });
        match spawned {
            Ok(thread) => {
                self.queues.push(queue);
                self.threads.push(thread);
            }
            Err(e) => log::error!("cannot start the {} output: {e}", queue.name),
        }
    }

    /// Hands `message` to every sink; never blocks on a sink.
    pub fn publish(&mut self, message: M) {
        if self.queues.is_empty() {
            return;
        }
        self.seq += 1;
        let lane = lane(message.priority());
        let message = Arc::new(message);
        for queue in &self.queues {
            let mut state = queue.lock();
            let full = state.lanes.get(lane).is_none_or(|l| l.len() >= state.cap);
            if full {
                if let Some(d) = state.dropped.get_mut(lane) {
                    *d += 1;
                }
                state.unreported += 1;
                let due = state
                    .last_report
                    .is_none_or(|at| at.elapsed() >= REPORT_EVERY);
                if due {
                    log::warn!(
                        "the {} output is not keeping up: {} message(s) dropped so far",
                        queue.name,
                        state.unreported
                    );
                    state.unreported = 0;
                    state.last_report = Some(Instant::now());
                }
                continue;
            }
            if let Some(l) = state.lanes.get_mut(lane) {
                l.push_back((self.seq, Arc::clone(&message)));
            }
            drop(state);
            queue.ready.notify_one();
        }
    }

    /// Returns each queued sink's counts.
    #[must_use]
    pub fn stats(&self) -> Vec<SinkStats> {
        self.queues
            .iter()
            .map(|q| {
                let state = q.lock();
                SinkStats {
                    name: q.name.clone(),
                    dropped: state.dropped,
                    queued: state.queued() as u64,
                    inner_dropped: q.inner_drops.as_ref().map_or(0, |f| f()),
                }
            })
            .collect()
    }

    /// Stops taking messages, lets each sink drain its queue for up to a
    /// second, finishes the sinks and joins their threads (a sink still
    /// blocked after that is left to end with the process).
    pub fn close(&mut self) {
        for queue in &self.queues {
            queue.lock().closed = true;
            queue.ready.notify_all();
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        for thread in self.threads.drain(..) {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        self.queues.clear();
    }
}

impl<M> Drop for Fanout<M> {
    fn drop(&mut self) {
        for queue in &self.queues {
            queue.lock().closed = true;
            queue.ready.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{DeviceId, Event, Reading};
    use std::sync::mpsc;

    #[derive(Debug)]
    struct Msg(DeviceId, Priority, u32);

    impl Observation for Msg {
        fn device(&self) -> &DeviceId {
            &self.0
        }
        fn readings(&self, _: &mut Vec<Reading>) {}
        fn event(&self) -> Option<Event> {
            None
        }
        fn priority(&self) -> Priority {
            self.1
        }
    }

    fn msg(p: Priority, n: u32) -> Msg {
        Msg(DeviceId::new("upsilon", "ups"), p, n)
    }

    /// A sink that waits for a go signal before taking its first message.
    struct Gated {
        go: mpsc::Receiver<()>,
        seen: Arc<Mutex<Vec<u32>>>,
        waited: bool,
    }

    impl Sink<Msg> for Gated {
        fn name(&self) -> &str {
            "gated"
        }
        fn observe(&mut self, m: &Msg) {
            if !self.waited {
                let _ = self.go.recv();
                self.waited = true;
            }
            self.seen.lock().unwrap().push(m.2);
        }
    }

    #[test]
    fn an_error_flood_never_pushes_out_an_alert_and_order_is_kept() {
        let (go, gate) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut fanout = Fanout::new();
        fanout.add(
            Gated {
                go: gate,
                seen: Arc::clone(&seen),
                waited: false,
            },
            4,
        );
        fanout.publish(msg(Priority::Routine, 0));
        std::thread::sleep(Duration::from_millis(50));
        // The sink is stuck on message 0; 100 errors arrive, then an alert.
        for n in 1..=100 {
            fanout.publish(msg(Priority::Error, n));
        }
        fanout.publish(msg(Priority::Alert, 1000));
        let stats = fanout.stats();
        assert_eq!(stats[0].dropped, [96, 0, 0], "{stats:?}");
        go.send(()).unwrap();
        fanout.close();
        assert_eq!(*seen.lock().unwrap(), [0, 1, 2, 3, 4, 1000]);
    }

    /// A sink that drops everything it takes, and says so.
    struct Dropper(Arc<std::sync::atomic::AtomicU64>);

    impl Sink<Msg> for Dropper {
        fn name(&self) -> &str {
            "dropper"
        }
        fn observe(&mut self, _: &Msg) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        fn inner_drops(&self) -> Option<InnerDrops> {
            let n = Arc::clone(&self.0);
            Some(Box::new(move || {
                n.load(std::sync::atomic::Ordering::Relaxed)
            }))
        }
    }

    #[test]
    fn an_outputs_own_drops_are_counted_with_its_queue() {
        let mut fanout = Fanout::new();
        fanout.add(Dropper(Arc::default()), 4);
        for n in 0..3 {
            fanout.publish(msg(Priority::Routine, n));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while fanout.stats()[0].inner_dropped < 3 {
            assert!(Instant::now() < deadline, "{:?}", fanout.stats());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(fanout.stats()[0].dropped_total(), 3);
        fanout.close();
    }

    #[test]
    fn close_returns_within_a_second_even_if_a_sink_hangs() {
        let (_go, gate) = mpsc::channel();
        let mut fanout = Fanout::new();
        fanout.add(
            Gated {
                go: gate,
                seen: Arc::default(),
                waited: false,
            },
            4,
        );
        fanout.publish(msg(Priority::Routine, 0));
        let started = Instant::now();
        fanout.close();
        assert!(started.elapsed() < Duration::from_millis(1500));
    }
}
