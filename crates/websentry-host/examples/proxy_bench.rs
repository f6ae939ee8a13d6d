//! Benchmark of `websentry proxy` (not a test): the latency the relay adds
//! to one frame's round trip, and many concurrent sessions.
//!
//! `cargo run --release -p rewire-websentry-host --example proxy_bench [ROUND_TRIPS] [SESSIONS] [BACKLOG]`
//!
//! An echo server stands in for the cloud. Latency: the same frame is sent
//! and read back ROUND_TRIPS times (default 2000) directly and through an
//! in-process proxy; the difference of the medians is the added latency per
//! round trip (two relay hops). Concurrency: SESSIONS (default 500) units
//! connect at once, each sends 20 frames one round trip at a time and checks
//! every echoed byte. BACKLOG (default 1024) is the relay's listen backlog
//! (128 reproduces std's fixed one).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rewire_host::sink::Fanout;
use rewire_websentry::{FunctionCode, encode_frame};
use rewire_websentry_host::proxy::{Proxy, ProxyConfig};

fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            let _ = s.set_nodelay(true);
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut r = s.try_clone().expect("clone");
                    let _ = std::io::copy(&mut r, &mut s);
                    let _ = s.shutdown(Shutdown::Write);
                })
                .expect("echo thread");
        }
    });
    addr
}

fn query_frame(n: u16) -> Vec<u8> {
    let mut body = Vec::new();
    for id in 0..16u16 {
        body.extend_from_slice(&(0x0600 + id + n % 4).to_be_bytes());
        body.push(0x0f);
    }
    let mut buf = vec![0u8; body.len() + 8];
    let len = encode_frame(FunctionCode::QUERY, &body, &mut buf).expect("encode");
    buf.truncate(len);
    buf
}

fn round_trips(addr: SocketAddr, count: usize) -> Vec<Duration> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let frame = query_frame(0);
    let mut back = vec![0u8; frame.len()];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        s.write_all(&frame).expect("write");
        s.read_exact(&mut back).expect("read");
        times.push(t.elapsed());
        assert_eq!(back, frame);
    }
    times
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let sessions: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let backlog: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);

    let echo = echo_server();
    let mut config = ProxyConfig::new("127.0.0.1:0".parse().expect("addr"), echo.to_string());
    config.backlog = backlog;
    let proxy = Proxy::start(config, Fanout::new()).expect("proxy");
    let proxy_addr = proxy.local_addr();
    println!("listen backlog {backlog}");

    let mut direct = round_trips(echo, count);
    let mut relayed = round_trips(proxy_addr, count);
    direct.sort();
    relayed.sort();
    let (d50, r50) = (percentile(&direct, 0.5), percentile(&relayed, 0.5));
    let (d99, r99) = (percentile(&direct, 0.99), percentile(&relayed, 0.99));
    println!(
        "round trips of a {}-byte frame: {count}",
        query_frame(0).len()
    );
    println!("  direct   median {d50:?}  p99 {d99:?}");
    println!("  proxied  median {r50:?}  p99 {r99:?}");
    println!(
        "  added per round trip (two relay hops): median {:?}, p99 {:?}",
        r50.saturating_sub(d50),
        r99.saturating_sub(d99)
    );

    let start = Instant::now();
    let handles: Vec<_> = (0..sessions)
        .map(|i| {
            thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut s = TcpStream::connect(proxy_addr).expect("connect");
                    s.set_nodelay(true).expect("nodelay");
                    let mut worst = Duration::ZERO;
                    for k in 0..20u16 {
                        let frame = query_frame(u16::try_from(i).unwrap_or(0) ^ k);
                        let mut back = vec![0u8; frame.len()];
                        let t = Instant::now();
                        s.write_all(&frame).expect("write");
                        s.read_exact(&mut back).expect("read");
                        worst = worst.max(t.elapsed());
                        assert_eq!(back, frame, "session {i} frame {k}");
                    }
                    s.shutdown(Shutdown::Write).expect("shutdown");
                    let mut rest = Vec::new();
                    s.read_to_end(&mut rest).expect("read to end");
                    assert!(rest.is_empty());
                    worst
                })
                .expect("session thread")
        })
        .collect();
    let mut worst: Vec<Duration> = handles
        .into_iter()
        .map(|h| h.join().expect("session"))
        .collect();
    let elapsed = start.elapsed();
    worst.sort();
    println!(
        "{sessions} concurrent sessions x 20 round trips: {elapsed:?} total, {:.0} frames/s relayed \
         (both ways), slowest round trip median {:?}, max {:?}",
        (sessions * 20 * 2) as f64 / elapsed.as_secs_f64(),
        percentile(&worst, 0.5),
        percentile(&worst, 1.0)
    );
    let metrics = proxy.store().render_metrics(std::time::SystemTime::now());
    let sessions_line = metrics
        .lines()
        .find(|l| l.starts_with("websentry_sessions_total"))
        .unwrap_or("");
    println!("proxy counted: {sessions_line}");
    proxy.shutdown();
}
