//! Feeds arbitrary bytes to the TCP 2570 stream scanner and every line parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rewire_upsilon::{
    DEFAULT_MAX_RECORD_LEN, MAX_LINE_LEN, Scan, parse_command, parse_heartbeat, parse_info,
    parse_ratings, parse_status, scan, scan_final, usb,
};

fuzz_target!(|data: &[u8]| {
    // The stream: every record found must parse or fail cleanly, and a
    // parsed status must survive emit → parse.
    let mut rest = data;
    loop {
        let (skipped, len, message) = match scan(rest, DEFAULT_MAX_RECORD_LEN) {
            Scan::Found {
                skipped,
                len,
                message,
            } => (skipped, len, message),
            Scan::Partial { skipped } => match scan_final(&rest[skipped..], DEFAULT_MAX_RECORD_LEN)
            {
                Scan::Found {
                    skipped: s2,
                    len,
                    message,
                } => (skipped + s2, len, message),
                Scan::Partial { .. } => break,
            },
        };
        assert!(skipped + len <= rest.len());
        if let Ok(status) = parse_status(message) {
            let mut buf = [0u8; MAX_LINE_LEN];
            let n = status.emit(&mut buf).expect("status fits MAX_LINE_LEN");
            assert_eq!(parse_status(&buf[..n]), Ok(status));
        }
        rest = &rest[skipped + len..];
    }

    // The same bytes as single replies, commands and datagrams.
    if let Ok(r) = parse_ratings(data) {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = r.emit(&mut buf).expect("ratings fit MAX_LINE_LEN");
        assert_eq!(parse_ratings(&buf[..n]), Ok(r));
    }
    if let Ok(i) = parse_info(data) {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = i.emit(&mut buf).expect("info fits MAX_LINE_LEN");
        assert_eq!(parse_info(&buf[..n]), Ok(i));
    }
    if let Ok(c) = parse_command(data) {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = c.emit(&mut buf).expect("command fits MAX_LINE_LEN");
        assert_eq!(parse_command(&buf[..n]), Ok(c));
        let _ = usb::string_index(&c);
    }
    if let Ok(h) = parse_heartbeat(data) {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = h.emit(&mut buf).expect("heartbeat fits");
        assert_eq!(&buf[..n], data);
    }
    let _ = usb::reply(data);
});
