//! The `plot` subcommand's flags, shared by the tools that draw readings
//! from captures offline (`upsilon plot`, `websentry plot`).

use std::path::PathBuf;

use anyhow::Context as _;
use rewire_page::plot::{Series, svg};

use crate::decode::DecodeArgs;
use crate::input::InputArg;

/// `plot FILE --reading NAME… -o OUT.svg`.
#[derive(Debug, Clone, clap::Args)]
pub struct PlotArgs {
    /// Input file: a pcap/pcapng capture, a hex dump, raw bytes or (websentry)
    /// a raw log. `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = InputArg::Auto)]
    pub input: InputArg,
    /// Ports to decode in captures (repeatable); replaces the device's defaults.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,
    /// A reading to draw (repeatable): its name as `/api/state` and the
    /// metrics show it (`input_voltage`, `humidity`), or a labelled one
    /// (`status_bit{bit="utility_fail"}`). One panel each.
    #[arg(long = "reading", value_name = "NAME", required = true)]
    pub readings: Vec<String>,
    /// Where to write the SVG.
    #[arg(short, long, value_name = "OUT.svg")]
    pub output: PathBuf,
}

impl PlotArgs {
    /// Returns the input flags in the shape `open_input` takes.
    #[must_use]
    pub fn decode_args(&self) -> DecodeArgs {
        DecodeArgs {
            file: self.file.clone(),
            input: self.input,
            json: false,
            ports: self.ports.clone(),
            hex: None,
            pcap_out: None,
        }
    }

    /// Returns the reading names as the plot collector takes them.
    #[must_use]
    pub fn keys(&self) -> Vec<&str> {
        self.readings.iter().map(String::as_str).collect()
    }

    /// Writes `series` as an SVG titled `title` to `--output`.
    ///
    /// # Errors
    /// When no reading has a sample (naming them), or the file cannot be
    /// written.
    pub fn write(&self, title: &str, series: &[Series]) -> anyhow::Result<()> {
        if series.iter().all(|s| s.points.is_empty()) {
            anyhow::bail!("no samples of {} in {title}", self.readings.join(", "));
        }
        std::fs::write(&self.output, svg(title, series))
            .with_context(|| self.output.display().to_string())
    }
}
