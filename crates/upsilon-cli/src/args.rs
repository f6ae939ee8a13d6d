//! The flags of `upsilon` (clap) and their conversion into the library's
//! configurations, by pure functions tested here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rewire_cli::EXIT_STATUS_HELP;
use rewire_cli::value::{baud, duration, listen_addr, serial_port, socket_addr, target};
use rewire_host::output::Format;
use rewire_transport::link::Backoff;
use rewire_upsilon::usb::{PRODUCT_ID, VENDOR_ID};
use rewire_upsilon::{Command, Decimal, RestoreMinutes, ShutdownDelay, TestMinutes};
use rewire_upsilon_host::battery::{BatteryConfig, Runtimecal};
use rewire_upsilon_host::hub::Identity;
use rewire_upsilon_host::monitor::{MonitorConfig, Outputs};
use rewire_upsilon_host::nut::NutConfig;
use rewire_upsilon_host::sim::Script;
use rewire_upsilon_host::users::Users;
use rewire_upsilon_host::webhook::WebhookConfig;

const AFTER_HELP: &str = "Examples:
  upsilon decode testdata/upsilon/upsilon-lo.pcap
  upsilon decode --json capture.pcapng --port 2570
  upsilon decode --hex \"28 32 33 30 2e 30 20 32 33 30 2e 30 20 32 33 30 2e 30 20 30 31 32 20 35 30 2e 30 20 32 37 2e 32 20 2d 2d 2e 2d 20 30 30 30 30 31 30 30 30 0d\"
  upsilon monitor --rupsmon 127.0.0.1:2570 --heartbeat 11541 --sms-listen 8652 --json
  upsilon monitor --rupsmon 127.0.0.1:2570 --nut 3493 --http 9100 --webhook http://127.0.0.1:8080/ups
  upsilon ups --serial /dev/ttyUSB0 --json --nut 3493 --nut-users upsd.users --runtimecal 240,100,720,50
  upsilon ups --tcp 192.0.2.7:4001 --nut 3493      (Megatec through a serial server such as ser2net)
  upsilon monitor --rupsmon 127.0.0.1:2570 --nut 3493 --battery-voltage-nominal 24
  upsilon ups --serial /dev/ttyUSB0 shutdown --delay 0.5 --restore-after 2 --yes
  upsilon ups --usb --json      (USB \"MEC0003\" bridge; needs a build with --features usb)
  upsilon simulate rupsmon --listen 2570 --script outage --interval 200ms
  upsilon simulate ups --pty
  upsilon simulate ups --tcp 4001 --battery-voltage 2.28

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
    /// Draw readings from a capture over time as an SVG (e.g. --reading input_voltage --reading load -o ups.svg).
    Plot(rewire_cli::plot::PlotArgs),
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
    /// Run `monitor` as a Windows service: `service install -- monitor FLAGS…`, `service uninstall`.
    #[command(subcommand)]
    Service(rewire_cli::service::ServiceCmd),
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
    /// Serve the NUT network protocol on ADDR (`PORT` alone binds 127.0.0.1); `ups` mode also
    /// takes INSTCMD/SET from --nut-users; beside UPSilon (`monitor`) it lists no commands.
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
    /// Close a NUT connection that sends no command for this long.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration, global = true)]
    pub nut_idle_timeout: Duration,
    /// Clients each server (NUT, SMS gateway) serves at once; more are closed on accept.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..), global = true)]
    pub max_clients: u16,
    /// NUT users in upsd.users form (`[name]`, password, instcmds, actions = SET, upsmon primary);
    /// without it every NUT write (INSTCMD, SET, PRIMARY, FSD) answers ERR ACCESS-DENIED.
    #[arg(long, value_name = "FILE", global = true)]
    pub nut_users: Option<PathBuf>,
    /// Battery pack voltage at 100 % charge (NUT's battery.voltage.high) [default: 130 × nominal / 120].
    #[arg(long, value_name = "VOLTS", value_parser = positive, global = true)]
    pub battery_voltage_high: Option<f64>,
    /// Battery pack voltage at 0 % charge (NUT's battery.voltage.low) [default: 104 × nominal / 120].
    #[arg(long, value_name = "VOLTS", value_parser = positive, global = true)]
    pub battery_voltage_low: Option<f64>,
    /// Nominal battery voltage (NUT's battery.voltage.nominal); `ups` takes it from the F reply otherwise.
    #[arg(long, value_name = "VOLTS", value_parser = positive, global = true)]
    pub battery_voltage_nominal: Option<f64>,
    /// Multiplier from the reported battery voltage to the pack (per-cell UPSes), or `auto` to detect it as nutdrv_qx does.
    #[arg(long, value_name = "N|auto", default_value = "auto", value_parser = packs, global = true)]
    pub battery_packs: Packs,
    /// NUT's runtimecal: runtime RH s at load LH %, RL s at LL % (e.g. 240,100,720,50).
    /// battery.runtime is estimated only with it.
    #[arg(long, value_name = "RH,LH,RL,LL", value_parser = Runtimecal::parse, global = true)]
    pub runtimecal: Option<Runtimecal>,
    /// Time to recharge from empty to full, for the runtime estimate (NUT's chargetime).
    #[arg(long, value_name = "DURATION", default_value = "12h", value_parser = duration, global = true)]
    pub chargetime: Duration,
    /// Least load, in percent, the runtime estimate assumes (NUT's idleload).
    #[arg(long, value_name = "PERCENT", default_value = "10", value_parser = idleload, global = true)]
    pub idleload: f64,
    /// MQTT output with Home Assistant discovery (docs/mqtt.md).
    #[command(flatten)]
    pub mqtt: rewire_cli::mqtt::MqttArgs,
}

/// `--battery-packs`: a number, or detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Packs {
    /// Detect from the nominal voltage.
    Auto,
    /// This multiplier.
    Fixed(f64),
}

/// Parses `--battery-packs`: `auto` or a positive number.
///
/// # Errors
/// Names the text.
pub fn packs(text: &str) -> Result<Packs, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Packs::Auto);
    }
    positive(text).map(Packs::Fixed)
}

/// Parses a positive number.
///
/// # Errors
/// Names the text.
pub fn positive(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

/// Parses `--idleload`: a percentage above 0 and at most 100, as a fraction.
///
/// # Errors
/// Names the text and the range.
pub fn idleload(text: &str) -> Result<f64, String> {
    match text.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 100.0 => Ok(v / 100.0),
        _ => Err(format!(
            "idle load {text:?} is out of range: give a percentage above 0, at most 100"
        )),
    }
}

/// The MQTT device id when `--device-id` is not given: `upsilon-MODEL`
/// when the UPS reported its model (`I`, `upsilon ups` only), else
/// `upsilon-NAME` (`--nut-name`; UPSilon's own traffic names no model).
#[must_use]
pub fn mqtt_device_id(a: &OutputArgs, identity: Option<&Identity>) -> String {
    match identity.and_then(|i| i.model.as_deref()).map(str::trim) {
        Some(model) if !model.is_empty() => format!("upsilon-{model}"),
        _ => format!("upsilon-{}", a.nut_name),
    }
}

/// Builds the battery estimate's settings from the flags.
///
/// # Errors
/// When the low voltage is not below the high one.
pub fn battery_config(a: &OutputArgs) -> Result<BatteryConfig> {
    if let (Some(low), Some(high)) = (a.battery_voltage_low, a.battery_voltage_high)
        && low >= high
    {
        bail!("--battery-voltage-low {low} must be below --battery-voltage-high {high}");
    }
    Ok(BatteryConfig {
        voltage_high: a.battery_voltage_high,
        voltage_low: a.battery_voltage_low,
        voltage_nominal: a.battery_voltage_nominal,
        packs: match a.battery_packs {
            Packs::Auto => None,
            Packs::Fixed(p) => Some(p),
        },
        runtimecal: a.runtimecal,
        chargetime: a.chargetime,
        idleload: a.idleload,
    })
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
    /// The serial device: /dev/ttyUSB0, COM3 or \\.\COM10.
    #[arg(long, value_name = "DEV", value_parser = serial_port, conflicts_with = "usb", global = true)]
    pub serial: Option<String>,
    /// A serial server (ser2net and similar) relaying the UPS's line over TCP.
    #[arg(long, value_name = "HOST:PORT", value_parser = target, conflicts_with_all = ["usb", "serial"], global = true)]
    pub tcp: Option<String>,
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
    /// Play a Megatec UPS on a pseudo-terminal (prints its path) or on TCP, as behind a serial server.
    Ups {
        #[cfg_attr(unix, doc = "Create a pseudo-terminal.")]
        #[cfg_attr(
            not(unix),
            doc = "Pseudo-terminals are Unix only: use --tcp PORT (a serial server's stand-in) instead."
        )]
        #[arg(long, required_unless_present = "tcp", conflicts_with = "tcp")]
        pty: bool,
        /// Listen on this TCP address instead (`PORT` alone binds 127.0.0.1; prints the address).
        #[arg(long, value_name = "ADDR", value_parser = listen_addr)]
        tcp: Option<SocketAddr>,
        /// Report this battery voltage (e.g. 2.28 for a per-cell UPS, 23.40 for a pack).
        #[arg(long, value_name = "VOLTS", value_parser = sim_battery)]
        battery_voltage: Option<Decimal>,
    },
}

/// The scripts `simulate rupsmon` plays.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScriptArg {
    /// Always on line.
    Steady,
    /// On line, utility failure, battery low, recovery, repeated.
    Outage,
    /// On line, utility failure, then battery low until the end.
    Drain,
}

impl From<ScriptArg> for Script {
    fn from(s: ScriptArg) -> Self {
        match s {
            ScriptArg::Steady => Script::Steady,
            ScriptArg::Outage => Script::Outage,
            ScriptArg::Drain => Script::Drain,
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

/// Parses the simulator's battery voltage as it goes on the wire (`2.28`,
/// `27.4`).
///
/// # Errors
/// Names the text.
pub fn sim_battery(text: &str) -> Result<Decimal, String> {
    let bad = || format!("battery voltage {text:?}: give a number like 2.28 or 27.4");
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 3 || frac.len() > 2 || !digits(int) || !digits(frac) {
        return Err(bad());
    }
    let raw: i32 = format!("{int}{frac}").parse().map_err(|_| bad())?;
    Decimal::new(raw, u8::try_from(frac.len()).map_err(|_| bad())?).ok_or_else(bad)
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
    /// A serial server at `HOST:PORT`.
    Tcp(String),
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
            Device::Tcp(target) => format!("tcp {target}"),
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
    if let Some(target) = &a.tcp {
        if a.vid.is_some() || a.pid.is_some() {
            bail!("--vid and --pid go with --usb");
        }
        return Ok(Device::Tcp(target.clone()));
    }
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
        _ => bail!("give one of --serial DEV, --tcp HOST:PORT or --usb"),
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

/// Builds the output settings from the raw flags (reading the NUT users
/// file when one is given).
///
/// # Errors
/// When the users file cannot be read or parsed.
pub fn outputs(a: &OutputArgs, description: String, stale_after: Duration) -> Result<Outputs> {
    let mut nut_config = NutConfig::new(a.nut_name.clone(), description, stale_after);
    nut_config.idle_timeout = a.nut_idle_timeout;
    nut_config.max_clients = usize::from(a.max_clients);
    if let Some(path) = &a.nut_users {
        nut_config.users = Users::load(path)?;
    }
    Ok(Outputs {
        nut: a.nut,
        nut_config,
        http: a.http,
        webhook: a.webhook.as_ref().map(|url| WebhookConfig {
            url: url.clone(),
            capacity: a.webhook_queue.max(1),
            backoff: backoff(a.webhook_backoff_max),
            timeout: Duration::from_secs(5),
            all_records: a.webhook_all,
        }),
    })
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
        max_clients: usize::from(a.out.max_clients),
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
    fn the_mqtt_device_id_is_the_model_the_ups_reports() {
        let a = ups_args(&["--serial", "/dev/ttyUSB0"]).unwrap();
        let mut id = Identity {
            model: Some("UPS 1000VA  ".into()),
            ..Identity::default()
        };
        assert_eq!(mqtt_device_id(&a.out, Some(&id)), "upsilon-UPS 1000VA");
        id.model = Some("   ".into());
        assert_eq!(mqtt_device_id(&a.out, Some(&id)), "upsilon-ups");
        assert_eq!(mqtt_device_id(&a.out, None), "upsilon-ups");
        let named = ups_args(&["--serial", "/dev/ttyUSB0", "--nut-name", "rack"]).unwrap();
        assert_eq!(mqtt_device_id(&named.out, None), "upsilon-rack");
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
        let o = outputs(&a.out, String::new(), Duration::from_secs(1)).unwrap();
        assert_eq!(o.nut, Some("127.0.0.1:3493".parse().unwrap()));
        assert_eq!(o.nut_config.idle_timeout, Duration::from_secs(60));
        assert_eq!(o.nut_config.max_clients, 64);
        assert!(o.nut_config.users.is_empty());
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

    #[test]
    fn battery_and_nut_flags_become_settings() {
        let a = ups_args(&[
            "--tcp",
            "127.0.0.1:4001",
            "--battery-voltage-nominal",
            "24",
            "--battery-packs",
            "12",
            "--runtimecal",
            "240,100,720,50",
            "--chargetime",
            "1h",
            "--idleload",
            "5",
            "--nut-idle-timeout",
            "3s",
            "--max-clients",
            "8",
        ])
        .unwrap();
        assert_eq!(
            ups_device(&a, false).unwrap(),
            Device::Tcp("127.0.0.1:4001".into())
        );
        let b = battery_config(&a.out).unwrap();
        assert_eq!(b.voltage_nominal, Some(24.0));
        assert_eq!(b.packs, Some(12.0));
        assert_eq!(b.runtimecal.unwrap().rl, 720.0);
        assert_eq!(b.chargetime, Duration::from_secs(3600));
        assert!((b.idleload - 0.05).abs() < 1e-12);
        let o = outputs(&a.out, String::new(), Duration::from_secs(1)).unwrap();
        assert_eq!(o.nut_config.idle_timeout, Duration::from_secs(3));
        assert_eq!(o.nut_config.max_clients, 8);
        let d = BatteryConfig::default();
        let a = ups_args(&["--serial", "/dev/null"]).unwrap();
        assert_eq!(battery_config(&a.out).unwrap(), d);
        for bad in [
            &["--tcp", "x:1", "--serial", "/dev/null"][..],
            &["--runtimecal", "1,2,3"],
            &["--idleload", "0"],
            &["--battery-packs", "-2"],
            &["--max-clients", "0"],
            &["--nut-idle-timeout", "5"],
        ] {
            assert!(ups_args(bad).is_err(), "{bad:?}");
        }
        let a = ups_args(&[
            "--battery-voltage-low",
            "26",
            "--battery-voltage-high",
            "20",
        ])
        .unwrap();
        assert!(battery_config(&a.out).is_err());
        let a = ups_args(&["--nut-users", "/nonexistent/upsd.users"]).unwrap();
        let e = outputs(&a.out, String::new(), Duration::from_secs(1)).unwrap_err();
        assert!(
            format!("{e:#}").contains("/nonexistent/upsd.users"),
            "{e:#}"
        );
    }

    #[test]
    fn simulator_battery_voltages_keep_their_digits() {
        assert_eq!(sim_battery("2.28").unwrap().to_string(), "2.28");
        assert_eq!(sim_battery("27.4").unwrap().to_string(), "27.4");
        for bad in ["", "x", "1.234", "1234.5", "-1"] {
            assert!(sim_battery(bad).is_err(), "{bad}");
        }
    }
}
