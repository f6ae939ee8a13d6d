//! Simulators: RupsMon's status stream (TCP 2570), UPSilon's heartbeats
//! (UDP 11541), its SMS alert requests (TCP 8652), and a Megatec UPS on a
//! pseudo-terminal.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rewire_host::service::Service;
use rewire_transport::link::Listener;
#[cfg(unix)]
use rewire_transport::link::Pty;
use rewire_upsilon::{
    Command, Decimal, Heartbeat, Info, MAX_LINE_LEN, Ratings, Status, StatusBits, parse_command,
};

/// What the RupsMon simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Always on line.
    Steady,
    /// A 12-record cycle: 3 on line, 3 on battery, 2 battery low, 4 back on line.
    Outage,
    /// 2 records on line, 2 on battery, then battery low until the end (a
    /// long outage, for shutdown tests).
    Drain,
}

/// Length of the [`Script::Outage`] cycle, in records.
pub const OUTAGE_CYCLE: u64 = 12;

fn dec(raw: i32, scale: u8) -> Option<Decimal> {
    Decimal::new(raw, scale)
}

/// Returns the status line of record number `tick` of a script.
pub fn scripted_status(script: Script, tick: u64) -> Status {
    let phase = match script {
        Script::Steady => 0,
        Script::Outage => tick % OUTAGE_CYCLE,
        Script::Drain => match tick {
            0..=1 => 0,
            2..=3 => 3,
            _ => 6,
        },
    };
    let wobble = i32::try_from(tick % 3).unwrap_or(0);
    let online = Status {
        input_voltage: dec(2380 + wobble, 1),
        input_fault_voltage: dec(2380 + wobble, 1),
        output_voltage: dec(2387, 1),
        load_percent: Some(7),
        input_frequency: dec(501, 1),
        battery_voltage: dec(274, 1),
        temperature: None,
        bits: StatusBits::from_bits(StatusBits::STANDBY),
    };
    match phase {
        3..=5 => Status {
            input_voltage: dec(0, 1),
            input_frequency: dec(0, 1),
            battery_voltage: dec(258 - 4 * i32::try_from(phase).unwrap_or(0), 1),
            bits: StatusBits::from_bits(
                StatusBits::UTILITY_FAIL | StatusBits::STANDBY | StatusBits::BEEPER_ON,
            ),
            ..online
        },
        6..=7 => Status {
            input_voltage: dec(0, 1),
            input_frequency: dec(0, 1),
            battery_voltage: dec(228, 1),
            bits: StatusBits::from_bits(
                StatusBits::UTILITY_FAIL
                    | StatusBits::BATTERY_LOW
                    | StatusBits::STANDBY
                    | StatusBits::BEEPER_ON,
            ),
            ..online
        },
        _ => online,
    }
}

/// Settings of [`Rupsmon`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RupsmonConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Time between records.
    pub interval: Duration,
    /// What to play.
    pub script: Script,
    /// Stop after this many records sent to a client (`None`: forever).
    pub count: Option<u64>,
}

/// A running RupsMon simulator: every connected client receives one
/// CR-terminated status line per interval. While no client is connected
/// nothing is played (the script waits), so `count` counts records that
/// reached at least one client.
#[derive(Debug)]
pub struct Rupsmon {
    local: SocketAddr,
    sent: Arc<AtomicU64>,
    service: Service,
}

impl Rupsmon {
    /// Binds `config.listen` and starts playing.
    ///
    /// # Errors
    /// When the address cannot be bound or a thread cannot start.
    pub fn start(config: &RupsmonConfig) -> Result<Self> {
        let listener = Listener::bind(config.listen)?;
        let local = listener.local_addr();
        let clients: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let sent = Arc::new(AtomicU64::new(0));
        let mut service = Service::new(format!("rupsmon {local}"));
        let accepted = Arc::clone(&clients);
        service.spawn("accept", move |stop| {
            let mut failing = false;
            while !stop.is_set() {
                match listener.accept_timeout(Duration::from_millis(50)) {
                    Ok(Some((stream, _))) => {
                        failing = false;
                        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                        if let Ok(mut list) = accepted.lock() {
                            list.push(stream);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        // Out of descriptors, say: back off rather than spin.
                        if !failing {
                            log::warn!("rupsmon {local}: accept failed: {e}; retrying");
                            failing = true;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })?;
        let config = config.clone();
        let counter = Arc::clone(&sent);
        service.spawn("play", move |stop| {
            let mut tick = 0u64;
            let mut next = Instant::now();
            while !stop.is_set() && config.count.is_none_or(|c| tick < c) {
                let status = scripted_status(config.script, tick);
                let mut buf = [0u8; MAX_LINE_LEN];
                let n = status.emit(&mut buf).unwrap_or(0);
                let line = buf.get(..n).unwrap_or_default();
                let reached = match clients.lock() {
                    Ok(mut list) => {
                        list.retain_mut(|c| c.write_all(line).is_ok());
                        !list.is_empty()
                    }
                    Err(_) => false,
                };
                if reached {
                    tick += 1;
                    counter.store(tick, Ordering::Relaxed);
                    next += config.interval;
                } else {
                    // Nobody listening: the record is not played; try again soon.
                    next = Instant::now() + config.interval.min(Duration::from_millis(50));
                }
                while !stop.is_set() && Instant::now() < next {
                    let left = next.saturating_duration_since(Instant::now());
                    thread::sleep(left.min(Duration::from_millis(50)));
                }
            }
        })?;
        Ok(Rupsmon {
            local,
            sent,
            service,
        })
    }

    /// Returns the bound address (the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Returns how many records reached at least one client.
    #[must_use]
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Returns whether `count` records were played (the accept thread stays).
    #[must_use]
    pub fn played_all(&self, count: Option<u64>) -> bool {
        count.is_some_and(|c| self.sent() >= c)
    }

    /// Stops playing and accepting, and joins the threads.
    pub fn shutdown(self) {
        self.service.shutdown();
    }
}

/// Sends `count` heartbeats to `to`, one per `interval`, until `stop`;
/// `ups` is the UPS number, `None` sends "no UPS connected". Returns how
/// many were sent.
///
/// # Errors
/// When the socket cannot be opened or a send fails.
pub fn run_heartbeat(
    to: SocketAddr,
    ups: Option<u16>,
    interval: Duration,
    count: Option<u64>,
    stop: &AtomicBool,
) -> Result<u64> {
    let bind: SocketAddr = if to.is_ipv4() {
        "127.0.0.1:0".parse()?
    } else {
        "[::1]:0".parse()?
    };
    let socket = UdpSocket::bind(bind).context("binding the heartbeat socket")?;
    let hb = match ups {
        Some(ups) => Heartbeat::Connected { ups },
        None => Heartbeat::Disconnected,
    };
    let mut buf = [0u8; 16];
    let n = hb.emit(&mut buf)?;
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) && count.is_none_or(|c| sent < c) {
        socket
            .send_to(buf.get(..n).unwrap_or_default(), to)
            .with_context(|| format!("sending a heartbeat to {to}"))?;
        sent += 1;
        if count.is_none_or(|c| sent < c) {
            thread::sleep(interval);
        }
    }
    Ok(sent)
}

/// Builds the HTTP GET that RupsMon sends its SMS gateway (raw query, as in
/// the seed capture).
pub fn sms_request(recipient: &str, host: &str, message: &str, code: &str) -> String {
    format!(
        "GET /smssend_hide.cgi?$sms_recptmobile={recipient}&$sms_content={host}: {message}&$sms_code={code} HTTP/1.1\r\n\
         User-Agent: RUPS2K SMS\r\nHost: 127.0.0.1\r\nConnection: Keep-Alive\r\n\r\n"
    )
}

/// Sends one SMS alert request to `to` and returns the gateway's status line.
///
/// # Errors
/// When connecting, writing or reading fails, or no status line comes back
/// within `timeout`.
pub fn run_sms(to: SocketAddr, request: &str, timeout: Duration) -> Result<String> {
    let mut stream = TcpStream::connect_timeout(&to, timeout)
        .with_context(|| format!("connecting to the SMS gateway {to}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(request.as_bytes())?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    while !reply.contains(&b'\n') {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) => return Err(e).with_context(|| format!("reading the reply of {to}")),
        }
    }
    let text = String::from_utf8_lossy(&reply);
    match text.lines().next() {
        Some(line) if !line.is_empty() => Ok(line.trim_end().to_owned()),
        _ => bail!("{to} closed the connection without a reply"),
    }
}

/// A simulated Megatec UPS: answers `Q1`/`D`, `F`, `I`, obeys `T`, `TL`,
/// `T<n>`, `Q`, `S<n>[R<m>]`, `C`, `CT`, and echoes what it does not know.
#[derive(Debug, Clone)]
pub struct SimUps {
    beeper: bool,
    test_until: Option<Instant>,
    shutdown_at: Option<Instant>,
    restore_at: Option<Instant>,
    output_off: bool,
    /// The battery voltage it reports instead of its own (`2.28` for a
    /// per-cell UPS); a test still subtracts 2.0 V from a pack voltage.
    pub battery: Option<Decimal>,
    /// Reports a utility failure (on battery).
    pub on_battery: bool,
    /// Commands obeyed so far, as written on the wire (for the log).
    pub log: Vec<String>,
}

impl Default for SimUps {
    fn default() -> Self {
        Self::new()
    }
}

impl SimUps {
    /// A standby UPS on line, beeper off, nothing pending.
    pub fn new() -> Self {
        SimUps {
            beeper: false,
            test_until: None,
            shutdown_at: None,
            restore_at: None,
            output_off: false,
            battery: None,
            on_battery: false,
            log: Vec::new(),
        }
    }

    fn tick(&mut self, now: Instant) {
        if self.test_until.is_some_and(|t| now >= t) {
            self.test_until = None;
        }
        if self.shutdown_at.is_some_and(|t| now >= t) {
            self.shutdown_at = None;
            self.output_off = true;
        }
        if self.restore_at.is_some_and(|t| now >= t) && self.shutdown_at.is_none() {
            self.restore_at = None;
            self.output_off = false;
        }
    }

    /// Returns the status as of `now`.
    pub fn status(&mut self, now: Instant) -> Status {
        self.tick(now);
        let mut bits = StatusBits::STANDBY;
        let testing = self.test_until.is_some();
        if testing {
            bits |= StatusBits::TEST_IN_PROGRESS;
        }
        if self.shutdown_at.is_some() {
            bits |= StatusBits::SHUTDOWN_ACTIVE;
        }
        if self.beeper {
            bits |= StatusBits::BEEPER_ON;
        }
        if self.on_battery {
            bits |= StatusBits::UTILITY_FAIL;
        }
        let battery = match self.battery {
            Some(b) if testing && b.raw() > 200 && b.scale() == 1 => Decimal::new(b.raw() - 20, 1),
            Some(b) => Some(b),
            None => dec(if testing { 252 } else { 272 }, 1),
        };
        Status {
            input_voltage: dec(if self.on_battery { 0 } else { 2300 }, 1),
            input_fault_voltage: dec(2300, 1),
            output_voltage: dec(if self.output_off { 0 } else { 2300 }, 1),
            load_percent: Some(if self.output_off { 0 } else { 12 }),
            input_frequency: dec(if self.on_battery { 0 } else { 500 }, 1),
            battery_voltage: battery,
            temperature: dec(251, 1),
            bits: StatusBits::from_bits(bits),
        }
    }

    /// Handles one command line (without or with its CR); returns the reply
    /// bytes, if the UPS answers.
    pub fn handle(&mut self, line: &[u8], now: Instant) -> Option<Vec<u8>> {
        let mut buf = [0u8; MAX_LINE_LEN];
        let Ok(cmd) = parse_command(line) else {
            let mut echo = line.to_vec();
            if echo.last() != Some(&b'\r') {
                echo.push(b'\r');
            }
            return Some(echo);
        };
        self.tick(now);
        let minutes = |m: u64| Duration::from_secs(60 * m);
        let reply = match cmd {
            Command::Status | Command::StatusLegacy => {
                let n = self.status(now).emit(&mut buf).ok()?;
                Some(buf.get(..n)?.to_vec())
            }
            Command::Ratings => {
                let r = Ratings {
                    voltage: dec(2200, 1),
                    current: dec(5, 0),
                    battery_voltage: dec(240, 1),
                    frequency: dec(500, 1),
                };
                let n = r.emit(&mut buf).ok()?;
                Some(buf.get(..n)?.to_vec())
            }
            Command::Info => {
                let i = Info {
                    company: "REWIRE SIM",
                    model: "MEC0003",
                    version: "VSIM-1.0",
                };
                let n = i.emit(&mut buf).ok()?;
                Some(buf.get(..n)?.to_vec())
            }
            Command::Test => {
                self.test_until = Some(now + Duration::from_secs(10));
                None
            }
            Command::TestUntilLow => {
                self.test_until = Some(now + minutes(5));
                None
            }
            Command::TestFor(m) => {
                self.test_until = Some(now + minutes(u64::from(m.get())));
                None
            }
            Command::ToggleBeeper => {
                self.beeper = !self.beeper;
                None
            }
            Command::Shutdown { delay, restore } => {
                self.shutdown_at = Some(now + Duration::from_secs(u64::from(delay.seconds())));
                self.restore_at = match restore {
                    Some(r) if r.get() == 0 => None,
                    Some(r) => Some(
                        now + Duration::from_secs(u64::from(delay.seconds()))
                            + minutes(u64::from(r.get())),
                    ),
                    // Without R: back on "when the utility returns" — it never left.
                    None => Some(now + Duration::from_secs(u64::from(delay.seconds()) + 1)),
                };
                None
            }
            Command::CancelShutdown => {
                self.shutdown_at = None;
                self.restore_at = None;
                self.output_off = false;
                None
            }
            Command::CancelTest => {
                self.test_until = None;
                None
            }
        };
        self.log.push(cmd.to_string());
        reply
    }
}

/// Runs [`SimUps`] on `port` (the master side of a pseudo-terminal) until
/// `stop`: reads CR-terminated commands and writes the replies. `on_command`
/// sees each command line and whether it was answered.
///
/// # Errors
/// When reading or writing the port fails for a reason other than a timeout.
pub fn serve_ups<P: Read + Write>(
    port: &mut P,
    ups: &mut SimUps,
    stop: &AtomicBool,
    mut on_command: impl FnMut(&str, bool),
) -> Result<()> {
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        let n = match port.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the pty"),
        };
        for &b in buf.get(..n).unwrap_or_default() {
            match b {
                b'\r' => {
                    if !line.is_empty() {
                        let reply = ups.handle(&line, Instant::now());
                        on_command(&String::from_utf8_lossy(&line), reply.is_some());
                        if let Some(reply) = reply {
                            port.write_all(&reply)?;
                            port.flush()?;
                        }
                    }
                    line.clear();
                }
                b'\n' | 0 => {}
                _ if line.len() < MAX_LINE_LEN => line.push(b),
                _ => line.clear(),
            }
        }
    }
    Ok(())
}

/// A [`SimUps`] on TCP, as behind a serial server (ser2net): one client at
/// a time; the UPS's state outlives connections. Stopped by
/// [`TcpUps::shutdown`] within a second.
#[derive(Debug)]
pub struct TcpUps {
    local: SocketAddr,
    service: Service,
}

/// A TCP stream whose end reads as an error, so [`serve_ups`] returns.
struct Eof(TcpStream);

impl Read for Eof {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf)? {
            0 if !buf.is_empty() => Err(io::ErrorKind::UnexpectedEof.into()),
            n => Ok(n),
        }
    }
}

impl Write for Eof {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl TcpUps {
    /// Binds `addr` and serves `ups` to each client in turn; `on_command`
    /// sees each command line and whether it was answered.
    ///
    /// # Errors
    /// When the address cannot be bound or the thread cannot start.
    pub fn start(
        addr: SocketAddr,
        ups: SimUps,
        on_command: impl FnMut(&str, bool) + Send + 'static,
    ) -> Result<Self> {
        let listener = Listener::bind(addr)?;
        let local = listener.local_addr();
        let mut service = Service::new(format!("sim ups {local}"));
        let mut on_command = on_command;
        service.spawn("serve", move |stop| {
            let mut ups = ups;
            while !stop.is_set() {
                // Out of descriptors, accept_timeout backs off by itself.
                let Ok(Some((stream, peer))) = listener.accept_timeout(Duration::from_millis(100))
                else {
                    continue;
                };
                log::debug!("sim ups: {peer} connected");
                let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                let mut port = Eof(stream);
                if let Err(e) = serve_ups(&mut port, &mut ups, stop.as_atomic(), &mut on_command) {
                    log::debug!("sim ups: {peer}: {e:#}");
                }
            }
        })?;
        Ok(TcpUps { local, service })
    }

    /// Returns the bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops the simulator.
    pub fn shutdown(self) {
        self.service.shutdown();
    }
}

/// A [`SimUps`] on a pseudo-terminal: clients open [`PtyUps::path`] as a
/// serial port. Stopped by [`PtyUps::shutdown`] within a second. Unix only
/// (elsewhere, [`TcpUps`] stands in for the line).
#[cfg(unix)]
#[derive(Debug)]
pub struct PtyUps {
    path: String,
    service: Service,
}

#[cfg(unix)]
impl PtyUps {
    /// Opens a pseudo-terminal and serves a fresh [`SimUps`] on it;
    /// `on_command` sees each command line and whether it was answered.
    ///
    /// # Errors
    /// When no pseudo-terminal can be opened or the thread cannot start.
    pub fn start(on_command: impl FnMut(&str, bool) + Send + 'static) -> Result<Self> {
        Self::start_with(SimUps::new(), on_command)
    }

    /// [`PtyUps::start`] with a UPS in the state `ups`.
    ///
    /// # Errors
    /// When no pseudo-terminal can be opened or the thread cannot start.
    pub fn start_with(
        ups: SimUps,
        on_command: impl FnMut(&str, bool) + Send + 'static,
    ) -> Result<Self> {
        let mut pty = Pty::open(Duration::from_millis(100))?;
        let path = pty.path().to_owned();
        let mut service = Service::new("sim ups");
        let mut on_command = on_command;
        service.spawn("serve", move |stop| {
            let mut ups = ups;
            if let Err(e) = serve_ups(pty.master(), &mut ups, stop.as_atomic(), &mut on_command) {
                log::error!("sim ups: {e:#}");
            }
        })?;
        Ok(PtyUps { path, service })
    }

    /// Returns the device path to open (`/dev/pts/N`).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Returns whether the simulator stopped (its pseudo-terminal failed).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.service.is_finished()
    }

    /// Stops the simulator and closes the pseudo-terminal.
    pub fn shutdown(self) {
        self.service.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewire_upsilon::{parse_info, parse_ratings};

    #[test]
    fn outage_script_goes_out_low_and_back() {
        let bits: Vec<u8> = (0..OUTAGE_CYCLE + 1)
            .map(|t| scripted_status(Script::Outage, t).bits.bits())
            .collect();
        assert!(!StatusBits::from_bits(bits[0]).utility_fail());
        assert!(StatusBits::from_bits(bits[3]).utility_fail());
        assert!(StatusBits::from_bits(bits[6]).battery_low());
        assert!(!StatusBits::from_bits(bits[8]).utility_fail());
        assert_eq!(bits[12], bits[0]);
        assert!((0..50).all(|t| !scripted_status(Script::Steady, t).bits.utility_fail()));
    }

    #[test]
    fn sim_answers_queries_and_obeys_commands() {
        let t0 = Instant::now();
        let mut ups = SimUps::new();
        let q1 = ups.handle(b"Q1\r", t0).unwrap();
        let s = rewire_upsilon::Status::parse(&q1).unwrap();
        assert_eq!(s.bits.bits(), StatusBits::STANDBY);
        assert!(parse_ratings(&ups.handle(b"F", t0).unwrap()).is_ok());
        let info = ups.handle(b"I\r", t0).unwrap();
        assert_eq!(parse_info(&info).unwrap().company, "REWIRE SIM");
        let bits = |ups: &mut SimUps, t| ups.status(t).bits;
        assert_eq!(ups.handle(b"T\r", t0), None);
        assert!(bits(&mut ups, t0).test_in_progress());
        assert!(!bits(&mut ups, t0 + Duration::from_secs(11)).test_in_progress());
        ups.handle(b"T05\r", t0);
        assert!(bits(&mut ups, t0 + Duration::from_secs(299)).test_in_progress());
        ups.handle(b"CT\r", t0);
        assert!(!bits(&mut ups, t0).test_in_progress());
        ups.handle(b"TL\r", t0);
        assert!(bits(&mut ups, t0).test_in_progress());
        ups.handle(b"Q\r", t0);
        assert!(bits(&mut ups, t0).beeper_on());
        ups.handle(b"Q\r", t0);
        assert!(!bits(&mut ups, t0).beeper_on());
        ups.handle(b"S.5R0001\r", t0);
        assert!(bits(&mut ups, t0).shutdown_active());
        let off = ups.status(t0 + Duration::from_secs(31));
        assert_eq!(off.output_voltage.map(|v| v.raw()), Some(0));
        ups.handle(b"C\r", t0 + Duration::from_secs(32));
        let on = ups.status(t0 + Duration::from_secs(32));
        assert!(!on.bits.shutdown_active());
        assert_eq!(on.output_voltage.map(|v| v.raw()), Some(2300));
        assert_eq!(ups.handle(b"XYZ\r", t0), Some(b"XYZ\r".to_vec()));
        assert_eq!(ups.log.len(), 11);
    }

    #[test]
    fn rupsmon_plays_only_to_clients_and_shuts_down_within_a_second() {
        let sim = Rupsmon::start(&RupsmonConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            interval: Duration::from_millis(10),
            script: Script::Steady,
            count: Some(3),
        })
        .unwrap();
        thread::sleep(Duration::from_millis(200));
        assert_eq!(sim.sent(), 0, "nothing is played to nobody");
        let mut c = TcpStream::connect(sim.local_addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.iter().filter(|&&b| b == b'\r').count() < 3 {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sim.played_all(Some(3)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sim.sent(), 3);
        let started = Instant::now();
        sim.shutdown();
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[cfg(unix)]
    #[test]
    fn the_pty_ups_answers_and_shuts_down_within_a_second() {
        let ups = PtyUps::start(|_, _| {}).unwrap();
        let settings = rewire_transport::link::SerialSettings::MEGATEC
            .with_read_timeout(Duration::from_millis(50));
        let port = rewire_transport::link::open_serial(ups.path(), &settings).unwrap();
        let mut conv = crate::ups::Ups::new(port, ups.path(), Duration::from_millis(500), 3);
        assert!(matches!(
            conv.status().unwrap(),
            Some(crate::message::Body::Status(_))
        ));
        let started = Instant::now();
        ups.shutdown();
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
