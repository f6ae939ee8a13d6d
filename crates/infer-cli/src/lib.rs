//! The `rewire` command's library: the `infer` flags, their translation
//! into a [`rewire_infer::Config`] (pure functions, unit-tested), and the
//! driver that reads the input, runs the inference and writes the report.
//!
//! The binary only parses arguments and calls [`run_infer`].
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use rewire_cli::decode::{DecodeArgs, open_input};
use rewire_cli::input::InputArg;
use rewire_infer::{Collector, Config, infer};

/// The flags of `rewire infer`.
#[derive(Debug, Clone, clap::Args)]
pub struct InferArgs {
    /// Input file: a pcap/pcapng capture, a hex dump (TX/RX or >/< marks give
    /// directions) or raw bytes. `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = InputArg::Auto)]
    pub input: InputArg,
    /// Write the report as one JSON document (schema `rewire-infer/1`, docs/infer.md).
    #[arg(long)]
    pub json: bool,
    /// Keep only this TCP/UDP port of a capture (repeatable); default: every port,
    /// one report section per service.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,
    /// Analyse these hex bytes instead of a file (e.g. "FF 08 00 01 00 01 07 10").
    #[arg(long, value_name = "HEX", conflicts_with = "file")]
    pub hex: Option<String>,
    /// Most messages analysed per service; memory is bounded by it.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    pub max_messages: usize,
    /// Fewest distinct messages before a length field or checksum is named
    /// (fewer: "not found").
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub min_messages: usize,
    /// On a serial line without a length field: a pause at least this long
    /// ends a message (250ms, 1s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gap: Option<Duration>,
}

/// Returns the input flags in the shape `rewire-cli`'s input opening takes.
pub fn decode_args(args: &InferArgs) -> DecodeArgs {
    DecodeArgs {
        file: args.file.clone(),
        input: args.input,
        json: args.json,
        ports: args.ports.clone(),
        hex: args.hex.clone(),
        pcap_out: None,
    }
}

/// Turns the flags into the library's configuration.
///
/// # Errors
/// Refuses `--max-messages 0` and `--min-messages` below 2.
pub fn config(args: &InferArgs) -> anyhow::Result<Config> {
    if args.max_messages == 0 {
        bail!("--max-messages must be at least 1");
    }
    if args.min_messages < 2 {
        bail!("--min-messages must be at least 2 (one message proves nothing)");
    }
    let mut config = Config::default();
    config.max_messages = args.max_messages;
    // Stream bytes kept: room for the messages asked for, within 16 MiB..1 GiB.
    config.max_bytes = args
        .max_messages
        .saturating_mul(1024)
        .clamp(16 << 20, 1 << 30);
    config.min_messages = args.min_messages;
    config.gap = args.gap;
    Ok(config)
}

/// Parses a duration written `250ms`, `1s`, `1.5s`, `5m` or `1h`.
///
/// # Errors
/// Names what is wrong: no number, no or an unknown unit, a negative or
/// absurd value.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?}: give a unit, e.g. 250ms, 1s, 5m"))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{text:?}: not a number before the unit"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
}

/// Reads the input `args` names, infers each service's structure and
/// writes the report to `out` (readable, or one JSON document with `--json`).
///
/// # Errors
/// Fails, naming the input, when it cannot be opened or read, and when
/// writing to `out` fails.
pub fn run_infer(args: &InferArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let config = config(args)?;
    let input = open_input(&decode_args(args), &[], true)?;
    let name = input.name().to_owned();
    let mut collector = Collector::new(&config);
    for event in input {
        collector.push(event?);
    }
    let dropped = collector.dropped_bytes();
    let groups = collector.finish();
    let mut report = infer(&name, &groups, &config);
    if dropped > 0 {
        report.notes.push(format!(
            "{dropped} bytes beyond the memory bound were not analysed (--max-messages)"
        ));
    }
    if args.json {
        serde_json::to_writer(&mut *out, &report).context("writing the report")?;
        writeln!(out)?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        args: InferArgs,
    }

    #[test]
    fn durations_have_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        for bad in ["", "5", "ms", "5 parsecs", "-1s", "1e999s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn flags_become_a_config() {
        let p = Probe::parse_from(["x", "f.pcap", "--max-messages", "10", "--gap", "20ms"]);
        let c = config(&p.args).unwrap();
        assert_eq!(c.max_messages, 10);
        assert_eq!(c.gap, Some(Duration::from_millis(20)));
        assert_eq!(c.min_messages, 4);
        let p = Probe::parse_from(["x", "--max-messages", "0"]);
        assert!(config(&p.args).is_err());
        let p = Probe::parse_from(["x", "--min-messages", "1"]);
        assert!(config(&p.args).is_err());
    }
}
