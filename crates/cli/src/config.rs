//! Options of the long-running modes from a TOML file (`--config FILE`) and
//! from `REWIRE_*` environment variables, with clap as the one definition
//! of every option.
//!
//! A tool lists its long-running modes as subcommand paths
//! (`&["monitor"]`, `&["simulate", "unit"]`). [`command`] gives each of
//! them `--config FILE` (also `REWIRE_CONFIG`) and `--print-config`, and
//! gives each of their options an environment variable: `REWIRE_` and the
//! long flag name in capitals, `-` as `_` (`--http` is `REWIRE_HTTP`,
//! `--mqtt-interval` is `REWIRE_MQTT_INTERVAL`).
//!
//! A config file is flat: each key is a long flag name without its dashes
//! (`http = "127.0.0.1:9100"`, `mqtt-interval = "30s"`, `json = true`), the
//! value a string, a number, `true`/`false` for a flag, or an array for an
//! option given more than once. Every value goes through the option's own
//! value parser, and the file's options are handed to clap as if typed
//! after the subcommand, so `required`, `requires` and `conflicts_with`
//! hold for them as for flags. A key is left out when the same option came
//! from the command line or its environment variable, or when it conflicts
//! with an option given on the command line: command line, then
//! environment, then file, then the built-in default.
//!
//! An unknown key, a value of the wrong type or a value the option's
//! parser refuses is one line naming the file, the line and the key
//! (`monitor.toml:3: key "http": …`), exit status 2.
//!
//! `--print-config` prints the merged options as a config file that
//! `--config` reads back, each line commented with where its value came
//! from, and exits 0.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

/// The environment variable `--config` may come from.
pub const CONFIG_ENV: &str = "REWIRE_CONFIG";

/// The prefix of every option's environment variable.
pub const ENV_PREFIX: &str = "REWIRE_";

/// The id of the `--config` argument added to each mode.
const CONFIG_ID: &str = "config";
/// The id of the `--print-config` argument added to each mode.
const PRINT_ID: &str = "print_config";

/// What a parse asks the tool to do.
#[derive(Debug)]
pub enum Parsed<C> {
    /// Run with these arguments.
    Run(C),
    /// Print this merged configuration (TOML) and exit 0.
    Print(String),
}

/// Why the arguments or the config file were refused.
#[derive(Debug)]
pub enum Error {
    /// What clap says about the command line or the environment (help and
    /// version included, which it prints and exits 0 for).
    Clap(clap::Error),
    /// One line about the config file: file, line, key and what is wrong.
    File(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Clap(e) => write!(f, "{}", one_line(e)),
            Error::File(line) => f.write_str(line),
        }
    }
}

impl std::error::Error for Error {}

/// Returns the environment variable of the option with this long name
/// (`mqtt-interval` → `REWIRE_MQTT_INTERVAL`).
#[must_use]
pub fn env_name(long: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        long.to_ascii_uppercase().replace('-', "_")
    )
}

/// Returns the command of `C` with `--config`, `--print-config` and the
/// `REWIRE_*` variables on the modes at `modes` (subcommand paths).
#[must_use]
pub fn command<C: CommandFactory>(modes: &[&[&str]]) -> Command {
    let mut cmd = C::command();
    for path in modes {
        cmd = with_mode(cmd, path);
    }
    cmd
}

/// Adds the config flags to the mode at `path` below `cmd`, and the
/// environment variables to its options and to the global options of the
/// commands on the way.
fn with_mode(cmd: Command, path: &[&str]) -> Command {
    let cmd = cmd.mut_args(|a| {
        if path.is_empty() || a.is_global_set() {
            with_env(a)
        } else {
            a
        }
    });
    match path.split_first() {
        Some((name, rest)) => cmd.mut_subcommand(name, |sub| with_mode(sub, rest)),
        None => cmd
            .arg(
                Arg::new(CONFIG_ID)
                    .long("config")
                    .value_name("FILE")
                    .env(CONFIG_ENV)
                    .value_parser(clap::value_parser!(PathBuf))
                    .global(true)
                    .help_heading("Configuration")
                    .help("Read options from this TOML file (keys are the long flag names: http = \"9100\"); flags and REWIRE_* variables win over it"),
            )
            .arg(
                Arg::new(PRINT_ID)
                    .long("print-config")
                    .action(ArgAction::SetTrue)
                    .global(true)
                    .help_heading("Configuration")
                    .help("Print the merged options (flags > REWIRE_* environment > --config file > defaults) as a config file, and exit"),
            ),
    }
}

/// Gives an option its `REWIRE_*` variable; a flag takes any of
/// true/false, yes/no, on/off, 1/0 there.
fn with_env(a: Arg) -> Arg {
    if a.is_positional()
        || matches!(
            a.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        )
    {
        return a;
    }
    let Some(long) = a.get_long() else { return a };
    let env = env_name(long);
    let a = a.env(env);
    if matches!(a.get_action(), ArgAction::SetTrue) {
        a.value_parser(BoolishValueParser::new())
    } else {
        a
    }
}

/// Parses the process's arguments for the tool `tool` (whose long-running
/// modes are `modes`), reading `--config` and the environment; prints
/// `--print-config` and clap's help, and exits, as clap's `parse` does.
/// A bad config file is one line, `tool: FILE:LINE: key "KEY": …`, exit 2.
pub fn parse<C: CommandFactory + FromArgMatches>(tool: &str, modes: &[&[&str]]) -> C {
    match try_parse_from::<C>(modes, std::env::args_os()) {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Print(text)) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let code = i32::from(
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .is_err(),
            );
            std::process::exit(code)
        }
        Err(Error::Clap(e)) => e.exit(),
        Err(Error::File(line)) => {
            eprintln!("{tool}: {line}");
            std::process::exit(i32::from(crate::exit::USAGE))
        }
    }
}

/// Parses `args` (the program name first) as [`parse`] does, without
/// printing or exiting.
///
/// # Errors
/// [`Error::Clap`] for what clap refuses (and for help and version);
/// [`Error::File`] for an unreadable or bad config file.
pub fn try_parse_from<C: CommandFactory + FromArgMatches>(
    modes: &[&[&str]],
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Parsed<C>, Error> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cmd = command::<C>(modes);
    // A first look, forgiving missing options the file may supply, finds
    // the mode and its --config; help and version end here too.
    let first = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&args)
        .map_err(Error::Clap)?;
    let path = subcommand_path(&first);
    let Some(mode_len) = modes
        .iter()
        .filter(|m| path.len() >= m.len() && path.iter().zip(m.iter()).all(|(a, b)| a == b))
        .map(|m| m.len())
        .max()
    else {
        return finish(cmd, &args, &[], None);
    };
    let mode = &path[..mode_len];
    let levels = levels(&first, mode);
    let print = levels
        .last()
        .and_then(|m| m.try_get_one::<bool>(PRINT_ID).ok().flatten())
        .copied()
        .unwrap_or(false);
    let file = levels
        .iter()
        .rev()
        .find_map(|m| m.try_get_one::<PathBuf>(CONFIG_ID).ok().flatten().cloned());
    let mut injected = Vec::new();
    let mut from_file = BTreeSet::new();
    if let Some(file) = &file {
        let mut built = cmd.clone();
        built.build();
        let mode_cmd =
            find(&built, mode).ok_or_else(|| Error::File(format!("no mode {mode:?}")))?;
        let explicit = explicit_ids(&levels);
        for (key, line, values) in load(file)? {
            let arg = option(mode_cmd, &key).ok_or_else(|| {
                Error::File(format!(
                    "{}:{line}: unknown key {key:?}: not an option of `{} {}`",
                    file.display(),
                    built.get_name(),
                    mode.join(" ")
                ))
            })?;
            let tokens = tokens(file, line, &key, arg, values)?;
            for token in &tokens {
                check_value(&built, mode, token).map_err(|e| {
                    Error::File(format!(
                        "{}:{line}: key {key:?}: {}",
                        file.display(),
                        one_line(&e)
                    ))
                })?;
            }
            let id = arg.get_id().as_str();
            let env_set = arg
                .get_env()
                .and_then(std::env::var_os)
                .is_some_and(|v| !v.is_empty());
            if explicit.contains(id) || env_set || conflicts(mode_cmd, arg, &explicit) {
                continue;
            }
            from_file.insert(id.to_owned());
            injected.extend(tokens);
        }
    }
    let args = insert_after(&args, mode, injected);
    let print_info = print.then(|| Print {
        mode: mode.iter().map(|s| (*s).to_owned()).collect(),
        file,
        from_file,
    });
    finish(cmd, &args, mode, print_info)
}

/// What `--print-config` needs besides the matches.
struct Print {
    mode: Vec<String>,
    file: Option<PathBuf>,
    from_file: BTreeSet<String>,
}

fn finish<C: FromArgMatches>(
    mut cmd: Command,
    args: &[OsString],
    mode: &[String],
    print: Option<Print>,
) -> Result<Parsed<C>, Error> {
    let matches = cmd.try_get_matches_from_mut(args).map_err(Error::Clap)?;
    if let Some(print) = print {
        cmd.build();
        let mode_cmd = find(&cmd, mode).unwrap_or(&cmd);
        let levels = levels(&matches, mode);
        let Some(m) = levels.last() else {
            return Err(Error::File("no mode".into()));
        };
        return Ok(Parsed::Print(render(&cmd, mode_cmd, m, &print)));
    }
    C::from_arg_matches(&matches)
        .map(Parsed::Run)
        .map_err(|e| Error::Clap(e.format(&mut cmd)))
}

/// Returns the names of the subcommands the matches went through.
fn subcommand_path(m: &ArgMatches) -> Vec<String> {
    let mut path = Vec::new();
    let mut m = m;
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_owned());
        m = sub;
    }
    path
}

/// Returns the matches of the tool and of each subcommand down to `mode`.
fn levels<'m>(m: &'m ArgMatches, mode: &[String]) -> Vec<&'m ArgMatches> {
    let mut out = vec![m];
    let mut m = m;
    for name in mode {
        match m.subcommand_matches(name) {
            Some(sub) => {
                out.push(sub);
                m = sub;
            }
            None => break,
        }
    }
    out
}

/// Finds the subcommand at `path` in a built command.
fn find<'c>(cmd: &'c Command, path: &[String]) -> Option<&'c Command> {
    path.iter().try_fold(cmd, |c, name| c.find_subcommand(name))
}

/// The ids given on the command line (or by their variables), read at the
/// mode's level, where clap also puts the global options' values.
fn explicit_ids(levels: &[&ArgMatches]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    if let Some(m) = levels.last() {
        for id in m.ids() {
            if matches!(
                m.value_source(id.as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            ) {
                ids.insert(id.as_str().to_owned());
            }
        }
    }
    ids
}

/// Whether `arg` conflicts, either way round, with an option given.
fn conflicts(mode: &Command, arg: &Arg, explicit: &BTreeSet<String>) -> bool {
    mode.get_arguments()
        .filter(|other| explicit.contains(other.get_id().as_str()))
        .any(|other| {
            mode.get_arg_conflicts_with(arg)
                .iter()
                .any(|c| c.get_id() == other.get_id())
                || mode
                    .get_arg_conflicts_with(other)
                    .iter()
                    .any(|c| c.get_id() == arg.get_id())
        })
}

/// Returns the option a config key names, if the mode has it.
fn option<'c>(mode: &'c Command, key: &str) -> Option<&'c Arg> {
    mode.get_arguments()
        .find(|a| configurable(a) && a.get_long() == Some(key))
}

/// Whether an option may be in a config file (not help, version or the
/// config flags themselves).
fn configurable(a: &Arg) -> bool {
    !a.is_positional()
        && !matches!(
            a.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        )
        && a.get_id() != CONFIG_ID
        && a.get_id() != PRINT_ID
}

/// One value of a config key, as text, or a flag.
#[derive(Debug, Clone, PartialEq)]
enum FileValue {
    Text(String),
    Bool(bool),
    /// What cannot be an option's value (a table, a date, a nested array).
    Other(&'static str),
}

/// One key of a config file: its name, its line, its values.
type Entry = (String, usize, Vec<FileValue>);

/// Reads and parses a config file into its entries, in file order.
fn load(path: &Path) -> Result<Vec<Entry>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::File(format!("cannot read config file {}: {e}", path.display())))?;
    parse_text(&text)
        .map_err(|(line, msg)| Error::File(format!("{}:{line}: {msg}", path.display())))
}

/// Parses config text into (key, line, values), or (line, message).
fn parse_text(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    use toml::de::{DeTable, DeValue};
    let line_of = |offset: usize| {
        text.get(..offset)
            .map_or(1, |t| t.matches('\n').count() + 1)
    };
    let table = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(s.start));
        (line, e.message().replace('\n', " ").trim().to_owned())
    })?;
    let scalar = |v: &DeValue<'_>| match v {
        DeValue::String(s) => FileValue::Text(s.to_string()),
        DeValue::Integer(i) => FileValue::Text(
            i64::from_str_radix(i.as_str(), i.radix())
                .map_or_else(|_| i.to_string(), |n| n.to_string()),
        ),
        DeValue::Float(f) => FileValue::Text(f.as_str().to_owned()),
        DeValue::Boolean(b) => FileValue::Bool(*b),
        DeValue::Datetime(_) => FileValue::Other("a date"),
        DeValue::Array(_) => FileValue::Other("a nested array"),
        DeValue::Table(_) => FileValue::Other("a table"),
    };
    let mut out: Vec<Entry> = table
        .get_ref()
        .iter()
        .map(|(key, value)| {
            let values = match value.get_ref() {
                DeValue::Array(items) => items.iter().map(|v| scalar(v.get_ref())).collect(),
                DeValue::Table(_) => vec![FileValue::Other("a table")],
                other => vec![scalar(other)],
            };
            (key.get_ref().to_string(), line_of(key.span().start), values)
        })
        .collect();
    out.sort_by_key(|(_, line, _)| *line);
    Ok(out)
}

/// Turns a key's values into command-line tokens for `arg`, or says what
/// type was expected.
fn tokens(
    file: &Path,
    line: usize,
    key: &str,
    arg: &Arg,
    values: Vec<FileValue>,
) -> Result<Vec<OsString>, Error> {
    let long = arg.get_long().unwrap_or(key);
    let bad = |what: &str| Error::File(format!("{}:{line}: key {key:?}: {what}", file.display()));
    let flag = matches!(arg.get_action(), ArgAction::SetTrue);
    let many = matches!(arg.get_action(), ArgAction::Append);
    if values.len() != 1 && !many {
        return Err(bad("expected one value, found an array"));
    }
    let mut out = Vec::new();
    for value in values {
        match (value, flag) {
            (FileValue::Bool(true), true) => out.push(OsString::from(format!("--{long}"))),
            (FileValue::Bool(false), true) => {}
            (_, true) => return Err(bad("expected true or false (a flag)")),
            (FileValue::Text(t), false) => out.push(OsString::from(format!("--{long}={t}"))),
            (FileValue::Bool(_), false) => {
                return Err(bad(
                    "expected a string or a number, found a boolean (only flags take true/false)",
                ));
            }
            (FileValue::Other(what), false) => {
                return Err(bad(&format!("expected a string or a number, found {what}")));
            }
        }
    }
    Ok(out)
}

/// Runs one option token through clap alone, to learn whether its value
/// parser takes it; anything but a value error (a missing option) is fine.
fn check_value(built: &Command, mode: &[String], token: &OsStr) -> Result<(), clap::Error> {
    let mut args: Vec<OsString> = vec![built.get_name().into()];
    args.extend(mode.iter().map(OsString::from));
    args.push(token.to_owned());
    match built.clone().try_get_matches_from(args) {
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::InvalidValue
                    | clap::error::ErrorKind::ValueValidation
                    | clap::error::ErrorKind::InvalidUtf8
                    | clap::error::ErrorKind::TooManyValues
                    | clap::error::ErrorKind::WrongNumberOfValues
            ) =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Puts `injected` right after the mode's subcommand names in `args`.
fn insert_after(args: &[OsString], mode: &[String], injected: Vec<OsString>) -> Vec<OsString> {
    let mut at = None;
    let mut k = 0;
    for (i, a) in args.iter().enumerate().skip(1) {
        if k < mode.len() && a.to_str() == Some(mode[k].as_str()) {
            k += 1;
            if k == mode.len() {
                at = Some(i + 1);
                break;
            }
        }
    }
    let mut out = args.to_vec();
    if let Some(at) = at {
        out.splice(at..at, injected);
    }
    out
}

/// Turns clap's message into one line: no `error:` prefix, no usage, no
/// hint to try --help.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    parts.join(" ").trim_start_matches("error: ").to_owned()
}

/// Renders the merged options as a config file.
fn render(tool: &Command, mode: &Command, m: &ArgMatches, print: &Print) -> String {
    let mut out = format!(
        "# {} {}: options merged from the command line, REWIRE_* variables, {} and defaults\n",
        tool.get_name(),
        print.mode.join(" "),
        print.file.as_ref().map_or_else(
            || "no config file".to_owned(),
            |f| format!("--config {}", f.display())
        ),
    );
    for arg in mode.get_arguments().filter(|a| configurable(a)) {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        let source = match m.value_source(id) {
            Some(ValueSource::CommandLine) if print.from_file.contains(id) => {
                "config file".to_owned()
            }
            Some(ValueSource::CommandLine) => "command line".to_owned(),
            Some(ValueSource::EnvVariable) => arg.get_env().map_or_else(
                || "environment".to_owned(),
                |e| e.to_string_lossy().into_owned(),
            ),
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => continue,
        };
        let value = if matches!(arg.get_action(), ArgAction::SetTrue) {
            toml::Value::Boolean(m.get_flag(id))
        } else {
            let Some(raw) = m.get_raw(id) else { continue };
            let items: Vec<toml::Value> = raw.map(|r| text_value(&r.to_string_lossy())).collect();
            match (items.len(), arg.get_action()) {
                (_, ArgAction::Append) => toml::Value::Array(items),
                (1, _) => items
                    .into_iter()
                    .next()
                    .unwrap_or(toml::Value::Boolean(false)),
                _ => toml::Value::Array(items),
            }
        };
        let _ = writeln!(out, "{long} = {value} # {source}");
    }
    out
}

/// A raw value as TOML: an integer when it reads back as the same text,
/// else a string (so `2.280` keeps its digits).
fn text_value(raw: &str) -> toml::Value {
    match raw.parse::<i64>() {
        Ok(n) if n.to_string() == raw => toml::Value::Integer(n),
        _ => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(name = "tool")]
    struct Tool {
        #[arg(short, long, global = true)]
        verbose: bool,
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Cmd {
        Serve {
            #[arg(long, value_parser = crate::value::listen_addr)]
            http: Option<std::net::SocketAddr>,
            #[arg(long, default_value = "5s", value_parser = crate::value::duration)]
            interval: std::time::Duration,
            #[arg(long)]
            connect: String,
            #[arg(long, conflicts_with = "connect")]
            other: Option<String>,
            #[arg(long)]
            json: bool,
            #[arg(long, requires = "json")]
            pretty: bool,
        },
        Decode {
            #[arg(long)]
            json: bool,
        },
    }

    const MODES: &[&[&str]] = &[&["serve"]];

    fn file(text: &str) -> tempfile_lite::File {
        tempfile_lite::File::new(text)
    }

    /// A config file in the temp directory, removed on drop.
    mod tempfile_lite {
        use std::path::PathBuf;
        use std::sync::atomic::{AtomicU32, Ordering};

        pub struct File(pub PathBuf);

        impl File {
            pub fn new(text: &str) -> Self {
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "rewire-config-test-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::write(&path, text).unwrap();
                Self(path)
            }
        }

        impl Drop for File {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn run(args: &[&str]) -> Result<Parsed<Tool>, Error> {
        try_parse_from::<Tool>(MODES, std::iter::once("tool").chain(args.iter().copied()))
    }

    fn serve(args: &[&str]) -> Cmd {
        match run(args) {
            Ok(Parsed::Run(t)) => t.cmd,
            other => panic!("{other:?}"),
        }
    }

    fn file_error(args: &[&str]) -> String {
        match run(args) {
            Err(Error::File(line)) => line,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("http"), "REWIRE_HTTP");
        assert_eq!(env_name("mqtt-password-file"), "REWIRE_MQTT_PASSWORD_FILE");
        let cmd = command::<Tool>(MODES);
        let serve = cmd.find_subcommand("serve").unwrap();
        let http = serve
            .get_arguments()
            .find(|a| a.get_id() == "http")
            .unwrap();
        assert_eq!(http.get_env(), Some(OsStr::new("REWIRE_HTTP")));
        let decode = cmd.find_subcommand("decode").unwrap();
        assert!(
            decode.get_arguments().all(|a| a.get_env().is_none()),
            "only modes read the environment"
        );
    }

    #[test]
    fn a_file_supplies_required_options_and_flags_win() {
        let f = file(
            "# a comment\nconnect = \"h:1\"\nhttp = 9100\ninterval = \"2s\"\njson = true\nverbose = true\n",
        );
        let p = f.0.to_str().unwrap();
        let Cmd::Serve {
            http,
            interval,
            connect,
            json,
            ..
        } = serve(&["serve", "--config", p])
        else {
            panic!()
        };
        assert_eq!(http, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(interval, std::time::Duration::from_secs(2));
        assert_eq!(connect, "h:1");
        assert!(json);
        let Cmd::Serve {
            interval, connect, ..
        } = serve(&["serve", "--config", p, "--interval", "7s", "--connect=x:2"])
        else {
            panic!()
        };
        assert_eq!(interval, std::time::Duration::from_secs(7));
        assert_eq!(connect, "x:2");
        // The file's connect conflicts with nothing given; --other given on
        // the command line drops the file's conflicting connect... which
        // is then missing, as clap says.
        assert!(matches!(
            run(&["serve", "--config", p, "--other", "y"]),
            Err(Error::Clap(_))
        ));
        // A file's flag satisfies another file option's `requires`.
        let f2 = file("connect = \"h:1\"\npretty = true\njson = true\n");
        assert!(matches!(
            serve(&["serve", "--config", f2.0.to_str().unwrap()]),
            Cmd::Serve { pretty: true, .. }
        ));
    }

    #[test]
    fn bad_files_are_one_line_with_file_line_and_key() {
        let cases = [
            (
                "connect = \"h:1\"\n\nbogus = 1\n",
                3,
                "unknown key \"bogus\"",
            ),
            (
                "connect = \"h:1\"\nhttp = true\n",
                2,
                "key \"http\": expected a string or a number",
            ),
            (
                "json = \"yes\"\n",
                1,
                "key \"json\": expected true or false",
            ),
            (
                "connect = \"h:1\"\n\n\ninterval = \"5\"\n",
                4,
                "key \"interval\"",
            ),
            ("http = [1, 2]\n", 1, "key \"http\": expected one value"),
            ("[http]\nport = 1\n", 1, "key \"http\""),
            ("json = true\nconnect = = 2\n", 2, ""),
            ("help = true\n", 1, "unknown key \"help\""),
        ];
        for (text, line, want) in cases {
            let f = file(text);
            let p = f.0.to_str().unwrap();
            let err = file_error(&["serve", "--config", p]);
            assert!(err.starts_with(&format!("{p}:{line}: ")), "{text:?}: {err}");
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = file_error(&["serve", "--config", "/nonexistent/x.toml"]);
        assert!(err.contains("/nonexistent/x.toml"), "{err}");
    }

    #[test]
    fn print_config_round_trips() {
        let f = file("connect = \"h:1\"\nhttp = \"127.0.0.1:9100\"\n");
        let p = f.0.to_str().unwrap();
        let Ok(Parsed::Print(text)) =
            run(&["serve", "--config", p, "--interval", "3s", "--print-config"])
        else {
            panic!()
        };
        assert!(text.contains("connect = \"h:1\" # config file"), "{text}");
        assert!(text.contains("interval = \"3s\" # command line"), "{text}");
        assert!(text.contains("json = false # default"), "{text}");
        assert!(
            !text.contains("other"),
            "unset options are left out: {text}"
        );
        let again = file(&text);
        let Ok(Parsed::Print(text2)) = run(&[
            "serve",
            "--config",
            again.0.to_str().unwrap(),
            "--print-config",
        ]) else {
            panic!()
        };
        let values = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.split(" # ").next().unwrap().to_owned())
                .collect()
        };
        assert_eq!(values(&text), values(&text2));
    }

    #[test]
    fn other_subcommands_parse_as_before() {
        assert!(matches!(
            run(&["decode", "--json"]),
            Ok(Parsed::Run(Tool {
                cmd: Cmd::Decode { json: true },
                ..
            }))
        ));
        assert!(matches!(
            run(&["decode", "--config", "x"]),
            Err(Error::Clap(_))
        ));
    }
}
