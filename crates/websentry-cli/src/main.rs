//! `websentry`: decode, relay and simulate the WebSentry protocol.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use rewire_host::output::{Format, Sink};
use rewire_websentry_cli::proxy::ProxyConfig;
use rewire_websentry_cli::simulate::{self, CloudConfig, UnitConfig};

const EXAMPLES: &str = "Examples:
  websentry decode testdata/websentry/websentry-lo.pcap
  websentry decode --json --port 1030 capture.pcapng
  websentry decode --input wmpe-json raw-log.json
  websentry decode --hex \"70 83 9e e8 e6 00 12 00 ff 00 02 05 04 01 0d 00 90 c2 0c 02 b3 01 20 02 07\"
  websentry proxy --listen 0.0.0.0:1030 --upstream websentry.seresco.net:1030 --http 127.0.0.1:1031 --raw-log ws.json
  websentry simulate cloud --listen 127.0.0.1:0
  websentry simulate unit --connect 127.0.0.1:1030 --sessions 3 --interval 5s
";

/// Decode, relay and simulate the WebSentry dehumidifier protocol (TCP port 1030).
#[derive(Parser, Debug)]
#[command(version, about, after_help = format!("{EXAMPLES}\n{}", rewire_cli::EXIT_STATUS_HELP))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode a capture (pcap/pcapng), a raw log, a hex dump or raw bytes.
    Decode(rewire_cli::decode::DecodeArgs),
    /// Relay a unit's traffic to its cloud unchanged, decode a copy, serve
    /// /metrics, / and /props.json.
    Proxy(ProxyArgs),
    /// Run a simulated unit or cloud.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Debug)]
struct ProxyArgs {
    /// Where units connect.
    #[arg(long, default_value = "0.0.0.0:1030")]
    listen: String,
    /// The cloud service to relay to.
    #[arg(long, default_value = "websentry.seresco.net:1030")]
    upstream: String,
    /// Where /metrics, / and /props.json are served.
    #[arg(long, default_value = "127.0.0.1:1031")]
    http: String,
    /// Append each session to FILE in the original exporter's JSON raw-log format.
    #[arg(long, value_name = "FILE")]
    raw_log: Option<PathBuf>,
    /// Drop property values not refreshed for this long from /metrics (`300`, `90s`, `5m`, `1h`).
    #[arg(long, default_value = "5m")]
    max_age: String,
    /// How long to wait for the upstream to accept a connection.
    #[arg(long, default_value = "5s")]
    connect_timeout: String,
    /// Log every frame on stderr, not only anomalies.
    #[arg(long)]
    verbose: bool,
}

#[derive(Subcommand, Debug)]
enum SimulateCommand {
    /// A unit: connects, sends init, answers from a drifting property table.
    Unit {
        /// The proxy or cloud to connect to.
        #[arg(long)]
        connect: String,
        /// Sessions to run (0 = forever).
        #[arg(long, default_value_t = 1)]
        sessions: u64,
        /// Pause between sessions.
        #[arg(long, default_value = "60s")]
        interval: String,
        /// MAC address sent in the init frame.
        #[arg(long, default_value = "00:90:c2:0c:02:b3")]
        mac: String,
        /// Seed of the drifting values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A cloud: accepts units, queries them, sometimes sets the humidity set point.
    Cloud {
        /// Where to listen (port 0 picks one; the address is printed).
        #[arg(long, default_value = "127.0.0.1:1030")]
        listen: String,
        /// Sessions to serve (0 = forever).
        #[arg(long, default_value_t = 0)]
        sessions: u64,
        /// Send a set every N sessions (0 = never).
        #[arg(long, default_value_t = 3)]
        set_every: u64,
    },
}

/// Parses `300`, `300s`, `90s`, `5m`, `1h`, `250ms`.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("invalid duration unit {other:?} in {text:?} (use ms, s, m or h)"),
    };
    Duration::try_from_secs_f64(seconds).with_context(|| format!("invalid duration {text:?}"))
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-`).
fn parse_mac(text: &str) -> anyhow::Result<[u8; 6]> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    let bytes: Vec<u8> = parts
        .iter()
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .with_context(|| format!("invalid MAC address {text:?}"))?;
    <[u8; 6]>::try_from(bytes).map_err(|_| anyhow::anyhow!("invalid MAC address {text:?}"))
}

fn proxy_config(args: &ProxyArgs) -> anyhow::Result<(ProxyConfig, Duration)> {
    let config = ProxyConfig {
        listen: args.listen.clone(),
        upstream: args.upstream.clone(),
        connect_timeout: parse_duration(&args.connect_timeout).context("--connect-timeout")?,
        raw_log: args.raw_log.clone(),
        verbose: args.verbose,
    };
    Ok((config, parse_duration(&args.max_age).context("--max-age")?))
}

fn print_report(report: &simulate::SessionReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Decode(args) => {
            let mut sink = Sink::stdout(Format::from_flag(args.json), false);
            rewire_websentry_cli::decode::run(&args, &mut sink)?;
        }
        Command::Proxy(args) => {
            let (config, max_age) = proxy_config(&args)?;
            rewire_websentry_cli::run_proxy(config, &args.http, max_age)?;
        }
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
                interval: parse_duration(&interval).context("--interval")?,
                mac: parse_mac(&mac)?,
                seed,
                idle_timeout: Duration::from_secs(30),
            };
            simulate::run_unit(&config, print_report)?;
        }
        Command::Simulate(SimulateCommand::Cloud {
            listen,
            sessions,
            set_every,
        }) => {
            let listener = std::net::TcpListener::bind(&listen)
                .with_context(|| format!("cannot listen on {listen}"))?;
            {
                let mut out = std::io::stdout().lock();
                writeln!(out, "listening on {}", listener.local_addr()?)?;
                out.flush()?;
            }
            let config = CloudConfig {
                set_every,
                sessions,
                answer_timeout: Duration::from_secs(10),
            };
            simulate::run_cloud(&listener, &config, print_report)?;
        }
        Command::Completions { shell } => rewire_cli::print_completions::<Cli>(shell)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    rewire_cli::main_with("websentry", || run(Cli::parse()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

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
    fn proxy_flags_become_a_config() {
        let cli = Cli::try_parse_from([
            "websentry",
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "10.0.0.1:1030",
            "--max-age",
            "90s",
            "--raw-log",
            "x.json",
        ])
        .unwrap();
        let Command::Proxy(args) = cli.command else {
            panic!()
        };
        let (config, max_age) = proxy_config(&args).unwrap();
        assert_eq!(max_age, Duration::from_secs(90));
        assert_eq!(config.upstream, "10.0.0.1:1030");
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.raw_log, Some(PathBuf::from("x.json")));
    }
}
