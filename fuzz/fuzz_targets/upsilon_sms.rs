//! Feeds arbitrary bytes to the TCP 8652 SMS alert request parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rewire_upsilon::sms::{Status, parse_sms_alert};

fuzz_target!(|data: &[u8]| {
    match parse_sms_alert(data) {
        Ok(Status::Complete(n, alert)) => {
            assert!(n <= data.len());
            // A complete request parses the same from exactly its own bytes,
            // and none of its strict prefixes is an error.
            assert_eq!(parse_sms_alert(&data[..n]), Ok(Status::Complete(n, alert)));
            for i in [0, n / 2, n.saturating_sub(1)] {
                assert!(matches!(parse_sms_alert(&data[..i]), Ok(Status::Partial)));
            }
            let _ = alert.headers().count();
            let _ = alert.content_host();
            let mut buf = [0u8; 256];
            let _ = alert.decoded_content(&mut buf);
            let mut buf = [0u8; 256];
            let _ = alert.decoded_recipient(&mut buf);
        }
        Ok(Status::Partial) | Err(_) => {}
    }
});
