//! `websentry`: decode, relay and simulate the WebSentry protocol. Argument
//! parsing and wiring only; the work is done by `rewire-websentry-host`.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};
use rewire_cli::value;
use rewire_host::output::{Format, Sink as RecordWriter};
use rewire_host::service::StopFlag;
use rewire_host::sink::{Fanout, Sink};
use rewire_websentry_host::changes::ChangeLog;
use rewire_websentry_host::decode::{self, DEFAULT_PORT};
use rewire_websentry_host::message::Message;
use rewire_websentry_host::proxy::{DEFAULT_BACKLOG, DEFAULT_MAX_SESSIONS, Proxy, ProxyConfig};
use rewire_websentry_host::simulate::{
    self, Cloud, CloudConfig, DEFAULT_CLOUD_CONCURRENCY, SessionReport, UnitConfig,
};
use rewire_websentry_host::store::MetricNames;

const EXAMPLES: &str = "Examples:
  websentry decode testdata/websentry/websentry-lo.pcap
  websentry decode --json --port 1030 capture.pcapng
  websentry decode --input wmpe-json raw-log.json
  websentry decode --hex \"70 83 9e e8 e6 00 12 00 ff 00 02 05 04 01 0d 00 90 c2 0c 02 b3 01 20 02 07\"
  nc unit-tap 1030 | websentry decode -
  websentry proxy --listen 0.0.0.0:1030 --upstream websentry.seresco.net:1030 --http 1031 --raw-log ws.json
  websentry simulate cloud --listen 127.0.0.1:0
  websentry simulate unit --connect 127.0.0.1:1030 --sessions 3 --interval 5s
";

/// websentry's exit statuses (it has no device to answer negatively or not
/// at all, so only these two).
const EXIT_STATUS: &str = "Exit status: 0 done (bad frames in the input are reported, not fatal), \
2 usage error, unreadable input, or an address that cannot be bound or reached.";

/// Decode, relay and simulate the WebSentry dehumidifier protocol (TCP port 1030).
#[derive(Parser, Debug)]
#[command(name = "websentry", version, about, after_help = format!("{EXAMPLES}\n{EXIT_STATUS}"))]
struct Cli {
    /// Say more: every relayed frame, debug diagnostics.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Say less: warnings and errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode a capture (pcap/pcapng), a raw log (`--input wmpe-json`), a hex
    /// dump or raw bytes.
    Decode(DecodeCmd),
    /// Draw properties from a capture or raw log over time as an SVG (e.g.
    /// --reading humidity --reading room_temp -o unit.svg).
    Plot(rewire_cli::plot::PlotArgs),
    /// Relay a unit's traffic to its cloud unchanged, decode a copy, serve
    /// /metrics, / and /props.json.
    Proxy(Box<ProxyArgs>),
    /// Run a simulated unit or cloud.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Run `proxy` as a Windows service: `service install -- proxy FLAGS…`, `service uninstall`.
    #[command(subcommand)]
    Service(rewire_cli::service::ServiceCmd),
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `decode`'s flags: the shared ones and `--changes`.
#[derive(clap::Args, Debug)]
struct DecodeCmd {
    #[command(flatten)]
    args: rewire_cli::decode::DecodeArgs,
    /// Print only property changes, one line each (the original exporter's
    /// change log, readably; see docs/cli/websentry.md).
    #[arg(long, conflicts_with = "json")]
    changes: bool,
}

#[derive(clap::Args, Debug)]
struct ProxyArgs {
    /// Where units connect (a bare PORT means 127.0.0.1:PORT).
    #[arg(long, default_value = "0.0.0.0:1030", value_parser = value::listen_addr)]
    listen: SocketAddr,
    /// The cloud service to relay to (HOST:PORT, resolved for each session).
    #[arg(long, default_value = "websentry.seresco.net:1030", value_parser = value::target)]
    upstream: String,
    /// Where /metrics, / and /props.json are served (a bare PORT means 127.0.0.1:PORT).
    #[arg(long, default_value = "127.0.0.1:1031", value_parser = value::listen_addr)]
    http: SocketAddr,
    /// Append each session to FILE in the original exporter's JSON raw-log format.
    #[arg(long, value_name = "FILE")]
    raw_log: Option<PathBuf>,
    /// Drop property values not refreshed for this long from /metrics (`90s`, `5m`, `1h`).
    #[arg(long, default_value = "5m", value_parser = value::duration)]
    max_age: Duration,
    /// How long to wait for the upstream to accept a connection (`2s`, `500ms`).
    #[arg(long, default_value = "5s", value_parser = value::duration)]
    connect_timeout: Duration,
    /// Connections the kernel queues before the proxy accepts them.
    #[arg(long, default_value_t = DEFAULT_BACKLOG, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=65535))]
    backlog: u32,
    /// Close a session when neither side has sent anything for this long
    /// (`90s`, `10m`); a unit or cloud that stops reading is dropped after it too.
    #[arg(long, default_value = "10m", value_parser = value::duration)]
    idle_timeout: Duration,
    /// Sessions relayed at once; more units are closed on accept and counted
    /// (websentry_sessions_refused_total).
    #[arg(long, default_value_t = DEFAULT_MAX_SESSIONS, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(|n| usize::try_from(n).unwrap_or(usize::MAX)))]
    max_sessions: usize,
    /// Metric names on /metrics: rewire's (`websentry_humidity_percent`,
    /// base units) or the original exporter's (`humidity_percent`,
    /// `room_temp_f` in °F, `sessions_started`), whose /props and /last
    /// pages are then served too.
    #[arg(long, value_enum, default_value = "rewire", value_name = "NAMES")]
    metric_names: MetricNamesArg,
    /// MQTT output with Home Assistant discovery (docs/mqtt.md).
    #[command(flatten)]
    mqtt: rewire_cli::mqtt::MqttArgs,
}

/// The values of `--metric-names`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum MetricNamesArg {
    /// rewire's names and base units.
    Rewire,
    /// The original exporter's (websentry-mitm-prometheus-exporter) names and units.
    Wmpe,
}

#[derive(Subcommand, Debug)]
enum SimulateCommand {
    /// A unit: connects, sends init, answers from a drifting property table.
    Unit {
        /// The proxy or cloud to connect to (HOST:PORT).
        #[arg(long, value_parser = value::target)]
        connect: String,
        /// Sessions to run (0 = forever).
        #[arg(long, default_value_t = 1)]
        sessions: u64,
        /// Pause between sessions (`100ms`, `60s`).
        #[arg(long, default_value = "60s", value_parser = value::duration)]
        interval: Duration,
        /// MAC address sent in the init frame.
        #[arg(long, default_value = "00:90:c2:0c:02:b3", value_parser = parse_mac)]
        mac: [u8; 6],
        /// Seed of the drifting values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A cloud: accepts units, queries them, sometimes sets the humidity set point.
    Cloud {
        /// Where to listen (port 0 picks one; the address is said on stderr).
        #[arg(long, default_value = "127.0.0.1:1030", value_parser = value::listen_addr)]
        listen: SocketAddr,
        /// Sessions to serve (0 = forever).
        #[arg(long, default_value_t = 0)]
        sessions: u64,
        /// Send a set every N sessions (0 = never).
        #[arg(long, default_value_t = 3)]
        set_every: u64,
        /// Units served at once; more are closed on accept.
        #[arg(long, default_value_t = DEFAULT_CLOUD_CONCURRENCY, value_name = "N",
              value_parser = clap::value_parser!(u64).range(1..=65536).map(|n| usize::try_from(n).unwrap_or(usize::MAX)))]
        max_concurrent: usize,
    },
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-`).
fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let bad = || format!("{text:?} is not a MAC address like 00:90:c2:0c:02:b3");
    let bytes: Vec<u8> = text
        .split([':', '-'])
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    <[u8; 6]>::try_from(bytes).map_err(|_| bad())
}

/// Returns the log level `-v`/`-q` ask for.
fn log_level(verbose: bool, quiet: bool) -> log::LevelFilter {
    match (verbose, quiet) {
        (true, _) => log::LevelFilter::Debug,
        (_, true) => log::LevelFilter::Warn,
        _ => log::LevelFilter::Info,
    }
}

fn proxy_config(args: &ProxyArgs) -> ProxyConfig {
    ProxyConfig {
        listen: args.listen,
        upstream: args.upstream.clone(),
        connect_timeout: args.connect_timeout,
        raw_log: args.raw_log.clone(),
        backlog: args.backlog,
        http: Some(args.http),
        max_age: args.max_age,
        idle_timeout: args.idle_timeout,
        max_sessions: args.max_sessions,
        metric_names: match args.metric_names {
            MetricNamesArg::Rewire => MetricNames::Rewire,
            MetricNamesArg::Wmpe => MetricNames::Wmpe,
        },
    }
}

/// The proxy's report on stderr: failures, garbage and anomalous frames,
/// every message with `-v`. It runs on a thread of the proxy's fan-out, so
/// a stderr nobody reads stalls only this output, never the relay.
struct Stderr {
    everything: bool,
}

impl Sink<Message> for Stderr {
    fn name(&self) -> &str {
        "stderr"
    }

    fn observe(&mut self, message: &Message) {
        if self.everything || message.is_notable() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "websentry: {message}");
        }
    }
}

fn print_report(report: &SessionReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
}

/// Says where a service listens, on stderr (stdout stays for records).
fn announce(what: &str, addr: SocketAddr) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{what} {addr}");
    let _ = err.flush();
}

fn run_decode(cmd: &DecodeCmd) -> anyhow::Result<()> {
    let args = &cmd.args;
    let format = Format::from_flag(args.json);
    let input = rewire_cli::decode::open_input(args, &[DEFAULT_PORT], true)?.tee_pcap(
        args,
        rewire_transport::capture::pcap_out::SerialProtocol::WebSentry,
    )?;
    let input_format = input.format();
    // A live feed shows each record as it comes; a file is written in bulk.
    let live = input.is_live();
    if cmd.changes {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(64 << 10, stdout.lock());
        let mut log = ChangeLog::new();
        decode::for_each_frame(input, input_format, |meta, sender, bytes| {
            log.frame(meta.timestamp, sender, bytes, &mut out)?;
            if live {
                out.flush()?;
            }
            Ok(())
        })?;
        out.flush()?;
        return Ok(());
    }
    let mut out = RecordWriter::stdout(format, live);
    decode::run(input, input_format, &mut out, live)
}

fn run_plot(args: &rewire_cli::plot::PlotArgs) -> anyhow::Result<()> {
    let input = rewire_cli::decode::open_input(&args.decode_args(), &[DEFAULT_PORT], true)?;
    let title = input.name().to_owned();
    let format = input.format();
    let mut plot = rewire_page::plot::Collector::new(&args.keys());
    rewire_websentry_host::decode::messages(input, format, |m| {
        plot.push(&m);
        Ok::<(), anyhow::Error>(())
    })?;
    args.write(&title, &plot.finish())
}

/// Runs `websentry proxy FLAGS…` (`argv`, the tool's name first) as the
/// Windows service until `stop` is set; only checks the flags without it.
fn serve(
    argv: Vec<std::ffi::OsString>,
    stop: Option<rewire_cli::service::Stop>,
) -> anyhow::Result<()> {
    let cli = match rewire_cli::config::try_parse_from::<Cli>(CONFIG_MODES, argv) {
        Ok(rewire_cli::config::Parsed::Run(cli)) => cli,
        Ok(rewire_cli::config::Parsed::Print(_)) => anyhow::bail!("--print-config runs no service"),
        Err(e) => anyhow::bail!("{e}"),
    };
    let Command::Proxy(args) = cli.command else {
        anyhow::bail!("a websentry service runs proxy")
    };
    match stop {
        Some(stop) => {
            rewire_cli::logging::init("websentry", log_level(cli.verbose, cli.quiet));
            run_proxy(&args, cli.verbose, &stop)
        }
        None => Ok(()),
    }
}

/// Relays until the relay fails or `stop` is set (by the Windows
/// service's stop request).
fn run_proxy(
    args: &ProxyArgs,
    verbose: bool,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<()> {
    let mut sinks = Fanout::new();
    sinks.add(
        Stderr {
            everything: verbose,
        },
        1024,
    );
    let page = rewire_websentry_host::web::operator_page();
    sinks.add(page.sink(), 1024);
    if let Some(mqtt) = args.mqtt.start("websentry-proxy", None)? {
        sinks.add(mqtt, 1024);
    }
    let mut config = proxy_config(args);
    // Served here rather than by the relay: the page's server also needs
    // the page, and reads the relay's store for /metrics and /props.
    let http = config.http.take();
    let proxy = Proxy::start(config, sinks)?;
    page.set_outputs(proxy.sink_stats_reader());
    proxy.store().set_outputs(proxy.sink_stats_reader());
    announce("listening on", proxy.local_addr());
    let _http = match http {
        Some(addr) => {
            let store = std::sync::Arc::clone(proxy.store());
            let server = rewire_websentry_host::web::serve_with_page(addr, store, &page)?;
            announce("http on", server.local_addr());
            Some(server)
        }
        None => None,
    };
    let stopped = || stop.load(std::sync::atomic::Ordering::SeqCst);
    while !proxy.is_finished() && !stopped() {
        std::thread::sleep(Duration::from_millis(100));
    }
    proxy.shutdown();
    if stopped() {
        return Ok(());
    }
    anyhow::bail!("the relay stopped unexpectedly")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    rewire_cli::logging::init("websentry", log_level(cli.verbose, cli.quiet));
    match cli.command {
        Command::Decode(args) => run_decode(&args)?,
        Command::Plot(args) => run_plot(&args)?,
        Command::Proxy(args) => {
            run_proxy(
                &args,
                cli.verbose,
                &std::sync::atomic::AtomicBool::new(false),
            )?;
        }
        Command::Service(c) => return rewire_cli::service::run("websentry", &["proxy"], c, serve),
        Command::Simulate(SimulateCommand::Unit {
            connect,
            sessions,
            interval,
            mac,
            seed,
        }) => {
            let config = UnitConfig {
                connect,
                sessions,
                interval,
                mac,
                seed,
                idle_timeout: Duration::from_secs(30),
            };
            simulate::run_unit(&config, &StopFlag::new(), print_report)?;
        }
        Command::Simulate(SimulateCommand::Cloud {
            listen,
            sessions,
            set_every,
            max_concurrent,
        }) => {
            let listener =
                TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
            let config = CloudConfig {
                set_every,
                sessions,
                answer_timeout: Duration::from_secs(10),
                max_concurrent,
            };
            let cloud = Cloud::start(listener, config, print_report)?;
            announce("listening on", cloud.local_addr());
            while !cloud.is_finished() {
                std::thread::sleep(Duration::from_millis(50));
            }
            cloud.shutdown();
        }
        Command::Completions { shell } => rewire_cli::print_completions::<Cli>(shell)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The long-running modes, which read `--config FILE` and `REWIRE_*`.
const CONFIG_MODES: &[&[&str]] = &[&["proxy"], &["simulate", "unit"], &["simulate", "cloud"]];

fn main() -> ExitCode {
    let cli = rewire_cli::config::parse::<Cli>("websentry", CONFIG_MODES);
    rewire_cli::main_with("websentry", || run(cli))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewire_websentry_host::proxy::DEFAULT_IDLE_TIMEOUT;

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("00:90:c2:0c:02:B3").unwrap(),
            [0, 0x90, 0xc2, 0x0c, 0x02, 0xb3]
        );
        assert!(parse_mac("00:90:c2").is_err());
        assert!(parse_mac("zz:90:c2:0c:02:b3").is_err());
    }

    #[test]
    fn levels() {
        assert_eq!(log_level(false, false), log::LevelFilter::Info);
        assert_eq!(log_level(true, false), log::LevelFilter::Debug);
        assert_eq!(log_level(false, true), log::LevelFilter::Warn);
    }

    #[test]
    fn proxy_flags_become_a_config_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "websentry",
            "-v",
            "proxy",
            "--listen",
            "1030",
            "--upstream",
            "10.0.0.1:1030",
            "--max-age",
            "90s",
            "--raw-log",
            "x.json",
            "--http",
            "0",
            "--backlog",
            "4096",
        ])
        .unwrap();
        assert!(cli.verbose);
        let Command::Proxy(args) = cli.command else {
            panic!()
        };
        let config = proxy_config(&args);
        assert_eq!(config.max_age, Duration::from_secs(90));
        assert_eq!(config.listen, "127.0.0.1:1030".parse().unwrap());
        assert_eq!(config.http, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(config.upstream, "10.0.0.1:1030");
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.backlog, 4096);
        assert_eq!(config.raw_log, Some(PathBuf::from("x.json")));
        let cli = Cli::try_parse_from(["websentry", "proxy", "-q"]).unwrap();
        assert!(cli.quiet);
        let Command::Proxy(args) = cli.command else {
            panic!()
        };
        let config = proxy_config(&args);
        assert_eq!(config.backlog, 1024);
        assert_eq!(config.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(config.max_sessions, DEFAULT_MAX_SESSIONS);
        let cli = Cli::try_parse_from([
            "websentry",
            "proxy",
            "--idle-timeout",
            "90s",
            "--max-sessions",
            "7",
        ])
        .unwrap();
        let Command::Proxy(args) = cli.command else {
            panic!()
        };
        let config = proxy_config(&args);
        assert_eq!(config.idle_timeout, Duration::from_secs(90));
        assert_eq!(config.max_sessions, 7);
        assert_eq!(config.metric_names, MetricNames::Rewire);
        let cli = Cli::try_parse_from(["websentry", "proxy", "--metric-names", "wmpe"]).unwrap();
        let Command::Proxy(args) = cli.command else {
            panic!()
        };
        assert_eq!(proxy_config(&args).metric_names, MetricNames::Wmpe);
        assert!(Cli::try_parse_from(["websentry", "proxy", "--metric-names", "prom"]).is_err());
    }

    #[test]
    fn durations_need_a_unit_and_ports_a_number() {
        for bad in [
            &["websentry", "proxy", "--max-age", "300"][..],
            &["websentry", "proxy", "--connect-timeout", "5"],
            &["websentry", "proxy", "--backlog", "0"],
            &["websentry", "proxy", "--idle-timeout", "10"],
            &["websentry", "proxy", "--max-sessions", "0"],
            &["websentry", "simulate", "unit", "--connect", "host"],
            &[
                "websentry",
                "simulate",
                "unit",
                "--connect",
                "h:1",
                "--interval",
                "5",
            ],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_has_websentrys_own_exit_statuses() {
        use clap::CommandFactory as _;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit status: 0 done"), "{help}");
        assert!(!help.contains("1 the device"), "{help}");
        assert!(!help.contains("3 no answer"), "{help}");
        assert!(help.contains("wmpe-json"));
    }
}
