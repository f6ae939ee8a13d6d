//! `upsilon`: decode captured or piped traffic of a Megatec UPS and UPSilon
//! 2000, monitor it live, publish it (NDJSON, webhook, Prometheus, NUT), talk
//! to the UPS directly, and simulate every party.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rewire_host::output::Format;
use rewire_cli::{EXIT_STATUS_HELP, Exit, exit};
use rewire_transport::link::{Backoff, SerialSettings, open_serial};
use rewire_upsilon::usb::{PRODUCT_ID, VENDOR_ID};
use rewire_upsilon::{Command, RestoreMinutes, ShutdownDelay, TestMinutes};
use rewire_upsilon_cli::monitor::{self, MonitorConfig, Outputs};
use rewire_upsilon_cli::nut::NutConfig;
use rewire_upsilon_cli::sim::{self, RupsmonConfig, Script, SimUps};
use rewire_upsilon_cli::ups::{self, Channel, CommandOutcome, Confirm, Ups};
use rewire_upsilon_cli::webhook::WebhookConfig;

const AFTER_HELP: &str = "Examples:
  upsilon decode testdata/upsilon/upsilon-lo.pcap
  upsilon decode --json capture.pcapng --port 2570
  upsilon monitor --rupsmon 127.0.0.1:2570 --heartbeat 127.0.0.1:11541 --sms-listen 127.0.0.1:8652 --json
  upsilon monitor --rupsmon 127.0.0.1:2570 --nut 3493 --http 9100 --webhook http://127.0.0.1:8080/ups
  upsilon ups --serial /dev/ttyUSB0 --json --nut 3493
  upsilon ups --serial /dev/ttyUSB0 shutdown --delay 0.5 --restore-after 2 --yes
  upsilon ups --usb --json      (USB \"MEC0003\" bridge; needs a build with --features usb)
  upsilon simulate rupsmon --listen 127.0.0.1:2570 --script outage --interval-ms 200
  upsilon simulate ups --pty

";

/// Decode, monitor and talk to a Megatec UPS and UPSilon 2000.
#[derive(Parser, Debug)]
#[command(name = "upsilon", version, about, after_help = format!("{AFTER_HELP}{EXIT_STATUS_HELP}"))]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Decode captured or piped traffic (pcap/pcapng, hex, raw).
    Decode(rewire_cli::decode::DecodeArgs),
    /// Watch UPSilon 2000: RupsMon's status stream, heartbeats, SMS alerts.
    Monitor(MonitorArgs),
    /// Talk Megatec to the UPS itself: a serial line (2400 8N1), or the USB "MEC0003" bridge.
    Ups(UpsArgs),
    /// Play RupsMon, UPSilon's heartbeat and SMS senders, or a Megatec UPS.
    Simulate {
        #[command(subcommand)]
        what: SimCmd,
    },
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Clone)]
struct OutputArgs {
    /// Write NDJSON instead of text lines.
    #[arg(long)]
    json: bool,
    /// Serve the NUT network protocol (read-only) on ADDR (`PORT` alone binds 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    nut: Option<String>,
    /// The UPS name NUT clients use.
    #[arg(long, default_value = "ups")]
    nut_name: String,
    /// Serve Prometheus metrics at http://ADDR/metrics (`PORT` alone binds 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// POST each event as JSON to this http:// URL.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Events the webhook queue holds before dropping the oldest.
    #[arg(long, default_value_t = 1000)]
    webhook_queue: usize,
    /// Longest wait between webhook retries, ms.
    #[arg(long, default_value_t = 30_000)]
    webhook_backoff_max_ms: u64,
    /// Also POST status and heartbeat records (default: events only).
    #[arg(long)]
    webhook_all: bool,
}

#[derive(Args, Debug)]
struct MonitorArgs {
    /// RupsMon's status stream (TCP, normally 127.0.0.1:2570).
    #[arg(long, value_name = "ADDR")]
    rupsmon: Option<String>,
    /// Receive UPSilon heartbeats on this UDP address (normally 127.0.0.1:11541).
    #[arg(long, value_name = "ADDR")]
    heartbeat: Option<String>,
    /// Stand in as the SMS gateway on this address (normally 127.0.0.1:8652).
    #[arg(long, value_name = "ADDR")]
    sms_listen: Option<String>,
    /// Longest wait between reconnect attempts, ms.
    #[arg(long, default_value_t = 5_000)]
    reconnect_max_ms: u64,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Args, Debug)]
struct UpsArgs {
    /// The serial device.
    #[arg(
        long,
        value_name = "DEV",
        required_unless_present = "usb",
        conflicts_with = "usb"
    )]
    serial: Option<String>,
    /// Use the USB "MEC0003" bridge (builds with the `usb` feature only; untested on hardware).
    #[arg(long)]
    usb: bool,
    /// USB vendor id of the bridge, hex [default: 0x0001].
    #[arg(long, value_name = "HEX")]
    vid: Option<String>,
    /// USB product id of the bridge, hex [default: 0x0000].
    #[arg(long, value_name = "HEX")]
    pid: Option<String>,
    /// Time between Q1 polls, ms.
    #[arg(long, default_value_t = 2_000)]
    interval_ms: u64,
    /// Stop after this many polls.
    #[arg(long)]
    count: Option<u64>,
    /// How long to wait for each answer, ms.
    #[arg(long, default_value_t = 1_000)]
    timeout_ms: u64,
    /// Send a state-changing command without asking.
    #[arg(long, global = true)]
    yes: bool,
    #[command(flatten)]
    out: OutputArgs,
    #[command(subcommand)]
    action: Option<UpsCmd>,
}

#[derive(Subcommand, Debug, Clone)]
enum UpsCmd {
    /// Battery test: 10 s, N minutes, or until the battery is low (--deep).
    Test {
        /// Test for N minutes (1–99).
        #[arg(long, conflicts_with = "deep")]
        minutes: Option<u8>,
        /// Test until the battery is low.
        #[arg(long)]
        deep: bool,
    },
    /// Toggle the beeper.
    BeeperToggle,
    /// Shut the output down after a delay.
    Shutdown {
        /// Delay in minutes: .2–.9 or 1–10.
        #[arg(long)]
        delay: String,
        /// Power back on after MIN minutes (0 = stay off); default: when the utility returns.
        #[arg(long, value_name = "MIN")]
        restore_after: Option<u16>,
    },
    /// Cancel a pending shutdown.
    CancelShutdown,
    /// Cancel a battery test.
    CancelTest,
}

#[derive(Subcommand, Debug)]
enum SimCmd {
    /// Play RupsMon's TCP status stream.
    Rupsmon {
        /// Where to listen (`PORT` alone binds 127.0.0.1).
        #[arg(long, default_value = "127.0.0.1:2570")]
        listen: String,
        /// Time between records, ms.
        #[arg(long, default_value_t = 1_000)]
        interval_ms: u64,
        /// What to play.
        #[arg(long, value_enum, default_value = "steady")]
        script: ScriptArg,
        /// Stop after this many records.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Send UPSilon heartbeats.
    Heartbeat {
        /// Where to (UDP).
        #[arg(long)]
        to: String,
        /// UPS number to report connected.
        #[arg(long, default_value_t = 0, conflicts_with = "disconnected")]
        ups: u16,
        /// Report "no UPS connected".
        #[arg(long)]
        disconnected: bool,
        /// Time between heartbeats, ms.
        #[arg(long, default_value_t = 1_000)]
        interval_ms: u64,
        /// Stop after this many.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Send one SMS alert request, as RupsMon does.
    Sms {
        /// The gateway (TCP).
        #[arg(long)]
        to: String,
        /// The phone number.
        #[arg(long, default_value = "0123456789")]
        recipient: String,
        /// The PC name that starts the content.
        #[arg(long, default_value = "DESKTOP-294DAYV")]
        host: String,
        /// The message.
        #[arg(long, default_value = "This is a test message!")]
        message: String,
        /// `$sms_code`.
        #[arg(long, default_value = "1")]
        code: String,
    },
    /// Play a Megatec UPS on a pseudo-terminal (prints its path).
    Ups {
        /// Create a pseudo-terminal (the only mode).
        #[arg(long, required = true)]
        pty: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScriptArg {
    /// Always on line.
    Steady,
    /// On line, utility failure, battery low, recovery, repeated.
    Outage,
}

/// Resolves a listen address: a bare port (or `:PORT`) binds 127.0.0.1.
fn listen_addr(text: &str) -> Result<SocketAddr> {
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    resolve(text)
}

/// Resolves `host:port` to its first address.
fn resolve(text: &str) -> Result<SocketAddr> {
    text.to_socket_addrs()
        .with_context(|| format!("bad address {text:?}"))?
        .next()
        .ok_or_else(|| anyhow!("{text:?} resolves to no address"))
}

/// Parses a shutdown delay in minutes: `.2`…`.9` (or `0.2`…) or `1`…`10`.
fn shutdown_delay(text: &str) -> Result<ShutdownDelay> {
    let bad = || anyhow!("bad delay {text:?}: use .2 to .9 or 1 to 10 minutes");
    match text.split_once('.') {
        Some((int, frac)) if (int.is_empty() || int == "0") && frac.len() == 1 => {
            let tenths: u8 = frac.parse().map_err(|_| bad())?;
            ShutdownDelay::from_tenths(tenths).map_err(|e| anyhow!("{e}").context(bad()))
        }
        Some((int, frac)) if frac.chars().all(|c| c == '0') => {
            let m: u8 = int.parse().map_err(|_| bad())?;
            ShutdownDelay::from_minutes(m).map_err(|e| anyhow!("{e}").context(bad()))
        }
        Some(_) => Err(bad()),
        None => {
            let m: u8 = text.parse().map_err(|_| bad())?;
            ShutdownDelay::from_minutes(m).map_err(|e| anyhow!("{e}").context(bad()))
        }
    }
}

/// Parses a USB vendor or product id: hex, with or without `0x` (as lsusb
/// prints them).
fn usb_id(text: &str) -> Result<u16> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 4 {
        bail!("bad USB id {text:?}: give 1 to 4 hex digits, like 0x0001");
    }
    u16::from_str_radix(digits, 16).map_err(|_| anyhow!("bad USB id {text:?}: not hex"))
}

/// Where `upsilon ups` talks to the UPS.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Device {
    /// A serial device path.
    Serial(String),
    /// The USB bridge with these ids.
    Usb { vid: u16, pid: u16 },
}

impl Device {
    /// Names the device in messages and as the link's peer.
    fn label(&self) -> String {
        match self {
            Device::Serial(path) => path.clone(),
            Device::Usb { vid, pid } => format!("usb {vid:04x}:{pid:04x}"),
        }
    }
}

/// Turns the `ups` flags into the device to open; `usb_built` tells whether
/// this build has the `usb` feature.
fn ups_device(a: &UpsArgs, usb_built: bool) -> Result<Device> {
    match (&a.serial, a.usb) {
        (Some(_), false) if a.vid.is_some() || a.pid.is_some() => {
            bail!("--vid and --pid go with --usb")
        }
        (Some(path), false) => Ok(Device::Serial(path.clone())),
        (None, true) if !usb_built => {
            bail!("built without the usb feature; rebuild with --features usb")
        }
        (None, true) => Ok(Device::Usb {
            vid: a
                .vid
                .as_deref()
                .map_or(Ok(VENDOR_ID), usb_id)
                .context("--vid")?,
            pid: a
                .pid
                .as_deref()
                .map_or(Ok(PRODUCT_ID), usb_id)
                .context("--pid")?,
        }),
        _ => bail!("give either --serial DEV or --usb"),
    }
}

/// Refuses, before anything is sent, a command the USB bridge has no
/// string-descriptor index for (the battery tests).
fn check_usb_command(cmd: &Command) -> Result<()> {
    if rewire_upsilon::usb::string_index(cmd).is_none() {
        bail!(
            "{cmd} cannot go over the USB MEC0003 bridge: it has no string-descriptor \
             index for it (use --serial)"
        );
    }
    Ok(())
}

/// Turns a `ups` subcommand into the Megatec command.
fn ups_command(action: &UpsCmd) -> Result<Command> {
    Ok(match action {
        UpsCmd::Test {
            minutes: Some(m), ..
        } => Command::TestFor(TestMinutes::new(*m).map_err(|e| anyhow!("--minutes: {e}"))?),
        UpsCmd::Test { deep: true, .. } => Command::TestUntilLow,
        UpsCmd::Test { .. } => Command::Test,
        UpsCmd::BeeperToggle => Command::ToggleBeeper,
        UpsCmd::Shutdown {
            delay,
            restore_after,
        } => Command::Shutdown {
            delay: shutdown_delay(delay)?,
            restore: restore_after
                .map(RestoreMinutes::new)
                .transpose()
                .map_err(|e| anyhow!("--restore-after: {e}"))?,
        },
        UpsCmd::CancelShutdown => Command::CancelShutdown,
        UpsCmd::CancelTest => Command::CancelTest,
    })
}

/// Says in words what a command does, for the confirmation prompt.
fn describe(cmd: &Command) -> String {
    match cmd {
        Command::Test => "run a 10-second battery test".into(),
        Command::TestUntilLow => "run a battery test until the battery is low".into(),
        Command::TestFor(m) => format!("run a {}-minute battery test", m.get()),
        Command::ToggleBeeper => "toggle the beeper".into(),
        Command::Shutdown { delay, restore } => {
            let back = match restore {
                None => "back on when the utility returns".into(),
                Some(r) if r.get() == 0 => "staying off".into(),
                Some(r) => format!("back on {} min later", r.get()),
            };
            format!("SHUT THE OUTPUT DOWN in {} s, {back}", delay.seconds())
        }
        Command::CancelShutdown => "cancel a pending shutdown".into(),
        Command::CancelTest => "cancel the battery test".into(),
        other => format!("send {other}"),
    }
}

/// Builds the output settings from the raw flags.
fn outputs(a: &OutputArgs, description: String, stale_after: Duration) -> Result<Outputs> {
    Ok(Outputs {
        format: Format::from_flag(a.json),
        nut: a.nut.as_deref().map(listen_addr).transpose()?,
        nut_config: NutConfig {
            ups_name: a.nut_name.clone(),
            description,
            stale_after,
        },
        http: a.http.as_deref().map(listen_addr).transpose()?,
        webhook: match &a.webhook {
            Some(url) if !url.starts_with("http://") => {
                bail!("--webhook {url:?}: only http:// URLs are supported")
            }
            Some(url) => Some(WebhookConfig {
                url: url.clone(),
                capacity: a.webhook_queue.max(1),
                backoff: Backoff {
                    initial: Duration::from_millis(200),
                    max: Duration::from_millis(a.webhook_backoff_max_ms.max(1)),
                    jitter: 0.2,
                },
                timeout: Duration::from_secs(5),
                all_records: a.webhook_all,
            }),
            None => None,
        },
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    rewire_cli::main_with("upsilon", || run(cli))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    match cli.command {
        Cmd::Completions { shell } => {
            rewire_cli::print_completions::<Cli>(shell)?;
        }
        Cmd::Decode(a) => {
            let mut sink = rewire_host::output::Sink::stdout(Format::from_flag(a.json), false);
            rewire_upsilon_cli::decode::run(&a, &mut sink)?;
        }
        Cmd::Monitor(a) => {
            if a.rupsmon.is_none() && a.heartbeat.is_none() && a.sms_listen.is_none() {
                bail!("give at least one of --rupsmon, --heartbeat, --sms-listen");
            }
            let config = MonitorConfig {
                rupsmon: a.rupsmon.clone(),
                heartbeat: a.heartbeat.as_deref().map(listen_addr).transpose()?,
                sms_listen: a.sms_listen.as_deref().map(listen_addr).transpose()?,
                backoff: Backoff {
                    initial: Duration::from_millis(200),
                    max: Duration::from_millis(a.reconnect_max_ms.max(1)),
                    jitter: 0.2,
                },
            };
            let out = outputs(
                &a.out,
                "UPSilon 2000 via rewire".into(),
                Duration::from_secs(15),
            )?;
            monitor::run(&config, &out, &stop)?;
        }
        Cmd::Ups(a) => return run_ups(&a, &stop),
        Cmd::Simulate { what } => run_sim(what, &stop)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn confirm(cmd: &Command, device: &str, yes: bool) -> Result<()> {
    let action = format!("{} on {device} (sends {cmd})", describe(cmd));
    rewire_cli::confirm("upsilon", &action, yes)
}

fn run_ups(a: &UpsArgs, stop: &Arc<AtomicBool>) -> Result<ExitCode> {
    let device = ups_device(a, cfg!(feature = "usb"))?;
    let label = device.label();
    let command = a.action.as_ref().map(ups_command).transpose()?;
    if let (Some(cmd), Device::Usb { .. }) = (&command, &device) {
        check_usb_command(cmd)?;
    }
    if let Some(cmd) = &command {
        confirm(cmd, &label, a.yes)?;
    }
    let timeout = Duration::from_millis(a.timeout_ms.max(1));
    match device {
        Device::Serial(path) => {
            let settings = SerialSettings::MEGATEC.with_read_timeout(Duration::from_millis(50));
            let port = open_serial(&path, &settings)?;
            let ups = Ups::new(port, &path, timeout, 3);
            drive(ups, a, &label, command, stop)
        }
        Device::Usb { vid, pid } => run_usb(vid, pid, timeout, a, &label, command, stop),
    }
}

#[cfg(feature = "usb")]
fn run_usb(
    vid: u16,
    pid: u16,
    timeout: Duration,
    a: &UpsArgs,
    label: &str,
    command: Option<Command>,
    stop: &Arc<AtomicBool>,
) -> Result<ExitCode> {
    use rewire_upsilon_cli::usb::{Libusb, UsbChannel};
    let source = Libusb::open(vid, pid, timeout)?;
    eprintln!("upsilon: opened {}", source.name());
    drive(
        Ups::with_channel(UsbChannel::new(source, 3)),
        a,
        label,
        command,
        stop,
    )
}

#[cfg(not(feature = "usb"))]
fn run_usb(
    _vid: u16,
    _pid: u16,
    _timeout: Duration,
    _a: &UpsArgs,
    _label: &str,
    _command: Option<Command>,
    _stop: &Arc<AtomicBool>,
) -> Result<ExitCode> {
    bail!("built without the usb feature; rebuild with --features usb")
}

/// Polls, or sends `command` and confirms it, over any channel.
fn drive<C: Channel>(
    mut ups: Ups<C>,
    a: &UpsArgs,
    label: &str,
    command: Option<Command>,
    stop: &Arc<AtomicBool>,
) -> Result<ExitCode> {
    let interval = Duration::from_millis(a.interval_ms.max(1));
    let out = outputs(
        &a.out,
        format!("Megatec UPS on {label}"),
        (interval * 5).max(Duration::from_secs(10)),
    )?;
    let mut publisher = monitor::start_outputs(&out, stop)?;
    let Some(cmd) = command else {
        ups::poll(&mut ups, label, interval, a.count, &mut publisher, stop)?;
        return Ok(ExitCode::SUCCESS);
    };
    match ups::command(&mut ups, &cmd, &Confirm::default())
        .with_context(|| format!("{label}: {cmd}"))?
    {
        CommandOutcome::Confirmed(r) => {
            publisher.publish(r)?;
            eprintln!(
                "upsilon: {cmd} sent to {label}: {} (confirmed by Q1)",
                describe(&cmd)
            );
            Ok(ExitCode::SUCCESS)
        }
        CommandOutcome::NoAnswer => {
            Err(Exit::new(exit::NO_ANSWER, format!("{label}: no answer to Q1")).into())
        }
        CommandOutcome::Refused => {
            Err(Exit::new(exit::NEGATIVE, format!("{label}: the UPS refused {cmd}")).into())
        }
        CommandOutcome::Unconfirmed => Err(Exit::new(
            exit::NEGATIVE,
            format!("{label}: {cmd} sent, but the status bits do not show its effect"),
        )
        .into()),
    }
}

fn run_sim(what: SimCmd, stop: &Arc<AtomicBool>) -> Result<()> {
    match what {
        SimCmd::Rupsmon {
            listen,
            interval_ms,
            script,
            count,
        } => {
            let config = RupsmonConfig {
                listen: listen_addr(&listen)?,
                interval: Duration::from_millis(interval_ms.max(1)),
                script: match script {
                    ScriptArg::Steady => Script::Steady,
                    ScriptArg::Outage => Script::Outage,
                },
                count,
            };
            sim::run_rupsmon(&config, stop, |a| {
                println!("listening on {a}");
                let _ = io::stdout().flush();
            })?;
        }
        SimCmd::Heartbeat {
            to,
            ups,
            disconnected,
            interval_ms,
            count,
        } => {
            let n = sim::run_heartbeat(
                resolve(&to)?,
                (!disconnected).then_some(ups),
                Duration::from_millis(interval_ms),
                count,
            )?;
            eprintln!("upsilon: sent {n} heartbeat(s) to {to}");
        }
        SimCmd::Sms {
            to,
            recipient,
            host,
            message,
            code,
        } => {
            let req = sim::sms_request(&recipient, &host, &message, &code);
            let line = sim::run_sms(resolve(&to)?, &req, Duration::from_secs(5))?;
            println!("{line}");
            if !line.contains(" 200") {
                return Err(Exit::new(exit::NEGATIVE, format!("{to} answered {line:?}")).into());
            }
        }
        SimCmd::Ups { pty: _ } => {
            let (mut master, slave) = serialport::TTYPort::pair().context("creating a pty")?;
            let path = slave.name().ok_or_else(|| anyhow!("the pty has no path"))?;
            use serialport::SerialPort;
            master.set_timeout(Duration::from_millis(100))?;
            println!("{path}");
            io::stdout().flush()?;
            let mut ups = SimUps::new();
            // Keep the slave open: a pty whose slave is closed reports hang-ups.
            let _slave = slave;
            sim::serve_ups(&mut master, &mut ups, stop, |cmd, answered| {
                eprintln!(
                    "upsilon: sim ups got {cmd:?}{}",
                    if answered { " (answered)" } else { "" }
                );
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_default_to_loopback() {
        assert_eq!(
            listen_addr("3493").unwrap(),
            "127.0.0.1:3493".parse().unwrap()
        );
        assert_eq!(
            listen_addr(":9100").unwrap(),
            "127.0.0.1:9100".parse().unwrap()
        );
        assert_eq!(
            listen_addr("0.0.0.0:3493").unwrap(),
            "0.0.0.0:3493".parse().unwrap()
        );
        assert!(listen_addr("nope").is_err());
    }

    #[test]
    fn delays_parse_in_minutes() {
        assert_eq!(shutdown_delay("0.5").unwrap().tenths(), 5);
        assert_eq!(shutdown_delay(".2").unwrap().tenths(), 2);
        assert_eq!(shutdown_delay("3").unwrap().tenths(), 30);
        assert_eq!(shutdown_delay("10.0").unwrap().tenths(), 100);
        for bad in [".1", "0.25", "11", "x", "1.5", ""] {
            assert!(shutdown_delay(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ups_actions_map_to_commands() {
        let cmd = |a: UpsCmd| ups_command(&a).unwrap().to_string();
        assert_eq!(
            cmd(UpsCmd::Test {
                minutes: None,
                deep: false
            }),
            "T"
        );
        assert_eq!(
            cmd(UpsCmd::Test {
                minutes: Some(5),
                deep: false
            }),
            "T05"
        );
        assert_eq!(
            cmd(UpsCmd::Test {
                minutes: None,
                deep: true
            }),
            "TL"
        );
        assert_eq!(cmd(UpsCmd::BeeperToggle), "Q");
        assert_eq!(
            cmd(UpsCmd::Shutdown {
                delay: "0.5".into(),
                restore_after: Some(2)
            }),
            "S.5R0002"
        );
        assert_eq!(
            cmd(UpsCmd::Shutdown {
                delay: "2".into(),
                restore_after: None
            }),
            "S02"
        );
        assert_eq!(cmd(UpsCmd::CancelShutdown), "C");
        assert_eq!(cmd(UpsCmd::CancelTest), "CT");
        assert!(
            ups_command(&UpsCmd::Test {
                minutes: Some(0),
                deep: false
            })
            .is_err()
        );
        assert!(
            ups_command(&UpsCmd::Shutdown {
                delay: "1".into(),
                restore_after: Some(10_000)
            })
            .is_err()
        );
    }

    #[test]
    fn outputs_reject_https_webhooks_and_default_to_loopback() {
        let mut a = OutputArgs {
            json: true,
            nut: Some("3493".into()),
            nut_name: "ups".into(),
            http: None,
            webhook: Some("https://example.invalid/".into()),
            webhook_queue: 10,
            webhook_backoff_max_ms: 1000,
            webhook_all: false,
        };
        assert!(outputs(&a, String::new(), Duration::from_secs(1)).is_err());
        a.webhook = Some("http://127.0.0.1:1/x".into());
        let o = outputs(&a, String::new(), Duration::from_secs(1)).unwrap();
        assert_eq!(o.nut, Some("127.0.0.1:3493".parse().unwrap()));
        assert_eq!(o.webhook.unwrap().capacity, 10);
        assert_eq!(o.format, Format::Json);
    }

    fn ups_args(args: &[&str]) -> Result<UpsArgs, clap::Error> {
        let cli = Cli::try_parse_from([&["upsilon", "ups"][..], args].concat())?;
        match cli.command {
            Cmd::Ups(a) => Ok(a),
            _ => unreachable!("parsed `ups`"),
        }
    }

    #[test]
    fn usb_ids_are_hex_with_or_without_0x() {
        assert_eq!(usb_id("0x0001").unwrap(), 1);
        assert_eq!(usb_id("0X0665").unwrap(), 0x0665);
        assert_eq!(usb_id("ffff").unwrap(), 0xFFFF);
        assert_eq!(usb_id("0").unwrap(), 0);
        for bad in ["", "0x", "0x10000", "12345", "0xg1", "-1", "0x-1"] {
            assert!(usb_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ups_flags_pick_serial_or_usb() {
        let a = ups_args(&["--serial", "/dev/ttyUSB0"]).unwrap();
        assert_eq!(
            ups_device(&a, true).unwrap(),
            Device::Serial("/dev/ttyUSB0".into())
        );
        let a = ups_args(&["--usb"]).unwrap();
        let usb = ups_device(&a, true).unwrap();
        assert_eq!(usb, Device::Usb { vid: 1, pid: 0 });
        assert_eq!(usb.label(), "usb 0001:0000");
        let a = ups_args(&["--usb", "--vid", "0665", "--pid", "0x5161"]).unwrap();
        assert_eq!(
            ups_device(&a, true).unwrap(),
            Device::Usb {
                vid: 0x0665,
                pid: 0x5161
            }
        );
        let a = ups_args(&["--usb", "--vid", "xyz"]).unwrap();
        assert!(ups_device(&a, true).is_err());
        assert!(ups_args(&[]).is_err(), "one of --serial/--usb is required");
        assert!(ups_args(&["--serial", "/dev/x", "--usb"]).is_err());
        let a = ups_args(&["--serial", "/dev/x", "--vid", "1"]).unwrap();
        let err = ups_device(&a, true).unwrap_err().to_string();
        assert_eq!(err, "--vid and --pid go with --usb");
    }

    #[test]
    fn usb_without_the_feature_is_a_clear_error() {
        let a = ups_args(&["--usb"]).unwrap();
        let err = ups_device(&a, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "built without the usb feature; rebuild with --features usb"
        );
        let a = ups_args(&["--serial", "/dev/x"]).unwrap();
        assert!(ups_device(&a, false).is_ok());
    }

    #[test]
    fn battery_tests_are_refused_for_usb_before_sending() {
        for ok in ["Q", "C", "S.5", "S03R0000"] {
            let cmd = rewire_upsilon::parse_command(ok.as_bytes()).unwrap();
            assert!(check_usb_command(&cmd).is_ok(), "{ok}");
        }
        for refused in ["T", "TL", "T05", "CT"] {
            let cmd = rewire_upsilon::parse_command(refused.as_bytes()).unwrap();
            let err = check_usb_command(&cmd).unwrap_err().to_string();
            assert!(
                err.starts_with(refused) && err.contains("--serial"),
                "{err}"
            );
        }
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
