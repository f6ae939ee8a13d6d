//! `upsilon`: decode captured or piped traffic of a Megatec UPS and UPSilon
//! 2000, monitor it live, publish it (NDJSON, webhook, Prometheus, NUT), talk
//! to the UPS directly, and simulate every party. Argument parsing is in
//! `args`; everything else is `rewire-upsilon-host`.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use rewire_cli::{Exit, exit};
use rewire_host::output::Format;
use rewire_host::service::StopFlag;
use rewire_transport::link::{SerialSettings, open_serial};
use rewire_upsilon::Command;
use rewire_upsilon_cli::args::{self, Cli, Cmd, Device, SimCmd, UpsArgs};
use rewire_upsilon_host::decode::{self, HEARTBEAT_PORT, Ports, SMS_PORT, STATUS_PORT};
use rewire_upsilon_host::hub::{Hub, Identity};
use rewire_upsilon_host::message::Message;
use rewire_upsilon_host::monitor::{Monitor, Servers};
use rewire_upsilon_host::nut::{Driver, Job, command_queue};
use rewire_upsilon_host::record::{Record, RecordSink};
#[cfg(unix)]
use rewire_upsilon_host::sim::PtyUps;
use rewire_upsilon_host::sim::{self, Rupsmon, RupsmonConfig, SimUps, TcpUps};
use rewire_upsilon_host::ups::{self, Channel, CommandOutcome, Confirm, Ups};

/// Records stdout may hold per priority before dropping new ones.
const STDOUT_QUEUE: usize = 4096;

/// The long-running modes, which read `--config FILE` and `REWIRE_*`.
const CONFIG_MODES: &[&[&str]] = &[
    &["monitor"],
    &["ups"],
    &["simulate", "rupsmon"],
    &["simulate", "heartbeat"],
    &["simulate", "sms"],
    &["simulate", "ups"],
];

fn main() -> ExitCode {
    let cli = rewire_cli::config::parse::<Cli>("upsilon", CONFIG_MODES);
    rewire_cli::main_with("upsilon", || run(cli))
}

fn run(cli: Cli) -> Result<ExitCode> {
    rewire_cli::logging::init("upsilon", cli.log_level());
    match cli.command {
        Cmd::Completions { shell } => completions(shell)?,
        Cmd::Decode(a) => run_decode(&a)?,
        Cmd::Plot(a) => run_plot(&a)?,
        Cmd::Monitor(a) => run_monitor(&a, &AtomicBool::new(false))?,
        Cmd::Service(c) => return rewire_cli::service::run("upsilon", &["monitor"], c, serve),
        Cmd::Ups(a) => return run_ups(&a),
        Cmd::Simulate { what } => run_sim(what)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes completions for `upsilon`; a reader that stops early (`| head`)
/// is not an error.
fn completions(shell: clap_complete::Shell) -> Result<()> {
    rewire_cli::print_completions::<Cli>(shell)
}

fn run_decode(a: &rewire_cli::decode::DecodeArgs) -> Result<()> {
    let defaults = [STATUS_PORT, HEARTBEAT_PORT, SMS_PORT];
    let input = rewire_cli::decode::open_input(a, &defaults, false)?.tee_pcap(
        a,
        rewire_transport::capture::pcap_out::SerialProtocol::Megatec,
    )?;
    // Live input (a pipe, a terminal) is read as it comes, each record flushed.
    let live = input.is_live();
    let events = input;
    let mut out = rewire_host::output::Sink::stdout(Format::from_flag(a.json), live);
    decode::decode(events, Ports::from_args(&a.ports), |m| {
        out.emit_record(&Record::from_message(&m))
            .map_err(anyhow::Error::from)
    })?;
    out.flush()?;
    Ok(())
}

fn run_plot(a: &rewire_cli::plot::PlotArgs) -> Result<()> {
    let defaults = [STATUS_PORT, HEARTBEAT_PORT, SMS_PORT];
    let input = rewire_cli::decode::open_input(&a.decode_args(), &defaults, false)?;
    let title = input.name().to_owned();
    let mut plot = rewire_page::plot::Collector::new(&a.keys());
    decode::decode(input, Ports::from_args(&a.ports), |m| {
        plot.push(&m);
        Ok::<(), anyhow::Error>(())
    })?;
    a.write(&title, &plot.finish())
}

/// Starts the hub with stdout (behind its own queue) and the servers the
/// flags ask for; announces their addresses on stderr. The returned flag is
/// set when stdout goes away.
fn start(
    out: &args::OutputArgs,
    description: String,
    stale: Duration,
    driver: Option<Driver>,
    identity: Option<Identity>,
) -> Result<(Hub, Servers, StopFlag)> {
    let hub = Hub::with_battery(out.nut_name.clone(), args::battery_config(out)?);
    let closed = StopFlag::new();
    hub.add_sink(
        RecordSink::new(io::stdout(), args::format(out)).stop_on_failure(closed.clone()),
        STDOUT_QUEUE,
    );
    let mqtt_id = args::mqtt_device_id(out, identity.as_ref());
    if let Some(identity) = identity {
        hub.set_identity(identity);
    }
    if let Some(mqtt) = out.mqtt.start("upsilon", Some(&mqtt_id))? {
        hub.add_sink(mqtt, STDOUT_QUEUE);
    }
    let servers = args::outputs(out, description, stale)?.start_with_driver(&hub, driver)?;
    if let Some(addr) = servers.nut_addr() {
        say(format_args!("nut listening on {addr}"));
    }
    if let Some(addr) = servers.http_addr() {
        say(format_args!("metrics on http://{addr}/metrics"));
    }
    Ok((hub, servers, closed))
}

/// Says where a server listens, on stderr; a stderr that cannot be
/// written (a Windows service has none) is no reason to stop.
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr(), "upsilon: {line}");
}

fn stop(hub: &Hub, servers: Servers) {
    servers.shutdown();
    hub.close();
}

/// Runs `upsilon monitor FLAGS…` (`argv`, the tool's name first) as the
/// Windows service until `stop` is set; only checks the flags without it.
fn serve(argv: Vec<OsString>, stop: Option<rewire_cli::service::Stop>) -> Result<()> {
    let cli = match rewire_cli::config::try_parse_from::<Cli>(CONFIG_MODES, argv) {
        Ok(rewire_cli::config::Parsed::Run(cli)) => cli,
        Ok(rewire_cli::config::Parsed::Print(_)) => anyhow::bail!("--print-config runs no service"),
        Err(e) => anyhow::bail!("{e}"),
    };
    let level = cli.log_level();
    let Cmd::Monitor(a) = cli.command else {
        anyhow::bail!("an upsilon service runs monitor")
    };
    args::monitor_config(&a)?;
    args::outputs(&a.out, String::new(), Duration::from_secs(1))?;
    match stop {
        Some(stop) => {
            rewire_cli::logging::init("upsilon", level);
            run_monitor(&a, &stop)
        }
        None => Ok(()),
    }
}

/// Watches UPSilon until stdout goes away, every source has ended, or
/// `stop` is set (by the Windows service's stop request).
fn run_monitor(a: &args::MonitorArgs, stopped: &AtomicBool) -> Result<()> {
    let config = args::monitor_config(a)?;
    let (hub, servers, closed) = start(
        &a.out,
        "UPSilon 2000 via rewire".into(),
        Duration::from_secs(15),
        None,
        None,
    )?;
    let monitor = Monitor::start(&config, &hub)?;
    if let Some(addr) = monitor.heartbeat_addr() {
        say(format_args!("heartbeats on udp {addr}"));
    }
    if let Some(addr) = monitor.sms_addr() {
        say(format_args!("sms gateway on {addr}"));
    }
    // Until stdout goes away (a closed pipe ends the monitor) or every
    // source has ended.
    while !closed.is_set() && !monitor.is_finished() && !stopped.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    monitor.shutdown();
    stop(&hub, servers);
    Ok(())
}

fn run_ups(a: &UpsArgs) -> Result<ExitCode> {
    let device = args::ups_device(a, cfg!(feature = "usb"))?;
    // A bad users file or battery setting is said before the UPS is touched.
    args::outputs(&a.out, String::new(), Duration::from_secs(1))?;
    args::battery_config(&a.out)?;
    let label = device.label();
    let command = a.action.as_ref().map(args::ups_command).transpose()?;
    if let (Some(cmd), Device::Usb { .. }) = (&command, &device) {
        args::check_usb_command(cmd)?;
    }
    if let Some(cmd) = &command {
        let action = format!("{} on {label} (sends {cmd})", args::describe(cmd));
        rewire_cli::confirm("upsilon", &action, a.yes)?;
    }
    match device {
        Device::Serial(path) => {
            let settings = SerialSettings {
                baud: a.baud,
                ..SerialSettings::MEGATEC.with_read_timeout(Duration::from_millis(50))
            };
            let port = open_serial(&path, &settings)?;
            drive(Ups::new(port, &path, a.timeout, 3), a, &label, command)
        }
        Device::Tcp(target) => {
            let stream = connect_tcp(&target, a.timeout)?;
            drive(Ups::new(stream, &target, a.timeout, 3), a, &label, command)
        }
        Device::Usb { vid, pid } => run_usb(vid, pid, a, &label, command),
    }
}

/// Connects to a serial server; reads time out quickly, as on a serial port.
fn connect_tcp(target: &str, timeout: Duration) -> Result<std::net::TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for addr in target
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {target}"))?
    {
        match std::net::TcpStream::connect_timeout(&addr, timeout.max(Duration::from_secs(1))) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_millis(50)))?;
                s.set_write_timeout(Some(Duration::from_secs(5)))?;
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(e).with_context(|| format!("cannot connect to the serial server {target}")),
        None => anyhow::bail!("{target} resolves to no address"),
    }
}

#[cfg(feature = "usb")]
fn run_usb(
    vid: u16,
    pid: u16,
    a: &UpsArgs,
    label: &str,
    command: Option<Command>,
) -> Result<ExitCode> {
    use rewire_upsilon_host::usb::{Libusb, UsbChannel};
    let source = Libusb::open(vid, pid, a.timeout)?;
    eprintln!("upsilon: opened {}", source.name());
    drive(
        Ups::with_channel(UsbChannel::new(source, 3)),
        a,
        label,
        command,
    )
}

#[cfg(not(feature = "usb"))]
fn run_usb(_: u16, _: u16, _: &UpsArgs, _: &str, _: Option<Command>) -> Result<ExitCode> {
    anyhow::bail!("built without the usb feature; rebuild with --features usb")
}

/// Polls, or sends `command` and confirms it, over any channel.
fn drive<C: Channel>(
    mut ups: Ups<C>,
    a: &UpsArgs,
    label: &str,
    command: Option<Command>,
) -> Result<ExitCode> {
    let (driver, jobs) = match (&command, a.out.nut) {
        (None, Some(_)) => {
            let (d, rx) = command_queue();
            (Some(d), Some(rx))
        }
        _ => (None, None),
    };
    // Asked before the outputs start, so the MQTT device id can carry the
    // model the UPS reports.
    let identity = match command {
        None => Some(ups.identity()?),
        Some(_) => None,
    };
    let (hub, servers, closed) = start(
        &a.out,
        format!("Megatec UPS on {label}"),
        args::ups_stale_after(a.interval),
        driver,
        identity,
    )?;
    let outcome = match command {
        None => poll(&mut ups, a, label, &hub, &closed, jobs.as_ref()),
        Some(cmd) => send(&mut ups, label, &cmd, &hub),
    };
    stop(&hub, servers);
    outcome
}

fn poll<C: Channel>(
    ups: &mut Ups<C>,
    a: &UpsArgs,
    label: &str,
    hub: &Hub,
    closed: &StopFlag,
    jobs: Option<&std::sync::mpsc::Receiver<Job>>,
) -> Result<ExitCode> {
    let summary = ups::poll_with_commands(
        ups,
        label,
        a.interval,
        a.count,
        hub,
        closed.as_atomic(),
        jobs,
    )?;
    if summary.polls > 0 && summary.answered == 0 {
        return Err(Exit::new(exit::NO_ANSWER, format!("{label}: no answer to Q1")).into());
    }
    Ok(ExitCode::SUCCESS)
}

fn send<C: Channel>(ups: &mut Ups<C>, label: &str, cmd: &Command, hub: &Hub) -> Result<ExitCode> {
    match ups::command(ups, cmd, &Confirm::default()).with_context(|| format!("{label}: {cmd}"))? {
        CommandOutcome::Confirmed(status) => {
            hub.publish(Message::status(hub.device(), status).at(SystemTime::now()));
            hub.close();
            eprintln!(
                "upsilon: {cmd} sent to {label}: {} (confirmed by Q1)",
                args::describe(cmd)
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

fn run_sim(what: SimCmd) -> Result<()> {
    match what {
        SimCmd::Rupsmon {
            listen,
            interval,
            script,
            count,
        } => {
            let sim = Rupsmon::start(&RupsmonConfig {
                listen,
                interval,
                script: script.into(),
                count,
            })?;
            eprintln!("upsilon: listening on {}", sim.local_addr());
            // Until `count` records reached a client (for ever without it).
            while !sim.played_all(count) {
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("upsilon: sent {} record(s)", sim.sent());
            sim.shutdown();
        }
        SimCmd::Heartbeat {
            to,
            ups,
            disconnected,
            interval,
            count,
        } => {
            let stop = AtomicBool::new(false);
            let n = sim::run_heartbeat(to, (!disconnected).then_some(ups), interval, count, &stop)?;
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
            let line = sim::run_sms(to, &req, Duration::from_secs(5))?;
            println!("{line}");
            if !line.contains(" 200") {
                return Err(Exit::new(exit::NEGATIVE, format!("{to} answered {line:?}")).into());
            }
        }
        SimCmd::Ups {
            pty: _,
            tcp: Some(addr),
            battery_voltage,
        } => {
            let mut state = SimUps::new();
            state.battery = battery_voltage;
            let ups = TcpUps::start(addr, state, |cmd, answered| {
                log::info!(
                    "sim ups got {cmd:?}{}",
                    if answered { " (answered)" } else { "" }
                );
            })?;
            println!("{}", ups.local_addr());
            io::stdout().flush()?;
            // Until killed.
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        #[cfg(unix)]
        SimCmd::Ups {
            battery_voltage, ..
        } => {
            let ups = PtyUps::start_with(
                {
                    let mut s = SimUps::new();
                    s.battery = battery_voltage;
                    s
                },
                |cmd, answered| {
                    log::info!(
                        "sim ups got {cmd:?}{}",
                        if answered { " (answered)" } else { "" }
                    );
                },
            )?;
            println!("{}", ups.path());
            io::stdout().flush()?;
            while !ups.is_finished() {
                std::thread::sleep(Duration::from_millis(100));
            }
            ups.shutdown();
        }
        #[cfg(not(unix))]
        SimCmd::Ups { .. } => {
            anyhow::bail!("a pseudo-terminal needs a Unix system: use simulate ups --tcp ADDR")
        }
    }
    Ok(())
}
