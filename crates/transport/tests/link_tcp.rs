//! TCP client (reconnect, backoff, errors) and listener tests, on 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rewire_transport::framing::{Event, Framer, Framing, SkipReason, Step};
use rewire_transport::link::{
    Backoff, BackoffTimer, ConnectionEvent, ConnectionState, LinkErrorKind, Listener, TcpClient,
    TcpClientConfig, TcpRead,
};

/// Newline-terminated messages (the terminator is not part of the message).
struct Lines;

impl Framing for Lines {
    fn scan(&mut self, buf: &[u8]) -> Step {
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) => Step::Found {
                skipped: 0,
                len: end + 1,
                message: 0..end,
            },
            None => Step::Partial { skipped: 0 },
        }
    }
}

fn fast_config() -> TcpClientConfig {
    TcpClientConfig {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(50),
        backoff: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(80),
            jitter: 0.5,
        },
        max_reconnect_attempts: Some(100),
    }
}

fn closed_port() -> SocketAddr {
    let listener = Listener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr()
}

#[test]
fn reconnects_after_two_drops_and_loses_no_message() {
    let listener = Listener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr();
    let server = thread::spawn(move || {
        for round in 0..3 {
            let (mut stream, _) = listener
                .accept_timeout(Duration::from_secs(10))
                .expect("accept")
                .expect("client came back");
            // Two complete messages, split awkwardly across writes.
            let first = format!("round {round} first\nround {round} ");
            stream.write_all(first.as_bytes()).expect("write");
            thread::sleep(Duration::from_millis(20));
            stream.write_all(b"second\n").expect("write");
            if round < 2 {
                // An incomplete message, then the connection drops.
                stream.write_all(b"cut off mid-mess").expect("write");
                drop(stream);
            } else {
                // Keep the last connection until the client is done.
                let mut sink = [0u8; 8];
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                let _ = stream.read(&mut sink);
            }
        }
    });

    let mut client = TcpClient::connect(addr, fast_config())
        .expect("connect")
        .with_backoff_seed(7);
    assert_eq!(client.state(), ConnectionState::Connected);
    assert_eq!(client.peer_addr(), Some(addr));
    let mut framer = Framer::new(Lines);
    let mut messages = Vec::new();
    let mut events = Vec::new();
    let mut truncated = 0;
    let mut buf = [0u8; 7];
    let deadline = Instant::now() + Duration::from_secs(20);
    while messages.len() < 6 {
        assert!(
            Instant::now() < deadline,
            "timed out: {messages:?} {events:?}"
        );
        match client.read(&mut buf).expect("read") {
            TcpRead::Data(n) => framer.push(&buf[..n]).expect("push"),
            TcpRead::Idle => {}
            TcpRead::Event(event) => {
                if matches!(event, ConnectionEvent::Lost { .. }) {
                    framer.finish();
                }
                events.push(event);
            }
        }
        while let Some(event) = framer.next() {
            match event {
                Event::Message(m) => {
                    messages.push(String::from_utf8(m.bytes.into()).expect("utf8"))
                }
                Event::Skipped(s) => {
                    assert_eq!(s.reason, SkipReason::Truncated);
                    assert_eq!(s.len, 16);
                    truncated += 1;
                }
            }
        }
    }
    client.write_all(b"done").expect("write");
    server.join().expect("server");

    let expected: Vec<String> = (0..3)
        .flat_map(|r| [format!("round {r} first"), format!("round {r} second")])
        .collect();
    assert_eq!(messages, expected);
    assert_eq!(truncated, 2);
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ConnectionEvent::Lost { peer, cause } => {
                assert_eq!(*peer, addr);
                assert_eq!(*cause, None, "peer closed cleanly");
                Some("lost")
            }
            ConnectionEvent::Restored { peer, attempts, .. } => {
                assert_eq!(*peer, addr);
                assert!(*attempts >= 1);
                Some("restored")
            }
            ConnectionEvent::ReconnectFailed { .. } => None,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["lost", "restored", "lost", "restored"]);
    for event in &events {
        assert!(!event.to_string().is_empty());
    }
}

#[test]
fn connect_to_closed_port_is_a_typed_error_naming_the_address() {
    let addr = closed_port();
    let err = TcpClient::connect(addr, fast_config()).expect_err("nothing listens");
    assert_eq!(err.kind(), LinkErrorKind::Connect);
    assert_eq!(err.endpoint(), addr.to_string());
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn unresolvable_target_is_a_resolve_error() {
    let err = TcpClient::connect("no-port-here", fast_config()).expect_err("no port");
    assert_eq!(err.kind(), LinkErrorKind::Resolve);
    assert_eq!(err.endpoint(), "no-port-here");
}

#[test]
fn gives_up_after_the_configured_attempts() {
    let addr = closed_port();
    let config = TcpClientConfig {
        max_reconnect_attempts: Some(3),
        ..fast_config()
    };
    let mut client = TcpClient::disconnected(addr, config);
    assert_eq!(client.state(), ConnectionState::Disconnected);
    let mut buf = [0u8; 16];
    for expected in 1..=2 {
        match client.read(&mut buf).expect("not yet exhausted") {
            TcpRead::Event(ConnectionEvent::ReconnectFailed { attempt, error }) => {
                assert_eq!(attempt, expected);
                assert_eq!(error.kind(), LinkErrorKind::Connect);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let err = client.read(&mut buf).expect_err("exhausted");
    assert_eq!(err.kind(), LinkErrorKind::ReconnectExhausted);
    assert_eq!(err.endpoint(), addr.to_string());
    assert_eq!(err.io_kind(), None, "the source is the last connect error");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn disconnected_client_connects_when_the_server_appears() {
    let listener = Listener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr();
    let mut client = TcpClient::disconnected(addr, fast_config());
    let mut buf = [0u8; 16];
    match client.read(&mut buf).expect("read") {
        TcpRead::Event(ConnectionEvent::Connected { peer }) => assert_eq!(peer, addr),
        other => panic!("unexpected {other:?}"),
    }
    let (mut server_side, _) = listener
        .accept_timeout(Duration::from_secs(5))
        .expect("accept")
        .expect("connected");
    server_side.write_all(b"hi").expect("write");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline);
        if let TcpRead::Data(n) = client.read(&mut buf).expect("read") {
            assert_eq!(&buf[..n], b"hi");
            break;
        }
    }
}

#[test]
fn write_needs_a_connection() {
    let listener = Listener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr();
    let mut client = TcpClient::connect(addr, fast_config()).expect("connect");
    assert_eq!(
        client.write_all(b"x").map_err(|e| e.kind()),
        Ok(()),
        "first write succeeds"
    );
    client.disconnect();
    let err = client.write_all(b"y").expect_err("no connection");
    assert_eq!(err.kind(), LinkErrorKind::NotConnected);
}

#[test]
fn backoff_doubles_and_caps_with_jitter() {
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        jitter: 0.5,
    };
    let bases: Vec<u128> = (0..7).map(|n| backoff.base_delay(n).as_millis()).collect();
    assert_eq!(bases, [100, 200, 400, 800, 1000, 1000, 1000]);
    assert_eq!(backoff.base_delay(u32::MAX), backoff.max);

    let mut timer = BackoffTimer::with_seed(backoff, 42);
    let mut saw_jitter = false;
    for n in 0..64 {
        let base = backoff.base_delay(n);
        let delay = timer.next_delay();
        assert!(
            delay <= base && delay <= backoff.max,
            "{delay:?} > {base:?}"
        );
        assert!(
            delay >= base / 2,
            "{delay:?} cut more than the jitter allows"
        );
        saw_jitter |= delay != base;
    }
    assert!(saw_jitter);
    assert_eq!(timer.attempt(), 64);
    timer.reset();
    assert_eq!(timer.attempt(), 0);
    assert!(timer.next_delay() <= backoff.initial);

    // Same seed, same delays.
    let a: Vec<Duration> = {
        let mut t = BackoffTimer::with_seed(backoff, 9);
        (0..10).map(|_| t.next_delay()).collect()
    };
    let b: Vec<Duration> = {
        let mut t = BackoffTimer::with_seed(backoff, 9);
        (0..10).map(|_| t.next_delay()).collect()
    };
    assert_eq!(a, b);

    // Out-of-range jitter never makes a delay exceed the cap or go negative.
    for jitter in [f64::NAN, -1.0, 7.0, f64::INFINITY] {
        let mut t = BackoffTimer::with_seed(Backoff { jitter, ..backoff }, 1);
        for _ in 0..10 {
            assert!(t.next_delay() <= backoff.max);
        }
    }
}

#[test]
fn listener_accept_times_out_then_serves_clients() {
    let listener = Listener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr();
    let started = Instant::now();
    assert!(
        listener
            .accept_timeout(Duration::from_millis(60))
            .expect("accept")
            .is_none()
    );
    assert!(started.elapsed() >= Duration::from_millis(60));

    let stop = AtomicBool::new(false);
    let echo = |mut stream: TcpStream, _peer: SocketAddr| {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        if let Ok(n) = stream.read(&mut buf) {
            let _ = stream.write_all(&buf[..n]);
        }
    };
    thread::scope(|scope| {
        let server = scope.spawn(|| listener.serve(&stop, &echo));
        for i in 0..3 {
            let mut stream =
                TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let msg = format!("hello {i}");
            stream.write_all(msg.as_bytes()).expect("write");
            let mut buf = [0u8; 64];
            let n = stream.read(&mut buf).expect("echo");
            assert_eq!(&buf[..n], msg.as_bytes());
        }
        stop.store(true, Ordering::Relaxed);
        server.join().expect("join").expect("serve");
    });
}

#[test]
fn binding_a_used_port_names_the_address() {
    let first = Listener::bind("127.0.0.1:0").expect("bind");
    let addr = first.local_addr();
    let err = Listener::bind(addr).expect_err("in use");
    assert_eq!(err.kind(), LinkErrorKind::Bind);
    assert_eq!(err.endpoint(), addr.to_string());
}

#[test]
fn serve_closes_connections_beyond_its_cap_and_counts_them() {
    use std::io::Read;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    let listener = rewire_transport::link::Listener::bind("127.0.0.1:0")
        .unwrap()
        .with_max_connections(2);
    let addr = listener.local_addr();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let server = scope.spawn(|| {
            listener.serve(&stop, &|mut s: std::net::TcpStream, _| {
                // Hold the connection until the client closes it.
                let mut buf = [0u8; 8];
                let _ = s.read(&mut buf);
            })
        });
        let a = std::net::TcpStream::connect(addr).unwrap();
        let b = std::net::TcpStream::connect(addr).unwrap();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 8];
        assert!(
            matches!(c.read(&mut buf), Ok(0) | Err(_)),
            "a third was served"
        );
        assert_eq!(listener.stats().rejected, 1);
        drop((a, b));
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap().unwrap();
    });
}
