//! Simulators of both ends, for tests and demos: a unit that connects, sends
//! its init frame and answers queries and sets from a property table whose
//! readings drift, and a cloud that accepts units, asks the usual first
//! query, more queries, a `0x08` frame and now and then a set.
//!
//! Both count and checksum (CRC-64/XZ) every byte they send and receive, and
//! print one line per session (see [`SessionReport`]), so a test can check
//! that a relay in between changed nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rewire_transport::framing::{Event, Framer, WebSentry};
use rewire_websentry::{
    Frame, FunctionCode, QueryIds, STATUS_OK, Value, Values, encode_frame, encode_query_request,
    encode_query_response, encode_set_request, encode_set_response,
};

use rewire_host::service::{Service, StopFlag};

use crate::frame::{OwnedValue as Owned, ids};

static CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);

/// Length and CRC-64 of a byte stream.
pub struct StreamDigest {
    len: u64,
    digest: crc::Digest<'static, u64>,
}

impl Default for StreamDigest {
    fn default() -> Self {
        Self {
            len: 0,
            digest: CRC64.digest(),
        }
    }
}

impl fmt::Debug for StreamDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamDigest({})", self.len)
    }
}

impl StreamDigest {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        self.digest.update(bytes);
    }

    /// Returns `LEN:CRC64HEX`.
    #[must_use]
    pub fn finish(self) -> String {
        format!("{}:{:016x}", self.len, self.digest.finalize())
    }
}

/// What one simulated session sent and received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// Which side wrote it: `unit` or `cloud`.
    pub side: &'static str,
    /// Session number, from 1.
    pub session: u64,
    /// `LEN:CRC64` of every byte sent.
    pub sent: String,
    /// `LEN:CRC64` of every byte received.
    pub received: String,
    /// Frames received.
    pub frames: u64,
}

impl fmt::Display for SessionReport {
    /// `unit session 1 sent=123:0123456789abcdef received=45:… frames=7`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} session {} sent={} received={} frames={}",
            self.side, self.session, self.sent, self.received, self.frames
        )
    }
}

/// A TCP stream that checksums what passes through it.
struct Counted {
    stream: TcpStream,
    framer: Framer<WebSentry>,
    sent: StreamDigest,
    received: StreamDigest,
    frames: u64,
}

impl Counted {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            framer: Framer::new(WebSentry),
            sent: StreamDigest::default(),
            received: StreamDigest::default(),
            frames: 0,
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.sent.update(bytes);
        Ok(())
    }

    /// Returns the next frame, or `None` at end of stream or after `timeout`
    /// without one.
    fn next_frame(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            while let Some(event) = self.framer.next() {
                if let Event::Message(m) = event {
                    self.frames += 1;
                    return Ok(Some(m.bytes.into()));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or(&[]);
                    self.received.update(chunk);
                    let _ = self.framer.push(chunk);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads (and checksums) until the peer closes, at most `timeout`.
    fn drain(&mut self, timeout: Duration) -> io::Result<()> {
        while self.next_frame(timeout)?.is_some() {}
        Ok(())
    }

    fn report(self, side: &'static str, session: u64) -> SessionReport {
        SessionReport {
            side,
            session,
            sent: self.sent.finish(),
            received: self.received.finish(),
            frames: self.frames,
        }
    }
}

fn build(function: FunctionCode, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; body.len() + 8];
    match encode_frame(function, body, &mut out) {
        Ok(n) => out.truncate(n),
        Err(_) => out.clear(),
    }
    out
}

/// The simulated unit's property table.
#[derive(Debug, Clone)]
pub struct PropertyTable {
    values: BTreeMap<u16, Owned>,
    rng: fastrand::Rng,
}

/// Readings that drift, with their bounds in tenths.
const DRIFTING: &[(u16, u16, u16)] = &[
    (0x0600, 450, 650),
    (0x0601, 650, 800),
    (0x0602, 700, 850),
    (0x0603, 300, 900),
    (0x0604, 600, 850),
    (0x0605, 600, 860),
    (0x0606, 1700, 2100),
    (0x0607, 1700, 2100),
    (0x0608, 550, 700),
    (0x0609, 750, 900),
    (0x060a, 100, 200),
    (0x0610, 650, 850),
];

impl PropertyTable {
    /// Creates the table of a unit like the one the protocol was learnt
    /// from (sample values from the public captures), seeded for drift.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut values = BTreeMap::new();
        let mut put = |id: u16, v: Value<'_>| {
            values.insert(id, Owned::of(v));
        };
        put(0x0100, Value::Version([0, 5, 15, 12]));
        put(ids::VERSION_STRING, Value::Str(b"5.15.12"));
        put(
            0x0102,
            Value::TypedEnum {
                enum_type: 0x1b,
                value: 16,
            },
        );
        put(ids::SERIAL_NUMBER, Value::U32(123_456_789));
        put(
            0x010b,
            Value::TypedEnum {
                enum_type: 0x0b,
                value: 6,
            },
        );
        put(
            ids::TEMP_UNIT,
            Value::TypedEnum {
                enum_type: ids::TEMP_UNIT_ENUM,
                value: 4,
            },
        );
        put(0x0110, Value::Str(b"123456789"));
        put(0x0111, Value::Enum(1));
        put(0x0116, Value::U16(17));
        put(0x0402, Value::Ipv4([10, 15, 25, 34].into()));
        put(
            0x0701,
            Value::Ranged {
                value: 90,
                min: 0,
                max: 100,
                step: 5,
            },
        );
        put(
            0x0c01,
            Value::TypedEnum {
                enum_type: 0x01,
                value: 1,
            },
        );
        put(0x0e0c, Value::U16(4));
        put(0x100f, Value::Enum(2));
        put(0x120e, Value::Enum(2));
        put(0x1220, Value::U16(100));
        put(0x1a18, Value::U16(6));
        put(
            0x091e,
            Value::TypedEnum {
                enum_type: 0x01,
                value: 1,
            },
        );
        put(
            0x2500,
            Value::Ranged {
                value: 83,
                min: 55,
                max: 95,
                step: 1,
            },
        );
        put(
            0x2501,
            Value::Ranged {
                value: 54,
                min: 35,
                max: 85,
                step: 1,
            },
        );
        put(
            0x2502,
            Value::Ranged {
                value: 82,
                min: 60,
                max: 108,
                step: 1,
            },
        );
        for (id, lo, hi) in DRIFTING {
            put(*id, Value::Tenths(lo + (hi - lo) / 2));
        }
        Self {
            values,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Returns every id in the table.
    #[must_use]
    pub fn ids(&self) -> Vec<u16> {
        let mut ids: Vec<u16> = self.values.keys().copied().collect();
        ids.extend([0x0107, 0x0108]);
        ids.sort_unstable();
        ids
    }

    /// Moves each drifting reading by up to ±0.3.
    pub fn drift(&mut self) {
        for (id, lo, hi) in DRIFTING {
            if let Some(Value::Tenths(v)) = self.values.get(id).and_then(Owned::value) {
                let step = self.rng.i32(-3..=3);
                let next = (i32::from(v) + step).clamp(i32::from(*lo), i32::from(*hi));
                let next = u16::try_from(next).unwrap_or(*lo);
                self.values.insert(*id, Owned::of(Value::Tenths(next)));
            }
        }
    }

    /// Returns the value of `id`: the clock for date and time, a `u16` zero
    /// for ids the table lacks (what a real unit answers then is unknown).
    fn get(&self, id: u16, now: SystemTime) -> Owned {
        let clock = jiff::Timestamp::try_from(now)
            .map(|ts| ts.to_zoned(jiff::tz::TimeZone::system()).datetime())
            .unwrap_or_default();
        match id {
            0x0107 => Owned::of(Value::Date {
                year_since_1900: u8::try_from(clock.year() - 1900).unwrap_or(124),
                month: u8::try_from(clock.month()).unwrap_or(1),
                day: u8::try_from(clock.day()).unwrap_or(1),
                reserved: 0,
            }),
            0x0108 => Owned::of(Value::Time {
                hour: u8::try_from(clock.hour()).unwrap_or(0),
                minute: u8::try_from(clock.minute()).unwrap_or(0),
                seconds_x4: u8::try_from(i32::from(clock.second()) * 4).unwrap_or(0),
                reserved: 0,
            }),
            _ => self
                .values
                .get(&id)
                .cloned()
                .unwrap_or_else(|| Owned::of(Value::U16(0))),
        }
    }

    /// Applies a set (always a `u16` on the wire) to the property's own
    /// type; returns the status to answer (`0` done, `1` unknown id or a
    /// type that cannot take it — the failure code is the simulator's guess).
    fn set(&mut self, id: u16, new: u16) -> u8 {
        let Some(current) = self.values.get(&id).and_then(Owned::value) else {
            return 1;
        };
        let byte = u8::try_from(new).ok();
        let updated = match (current, byte) {
            (Value::Ranged { min, max, step, .. }, _) => i16::try_from(new)
                .ok()
                .filter(|v| (min..=max).contains(v))
                .map(|value| Value::Ranged {
                    value,
                    min,
                    max,
                    step,
                }),
            (Value::U16(_), _) => Some(Value::U16(new)),
            (Value::Enum(_), Some(b)) => Some(Value::Enum(b)),
            (Value::U8(_), Some(b)) => Some(Value::U8(b)),
            (Value::TypedEnum { enum_type, .. }, Some(b)) => Some(Value::TypedEnum {
                enum_type,
                value: b,
            }),
            _ => None,
        };
        match updated {
            Some(v) => {
                self.values.insert(id, Owned::of(v));
                STATUS_OK
            }
            None => 1,
        }
    }

    /// Answers one server frame; `None` when there is nothing to answer.
    #[must_use]
    pub fn answer(&mut self, frame: &[u8], now: SystemTime) -> Option<Vec<u8>> {
        let frame = Frame::new_checked(frame).ok()?;
        match frame.function() {
            FunctionCode::QUERY => {
                self.drift();
                let ids: Vec<u16> = QueryIds::new(frame.body()).map_while(Result::ok).collect();
                let owned: Vec<(u16, Owned)> =
                    ids.iter().map(|id| (*id, self.get(*id, now))).collect();
                let items: Vec<(u16, Value<'_>)> = owned
                    .iter()
                    .filter_map(|(id, o)| o.value().map(|v| (*id, v)))
                    .collect();
                let mut out = vec![
                    0u8;
                    8 + owned
                        .iter()
                        .map(|(_, o)| o.encoded().len() + 2)
                        .sum::<usize>()
                ];
                let n = encode_query_response(&items, &mut out).ok()?;
                out.truncate(n);
                Some(out)
            }
            FunctionCode::SET => {
                let sets: Vec<(u16, u16)> = Values::new(frame.body())
                    .map_while(Result::ok)
                    .map(|(id, v)| (id, v.as_f64().map_or(0, |f| f as u16)))
                    .collect();
                let statuses: Vec<(u16, u8)> = sets
                    .into_iter()
                    .map(|(id, v)| (id, self.set(id, v)))
                    .collect();
                let mut out = vec![0u8; 8 + statuses.len() * 3];
                let n = encode_set_response(&statuses, &mut out).ok()?;
                out.truncate(n);
                Some(out)
            }
            FunctionCode::INIT => None,
            // What a unit answers to 0x08 is unknown: echo the function, empty body.
            other => Some(build(other, &[])),
        }
    }
}

/// How the simulated unit behaves.
#[derive(Debug, Clone)]
pub struct UnitConfig {
    /// Where to connect (the proxy or the cloud).
    pub connect: String,
    /// Sessions to run; 0 = until stopped.
    pub sessions: u64,
    /// Pause between sessions (a real unit: about a minute).
    pub interval: Duration,
    /// The MAC address in the init frame.
    pub mac: [u8; 6],
    /// Seed for the drift.
    pub seed: u64,
    /// How long a silent server is waited for before the unit hangs up.
    pub idle_timeout: Duration,
}

/// Returns the init frame the unit sends on connect (the captured layout).
#[must_use]
pub fn init_frame(mac: [u8; 6]) -> Vec<u8> {
    let items = [
        (0xff00, Value::Enum(5)),
        (0x0401, Value::Mac(mac)),
        (0x0120, Value::Enum(7)),
    ];
    let mut out = vec![0u8; 64];
    let n = rewire_websentry::encode_values(FunctionCode::INIT, &items, &mut out).unwrap_or(0);
    out.truncate(n);
    out
}

/// Runs one unit session: connect, init, answer until the server closes.
///
/// # Errors
/// When the connection fails.
pub fn unit_session(
    config: &UnitConfig,
    table: &mut PropertyTable,
    session: u64,
) -> io::Result<SessionReport> {
    let stream = connect(&config.connect)?;
    let _ = stream.set_nodelay(true);
    let mut link = Counted::new(stream);
    link.send(&init_frame(config.mac))
        .map_err(|e| io::Error::new(e.kind(), format!("sending the init frame: {e}")))?;
    while let Some(frame) = link.next_frame(config.idle_timeout)? {
        if let Some(answer) = table.answer(&frame, SystemTime::now()) {
            link.send(&answer)
                .map_err(|e| io::Error::new(e.kind(), format!("answering: {e}")))?;
        }
    }
    let _ = link.stream.shutdown(Shutdown::Write);
    link.drain(config.idle_timeout)?;
    Ok(link.report("unit", session))
}

fn connect(target: &str) -> io::Result<TcpStream> {
    let mut last = None;
    let addrs = target
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {target}: {e}")))?;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => io::Error::new(e.kind(), format!("cannot connect to {target}: {e}")),
        None => io::Error::new(
            io::ErrorKind::NotFound,
            format!("{target} resolves to no address"),
        ),
    })
}

/// Runs the unit: `sessions` sessions `interval` apart, handing each
/// report to `report`, until done or `stop` is set (looked at between
/// sessions and every 20 ms of the pause).
///
/// # Errors
/// When a session fails.
pub fn run_unit(
    config: &UnitConfig,
    stop: &StopFlag,
    mut report: impl FnMut(&SessionReport),
) -> io::Result<()> {
    let mut table = PropertyTable::new(config.seed);
    let mut n = 0;
    while !stop.is_set() {
        n += 1;
        let r = unit_session(config, &mut table, n)?;
        report(&r);
        if config.sessions != 0 && n >= config.sessions {
            break;
        }
        let until = Instant::now() + config.interval;
        while !stop.is_set() && Instant::now() < until {
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
    }
    Ok(())
}

/// The usual first query's ids (websentry-protocol.md).
pub const FIRST_QUERY_IDS: [u16; 16] = [
    0x0100, 0x0101, 0x010e, 0x0116, 0x0281, 0x0c01, 0x1003, 0x100c, 0x1010, 0x1220, 0x0102, 0x0107,
    0x0108, 0x010b, 0x0125, 0x0136,
];

/// The ids the cloud asks for after the first query.
pub const LATER_QUERY_IDS: &[&[u16]] = &[
    &[
        0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x0606, 0x0607, 0x0608, 0x0609, 0x060a,
        0x0610,
    ],
    &[
        0x0103, 0x0110, 0x0111, 0x0402, 0x0701, 0x0e0c, 0x100f, 0x120e, 0x1a18, 0x091e,
    ],
    &[0x2500, 0x2501, 0x2502],
];

/// How the simulated cloud behaves.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// Send a set (humidity set point) every this many sessions; 0 = never.
    pub set_every: u64,
    /// Sessions to serve before returning; 0 = until stopped.
    pub sessions: u64,
    /// How long an answer is waited for.
    pub answer_timeout: Duration,
    /// Units served at once; more are closed on accept.
    pub max_concurrent: usize,
}

/// Units a simulated cloud serves at once unless told otherwise.
pub const DEFAULT_CLOUD_CONCURRENCY: usize = 256;

fn query(ids: &[u16]) -> Vec<u8> {
    let mut out = vec![0u8; 8 + ids.len() * 3];
    let n = encode_query_request(ids, &mut out).unwrap_or(0);
    out.truncate(n);
    out
}

/// Serves one unit: waits for init, sends the queries (and maybe a set and
/// its check), a `0x08` frame, then closes its side and reads to the end.
///
/// # Errors
/// When the connection fails.
pub fn cloud_session(
    stream: TcpStream,
    config: &CloudConfig,
    session: u64,
) -> io::Result<SessionReport> {
    let _ = stream.set_nodelay(true);
    let mut link = Counted::new(stream);
    let init = link.next_frame(config.answer_timeout)?;
    if init.is_some() {
        let mut script = vec![query(&FIRST_QUERY_IDS)];
        script.extend(LATER_QUERY_IDS.iter().map(|ids| query(ids)));
        if config.set_every != 0 && session.is_multiple_of(config.set_every) {
            let target = 45 + u16::try_from(session % 10).unwrap_or(0);
            let mut out = vec![0u8; 16];
            let n = encode_set_request(&[(0x2501, Value::U16(target))], &mut out).unwrap_or(0);
            out.truncate(n);
            script.push(out);
            script.push(query(&[0x2501]));
        }
        script.push(build(FunctionCode::CODE_08, &[0x01]));
        for frame in script {
            link.send(&frame)?;
            if link.next_frame(config.answer_timeout)?.is_none() {
                break;
            }
        }
    }
    let _ = link.stream.shutdown(Shutdown::Write);
    link.drain(config.answer_timeout)?;
    Ok(link.report("cloud", session))
}

/// A running simulated cloud: serves many units at once (a thread each, at
/// most [`CloudConfig::max_concurrent`]), reporting each session, until
/// [`Cloud::shutdown`] or until it has served [`CloudConfig::sessions`].
#[derive(Debug)]
pub struct Cloud {
    service: Service,
    local: SocketAddr,
}

/// How often the accept loop looks at its stop flag.
const POLL: Duration = Duration::from_millis(20);

/// The sockets of the sessions in progress, by session number.
type Live = Arc<Mutex<HashMap<u64, TcpStream>>>;

impl Cloud {
    /// Starts serving on `listener`, calling `report` after each session.
    ///
    /// # Errors
    /// When the listener cannot be made non-blocking or the thread cannot start.
    pub fn start(
        listener: TcpListener,
        config: CloudConfig,
        report: impl FnMut(&SessionReport) + Send + 'static,
    ) -> io::Result<Self> {
        let local = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let live: Live = Arc::default();
        let mut service = Service::new("cloud");
        let watched = Arc::clone(&live);
        service.spawn("watch", move |stop| {
            while !stop.is_set() {
                std::thread::sleep(POLL);
            }
            // Sessions blocked on silent units end now.
            for s in watched
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
            {
                let _ = s.shutdown(Shutdown::Both);
            }
        })?;
        let report = Arc::new(Mutex::new(report));
        service.spawn("accept", move |stop| {
            accept_units(&listener, &config, &live, &report, stop);
        })?;
        Ok(Self { service, local })
    }

    /// Returns the address units connect to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Returns whether it has served all its sessions (or was stopped).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.service.stop_flag().is_set()
    }

    /// Stops it within a second, ending the sessions in progress.
    pub fn shutdown(self) {
        self.service.shutdown();
    }
}

/// The cloud's accept loop: a thread per unit, at most
/// [`CloudConfig::max_concurrent`] at once.
fn accept_units<R: FnMut(&SessionReport) + Send + 'static>(
    listener: &TcpListener,
    config: &CloudConfig,
    live: &Live,
    report: &Arc<Mutex<R>>,
    stop: &StopFlag,
) {
    let open = Arc::new(AtomicUsize::new(0));
    let mut threads: Vec<std::thread::JoinHandle<()>> = Vec::new();
    let mut n = 0;
    let mut refused = 0u64;
    while !stop.is_set() {
        threads.retain(|t| !t.is_finished());
        if config.sessions != 0 && n >= config.sessions {
            // All started: stop once they have ended.
            if threads.is_empty() {
                stop.set();
            }
            std::thread::sleep(POLL);
            continue;
        }
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                std::thread::sleep(POLL);
                continue;
            }
            Err(e) => {
                log::warn!("cloud: accept failed: {e}");
                std::thread::sleep(POLL * 5);
                continue;
            }
        };
        if open.load(Ordering::Acquire) >= config.max_concurrent.max(1) {
            refused += 1;
            if refused.is_power_of_two() {
                log::warn!(
                    "cloud: {} units at once; {refused} refused so far",
                    config.max_concurrent
                );
            }
            continue;
        }
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        n += 1;
        let session = n;
        if let Ok(clone) = stream.try_clone() {
            live.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(session, clone);
        }
        open.fetch_add(1, Ordering::AcqRel);
        let (own_config, own_live, own_report, own_open) = (
            config.clone(),
            Arc::clone(live),
            Arc::clone(report),
            Arc::clone(&open),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("cloud session {session}"))
            .spawn(move || {
                match cloud_session(stream, &own_config, session) {
                    Ok(r) => (own_report.lock().unwrap_or_else(PoisonError::into_inner))(&r),
                    Err(e) => log::warn!("cloud session {session}: {e}"),
                }
                own_live
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&session);
                own_open.fetch_sub(1, Ordering::AcqRel);
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                open.fetch_sub(1, Ordering::AcqRel);
                live.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&session);
                log::warn!("cloud: cannot start a session thread: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_frame_matches_the_capture() {
        let mac = [0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3];
        assert_eq!(
            hex::encode(init_frame(mac)),
            "70839ee8e6001200ff0002050401 0d0090c20c02b3012002 07".replace(' ', "")
        );
    }

    #[test]
    fn table_answers_queries_sets_and_unknown_functions() {
        let mut table = PropertyTable::new(1);
        let now = SystemTime::now();
        let answer = table.answer(&query(&[0x2501, 0x9999]), now).unwrap();
        let f = Frame::new_checked(&answer[..])
            .and_then(|f| f.check_checksum().map(|()| f))
            .unwrap();
        let items: Vec<_> = f.values().map(Result::unwrap).collect();
        assert_eq!(
            items[0].1,
            Value::Ranged {
                value: 54,
                min: 35,
                max: 85,
                step: 1
            }
        );
        assert_eq!(items[1], (0x9999, Value::U16(0)));
        let mut set = vec![0u8; 32];
        let n = encode_set_request(
            &[(0x2501, Value::U16(50)), (0x4242, Value::U16(1))],
            &mut set,
        )
        .unwrap();
        let ack = table.answer(&set[..n], now).unwrap();
        let f = Frame::new_checked(&ack[..])
            .and_then(|f| f.check_checksum().map(|()| f))
            .unwrap();
        let st: Vec<_> = f.set_statuses().map(Result::unwrap).collect();
        assert_eq!(st, [(0x2501, 0), (0x4242, 1)]);
        let again = table.answer(&query(&[0x2501]), now).unwrap();
        let f = Frame::new_checked(&again[..])
            .and_then(|f| f.check_checksum().map(|()| f))
            .unwrap();
        assert_eq!(
            f.values().next().unwrap().unwrap().1,
            Value::Ranged {
                value: 50,
                min: 35,
                max: 85,
                step: 1
            }
        );
        let odd = table
            .answer(&build(FunctionCode::CODE_08, &[1]), now)
            .unwrap();
        assert_eq!(
            Frame::new_checked(&odd[..])
                .and_then(|f| f.check_checksum().map(|()| f))
                .unwrap()
                .function(),
            FunctionCode::CODE_08
        );
    }

    #[test]
    fn the_cloud_serves_a_unit_and_shuts_down_within_a_second() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let config = CloudConfig {
            set_every: 1,
            sessions: 0,
            answer_timeout: Duration::from_secs(10),
            max_concurrent: 4,
        };
        let cloud = Cloud::start(listener, config, move |r| {
            let _ = tx.send(r.clone());
        })
        .unwrap();
        let unit = UnitConfig {
            connect: cloud.local_addr().to_string(),
            sessions: 1,
            interval: Duration::from_millis(10),
            mac: [0, 1, 2, 3, 4, 5],
            seed: 1,
            idle_timeout: Duration::from_secs(5),
        };
        let mut got = Vec::new();
        run_unit(&unit, &StopFlag::new(), |r| got.push(r.clone())).unwrap();
        let cloud_report = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(got[0].sent, cloud_report.received);
        assert_eq!(got[0].received, cloud_report.sent);
        // A silent unit holds a session open; others are served meanwhile.
        let _silent = TcpStream::connect(cloud.local_addr()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let units: Vec<_> = (0..3u8)
            .map(|i| {
                let unit = UnitConfig {
                    mac: [0, 1, 2, 3, 4, i],
                    ..unit.clone()
                };
                std::thread::spawn(move || {
                    let mut n = 0;
                    run_unit(&unit, &StopFlag::new(), |_| n += 1).map(|()| n)
                })
            })
            .collect();
        for u in units {
            assert_eq!(u.join().unwrap().unwrap(), 1);
        }
        for _ in 0..3 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        let started = Instant::now();
        cloud.shutdown();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn drift_stays_in_bounds() {
        let mut table = PropertyTable::new(7);
        for _ in 0..2000 {
            table.drift();
        }
        for (id, lo, hi) in DRIFTING {
            let Some(Value::Tenths(v)) = table.values.get(id).and_then(Owned::value) else {
                panic!("{id:#x}");
            };
            assert!((*lo..=*hi).contains(&v));
        }
    }
}
