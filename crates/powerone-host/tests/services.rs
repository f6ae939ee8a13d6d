//! The long-running modes as services: each starts in-process, works, and
//! stops within a second on `shutdown()`; a stalled output drops and counts
//! instead of holding messages.
#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rewire_host::sink::{Fanout, Sink};
use rewire_powerone_host::link::{LinkSpec, READ_TICK, open_link};
use rewire_powerone_host::master::{Action, Master, Verdict};
use rewire_powerone_host::message::{Body, Change, Message};
use rewire_powerone_host::simulator::{Pcu, SimConfig, Simulator, local_now};
use rewire_powerone_host::tally::{Tally, TallySink};
use rewire_powerone_host::tap::{Source, Tap, TapConfig};
use rewire_transport::link::{Listener, Pty, RequestPolicy};

const SET_TIME: [u8; 13] = [
    0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
];
const TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

/// Collects every message.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Message>>>);

impl Sink<Message> for Collect {
    fn name(&self) -> &str {
        "collect"
    }
    fn observe(&mut self, m: &Message) {
        self.0.lock().unwrap().push(m.clone());
    }
}

/// Takes nothing until told to (a stdout nobody reads).
struct Stalled(mpsc::Receiver<()>);

impl Sink<Message> for Stalled {
    fn name(&self) -> &str {
        "stalled"
    }
    fn observe(&mut self, _: &Message) {
        let _ = self.0.recv_timeout(Duration::from_secs(30));
    }
}

fn pcu() -> Pcu {
    Pcu::new(SimConfig::default(), local_now())
}

fn timed(stop: impl FnOnce()) -> Duration {
    let started = Instant::now();
    stop();
    started.elapsed()
}

#[test]
fn the_tcp_simulator_answers_reports_and_stops_within_a_second() {
    let listener = Listener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().to_string();
    let seen = Collect::default();
    let mut fanout = Fanout::new();
    fanout.add(seen.clone(), 64);
    let sim = Simulator::serve_tcp(listener, pcu(), fanout).unwrap();
    let spec = LinkSpec::Tcp { target };
    let link = open_link(&spec, Duration::from_secs(1)).unwrap();
    let mut master = Master::new(link, &spec.to_string(), 1, RequestPolicy::default());
    let mut sent = Vec::new();
    let report = master
        .run(&Action::SetPassword("4321".into()), &mut |m| sent.push(m))
        .unwrap();
    assert!(matches!(report.verdict, Verdict::Done { attempts: 1 }));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sim.pcu().lock().unwrap().password(), "4321");
    // The client stays connected while the simulator stops.
    let took = timed(|| sim.shutdown());
    assert!(took < Duration::from_secs(1), "{took:?}");
    let seen = seen.0.lock().unwrap();
    assert!(
        seen.iter()
            .any(|m| m.body == Body::Change(Change::Password("4321".into()))),
        "{seen:?}"
    );
    drop(master);
}

#[test]
fn the_pty_simulator_stops_within_a_second() {
    let pty = Pty::open(READ_TICK).unwrap();
    let sim = Simulator::serve_pty(pty, pcu(), Fanout::new()).unwrap();
    thread::sleep(Duration::from_millis(50));
    let took = timed(|| sim.shutdown());
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_tap_decodes_its_line_and_stops_within_a_second() {
    let mut pty = Pty::open(READ_TICK).unwrap();
    let spec = LinkSpec::Serial {
        path: pty.path().to_owned(),
        baud: 9600,
    };
    let reader = open_link(&spec, Duration::from_secs(1)).unwrap();
    let seen = Collect::default();
    let tally = TallySink::new();
    let mut fanout = Fanout::new();
    fanout.add(seen.clone(), 64);
    fanout.add(tally.clone(), 64);
    let source = Source {
        reader,
        endpoint: spec.to_string(),
        seen: Default::default(),
    };
    let tap = Tap::start(vec![source], TapConfig::default(), fanout).unwrap();
    pty.master().write_all(&SET_TIME).unwrap();
    pty.master().write_all(&[0x13, 0x37]).unwrap();
    pty.master().write_all(&TIME_SET).unwrap();
    pty.master().flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while tally
        .snapshot()
        .prometheus()
        .contains("powerone_frames_total 0")
    {
        assert!(Instant::now() < deadline, "no frames");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));
    assert!(!tap.is_finished());
    let took = timed(|| tap.shutdown().unwrap());
    assert!(took < Duration::from_secs(1), "{took:?}");
    let kinds: Vec<&str> = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|m| match m.body {
            Body::Frame(_) => "frame",
            Body::Skipped(_) => "skipped",
            Body::Link { .. } => "link",
            Body::Change(_) => "change",
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert_eq!(kinds, ["frame", "skipped", "frame", "link"]);
    // Every message is the PCU's: the line and the module address (01).
    let line = spec.to_string();
    for m in seen.0.lock().unwrap().iter() {
        assert_eq!(m.device.name, format!("{line}#1"), "{:?}", m.body);
    }
    let text = tally.snapshot().prometheus();
    assert!(text.contains("powerone_frames_total 2"), "{text}");
    assert!(
        text.contains("powerone_function_frames_total{function=\"0x07\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("powerone_skipped_bytes_total{reason=\"garbage\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("powerone_clock_set_info{value=\"2011-03-15 15:13\"} 1"),
        "{text}"
    );
    promtool(&text);
}

/// Checks Prometheus text with `promtool check metrics` when it is installed.
fn promtool(text: &str) {
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed: not checked");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_empty_tally_is_valid_prometheus() {
    promtool(&Tally::default().prometheus());
}

#[test]
fn a_relay_with_a_connected_pair_stops_within_a_second() {
    let upstream = Listener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().to_string();
    let sim = Simulator::serve_tcp(upstream, pcu(), Fanout::new()).unwrap();
    let listener = Listener::bind("127.0.0.1:0").unwrap();
    let relay_addr = listener.local_addr();
    let seen = Collect::default();
    let mut fanout = Fanout::new();
    fanout.add(seen.clone(), 64);
    let tap = Tap::relay(
        listener,
        upstream_addr.clone(),
        Duration::from_secs(1),
        TapConfig::default(),
        fanout,
    )
    .unwrap();
    let mut client = TcpStream::connect(relay_addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client.write_all(&SET_TIME).unwrap();
    let mut reply = [0u8; 8];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply, TIME_SET);
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.0.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "no frames");
        thread::sleep(Duration::from_millis(20));
    }
    // The link-up comes first; it and both frames are the PCU's, named by
    // the upstream link (stable, unlike the client's port) and module 01.
    {
        let got = seen.0.lock().unwrap();
        assert!(
            matches!(got[0].body, Body::Link { .. }),
            "{:?}",
            got[0].body
        );
        for m in got.iter() {
            assert_eq!(m.device.name, format!("{upstream_addr}#1"), "{:?}", m.body);
        }
    }
    let took = timed(|| tap.shutdown().unwrap());
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The relay's end of the client connection is gone.
    let mut rest = Vec::new();
    let _ = client.shutdown(Shutdown::Write);
    assert_eq!(client.read_to_end(&mut rest).unwrap_or(0), 0);
    sim.shutdown();
}

#[test]
fn a_stalled_output_is_bounded_and_counts_what_it_drops() {
    let mut pty = Pty::open(READ_TICK).unwrap();
    let spec = LinkSpec::Serial {
        path: pty.path().to_owned(),
        baud: 9600,
    };
    let reader = open_link(&spec, Duration::from_secs(1)).unwrap();
    let (release, gate) = mpsc::channel();
    let tally = TallySink::new();
    let mut fanout = Fanout::new();
    fanout.add(Stalled(gate), 100);
    fanout.add(tally.clone(), 100_000);
    let source = Source {
        reader,
        endpoint: spec.to_string(),
        seen: Default::default(),
    };
    let tap = Tap::start(vec![source], TapConfig::default(), fanout).unwrap();
    let frames = 3000;
    let writer = thread::spawn(move || {
        for _ in 0..frames {
            pty.master().write_all(&TIME_SET).unwrap();
        }
        pty.master().flush().unwrap();
        thread::sleep(Duration::from_secs(5));
        drop(pty);
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tally
        .snapshot()
        .prometheus()
        .contains(&format!("powerone_frames_total {frames}"))
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            tally.snapshot().prometheus()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let stats = tap.stats();
    let stalled = stats.iter().find(|s| s.name == "stalled").unwrap();
    assert!(stalled.queued <= 100, "{stats:?}");
    assert!(stalled.dropped_total() >= frames - 101, "{stats:?}");
    drop(release);
    let took = timed(|| tap.shutdown().unwrap());
    assert!(took < Duration::from_secs(2), "{took:?}");
    writer.join().unwrap();
}
