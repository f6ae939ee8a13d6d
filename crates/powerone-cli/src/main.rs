//! `powerone`: talk to a Power-One PCU over serial or TCP, tap the line,
//! simulate a PCU, and decode captured traffic.
//!
//! This file only parses arguments and turns them into library calls; see
//! the `rewire_powerone_cli` library for the logic.

use std::io::{self, Write};
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use rewire_host::output::{Format, Sink};
use rewire_cli::{EXIT_STATUS_HELP, Exit, exit};
use rewire_powerone::DateTime;
use rewire_powerone_cli::link::{LinkSpec, open_link};
use rewire_powerone_cli::master::{Action, Master, Verdict};
use rewire_powerone_cli::record::{Codes, Context, Record};
use rewire_powerone_cli::simulator::{self, Pcu, Pty, SimConfig, SimEvent};
use rewire_powerone_cli::tap::{self, Source, TapLimits};
use rewire_transport::link::{LinkError, LinkErrorKind, Listener, RequestPolicy};

const EXAMPLES: &str = "Examples:
  powerone decode testdata/powerone/powerone-lo.pcap
  powerone decode --hex 'FF 08 00 01 00 01 07 10' --json
  powerone decode --input hex requests.xxd.hex
  powerone set-time --serial /dev/ttyS0 --now --yes
  powerone set-time --tcp 10.0.0.7:4001 2011-03-15T15:13 --yes
  powerone verify-password --serial /dev/ttyUSB0 --function 0x0a 8888
  powerone send --tcp 10.0.0.7:4001 --function 0x20 --data '01 02' --json --yes
  powerone listen --serial /dev/ttyUSB0 --serial2 /dev/ttyUSB1
  powerone listen --tcp-relay 0.0.0.0:4001 --upstream 10.0.0.7:4001
  powerone simulate --pty --verify-function 0x0a --noise";

/// Talk to, tap, simulate and decode Power-One PCU controllers.
#[derive(Parser, Debug)]
#[command(version, about, after_help = format!("{EXAMPLES}\n\n{EXIT_STATUS_HELP}"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode a capture (pcap/pcapng), a hex dump or raw bytes.
    Decode {
        #[command(flatten)]
        args: rewire_cli::decode::DecodeArgs,
        /// Decode this function code as verify-password.
        #[arg(long, value_parser = parse_byte)]
        verify_function: Option<u8>,
    },
    /// Set the PCU's clock (function 0x07).
    SetTime {
        #[command(flatten)]
        link: LinkArgs,
        /// Use the local time now.
        #[arg(long, conflicts_with = "time")]
        now: bool,
        /// The time to set, local, minute resolution: 2011-03-15T15:13.
        #[arg(required_unless_present = "now")]
        time: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Set the PCU's password (function 0x08).
    SetPassword {
        #[command(flatten)]
        link: LinkArgs,
        /// The new password, ASCII digits.
        password: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Check a password; exit 1 when the PCU says it is wrong.
    VerifyPassword {
        #[command(flatten)]
        link: LinkArgs,
        /// The verify-password function code (not documented: give it).
        #[arg(long, value_parser = parse_byte)]
        function: u8,
        /// The password to check, ASCII digits.
        password: String,
    },
    /// Send any function with raw data and show the answer.
    Send {
        #[command(flatten)]
        link: LinkArgs,
        /// Function code, e.g. 0x20.
        #[arg(long, value_parser = parse_byte)]
        function: u8,
        /// Data bytes as hex (spaces allowed).
        #[arg(long, default_value = "")]
        data: String,
        /// Clear the reply flag and do not wait for an answer.
        #[arg(long)]
        no_reply: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Print every frame on the line, both directions, in order (passive tap).
    Listen(ListenArgs),
    /// Run a simulated PCU on a pseudo-terminal or a TCP port.
    Simulate(SimulateArgs),
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Clone)]
struct LinkArgs {
    /// Serial device of the PCU line.
    #[arg(
        long,
        value_name = "DEV",
        conflicts_with = "tcp",
        required_unless_present = "tcp"
    )]
    serial: Option<String>,
    /// Serial bit rate (8N1).
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// A serial server carrying the PCU line, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
    /// The PCU module address, 1..=255.
    #[arg(long, default_value = "1", value_parser = parse_addr)]
    addr: u8,
    /// How long each attempt waits for the reply: 1s, 250ms, 0.5.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
    /// Retries after the first attempt.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Print records as NDJSON (one JSON object per line).
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug, Clone)]
struct ListenArgs {
    /// Serial port hearing the line (both directions on a shared line, or
    /// one wire of a Y-cable with --serial2 on the other).
    #[arg(long, value_name = "DEV", group = "source")]
    serial: Option<String>,
    /// Second serial port: the other wire of a Y-cable.
    #[arg(long, value_name = "DEV", requires = "serial")]
    serial2: Option<String>,
    /// Serial bit rate (8N1).
    #[arg(long, default_value_t = 9600)]
    baud: u32,
    /// Read a TCP stream that carries the line (a serial server).
    #[arg(long, value_name = "HOST:PORT", group = "source")]
    tcp: Option<String>,
    /// Relay mode: accept PowCom here and forward to --upstream, decoding both ways.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        group = "source",
        requires = "upstream"
    )]
    tcp_relay: Option<String>,
    /// Where the relay connects (the PCU's serial server).
    #[arg(long, value_name = "HOST:PORT")]
    upstream: Option<String>,
    /// Decode this function code as verify-password.
    #[arg(long, value_parser = parse_byte)]
    verify_function: Option<u8>,
    /// Stop after this many frames.
    #[arg(long)]
    count: Option<u64>,
    /// Print records as NDJSON (one JSON object per line).
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug, Clone)]
struct SimulateArgs {
    /// Serve on a new pseudo-terminal and print its path.
    #[arg(long, conflicts_with = "tcp", required_unless_present = "tcp")]
    pty: bool,
    /// Serve on this TCP address and print the bound address (port 0: any).
    #[arg(long, value_name = "ADDR:PORT")]
    tcp: Option<String>,
    /// The simulated module's address.
    #[arg(long, default_value = "1", value_parser = parse_addr)]
    addr: u8,
    /// The starting password.
    #[arg(long, default_value = "8888")]
    password: String,
    /// Answer this function code as verify-password (00 wrong, 01 right).
    #[arg(long, value_parser = parse_byte)]
    verify_function: Option<u8>,
    /// Echo the data of unknown functions instead of staying silent.
    #[arg(long)]
    echo_unknown: bool,
    /// Write random bytes before each reply.
    #[arg(long)]
    noise: bool,
    /// Corrupt the checksum of every Nth reply.
    #[arg(long, value_name = "N")]
    corrupt_every: Option<NonZeroU32>,
    /// Seed for the noise.
    #[arg(long)]
    seed: Option<u64>,
    /// Log frames and state changes on stderr.
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    rewire_cli::main_with("powerone", || run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Decode {
            args,
            verify_function,
        } => {
            let mut sink = Sink::stdout(Format::from_flag(args.json), false);
            let codes = Codes {
                verify_password: verify_function,
            };
            rewire_powerone_cli::decode::run(&args, codes, &mut sink)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::SetTime {
            link,
            now,
            time,
            yes,
        } => {
            let time = match (now, time) {
                (true, _) => local_now_minute()?,
                (false, Some(text)) => parse_time(&text)?,
                (false, None) => bail!("give a time or --now"),
            };
            live(&link, &Action::SetTime(time), yes)
        }
        Command::SetPassword {
            link,
            password,
            yes,
        } => live(&link, &Action::SetPassword(password), yes),
        Command::VerifyPassword {
            link,
            function,
            password,
        } => live(&link, &Action::VerifyPassword { function, password }, false),
        Command::Send {
            link,
            function,
            data,
            no_reply,
            yes,
        } => {
            let data = parse_hex(&data)?;
            let action = Action::Send {
                function,
                data,
                reply: !no_reply,
            };
            live(&link, &action, yes)
        }
        Command::Listen(args) => listen(&args),
        Command::Simulate(args) => simulate(&args),
        Command::Completions { shell } => {
            rewire_cli::print_completions::<Cli>(shell)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Turns the link flags into a link spec.
fn link_spec(serial: Option<&str>, baud: u32, tcp: Option<&str>) -> anyhow::Result<LinkSpec> {
    match (serial, tcp) {
        (Some(path), None) => Ok(LinkSpec::Serial {
            path: path.to_owned(),
            baud,
        }),
        (None, Some(target)) => Ok(LinkSpec::Tcp {
            target: target.to_owned(),
        }),
        _ => bail!("give exactly one of --serial DEV and --tcp HOST:PORT"),
    }
}

/// Turns --timeout and --retries into the requester's policy.
fn policy(timeout: Duration, retries: u32) -> RequestPolicy {
    RequestPolicy {
        timeout,
        attempts: retries.saturating_add(1),
        ..RequestPolicy::default()
    }
}

/// Maps a link error to its exit status: an unreachable or vanished peer
/// is "no answer" (3), anything else (bad device, bad host name) is 2.
fn link_exit(e: LinkError) -> anyhow::Error {
    let code = match e.kind() {
        LinkErrorKind::Connect | LinkErrorKind::Closed | LinkErrorKind::ReconnectExhausted => {
            exit::NO_ANSWER
        }
        _ => exit::USAGE,
    };
    Exit::new(code, chain(&e)).into()
}

fn live(args: &LinkArgs, action: &Action, yes: bool) -> anyhow::Result<ExitCode> {
    let format = Format::from_flag(args.json);
    let spec = link_spec(args.serial.as_deref(), args.baud, args.tcp.as_deref())?;
    // Check the request builds before asking anything.
    action.request(args.addr)?;
    if action.changes_pcu() {
        rewire_cli::confirm("powerone", &action.describe(args.addr), yes)?;
    }
    let link = open_link(&spec, args.timeout.max(Duration::from_secs(1))).map_err(link_exit)?;
    let mut master = Master::new(
        link,
        &spec.to_string(),
        args.addr,
        policy(args.timeout, args.retries),
    );
    let mut sink = Sink::stdout(format, true);
    let report = match master.run(action, &mut |r: &Record| sink.emit(r)) {
        Ok(report) => report,
        Err(e) => match e.downcast::<LinkError>() {
            Ok(link) => return Err(link_exit(link)),
            Err(e) => return Err(e),
        },
    };
    sink.flush()?;
    if report.garbage_bytes > 0 {
        eprintln!(
            "powerone: {} bytes skipped as noise or bad checksums",
            report.garbage_bytes
        );
    }
    match report.verdict {
        Verdict::Done { attempts } => {
            if attempts > 1 {
                eprintln!("powerone: answered on attempt {attempts}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Negative(why) | Verdict::BadAnswer(why) => {
            Err(Exit::new(exit::NEGATIVE, why).into())
        }
        Verdict::NoAnswer { attempts } => Err(Exit::new(
            exit::NO_ANSWER,
            format!(
                "no answer from PCU {:#04x} on {spec} after {attempts} attempts",
                args.addr
            ),
        )
        .into()),
    }
}

/// Formats an error with its causes: `error: cause: cause`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn listen(args: &ListenArgs) -> anyhow::Result<ExitCode> {
    let format = Format::from_flag(args.json);
    let codes = Codes {
        verify_password: args.verify_function,
    };
    let limits = TapLimits { count: args.count };
    let mut sink = Sink::stdout(format, true);
    let mut emit = |r: &Record| sink.emit(r);
    if let Some(bind) = &args.tcp_relay {
        let upstream = args
            .upstream
            .as_deref()
            .context("--tcp-relay needs --upstream HOST:PORT")?;
        let listener = Listener::bind(bind.as_str()).map_err(link_exit)?;
        eprintln!("powerone: relaying {} -> {upstream}", listener.local_addr());
        tap::relay(
            &listener,
            upstream,
            Duration::from_secs(3),
            codes,
            limits,
            &mut emit,
            &|e| eprintln!("powerone: dropped a client: {}", chain(e)),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut sources = Vec::new();
    let mut names = Vec::new();
    let two = args.serial2.is_some();
    for path in [&args.serial, &args.serial2].into_iter().flatten() {
        let spec = link_spec(Some(path), args.baud, None)?;
        let reader = open_link(&spec, Duration::from_secs(3)).map_err(link_exit)?;
        names.push(spec.to_string());
        sources.push(Source {
            reader,
            endpoint: path.clone(),
            context: Context {
                line: two.then(|| path.clone()),
                ..Context::default()
            },
        });
    }
    if let Some(target) = &args.tcp {
        let spec = link_spec(None, args.baud, Some(target))?;
        let reader = open_link(&spec, Duration::from_secs(3)).map_err(link_exit)?;
        names.push(spec.to_string());
        sources.push(Source {
            reader,
            endpoint: target.clone(),
            context: Context::default(),
        });
    }
    if sources.is_empty() {
        bail!(
            "give --serial DEV [--serial2 DEV], --tcp HOST:PORT or --tcp-relay ADDR --upstream HOST:PORT"
        );
    }
    eprintln!("powerone: listening on {}", names.join(" and "));
    tap::tap(sources, codes, limits, &mut emit)?;
    sink.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn simulate(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    rewire_powerone::Password::new(args.password.as_bytes())
        .map_err(|e| anyhow::anyhow!("--password {:?}: {e}", args.password))?;
    let config = SimConfig {
        addr: args.addr,
        password: args.password.clone(),
        verify_function: args.verify_function,
        echo_unknown: args.echo_unknown,
        noise: args.noise,
        corrupt_every: args.corrupt_every,
        seed: args.seed,
    };
    let pcu = Mutex::new(Pcu::new(config, simulator::local_now()));
    let stop = AtomicBool::new(false);
    let verbose = args.verbose;
    let log = move |event: SimEvent| {
        if verbose {
            match event {
                SimEvent::Frame(record) => eprintln!("{record}"),
                SimEvent::Change(change) => eprintln!("powerone: simulator: {change}"),
            }
        }
    };
    let mut stdout = io::stdout();
    if let Some(bind) = &args.tcp {
        let listener = Listener::bind(bind.as_str()).map_err(link_exit)?;
        writeln!(stdout, "{}", listener.local_addr())?;
        stdout.flush()?;
        simulator::serve_tcp(&listener, &pcu, &stop, &log)?;
    } else {
        let mut pty = Pty::open()?;
        writeln!(stdout, "{}", pty.path())?;
        stdout.flush()?;
        simulator::serve_pty(&mut pty, &pcu, &stop, &log)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a byte: decimal, or hex with 0x.
fn parse_byte(text: &str) -> Result<u8, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a byte (0..=255, or 0x00..=0xff)"))
}

/// Parses a module address: a byte other than 0 (the PC's address).
fn parse_addr(text: &str) -> Result<u8, String> {
    match parse_byte(text)? {
        0 => Err("0 is the PC's address; modules are 1..=255".into()),
        addr => Ok(addr),
    }
}

/// Parses `250ms`, `2s` or bare seconds (`0.5`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(ms) = t.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(s) = t.strip_suffix('s') {
        (s, 1.0)
    } else {
        (t, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v * scale <= 3600.0)
        .map(|v| Duration::from_secs_f64(v * scale))
        .ok_or_else(|| format!("{text:?} is not a duration like 1s, 250ms or 0.5 (at most 1 h)"))
}

/// Parses `2011-03-15T15:13` (a space works too; seconds must be 0: the PCU
/// clock has minute resolution).
fn parse_time(text: &str) -> anyhow::Result<DateTime> {
    let t: jiff::civil::DateTime = text
        .trim()
        .parse()
        .with_context(|| format!("{text:?} is not a time like 2011-03-15T15:13"))?;
    if t.second() != 0 || t.subsec_nanosecond() != 0 {
        bail!("{text:?}: the PCU clock has minute resolution; give YYYY-MM-DDTHH:MM");
    }
    civil_to_pcu(t).with_context(|| format!("{text:?} cannot be set on the PCU"))
}

fn civil_to_pcu(t: jiff::civil::DateTime) -> anyhow::Result<DateTime> {
    let year = u16::try_from(t.year()).context("year before 0")?;
    let byte = |v: i8| u8::try_from(v).unwrap_or(u8::MAX);
    Ok(DateTime::new(
        year,
        byte(t.month()),
        byte(t.day()),
        byte(t.hour()),
        byte(t.minute()),
    )?)
}

/// Returns the local time now, to the minute.
///
/// # Errors
/// When the clock is outside 2000..=2099, which the PCU cannot hold.
fn local_now_minute() -> anyhow::Result<DateTime> {
    civil_to_pcu(jiff::Zoned::now().datetime()).context("the local clock cannot be set on the PCU")
}

/// Parses hex data bytes, ignoring spaces, colons and a 0x prefix per byte.
fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let cleaned: String = text
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',')
        .map(|part| part.trim_start_matches("0x"))
        .collect();
    hex::decode(&cleaned).with_context(|| format!("--data {text:?} is not hex bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_addresses() {
        assert_eq!(parse_byte("0x0a"), Ok(10));
        assert_eq!(parse_byte("255"), Ok(255));
        assert!(parse_byte("256").is_err());
        assert!(parse_byte("0xzz").is_err());
        assert_eq!(parse_addr("1"), Ok(1));
        assert!(parse_addr("0").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn times() {
        let t = parse_time("2011-03-15T15:13").unwrap();
        assert_eq!(t, DateTime::new(2011, 3, 15, 15, 13).unwrap());
        assert_eq!(parse_time("2011-03-15 15:13").unwrap(), t);
        assert!(parse_time("2011-03-15T15:13:30").is_err());
        assert!(parse_time("1999-03-15T15:13").is_err());
        assert!(parse_time("yesterday").is_err());
        let now = local_now_minute().unwrap();
        assert!(now.year() >= 2024);
    }

    #[test]
    fn hex_data() {
        assert_eq!(parse_hex("01 02 ff").unwrap(), [1, 2, 255]);
        assert_eq!(parse_hex("0x01:0x02").unwrap(), [1, 2]);
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
        assert!(parse_hex("0g").is_err());
        assert!(parse_hex("123").is_err());
    }

    #[test]
    fn links_and_policy() {
        assert_eq!(
            link_spec(Some("/dev/ttyS0"), 9600, None).unwrap(),
            LinkSpec::Serial {
                path: "/dev/ttyS0".into(),
                baud: 9600
            }
        );
        assert_eq!(
            link_spec(None, 9600, Some("h:4001")).unwrap(),
            LinkSpec::Tcp {
                target: "h:4001".into()
            }
        );
        assert!(link_spec(None, 9600, None).is_err());
        assert!(link_spec(Some("a"), 9600, Some("b")).is_err());
        let p = policy(Duration::from_millis(300), 2);
        assert_eq!((p.timeout, p.attempts), (Duration::from_millis(300), 3));
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
