//! `upsilon ups`: speaks Megatec to the UPS itself: polls `Q1`, reads `F`
//! and `I` once, sends commands and confirms their effect.
//!
//! The conversation ([`Ups`]) runs over any [`Channel`]: a serial line
//! (2400 8N1, [`Serial`]) or the USB "MEC0003" bridge
//! ([`crate::usb::UsbChannel`]), whose string-descriptor reads stand in for
//! the serial lines.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use rewire_transport::framing::{self, Framer, Megatec};
use rewire_transport::link::{Outcome, RequestPolicy, Requester};
use rewire_upsilon::{Command, MAX_COMMAND_LEN, Status, parse_info, parse_ratings};

use crate::hub::{Hub, Identity};
use crate::message::{Body, Garbage, Message, decimal};
use crate::nut::Job;
use crate::state::LinkChange;

/// How long a question to the UPS waits for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The channel's own timeout, tried as many times as it is configured
    /// to (queries: `Q1`, `F`, `I`).
    Retried,
    /// One attempt, waiting this long (instant commands, whose success is
    /// silence).
    Once(Duration),
}

/// One way to put a Megatec command to a UPS and hear the line it answers.
pub trait Channel {
    /// Names the link in connection events: `serial`, `usb`.
    fn link_name(&self) -> &'static str;

    /// Sends `cmd` and returns the first answer line (without its CR) that
    /// `is_reply` accepts, or `None` when none came within `wait`.
    ///
    /// # Errors
    /// When the link fails (not when the UPS stays silent).
    fn ask(
        &mut self,
        cmd: &Command,
        wait: Wait,
        is_reply: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<Option<Vec<u8>>>;
}

/// Encodes `cmd` as it goes on the wire (with its CR).
pub fn encode(cmd: &Command) -> Vec<u8> {
    let mut buf = [0u8; MAX_COMMAND_LEN];
    let n = cmd.emit(&mut buf).unwrap_or(0);
    buf.get(..n).unwrap_or_default().to_vec()
}

/// Megatec over a serial-like link: commands are written, answers framed
/// as CR-terminated lines ([`Megatec`]) by a [`Requester`].
pub struct Serial<L: Read + Write> {
    req: Option<Requester<L, Megatec>>,
}

impl<L: Read + Write> Serial<L> {
    /// Wraps `link`, naming it `endpoint` in errors; each query waits
    /// `timeout` and is tried `attempts` times.
    pub fn new(link: L, endpoint: &str, timeout: Duration, attempts: u32) -> Self {
        let req = Requester::new(link, Framer::new(Megatec::default()), endpoint).with_policy(
            RequestPolicy {
                timeout,
                attempts,
                max_unexpected: 16,
            },
        );
        Serial { req: Some(req) }
    }

    fn req(&mut self) -> Result<&mut Requester<L, Megatec>> {
        self.req
            .as_mut()
            .ok_or_else(|| anyhow!("the serial link was lost"))
    }

    fn reconfigure(&mut self, policy: RequestPolicy) -> Result<()> {
        let req = self
            .req
            .take()
            .ok_or_else(|| anyhow!("the serial link was lost"))?;
        self.req = Some(req.with_policy(policy));
        Ok(())
    }
}

impl<L: Read + Write> Channel for Serial<L> {
    fn link_name(&self) -> &'static str {
        "serial"
    }

    fn ask(
        &mut self,
        cmd: &Command,
        wait: Wait,
        is_reply: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<Option<Vec<u8>>> {
        let policy = *self.req()?.policy();
        if let Wait::Once(grace) = wait {
            self.reconfigure(RequestPolicy {
                timeout: grace,
                attempts: 1,
                ..policy
            })?;
        }
        let ex = self
            .req()?
            .request(&encode(cmd), |m: &framing::Message| is_reply(&m.bytes));
        if matches!(wait, Wait::Once(_)) {
            self.reconfigure(policy)?;
        }
        Ok(match ex?.outcome {
            Outcome::Reply { message, .. } => Some(message.bytes.into()),
            Outcome::NoReply { .. } => None,
        })
    }
}

/// What sending a command achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// No echo or refusal came back: Megatec UPSes answer nothing to an
    /// accepted command (and the MEC0003 bridge `UPS No Ack`).
    Accepted,
    /// The UPS echoed the command or answered `(NAK`: refused or unknown.
    Refused,
}

/// A Megatec conversation over a [`Channel`].
pub struct Ups<C> {
    channel: C,
}

impl<L: Read + Write> Ups<Serial<L>> {
    /// Talks over the serial-like `link` (see [`Serial::new`]).
    pub fn new(link: L, endpoint: &str, timeout: Duration, attempts: u32) -> Self {
        Ups::with_channel(Serial::new(link, endpoint, timeout, attempts))
    }
}

impl<C: Channel> Ups<C> {
    /// Talks over `channel`.
    pub fn with_channel(channel: C) -> Self {
        Ups { channel }
    }

    /// Returns the channel.
    pub fn channel_mut(&mut self) -> &mut C {
        &mut self.channel
    }

    /// Names the link in connection events.
    pub fn link_name(&self) -> &'static str {
        self.channel.link_name()
    }

    /// Asks a query whose answer starts with `lead`; an echo means "not
    /// understood" and counts as no answer.
    fn query(&mut self, cmd: &Command, lead: u8) -> Result<Option<Vec<u8>>> {
        let c = *cmd;
        let mut is_reply = |line: &[u8]| line.first() == Some(&lead) || c.is_echoed_by(line);
        let line = self.channel.ask(cmd, Wait::Retried, &mut is_reply)?;
        Ok(line.filter(|l| !c.is_echoed_by(l)))
    }

    /// Sends `Q1`; returns the status line (an error when the line does not
    /// parse), or `None` when the UPS did not answer.
    ///
    /// # Errors
    /// When the link fails.
    pub fn status(&mut self) -> Result<Option<Body>> {
        let Some(line) = self.query(&Command::Status, b'(')? else {
            return Ok(None);
        };
        Ok(Some(match rewire_upsilon::Status::parse(&line) {
            Ok(s) => Body::Status(s),
            Err(e) => Body::Error(Garbage::new(0, line.len() as u64, e.to_string(), &line)),
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
        let c = *cmd;
        let mut is_reply = |line: &[u8]| {
            c.is_echoed_by(line) || line.starts_with(b"(NAK") || line.starts_with(b"(ACK")
        };
        let answer = self.channel.ask(cmd, Wait::Once(grace), &mut is_reply)?;
        Ok(match answer {
            Some(line) if line.starts_with(b"(ACK") => Sent::Accepted,
            Some(_) => Sent::Refused,
            None => Sent::Accepted,
        })
    }
}

/// How [`command`] paces its confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirm {
    /// How long to wait for an echo or `(NAK` after sending.
    pub grace: Duration,
    /// How many `Q1` polls may look for the command's effect.
    pub polls: u32,
    /// Pause between those polls.
    pub pause: Duration,
}

impl Default for Confirm {
    /// 300 ms grace, then up to 10 polls 300 ms apart (about 3 s).
    fn default() -> Self {
        Confirm {
            grace: Duration::from_millis(300),
            polls: 10,
            pause: Duration::from_millis(300),
        }
    }
}

/// What came of a state-changing command.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandOutcome {
    /// The UPS did not answer the `Q1` asked first: nothing was sent.
    NoAnswer,
    /// The UPS echoed the command or answered `(NAK`.
    Refused,
    /// A `Q1` after sending showed the effect: that status.
    Confirmed(Status),
    /// Sent, but no `Q1` within the polls showed the effect.
    Unconfirmed,
}

/// Tells whether `now` shows the effect of `cmd`, given the status `before`
/// it was sent (the beeper toggle needs it).
#[must_use]
pub fn shows_effect(cmd: &Command, before: &Status, now: &Status) -> bool {
    let (b, n) = (before.bits, now.bits);
    match cmd {
        Command::Test | Command::TestUntilLow | Command::TestFor(_) => n.test_in_progress(),
        Command::ToggleBeeper => n.beeper_on() != b.beeper_on(),
        Command::Shutdown { .. } => n.shutdown_active(),
        Command::CancelShutdown => !n.shutdown_active(),
        Command::CancelTest => !n.test_in_progress(),
        Command::Status | Command::StatusLegacy | Command::Ratings | Command::Info => true,
    }
}

/// Sends a state-changing command and confirms it: `Q1` first (no answer →
/// nothing is sent), then the command, then `Q1` until the status bits show
/// its effect ([`shows_effect`]).
///
/// # Errors
/// When the link fails, or the first `Q1` answer does not parse.
pub fn command<C: Channel>(
    ups: &mut Ups<C>,
    cmd: &Command,
    confirm: &Confirm,
) -> Result<CommandOutcome> {
    let status_of = |b: &Body| match b {
        Body::Status(s) => Some(*s),
        _ => None,
    };
    let Some(before) = ups.status()? else {
        return Ok(CommandOutcome::NoAnswer);
    };
    let before = status_of(&before).ok_or_else(|| anyhow!("bad Q1 answer"))?;
    if ups.send(cmd, confirm.grace)? == Sent::Refused {
        return Ok(CommandOutcome::Refused);
    }
    for poll in 0..confirm.polls {
        if poll > 0 {
            thread::sleep(confirm.pause);
        }
        if let Some(now) = ups.status()?.as_ref().and_then(status_of)
            && shows_effect(cmd, &before, &now)
        {
            return Ok(CommandOutcome::Confirmed(now));
        }
    }
    Ok(CommandOutcome::Unconfirmed)
}

/// What a [`poll`] run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollSummary {
    /// `Q1` polls sent.
    pub polls: u64,
    /// Polls the UPS answered.
    pub answered: u64,
}

/// Polls `Q1` every `interval` until `stop` (or `count` polls), publishing
/// each status to `hub`; reads `I` and `F` first into the snapshot. A run of
/// unanswered polls after answers is a `connection_lost` of the channel's
/// link (`serial`, `usb`), the next answer a `connection_restored`; a UPS
/// that never answered is said in the log (once), not "lost".
///
/// # Errors
/// When the link fails.
pub fn poll<C: Channel>(
    ups: &mut Ups<C>,
    device: &str,
    interval: Duration,
    count: Option<u64>,
    hub: &Hub,
    stop: &AtomicBool,
) -> Result<PollSummary> {
    poll_with_commands(ups, device, interval, count, hub, stop, None)
}

/// Sends one NUT `INSTCMD` ([`Job`]) and records the outcome for `GET
/// TRACKING`: taken when the UPS neither echoes it nor answers `(NAK`.
fn run_job<C: Channel>(
    ups: &mut Ups<C>,
    job: &Job,
    hub: &Hub,
) -> Result<Option<(Command, Status)>> {
    let before = hub.shared().lock().status;
    match ups.send(&job.command, Duration::from_millis(300)) {
        Ok(Sent::Accepted) => {
            log::info!("{} ({}) sent for {}", job.name, job.command, job.user);
            job.finish(true);
            Ok(before.map(|b| (job.command, b)))
        }
        Ok(Sent::Refused) => {
            log::warn!("{} ({}): the UPS refused it", job.name, job.command);
            job.finish(false);
            Ok(None)
        }
        Err(e) => {
            job.finish(false);
            Err(e)
        }
    }
}

/// [`poll`], also carrying out the NUT server's `INSTCMD`s from `jobs`
/// between polls; each is followed at once by a `Q1` that confirms it where
/// the status bits can show it ([`shows_effect`], said in the log).
///
/// # Errors
/// When the link fails.
pub fn poll_with_commands<C: Channel>(
    ups: &mut Ups<C>,
    device: &str,
    interval: Duration,
    count: Option<u64>,
    hub: &Hub,
    stop: &AtomicBool,
    jobs: Option<&mpsc::Receiver<Job>>,
) -> Result<PollSummary> {
    let mut confirm: Option<(Command, Status)> = None;
    if !hub.has_identity() {
        let id = ups.identity()?;
        hub.set_identity(id);
    }
    let mut summary = PollSummary::default();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) && count.is_none_or(|c| summary.polls < c) {
        match ups.status()? {
            Some(body) => {
                summary.answered += 1;
                if let (Some((cmd, before)), Body::Status(now)) = (confirm.take(), &body) {
                    if shows_effect(&cmd, &before, now) {
                        log::info!("{cmd}: confirmed by Q1 (bits {})", now.bits);
                    } else {
                        log::info!(
                            "{cmd}: the next Q1 does not show its effect (bits {})",
                            now.bits
                        );
                    }
                }
                hub.link(LinkChange::Up {
                    link: ups.link_name().into(),
                    peer: Some(device.to_owned()),
                    detail: None,
                });
                hub.publish(Message::new(hub.device(), body).at(std::time::SystemTime::now()));
            }
            None => {
                if summary.answered == 0 && summary.polls == 0 {
                    log::warn!("{device}: no answer to Q1; still trying");
                }
                hub.link(LinkChange::Down {
                    link: ups.link_name().into(),
                    peer: Some(device.to_owned()),
                    detail: Some("no answer to Q1".into()),
                });
            }
        }
        summary.polls += 1;
        if count.is_some_and(|c| summary.polls >= c) {
            break;
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        // Sleep in short steps so that a stop (or a command) is seen quickly.
        while !stop.load(Ordering::Relaxed) && Instant::now() < next {
            if let Some(job) = jobs.and_then(|rx| rx.try_recv().ok()) {
                confirm = run_job(ups, &job, hub)?;
                // Poll at once: the status shows the command's effect.
                next = Instant::now();
                break;
            }
            thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
        }
    }
    Ok(summary)
}
