//! The bounded HTTP server under the attacks that took tiny_http down: huge
//! declared bodies, huge or slow heads, clients that never read, too many
//! connections; and its shutdown. 127.0.0.1 only; every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rewire_host::http::{HttpConfig, HttpServer, Request, Response};

fn server(config: HttpConfig) -> HttpServer {
    HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        config,
        |r: &Request| match r.path() {
            "/metrics" => Response::new(200, "text/plain; version=0.0.4", "up 1\n"),
            // 32 MiB: far more than the socket buffers take.
            "/big" => Response::text(200, vec![b'x'; 32 << 20]),
            "/echo" => Response::text(
                200,
                format!(
                    "{} {} {:?} {:?}\n",
                    r.method(),
                    r.path(),
                    r.query(),
                    r.header("ACCEPT")
                ),
            ),
            _ => Response::text(404, "not found\n"),
        },
    )
    .unwrap()
}

/// Sends `request` and reads until the server closes or `limit` passes.
fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /metrics` must be answered within a second.
fn assert_served(addr: SocketAddr) {
    let started = Instant::now();
    let answer = exchange(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.ends_with("up 1\n"), "{answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "an honest scrape took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_terabyte_declared_body_is_refused_without_allocating_it() {
    let s = server(HttpConfig::default());
    let answer = exchange(
        s.local_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // Chunked bodies have no declared size: refused the same way.
    let answer = exchange(
        s.local_addr(),
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert_served(s.local_addr());
}

#[test]
fn requests_see_method_path_query_and_headers_and_head_gets_no_body() {
    let s = server(HttpConfig::default());
    let answer = exchange(
        s.local_addr(),
        b"GET /echo?a=1 HTTP/1.1\r\nHost: x\r\naccept: text/x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        answer.ends_with("GET /echo Some(\"a=1\") Some(\"text/x\")\n"),
        "{answer:?}"
    );
    let answer = exchange(
        s.local_addr(),
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\n"), "HEAD got a body: {answer:?}");
}

#[test]
fn an_endless_head_is_cut_off_at_the_header_limit() {
    let s = server(HttpConfig::default());
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nX-Fill: ").unwrap();
    let chunk = [b'a'; 64 * 1024];
    let mut sent = 0usize;
    // 30 MB would be sent if nobody stopped it; the server closes long before.
    let closed = loop {
        match c.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => break e.kind() != ErrorKind::WouldBlock,
        }
        if sent > 30 << 20 {
            break false;
        }
    };
    assert!(closed, "the server took {sent} bytes of one header");
    assert_served(s.local_addr());
}

#[test]
fn slow_and_stalled_clients_do_not_hold_up_a_scrape() {
    let s = server(HttpConfig::default());
    // Ten clients trickle a head, one never reads a 32 MiB answer, one
    // declares a body it never sends.
    let mut holders = Vec::new();
    for _ in 0..10 {
        let mut c = TcpStream::connect(s.local_addr()).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        holders.push(c);
    }
    let mut stalled = TcpStream::connect(s.local_addr()).unwrap();
    stalled
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut declared = TcpStream::connect(s.local_addr()).unwrap();
    declared
        .write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(200));
    assert_served(s.local_addr());
    drop((holders, stalled, declared));
}

#[test]
fn a_silent_connection_is_closed_after_the_header_timeout() {
    let s = server(HttpConfig {
        header_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    });
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    // hyper may answer 408 before closing; either way the connection ends.
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
}

#[test]
fn connections_beyond_the_cap_are_closed_and_counted() {
    let s = server(HttpConfig {
        max_connections: 2,
        ..HttpConfig::default()
    });
    let a = TcpStream::connect(s.local_addr()).unwrap();
    let b = TcpStream::connect(s.local_addr()).unwrap();
    thread::sleep(Duration::from_millis(100));
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(c.read(&mut buf), Ok(0) | Err(_)),
        "the third connection was served"
    );
    assert_eq!(s.stats().rejected, 1, "{:?}", s.stats());
    drop((a, b));
    thread::sleep(Duration::from_millis(100));
    assert_served(s.local_addr());
    assert_eq!(s.stats().accepted, 3, "{:?}", s.stats());
}

#[test]
fn shutdown_ends_open_connections_and_the_listener_within_a_second() {
    let s = server(HttpConfig::default());
    let addr = s.local_addr();
    let mut open = TcpStream::connect(addr).unwrap();
    open.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    s.shutdown();
    assert!(started.elapsed() < Duration::from_secs(1));
    let mut buf = [0u8; 16];
    assert!(matches!(open.read(&mut buf), Ok(0) | Err(_)));
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "still listening after shutdown"
    );
}

#[test]
fn a_busy_address_is_one_clear_error() {
    let s = server(HttpConfig::default());
    let err = HttpServer::bind(s.local_addr(), HttpConfig::default(), |_: &Request| {
        Response::text(200, "")
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot listen on {}: ", s.local_addr())),
        "{text}"
    );
}
