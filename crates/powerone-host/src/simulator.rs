//! A PCU simulator: answers set date/time (0x07) and set password (0x08)
//! the way the captured PCU did, keeps a clock and a password, answers a
//! configurable verify-password code, and can add line noise and corrupt
//! checksums to exercise resynchronisation and retries.
//!
//! [`Pcu`] is the sans-IO state machine (frame in, reply bytes out);
//! [`Simulator`] serves it on a pseudo-terminal or a TCP listener as a
//! service that stops within a second.

use std::io::{self, ErrorKind, Read, Write};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use jiff::civil;
use rewire_host::service::{Service, StopFlag};
use rewire_host::sink::Fanout;
use rewire_powerone::{DateTime, Frame, FunctionCode, NO_REPLY, Password, PasswordCheck, Repr};
use rewire_transport::framing::{Event, Framer, PowerOne};
#[cfg(unix)]
use rewire_transport::link::Pty;
use rewire_transport::link::{LinkError, LinkErrorKind, Listener};

use crate::link::READ_TICK;
use crate::message::{Body, Change, Codes, FrameSeen, Message, Publisher, Seen, Way, device};
use crate::record::Record;

/// How the simulated PCU behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Its module address (1..=255).
    pub addr: u8,
    /// The password it starts with (ASCII digits).
    pub password: String,
    /// The verify-password function code it answers with 0x00/0x01.
    pub verify_function: Option<u8>,
    /// Answer unknown functions by echoing their data back (else silence).
    pub echo_unknown: bool,
    /// Write 1..=12 random bytes (a quarter of them 0xFF) before each reply.
    pub noise: bool,
    /// Corrupt the checksum of every Nth reply.
    pub corrupt_every: Option<NonZeroU32>,
    /// Seed for the noise (reproducible runs); random when `None`.
    pub seed: Option<u64>,
}

impl Default for SimConfig {
    /// Module 1, password 8888, no verify code, silent on unknown functions,
    /// a clean line.
    fn default() -> Self {
        Self {
            addr: 1,
            password: "8888".into(),
            verify_function: None,
            echo_unknown: false,
            noise: false,
            corrupt_every: None,
            seed: None,
        }
    }
}

/// The simulated PCU's state machine.
#[derive(Debug)]
pub struct Pcu {
    config: SimConfig,
    password: String,
    /// The clock as last set, and when.
    clock: (civil::DateTime, Instant),
    replies: u64,
    rng: fastrand::Rng,
}

impl Pcu {
    /// Creates a PCU whose clock starts at `start`.
    #[must_use]
    pub fn new(config: SimConfig, start: civil::DateTime) -> Self {
        let rng = config
            .seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Self {
            password: config.password.clone(),
            config,
            clock: (start, Instant::now()),
            replies: 0,
            rng,
        }
    }

    /// Returns the configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Returns the current password.
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Returns the clock now: the time last set plus the time since.
    #[must_use]
    pub fn clock(&self) -> civil::DateTime {
        let (set, at) = self.clock;
        let elapsed = jiff::SignedDuration::try_from(at.elapsed()).unwrap_or_default();
        set.checked_add(elapsed).unwrap_or(set)
    }

    /// Handles one checksum-valid frame and returns the reply's bytes, if it
    /// answers, with the state change it made.
    ///
    /// Frames for other addresses, frames without the reply flag (their
    /// effect is still applied), malformed payloads and unknown functions
    /// (unless `echo_unknown`) get no answer: the captures show no negative
    /// acknowledgement, so a PCU that cannot act stays silent.
    pub fn handle(&mut self, bytes: &[u8]) -> (Option<Vec<u8>>, Option<Change>) {
        let frame = Frame::new_unchecked(bytes);
        let Ok(request) = Repr::parse(&frame) else {
            return (None, None);
        };
        if request.destination != self.config.addr {
            return (None, None);
        }
        let mut data = Vec::new();
        let change = match request.function {
            FunctionCode::SET_DATE_TIME => match DateTime::parse(request.data) {
                Ok(t) => {
                    let civil = civil::date(
                        i16::try_from(t.year()).unwrap_or(2000),
                        i8::try_from(t.month()).unwrap_or(1),
                        i8::try_from(t.day()).unwrap_or(1),
                    )
                    .at(
                        i8::try_from(t.hour()).unwrap_or(0),
                        i8::try_from(t.minute()).unwrap_or(0),
                        0,
                        0,
                    );
                    self.clock = (civil, Instant::now());
                    Change::Clock(t)
                }
                Err(_) => return (None, None),
            },
            FunctionCode::SET_PASSWORD => match Password::parse(request.data) {
                Ok(p) => {
                    self.password = p.as_str().to_owned();
                    Change::Password(self.password.clone())
                }
                Err(_) => return (None, None),
            },
            FunctionCode(code) if Some(code) == self.config.verify_function => {
                let right = request.data == self.password.as_bytes();
                let check = if right {
                    PasswordCheck::Right
                } else {
                    PasswordCheck::Wrong
                };
                data.push(check.byte());
                Change::Checked { right }
            }
            _ if self.config.echo_unknown => {
                data.extend_from_slice(request.data);
                return (self.reply(&request, &data), None);
            }
            _ => return (None, None),
        };
        (self.reply(&request, &data), Some(change))
    }

    fn reply(&mut self, request: &Repr<'_>, data: &[u8]) -> Option<Vec<u8>> {
        if request.reply_flag == NO_REPLY {
            return None;
        }
        let reply = request.reply_to(data);
        let mut out = vec![0u8; reply.buffer_len()];
        let n = reply.emit(&mut out).ok()?;
        out.truncate(n);
        self.replies += 1;
        if let Some(every) = self.config.corrupt_every
            && self.replies.is_multiple_of(u64::from(every.get()))
            && let Some(sum) = out.last_mut()
        {
            *sum = sum.wrapping_add(1);
        }
        Some(out)
    }

    /// Returns the noise to write before a reply (empty without `noise`).
    pub fn noise(&mut self) -> Vec<u8> {
        if !self.config.noise {
            return Vec::new();
        }
        let n = self.rng.usize(1..=12);
        (0..n)
            .map(|_| {
                if self.rng.u8(0..4) == 0 {
                    0xFF
                } else {
                    self.rng.u8(..)
                }
            })
            .collect()
    }
}

/// A running simulator: [`Simulator::shutdown`] stops it within a second.
///
/// Every frame it receives (`rx`) and sends (`tx`) and every change of its
/// state goes to the fan-out it was given, and to the log at debug level.
pub struct Simulator {
    service: Service,
    pcu: Arc<Mutex<Pcu>>,
    publisher: Publisher,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    fn new(name: &str, pcu: Pcu, fanout: Fanout<Message>) -> Self {
        Self {
            service: Service::new(name),
            pcu: Arc::new(Mutex::new(pcu)),
            publisher: Publisher::new(fanout),
        }
    }

    /// Serves `pcu` on the master side of a pseudo-terminal; clients open
    /// [`Pty::path`] as a serial port.
    ///
    /// # Errors
    /// When the thread cannot be started.
    #[cfg(unix)]
    pub fn serve_pty(mut pty: Pty, pcu: Pcu, fanout: Fanout<Message>) -> io::Result<Self> {
        let mut sim = Self::new("simulator", pcu, fanout);
        let (shared, publisher) = (Arc::clone(&sim.pcu), sim.publisher.clone());
        sim.service.spawn("pty", move |stop| {
            let path = pty.path().to_owned();
            // Reads must time out for the stop flag to be seen.
            if let Err(e) = serialport::SerialPort::set_timeout(pty.master(), READ_TICK) {
                log::warn!("simulator: {path}: {e}");
            }
            if let Err(e) = serve(pty.master(), &shared, stop, &path, &publisher) {
                log::warn!("simulator: {e}");
            }
        })?;
        Ok(sim)
    }

    /// Serves `pcu` to every TCP client of `listener` (each on its own
    /// thread, sharing one state).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn serve_tcp(listener: Listener, pcu: Pcu, fanout: Fanout<Message>) -> io::Result<Self> {
        let mut sim = Self::new("simulator", pcu, fanout);
        let (shared, publisher) = (Arc::clone(&sim.pcu), sim.publisher.clone());
        sim.service.spawn("tcp", move |stop| {
            let mut last_warning: Option<Instant> = None;
            std::thread::scope(|scope| {
                while !stop.is_set() {
                    match listener.accept_timeout(Duration::from_millis(100)) {
                        Ok(Some((mut stream, peer))) => {
                            let (shared, publisher) = (&shared, &publisher);
                            scope.spawn(move || {
                                if stream.set_read_timeout(Some(READ_TICK)).is_err() {
                                    return;
                                }
                                let _ = stream.set_nodelay(true);
                                // A client that vanishes ends only its own session.
                                let _ =
                                    serve(&mut stream, shared, stop, &peer.to_string(), publisher);
                            });
                        }
                        Ok(None) => {}
                        Err(e) => {
                            // Out of descriptors, say: tell now and then, retry.
                            if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(10))
                            {
                                log::warn!("simulator: {e}");
                                last_warning = Some(Instant::now());
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
            });
        })?;
        Ok(sim)
    }

    /// Returns the simulated PCU, to look at its clock and password.
    #[must_use]
    pub fn pcu(&self) -> &Arc<Mutex<Pcu>> {
        &self.pcu
    }

    /// Returns the fan-out's counts (messages dropped per sink).
    #[must_use]
    pub fn stats(&self) -> Vec<rewire_host::sink::SinkStats> {
        self.publisher.stats()
    }

    /// Stops serving, joins the threads and closes the fan-out.
    pub fn shutdown(self) {
        self.service.shutdown();
        self.publisher.close();
    }
}

/// Serves the PCU over one byte link until `stop` is set or the peer closes
/// it (a TCP end of file).
///
/// The link's reads must time out (a few tens of ms): on each timeout the
/// framer is told the line is idle, and `stop` is checked.
fn serve<L: Read + Write + ?Sized>(
    link: &mut L,
    pcu: &Mutex<Pcu>,
    stop: &StopFlag,
    endpoint: &str,
    publisher: &Publisher,
) -> Result<(), LinkError> {
    let mut framer = Framer::new(PowerOne);
    let mut buf = [0u8; 1024];
    let codes = Codes {
        verify_password: pcu.lock().map_or(None, |p| p.config.verify_function),
    };
    let id = device(endpoint);
    let report = |body: Body, direction: Option<Way>| {
        let seen = Seen {
            ts: Some(SystemTime::now()),
            direction,
            ..Seen::default()
        };
        let message = Message {
            device: id.clone(),
            seen,
            body,
        };
        if log::log_enabled!(log::Level::Debug) {
            match &message.body {
                Body::Change(c) => log::debug!("simulator: {c}"),
                _ => {
                    if let Some(record) = Record::from_message(&message) {
                        log::debug!("simulator: {record}");
                    }
                }
            }
        }
        publisher.publish(message);
    };
    while !stop.is_set() {
        match link.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                let _ = framer.push(buf.get(..n).unwrap_or_default());
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                framer.idle();
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(LinkError::with_source(LinkErrorKind::Read, endpoint, e)),
        }
        while let Some(event) = framer.next() {
            let Event::Message(message) = event else {
                continue;
            };
            let (reply, noise, change) = {
                let Ok(mut pcu) = pcu.lock() else {
                    return Ok(());
                };
                let (reply, change) = pcu.handle(&message.bytes);
                let noise = if reply.is_some() {
                    pcu.noise()
                } else {
                    Vec::new()
                };
                (reply, noise, change)
            };
            report(
                Body::Frame(FrameSeen::new(message.bytes, None, codes)),
                Some(Way::Rx),
            );
            if let Some(change) = change {
                report(Body::Change(change), None);
            }
            let Some(reply) = reply else { continue };
            let mut out = noise;
            out.extend_from_slice(&reply);
            link.write_all(&out)
                .and_then(|()| link.flush())
                .map_err(|e| LinkError::with_source(LinkErrorKind::Write, endpoint, e))?;
            report(
                Body::Frame(FrameSeen::new(reply, None, codes)),
                Some(Way::Tx),
            );
        }
    }
    Ok(())
}

/// Returns the local wall-clock time, the simulator's starting clock.
#[must_use]
pub fn local_now() -> civil::DateTime {
    jiff::Zoned::now().datetime()
}

/// Builds a reply as the simulator would, for tests and examples.
///
/// # Errors
/// The parser's errors if `request` is not a valid frame.
pub fn reply_bytes(request: &[u8], data: &[u8]) -> io::Result<Vec<u8>> {
    let frame = Frame::new_unchecked(request);
    let repr = Repr::parse(&frame).map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
    let reply = repr.reply_to(data);
    let mut out = vec![0u8; reply.buffer_len()];
    let n = reply
        .emit(&mut out)
        .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::Action;

    fn pcu(config: SimConfig) -> Pcu {
        Pcu::new(config, civil::date(2020, 1, 1).at(0, 0, 0, 0))
    }

    #[test]
    fn answers_set_time_and_password_as_captured() {
        let mut p = pcu(SimConfig::default());
        let t = DateTime::new(2011, 3, 15, 15, 13).unwrap();
        let (reply, change) = p.handle(&Action::SetTime(t).request(1).unwrap());
        assert_eq!(
            reply.unwrap(),
            [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10]
        );
        assert_eq!(change, Some(Change::Clock(t)));
        assert_eq!(p.clock().date(), civil::date(2011, 3, 15));
        let (reply, _) = p.handle(&Action::SetPassword("1234".into()).request(1).unwrap());
        assert_eq!(
            reply.unwrap(),
            [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x08, 0x11]
        );
        assert_eq!(p.password(), "1234");
    }

    #[test]
    fn verify_other_addresses_unknown_and_echo() {
        let config = SimConfig {
            verify_function: Some(0x20),
            ..SimConfig::default()
        };
        let mut p = pcu(config.clone());
        let verify = |pw: &str| {
            Action::VerifyPassword {
                function: 0x20,
                password: pw.into(),
            }
            .request(1)
            .unwrap()
        };
        assert_eq!(p.handle(&verify("8888")).0.unwrap()[7], 0x01);
        assert_eq!(p.handle(&verify("5678")).0.unwrap()[7], 0x00);
        // Another module's frame, and an unknown function: silence.
        let other = Action::SetPassword("1".into()).request(2).unwrap();
        assert_eq!(p.handle(&other), (None, None));
        let unknown = Action::Send {
            function: 0x33,
            data: vec![1, 2],
            reply: true,
        }
        .request(1)
        .unwrap();
        assert_eq!(p.handle(&unknown).0, None);
        let mut echo = pcu(SimConfig {
            echo_unknown: true,
            ..config
        });
        let reply = echo.handle(&unknown).0.unwrap();
        assert_eq!(reply, reply_bytes(&unknown, &[1, 2]).unwrap());
    }

    #[test]
    fn no_reply_flag_applies_silently_and_corruption_counts_replies() {
        let mut p = pcu(SimConfig {
            corrupt_every: NonZeroU32::new(2),
            ..SimConfig::default()
        });
        // Set password with reply flag 0x00: applied, not answered.
        let quiet = Action::Send {
            function: 0x08,
            data: b"42".to_vec(),
            reply: false,
        }
        .request(1)
        .unwrap();
        assert_eq!(p.handle(&quiet).0, None);
        assert_eq!(p.password(), "42");
        let req = Action::SetPassword("7".into()).request(1).unwrap();
        let first = p.handle(&req).0.unwrap();
        let second = p.handle(&req).0.unwrap();
        assert!(Frame::new_unchecked(&first[..]).checksum_ok());
        assert!(!Frame::new_unchecked(&second[..]).checksum_ok());
    }

    #[test]
    fn noise_is_seeded_and_bounded() {
        let config = SimConfig {
            noise: true,
            seed: Some(7),
            ..SimConfig::default()
        };
        let (mut a, mut b) = (pcu(config.clone()), pcu(config));
        for _ in 0..50 {
            let n = a.noise();
            assert!((1..=12).contains(&n.len()));
            assert_eq!(n, b.noise());
        }
        assert!(pcu(SimConfig::default()).noise().is_empty());
    }
}
