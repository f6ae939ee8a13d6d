//! `rewire`: tools for equipment whose protocol nobody documented.
//!
//! This file only parses arguments; the `rewire_infer_cli` library holds the
//! driver and `rewire_infer` the inference.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rewire_infer_cli::{InferArgs, run_infer};

const EXAMPLES: &str = "Examples:
  rewire infer testdata/powerone/powerone-lo.pcap
  rewire infer testdata/websentry/websentry-lo.pcap --json
  rewire infer testdata/upsilon/upsilon-lo.pcap --port 2570
  rewire infer --input hex testdata/powerone/exchange.hex
  rewire infer line.bin --gap 20ms";

const EXIT_STATUS: &str = "Exit status: 0 report written (fields that could not be found are \
reported as \"not found\"), 2 usage error or unreadable input.";

/// Tools for equipment whose protocol nobody documented.
#[derive(Parser, Debug)]
#[command(name = "rewire", version, about, after_help = format!("{EXAMPLES}\n\n{EXIT_STATUS}"))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Recover an unknown framed protocol's structure from a capture:
    /// boundaries, sync, length field, checksum/CRC, header fields.
    #[command(after_help = format!("{EXAMPLES}\n\n{EXIT_STATUS}"))]
    Infer(InferArgs),
}

fn main() -> ExitCode {
    rewire_cli::main_with("rewire", || {
        let cli = Cli::parse();
        match cli.command {
            Command::Infer(args) => run_infer(&args, &mut io::stdout().lock())?,
        }
        Ok(ExitCode::SUCCESS)
    })
}
