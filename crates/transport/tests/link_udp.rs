//! UDP receiver tests, on 127.0.0.1 only.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use rewire_transport::link::{LinkErrorKind, UdpReceiver};

#[test]
fn receives_datagrams_with_their_peer_and_times_out_when_idle() {
    let mut receiver = UdpReceiver::bind("127.0.0.1:0", Duration::from_millis(50)).expect("bind");
    let started = Instant::now();
    assert_eq!(receiver.recv().expect("recv"), None);
    assert!(started.elapsed() >= Duration::from_millis(40));

    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    let to = receiver.local_addr();
    receiver
        .set_timeout(Duration::from_secs(5))
        .expect("timeout");
    sender.send_to(b"ups000cnt001", to).expect("send");
    let big = vec![0xA5; 9000];
    sender.send_to(&big, to).expect("send");

    let first = receiver.recv().expect("recv").expect("a datagram");
    assert_eq!(first.bytes, b"ups000cnt001");
    assert_eq!(first.peer, sender.local_addr().expect("addr"));
    let second = receiver.recv().expect("recv").expect("a datagram");
    assert_eq!(second.bytes, big, "datagrams are never cut");
    assert!(second.received >= first.received);
}

#[test]
fn binding_a_used_port_names_the_address() {
    let first = UdpReceiver::bind("127.0.0.1:0", Duration::from_millis(10)).expect("bind");
    let addr = first.local_addr();
    let err = UdpReceiver::bind(addr, Duration::from_millis(10)).expect_err("in use");
    assert_eq!(err.kind(), LinkErrorKind::Bind);
    assert_eq!(err.endpoint(), addr.to_string());
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AddrInUse));
}
