//! The flags of `upsilon` (clap) and their conversion into the library's
//! configurations, by pure functions tested here.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rewire_cli::EXIT_STATUS_HELP;
use rewire_cli::value::{baud, duration, listen_addr, socket_addr, target};
use rewire_host::output::Format;
use rewire_transport::link::Backoff;
use rewire_upsilon::usb::{PRODUCT_ID, VENDOR_ID};
use rewire_upsilon::{Command, RestoreMinutes, ShutdownDelay, TestMinutes};
use rewire_upsilon_host::monitor::{MonitorConfig, Outputs};
use rewire_upsilon_host::nut::NutConfig;
use rewire_upsilon_host::sim::Script;
use rewire_upsilon_host::webhook::WebhookConfig;

const AFTER_HELP: &str = "Examples:
  upsilon decode testdata/upsilon/upsilon-lo.pcap
  upsilon decode --json capture.pcapng --port 2570
  upsilon decode --hex \"28 32 33 30 2e 30 20 32 33 30 2e 30 20 32 33 30 2e 30 20 30 31 32 20 35 30 2e 30 20 32 37 2e 32 20 2d 2d 2e 2d 20 30 30 30 30 31 30 30 30 0d\"
  upsilon monitor --rupsmon 127.0.0.1:2570 --heartbeat 11541 --sms-listen 8652 --json
  upsilon monitor --rupsmon 127.0.0.1:2570 --nut 3493 --http 9100 --webhook http://127.0.0.1:8080/ups
  upsilon ups --serial /dev/ttyUSB0 --json --nut 3493
  upsilon ups --serial /dev/ttyUSB0 shutdown --delay 0.5 --restore-after 2 --yes
  upsilon ups --usb --json      (USB \"MEC0003\" bridge; needs a build with --features usb)
  upsilon simulate rupsmon --listen 2570 --script outage --interval 200ms
  upsilon simulate ups --pty

Durations take a unit (250ms, 2s, 5m); a bare PORT for a listen address means 127.0.0.1:PORT.

";

/// Decode, monitor and talk to a Megatec UPS and UPSilon 2000.
#[derive(Parser, Debug)]
#[command(name = "upsilon", version, about, after_help = format!("{AFTER_HELP}{EXIT_STATUS_HELP}"))]
pub struct Cli {
    /// Say more (debug diagnostics).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Say less (warnings and errors only).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

impl Cli {
    /// Returns the log level the flags ask for.
    #[must_use]
    pub fn log_level(&self) -> log::LevelFilter {
        if self.verbose {
            log::LevelFilter::Debug
        } else if self.quiet {
            log::LevelFilter::Warn
        } else {
            log::LevelFilter::Info
        }
    }
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Decode captured or piped traffic (pcap/pcapng, hex, raw).
    Decode(rewire_cli::decode::DecodeArgs),
    /// Watch UPSilon 2000: RupsMon's status stream, heartbeats, SMS alerts.
    Monitor(MonitorArgs),
    /// Talk Megatec to the UPS itself: a serial line (2400 8N1), or the USB "MEC0003" bridge.
    Ups(UpsArgs),
    /// Play RupsMon, UPSilon's heartbeat and SMS senders, or a Megatec UPS.
    Simulate {
        /// What to play.
        #[command(subcommand)]
        what: SimCmd,
    },
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The outputs every live mode offers.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write NDJSON instead of text lines.
    #[arg(long, global = true)]
    pub json: bool,
    /// Serve the NUT network protocol (read-only) on ADDR (`PORT` alone binds 127.0.0.1).
    #[arg(long, value_name = "ADDR", value_parser = listen_addr, global = true)]
    pub nut: Option<SocketAddr>,
    /// The UPS name NUT clients use.
    #[arg(long, default_value = "ups", global = true)]
    pub nut_name: String,
    /// Serve Prometheus metrics at http://ADDR/metrics (`PORT` alone binds 127.0.0.1).
    #[arg(long, value_name = "ADDR", value_parser = listen_addr, global = true)]
    pub http: Option<SocketAddr>,
    /// POST each event as JSON to this http:// URL.
    #[arg(long, value_name = "URL", value_parser = webhook_url, global = true)]
    pub webhook: Option<String>,
    /// Events of each priority the webhook queue holds before dropping new ones.
    #[arg(long, default_value_t = 1000, global = true)]
    pub webhook_queue: usize,
    /// Longest wait between webhook retries.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration, global = true)]
    pub webhook_backoff_max: Duration,
    /// Also POST status and heartbeat records (default: events only).
    #[arg(long, global = true)]
    pub webhook_all: bool,
}

/// `upsilon monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// RupsMon's status stream (TCP, normally 127.0.0.1:2570).
    #[arg(long, value_name = "HOST:PORT", value_parser = target)]
    pub rupsmon: Option<String>,
    /// Receive UPSilon heartbeats on this UDP address (normally 127.0.0.1:11541).
    #[arg(long, value_name = "ADDR", value_parser = listen_addr)]
    pub heartbeat: Option<SocketAddr>,
    /// Stand in as the SMS gateway on this address (normally 127.0.0.1:8652).
    #[arg(long, value_name = "ADDR", value_parser = listen_addr)]
    pub sms_listen: Option<SocketAddr>,
    /// Longest wait between reconnect attempts.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    pub reconnect_max: Duration,
    /// The outputs.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `upsilon ups`: its options are accepted before or after the action.
#[derive(Args, Debug)]
pub struct UpsArgs {
    /// The serial device.
    #[arg(long, value_name = "DEV", conflicts_with = "usb", global = true)]
    pub serial: Option<String>,
    /// Serial speed.
    #[arg(long, default_value = "2400", value_parser = baud, global = true)]
    pub baud: u32,
    /// Use the USB "MEC0003" bridge (builds with the `usb` feature only; untested on hardware).
    #[arg(long, global = true)]
    pub usb: bool,
    /// USB vendor id of the bridge, hex [default: 0x0001].
    #[arg(long, value_name = "HEX", value_parser = usb_id, global = true)]
    pub vid: Option<u16>,
    /// USB product id of the bridge, hex [default: 0x0000].
    #[arg(long, value_name = "HEX", value_parser = usb_id, global = true)]
    pub pid: Option<u16>,
    /// Time between Q1 polls.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration, global = true)]
    pub interval: Duration,
    /// Stop after this many polls.
    #[arg(long, global = true)]
    pub count: Option<u64>,
    /// How long to wait for each answer.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration, global = true)]
    pub timeout: Duration,
    /// Send a state-changing command without asking.
    #[arg(long, global = true)]
    pub yes: bool,
    /// The outputs.
    #[command(flatten)]
    pub out: OutputArgs,
    /// A command to send instead of polling.
    #[command(subcommand)]
    pub action: Option<UpsCmd>,
}

/// The commands `upsilon ups` sends.
#[derive(Subcommand, Debug, Clone)]
pub enum UpsCmd {
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
        #[arg(long, value_parser = shutdown_delay)]
        delay: ShutdownDelay,
        /// Power back on after MIN minutes (0 = stay off); default: when the utility returns.
        #[arg(long, value_name = "MIN")]
        restore_after: Option<u16>,
    },
    /// Cancel a pending shutdown.
    CancelShutdown,
    /// Cancel a battery test.
    CancelTest,
}

/// The simulators.
#[derive(Subcommand, Debug)]
pub enum SimCmd {
    /// Play RupsMon's TCP status stream to the clients that connect.
    Rupsmon {
        /// Where to listen (`PORT` alone binds 127.0.0.1).
        #[arg(long, default_value = "127.0.0.1:2570", value_parser = listen_addr)]
        listen: SocketAddr,
        /// Time between records.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
        interval: Duration,
        /// What to play.
        #[arg(long, value_enum, default_value = "steady")]
        script: ScriptArg,
        /// Stop after this many records sent to a client.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Send UPSilon heartbeats.
    Heartbeat {
        /// Where to (UDP, HOST:PORT).
        #[arg(long, value_parser = socket_addr)]
        to: SocketAddr,
        /// UPS number to report connected.
        #[arg(long, default_value_t = 0, conflicts_with = "disconnected")]
        ups: u16,
        /// Report "no UPS connected".
        #[arg(long)]
        disconnected: bool,
        /// Time between heartbeats.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
        interval: Duration,
        /// Stop after this many.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Send one SMS alert request, as RupsMon does.
    Sms {
        /// The gateway (TCP, HOST:PORT).
        #[arg(long, value_parser = socket_addr)]
        to: SocketAddr,
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

/// The scripts `simulate rupsmon` plays.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScriptArg {
    /// Always on line.
    Steady,
    /// On line, utility failure, battery low, recovery, repeated.
    Outage,
}

impl From<ScriptArg> for Script {
    fn from(s: ScriptArg) -> Self {
        match s {
            ScriptArg::Steady => Script::Steady,
            ScriptArg::Outage => Script::Outage,
        }
    }
}

/// Parses a shutdown delay in minutes: `.2`…`.9` (or `0.2`…) or `1`…`10`.
///
/// # Errors
/// Says the accepted range in minutes.
pub fn shutdown_delay(text: &str) -> Result<ShutdownDelay, String> {
    let range = "use .2 to .9 or 1 to 10 minutes";
    let out_of_range = || format!("shutdown delay {text} min is out of range: {range}");
    let not_a_number = || format!("shutdown delay {text:?} is not a number of minutes: {range}");
    let minutes = |m: &str| m.parse::<u8>().map_err(|_| not_a_number());
    match text.split_once('.') {
        Some((int, frac)) if (int.is_empty() || int == "0") && frac.len() == 1 => {
            ShutdownDelay::from_tenths(minutes(frac)?).map_err(|_| out_of_range())
        }
        Some((int, frac)) if !frac.is_empty() && frac.chars().all(|c| c == '0') => {
            ShutdownDelay::from_minutes(minutes(int)?).map_err(|_| out_of_range())
        }
        Some((int, frac)) if int.parse::<u8>().is_ok() && frac.parse::<u32>().is_ok() => {
            Err(out_of_range())
        }
        Some(_) => Err(not_a_number()),
        None => ShutdownDelay::from_minutes(minutes(text)?).map_err(|_| out_of_range()),
    }
}

/// Parses a USB vendor or product id: hex, with or without `0x` (as lsusb
/// prints them).
///
/// # Errors
/// Names the text.
pub fn usb_id(text: &str) -> Result<u16, String> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 4 {
        return Err(format!(
            "bad USB id {text:?}: give 1 to 4 hex digits, like 0x0001"
        ));
    }
    u16::from_str_radix(digits, 16).map_err(|_| format!("bad USB id {text:?}: not hex"))
}

/// Checks a webhook URL: `http://HOST[:PORT]/…` with a valid port.
///
/// # Errors
/// Names the URL and what is wrong.
pub fn webhook_url(text: &str) -> Result<String, String> {
    let Some(rest) = text.strip_prefix("http://") else {
        return Err(format!("{text:?}: only http:// URLs are supported"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
                return Err(format!(
                    "{text:?}: the port must be a number from 1 to 65535"
                ));
            }
            host
        }
        _ => authority,
    };
    if host.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    Ok(text.to_owned())
}

/// Where `upsilon ups` talks to the UPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// A serial device path.
    Serial(String),
    /// The USB bridge with these ids.
    Usb {
        /// Vendor id.
        vid: u16,
        /// Product id.
        pid: u16,
    },
}

impl Device {
    /// Names the device in messages and as the link's peer.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Device::Serial(path) => path.clone(),
            Device::Usb { vid, pid } => format!("usb {vid:04x}:{pid:04x}"),
        }
    }
}

/// Turns the `ups` flags into the device to open; `usb_built` tells whether
/// this build has the `usb` feature.
///
/// # Errors
/// When neither or both are given, or USB is asked of a build without it.
pub fn ups_device(a: &UpsArgs, usb_built: bool) -> Result<Device> {
    match (&a.serial, a.usb) {
        (Some(_), false) if a.vid.is_some() || a.pid.is_some() => {
            bail!("--vid and --pid go with --usb")
        }
        (Some(path), false) => Ok(Device::Serial(path.clone())),
        (None, true) if !usb_built => {
            bail!("built without the usb feature; rebuild with --features usb")
        }
        (None, true) => Ok(Device::Usb {
            vid: a.vid.unwrap_or(VENDOR_ID),
            pid: a.pid.unwrap_or(PRODUCT_ID),
        }),
        _ => bail!("give either --serial DEV or --usb"),
    }
}

/// Refuses, before anything is sent, a command the USB bridge has no
/// string-descriptor index for (the battery tests).
///
/// # Errors
/// For those commands, saying to use `--serial`.
pub fn check_usb_command(cmd: &Command) -> Result<()> {
    if rewire_upsilon::usb::string_index(cmd).is_none() {
        bail!(
            "{cmd} cannot go over the USB MEC0003 bridge: it has no string-descriptor \
             index for it (use --serial)"
        );
    }
    Ok(())
}

/// Turns a `ups` subcommand into the Megatec command.
///
/// # Errors
/// When a number is out of the command's range.
pub fn ups_command(action: &UpsCmd) -> Result<Command> {
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
            delay: *delay,
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
#[must_use]
pub fn describe(cmd: &Command) -> String {
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

/// A reconnect or retry backoff from 200 ms up to `max`.
#[must_use]
pub fn backoff(max: Duration) -> Backoff {
    Backoff {
        initial: Duration::from_millis(200).min(max),
        max,
        jitter: 0.2,
    }
}

/// Returns the record format the flags ask for.
#[must_use]
pub fn format(a: &OutputArgs) -> Format {
    Format::from_flag(a.json)
}

/// Builds the output settings from the raw flags.
#[must_use]
pub fn outputs(a: &OutputArgs, description: String, stale_after: Duration) -> Outputs {
    Outputs {
        nut: a.nut,
        nut_config: NutConfig::new(a.nut_name.clone(), description, stale_after),
        http: a.http,
        webhook: a.webhook.as_ref().map(|url| WebhookConfig {
            url: url.clone(),
            capacity: a.webhook_queue.max(1),
            backoff: backoff(a.webhook_backoff_max),
            timeout: Duration::from_secs(5),
            all_records: a.webhook_all,
        }),
    }
}

/// Builds the monitor's settings.
///
/// # Errors
/// When no source is given.
pub fn monitor_config(a: &MonitorArgs) -> Result<MonitorConfig> {
    if a.rupsmon.is_none() && a.heartbeat.is_none() && a.sms_listen.is_none() {
        bail!("give at least one of --rupsmon, --heartbeat, --sms-listen");
    }
    Ok(MonitorConfig {
        rupsmon: a.rupsmon.clone(),
        heartbeat: a.heartbeat,
        sms_listen: a.sms_listen,
        backoff: backoff(a.reconnect_max),
    })
}

/// How long `ups` polling data stays fresh for NUT: five intervals, at
/// least 10 s.
#[must_use]
pub fn ups_stale_after(interval: Duration) -> Duration {
    (interval * 5).max(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from([&["upsilon"][..], args].concat())
    }

    fn ups_args(args: &[&str]) -> Result<UpsArgs, clap::Error> {
        match parse(&[&["ups"][..], args].concat())?.command {
            Cmd::Ups(a) => Ok(a),
            _ => unreachable!("parsed `ups`"),
        }
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        assert_eq!(Cli::command().get_name(), "upsilon");
    }

    #[test]
    fn delays_parse_in_minutes_and_say_minutes_when_out_of_range() {
        assert_eq!(shutdown_delay("0.5").unwrap().tenths(), 5);
        assert_eq!(shutdown_delay(".2").unwrap().tenths(), 2);
        assert_eq!(shutdown_delay("3").unwrap().tenths(), 30);
        assert_eq!(shutdown_delay("10.0").unwrap().tenths(), 100);
        for bad in [".1", "0.25", "11", "x", "1.5", ""] {
            assert!(shutdown_delay(bad).is_err(), "{bad}");
        }
        assert_eq!(
            shutdown_delay("0.1").unwrap_err(),
            "shutdown delay 0.1 min is out of range: use .2 to .9 or 1 to 10 minutes"
        );
        assert_eq!(
            shutdown_delay("11").unwrap_err(),
            "shutdown delay 11 min is out of range: use .2 to .9 or 1 to 10 minutes"
        );
        assert!(!shutdown_delay(".1").unwrap_err().contains("2..=9"));
        assert!(shutdown_delay("x").unwrap_err().contains("not a number"));
    }

    #[test]
    fn ups_actions_map_to_commands() {
        let cmd = |a: UpsCmd| ups_command(&a).unwrap().to_string();
        let delay = |t| shutdown_delay(t).unwrap();
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
                delay: delay("0.5"),
                restore_after: Some(2)
            }),
            "S.5R0002"
        );
        assert_eq!(
            cmd(UpsCmd::Shutdown {
                delay: delay("2"),
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
                delay: delay("1"),
                restore_after: Some(10_000)
            })
            .is_err()
        );
    }

    #[test]
    fn outputs_reject_https_webhooks_and_default_to_loopback() {
        assert!(parse(&["monitor", "--rupsmon", "h:1", "--webhook", "https://x/"]).is_err());
        assert!(
            parse(&[
                "monitor",
                "--rupsmon",
                "h:1",
                "--webhook",
                "http://127.0.0.1:99999/"
            ])
            .is_err()
        );
        let Cmd::Monitor(a) = parse(&[
            "monitor",
            "--rupsmon",
            "h:1",
            "--nut",
            "3493",
            "--json",
            "--webhook",
            "http://127.0.0.1:1/x",
            "--webhook-queue",
            "10",
            "--webhook-backoff-max",
            "1s",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        let o = outputs(&a.out, String::new(), Duration::from_secs(1));
        assert_eq!(o.nut, Some("127.0.0.1:3493".parse().unwrap()));
        let hook = o.webhook.unwrap();
        assert_eq!(hook.capacity, 10);
        assert_eq!(hook.backoff.max, Duration::from_secs(1));
        assert_eq!(format(&a.out), Format::Json);
    }

    #[test]
    fn bad_targets_baud_rates_and_bare_numbers_are_refused_at_parsing() {
        // A target that could never connect is refused, not retried for ever.
        let err = parse(&["monitor", "--rupsmon", "foo:bar"]).unwrap_err();
        assert!(err.to_string().contains("port must be"), "{err}");
        for b in ["0", "4294967295"] {
            assert!(
                ups_args(&["--serial", "/dev/x", "--baud", b]).is_err(),
                "{b}"
            );
        }
        assert_eq!(ups_args(&["--serial", "/dev/x"]).unwrap().baud, 2400);
        // Durations carry units.
        assert!(ups_args(&["--serial", "/dev/x", "--interval", "150"]).is_err());
        assert_eq!(
            ups_args(&["--serial", "/dev/x", "--interval", "150ms"])
                .unwrap()
                .interval,
            Duration::from_millis(150)
        );
        let Cmd::Monitor(a) = parse(&[
            "monitor",
            "--heartbeat",
            "11541",
            "--reconnect-max",
            "300ms",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(a.heartbeat, Some("127.0.0.1:11541".parse().unwrap()));
        assert_eq!(
            monitor_config(&a).unwrap().backoff.max,
            Duration::from_millis(300)
        );
    }

    #[test]
    fn ups_options_go_before_or_after_the_action_and_verbosity_is_global() {
        let a = ups_args(&["--serial", "/dev/x", "beeper-toggle", "--yes", "--json"]).unwrap();
        assert!(a.yes && a.out.json);
        let a = ups_args(&["beeper-toggle", "--serial", "/dev/x", "--timeout", "500ms"]).unwrap();
        assert_eq!(a.serial.as_deref(), Some("/dev/x"));
        assert_eq!(a.timeout, Duration::from_millis(500));
        assert_eq!(
            parse(&["-v", "decode"]).unwrap().log_level(),
            log::LevelFilter::Debug
        );
        assert_eq!(
            parse(&["decode", "-q"]).unwrap().log_level(),
            log::LevelFilter::Warn
        );
        assert!(parse(&["-v", "-q", "decode"]).is_err());
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
        assert!(ups_args(&["--usb", "--vid", "xyz"]).is_err());
        let a = ups_args(&[]).unwrap();
        assert!(
            ups_device(&a, true).is_err(),
            "one of --serial/--usb is required"
        );
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
}
