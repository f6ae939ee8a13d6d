//! Hostile load: `upsilon monitor` (against its own RupsMon simulator) is
//! attacked on 127.0.0.1 as a hostile neighbour on the LAN would, with
//! bounded counts and times. After each attack three things must hold: the
//! process is alive, an honest client is served within a second (NUT `GET
//! VAR ups ups.load` and `/metrics`), and its resident memory (VmRSS from
//! /proc/PID/status) stays under [`RSS_BOUND_KIB`].

mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use support::{
    Proc, addr_after, cpu_ticks, http_get, nut, open_fds, rss_kib, set_nofile, spawn, spawn_stalled,
};

/// The resident-memory bound every check applies (debug build), KiB.
const RSS_BOUND_KIB: u64 = 48 * 1024;

/// The connection cap the monitor runs with (`--max-clients`).
const CAP: &str = "32";

struct Monitor {
    proc: Proc,
    nut: String,
    http: String,
    sms: String,
    heartbeat: String,
    _sim: Proc,
}

fn monitor(extra: &[&str], stalled: bool) -> (Monitor, Option<std::process::ChildStdout>) {
    let sim = spawn(&[
        "simulate",
        "rupsmon",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "100ms",
    ]);
    let rupsmon = addr_after(&sim.err, "listening on ");
    let mut args = vec![
        "monitor",
        "--rupsmon",
        &rupsmon,
        "--heartbeat",
        "127.0.0.1:0",
        "--sms-listen",
        "127.0.0.1:0",
        "--nut",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--json",
        "--max-clients",
        CAP,
    ];
    args.extend_from_slice(extra);
    let (proc, stdout) = if stalled {
        let (p, o) = spawn_stalled(&args);
        (p, Some(o))
    } else {
        (spawn(&args), None)
    };
    let nut_addr = addr_after(&proc.err, "nut listening on ");
    let http = addr_after(&proc.err, "metrics on http://");
    let heartbeat = addr_after(&proc.err, "heartbeats on udp ");
    let sms = addr_after(&proc.err, "sms gateway on ");
    let m = Monitor {
        proc,
        nut: nut_addr,
        http,
        sms,
        heartbeat,
        _sim: sim,
    };
    // Data flows before any attack.
    support::nut_until(&m.nut, "ups.load", Duration::from_secs(10), |r| {
        r.starts_with("VAR ups ups.load")
    });
    (m, stdout)
}

/// The three checks; `what` names the attack in a failure.
fn healthy(m: &mut Monitor, what: &str) {
    assert!(m.proc.alive(), "{what}: the monitor died");
    let started = Instant::now();
    let reply = nut(&m.nut, &["GET VAR ups ups.load"], Duration::from_secs(1));
    assert!(
        reply
            .as_ref()
            .is_some_and(|r| r[0].starts_with("VAR ups ups.load")),
        "{what}: NUT answered {reply:?}"
    );
    let metrics = http_get(&m.http, "/metrics", Duration::from_secs(1)).unwrap_or_default();
    assert!(
        metrics.contains("upsilon_load_percent"),
        "{what}: /metrics answered {metrics:.200}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{what}: honest clients took {:?}",
        started.elapsed()
    );
    let rss = rss_kib(m.proc.pid());
    eprintln!(
        "{what}: VmRSS {rss} KiB, honest clients {:?}",
        started.elapsed()
    );
    assert!(
        rss < RSS_BOUND_KIB,
        "{what}: VmRSS {rss} KiB over {RSS_BOUND_KIB}"
    );
}

#[test]
fn the_monitor_survives_every_attack_and_keeps_serving() {
    let (mut m, _) = monitor(&["--nut-idle-timeout", "2s"], false);
    healthy(&mut m, "start");

    // 1. A 1 TiB Content-Length on /metrics.
    {
        let mut s = TcpStream::connect(&m.http).unwrap();
        s.write_all(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\nabc",
        )
        .unwrap();
        thread::sleep(Duration::from_millis(200));
        healthy(&mut m, "1 TiB Content-Length");
    }

    // 2. Slow, unfinished HTTP heads: 16 connections with 64 KiB of header
    //    and no end, held open while the honest client asks.
    {
        let mut held = Vec::new();
        for _ in 0..16 {
            let mut s = TcpStream::connect(&m.http).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ");
            let _ = s.write_all(&[b'a'; 64 * 1024]);
            held.push(s);
        }
        healthy(&mut m, "unfinished HTTP heads");
    }

    // 3. NUT: 10 connections × 4 MiB without a newline.
    {
        let workers: Vec<_> = (0..10)
            .map(|_| {
                let addr = m.nut.clone();
                thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
                    let chunk = [b'x'; 64 * 1024];
                    for _ in 0..64 {
                        if s.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        healthy(&mut m, "NUT lines without a newline");
    }

    // 4. An SMS flood (2000 alerts on 4 keep-alive connections) and SMS
    //    garbage (200 connections).
    {
        let req = "GET /smssend_hide.cgi?$sms_recptmobile=1&$sms_content=PC: flood&$sms_code=1 HTTP/1.1\r\nHost: x\r\n\r\n";
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let addr = m.sms.clone();
                let req = req.repeat(500);
                thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut r = s.try_clone().unwrap();
                    let reader = thread::spawn(move || {
                        let mut sink = [0u8; 4096];
                        while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
                    });
                    let _ = s.write_all(req.as_bytes());
                    let _ = s.shutdown(std::net::Shutdown::Write);
                    reader.join().unwrap();
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        for i in 0..200u32 {
            if let Ok(mut s) = TcpStream::connect(&m.sms) {
                let _ = s.write_all(format!("\x00\x7fGARBAGE {i} \r\n\r\n").as_bytes());
            }
        }
        healthy(&mut m, "SMS flood and garbage");
    }

    // 5. UDP garbage on the heartbeat port: 5000 datagrams.
    {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..5000u32 {
            let _ = u.send_to(&i.to_le_bytes().repeat(16), &m.heartbeat);
        }
        healthy(&mut m, "UDP garbage");
    }

    // 6. 1200 idle NUT connections: at most the cap is held, the rest are
    //    closed at accept; the held ones go after the idle timeout.
    {
        let mut idle = Vec::new();
        for _ in 0..1200 {
            if let Ok(s) = TcpStream::connect(&m.nut) {
                idle.push(s);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while open_fds(m.proc.pid()) > 2 * 32 + 40 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let fds = open_fds(m.proc.pid());
        assert!(
            fds <= 2 * 32 + 40,
            "{fds} descriptors open under 1200 idle clients"
        );
        // The idle timeout (2 s) frees the slots.
        thread::sleep(Duration::from_millis(2500));
        healthy(&mut m, "1200 idle NUT connections");
        drop(idle);
    }
}

#[test]
fn a_stalled_stdout_stalls_nothing() {
    let (mut m, stdout) = monitor(&[], true);
    // Records pile up behind a stdout nobody reads: the status stream and
    // an SMS flood (~400 KiB of records, far past the pipe's 64 KiB).
    let req = "GET /smssend_hide.cgi?$sms_recptmobile=1&$sms_content=PC: stall&$sms_code=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        .repeat(2000);
    let mut s = TcpStream::connect(&m.sms).unwrap();
    let mut r = s.try_clone().unwrap();
    let reader = thread::spawn(move || {
        let mut sink = [0u8; 4096];
        while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
    });
    s.write_all(req.as_bytes()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    reader.join().unwrap();
    thread::sleep(Duration::from_secs(2));
    healthy(&mut m, "stalled stdout");
    // Fresh data still reaches NUT: the load keeps being served.
    healthy(&mut m, "stalled stdout, again");
    drop(stdout);
}

#[test]
fn listeners_outlive_descriptor_exhaustion() {
    let (mut m, _) = monitor(&[], false);
    let pid = m.proc.pid();
    let base = open_fds(pid);
    set_nofile(pid, base + 6);
    // Use up the monitor's descriptors with connections to every listener.
    let mut hogs = Vec::new();
    for _ in 0..40 {
        for addr in [&m.nut, &m.sms, &m.http] {
            if let Ok(s) = TcpStream::connect(addr.as_str()) {
                hogs.push(s);
            }
        }
    }
    // The condition is said once, not hidden.
    support::wait_line(&m.proc.err, Duration::from_secs(5), |l| {
        l.contains("cannot accept connections")
    });
    assert!(m.proc.alive(), "died out of descriptors");
    let ticks = cpu_ticks(pid);
    thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - ticks;
    assert!(
        used < 30,
        "{used} ticks of CPU in 1 s while out of descriptors"
    );
    drop(hogs);
    set_nofile(pid, 4096);
    // The listeners accept again once descriptors free up (backoff ≤ 1 s).
    let deadline = Instant::now() + Duration::from_secs(5);
    while nut(&m.nut, &["GET VAR ups ups.load"], Duration::from_secs(1))
        .is_none_or(|r| !r[0].starts_with("VAR"))
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(100));
    }
    healthy(&mut m, "descriptor exhaustion");
    let sms = support::tool(support::BIN, &["simulate", "sms", "--to", &m.sms]);
    assert!(
        sms.0 && sms.1.contains("200"),
        "SMS after exhaustion: {}",
        sms.1
    );
}

#[test]
fn simulated_rupsmon_does_not_spin_out_of_descriptors() {
    let mut sim = spawn(&[
        "simulate",
        "rupsmon",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "100ms",
    ]);
    let addr = addr_after(&sim.err, "listening on ");
    let pid = sim.pid();
    set_nofile(pid, open_fds(pid) + 4);
    let mut hogs = Vec::new();
    for _ in 0..32 {
        if let Ok(s) = TcpStream::connect(&addr) {
            hogs.push(s);
        }
    }
    support::wait_line(&sim.err, Duration::from_secs(5), |l| {
        l.contains("cannot accept connections")
    });
    let ticks = cpu_ticks(pid);
    thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - ticks;
    assert!(sim.alive(), "the simulator died out of descriptors");
    // 2 s at 100 % would be 200 ticks; 10 % is 20.
    assert!(used < 20, "{used} ticks of CPU in 2 s out of descriptors");
    drop(hogs);
    set_nofile(pid, 4096);
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = 0;
    while got == 0 && Instant::now() < deadline {
        got = c.read(&mut buf).unwrap_or(0);
    }
    assert!(
        got > 0 && buf[0] == b'(',
        "no status after descriptors freed up"
    );
}
