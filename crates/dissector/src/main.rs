//! `rewire-dissector`: writes the generated Wireshark Lua dissector.
//!
//! ```text
//! rewire-dissector [FILE]     write the Lua to FILE (default: stdout)
//! rewire-dissector --check FILE
//!                             exit 1 when FILE differs from what would be written
//! ```
//!
//! Exit statuses: 0 success, 1 `--check` found a difference, 2 usage or I/O error.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

fn run(args: &[String]) -> Result<ExitCode, String> {
    let lua = rewire_dissector::generate();
    match args {
        [] => {
            let mut out = std::io::stdout().lock();
            match out.write_all(lua.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                Err(e) => Err(format!("writing stdout: {e}")),
            }
        }
        [flag, path] if flag == "--check" => {
            let current = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            if current == lua {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "rewire-dissector: {path} is out of date; run `{}`",
                    rewire_dissector::REGENERATE
                );
                Ok(ExitCode::from(1))
            }
        }
        [path] if !path.starts_with('-') => {
            std::fs::write(path, lua).map_err(|e| format!("{path}: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        _ => Err("usage: rewire-dissector [--check] [FILE]".to_owned()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rewire-dissector: error: {e}");
            ExitCode::from(2)
        }
    }
}
