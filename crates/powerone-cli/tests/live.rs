//! The live commands against the simulator, over a pseudo-terminal and
//! over TCP on 127.0.0.1; the tap in its three wirings. Every child process
//! is killed by a guard, every wait is bounded.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use serialport::{SerialPort, TTYPort};

const BIN: &str = env!("CARGO_BIN_EXE_powerone");
const SET_TIME: [u8; 13] = [
    0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
];
const TIME_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
const SET_PASSWORD: [u8; 12] = [
    0xFF, 0x0C, 0x01, 0x00, 0x01, 0x01, 0x08, 0x38, 0x38, 0x38, 0x38, 0xF6,
];
const PASSWORD_SET: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x08, 0x11];

/// Kills and reaps the child on every path.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running simulator: its link flags and its stderr log.
struct Sim {
    _guard: Guard,
    link: Vec<String>,
    log: Arc<Mutex<String>>,
}

impl Sim {
    fn start(transport: Transport, extra: &[&str]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.arg("simulate").arg("-v");
        match transport {
            Transport::Pty => cmd.arg("--pty"),
            Transport::Tcp => cmd.args(["--tcp", "127.0.0.1:0"]),
        };
        let mut child = cmd
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn simulator");
        let _stdout = collect(child.stdout.take().unwrap());
        let log = collect(child.stderr.take().unwrap());
        let guard = Guard(child);
        let first = listening_on(&log);
        let link = match transport {
            Transport::Pty => vec!["--serial".into(), first],
            Transport::Tcp => vec!["--tcp".into(), first],
        };
        Sim {
            _guard: guard,
            link,
            log,
        }
    }

    fn log_contains(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.log.lock().unwrap().contains(needle) {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Pty,
    Tcp,
}

const BOTH: [Transport; 2] = [Transport::Pty, Transport::Tcp];

/// Waits (10 s at most) for the start-up line on a child's stderr,
/// `powerone: … listening on WHERE`, and returns WHERE.
fn listening_on(log: &Arc<Mutex<String>>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = log.lock().unwrap().clone();
        if let Some(line) = text.lines().find(|l| l.contains("listening on ")) {
            return line.rsplit(' ').next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no start-up line: {text}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Collects a child's stream into a shared string.
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

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the binary to completion (killed after 20 s).
fn run(args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let mut guard = Guard(child);
    let deadline = started + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "powerone {args:?} hung");
        thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    // Let the collector threads see end of file.
    thread::sleep(Duration::from_millis(30));
    let stdout = out.lock().unwrap().clone();
    let stderr = err.lock().unwrap().clone();
    Run {
        code,
        stdout,
        stderr,
        elapsed,
    }
}

fn run_on(sim_link: &[String], args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(sim_link.iter().map(String::as_str));
    run(&all)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn every_command_against_the_simulator() {
    for transport in BOTH {
        let sim = Sim::start(transport, &["--verify-function", "0x0a"]);
        let r = run_on(
            &sim.link,
            &["set-time", "2011-03-15T15:13", "--yes", "--json"],
        );
        assert_eq!(r.code, 0, "{transport:?} set-time: {}", r.stderr);
        let records = json_lines(&r.stdout);
        assert_eq!(records.len(), 2, "{}", r.stdout);
        assert_eq!(records[0]["direction"], "tx");
        assert_eq!(records[0]["data"], "0b030f0f0d");
        assert_eq!(
            records[0]["decoded"],
            serde_json::json!({"year":2011,"month":3,"day":15,"hour":15,"minute":13})
        );
        // The captured answer, field by field.
        assert_eq!(records[1]["direction"], "rx");
        assert_eq!(
            (
                &records[1]["dst"],
                &records[1]["src"],
                &records[1]["reply_required"],
                &records[1]["function"],
                &records[1]["function_name"],
                &records[1]["data"],
                &records[1]["checksum_ok"],
            ),
            (
                &Value::from(0),
                &Value::from(1),
                &Value::from(false),
                &Value::from(7),
                &Value::from("set date/time"),
                &Value::from(""),
                &Value::from(true)
            )
        );
        assert!(sim.log_contains("clock set to 2011-03-15 15:13"));

        let r = run_on(&sim.link, &["set-time", "--now", "--yes"]);
        assert_eq!(r.code, 0, "{transport:?} set-time --now: {}", r.stderr);

        let r = run_on(&sim.link, &["set-password", "1234", "--yes"]);
        assert_eq!(r.code, 0, "{transport:?} set-password: {}", r.stderr);
        assert!(r.stdout.contains("set password (0x08)"), "{}", r.stdout);
        assert!(sim.log_contains("password set to 1234"));

        let r = run_on(
            &sim.link,
            &["verify-password", "--function", "0x0a", "1234"],
        );
        assert_eq!(r.code, 0, "{transport:?} right password: {}", r.stderr);
        assert!(r.stdout.contains("password right"), "{}", r.stdout);

        let r = run_on(
            &sim.link,
            &["verify-password", "--function", "0x0a", "8888"],
        );
        assert_eq!(r.code, 1, "{transport:?} wrong password: {}", r.stderr);
        assert!(r.stdout.contains("password wrong"), "{}", r.stdout);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains("wrong"), "{}", r.stderr);

        let r = run_on(
            &sim.link,
            &[
                "send",
                "--function",
                "0x0a",
                "--data",
                "31 32 33 34",
                "--yes",
                "--json",
            ],
        );
        assert_eq!(r.code, 0, "{transport:?} send: {}", r.stderr);
        let records = json_lines(&r.stdout);
        assert_eq!(records[1]["data"], "01");
        assert_eq!(records[1]["function_name"], Value::Null);

        // Without the reply flag nothing comes back, and none is awaited.
        let r = run_on(
            &sim.link,
            &["send", "--function", "0x08", "--data", "3535", "--no-reply"],
        );
        assert_eq!(r.code, 0, "{transport:?} send --no-reply: {}", r.stderr);
        assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
        assert!(r.stdout.contains("no-reply"), "{}", r.stdout);
        assert!(sim.log_contains("password set to 55"));

        // An unknown function: the simulator stays silent, so exit 3.
        let r = run_on(
            &sim.link,
            &[
                "send",
                "--function",
                "0x33",
                "--yes",
                "--timeout",
                "150ms",
                "--retries",
                "1",
            ],
        );
        assert_eq!(r.code, 3, "{transport:?} unknown function: {}", r.stderr);
        assert!(r.stderr.contains("after 2 attempts"), "{}", r.stderr);
    }
}

#[test]
fn changes_need_yes_without_a_terminal() {
    for transport in BOTH {
        let sim = Sim::start(transport, &["--verify-function", "0x0a"]);
        for args in [
            &["set-password", "1234"][..],
            &["set-time", "2011-03-15T15:13"][..],
            &["send", "--function", "0x08", "--data", "31"][..],
        ] {
            let r = run_on(&sim.link, args);
            assert_eq!(r.code, 2, "{transport:?} {args:?}: {}", r.stderr);
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            assert!(r.stderr.contains("without --yes"), "{}", r.stderr);
            assert!(r.stdout.is_empty());
        }
        // Nothing changed: the old password is still right.
        let r = run_on(
            &sim.link,
            &["verify-password", "--function", "0x0a", "8888"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
}

#[test]
fn addresses_unknown_functions_and_echo() {
    for transport in BOTH {
        let sim = Sim::start(transport, &["--addr", "5", "--echo-unknown"]);
        let quick = ["--timeout", "150ms", "--retries", "1"];
        let mut args = vec!["set-password", "1", "--yes"];
        args.extend(quick);
        let r = run_on(&sim.link, &args);
        assert_eq!(r.code, 3, "{transport:?} module 1 is absent: {}", r.stderr);
        args.extend(["--addr", "5"]);
        let r = run_on(&sim.link, &args);
        assert_eq!(r.code, 0, "{transport:?} module 5: {}", r.stderr);
        let r = run_on(
            &sim.link,
            &[
                "send",
                "--addr",
                "5",
                "--function",
                "0x42",
                "--data",
                "beef",
                "--yes",
                "--json",
            ],
        );
        assert_eq!(r.code, 0, "{transport:?} echo: {}", r.stderr);
        let records = json_lines(&r.stdout);
        assert_eq!(
            (&records[1]["src"], &records[1]["data"]),
            (&Value::from(5), &Value::from("beef"))
        );
    }
}

#[test]
fn no_answer_exits_3_after_the_retries() {
    let args = [
        "set-password",
        "1",
        "--yes",
        "--timeout",
        "200ms",
        "--retries",
        "2",
    ];
    // A pseudo-terminal nobody answers on.
    let (_master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let r = run_on(&["--serial".into(), path], &args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("after 3 attempts"), "{}", r.stderr);
    assert!(r.elapsed >= Duration::from_millis(600), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    // A TCP server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let r = run_on(&["--tcp".into(), addr], &args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("after 3 attempts"), "{}", r.stderr);
    assert!(r.elapsed >= Duration::from_millis(600), "{:?}", r.elapsed);
    drop(silent);
    // Nothing listening at all.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let r = run_on(&["--tcp".into(), addr.clone()], &args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&addr), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // A device that does not exist is a usage error.
    let r = run_on(
        &["--serial".into(), "/dev/nonexistent-powerone".into()],
        &args,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn noise_and_corrupted_checksums_are_survived() {
    for transport in BOTH {
        let sim = Sim::start(
            transport,
            &[
                "--noise",
                "--corrupt-every",
                "3",
                "--seed",
                "11",
                "--verify-function",
                "0x0a",
            ],
        );
        let mut retried = 0;
        for i in 0..9 {
            let (password, want) = if i % 2 == 0 { ("8888", 0) } else { ("5678", 1) };
            let r = run_on(
                &sim.link,
                &[
                    "verify-password",
                    "--function",
                    "0x0a",
                    password,
                    "--timeout",
                    "300ms",
                    "--retries",
                    "3",
                ],
            );
            assert_eq!(
                r.code, want,
                "{transport:?} round {i}: {}\n{}",
                r.stdout, r.stderr
            );
            if r.stderr.contains("answered on attempt") {
                retried += 1;
            }
        }
        // Every third reply was corrupted: some commands needed a retry.
        assert!(retried >= 2, "{transport:?}: only {retried} retries");
    }
}

/// Reads `n` JSON records from a listen child's stdout within 10 s.
fn read_records(stdout: impl Read + Send + 'static, n: usize) -> Vec<Value> {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (0..n)
        .map(|i| {
            let line = rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("record {i} did not come"));
            serde_json::from_str(&line).unwrap()
        })
        .collect()
}

fn spawn_listen(args: &[&str]) -> (Guard, impl Read + Send + 'static, Arc<Mutex<String>>) {
    let mut child = Command::new(BIN)
        .arg("listen")
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = collect(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stderr.lock().unwrap().contains("powerone: ") {
        assert!(Instant::now() < deadline, "listen did not start");
        thread::sleep(Duration::from_millis(20));
    }
    (Guard(child), stdout, stderr)
}

fn summary(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| match r["kind"].as_str().unwrap() {
            "frame" => format!("{}>{} f{}", r["src"], r["dst"], r["function"]),
            _ => format!(
                "error {}",
                r["reason"].as_str().unwrap().split(':').next().unwrap()
            ),
        })
        .collect()
}

#[test]
fn listen_on_one_shared_line_decodes_both_directions_in_order() {
    let (mut master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let (_guard, stdout, _err) = spawn_listen(&["--serial", &path]);
    let mut bad = TIME_SET;
    bad[7] = 0x11;
    // A recorded line: request, reply, request, damaged reply, retry, reply.
    for chunk in [
        &SET_TIME[..],
        &TIME_SET,
        &SET_PASSWORD,
        &bad,
        &SET_PASSWORD,
        &PASSWORD_SET,
    ] {
        master.write_all(chunk).unwrap();
        master.flush().unwrap();
        thread::sleep(Duration::from_millis(40));
    }
    let records = read_records(stdout, 6);
    assert_eq!(
        summary(&records),
        [
            "0>1 f7",
            "1>0 f7",
            "0>1 f8",
            "error bad_checksum",
            "0>1 f8",
            "1>0 f8"
        ]
    );
    assert_eq!(records[0]["decoded"]["year"], 2011);
    assert_eq!(records[2]["decoded"]["password"], "8888");
    assert_eq!(records[3]["raw"], "ff08000100010711");
    assert!(records[0]["ts"].as_f64().unwrap() > 1e9);
}

#[test]
fn listen_on_a_y_cable_merges_the_two_wires_in_order() {
    let (mut pc_wire, pc_slave) = TTYPort::pair().unwrap();
    let (mut pcu_wire, pcu_slave) = TTYPort::pair().unwrap();
    let (a, b) = (pc_slave.name().unwrap(), pcu_slave.name().unwrap());
    let (_guard, stdout, _err) = spawn_listen(&["--serial", &a, "--serial2", &b]);
    for (to_pcu, bytes) in [
        (true, &SET_TIME[..]),
        (false, &TIME_SET[..]),
        (true, &SET_PASSWORD[..]),
        (false, &PASSWORD_SET[..]),
    ] {
        let wire = if to_pcu { &mut pc_wire } else { &mut pcu_wire };
        // Split each frame so the framers must reassemble it.
        let (x, y) = bytes.split_at(3);
        wire.write_all(x).unwrap();
        wire.flush().unwrap();
        thread::sleep(Duration::from_millis(10));
        wire.write_all(y).unwrap();
        wire.flush().unwrap();
        thread::sleep(Duration::from_millis(80));
    }
    let records = read_records(stdout, 4);
    assert_eq!(summary(&records), ["0>1 f7", "1>0 f7", "0>1 f8", "1>0 f8"]);
    assert_eq!(records[0]["line"], a.as_str());
    assert_eq!(records[1]["line"], b.as_str());
}

#[test]
fn listen_as_a_tcp_relay_sees_both_directions_in_order() {
    let sim = Sim::start(Transport::Tcp, &["--verify-function", "0x0a"]);
    let upstream = sim.link[1].clone();
    let (_guard, stdout, err) =
        spawn_listen(&["--tcp-relay", "127.0.0.1:0", "--upstream", &upstream]);
    let text = err.lock().unwrap().clone();
    let relay = text
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap()
        .to_owned();
    let link = ["--tcp".to_owned(), relay];
    let r = run_on(&link, &["set-time", "2011-03-15T15:13", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_on(&link, &["verify-password", "--function", "0x0a", "1111"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let records = read_records(stdout, 4);
    assert_eq!(
        summary(&records),
        ["0>1 f7", "1>0 f7", "0>1 f10", "1>0 f10"]
    );
    // The relay knows the sockets: requests go to the simulator.
    assert_eq!(records[0]["dst_addr"], upstream.as_str());
    assert_eq!(records[1]["src_addr"], upstream.as_str());
    assert_eq!(records[2]["function_name"], Value::Null);
}

#[test]
fn listen_on_a_tcp_stream_decodes_it_and_stops_at_end_of_file() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let feeder = thread::spawn(move || {
        let (mut conn, _) = server.accept().unwrap();
        let mut line = Vec::new();
        line.extend_from_slice(&[0x00, 0xFF, 0x42]); // noise
        line.extend_from_slice(&SET_TIME);
        line.extend_from_slice(&TIME_SET);
        conn.write_all(&line).unwrap();
    });
    let r = run(&["listen", "--tcp", &addr, "--json"]);
    feeder.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let records = json_lines(&r.stdout);
    assert_eq!(summary(&records), ["error garbage", "0>1 f7", "1>0 f7"]);
    assert_eq!(
        (&records[0]["offset"], &records[0]["len"]),
        (&Value::from(0), &Value::from(3))
    );
}

#[test]
fn help_lists_the_exit_statuses_and_completions_work() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Exit status"), "{}", r.stdout);
    assert!(r.stdout.contains("simulate"), "{}", r.stdout);
    let r = run(&["completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("powerone"));
    assert!(!r.stdout.contains("rewire-powerone-cli"), "{}", r.stdout);
    let r = run(&["completions", "zsh"]);
    assert!(r.stdout.starts_with("#compdef powerone\n"), "{}", r.stdout);
    let r = run(&["--version"]);
    assert_eq!(
        r.stdout.trim(),
        format!("powerone {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_into_a_closed_pipe_do_not_panic() {
    for shell in ["bash", "zsh", "fish"] {
        let mut child = Command::new(BIN)
            .args(["completions", shell])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first byte (`| head -0`).
        drop(child.stdout.take());
        let err = collect(child.stderr.take().unwrap());
        let mut guard = Guard(child);
        let status = guard.0.wait().unwrap();
        thread::sleep(Duration::from_millis(30));
        let err = err.lock().unwrap().clone();
        assert_eq!(status.code(), Some(0), "{shell}: {err}");
        assert!(!err.contains("panicked"), "{shell}: {err}");
    }
}

#[test]
fn a_missing_link_names_both_options() {
    let r = run(&["set-time", "--now", "--yes"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--serial") && r.stderr.contains("--tcp"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_baud_rates_are_refused() {
    for baud in ["0", "4294967295"] {
        let r = run(&[
            "set-password",
            "1",
            "--yes",
            "--serial",
            "/dev/null",
            "--baud",
            baud,
        ]);
        assert_eq!(r.code, 2, "--baud {baud}: {}", r.stderr);
        assert!(r.stderr.contains("baud"), "{}", r.stderr);
    }
}

#[test]
fn link_options_before_the_subcommand_and_one_attempt() {
    let sim = Sim::start(Transport::Tcp, &[]);
    let mut args: Vec<&str> = sim.link.iter().map(String::as_str).collect();
    args.extend(["--addr", "1", "set-time", "2011-03-15T15:13", "--yes"]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(sim.log_contains("listening on"));
    // Nobody at module 9: one attempt, said in the singular.
    let r = run_on(
        &sim.link,
        &[
            "set-password",
            "1",
            "--yes",
            "--addr",
            "9",
            "--timeout",
            "150ms",
            "--retries",
            "0",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("after 1 attempt"), "{}", r.stderr);
    assert!(!r.stderr.contains("attempts"), "{}", r.stderr);
}

#[test]
fn a_half_closing_client_still_gets_its_reply_through_the_relay() {
    use std::net::{Shutdown, TcpStream};
    let sim = Sim::start(Transport::Tcp, &[]);
    let upstream = sim.link[1].clone();
    let (_guard, _stdout, err) =
        spawn_listen(&["--tcp-relay", "127.0.0.1:0", "--upstream", &upstream]);
    let text = err.lock().unwrap().clone();
    let relay = text
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap()
        .to_owned();
    for (name, addr) in [("direct", &upstream), ("relay", &relay)] {
        let mut got = 0;
        for _ in 0..5 {
            let mut conn = TcpStream::connect(addr.as_str()).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            conn.write_all(&SET_TIME).unwrap();
            conn.shutdown(Shutdown::Write).unwrap();
            let mut reply = Vec::new();
            let _ = conn.read_to_end(&mut reply);
            if reply.ends_with(&TIME_SET) {
                got += 1;
            }
        }
        assert_eq!(got, 5, "{name}: {got}/5 replies after a half-close");
    }
}

#[test]
fn listen_serves_prometheus_metrics_from_its_readings() {
    use std::net::TcpStream;
    let (mut master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let (_guard, _stdout, err) = spawn_listen(&["--serial", &path, "--http", "127.0.0.1:0"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        let text = err.lock().unwrap().clone();
        // The line is opened (its input cleared) before "listening on".
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("metrics on http://"))
            .filter(|_| text.contains("listening on"))
        {
            let url = line.rsplit("http://").next().unwrap();
            break url.trim_end_matches("/metrics").to_owned();
        }
        assert!(Instant::now() < deadline, "no metrics line: {text}");
        thread::sleep(Duration::from_millis(20));
    };
    master.write_all(&SET_TIME).unwrap();
    master.write_all(&[0x13, 0x37]).unwrap();
    master.write_all(&TIME_SET).unwrap();
    master.flush().unwrap();
    let get = || {
        let mut conn = TcpStream::connect(addr.as_str()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = get();
        if text.contains("powerone_frames_total 2") {
            break text;
        }
        assert!(Instant::now() < deadline, "{text}");
        thread::sleep(Duration::from_millis(50));
    };
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("powerone_output_dropped_total{output=\"tally\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("powerone_function_frames_total{function=\"0x07\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("powerone_skipped_bytes_total{reason=\"garbage\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("powerone_link_up") || !text.contains("link_up"),
        "{text}"
    );
}

/// Sends set-time on a new connection to `addr` and says whether the reply
/// came within a second.
fn served(addr: &str) -> bool {
    let Ok(mut conn) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    conn.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    if conn.write_all(&SET_TIME).is_err() {
        return false;
    }
    let mut reply = [0u8; 8];
    conn.read_exact(&mut reply).is_ok() && reply == TIME_SET
}

#[test]
fn out_of_descriptors_the_simulator_and_the_relay_wait_and_serve_again() {
    for relay in [false, true] {
        let sim = Sim::start(Transport::Tcp, &[]);
        let mut cmd = Command::new("prlimit");
        cmd.args(["--nofile=24:24", BIN]);
        if relay {
            cmd.args([
                "listen",
                "--tcp-relay",
                "127.0.0.1:0",
                "--upstream",
                &sim.link[1],
            ]);
        } else {
            cmd.args(["simulate", "--tcp", "127.0.0.1:0"]);
        }
        let Ok(mut child) = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        else {
            eprintln!("prlimit not installed: not checked");
            return;
        };
        let log = collect(child.stderr.take().unwrap());
        let mut guard = Guard(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = loop {
            let text = log.lock().unwrap().clone();
            if let Some(w) = text
                .split_whitespace()
                .find(|w| w.starts_with("127.0.0.1:"))
            {
                break w.to_owned();
            }
            assert!(Instant::now() < deadline, "no start-up line: {text}");
            thread::sleep(Duration::from_millis(20));
        };
        assert!(served(&addr), "relay={relay}: not served at first");
        // Hold connections until the process has no descriptor left.
        let hogs: Vec<_> = (0..40)
            .filter_map(|_| std::net::TcpStream::connect(addr.as_str()).ok())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !log.lock().unwrap().contains("open files") {
            assert!(
                Instant::now() < deadline,
                "relay={relay}: no EMFILE said: {}",
                log.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(20));
        }
        thread::sleep(Duration::from_millis(300));
        assert!(
            guard.0.try_wait().unwrap().is_none(),
            "relay={relay}: exited: {}",
            log.lock().unwrap()
        );
        drop(hogs);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !served(&addr) {
            assert!(
                Instant::now() < deadline,
                "relay={relay}: not served again: {}",
                log.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(100));
        }
        // Said now and then, not once per client.
        let text = log.lock().unwrap().clone();
        assert!(
            text.matches("dropped a client").count() <= 1,
            "relay={relay}: {text}"
        );
        assert!(
            text.matches("open files").count() < 20,
            "relay={relay}: {text}"
        );
    }
}
