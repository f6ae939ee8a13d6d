//! What the websentry CLI tests share: the binary as a child killed on
//! every path, with its stdout and stderr lines on one channel.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_websentry");
pub const WAIT: Duration = Duration::from_secs(20);

/// Kills its child on every path.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `websentry ARGS`, returning the guard and a channel of its output
/// lines: stdout (session reports) and stderr (the "listening on" start-up
/// lines) both.
pub fn spawn(args: &[&str]) -> (Guard, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn websentry");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    forward(stdout, tx.clone());
    forward(stderr, tx);
    (Guard(child), rx)
}

pub fn forward(stream: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

pub fn line(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let l = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line starting with {prefix:?}"));
        if let Some(rest) = l.strip_prefix(prefix) {
            return rest.trim().to_string();
        }
    }
}
