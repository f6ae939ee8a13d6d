//! `websentry`: decode captured or piped traffic of WebSentry dehumidifiers, and talk to them live.
//!
//! Skeleton: the `decode` subcommand arrives with issue #7.

use clap::Parser;

/// Decode and talk to WebSentry dehumidifiers.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
