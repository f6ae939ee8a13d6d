//! A read-only server for the Network UPS Tools network protocol (what
//! `upsd` speaks on TCP 3493), enough for `upsc`, `upsmon` (as a secondary)
//! and other NUT clients. Reply formats and error names follow NUT's
//! `docs/net-protocol.txt` and `server/net*.c`.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use rewire_transport::link::Listener;

use rewire_host::service::Service;
use rewire_upsilon::{Command, Decimal, RestoreMinutes, ShutdownDelay, Status};

use crate::hub::{Shared, Snapshot};
use crate::message::decimal;
use crate::state::{ups_alarm, ups_status};
use crate::users::{UpsmonRole, User, Users};

/// The protocol version this server speaks (`NETVER`).
pub const NETVER: &str = "1.3";

/// Longest command line accepted (upsd's own limit is of this order).
const MAX_LINE: usize = 1024;

/// How long a connection may stay silent unless told otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many clients are served at once unless told otherwise.
pub const DEFAULT_MAX_CLIENTS: usize = 64;

/// Tracked `INSTCMD` results kept for `GET TRACKING` (oldest forgotten).
const MAX_TRACKED: usize = 256;

/// Commands waiting for the driver.
const COMMAND_QUEUE: usize = 16;

/// Settings of the NUT server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutConfig {
    /// The UPS name clients use (`ups` in `upsc ups@host`).
    pub ups_name: String,
    /// Its description (`LIST UPS`, `GET UPSDESC`).
    pub description: String,
    /// A status older than this makes the data stale (`ERR DATA-STALE`).
    pub stale_after: Duration,
    /// A client silent this long is disconnected.
    pub idle_timeout: Duration,
    /// Clients served at once; more are closed on accept.
    pub max_clients: usize,
    /// Who may run commands, set variables and claim the `upsmon` primary
    /// role; nobody when empty.
    pub users: Users,
}

impl NutConfig {
    /// Makes the settings: the UPS `name` clients use, its `description`,
    /// and the age beyond which its data is stale.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        stale_after: Duration,
    ) -> Self {
        NutConfig {
            ups_name: name.into(),
            description: description.into(),
            stale_after,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_clients: DEFAULT_MAX_CLIENTS,
            users: Users::default(),
        }
    }
}

/// The instant commands a Megatec UPS carries out, with NUT's descriptions
/// (`data/cmdvartab`), as nutdrv_qx's megatec subdriver and blazer offer them.
pub const INSTCMDS: [(&str, &str); 9] = [
    ("beeper.toggle", "Toggle the UPS beeper"),
    ("load.off", "Turn off the load immediately"),
    ("load.on", "Turn on the load immediately"),
    (
        "shutdown.return",
        "Turn off the load and return when power is back",
    ),
    ("shutdown.stayoff", "Turn off the load and remain off"),
    ("shutdown.stop", "Stop a shutdown in progress"),
    ("test.battery.start.deep", "Start a deep battery test"),
    ("test.battery.start.quick", "Start a quick battery test"),
    ("test.battery.stop", "Stop the battery test"),
];

/// The writable variables: `ups.delay.shutdown` (s, 12–600, blazer's
/// `offdelay`) and `ups.delay.start` (s, whole minutes up to 9999, blazer's
/// `ondelay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delays {
    /// `ups.delay.shutdown`, s.
    pub shutdown: u32,
    /// `ups.delay.start`, s.
    pub start: u32,
}

impl Default for Delays {
    /// blazer's defaults: 30 s off delay, 3 min on delay.
    fn default() -> Self {
        Delays {
            shutdown: 30,
            start: 180,
        }
    }
}

impl Delays {
    fn shutdown_delay(self) -> Option<ShutdownDelay> {
        let s = self.shutdown;
        if s < 60 {
            ShutdownDelay::from_tenths(u8::try_from(s / 6).ok()?).ok()
        } else {
            ShutdownDelay::from_minutes(u8::try_from(s / 60).ok()?).ok()
        }
    }

    /// Sets `name` from `value` as blazer truncates it (the shutdown delay
    /// to a settable value: 6 s steps below a minute, whole minutes above;
    /// the start delay to whole minutes); `None` when out of range.
    fn set(&mut self, name: &str, value: &str) -> Option<()> {
        let v: u32 = value.trim().parse().ok()?;
        match name {
            "ups.delay.shutdown" if (12..=600).contains(&v) => {
                self.shutdown = if v < 60 { v - v % 6 } else { v - v % 60 };
            }
            "ups.delay.start" if v <= 9999 * 60 => self.start = v - v % 60,
            _ => return None,
        }
        Some(())
    }
}

/// Returns the Megatec command carrying out the NUT instant command `name`
/// (as blazer's `instcmd` maps them), given the delays; `None` for a name
/// it does not know.
///
/// `load.off` is `S.2R0000`: the Megatec `S00` of blazer has no form in the
/// parser's [`ShutdownDelay`] (its shortest delay is .2 minute, 12 s).
#[must_use]
pub fn megatec_command(name: &str, delays: Delays) -> Option<Command> {
    let stay_off = RestoreMinutes::new(0).ok();
    Some(match name.to_ascii_lowercase().as_str() {
        "beeper.toggle" => Command::ToggleBeeper,
        "load.on" | "shutdown.stop" => Command::CancelShutdown,
        "test.battery.start.deep" => Command::TestUntilLow,
        "test.battery.start.quick" => Command::Test,
        "test.battery.stop" => Command::CancelTest,
        "load.off" => Command::Shutdown {
            delay: ShutdownDelay::from_tenths(2).ok()?,
            restore: stay_off,
        },
        "shutdown.stayoff" => Command::Shutdown {
            delay: delays.shutdown_delay()?,
            restore: stay_off,
        },
        "shutdown.return" => Command::Shutdown {
            delay: delays.shutdown_delay()?,
            restore: match delays.start / 60 {
                0 => None,
                m => Some(RestoreMinutes::new(u16::try_from(m).ok()?).ok()?),
            },
        },
        _ => return None,
    })
}

/// A tracked command's state (`GET TRACKING`).
const PENDING: u8 = 0;
const SUCCESS: u8 = 1;
const FAILED: u8 = 2;

/// A tracking id and the state it tracks.
type Tracked = (String, Arc<AtomicU8>);

/// One `INSTCMD` handed to the driver.
#[derive(Debug)]
pub struct Job {
    /// The NUT command name.
    pub name: String,
    /// The Megatec command that carries it out.
    pub command: Command,
    /// Who asked (for the log; never a password).
    pub user: String,
    state: Arc<AtomicU8>,
}

impl Job {
    /// Records whether the UPS took the command (what `GET TRACKING` says).
    pub fn finish(&self, ok: bool) {
        self.state
            .store(if ok { SUCCESS } else { FAILED }, Ordering::Relaxed);
    }
}

/// Where the NUT server hands `INSTCMD`s: the receiving end belongs to the
/// loop that drives the UPS ([`crate::ups::poll_with_commands`]).
#[derive(Debug, Clone)]
pub struct Driver(mpsc::SyncSender<Job>);

/// Makes the command queue between the NUT server and the driver.
#[must_use]
pub fn command_queue() -> (Driver, mpsc::Receiver<Job>) {
    let (tx, rx) = mpsc::sync_channel(COMMAND_QUEUE);
    (Driver(tx), rx)
}

/// One NUT variable: its name, description, whether it is a number, and
/// how its value comes from the status and the UPS's identity (`None`: not
/// listed).
struct Var {
    name: &'static str,
    desc: &'static str,
    numeric: bool,
    value: fn(&Status, &Snapshot) -> Option<String>,
}

fn one(x: f64) -> String {
    format!("{x:.1}")
}

fn dec1(d: Option<Decimal>) -> Option<String> {
    d.map(|d| one(decimal(d)))
}

/// The variables this server serves, sorted by name (as upsd lists them).
const VARS: &[Var] = &[
    Var {
        name: "battery.charge",
        desc: "Battery charge (percent of full)",
        numeric: true,
        value: |_, sn| sn.battery.and_then(|b| b.charge).map(|c| format!("{c:.0}")),
    },
    Var {
        name: "battery.runtime",
        desc: "Battery runtime (seconds)",
        numeric: true,
        value: |_, sn| {
            sn.battery
                .and_then(|b| b.runtime)
                .map(|r| format!("{r:.0}"))
        },
    },
    Var {
        name: "battery.voltage",
        desc: "Battery voltage (V)",
        numeric: true,
        value: |s, sn| match sn.battery {
            Some(b) => Some(format!("{:.2}", b.voltage)),
            None => s.battery_voltage.map(|b| format!("{:.2}", decimal(b))),
        },
    },
    Var {
        name: "battery.voltage.high",
        desc: "Maximum battery voltage (i.e. Fully charged)",
        numeric: true,
        value: |_, sn| sn.battery.and_then(|b| b.high).map(|v| format!("{v:.2}")),
    },
    Var {
        name: "battery.voltage.low",
        desc: "Minimum battery voltage, that triggers FSD status",
        numeric: true,
        value: |_, sn| sn.battery.and_then(|b| b.low).map(|v| format!("{v:.2}")),
    },
    Var {
        name: "battery.voltage.nominal",
        desc: "Nominal battery voltage (V)",
        numeric: true,
        value: |_, sn| sn.identity.rated_battery_voltage.map(one),
    },
    Var {
        name: "device.mfr",
        desc: "Device manufacturer",
        numeric: false,
        value: |_, sn| {
            Some(
                sn.identity
                    .company
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            )
        },
    },
    Var {
        name: "device.model",
        desc: "Device model",
        numeric: false,
        value: |_, sn| {
            Some(
                sn.identity
                    .model
                    .clone()
                    .unwrap_or_else(|| "UPSilon 2000 UPS".into()),
            )
        },
    },
    Var {
        name: "device.type",
        desc: "Device type",
        numeric: false,
        value: |_, _| Some("ups".into()),
    },
    Var {
        name: "driver.name",
        desc: "Driver name",
        numeric: false,
        value: |_, _| Some("rewire-upsilon".into()),
    },
    Var {
        name: "driver.version",
        desc: "Driver version",
        numeric: false,
        value: |_, _| Some(env!("CARGO_PKG_VERSION").into()),
    },
    Var {
        name: "input.frequency",
        desc: "Input line frequency (Hz)",
        numeric: true,
        value: |s, _| dec1(s.input_frequency),
    },
    Var {
        name: "input.current.nominal",
        desc: "Nominal input current (A)",
        numeric: true,
        value: |_, sn| sn.identity.rated_current.map(one),
    },
    Var {
        name: "input.frequency.nominal",
        desc: "Nominal input line frequency (Hz)",
        numeric: true,
        value: |_, sn| sn.identity.rated_frequency.map(one),
    },
    Var {
        name: "input.voltage",
        desc: "Input voltage (V)",
        numeric: true,
        value: |s, _| dec1(s.input_voltage),
    },
    Var {
        name: "input.voltage.fault",
        desc: "Input voltage Fault (V)",
        numeric: true,
        value: |s, _| dec1(s.input_fault_voltage),
    },
    Var {
        name: "input.voltage.nominal",
        desc: "Nominal input voltage (V)",
        numeric: true,
        value: |_, sn| sn.identity.rated_voltage.map(one),
    },
    Var {
        name: "output.voltage",
        desc: "Output voltage (V)",
        numeric: true,
        value: |s, _| dec1(s.output_voltage),
    },
    Var {
        name: "ups.alarm",
        desc: "UPS alarms",
        numeric: false,
        value: |s, _| alarms(s),
    },
    Var {
        name: "ups.beeper.status",
        desc: "UPS beeper status",
        numeric: false,
        value: |s, _| {
            Some(
                if s.bits.beeper_on() {
                    "enabled"
                } else {
                    "disabled"
                }
                .into(),
            )
        },
    },
    Var {
        name: "ups.firmware",
        desc: "UPS firmware",
        numeric: false,
        value: |_, sn| sn.identity.firmware.clone(),
    },
    Var {
        name: "ups.load",
        desc: "Load on UPS (percent)",
        numeric: true,
        value: |s, _| s.load_percent.map(|l| l.to_string()),
    },
    Var {
        name: "ups.mfr",
        desc: "UPS manufacturer",
        numeric: false,
        value: |_, sn| sn.identity.company.clone(),
    },
    Var {
        name: "ups.model",
        desc: "UPS model",
        numeric: false,
        value: |_, sn| sn.identity.model.clone(),
    },
    Var {
        name: "ups.status",
        desc: "UPS status",
        numeric: false,
        value: |s, _| {
            let words = ups_status(s);
            Some(if alarms(s).is_some() {
                format!("ALARM {words}")
            } else {
                words
            })
        },
    },
    Var {
        name: "ups.temperature",
        desc: "UPS temperature (degrees C)",
        numeric: true,
        value: |s, _| dec1(s.temperature),
    },
    Var {
        name: "ups.type",
        desc: "UPS type",
        numeric: false,
        value: |s, _| {
            Some(
                if s.bits.standby() {
                    "offline / line interactive"
                } else {
                    "online"
                }
                .into(),
            )
        },
    },
];

/// Returns the variables NUT clients see, sorted by name (as upsd lists
/// them), or `None` when there is no fresh status (data stale).
#[must_use]
pub fn variables(snap: &Snapshot, stale_after: Duration) -> Option<Vec<(&'static str, String)>> {
    let status = snap.status.as_ref()?;
    if snap.status_at.is_none_or(|t| t.elapsed() > stale_after) {
        return None;
    }
    Some(
        VARS.iter()
            .filter_map(|v| Some((v.name, (v.value)(status, snap)?)))
            .collect(),
    )
}

/// Returns NUT's `ups.alarm` for a status as nutdrv_qx's blazer handler
/// sets it (NUT 2.8.3+): "UPS selftest failed!" for bit 4, "Shutdown
/// imminent!" for bit 1, space-separated.
#[must_use]
pub fn alarms(s: &Status) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    if let Some(a) = ups_alarm(s) {
        out.push(a);
    }
    if s.bits.shutdown_active() {
        out.push("Shutdown imminent!");
    }
    (!out.is_empty()).then(|| out.join(" "))
}

fn var(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

/// A command line that does not split into words ([`parse_command_line`]).
///
/// upsd never sees these as errors: its tokenizer (`common/parseconf.c` in
/// networkupstools/nut) carries an open quote or a final backslash over to
/// the next physical line. This server reads one line per command, so it
/// refuses such a line at once, answering `ERR INVALID-ARGUMENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandLineError {
    /// Returned when a double quote opens a word and the line ends before
    /// the closing quote; `column` (1-based, in bytes) is the opening quote.
    UnterminatedQuote {
        /// Where the quote opens.
        column: usize,
    },
    /// Returned when the line ends with a backslash that escapes nothing;
    /// `column` (1-based, in bytes) is that backslash.
    TrailingBackslash {
        /// Where the backslash is.
        column: usize,
    },
}

impl std::fmt::Display for CommandLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnterminatedQuote { column } => {
                write!(f, "the quote at column {column} is never closed")
            }
            Self::TrailingBackslash { column } => {
                write!(f, "the backslash at column {column} ends the line")
            }
        }
    }
}

impl std::error::Error for CommandLineError {}

/// The grammar of a NUT command line, as upsd's tokenizer reads it.
mod line {
    use std::borrow::Cow;

    use nom::branch::alt;
    use nom::bytes::complete::{take_till1, take_while};
    use nom::character::complete::{anychar, char};
    use nom::combinator::{map, value};
    use nom::multi::{fold_many0, fold_many1};
    use nom::sequence::preceded;
    use nom::{IResult, Parser};

    use super::CommandLineError;

    /// What went wrong, and the input where it did.
    #[derive(Debug)]
    pub(super) struct Fail<'a> {
        pub at: &'a str,
        pub what: Option<fn(usize) -> CommandLineError>,
    }

    impl<'a> nom::error::ParseError<&'a str> for Fail<'a> {
        fn from_error_kind(at: &'a str, _: nom::error::ErrorKind) -> Self {
            Fail { at, what: None }
        }
        fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
            other
        }
    }

    type Res<'a, O> = IResult<&'a str, O, Fail<'a>>;

    /// C's `isspace` in the "C" locale, which parseconf splits words on.
    fn is_space(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
    }

    /// A piece of a word: borrowed text or one escaped character.
    enum Piece<'a> {
        Text(&'a str),
        Escaped(char),
    }

    fn push<'a>(mut word: Cow<'a, str>, piece: Piece<'a>) -> Cow<'a, str> {
        match piece {
            Piece::Text(t) if word.is_empty() => word = Cow::Borrowed(t),
            Piece::Text(t) => word.to_mut().push_str(t),
            Piece::Escaped(c) => word.to_mut().push(c),
        }
        word
    }

    /// `\c`: the next character, whatever it is; a backslash that ends the
    /// line is an error.
    fn escape(input: &str) -> Res<'_, Piece<'_>> {
        let (rest, _) = char('\\')(input)?;
        match anychar::<_, Fail<'_>>(rest) {
            Ok((rest, c)) => Ok((rest, Piece::Escaped(c))),
            Err(_) => Err(nom::Err::Failure(Fail {
                at: input,
                what: Some(|column| CommandLineError::TrailingBackslash { column }),
            })),
        }
    }

    /// `"…"`: everything up to the closing quote, escapes resolved; the
    /// closing quote ends the word even when no space follows.
    fn quoted(input: &str) -> Res<'_, Cow<'_, str>> {
        let (body, _) = char('"')(input)?;
        let (rest, word) = fold_many0(
            alt((
                escape,
                map(take_till1(|c| c == '\\' || c == '"'), Piece::Text),
            )),
            || Cow::Borrowed(""),
            push,
        )
        .parse(body)?;
        match char::<_, Fail<'_>>('"')(rest) {
            Ok((rest, _)) => Ok((rest, word)),
            Err(_) => Err(nom::Err::Failure(Fail {
                at: input,
                what: Some(|column| CommandLineError::UnterminatedQuote { column }),
            })),
        }
    }

    /// A bare word: up to a space, a `#` (a comment) or a `=` (a word of
    /// its own); a quote inside it is an ordinary character.
    fn bare(input: &str) -> Res<'_, Cow<'_, str>> {
        fold_many1(
            alt((
                escape,
                map(
                    take_till1(|c| is_space(c) || matches!(c, '#' | '=' | '\\')),
                    Piece::Text,
                ),
            )),
            || Cow::Borrowed(""),
            push,
        )
        .parse(input)
    }

    /// One word.
    fn word(input: &str) -> Res<'_, Cow<'_, str>> {
        alt((quoted, value(Cow::Borrowed("="), char('=')), bare)).parse(input)
    }

    /// Every word of the line; what is left is spaces or a `#` comment.
    pub(super) fn words(input: &str) -> Res<'_, Vec<Cow<'_, str>>> {
        fold_many0(
            preceded(take_while(is_space), word),
            Vec::new,
            |mut words, w| {
                words.push(w);
                words
            },
        )
        .parse(input)
    }
}

/// Splits a NUT command line (without its line ending) into words as
/// upsd's tokenizer (`common/parseconf.c` in networkupstools/nut) does, and
/// as `docs/net-protocol.txt` describes it:
///
/// - spaces, tabs and the other ASCII white space separate words;
/// - a double quote at the start of a word runs to the next unescaped
///   quote, spaces included, and ends the word there (`"a"b` is two
///   words; `""` is an empty word); inside a word a quote is an ordinary
///   character;
/// - a backslash takes the next character literally, inside quotes or out;
/// - outside quotes, `#` starts a comment to the end of the line and `=` is
///   a word of its own (parseconf's `key=value` rule).
///
/// Unlike parseconf, control and non-ASCII characters are kept, so a UTF-8
/// value or password reaches the server as sent. Words without escapes
/// borrow from `line`.
///
/// # Errors
///
/// [`CommandLineError::UnterminatedQuote`] for a quote never closed,
/// [`CommandLineError::TrailingBackslash`] for a final backslash.
pub fn parse_command_line(line: &str) -> Result<Vec<Cow<'_, str>>, CommandLineError> {
    match line::words(line) {
        Ok((_, words)) => Ok(words),
        Err(nom::Err::Failure(f) | nom::Err::Error(f)) => {
            let column = line.len().saturating_sub(f.at.len()).saturating_add(1);
            // Only the two failures above are ever raised; a plain error
            // cannot escape `fold_many0`.
            Err(f
                .what
                .map_or(CommandLineError::UnterminatedQuote { column }, |what| {
                    what(column)
                }))
        }
        Err(nom::Err::Incomplete(_)) => Ok(Vec::new()),
    }
}

/// Escapes a value for a quoted reply field.
fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Per-connection state (its `Debug` form hides the password).
#[derive(Default)]
pub struct Session {
    username: Option<String>,
    password: Option<String>,
    login: Option<String>,
    tracking: bool,
    primary: bool,
    /// The client's address, for `LIST CLIENT`.
    pub addr: String,
    /// Set after `LOGOUT`: the server closes the connection.
    pub closing: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("login", &self.login)
            .field("tracking", &self.tracking)
            .field("primary", &self.primary)
            .field("addr", &self.addr)
            .field("closing", &self.closing)
            .finish()
    }
}

/// The server's state shared by all connections.
#[derive(Debug, Clone)]
pub struct Server {
    config: NutConfig,
    shared: Shared,
    logins: Arc<Mutex<Vec<(String, String)>>>,
    driver: Option<Driver>,
    fsd: Arc<AtomicBool>,
    delays: Arc<Mutex<Delays>>,
    tracked: Arc<Mutex<VecDeque<Tracked>>>,
    next_id: Arc<AtomicU64>,
}

impl Server {
    /// Creates a server over `shared`; without a driver it lists no
    /// commands and no writable variables (beside UPSilon, which owns the
    /// serial line).
    pub fn new(config: NutConfig, shared: Shared) -> Self {
        Server {
            config,
            shared,
            logins: Arc::default(),
            driver: None,
            fsd: Arc::default(),
            delays: Arc::default(),
            tracked: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Hands `INSTCMD`s to `driver`, and offers the commands and writable
    /// variables.
    #[must_use]
    pub fn with_driver(mut self, driver: Driver) -> Self {
        self.driver = Some(driver);
        self
    }

    /// Reports whether a primary set forced shutdown (`FSD`).
    #[must_use]
    pub fn fsd(&self) -> bool {
        self.fsd.load(Ordering::Relaxed)
    }

    /// Returns the user the session authenticated as, if the users file
    /// knows the name and the password.
    fn user(&self, session: &Session) -> Option<&User> {
        let (Some(name), Some(pw)) = (&session.username, &session.password) else {
            return None;
        };
        self.config.users.check(name, pw)
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn instcmd(&self, session: &Session, ups: &str, name: &str, extra: Option<&str>) -> String {
        if !self.known(ups) {
            return err("UNKNOWN-UPS");
        }
        let Some(user) = self.user(session) else {
            log::warn!(
                "nut: INSTCMD {name} refused for {:?} from {}: unknown user or wrong password",
                session.username.as_deref().unwrap_or(""),
                session.addr
            );
            return err("ACCESS-DENIED");
        };
        if !user.may_run(name) {
            log::warn!("nut: INSTCMD {name} refused: {} may not run it", user.name);
            return err("ACCESS-DENIED");
        }
        let Some(driver) = &self.driver else {
            return err("CMD-NOT-SUPPORTED");
        };
        if extra.is_some() {
            return err("INVALID-ARGUMENT");
        }
        let Some(command) = megatec_command(name, *Self::lock(&self.delays)) else {
            return err("CMD-NOT-SUPPORTED");
        };
        let state = Arc::new(AtomicU8::new(PENDING));
        let job = Job {
            name: name.to_ascii_lowercase(),
            command,
            user: user.name.clone(),
            state: Arc::clone(&state),
        };
        log::info!("nut: INSTCMD {name} by {} (sends {command})", user.name);
        if driver.0.try_send(job).is_err() {
            log::warn!("nut: INSTCMD {name}: the driver is busy or gone");
            return err("DRIVER-NOT-CONNECTED");
        }
        if session.tracking {
            let id = self.tracking_id();
            let mut t = Self::lock(&self.tracked);
            if t.len() >= MAX_TRACKED {
                t.pop_front();
            }
            t.push_back((id.clone(), state));
            format!("OK TRACKING {id}\n")
        } else {
            "OK\n".into()
        }
    }

    /// A tracking id in the UUID form upsd uses.
    fn tracking_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mix = (t as u64) ^ n.rotate_left(32);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (mix >> 32) as u32,
            (mix >> 16) as u16,
            (mix & 0xfff) as u16,
            (n & 0xfff) as u16,
            n & 0xffff_ffff_ffff
        )
    }

    fn set(&self, session: &mut Session, a: &[&str]) -> String {
        match a {
            [t, v] if t.eq_ignore_ascii_case("TRACKING") => {
                if v.eq_ignore_ascii_case("ON") {
                    session.tracking = true;
                } else if v.eq_ignore_ascii_case("OFF") {
                    session.tracking = false;
                } else {
                    return err("INVALID-ARGUMENT");
                }
                "OK\n".into()
            }
            [t, ups, name, value] if t.eq_ignore_ascii_case("VAR") => {
                if !self.known(ups) {
                    return err("UNKNOWN-UPS");
                }
                let Some(user) = self.user(session) else {
                    log::warn!(
                        "nut: SET {name} refused for {:?}: unknown user or wrong password",
                        session.username.as_deref().unwrap_or("")
                    );
                    return err("ACCESS-DENIED");
                };
                if !user.set {
                    return err("ACCESS-DENIED");
                }
                if self.driver.is_none() || !name.starts_with("ups.delay.") {
                    return err("READONLY");
                }
                if Self::lock(&self.delays).set(name, value).is_none() {
                    return err("INVALID-VALUE");
                }
                log::info!("nut: {} set {name} to {value}", user.name);
                if session.tracking {
                    let id = self.tracking_id();
                    let mut t = Self::lock(&self.tracked);
                    if t.len() >= MAX_TRACKED {
                        t.pop_front();
                    }
                    t.push_back((id.clone(), Arc::new(AtomicU8::new(SUCCESS))));
                    format!("OK TRACKING {id}\n")
                } else {
                    "OK\n".into()
                }
            }
            _ => err("INVALID-ARGUMENT"),
        }
    }

    fn primary(&self, session: &mut Session, cmd: &str, ups: &str) -> String {
        if !self.known(ups) {
            return err("UNKNOWN-UPS");
        }
        match self.user(session) {
            Some(u) if u.upsmon == Some(UpsmonRole::Primary) => {
                session.primary = true;
                if cmd == "MASTER" {
                    "OK MASTER-GRANTED\n".into()
                } else {
                    "OK PRIMARY-GRANTED\n".into()
                }
            }
            _ => err("ACCESS-DENIED"),
        }
    }

    fn force_shutdown(&self, session: &Session, ups: &str) -> String {
        if !self.known(ups) {
            return err("UNKNOWN-UPS");
        }
        match self.user(session) {
            Some(u) if u.fsd => {
                log::warn!("nut: {} set forced shutdown (FSD) on {ups}", u.name);
                self.fsd.store(true, Ordering::Relaxed);
                "OK FSD-SET\n".into()
            }
            _ => err("ACCESS-DENIED"),
        }
    }

    fn known(&self, ups: &str) -> bool {
        ups.eq_ignore_ascii_case(&self.config.ups_name)
    }

    /// Answers one command line; the reply includes its final newline.
    pub fn answer(&self, session: &mut Session, line: &str) -> String {
        let words = match parse_command_line(line) {
            Ok(words) => words,
            Err(e) => {
                log::debug!("nut: refusing {line:?} from {}: {e}", session.addr);
                return err("INVALID-ARGUMENT");
            }
        };
        let Some((cmd, args)) = words.split_first() else {
            return err("UNKNOWN-COMMAND");
        };
        let args: Vec<&str> = args.iter().map(|a| &**a).collect();
        let cmd = cmd.to_ascii_uppercase();
        let needs_user = matches!(
            cmd.as_str(),
            "LOGIN" | "ATTACH" | "PRIMARY" | "MASTER" | "FSD" | "SET" | "INSTCMD"
        );
        if needs_user {
            if session.username.is_none() {
                return err("USERNAME-REQUIRED");
            }
            if session.password.is_none() {
                return err("PASSWORD-REQUIRED");
            }
        }
        match (cmd.as_str(), args.as_slice()) {
            ("VER", []) => format!(
                "Network UPS Tools upsd-compatible rewire upsilon {} - https://www.networkupstools.org/\n",
                env!("CARGO_PKG_VERSION")
            ),
            ("NETVER" | "PROTVER", []) => format!("{NETVER}\n"),
            ("HELP", []) => {
                "Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS\n"
                    .into()
            }
            ("STARTTLS", []) => err("FEATURE-NOT-SUPPORTED"),
            ("VER" | "NETVER" | "PROTVER" | "HELP" | "STARTTLS", _) => err("INVALID-ARGUMENT"),
            ("USERNAME", [name]) => {
                if session.username.is_some() {
                    return err("ALREADY-SET-USERNAME");
                }
                session.username = Some((*name).to_owned());
                "OK\n".into()
            }
            ("PASSWORD", [pw]) => {
                if session.password.is_some() {
                    return err("ALREADY-SET-PASSWORD");
                }
                session.password = Some((*pw).to_owned());
                "OK\n".into()
            }
            ("LOGIN" | "ATTACH", [ups]) => {
                if session.login.is_some() {
                    return err("ALREADY-LOGGED-IN");
                }
                if !self.known(ups) {
                    return err("UNKNOWN-UPS");
                }
                session.login = Some(self.config.ups_name.clone());
                if let Ok(mut l) = self.logins.lock() {
                    l.push((self.config.ups_name.clone(), session.addr.clone()));
                }
                "OK\n".into()
            }
            ("LOGOUT" | "DETACH", []) => {
                session.closing = true;
                "OK Goodbye\n".into()
            }
            ("PRIMARY" | "MASTER", [ups]) => self.primary(session, &cmd, ups),
            ("FSD", [ups]) => self.force_shutdown(session, ups),
            ("INSTCMD", [ups, name]) => self.instcmd(session, ups, name, None),
            ("INSTCMD", [ups, name, extra]) => self.instcmd(session, ups, name, Some(extra)),
            ("SET", a) => self.set(session, a),
            ("INSTCMD", _) => err("INVALID-ARGUMENT"),
            (
                "USERNAME" | "PASSWORD" | "LOGIN" | "ATTACH" | "LOGOUT" | "DETACH" | "PRIMARY"
                | "MASTER" | "FSD",
                _,
            ) => err("INVALID-ARGUMENT"),
            ("GET", a) => self.get(session, a),
            ("LIST", a) => self.list(a),
            _ => err("UNKNOWN-COMMAND"),
        }
    }

    /// Returns the variables, or the error line to send instead.
    fn vars_for(&self, ups: &str) -> Result<Vec<(&'static str, String)>, String> {
        if !self.known(ups) {
            return Err(err("UNKNOWN-UPS"));
        }
        let snap = self.shared.lock();
        let mut vars =
            variables(&snap, self.config.stale_after).ok_or_else(|| err("DATA-STALE"))?;
        drop(snap);
        if self.fsd() {
            for (n, v) in &mut vars {
                if *n == "ups.status" && !v.split(' ').any(|w| w == "FSD") {
                    v.push_str(" FSD");
                }
            }
        }
        if self.driver.is_some() {
            let d = *Self::lock(&self.delays);
            vars.push(("ups.delay.shutdown", d.shutdown.to_string()));
            vars.push(("ups.delay.start", d.start.to_string()));
            vars.sort_by(|a, b| a.0.cmp(b.0));
        }
        Ok(vars)
    }

    fn get(&self, session: &Session, a: &[&str]) -> String {
        match a {
            [] => err("INVALID-ARGUMENT"),
            [t] if t.eq_ignore_ascii_case("TRACKING") => {
                if session.tracking { "ON\n" } else { "OFF\n" }.into()
            }
            [t, id] if t.eq_ignore_ascii_case("TRACKING") => {
                let t = Self::lock(&self.tracked);
                match t.iter().find(|(i, _)| i == id) {
                    Some((_, s)) => match s.load(Ordering::Relaxed) {
                        PENDING => "PENDING\n".into(),
                        SUCCESS => "SUCCESS\n".into(),
                        _ => err("FAILED"),
                    },
                    None => err("UNKNOWN"),
                }
            }
            [t, ups] if t.eq_ignore_ascii_case("UPSDESC") => {
                if self.known(ups) {
                    format!("UPSDESC {ups} \"{}\"\n", quote(&self.config.description))
                } else {
                    err("UNKNOWN-UPS")
                }
            }
            [t, ups] if t.eq_ignore_ascii_case("NUMLOGINS") => match self.vars_for(ups) {
                Err(e) => e,
                Ok(_) => {
                    let n = self.logins.lock().map(|l| l.len()).unwrap_or(0);
                    format!("NUMLOGINS {ups} {n}\n")
                }
            },
            [t, ups, var] if t.eq_ignore_ascii_case("VAR") => {
                if var.eq_ignore_ascii_case("server.info") {
                    return format!(
                        "VAR {ups} server.info \"rewire upsilon {} - https://www.networkupstools.org/\"\n",
                        env!("CARGO_PKG_VERSION")
                    );
                }
                if var.eq_ignore_ascii_case("server.version") {
                    return format!(
                        "VAR {ups} server.version \"{}\"\n",
                        env!("CARGO_PKG_VERSION")
                    );
                }
                match self.vars_for(ups) {
                    Err(e) => e,
                    Ok(vars) => match vars.iter().find(|(n, _)| n == var) {
                        Some((n, v)) => format!("VAR {ups} {n} \"{}\"\n", quote(v)),
                        None => err("VAR-NOT-SUPPORTED"),
                    },
                }
            }
            [t, ups, name] if t.eq_ignore_ascii_case("TYPE") => match self.vars_for(ups) {
                Err(e) => e,
                Ok(vars) => match vars.iter().find(|(n, _)| n == name) {
                    Some((n, _)) if n.starts_with("ups.delay.") => {
                        format!("TYPE {ups} {n} RW NUMBER\n")
                    }
                    Some((n, _)) if var(n).is_some_and(|v| v.numeric) => {
                        format!("TYPE {ups} {n} NUMBER\n")
                    }
                    Some((n, v)) => format!("TYPE {ups} {n} STRING:{}\n", v.len().max(1)),
                    None => err("VAR-NOT-SUPPORTED"),
                },
            },
            [t, ups, name] if t.eq_ignore_ascii_case("DESC") => match self.vars_for(ups) {
                Err(e) => e,
                Ok(_) => format!(
                    "DESC {ups} {name} \"{}\"\n",
                    match *name {
                        "ups.delay.shutdown" =>
                            "Interval to wait after shutdown with delay command (seconds)",
                        "ups.delay.start" =>
                            "Interval to wait before restarting the load (seconds)",
                        _ => var(name).map_or("Description unavailable", |v| v.desc),
                    }
                ),
            },
            [t, ups, cmd] if t.eq_ignore_ascii_case("CMDDESC") => match self.vars_for(ups) {
                Err(e) => e,
                Ok(_) => format!(
                    "CMDDESC {ups} {cmd} \"{}\"\n",
                    INSTCMDS
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(cmd))
                        .map_or("Description unavailable", |(_, d)| d)
                ),
            },
            _ => err("INVALID-ARGUMENT"),
        }
    }

    fn list(&self, a: &[&str]) -> String {
        match a {
            [t] if t.eq_ignore_ascii_case("UPS") => format!(
                "BEGIN LIST UPS\nUPS {} \"{}\"\nEND LIST UPS\n",
                self.config.ups_name,
                quote(&self.config.description)
            ),
            [t, ups] if t.eq_ignore_ascii_case("VAR") => match self.vars_for(ups) {
                Err(e) => e,
                Ok(vars) => {
                    let mut out = format!("BEGIN LIST VAR {ups}\n");
                    for (n, v) in vars {
                        out.push_str(&format!("VAR {ups} {n} \"{}\"\n", quote(&v)));
                    }
                    out.push_str(&format!("END LIST VAR {ups}\n"));
                    out
                }
            },
            [t, ups] if t.eq_ignore_ascii_case("CMD") => {
                if !self.known(ups) {
                    return err("UNKNOWN-UPS");
                }
                let mut out = format!("BEGIN LIST CMD {ups}\n");
                if self.driver.is_some() {
                    for (name, _) in INSTCMDS {
                        out.push_str(&format!("CMD {ups} {name}\n"));
                    }
                }
                out.push_str(&format!("END LIST CMD {ups}\n"));
                out
            }
            [t, ups] if t.eq_ignore_ascii_case("RW") => match self.vars_for(ups) {
                Err(e) => e,
                Ok(vars) => {
                    let mut out = format!("BEGIN LIST RW {ups}\n");
                    for (n, v) in vars.iter().filter(|(n, _)| n.starts_with("ups.delay.")) {
                        out.push_str(&format!("RW {ups} {n} \"{}\"\n", quote(v)));
                    }
                    out.push_str(&format!("END LIST RW {ups}\n"));
                    out
                }
            },
            [t, ups] if t.eq_ignore_ascii_case("CLIENT") => {
                if !self.known(ups) {
                    return err("UNKNOWN-UPS");
                }
                let mut out = format!("BEGIN LIST CLIENT {ups}\n");
                if let Ok(l) = self.logins.lock() {
                    for (u, addr) in l.iter() {
                        out.push_str(&format!("CLIENT {u} {addr}\n"));
                    }
                }
                out.push_str(&format!("END LIST CLIENT {ups}\n"));
                out
            }
            [t, ups, var] if t.eq_ignore_ascii_case("ENUM") || t.eq_ignore_ascii_case("RANGE") => {
                let what = t.to_ascii_uppercase();
                match self.vars_for(ups) {
                    Err(e) => e,
                    Ok(vars) if vars.iter().any(|(n, _)| n == var) => {
                        format!("BEGIN LIST {what} {ups} {var}\nEND LIST {what} {ups} {var}\n")
                    }
                    Ok(_) => err("VAR-NOT-SUPPORTED"),
                }
            }
            _ => err("INVALID-ARGUMENT"),
        }
    }

    fn forget(&self, session: &Session) {
        if session.login.is_some()
            && let Ok(mut l) = self.logins.lock()
            && let Some(i) = l.iter().position(|(_, a)| *a == session.addr)
        {
            l.remove(i);
        }
    }

    /// Serves one client until it logs out, disconnects, or `stop` is set.
    pub fn serve_client(&self, stream: TcpStream, peer: SocketAddr, stop: &AtomicBool) {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        // A client that sends but never reads cannot hold the thread for ever.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let Ok(write_half) = stream.try_clone() else {
            return;
        };
        let mut out = io::BufWriter::new(write_half);
        let mut reader = BufReader::new(stream);
        let mut session = Session {
            addr: peer.ip().to_string(),
            ..Session::default()
        };
        let mut line = Vec::new();
        let mut last_heard = Instant::now();
        while !stop.load(Ordering::Relaxed) && !session.closing {
            if last_heard.elapsed() >= self.config.idle_timeout {
                log::debug!(
                    "nut: closing {peer}: silent for {:?}",
                    self.config.idle_timeout
                );
                break;
            }
            // Bounded: a line without a newline cannot grow past the limit.
            let room = (MAX_LINE + 1).saturating_sub(line.len()) as u64;
            match (&mut reader).take(room).read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) if line.len() > MAX_LINE => {
                    log::debug!("nut: closing {peer}: a line longer than {MAX_LINE} bytes");
                    let _ = out
                        .write_all(err("INVALID-ARGUMENT").as_bytes())
                        .and_then(|()| out.flush());
                    break;
                }
                Ok(_) if line.last() == Some(&b'\n') => {
                    last_heard = Instant::now();
                    let text = String::from_utf8_lossy(&line);
                    let reply = self.answer(&mut session, text.trim_end_matches(['\r', '\n']));
                    line.clear();
                    if out
                        .write_all(reply.as_bytes())
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.forget(&session);
    }
}

/// A running NUT server: one thread accepting, one per client; stopped by
/// [`NutServer::shutdown`] (or dropping it) within a second.
#[derive(Debug)]
pub struct NutServer {
    local: SocketAddr,
    service: Service,
}

impl NutServer {
    /// Binds `addr` and serves the snapshot `shared` as the UPS `config` names.
    ///
    /// # Errors
    /// When the address cannot be bound or the thread cannot start.
    pub fn start(addr: SocketAddr, config: NutConfig, shared: Shared) -> io::Result<Self> {
        Self::start_server(addr, Server::new(config, shared))
    }

    /// Binds `addr` and serves `server` (made with [`Server::with_driver`]
    /// to take commands).
    ///
    /// # Errors
    /// When the address cannot be bound or the thread cannot start.
    pub fn start_server(addr: SocketAddr, server: Server) -> io::Result<Self> {
        let listener = Listener::bind(addr)
            .map_err(io::Error::other)?
            .with_max_connections(server.config.max_clients);
        let local = listener.local_addr();
        let mut service = Service::new(format!("nut {local}"));
        service.spawn("accept", move |stop| {
            let stop = stop.as_atomic();
            if let Err(e) = listener.serve(stop, &|stream, peer| {
                server.serve_client(stream, peer, stop);
            }) {
                log::error!("nut {local}: {e}");
            }
        })?;
        Ok(NutServer { local, service })
    }

    /// Returns the bound address (the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops accepting, ends every client session and joins the threads.
    pub fn shutdown(self) {
        self.service.shutdown();
    }
}

fn err(name: &str) -> String {
    format!("ERR {name}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn server(line: Option<&str>) -> Server {
        let shared = Shared::default();
        if let Some(line) = line {
            let mut s = shared.lock();
            s.status = Some(rewire_upsilon::Status::parse(line.as_bytes()).unwrap());
            s.status_at = Some(Instant::now());
        }
        Server::new(
            NutConfig::new("ups", "UPSilon \"test\"", Duration::from_secs(10)),
            shared,
        )
    }

    const USERS: &str = "[admin]\npassword = secret\ninstcmds = all\nactions = SET\n\
        [mon]\npassword = pw\nupsmon primary\n[watch]\npassword = w\nupsmon secondary\n";

    /// A server that drives a UPS, with users; the driver's queue.
    fn driven(line: &str) -> (Server, mpsc::Receiver<Job>) {
        let mut s = server(Some(line));
        s.config.users = Users::parse(USERS).unwrap();
        let (d, rx) = command_queue();
        (s.with_driver(d), rx)
    }

    fn login(s: &Server, user: &str, pw: &str) -> Session {
        let mut c = Session {
            addr: "127.0.0.1".into(),
            ..Session::default()
        };
        assert_eq!(s.answer(&mut c, &format!("USERNAME {user}")), "OK\n");
        assert_eq!(s.answer(&mut c, &format!("PASSWORD {pw}")), "OK\n");
        c
    }

    #[test]
    fn instcmd_needs_a_user_allowed_to_run_it_and_reaches_the_driver() {
        let (s, rx) = driven(ONLINE);
        let mut bad = login(&s, "admin", "wrong");
        assert_eq!(
            s.answer(&mut bad, "INSTCMD ups test.battery.start.quick"),
            "ERR ACCESS-DENIED\n"
        );
        let mut mon = login(&s, "mon", "pw");
        assert_eq!(
            s.answer(&mut mon, "INSTCMD ups beeper.toggle"),
            "ERR ACCESS-DENIED\n"
        );
        assert!(rx.try_recv().is_err(), "nothing reached the driver");
        let mut c = login(&s, "admin", "secret");
        assert_eq!(
            s.answer(&mut c, "INSTCMD ups test.battery.start.quick"),
            "OK\n"
        );
        let job = rx.try_recv().unwrap();
        assert_eq!(job.command, Command::Test);
        assert_eq!(
            s.answer(&mut c, "INSTCMD ups frob"),
            "ERR CMD-NOT-SUPPORTED\n"
        );
        assert_eq!(
            s.answer(&mut c, "INSTCMD nope beeper.toggle"),
            "ERR UNKNOWN-UPS\n"
        );
        // TRACKING: pending until the driver says.
        assert_eq!(s.answer(&mut c, "GET TRACKING"), "OFF\n");
        assert_eq!(s.answer(&mut c, "SET TRACKING ON"), "OK\n");
        let reply = s.answer(&mut c, "INSTCMD ups shutdown.return");
        let id = reply
            .strip_prefix("OK TRACKING ")
            .unwrap()
            .trim()
            .to_owned();
        assert_eq!(id.len(), 36);
        assert_eq!(s.answer(&mut c, &format!("GET TRACKING {id}")), "PENDING\n");
        let job = rx.try_recv().unwrap();
        assert_eq!(job.command.to_string(), "S.5R0003");
        job.finish(true);
        assert_eq!(s.answer(&mut c, &format!("GET TRACKING {id}")), "SUCCESS\n");
        assert_eq!(s.answer(&mut c, "GET TRACKING 1234"), "ERR UNKNOWN\n");
        let list = s.answer(&mut c, "LIST CMD ups");
        assert!(list.contains("CMD ups test.battery.start.deep\n"), "{list}");
        assert_eq!(list.lines().count(), 2 + INSTCMDS.len());
        assert_eq!(
            s.answer(&mut c, "GET CMDDESC ups load.on"),
            "CMDDESC ups load.on \"Turn on the load immediately\"\n"
        );
    }

    #[test]
    fn set_var_changes_the_delays_the_shutdown_commands_use() {
        let (s, rx) = driven(ONLINE);
        let mut c = login(&s, "admin", "secret");
        assert_eq!(
            s.answer(&mut c, "LIST RW ups"),
            "BEGIN LIST RW ups\nRW ups ups.delay.shutdown \"30\"\nRW ups ups.delay.start \"180\"\nEND LIST RW ups\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET TYPE ups ups.delay.shutdown"),
            "TYPE ups ups.delay.shutdown RW NUMBER\n"
        );
        assert_eq!(
            s.answer(&mut c, "SET VAR ups ups.delay.shutdown 125"),
            "OK\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.delay.shutdown"),
            "VAR ups ups.delay.shutdown \"120\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "SET VAR ups ups.delay.shutdown 5"),
            "ERR INVALID-VALUE\n"
        );
        assert_eq!(s.answer(&mut c, "SET VAR ups ups.delay.start 0"), "OK\n");
        assert_eq!(s.answer(&mut c, "SET VAR ups ups.load 5"), "ERR READONLY\n");
        assert_eq!(s.answer(&mut c, "INSTCMD ups shutdown.stayoff"), "OK\n");
        assert_eq!(rx.try_recv().unwrap().command.to_string(), "S02R0000");
        assert_eq!(s.answer(&mut c, "INSTCMD ups shutdown.return"), "OK\n");
        assert_eq!(rx.try_recv().unwrap().command.to_string(), "S02");
        let mut mon = login(&s, "mon", "pw");
        assert_eq!(
            s.answer(&mut mon, "SET VAR ups ups.delay.start 60"),
            "ERR ACCESS-DENIED\n"
        );
    }

    #[test]
    fn upsmon_primary_and_fsd() {
        let (s, _rx) = driven(ONLINE);
        let mut w = login(&s, "watch", "w");
        assert_eq!(s.answer(&mut w, "LOGIN ups"), "OK\n");
        assert_eq!(s.answer(&mut w, "PRIMARY ups"), "ERR ACCESS-DENIED\n");
        assert_eq!(s.answer(&mut w, "FSD ups"), "ERR ACCESS-DENIED\n");
        let mut m = login(&s, "mon", "pw");
        assert_eq!(s.answer(&mut m, "LOGIN ups"), "OK\n");
        assert_eq!(s.answer(&mut m, "MASTER ups"), "OK MASTER-GRANTED\n");
        assert_eq!(s.answer(&mut m, "PRIMARY ups"), "OK PRIMARY-GRANTED\n");
        assert_eq!(s.answer(&mut m, "GET NUMLOGINS ups"), "NUMLOGINS ups 2\n");
        assert_eq!(
            s.answer(&mut w, "GET VAR ups ups.status"),
            "VAR ups ups.status \"OL\"\n"
        );
        assert_eq!(s.answer(&mut m, "FSD ups"), "OK FSD-SET\n");
        // Every client sees it.
        assert_eq!(
            s.answer(&mut w, "GET VAR ups ups.status"),
            "VAR ups ups.status \"OL FSD\"\n"
        );
        assert_eq!(
            s.answer(&mut Session::default(), "GET VAR ups ups.status"),
            "VAR ups ups.status \"OL FSD\"\n"
        );
    }

    #[test]
    fn without_users_every_write_is_denied_and_monitor_mode_lists_no_commands() {
        let s = server(Some(ONLINE));
        let mut c = login(&s, "admin", "secret");
        for cmd in [
            "INSTCMD ups beeper.toggle",
            "SET VAR ups ups.delay.shutdown 60",
            "PRIMARY ups",
            "FSD ups",
        ] {
            assert_eq!(s.answer(&mut c, cmd), "ERR ACCESS-DENIED\n", "{cmd}");
        }
        assert_eq!(
            s.answer(&mut c, "LIST CMD ups"),
            "BEGIN LIST CMD ups\nEND LIST CMD ups\n"
        );
    }

    #[test]
    fn alarms_prefix_the_status_as_nut_2_8_3_shows_them() {
        let s = server(Some("(230.0 230.0 230.0 020 50.0 27.2 --.- 00010010"));
        let mut c = Session::default();
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.status"),
            "VAR ups ups.status \"ALARM OL FSD\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.alarm"),
            "VAR ups ups.alarm \"UPS selftest failed! Shutdown imminent!\"\n"
        );
    }

    #[test]
    fn the_home_assistant_sequence_gets_no_err() {
        let (s, rx) = driven(ONLINE);
        let mut c = Session {
            addr: "127.0.0.1".into(),
            ..Session::default()
        };
        for line in [
            "USERNAME admin",
            "PASSWORD secret",
            "LIST UPS",
            "LIST VAR ups",
            "LIST CMD ups",
            "GET UPSDESC ups",
            "LIST VAR ups",
            "INSTCMD ups beeper.toggle",
            "GET CMDDESC ups beeper.toggle",
            "LIST VAR ups",
            "LOGOUT",
        ] {
            let reply = s.answer(&mut c, line);
            assert!(!reply.starts_with("ERR"), "{line}: {reply}");
        }
        assert_eq!(rx.try_recv().unwrap().command, Command::ToggleBeeper);
    }

    const ON_BATT: &str = "(000.0 230.0 229.0 020 00.0 25.0 31.5 10001001";
    const ONLINE: &str = "(230.0 230.0 230.0 020 50.0 27.2 --.- 00001000";

    #[test]
    fn answers_vars_with_nut_names() {
        let s = server(Some(ON_BATT));
        let mut c = Session::default();
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.status"),
            "VAR ups ups.status \"OB\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups input.voltage.fault"),
            "VAR ups input.voltage.fault \"230.0\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.load"),
            "VAR ups ups.load \"20\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups battery.voltage"),
            "VAR ups battery.voltage \"25.00\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.temperature"),
            "VAR ups ups.temperature \"31.5\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.beeper.status"),
            "VAR ups ups.beeper.status \"enabled\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.type"),
            "VAR ups ups.type \"offline / line interactive\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR ups nope"),
            "ERR VAR-NOT-SUPPORTED\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET VAR other ups.load"),
            "ERR UNKNOWN-UPS\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET TYPE ups ups.load"),
            "TYPE ups ups.load NUMBER\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET TYPE ups ups.status"),
            "TYPE ups ups.status STRING:2\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET DESC ups ups.load"),
            "DESC ups ups.load \"Load on UPS (percent)\"\n"
        );
        assert_eq!(
            s.answer(&mut c, "GET UPSDESC ups"),
            "UPSDESC ups \"UPSilon \\\"test\\\"\"\n"
        );
        let list = s.answer(&mut c, "LIST VAR ups");
        assert!(list.starts_with("BEGIN LIST VAR ups\nVAR ups battery.voltage \"25.00\"\n"));
        assert!(list.ends_with("END LIST VAR ups\n"));
        assert_eq!(
            s.answer(&mut c, "LIST UPS"),
            "BEGIN LIST UPS\nUPS ups \"UPSilon \\\"test\\\"\"\nEND LIST UPS\n"
        );
        assert_eq!(
            s.answer(&mut c, "LIST CMD ups"),
            "BEGIN LIST CMD ups\nEND LIST CMD ups\n"
        );
        assert_eq!(
            s.answer(&mut c, "LIST RW ups"),
            "BEGIN LIST RW ups\nEND LIST RW ups\n"
        );
        assert_eq!(
            s.answer(&mut c, "LIST ENUM ups ups.status"),
            "BEGIN LIST ENUM ups ups.status\nEND LIST ENUM ups ups.status\n"
        );
        assert_eq!(
            s.answer(&mut c, "LIST RANGE ups bogus"),
            "ERR VAR-NOT-SUPPORTED\n"
        );
    }

    #[test]
    fn sessions_follow_upsd_rules() {
        let s = server(Some(ON_BATT));
        let mut c = Session {
            addr: "127.0.0.1".into(),
            ..Session::default()
        };
        assert_eq!(s.answer(&mut c, "LOGIN ups"), "ERR USERNAME-REQUIRED\n");
        assert_eq!(s.answer(&mut c, "USERNAME mon"), "OK\n");
        assert_eq!(
            s.answer(&mut c, "USERNAME again"),
            "ERR ALREADY-SET-USERNAME\n"
        );
        assert_eq!(s.answer(&mut c, "LOGIN ups"), "ERR PASSWORD-REQUIRED\n");
        assert_eq!(s.answer(&mut c, "PASSWORD \"se cret\""), "OK\n");
        assert!(!format!("{c:?}").contains("se cret"), "{c:?}");
        assert_eq!(s.answer(&mut c, "LOGIN nope"), "ERR UNKNOWN-UPS\n");
        assert_eq!(s.answer(&mut c, "LOGIN ups"), "OK\n");
        assert_eq!(s.answer(&mut c, "LOGIN ups"), "ERR ALREADY-LOGGED-IN\n");
        assert_eq!(s.answer(&mut c, "GET NUMLOGINS ups"), "NUMLOGINS ups 1\n");
        assert_eq!(
            s.answer(&mut c, "LIST CLIENT ups"),
            "BEGIN LIST CLIENT ups\nCLIENT ups 127.0.0.1\nEND LIST CLIENT ups\n"
        );
        assert_eq!(s.answer(&mut c, "PRIMARY ups"), "ERR ACCESS-DENIED\n");
        assert_eq!(
            s.answer(&mut c, "INSTCMD ups beeper.toggle"),
            "ERR ACCESS-DENIED\n"
        );
        assert_eq!(s.answer(&mut c, "INSTCMD ups"), "ERR INVALID-ARGUMENT\n");
        assert_eq!(s.answer(&mut c, "STARTTLS"), "ERR FEATURE-NOT-SUPPORTED\n");
        assert_eq!(s.answer(&mut c, "NETVER"), "1.3\n");
        assert_eq!(s.answer(&mut c, "VER extra"), "ERR INVALID-ARGUMENT\n");
        assert_eq!(s.answer(&mut c, "FROB"), "ERR UNKNOWN-COMMAND\n");
        assert_eq!(s.answer(&mut c, "GET"), "ERR INVALID-ARGUMENT\n");
        assert_eq!(s.answer(&mut c, "LOGOUT"), "OK Goodbye\n");
        assert!(c.closing);
        s.forget(&c);
        assert_eq!(
            s.answer(&mut Session::default(), "GET NUMLOGINS ups"),
            "NUMLOGINS ups 0\n"
        );
    }

    #[test]
    fn no_status_is_stale_data() {
        let s = server(None);
        let mut c = Session::default();
        assert_eq!(
            s.answer(&mut c, "GET VAR ups ups.status"),
            "ERR DATA-STALE\n"
        );
        assert_eq!(s.answer(&mut c, "LIST VAR ups"), "ERR DATA-STALE\n");
        assert!(s.answer(&mut c, "LIST UPS").contains("UPS ups "));
    }

    #[test]
    fn words_split_like_upsd() {
        assert_eq!(
            parse_command_line("PASSWORD \"a b\\\"c\"  x").unwrap(),
            ["PASSWORD", "a b\"c", "x"]
        );
        assert!(parse_command_line("   ").unwrap().is_empty());
    }

    #[test]
    fn the_server_answers_over_tcp_and_shuts_down_within_a_second() {
        use std::io::{BufRead, BufReader, Write};
        let s = server(Some(ON_BATT));
        let nut = NutServer::start(
            "127.0.0.1:0".parse().unwrap(),
            s.config.clone(),
            s.shared.clone(),
        )
        .unwrap();
        let mut c = TcpStream::connect(nut.local_addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"GET VAR ups ups.load\n").unwrap();
        let mut line = String::new();
        BufReader::new(c.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "VAR ups ups.load \"20\"\n");
        // A line that never ends is cut at the limit, not buffered for ever.
        c.write_all(&[b'x'; 4 * MAX_LINE]).unwrap();
        let started = Instant::now();
        nut.shutdown();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
}
