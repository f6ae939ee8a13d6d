//! `powerone`: decode captured or piped traffic of Power-One PCU controllers, and talk to them live.
//!
//! Skeleton: the `decode` subcommand arrives with issue #7.

use clap::Parser;

/// Decode and talk to Power-One PCU controllers.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
