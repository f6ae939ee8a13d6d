//! Input selection: where the bytes come from (`FILE`, `-` for stdin, or
//! `--hex` on the command line) and what format they are in.

use std::fmt;
use std::path::PathBuf;

/// The `--input` formats every `decode` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputArg {
    /// Detect: pcap/pcapng by magic, the WebSentry raw-log JSON, hex text, else raw bytes.
    Auto,
    /// A pcap or pcapng capture.
    Pcap,
    /// A hex dump as serial monitors write it.
    Hex,
    /// Raw bytes, as read from the line.
    Raw,
    /// The JSON raw log of the original WebSentry exporter (websentry only,
    /// so not listed in the other tools' help; websentry's help names it).
    #[value(hide = true)]
    WmpeJson,
}

/// Where the input bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (`-`, or no file given).
    Stdin,
    /// Hex text given on the command line (`--hex "FF 08 00 …"`).
    Inline(String),
}

impl InputSource {
    /// Chooses the source from the `FILE` argument and the `--hex` flag;
    /// `--hex` wins, no file or `-` means stdin.
    pub fn from_args(file: Option<PathBuf>, hex: Option<String>) -> Self {
        match (hex, file) {
            (Some(text), _) => Self::Inline(text),
            (None, Some(path)) if path.as_os_str() != "-" => Self::File(path),
            (None, _) => Self::Stdin,
        }
    }
}

impl fmt::Display for InputSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Stdin => f.write_str("<stdin>"),
            Self::Inline(_) => f.write_str("--hex"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_wins_and_dash_is_stdin() {
        assert_eq!(
            InputSource::from_args(Some("a.pcap".into()), Some("ff".into())),
            InputSource::Inline("ff".into())
        );
        assert_eq!(
            InputSource::from_args(Some("-".into()), None),
            InputSource::Stdin
        );
        assert_eq!(InputSource::from_args(None, None), InputSource::Stdin);
        assert_eq!(
            InputSource::from_args(Some("x.hex".into()), None),
            InputSource::File("x.hex".into())
        );
    }
}
