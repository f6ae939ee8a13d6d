//! `upsilon`: decode captured or piped traffic of a Megatec UPS and UPSilon 2000, and talk to them live.

use clap::Parser;

/// Decode and talk to a Megatec UPS and UPSilon 2000.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
