//! What the hostile and NUT-client tests share: the `upsilon` binary as a
//! child killed on every path, line readers, NUT and HTTP one-shots, and
//! the process's resident memory. 127.0.0.1 only; every wait bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_upsilon");

/// A child process killed on every path.
pub struct Proc {
    pub child: Child,
    pub out: Receiver<String>,
    pub err: Receiver<String>,
}

impl Proc {
    /// Returns the process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reports whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `upsilon ARGS`, reading its stdout and stderr line by line.
pub fn spawn(args: &[&str]) -> Proc {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn upsilon");
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    Proc { child, out, err }
}

/// Starts `upsilon ARGS` with a stdout nobody reads (a stalled consumer).
pub fn spawn_stalled(args: &[&str]) -> (Proc, std::process::ChildStdout) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn upsilon");
    let stdout = child.stdout.take().unwrap();
    let err = lines(child.stderr.take().unwrap());
    let (_tx, out) = mpsc::channel();
    (Proc { child, out, err }, stdout)
}

/// Waits for a line matching `pred`, returning it; panics with what was seen.
pub fn wait_line(rx: &Receiver<String>, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!(
        "no matching line within {timeout:?}; saw:\n{}",
        seen.join("\n")
    );
}

/// Returns what follows `prefix` on the first stderr line that has it.
pub fn addr_after(rx: &Receiver<String>, prefix: &str) -> String {
    let line = wait_line(rx, Duration::from_secs(10), |l| l.contains(prefix));
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    rest.trim().trim_end_matches("/metrics").to_owned()
}

/// Sends NUT command lines on one connection and returns the first reply
/// line of each (`None` if the server did not answer within `timeout`).
pub fn nut(addr: &str, lines: &[&str], timeout: Duration) -> Option<Vec<String>> {
    let s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    let mut w = s.try_clone().ok()?;
    let mut r = BufReader::new(s);
    let mut out = Vec::new();
    for l in lines {
        writeln!(w, "{l}").ok()?;
        let mut reply = String::new();
        if r.read_line(&mut reply).ok()? == 0 {
            return None;
        }
        // A LIST reply: read to its END line.
        if reply.starts_with("BEGIN LIST") {
            let mut all = reply.clone();
            loop {
                let mut more = String::new();
                if r.read_line(&mut more).ok()? == 0 {
                    return None;
                }
                all.push_str(&more);
                if more.starts_with("END LIST") {
                    break;
                }
            }
            reply = all;
        }
        out.push(reply.trim_end().to_owned());
    }
    Some(out)
}

/// Polls `GET VAR ups VAR` until `pred` holds (within `timeout`); returns
/// the last answer.
pub fn nut_until(addr: &str, var: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(r) = nut(
            addr,
            &[&format!("GET VAR ups {var}")],
            Duration::from_secs(1),
        ) {
            last = r.into_iter().next().unwrap_or_default();
            if pred(&last) {
                return last;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("GET VAR ups {var}: last answer {last:?}");
}

/// `GET path` over HTTP/1.0 with a read timeout; the whole response, or
/// `None` when nothing came in time.
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Resident memory of process `pid`, KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time process `pid` has used, in clock ticks (utime + stime).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Open descriptors of process `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Sets process `pid`'s soft descriptor limit with util-linux `prlimit`
/// (the hard limit stays, so it can be raised again).
pub fn set_nofile(pid: u32, limit: usize) {
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={limit}:")])
        .status()
        .expect("prlimit (util-linux) must be installed");
    assert!(status.success(), "prlimit failed");
}

/// Runs a NUT client tool and returns (success, stdout + stderr).
pub fn tool(name: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(name)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{name} must be installed (Debian nut-client): {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
