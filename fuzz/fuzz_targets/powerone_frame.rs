//! Fuzzes every Power-One entry point: `parse`, `Repr::parse`/`emit`, the
//! payload codecs and both scanners fed as a stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rewire_powerone::{
    DateTime, Frame, Password, PasswordCheck, Repr, Scan, parse, scan, scan_idle,
};

fuzz_target!(|data: &[u8]| {
    if let Ok((frame, used)) = parse(data) {
        assert!(used <= data.len());
        let repr = Repr::parse(&frame).expect("a parsed frame has a Repr");
        let mut out = [0u8; 255];
        let n = repr.emit(&mut out).expect("a parsed frame re-emits");
        // The checksum is skipped under cfg(fuzzing), so compare the rest.
        assert_eq!(out[..n - 1], frame.as_bytes()[..n - 1]);
        payloads(frame.data());
    }

    let view = Frame::new_unchecked(data);
    let _ = (view.destination(), view.source(), view.function().name());
    let _ = (view.data(), view.checksum(), view.computed_checksum());

    // Stream the input through the scanner the way a transport does.
    let mut rest = data;
    loop {
        match scan(rest) {
            Scan::Found {
                skipped,
                len,
                message,
            } => {
                assert!(skipped + len <= rest.len());
                payloads(message.data());
                rest = &rest[skipped + len..];
            }
            Scan::Partial { skipped } => {
                rest = &rest[skipped..];
                break;
            }
        }
    }
    while let Scan::Found { skipped, len, .. } = scan_idle(rest) {
        rest = &rest[skipped + len..];
    }
});

fn payloads(data: &[u8]) {
    let mut out = [0u8; 255];
    if let Ok(when) = DateTime::parse(data) {
        let n = when.emit(&mut out).expect("emit date/time");
        assert_eq!(&out[..n], data);
    }
    if let Ok(password) = Password::parse(data) {
        let n = password.emit(&mut out).expect("emit password");
        assert_eq!(&out[..n], data);
    }
    if let Ok(check) = PasswordCheck::parse(data) {
        let n = check.emit(&mut out).expect("emit check");
        assert_eq!(&out[..n], data);
    }
}
