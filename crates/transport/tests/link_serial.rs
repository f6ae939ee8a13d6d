//! Serial settings and request/response over a pseudo-terminal pair (no
//! hardware), with the Power-One framing.
#![cfg(unix)]

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use rewire_transport::framing::{Framer, PowerOne};
use rewire_transport::link::{
    DataBits, FlowControl, LinkErrorKind, Outcome, Parity, RequestPolicy, Requester,
    SerialSettings, StopBits, apply_settings, open_serial,
};
use serialport::{SerialPort, TTYPort};

/// "Set date/time" request from the PC to module 0x01 (rewire-powerone's example).
const REQUEST: [u8; 13] = [
    0xFF, 0x0D, 0x01, 0x00, 0x01, 0x01, 0x07, 0x0B, 0x03, 0x0F, 0x0F, 0x0D, 0x4F,
];
/// The PCU's captured answer.
const REPLY: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];
/// A valid frame that is not the reply: the PCU echoing a different function.
const OTHER: [u8; 8] = [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x06, 0x0F];

fn pair() -> (TTYPort, TTYPort) {
    let (mut master, mut slave) = TTYPort::pair().expect("pty pair");
    master
        .set_timeout(Duration::from_millis(20))
        .expect("timeout");
    slave
        .set_timeout(Duration::from_millis(20))
        .expect("timeout");
    (master, slave)
}

fn is_reply(message: &rewire_transport::framing::Message) -> bool {
    message.bytes[..] == REPLY
}

/// Reads from `port` until `want` bytes arrived or 5 s passed.
fn read_n(port: &mut TTYPort, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want && Instant::now() < deadline {
        if let Ok(n) = port.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    got
}

fn policy(attempts: u32) -> RequestPolicy {
    RequestPolicy {
        timeout: Duration::from_millis(150),
        attempts,
        ..RequestPolicy::default()
    }
}

#[test]
fn per_protocol_defaults_are_8n1() {
    let p = SerialSettings::POWERONE;
    assert_eq!(
        (p.baud, p.data_bits, p.parity, p.stop_bits, p.flow),
        (
            9600,
            DataBits::Eight,
            Parity::None,
            StopBits::One,
            FlowControl::None
        )
    );
    assert_eq!(p.to_string(), "9600 8N1");
    assert_eq!(SerialSettings::MEGATEC.to_string(), "2400 8N1");
    let odd = SerialSettings {
        data_bits: DataBits::Seven,
        parity: Parity::Even,
        stop_bits: StopBits::Two,
        flow: FlowControl::Hardware,
        ..SerialSettings::MEGATEC
    };
    assert_eq!(odd.to_string(), "2400 7E2 rts/cts");
    let slow = SerialSettings::POWERONE.with_read_timeout(Duration::from_secs(2));
    assert_eq!(slow.read_timeout, Duration::from_secs(2));
}

#[test]
fn settings_apply_to_an_open_port() {
    let (_master, mut slave) = pair();
    apply_settings(&mut slave, &SerialSettings::MEGATEC, "pty").expect("apply");
    assert_eq!(slave.baud_rate().expect("baud"), 2400);
    assert_eq!(
        slave.data_bits().expect("bits"),
        serialport::DataBits::Eight
    );
    assert_eq!(slave.parity().expect("parity"), serialport::Parity::None);
    assert_eq!(slave.stop_bits().expect("stop"), serialport::StopBits::One);
    assert_eq!(slave.timeout(), SerialSettings::MEGATEC.read_timeout);
}

#[test]
fn opening_a_missing_device_names_it() {
    let err = open_serial("/dev/rewire-no-such-tty", &SerialSettings::POWERONE)
        .map(|_| ())
        .expect_err("no device");
    assert_eq!(err.kind(), LinkErrorKind::OpenSerial);
    assert_eq!(err.endpoint(), "/dev/rewire-no-such-tty");
    assert!(err.to_string().contains("/dev/rewire-no-such-tty"));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn request_gets_its_reply() {
    let (master, mut device) = pair();
    let pcu = thread::spawn(move || {
        let request = read_n(&mut device, REQUEST.len());
        device.write_all(&REPLY).expect("reply");
        // A pty reports a hang-up before unread data: keep this end open
        // until the requester is done.
        (request, device)
    });
    let mut requester = Requester::new(master, Framer::new(PowerOne), "pty").with_policy(policy(3));
    let exchange = requester.request(&REQUEST, is_reply).expect("request");
    let (request, _device) = pcu.join().expect("pcu");
    assert_eq!(request, REQUEST);
    match &exchange.outcome {
        Outcome::Reply { message, attempts } => {
            assert_eq!(message.bytes[..], REPLY);
            assert_eq!(*attempts, 1);
        }
        other => panic!("no reply: {other:?}"),
    }
    assert!(exchange.unexpected.is_empty());
    assert_eq!(exchange.garbage_bytes, 0);
}

#[test]
fn silent_device_exhausts_the_retries() {
    let (master, mut device) = pair();
    let mut requester = Requester::new(master, Framer::new(PowerOne), "pty").with_policy(policy(3));
    let started = Instant::now();
    let exchange = requester.request(&REQUEST, is_reply).expect("request");
    let took = started.elapsed();
    assert_eq!(exchange.outcome, Outcome::NoReply { attempts: 3 });
    assert!(
        took >= Duration::from_millis(450),
        "three full timeouts: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The request went out once per attempt.
    let sent = read_n(&mut device, 3 * REQUEST.len());
    assert_eq!(sent, [REQUEST, REQUEST, REQUEST].concat());
}

#[test]
fn reply_after_noise_and_an_unexpected_frame_on_the_second_attempt() {
    let (master, mut device) = pair();
    let pcu = thread::spawn(move || {
        // Ignore the first request; answer the second after line noise,
        // a stray flag byte, and an unrelated frame.
        let _ = read_n(&mut device, REQUEST.len());
        let _ = read_n(&mut device, REQUEST.len());
        let mut answer = vec![0x13, 0x00, 0xFF, 0x02, 0x55];
        answer.extend_from_slice(&OTHER);
        answer.extend_from_slice(&[0xAA, 0xFF]);
        device.write_all(&answer).expect("noise");
        thread::sleep(Duration::from_millis(30));
        device.write_all(&REPLY).expect("reply");
        device
    });
    let mut requester = Requester::new(master, Framer::new(PowerOne), "pty").with_policy(policy(4));
    let exchange = requester.request(&REQUEST, is_reply).expect("request");
    let _device = pcu.join().expect("pcu");
    match &exchange.outcome {
        Outcome::Reply { message, attempts } => {
            assert_eq!(message.bytes[..], REPLY);
            assert_eq!(*attempts, 2);
        }
        other => panic!("no reply: {other:?}"),
    }
    assert_eq!(exchange.unexpected.len(), 1, "{exchange:?}");
    assert_eq!(exchange.unexpected[0].bytes[..], OTHER);
    // 5 noise bytes before OTHER, then 0xAA and the stray 0xFF before REPLY.
    assert_eq!(exchange.garbage_bytes, 7);
}

#[test]
fn closed_peer_is_a_typed_error() {
    let (master, device) = pair();
    drop(device);
    let mut requester =
        Requester::new(master, Framer::new(PowerOne), "pty-closed").with_policy(policy(2));
    match requester.request(&REQUEST, is_reply) {
        Err(err) => {
            assert!(
                matches!(
                    err.kind(),
                    LinkErrorKind::Read | LinkErrorKind::Write | LinkErrorKind::Closed
                ),
                "{err:?}"
            );
            assert_eq!(err.endpoint(), "pty-closed");
        }
        Ok(exchange) => panic!("a closed pty answered: {exchange:?}"),
    }
}

#[cfg(unix)]
#[test]
fn a_pty_pair_carries_bytes_from_its_path_to_the_master() {
    use std::io::{Read, Write};
    let mut pty = rewire_transport::link::Pty::open(std::time::Duration::from_secs(2)).unwrap();
    assert!(pty.path().starts_with("/dev/"), "{}", pty.path());
    let mut client = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(pty.path())
        .unwrap();
    client.write_all(b"Q1\r").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    while got.len() < 3 {
        let n = pty.master().read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"Q1\r");
}
