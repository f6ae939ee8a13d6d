//! A read-only server for the Network UPS Tools network protocol (what
//! `upsd` speaks on TCP 3493), enough for `upsc`, `upsmon` (as a secondary)
//! and other NUT clients. Reply formats and error names follow NUT's
//! `docs/net-protocol.txt` and `server/net*.c`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rewire_transport::link::Listener;

use rewire_host::service::Service;
use rewire_upsilon::{Decimal, Status};

use crate::hub::{Identity, Shared, Snapshot};
use crate::message::decimal;
use crate::state::{ups_alarm, ups_status};

/// The protocol version this server speaks (`NETVER`).
pub const NETVER: &str = "1.3";

/// Longest command line accepted (upsd's own limit is of this order).
const MAX_LINE: usize = 1024;

/// Settings of the NUT server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutConfig {
    /// The UPS name clients use (`ups` in `upsc ups@host`).
    pub ups_name: String,
    /// Its description (`LIST UPS`, `GET UPSDESC`).
    pub description: String,
    /// A status older than this makes the data stale (`ERR DATA-STALE`).
    pub stale_after: Duration,
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
        }
    }
}

/// One NUT variable: its name, description, whether it is a number, and
/// how its value comes from the status and the UPS's identity (`None`: not
/// listed).
struct Var {
    name: &'static str,
    desc: &'static str,
    numeric: bool,
    value: fn(&Status, &Identity) -> Option<String>,
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
        name: "battery.voltage",
        desc: "Battery voltage (V)",
        numeric: true,
        value: |s, _| s.battery_voltage.map(|b| format!("{:.2}", decimal(b))),
    },
    Var {
        name: "battery.voltage.nominal",
        desc: "Nominal battery voltage (V)",
        numeric: true,
        value: |_, id| id.rated_battery_voltage.map(one),
    },
    Var {
        name: "device.mfr",
        desc: "Device manufacturer",
        numeric: false,
        value: |_, id| Some(id.company.clone().unwrap_or_else(|| "unknown".into())),
    },
    Var {
        name: "device.model",
        desc: "Device model",
        numeric: false,
        value: |_, id| {
            Some(
                id.model
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
        name: "input.frequency.nominal",
        desc: "Nominal input line frequency (Hz)",
        numeric: true,
        value: |_, id| id.rated_frequency.map(one),
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
        value: |_, id| id.rated_voltage.map(one),
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
        value: |s, _| ups_alarm(s).map(str::to_owned),
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
        value: |_, id| id.firmware.clone(),
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
        value: |_, id| id.company.clone(),
    },
    Var {
        name: "ups.model",
        desc: "UPS model",
        numeric: false,
        value: |_, id| id.model.clone(),
    },
    Var {
        name: "ups.status",
        desc: "UPS status",
        numeric: false,
        value: |s, _| Some(ups_status(s)),
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
            .filter_map(|v| Some((v.name, (v.value)(status, &snap.identity)?)))
            .collect(),
    )
}

fn var(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

/// Splits a command line into words the way upsd does: spaces separate,
/// double quotes group, a backslash escapes the next character.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            _ => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Escapes a value for a quoted reply field.
fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Per-connection state.
#[derive(Debug, Default)]
pub struct Session {
    username: Option<String>,
    password: Option<String>,
    login: Option<String>,
    /// The client's address, for `LIST CLIENT`.
    pub addr: String,
    /// Set after `LOGOUT`: the server closes the connection.
    pub closing: bool,
}

/// The server's state shared by all connections.
#[derive(Debug, Clone)]
pub struct Server {
    config: NutConfig,
    shared: Shared,
    logins: Arc<Mutex<Vec<(String, String)>>>,
}

impl Server {
    /// Creates a server over `shared`.
    pub fn new(config: NutConfig, shared: Shared) -> Self {
        Server {
            config,
            shared,
            logins: Arc::default(),
        }
    }

    fn known(&self, ups: &str) -> bool {
        ups.eq_ignore_ascii_case(&self.config.ups_name)
    }

    /// Answers one command line; the reply includes its final newline.
    pub fn answer(&self, session: &mut Session, line: &str) -> String {
        let words = split_words(line);
        let Some((cmd, args)) = words.split_first() else {
            return err("UNKNOWN-COMMAND");
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
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
            ("PRIMARY" | "MASTER" | "FSD", [ups]) => {
                if !self.known(ups) {
                    return err("UNKNOWN-UPS");
                }
                // Read-only: nobody may claim the primary role or force a shutdown.
                err("ACCESS-DENIED")
            }
            ("SET" | "INSTCMD", _) => err("ACCESS-DENIED"),
            (
                "USERNAME" | "PASSWORD" | "LOGIN" | "ATTACH" | "LOGOUT" | "DETACH" | "PRIMARY"
                | "MASTER" | "FSD",
                _,
            ) => err("INVALID-ARGUMENT"),
            ("GET", a) => self.get(a),
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
        variables(&snap, self.config.stale_after).ok_or_else(|| err("DATA-STALE"))
    }

    fn get(&self, a: &[&str]) -> String {
        match a {
            [] => err("INVALID-ARGUMENT"),
            [t] if t.eq_ignore_ascii_case("TRACKING") => "OFF\n".into(),
            [t, _] if t.eq_ignore_ascii_case("TRACKING") => err("FEATURE-NOT-CONFIGURED"),
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
                    var(name).map_or("Description unavailable", |v| v.desc)
                ),
            },
            [t, ups, cmd] if t.eq_ignore_ascii_case("CMDDESC") => match self.vars_for(ups) {
                Err(e) => e,
                Ok(_) => format!("CMDDESC {ups} {cmd} \"Description unavailable\"\n"),
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
            [t, ups] if t.eq_ignore_ascii_case("RW") || t.eq_ignore_ascii_case("CMD") => {
                let what = t.to_ascii_uppercase();
                match self.vars_for(ups) {
                    Err(e) => e,
                    Ok(_) => format!("BEGIN LIST {what} {ups}\nEND LIST {what} {ups}\n"),
                }
            }
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
        while !stop.load(Ordering::Relaxed) && !session.closing {
            // Bounded: a line without a newline cannot grow past the limit.
            let room = (MAX_LINE + 1).saturating_sub(line.len()) as u64;
            match (&mut reader).take(room).read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) if line.last() == Some(&b'\n') || line.len() > MAX_LINE => {
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
        let listener = Listener::bind(addr).map_err(io::Error::other)?;
        let local = listener.local_addr();
        let server = Server::new(config, shared);
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
            NutConfig {
                ups_name: "ups".into(),
                description: "UPSilon \"test\"".into(),
                stale_after: Duration::from_secs(10),
            },
            shared,
        )
    }

    const ON_BATT: &str = "(000.0 230.0 229.0 020 00.0 25.0 31.5 10001001";

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
            split_words("PASSWORD \"a b\\\"c\"  x"),
            ["PASSWORD", "a b\"c", "x"]
        );
        assert_eq!(split_words("   "), Vec::<String>::new());
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
