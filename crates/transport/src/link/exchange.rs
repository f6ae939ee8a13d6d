//! Request/response over any `Read + Write` link.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::{LinkError, LinkErrorKind, is_timeout};
use crate::framing::{Event, Framer, Framing, Message};

/// Size of the read buffer a [`Requester`] uses.
const READ_CHUNK: usize = 4096;

/// How a [`Requester`] waits and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPolicy {
    /// How long each attempt waits for the reply after writing the request.
    pub timeout: Duration,
    /// Total attempts (the first one included); 0 is treated as 1.
    pub attempts: u32,
    /// At most this many unexpected messages are kept in an [`Exchange`]
    /// (the rest are only counted), so a chatty peer cannot grow memory.
    pub max_unexpected: usize,
}

impl Default for RequestPolicy {
    /// Returns a 1 s timeout, 3 attempts, and up to 64 unexpected messages kept.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            attempts: 3,
            max_unexpected: 64,
        }
    }
}

/// Whether a request got its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The matching reply arrived during attempt number `attempts` (from 1).
    Reply {
        /// The reply.
        message: Message,
        /// Attempts made, the successful one included.
        attempts: u32,
    },
    /// No matching reply within any attempt's timeout.
    NoReply {
        /// Attempts made.
        attempts: u32,
    },
}

/// What happened during one request: the outcome and what else was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Whether the reply came, and after how many attempts.
    pub outcome: Outcome,
    /// Complete messages that did not match, in arrival order (at most
    /// [`RequestPolicy::max_unexpected`]; messages queued before the request
    /// was first written are included here).
    pub unexpected: Vec<Message>,
    /// Unexpected messages not kept because of the limit.
    pub unexpected_dropped: u64,
    /// Bytes skipped as garbage during the exchange.
    pub garbage_bytes: u64,
}

/// Writes requests to a link and waits for matching replies, with retries.
///
/// The link's own reads must time out (a serial port's read timeout, or a
/// `TcpStream` read timeout), ideally well under [`RequestPolicy::timeout`]:
/// the deadline is checked between reads, so one long blocking read can
/// stretch an attempt.
#[derive(Debug)]
pub struct Requester<L, F> {
    link: L,
    framer: Framer<F>,
    policy: RequestPolicy,
    endpoint: String,
    buf: Vec<u8>,
}

impl<L: Read + Write, F: Framing> Requester<L, F> {
    /// Wraps `link`, framing replies with `framer`; `endpoint` names the link
    /// in errors (a device path or address).
    pub fn new(link: L, framer: Framer<F>, endpoint: impl Into<String>) -> Self {
        Self {
            link,
            framer,
            policy: RequestPolicy::default(),
            endpoint: endpoint.into(),
            buf: vec![0; READ_CHUNK],
        }
    }

    /// Returns this requester with another policy.
    #[must_use]
    pub fn with_policy(mut self, policy: RequestPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Returns the policy.
    #[must_use]
    pub fn policy(&self) -> &RequestPolicy {
        &self.policy
    }

    /// Returns the link.
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// Returns the framer (for its counters, or to take leftover events).
    pub fn framer_mut(&mut self) -> &mut Framer<F> {
        &mut self.framer
    }

    /// Returns the link and the framer.
    pub fn into_parts(self) -> (L, Framer<F>) {
        (self.link, self.framer)
    }

    /// Writes `request`, then reads until a message for which `is_reply`
    /// returns true, or the timeout; repeats up to the policy's attempts.
    ///
    /// A reply to an earlier attempt that arrives late still counts. Bytes
    /// after the reply stay in the framer for the next call.
    ///
    /// # Errors
    ///
    /// [`LinkErrorKind::Write`] or [`LinkErrorKind::Read`] if the link
    /// fails, [`LinkErrorKind::Closed`] if the peer closes it (end of file).
    /// Running out of attempts is not an error: it is [`Outcome::NoReply`].
    pub fn request(
        &mut self,
        request: &[u8],
        mut is_reply: impl FnMut(&Message) -> bool,
    ) -> Result<Exchange, LinkError> {
        let garbage_before = self.framer.garbage_bytes();
        let mut exchange = Exchange {
            outcome: Outcome::NoReply { attempts: 0 },
            unexpected: Vec::new(),
            unexpected_dropped: 0,
            garbage_bytes: 0,
        };
        // Whatever was queued before the request cannot be its reply.
        while let Some(event) = self.framer.next() {
            if let Event::Message(message) = event {
                self.keep_unexpected(&mut exchange, message);
            }
        }
        let attempts = self.policy.attempts.max(1);
        for attempt in 1..=attempts {
            exchange.outcome = Outcome::NoReply { attempts: attempt };
            self.link
                .write_all(request)
                .and_then(|()| self.link.flush())
                .map_err(|e| LinkError::with_source(LinkErrorKind::Write, &self.endpoint, e))?;
            let deadline = Instant::now() + self.policy.timeout;
            loop {
                while let Some(event) = self.framer.next() {
                    if let Event::Message(message) = event {
                        if is_reply(&message) {
                            exchange.outcome = Outcome::Reply {
                                message,
                                attempts: attempt,
                            };
                            exchange.garbage_bytes =
                                self.framer.garbage_bytes().saturating_sub(garbage_before);
                            return Ok(exchange);
                        }
                        self.keep_unexpected(&mut exchange, message);
                    }
                }
                if Instant::now() >= deadline {
                    break;
                }
                self.read_some()?;
            }
        }
        exchange.garbage_bytes = self.framer.garbage_bytes().saturating_sub(garbage_before);
        Ok(exchange)
    }

    fn keep_unexpected(&self, exchange: &mut Exchange, message: Message) {
        if exchange.unexpected.len() < self.policy.max_unexpected {
            exchange.unexpected.push(message);
        } else {
            exchange.unexpected_dropped = exchange.unexpected_dropped.saturating_add(1);
        }
    }

    /// Reads once and feeds the framer; a timed-out read is not an error.
    fn read_some(&mut self) -> Result<(), LinkError> {
        match self.link.read(&mut self.buf) {
            Ok(0) => Err(LinkError::new(LinkErrorKind::Closed, &self.endpoint)),
            Ok(n) => {
                // An oversize discard is already reported as a skipped event.
                let _ = self.framer.push(self.buf.get(..n).unwrap_or_default());
                Ok(())
            }
            Err(e) if is_timeout(&e) => {
                self.framer.idle();
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(LinkError::with_source(
                LinkErrorKind::Read,
                &self.endpoint,
                e,
            )),
        }
    }
}
