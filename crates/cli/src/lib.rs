//! What the rewire command-line tools (`upsilon`, `websentry`, `powerone`)
//! share, written once, and only what needs clap or a terminal: exit
//! statuses and error reporting, the stderr logger, the `decode` flags with
//! input opening and format detection, the progress bar, the confirmation
//! prompt and shell completions. Everything else lives in the libraries
//! (`rewire-host` and the device host crates).
//!
//! The tools themselves only parse arguments and wire these pieces to the
//! protocol libraries.
#![forbid(unsafe_code)]

pub mod config;
pub mod decode;
pub mod input;
pub mod logging;
pub mod mqtt;
pub mod plot;
pub mod service;
pub mod value;

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::CommandFactory;

/// Exit statuses shared by the tools (listed in each tool's `--help`).
pub mod exit {
    /// The job was done (decoding may still have met bad frames).
    pub const OK: u8 = 0;
    /// The device answered negatively (for example a wrong password), or the
    /// confirmation prompt was declined.
    pub const NEGATIVE: u8 = 1;
    /// Usage error, or the input could not be read or is not the format asked for.
    pub const USAGE: u8 = 2;
    /// The device gave no answer after every retry.
    pub const NO_ANSWER: u8 = 3;
}

/// The `--help` paragraph that lists the exit statuses.
pub const EXIT_STATUS_HELP: &str = "Exit status: 0 done (bad frames in the input are reported, not fatal), \
1 the device answered negatively or the confirmation was declined, 2 usage error or unreadable input, 3 no answer after the retries.";

/// An error that asks for a particular exit status instead of the default 2.
#[derive(Debug)]
pub struct Exit {
    code: u8,
    message: String,
}

impl Exit {
    /// Creates an error that prints `message` and exits with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Returns the exit status this error asks for.
    pub fn code(&self) -> u8 {
        self.code
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Runs a tool's `run` function and turns its outcome into an exit status.
///
/// An error prints one line, `tool: cause: cause`, on stderr and exits
/// with 2 (or the status an [`Exit`] in the chain asks for). A broken pipe
/// (`tool decode … | head`) is not an error: it exits 0 silently.
pub fn main_with(tool: &str, run: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    logging::init(tool, log::LevelFilter::Info);
    let outcome = run();
    logging::flush(std::time::Duration::from_millis(250));
    match outcome {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = err
                .chain()
                .find_map(|e| e.downcast_ref::<Exit>())
                .map_or(exit::USAGE, Exit::code);
            let line = format!("{err:#}").replace('\n', " ");
            eprintln!("{tool}: {line}");
            ExitCode::from(code)
        }
    }
}

/// Reports whether `err` was caused by writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Asks `tool: ACTION? [y/N]` on the terminal before a command that changes
/// a device, unless `yes` (the `--yes` flag) already said so.
///
/// # Errors
/// Refuses with exit status 2 when stdin is not a terminal to ask on (a
/// script must say `--yes`: a usage error), and with exit status 1 when the
/// answer is anything but yes (a declined prompt is an answer, not a usage
/// error).
pub fn confirm(tool: &str, action: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(Exit::new(
            exit::USAGE,
            format!("refusing to {action} without --yes (stdin is not a terminal to confirm on)"),
        )
        .into());
    }
    let mut err = io::stderr();
    ask(tool, action, &mut stdin.lock(), &mut err)
}

/// Asks `tool: ACTION? [y/N]` on `prompt` and reads the answer from `answer`.
///
/// # Errors
/// Exit status 1 when the answer is not yes (end of input included); the
/// error of reading or writing.
pub fn ask(
    tool: &str,
    action: &str,
    answer: &mut impl BufRead,
    prompt: &mut impl Write,
) -> anyhow::Result<()> {
    write!(prompt, "{tool}: {action}? [y/N] ")?;
    prompt.flush()?;
    let mut line = String::new();
    answer.read_line(&mut line)?;
    if is_yes(&line) {
        Ok(())
    } else {
        Err(Exit::new(exit::NEGATIVE, "cancelled; nothing was sent").into())
    }
}

/// Returns whether a prompt answer means yes (`y` or `yes`, any case).
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Writes shell completions for the tool `C` to stdout, for the command
/// name `C` declares (`#[command(name = "upsilon")]`, not the package name).
///
/// The script is generated in memory and written in one go, so a reader
/// that closes early (`| head -1`) is a broken pipe that
/// [`main_with`] turns into a quiet exit 0, not a panic in the generator.
///
/// # Errors
/// Returns the error of writing to stdout.
pub fn print_completions<C: CommandFactory>(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let script = completions::<C>(shell);
    let mut out = io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// Returns the shell completion script for the tool `C`.
pub fn completions<C: CommandFactory>(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = C::command();
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    script
}

/// Inputs at least this large get a progress bar (when stderr is a terminal).
pub const PROGRESS_THRESHOLD: u64 = 4 * 1024 * 1024;

/// Returns a progress bar for an input of `len` bytes, or `None` when stderr
/// is not a terminal or the input is small: progress never pollutes a pipe or
/// a log.
pub fn progress_bar(len: u64) -> Option<indicatif::ProgressBar> {
    if len < PROGRESS_THRESHOLD || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_and_yes_confirm() {
        for yes in ["y", "Y", "yes", "YES\n", " yes \r\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yep", "ye", "y y"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn yes_flag_skips_the_prompt() {
        assert!(confirm("tool", "do it", true).is_ok());
    }

    #[test]
    fn a_declined_prompt_exits_1_not_as_a_usage_error() {
        for answer in ["n\n", "\n", ""] {
            let mut prompt = Vec::new();
            let err = ask(
                "upsilon",
                "shut the UPS down",
                &mut answer.as_bytes(),
                &mut prompt,
            )
            .unwrap_err();
            let exit = err.downcast_ref::<Exit>().unwrap();
            assert_eq!(exit.code(), exit::NEGATIVE, "{answer:?}");
            assert_eq!(
                String::from_utf8(prompt).unwrap(),
                "upsilon: shut the UPS down? [y/N] "
            );
        }
        assert!(ask("t", "go", &mut "yes\n".as_bytes(), &mut Vec::new()).is_ok());
    }

    #[derive(clap::Parser)]
    #[command(name = "tool")]
    struct Tool {
        #[arg(long)]
        flag: bool,
    }

    #[test]
    fn completions_name_the_command_not_the_package() {
        let bash = String::from_utf8(completions::<Tool>(clap_complete::Shell::Bash)).unwrap();
        assert!(bash.contains("complete -F _tool"), "{bash}");
        assert!(!bash.contains("rewire-cli"));
    }
}
