//! `powerone`: talk to a Power-One PCU over serial or TCP, tap the line,
//! simulate a PCU, and decode captured traffic.
//!
//! This file only parses arguments, turns them into library configs with
//! pure functions, and wires the `rewire_powerone_host` library to its
//! outputs.

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use rewire_cli::decode::{DecodeArgs, open_input};
use rewire_cli::value;
use rewire_cli::{EXIT_STATUS_HELP, Exit, exit};
use rewire_host::output::Format;
use rewire_host::sink::Fanout;
use rewire_powerone::DateTime;
use rewire_powerone_host::decode::{DEFAULT_PORT, Decoder};
use rewire_powerone_host::link::{LinkSpec, error_chain, open_link};
use rewire_powerone_host::master::{self, Action, Master, MasterError, Verdict};
use rewire_powerone_host::message::{Codes, Message, Seen};
use rewire_powerone_host::record::{RecordSink, RecordWriter, WriteFailure};
use rewire_powerone_host::simulator::{self, Pcu, SimConfig, Simulator};
use rewire_powerone_host::tally::{TallySink, operator_page, serve_metrics_and_page};
use rewire_powerone_host::tap::{Source, Tap, TapConfig};
use rewire_transport::link::{LinkError, LinkErrorKind, Listener, RequestPolicy};

const EXAMPLES: &str = "Examples:
  powerone decode testdata/powerone/powerone-lo.pcap
  powerone decode --hex 'FF 08 00 01 00 01 07 10' --json
  powerone decode --input hex requests.xxd.hex
  powerone --serial /dev/ttyS0 set-time --now --yes
  powerone set-time --tcp 10.0.0.7:4001 2011-03-15T15:13 --yes
  powerone verify-password --serial /dev/ttyUSB0 --function 0x0a 8888
  powerone send --tcp 10.0.0.7:4001 --function 0x20 --data '01 02' --json --yes
  powerone listen --serial /dev/ttyUSB0 --serial2 /dev/ttyUSB1
  powerone listen --tcp-relay 0.0.0.0:4001 --upstream 10.0.0.7:4001
  powerone simulate --pty --verify-function 0x0a --noise";

/// Messages a live output may hold per lane before it drops and counts.
const QUEUE: usize = 4096;

/// Talk to, tap, simulate and decode Power-One PCU controllers.
#[derive(Parser, Debug)]
#[command(name = "powerone", version, about, after_help = format!("{EXAMPLES}\n\n{EXIT_STATUS_HELP}"))]
struct Cli {
    #[command(flatten)]
    link: LinkArgs,
    /// Say more on stderr (debug messages, the simulator's frames).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Say only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// The link options, accepted before or after the subcommand.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
struct LinkArgs {
    /// Serial device of the PCU line (listen: the port hearing the line):
    /// /dev/ttyUSB0, COM3 or \\.\COM10.
    #[arg(long, value_name = "DEV", value_parser = value::serial_port, global = true)]
    serial: Option<String>,
    /// A serial server carrying the PCU line, HOST:PORT (simulate: the
    /// address to serve on; a bare port means 127.0.0.1:PORT).
    #[arg(long, value_name = "HOST:PORT", global = true)]
    tcp: Option<String>,
    /// Serial bit rate (8N1).
    #[arg(long, default_value = "9600", value_parser = value::baud, global = true)]
    baud: u32,
    /// The PCU module address, 1..=255 (simulate: the simulated module's).
    #[arg(long, default_value = "1", value_parser = parse_addr, global = true)]
    addr: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode a capture (pcap/pcapng), a hex dump or raw bytes.
    Decode {
        #[command(flatten)]
        args: DecodeArgs,
        /// Decode this function code as verify-password.
        #[arg(long, value_parser = parse_byte)]
        verify_function: Option<u8>,
    },
    /// Set the PCU's clock (function 0x07).
    SetTime {
        #[command(flatten)]
        request: RequestArgs,
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
        request: RequestArgs,
        /// The new password, ASCII digits.
        password: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Check a password; exit 1 when the PCU says it is wrong.
    VerifyPassword {
        #[command(flatten)]
        request: RequestArgs,
        /// The verify-password function code (not documented: give it).
        #[arg(long, value_parser = parse_byte)]
        function: u8,
        /// The password to check, ASCII digits.
        password: String,
    },
    /// Send any function with raw data and show the answer.
    Send {
        #[command(flatten)]
        request: RequestArgs,
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
    /// Print every frame on the line, both directions, in order (passive
    /// tap): on --serial [--serial2], on a --tcp stream, or as a relay.
    Listen(Box<ListenArgs>),
    /// Run a simulated PCU on a pseudo-terminal (--pty) or a TCP port (--tcp).
    Simulate(SimulateArgs),
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// What the request commands take besides the link.
#[derive(Args, Debug, Clone)]
struct RequestArgs {
    /// How long each attempt waits for the reply: 1s, 250ms.
    #[arg(long, default_value = "1s", value_parser = value::duration)]
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
    /// Second serial port: the other wire of a Y-cable (with --serial).
    #[arg(long, value_name = "DEV", value_parser = value::serial_port)]
    serial2: Option<String>,
    /// Relay mode: accept PowCom here and forward to --upstream, decoding
    /// both ways (a bare port means 127.0.0.1:PORT).
    #[arg(long, value_name = "ADDR:PORT", requires = "upstream", value_parser = value::listen_addr)]
    tcp_relay: Option<SocketAddr>,
    /// Where the relay connects (the PCU's serial server).
    #[arg(long, value_name = "HOST:PORT", value_parser = value::target)]
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
    /// Serve Prometheus metrics on http://ADDR/metrics (a bare port means
    /// 127.0.0.1:PORT).
    #[arg(long, value_name = "ADDR:PORT", value_parser = value::listen_addr)]
    http: Option<SocketAddr>,
    /// MQTT output with Home Assistant discovery (docs/mqtt.md).
    #[command(flatten)]
    mqtt: rewire_cli::mqtt::MqttArgs,
}

#[derive(Args, Debug, Clone)]
struct SimulateArgs {
    #[cfg_attr(
        unix,
        doc = "Serve on a new pseudo-terminal and say its path on stderr."
    )]
    #[cfg_attr(
        not(unix),
        doc = "Pseudo-terminals are Unix only: serve with --tcp PORT instead."
    )]
    #[arg(long)]
    pty: bool,
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
}

/// The long-running modes, which read `--config FILE` and `REWIRE_*`.
const CONFIG_MODES: &[&[&str]] = &[&["listen"], &["simulate"]];

fn main() -> ExitCode {
    let cli = rewire_cli::config::parse::<Cli>("powerone", CONFIG_MODES);
    rewire_cli::main_with("powerone", || run(cli))
}

/// Returns the log level the -v/-q flags ask for.
fn log_level(verbose: bool, quiet: bool) -> log::LevelFilter {
    match (verbose, quiet) {
        (true, _) => log::LevelFilter::Debug,
        (false, true) => log::LevelFilter::Warn,
        (false, false) => log::LevelFilter::Info,
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    log::set_max_level(log_level(cli.verbose, cli.quiet));
    let link = &cli.link;
    match cli.command {
        Command::Decode {
            args,
            verify_function,
        } => decode(&args, verify_function),
        Command::SetTime {
            request,
            now,
            time,
            yes,
        } => {
            let spec = link_spec(link)?;
            let time = match (now, time) {
                (true, _) => local_now_minute()?,
                (false, Some(text)) => parse_time(&text)?,
                (false, None) => bail!("give a time or --now"),
            };
            live(&spec, link.addr, &request, &Action::SetTime(time), yes)
        }
        Command::SetPassword {
            request,
            password,
            yes,
        } => live(
            &link_spec(link)?,
            link.addr,
            &request,
            &Action::SetPassword(password),
            yes,
        ),
        Command::VerifyPassword {
            request,
            function,
            password,
        } => live(
            &link_spec(link)?,
            link.addr,
            &request,
            &Action::VerifyPassword { function, password },
            false,
        ),
        Command::Send {
            request,
            function,
            data,
            no_reply,
            yes,
        } => {
            let spec = link_spec(link)?;
            let data = if data.trim().is_empty() {
                Vec::new()
            } else {
                value::hex(&data)
                    .map_err(anyhow::Error::msg)
                    .context("--data")?
            };
            let action = Action::Send {
                function,
                data,
                reply: !no_reply,
            };
            live(&spec, link.addr, &request, &action, yes)
        }
        Command::Listen(args) => listen(link, &args),
        Command::Simulate(args) => simulate(link, &args),
        Command::Completions { shell } => {
            rewire_cli::print_completions::<Cli>(shell)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Turns the link flags into the line a request command talks on.
fn link_spec(link: &LinkArgs) -> anyhow::Result<LinkSpec> {
    match (&link.serial, &link.tcp) {
        (Some(path), None) => Ok(LinkSpec::Serial {
            path: path.clone(),
            baud: link.baud,
        }),
        (None, Some(target)) => Ok(LinkSpec::Tcp {
            target: value::target(target)
                .map_err(anyhow::Error::msg)
                .context("--tcp")?,
        }),
        (Some(_), Some(_)) => bail!("give one of --serial DEV or --tcp HOST:PORT, not both"),
        (None, None) => {
            bail!("no link to the PCU: give one of --serial DEV or --tcp HOST:PORT")
        }
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
    Exit::new(code, error_chain(&e)).into()
}

/// The line said when no answer came.
fn no_answer(addr: u8, spec: &LinkSpec, attempts: u32) -> String {
    format!(
        "no answer from PCU {addr:#04x} on {spec} after {}",
        master::count(attempts, "attempt")
    )
}

/// A fan-out whose one sink writes records to stdout, and the handle that
/// says whether writing failed.
fn stdout_records(format: Format) -> (Fanout<Message>, WriteFailure) {
    let sink = RecordSink::new(io::stdout(), format);
    let failure = sink.failure();
    let mut fanout = Fanout::new();
    fanout.add(sink, QUEUE);
    (fanout, failure)
}

/// Returns the write error the record sink met, if any (a closed pipe
/// among them: `main_with` exits 0 for that).
fn write_result(failure: &WriteFailure) -> anyhow::Result<()> {
    failure
        .take()
        .map_or(Ok(()), |e| Err(anyhow::Error::new(e).context("stdout")))
}

fn live(
    spec: &LinkSpec,
    addr: u8,
    args: &RequestArgs,
    action: &Action,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    // Check the request builds before asking anything.
    action.request(addr)?;
    if action.changes_pcu() {
        rewire_cli::confirm("powerone", &action.describe(addr), yes)?;
    }
    let link = open_link(spec, args.timeout.max(Duration::from_secs(1))).map_err(link_exit)?;
    let mut master = Master::new(
        link,
        &spec.to_string(),
        addr,
        policy(args.timeout, args.retries),
    );
    let (mut fanout, failure) = stdout_records(Format::from_flag(args.json));
    let outcome = master.run(action, &mut |m| fanout.publish(m));
    fanout.close();
    let report = match outcome {
        Ok(report) => report,
        Err(MasterError::Link(e)) => return Err(link_exit(e)),
        Err(e) => return Err(e.into()),
    };
    write_result(&failure)?;
    if report.garbage_bytes > 0 {
        log::info!(
            "{} bytes skipped as noise or bad checksums",
            report.garbage_bytes
        );
    }
    match report.verdict {
        Verdict::Done { attempts } => {
            if attempts > 1 {
                log::info!("answered on attempt {attempts}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Negative(why) | Verdict::BadAnswer(why) => {
            Err(Exit::new(exit::NEGATIVE, why).into())
        }
        Verdict::NoAnswer { attempts } => {
            Err(Exit::new(exit::NO_ANSWER, no_answer(addr, spec, attempts)).into())
        }
    }
}

/// Where `listen` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListenPlan {
    /// A relay between clients on `bind` and `upstream`.
    Relay { bind: SocketAddr, upstream: String },
    /// One or two lines; `named` says whether frames name their line.
    Lines { specs: Vec<LinkSpec>, named: bool },
}

/// Turns the listen flags into what to read.
fn listen_plan(link: &LinkArgs, args: &ListenArgs) -> anyhow::Result<ListenPlan> {
    if let Some(bind) = args.tcp_relay {
        if link.serial.is_some() || link.tcp.is_some() {
            bail!("--tcp-relay takes no --serial or --tcp: it listens on its own address");
        }
        let upstream = args
            .upstream
            .clone()
            .context("--tcp-relay needs --upstream HOST:PORT")?;
        return Ok(ListenPlan::Relay { bind, upstream });
    }
    let mut specs = Vec::new();
    for path in [&link.serial, &args.serial2].into_iter().flatten() {
        specs.push(LinkSpec::Serial {
            path: path.clone(),
            baud: link.baud,
        });
    }
    if args.serial2.is_some() && link.serial.is_none() {
        bail!("--serial2 is the second wire of a Y-cable: give --serial too");
    }
    if let Some(target) = &link.tcp {
        if !specs.is_empty() {
            bail!("give --serial DEV [--serial2 DEV] or --tcp HOST:PORT, not both");
        }
        let target = value::target(target)
            .map_err(anyhow::Error::msg)
            .context("--tcp")?;
        specs.push(LinkSpec::Tcp { target });
    }
    if specs.is_empty() {
        bail!(
            "nothing to listen on: give --serial DEV [--serial2 DEV], --tcp HOST:PORT or --tcp-relay ADDR --upstream HOST:PORT"
        );
    }
    Ok(ListenPlan::Lines {
        named: specs.len() > 1,
        specs,
    })
}

fn listen(link: &LinkArgs, args: &ListenArgs) -> anyhow::Result<ExitCode> {
    let config = TapConfig {
        codes: Codes {
            verify_password: args.verify_function,
        },
        count: args.count,
    };
    let (mut fanout, failure) = stdout_records(Format::from_flag(args.json));
    let page = args.http.map(|_| operator_page());
    let tally = args.http.map(|_| TallySink::new());
    let metrics = match (args.http, &page, &tally) {
        (Some(addr), Some(page), Some(tally)) => {
            let tally = tally.clone();
            fanout.add(tally.clone(), QUEUE);
            fanout.add(page.sink(), QUEUE);
            let server = serve_metrics_and_page(addr, tally, page)?;
            log::info!("metrics on http://{}/metrics", server.local_addr());
            log::info!("page on http://{}/", server.local_addr());
            Some(server)
        }
        _ => None,
    };
    if let Some(mqtt) = args.mqtt.start("powerone-listen", None)? {
        fanout.add(mqtt, QUEUE);
    }
    let tap = match listen_plan(link, args)? {
        ListenPlan::Relay { bind, upstream } => {
            let listener = Listener::bind(bind).map_err(link_exit)?;
            log::info!("relaying {} -> {upstream}", listener.local_addr());
            Tap::relay(listener, upstream, Duration::from_secs(1), config, fanout)?
        }
        ListenPlan::Lines { specs, named } => {
            let mut sources = Vec::new();
            for spec in &specs {
                let reader = open_link(spec, Duration::from_secs(3)).map_err(link_exit)?;
                let endpoint = match spec {
                    LinkSpec::Serial { path, .. } => path.clone(),
                    LinkSpec::Tcp { target } => target.clone(),
                };
                sources.push(Source {
                    reader,
                    seen: Seen {
                        line: named.then(|| endpoint.clone()),
                        ..Seen::default()
                    },
                    endpoint,
                });
            }
            let names: Vec<String> = specs.iter().map(ToString::to_string).collect();
            log::info!("listening on {}", names.join(" and "));
            Tap::start(sources, config, fanout)?
        }
    };
    if let Some(page) = &page {
        page.set_outputs(tap.stats_reader());
    }
    if let Some(tally) = &tally {
        tally.set_outputs(tap.stats_reader());
    }
    while !tap.is_finished() && !failure.failed() {
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(server) = metrics {
        server.shutdown();
    }
    tap.shutdown().map_err(link_exit)?;
    write_result(&failure)?;
    Ok(ExitCode::SUCCESS)
}

/// Where `simulate` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimOn {
    /// A new pseudo-terminal.
    Pty,
    /// A TCP address.
    Tcp(SocketAddr),
}

/// Turns --pty and --tcp into where the simulator serves.
fn sim_on(pty: bool, link: &LinkArgs) -> anyhow::Result<SimOn> {
    if link.serial.is_some() {
        bail!("simulate serves on --pty or --tcp ADDR:PORT; --serial is for the other commands");
    }
    match (pty, &link.tcp) {
        (true, None) => Ok(SimOn::Pty),
        (false, Some(addr)) => Ok(SimOn::Tcp(
            value::listen_addr(addr)
                .map_err(anyhow::Error::msg)
                .context("--tcp")?,
        )),
        (true, Some(_)) => bail!("give one of --pty or --tcp ADDR:PORT, not both"),
        (false, None) => bail!("nowhere to serve: give one of --pty or --tcp ADDR:PORT"),
    }
}

fn simulate(link: &LinkArgs, args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let on = sim_on(args.pty, link)?;
    rewire_powerone::Password::new(args.password.as_bytes())
        .map_err(|e| anyhow::anyhow!("--password {:?}: {e}", args.password))?;
    let config = SimConfig {
        addr: link.addr,
        password: args.password.clone(),
        verify_function: args.verify_function,
        echo_unknown: args.echo_unknown,
        noise: args.noise,
        corrupt_every: args.corrupt_every,
        seed: args.seed,
    };
    let pcu = Pcu::new(config, simulator::local_now());
    let _simulator = match on {
        SimOn::Tcp(addr) => {
            let listener = Listener::bind(addr).map_err(link_exit)?;
            log::info!(
                "simulating PCU {:#04x}, listening on {}",
                link.addr,
                listener.local_addr()
            );
            Simulator::serve_tcp(listener, pcu, Fanout::new())?
        }
        SimOn::Pty => serve_pty(link.addr, pcu)?,
    };
    // Runs until the process is ended.
    loop {
        std::thread::park();
    }
}

#[cfg(unix)]
fn serve_pty(addr: u8, pcu: Pcu) -> anyhow::Result<Simulator> {
    let pty = rewire_transport::link::Pty::open(rewire_powerone_host::link::READ_TICK)
        .map_err(link_exit)?;
    log::info!("simulating PCU {addr:#04x}, listening on {}", pty.path());
    Ok(Simulator::serve_pty(pty, pcu, Fanout::new())?)
}

#[cfg(not(unix))]
fn serve_pty(_addr: u8, _pcu: Pcu) -> anyhow::Result<Simulator> {
    bail!("--pty needs a Unix system")
}

fn decode(args: &DecodeArgs, verify_function: Option<u8>) -> anyhow::Result<ExitCode> {
    let codes = Codes {
        verify_password: verify_function,
    };
    let input = open_input(args, &[DEFAULT_PORT], false)?.tee_pcap(
        args,
        rewire_transport::capture::pcap_out::SerialProtocol::PowerOne,
    )?;
    // A live feed (a pipe, a terminal) shows each record as it comes.
    let mut out = RecordWriter::new(io::stdout(), Format::from_flag(args.json), input.is_live());
    let name = input.name().to_owned();
    let events = input;
    let mut decoder = Decoder::new(&name, codes);
    let mut write = |m: Message| out.write(&m);
    let mut result = Ok(());
    for event in events {
        match event {
            Ok(event) => decoder.push(event, &mut write)?,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    decoder.finish(&mut write)?;
    out.flush()?;
    result.map(|()| ExitCode::SUCCESS)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("powerone").chain(args.iter().copied()))
    }

    fn link(serial: Option<&str>, tcp: Option<&str>) -> LinkArgs {
        LinkArgs {
            serial: serial.map(str::to_owned),
            tcp: tcp.map(str::to_owned),
            baud: 9600,
            addr: 1,
        }
    }

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
    fn links_and_policy() {
        assert_eq!(
            link_spec(&link(Some("/dev/ttyS0"), None)).unwrap(),
            LinkSpec::Serial {
                path: "/dev/ttyS0".into(),
                baud: 9600
            }
        );
        assert_eq!(
            link_spec(&link(None, Some("h:4001"))).unwrap(),
            LinkSpec::Tcp {
                target: "h:4001".into()
            }
        );
        assert!(link_spec(&link(Some("a"), Some("b:1"))).is_err());
        assert!(link_spec(&link(None, Some("h"))).is_err());
        let p = policy(Duration::from_millis(300), 2);
        assert_eq!((p.timeout, p.attempts), (Duration::from_millis(300), 3));
    }

    #[test]
    fn a_missing_link_names_both_options() {
        let text = link_spec(&link(None, None)).unwrap_err().to_string();
        assert!(
            text.contains("--serial") && text.contains("--tcp"),
            "{text}"
        );
    }

    #[test]
    fn one_attempt_is_singular() {
        let spec = LinkSpec::Tcp {
            target: "h:1".into(),
        };
        assert!(no_answer(1, &spec, 1).ends_with("after 1 attempt"));
        assert!(no_answer(1, &spec, 3).ends_with("after 3 attempts"));
    }

    #[test]
    fn link_options_go_before_or_after_the_subcommand() {
        let before = parse(&[
            "--serial",
            "/dev/x",
            "--baud",
            "2400",
            "--addr",
            "5",
            "set-password",
            "1",
        ])
        .unwrap();
        let after = parse(&[
            "set-password",
            "1",
            "--serial",
            "/dev/x",
            "--baud",
            "2400",
            "--addr",
            "5",
        ])
        .unwrap();
        assert_eq!(before.link, after.link);
        assert_eq!(before.link.baud, 2400);
        assert_eq!(after.link.addr, 5);
        let tcp = parse(&["--tcp", "h:1", "verify-password", "--function", "1", "2"]).unwrap();
        assert_eq!(tcp.link.tcp.as_deref(), Some("h:1"));
        assert!(parse(&["simulate", "--pty", "-v"]).unwrap().verbose);
    }

    #[test]
    fn baud_rates_are_bounded() {
        for bad in ["0", "4294967295", "fast"] {
            assert!(
                parse(&["--baud", bad, "set-password", "1"]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations_need_units() {
        assert!(parse(&["set-password", "1", "--timeout", "0.5"]).is_err());
        let cli = parse(&["set-password", "1", "--timeout", "250ms"]).unwrap();
        let Command::SetPassword { request, .. } = cli.command else {
            panic!()
        };
        assert_eq!(request.timeout, Duration::from_millis(250));
    }

    #[test]
    fn listen_plans() {
        let args =
            |serial2: Option<&str>, relay: Option<&str>, upstream: Option<&str>| ListenArgs {
                serial2: serial2.map(str::to_owned),
                tcp_relay: relay.map(|r| value::listen_addr(r).unwrap()),
                upstream: upstream.map(str::to_owned),
                verify_function: None,
                count: None,
                json: false,
                http: None,
                mqtt: rewire_cli::mqtt::MqttArgs::default(),
            };
        assert_eq!(
            listen_plan(&link(None, None), &args(None, Some("4001"), Some("h:1"))).unwrap(),
            ListenPlan::Relay {
                bind: "127.0.0.1:4001".parse().unwrap(),
                upstream: "h:1".into()
            }
        );
        let two = listen_plan(&link(Some("a"), None), &args(Some("b"), None, None)).unwrap();
        assert!(matches!(two, ListenPlan::Lines { named: true, ref specs } if specs.len() == 2));
        assert!(listen_plan(&link(None, None), &args(None, None, None)).is_err());
        assert!(listen_plan(&link(None, None), &args(Some("b"), None, None)).is_err());
        assert!(listen_plan(&link(Some("a"), Some("h:1")), &args(None, None, None)).is_err());
    }

    #[test]
    fn simulator_places() {
        assert_eq!(sim_on(true, &link(None, None)).unwrap(), SimOn::Pty);
        assert_eq!(
            sim_on(false, &link(None, Some("4001"))).unwrap(),
            SimOn::Tcp("127.0.0.1:4001".parse().unwrap())
        );
        assert!(sim_on(true, &link(None, Some("1"))).is_err());
        assert!(sim_on(false, &link(None, None)).is_err());
        assert!(sim_on(true, &link(Some("/dev/x"), None)).is_err());
    }

    #[test]
    fn log_levels() {
        assert_eq!(log_level(true, false), log::LevelFilter::Debug);
        assert_eq!(log_level(false, true), log::LevelFilter::Warn);
        assert_eq!(log_level(false, false), log::LevelFilter::Info);
    }

    #[test]
    fn completions_name_the_binary() {
        let text =
            String::from_utf8(rewire_cli::completions::<Cli>(clap_complete::Shell::Zsh)).unwrap();
        assert!(text.starts_with("#compdef powerone\n"), "{}", &text[..40]);
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        assert_eq!(Cli::command().get_name(), "powerone");
    }
}
