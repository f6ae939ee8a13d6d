//! Helpers for the tools' config-file and environment tests: run a tool
//! with a clean `REWIRE_*` environment, wait for a line on stderr, write
//! config files, check a refused file's one-line error.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// A directory for config files, removed on drop.
pub struct Dir(pub PathBuf);

impl Dir {
    /// Creates an empty directory under the system's temp dir.
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rewire-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A command for `bin` with no `REWIRE_*` variable inherited and `env` set.
pub fn command(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("REWIRE_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// Runs `bin` to its end (killed after 20 s).
pub fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = command(bin, args, env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    out
}

/// Runs `bin` with `--print-config` (given in `args`) and returns its stdout.
pub fn print_config(bin: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(bin, args, env);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `key = value` of `key` in a `--print-config` output, with its
/// source comment.
pub fn line<'t>(printed: &'t str, key: &str) -> &'t str {
    printed
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{printed}"))
}

/// Starts `bin` and returns the first line of `stream` (stdout or stderr)
/// containing `want`, then kills it.
pub fn first_line(
    bin: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdout: bool,
    want: &str,
) -> String {
    let mut cmd = command(bin, args, env);
    cmd.stdin(Stdio::null());
    if stdout {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let pipes: Vec<Box<dyn std::io::Read + Send>> = if stdout {
        vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ]
    } else {
        vec![Box::new(child.stderr.take().unwrap())]
    };
    for pipe in pipes {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(line) if line.contains(want) => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    found.unwrap_or_else(|| panic!("{args:?}: no line with {want:?}; saw {seen:#?}"))
}

/// Runs `bin MODE… --config FILE` with `text` as the file and checks the
/// refusal: exit 2, one line on stderr naming `FILE:LINE:` and `key`.
pub fn refused(bin: &str, mode: &[&str], dir: &Dir, text: &str, line: usize, key: &str) {
    let file = dir.file("bad.toml", text);
    let path = file.to_str().unwrap();
    let mut args = mode.to_vec();
    args.extend(["--config", path]);
    let out = run(bin, &args, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{text:?}: one line: {err}");
    assert!(err.contains(&format!("{path}:{line}: ")), "{text:?}: {err}");
    assert!(err.contains(&format!("{key:?}")), "{text:?}: {err}");
}

/// The example config files of `tool` in `contrib/config/` (named
/// `TOOL-MODE….toml`), with the mode each is for.
pub fn examples(tool: &str) -> Vec<(PathBuf, Vec<String>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/config");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if let Some(mode) = name.strip_prefix(&format!("{tool}-")) {
            let mode = mode.split('-').map(str::to_owned).collect();
            out.push((path, mode));
        }
    }
    out.sort();
    out
}

/// Loads each example config of `tool` with `--print-config`: every one
/// is accepted and every key it sets shows as from the config file.
pub fn examples_load(bin: &str, tool: &str) {
    let examples = examples(tool);
    assert!(!examples.is_empty(), "no contrib/config/{tool}-*.toml");
    for (path, mode) in examples {
        let mut args: Vec<&str> = mode.iter().map(String::as_str).collect();
        args.extend(["--config", path.to_str().unwrap(), "--print-config"]);
        let printed = print_config(bin, &args, &[]);
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = text.parse().unwrap();
        for key in table.keys() {
            assert!(
                line(&printed, key).ends_with("# config file"),
                "{}: {key}: {printed}",
                path.display()
            );
        }
    }
}
