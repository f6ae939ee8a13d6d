//! `powerone listen --tcp-relay` under a hostile neighbour's load, on
//! 127.0.0.1: each attack, then three checks — the process is alive, an
//! honest client gets its PCU reply through the relay within a second, and
//! the resident memory stays under a stated bound (VmRSS from
//! `/proc/PID/status`). Counts and times are bounded.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_powerone");
const SET_TIME: [u8; 13] = [
    0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
];
const TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
/// The bound every attack must keep the relay under.
const RSS_LIMIT_KIB: u64 = 64 * 1024;

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut t = sink.lock().unwrap();
            t.push_str(&line);
            t.push('\n');
        }
    });
    text
}

/// Waits for `needle` in a child's collected stderr and returns the
/// `127.0.0.1:PORT` word of that line.
fn address_after(log: &Arc<Mutex<String>>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = log.lock().unwrap().clone();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line
                .split_whitespace()
                .find_map(|w| {
                    let w = w.trim_start_matches("http://").trim_end_matches("/metrics");
                    w.starts_with("127.0.0.1:").then(|| w.to_owned())
                })
                .unwrap_or_else(|| panic!("no address in {line:?}"));
        }
        assert!(Instant::now() < deadline, "no {needle:?} line: {text}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A PCU simulator on TCP, and `powerone listen --tcp-relay` in front of
/// it with `--http`; stdout goes to `stdout` (a pipe nobody reads, or null).
struct Relay {
    _sim: Guard,
    relay: Guard,
    addr: String,
    http: String,
}

impl Relay {
    fn start(stdout: Stdio) -> Self {
        let mut sim = Command::new(BIN)
            .args(["simulate", "--tcp", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let sim_log = collect(sim.stderr.take().unwrap());
        let sim = Guard(sim);
        let upstream = address_after(&sim_log, "listening on");
        let mut relay = Command::new(BIN)
            .args([
                "listen",
                "--tcp-relay",
                "127.0.0.1:0",
                "--upstream",
                &upstream,
                "--http",
                "127.0.0.1:0",
                "--json",
            ])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = collect(relay.stderr.take().unwrap());
        let relay = Guard(relay);
        let http = address_after(&log, "metrics on http://");
        let addr = address_after(&log, "relaying ");
        Relay {
            _sim: sim,
            relay,
            addr,
            http,
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.relay.0.id()))
            .expect("the relay is gone");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// The three checks after an attack.
    fn assert_healthy(&mut self, attack: &str) {
        assert!(
            self.relay.0.try_wait().unwrap().is_none(),
            "{attack}: the relay died"
        );
        let started = Instant::now();
        let mut conn = TcpStream::connect(&self.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        conn.write_all(&SET_TIME).unwrap();
        let mut reply = [0u8; 8];
        conn.read_exact(&mut reply)
            .unwrap_or_else(|e| panic!("{attack}: no PCU reply within a second: {e}"));
        assert_eq!(reply, TIME_SET, "{attack}");
        assert!(started.elapsed() < Duration::from_secs(1), "{attack}");
        let rss = self.rss_kib();
        assert!(
            rss < RSS_LIMIT_KIB,
            "{attack}: {rss} KiB resident, bound {RSS_LIMIT_KIB}"
        );
    }
}

#[test]
fn a_terabyte_http_request_and_a_garbage_flood_leave_the_relay_serving() {
    let mut r = Relay::start(Stdio::null());
    let mut http = TcpStream::connect(&r.http).unwrap();
    http.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = http.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    r.assert_healthy("1 TiB Content-Length");

    // 8 MiB of bytes that are no frame, through the relay in one session.
    let mut flood = TcpStream::connect(&r.addr).unwrap();
    let junk: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x7F)
        .collect();
    let reader = {
        let mut f = flood.try_clone().unwrap();
        thread::spawn(move || {
            let mut sink = [0u8; 64 * 1024];
            while matches!(f.read(&mut sink), Ok(n) if n > 0) {}
        })
    };
    for _ in 0..128 {
        flood.write_all(&junk).unwrap();
    }
    flood.shutdown(Shutdown::Write).unwrap();
    r.assert_healthy("8 MiB garbage flood");
    drop(flood);
    let _ = reader.join();
}

#[test]
fn a_stalled_stdout_does_not_stall_the_relay_or_grow_its_memory() {
    // stdout is a pipe nobody reads: the record queue must stay bounded.
    let mut r = Relay::start(Stdio::piped());
    // 100,000 pipelined requests and their replies: 200,000 records (some
    // 60 MB of NDJSON), far beyond a pipe's 64 KiB; unbounded, the queue
    // held them all (2.6 GB after 136 MB of frames).
    const N: usize = 100_000;
    let mut conn = TcpStream::connect(&r.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let batch: Vec<u8> = SET_TIME
            .iter()
            .copied()
            .cycle()
            .take(SET_TIME.len() * 1000)
            .collect();
        for _ in 0..N / 1000 {
            writer.write_all(&batch).unwrap();
        }
    });
    let mut replies = vec![0u8; TIME_SET.len() * N];
    conn.read_exact(&mut replies)
        .expect("every reply comes back through the relay");
    sender.join().unwrap();
    assert!(replies.chunks(8).all(|c| c == TIME_SET));
    r.assert_healthy("stdout not read for 200,000 records");
}

#[test]
fn a_hundred_idle_connections_do_not_keep_an_honest_client_out() {
    let mut r = Relay::start(Stdio::null());
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&r.addr).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(200));
    r.assert_healthy("100 idle connections");
    drop(idle);
}
