//! `upsilon ups`: speaks Megatec to the UPS itself over a serial line
//! (2400 8N1): polls `Q1`, reads `F` and `I` once, sends commands.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use rewire_transport::framing::{Framer, Framing, Message, Step};
use rewire_transport::link::{Outcome, RequestPolicy, Requester};
use rewire_upsilon::{Command, MAX_COMMAND_LEN, parse_info, parse_ratings, parse_status};

use crate::hub::{Identity, Publisher};
use crate::record::{Body, ErrorRecord, Record, StatusRecord, decimal};
use crate::state::LinkChange;

/// Longest reply line kept.
pub const MAX_REPLY_LEN: usize = 128;

/// Frames CR-terminated Megatec replies of any shape (`(…` status, `#…`
/// ratings/info, echoed commands, `(ACK`/`(NAK`): the transport's `Upsilon`
/// framing only knows `(` records. LF and NUL bytes around lines are skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct MegatecLines;

impl Framing for MegatecLines {
    fn scan(&mut self, buf: &[u8]) -> Step {
        let skipped = buf
            .iter()
            .take_while(|&&b| matches!(b, b'\r' | b'\n' | 0))
            .count();
        let rest = buf.get(skipped..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\r') {
            Some(end) if end <= MAX_REPLY_LEN => Step::Found {
                skipped,
                len: end + 1,
                message: skipped..skipped + end,
            },
            // Oversize: drop it as garbage up to and including its CR.
            Some(end) => Step::Partial {
                skipped: skipped + end + 1,
            },
            None if rest.len() > MAX_REPLY_LEN => Step::Partial { skipped: buf.len() },
            None => Step::Partial { skipped },
        }
    }
}

/// What sending a command achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// No echo or refusal came back: Megatec UPSes answer nothing to an
    /// accepted command.
    Accepted,
    /// The UPS echoed the command or answered `(NAK`: refused or unknown.
    Refused,
}

/// A Megatec conversation over any serial-like link.
pub struct Ups<L: Read + Write> {
    req: Option<Requester<L, MegatecLines>>,
}

fn encode(cmd: &Command) -> Vec<u8> {
    let mut buf = [0u8; MAX_COMMAND_LEN];
    let n = cmd.emit(&mut buf).unwrap_or(0);
    buf.get(..n).unwrap_or_default().to_vec()
}

impl<L: Read + Write> Ups<L> {
    /// Wraps `link`, naming it `endpoint` in errors; each query waits
    /// `timeout` and is tried `attempts` times.
    pub fn new(link: L, endpoint: &str, timeout: Duration, attempts: u32) -> Self {
        let req =
            Requester::new(link, Framer::new(MegatecLines), endpoint).with_policy(RequestPolicy {
                timeout,
                attempts,
                max_unexpected: 16,
            });
        Ups { req: Some(req) }
    }

    fn query(&mut self, cmd: &Command, lead: u8) -> Result<Option<Vec<u8>>> {
        let c = *cmd;
        let ex = self.req()?.request(&encode(cmd), |m: &Message| {
            m.bytes.first() == Some(&lead) || c.is_echoed_by(&m.bytes)
        })?;
        Ok(match ex.outcome {
            Outcome::Reply { message, .. } if !c.is_echoed_by(&message.bytes) => {
                Some(message.bytes)
            }
            _ => None,
        })
    }

    /// Sends `Q1`; returns the status line's record (an `error` record when
    /// the line does not parse), or `None` when the UPS did not answer.
    ///
    /// # Errors
    /// When the link fails.
    pub fn status(&mut self) -> Result<Option<Record>> {
        let Some(line) = self.query(&Command::Status, b'(')? else {
            return Ok(None);
        };
        Ok(Some(match parse_status(&line) {
            Ok(s) => Record::now(Body::Status(StatusRecord::from_status(&s))),
            Err(e) => Record::now(Body::Error(ErrorRecord::new(
                0,
                line.len() as u64,
                e.to_string(),
                &line,
            ))),
        }))
    }

    /// Sends `I` and `F` and collects what they say (missing answers leave
    /// fields empty).
    ///
    /// # Errors
    /// When the link fails.
    pub fn identity(&mut self) -> Result<Identity> {
        let mut id = Identity::default();
        if let Some(line) = self.query(&Command::Info, b'#')?
            && let Ok(info) = parse_info(&line)
        {
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            id.company = opt(info.company);
            id.model = opt(info.model);
            id.firmware = opt(info.version);
        }
        if let Some(line) = self.query(&Command::Ratings, b'#')?
            && let Ok(r) = parse_ratings(&line)
        {
            id.rated_voltage = r.voltage.map(decimal);
            id.rated_current = r.current.map(decimal);
            id.rated_battery_voltage = r.battery_voltage.map(decimal);
            id.rated_frequency = r.frequency.map(decimal);
        }
        Ok(id)
    }

    /// Sends an instant command; waits `grace` for an echo or `(NAK`.
    ///
    /// # Errors
    /// When the link fails.
    pub fn send(&mut self, cmd: &Command, grace: Duration) -> Result<Sent> {
        let policy = *self.req()?.policy();
        self.reconfigure(RequestPolicy {
            timeout: grace,
            attempts: 1,
            max_unexpected: 16,
        })?;
        let c = *cmd;
        let ex = self.req()?.request(&encode(cmd), |m: &Message| {
            c.is_echoed_by(&m.bytes) || m.bytes.starts_with(b"(NAK") || m.bytes.starts_with(b"(ACK")
        });
        self.reconfigure(policy)?;
        Ok(match ex?.outcome {
            Outcome::Reply { message, .. } if message.bytes.starts_with(b"(ACK") => Sent::Accepted,
            Outcome::Reply { .. } => Sent::Refused,
            Outcome::NoReply { .. } => Sent::Accepted,
        })
    }

    fn req(&mut self) -> Result<&mut Requester<L, MegatecLines>> {
        self.req
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the serial link was lost"))
    }

    fn reconfigure(&mut self, policy: RequestPolicy) -> Result<()> {
        let req = self
            .req
            .take()
            .ok_or_else(|| anyhow::anyhow!("the serial link was lost"))?;
        self.req = Some(req.with_policy(policy));
        Ok(())
    }
}

/// Polls `Q1` every `interval` until `stop`, publishing each status; a run of
/// unanswered polls is a `connection_lost` of link `serial`, the next answer
/// a `connection_restored`. Reads `I` and `F` first.
///
/// # Errors
/// When the link or stdout fails.
pub fn poll<L: Read + Write, W: Write>(
    ups: &mut Ups<L>,
    device: &str,
    interval: Duration,
    count: Option<u64>,
    publisher: &mut Publisher<W>,
    stop: &AtomicBool,
) -> Result<()> {
    let id = ups.identity()?;
    publisher.shared().lock().identity = id;
    let mut polls = 0u64;
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) && count.is_none_or(|c| polls < c) {
        match ups.status()? {
            Some(r) => {
                publisher.link(LinkChange::Up {
                    link: "serial".into(),
                    peer: Some(device.to_owned()),
                    detail: None,
                })?;
                publisher.publish(r)?;
            }
            None => publisher.link(LinkChange::Down {
                link: "serial".into(),
                peer: Some(device.to_owned()),
                detail: Some("no answer to Q1".into()),
            })?,
        }
        polls += 1;
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        thread::sleep(next - now);
    }
    Ok(())
}
