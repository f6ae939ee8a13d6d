//! Fixtures, construct/deconstruct and one `rejects_<reason>` test per error variant.

use std::format;
use std::string::ToString;
use std::vec::Vec;

use crate::sms::{self, parse_sms_alert};
use crate::*;

fn d(raw: i32, scale: u8) -> Option<Decimal> {
    Decimal::new(raw, scale)
}

fn emit_status(s: &Status) -> Vec<u8> {
    let mut buf = [0u8; MAX_LINE_LEN];
    let n = s.emit(&mut buf).unwrap();
    buf[..n].to_vec()
}

// ---- Q1 status -------------------------------------------------------------

/// The seed's line, captured on TCP 2570 from RupsMon (MEC0003 USB UPS).
const SEED: &[u8] = b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000";

#[test]
fn seed_line_decodes_exactly() {
    // (      start
    // 238.7  input voltage        238.7 238.7 output voltage
    // 007    load %               50.1  input frequency
    // 27.4   battery (SS.S: standby UPS)
    // --.-   temperature unknown  00001000 only bit 3 (standby) set
    let s = Status::parse(SEED).unwrap();
    assert_eq!(
        s,
        Status {
            input_voltage: d(2387, 1),
            input_fault_voltage: d(2387, 1),
            output_voltage: d(2387, 1),
            load_percent: Some(7),
            input_frequency: d(501, 1),
            battery_voltage: d(274, 1),
            temperature: None,
            bits: StatusBits::from_bits(0b0000_1000),
        }
    );
    let b = s.bits;
    assert!(b.standby());
    assert!(!b.utility_fail());
    assert!(!b.battery_low());
    assert!(!b.bypass_boost_buck());
    assert!(!b.ups_failed());
    assert!(!b.test_in_progress());
    assert!(!b.shutdown_active());
    assert!(!b.beeper_on());
    assert!(!s.battery_per_cell());
}

#[test]
fn seed_line_construct_and_emit() {
    let s = Status::parse(SEED).unwrap();
    let mut expected = SEED.to_vec();
    expected.push(b'\r');
    assert_eq!(emit_status(&s), expected);
}

/// Real lines from different makers and dialects, with where each was seen.
/// Columns: line, input V, load, battery (raw, scale), temperature raw, bits.
#[test]
fn real_status_lines_from_many_makers() {
    type Row = (
        &'static str,
        &'static [u8],
        i32,
        u16,
        (i32, u8),
        Option<i32>,
        u8,
    );
    let rows: &[Row] = &[
        (
            "seed 000: UPSilon 2000 RupsMon TCP 2570, MEC0003 USB UPS",
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
            2387,
            7,
            (274, 1),
            None,
            0b0000_1000,
        ),
        (
            "NUT drivers/nutdrv_qx_megatec.c: Megatec protocol example in the qx2nut comment",
            b"(226.0 195.0 226.0 014 49.0 27.5 30.0 00001000\r",
            2260,
            14,
            (275, 1),
            Some(300),
            0b0000_1000,
        ),
        (
            "NUT drivers/nutdrv_qx_megatec.c testing table (also q1, zinto, mecer, hunnox, ablerex)",
            b"(215.0 195.0 230.0 014 49.0 22.7 30.0 00000000\r",
            2150,
            14,
            (227, 1),
            Some(300),
            0,
        ),
        (
            "NUT drivers/nutdrv_qx_bestups.c testing table: bypass/boost/buck bit",
            b"(215.0 195.0 230.0 014 49.0 22.7 30.0 00100000\r",
            2150,
            14,
            (227, 1),
            Some(300),
            0b0010_0000,
        ),
        (
            "NUT drivers/blazer_ser.c and blazer_usb.c testing table: S.SS per-cell battery",
            b"(215.0 195.0 230.0 014 49.0 2.27 30.0 00101000\r",
            2150,
            14,
            (227, 2),
            Some(300),
            0b0010_1000,
        ),
        (
            "NUT drivers/nutdrv_qx_omron.c: Omron, 100 V mains, 54.5 V battery",
            b"(102.5 000.0 102.4 000 49.9 54.5 22.7 00101000\r",
            1025,
            0,
            (545, 1),
            Some(227),
            0b0010_1000,
        ),
        (
            "NUT docs/nutdrv_qx-subdrivers.txt: Armac (USB 'armac' subdriver) read without CR",
            b"(233.0 000.0 233.0 014 49.0 27.0 20.8 00001001",
            2330,
            14,
            (270, 1),
            Some(208),
            0b0000_1001,
        ),
        (
            "NUT docs/nutdrv_qx-subdrivers.txt: Armac R/2000I/PSW on battery (utility fail)",
            b"(000.0 140.0 227.0 002 00.0 46.8 56.0 10001000",
            0,
            2,
            (468, 1),
            Some(560),
            0b1000_1000,
        ),
        (
            "NUT docs/nutdrv_qx-subdrivers.txt: Armac R/3000I/PF1 on-line, per-cell battery",
            b"(241.5 000.0 230.3 000 49.9 2.25 48.0 00000001",
            2415,
            0,
            (225, 2),
            Some(480),
            0b0000_0001,
        ),
        (
            "saper-2/py-upshid-voltqs README: Voltronic-QS over HID 0665:5161, CR then NUL",
            b"(228.6 228.7 228.6 000 50.0 13.5 --.- 00001000\r\x00",
            2286,
            0,
            (135, 1),
            None,
            0b0000_1000,
        ),
        (
            "saper-2/py-upshid-voltqs README: second QS reading (JSON example)",
            b"(230.8 230.8 230.8 000 50.0 13.6 --.- 00001000\r\x00",
            2308,
            0,
            (136, 1),
            None,
            0b0000_1000,
        ),
        (
            "pb0xxx/megatec-ups-control-library README: UPSilon's USB index 3 ('(' restored; the library strips it)",
            b"(237.0 000.0 232.0 000 50.0 13.5 34.8 00001001",
            2370,
            0,
            (135, 1),
            Some(348),
            0b0000_1001,
        ),
    ];
    for &(origin, line, vin, load, (braw, bscale), temp, bits) in rows {
        let s = Status::parse(line).unwrap_or_else(|e| panic!("{origin}: {e}"));
        assert_eq!(s.input_voltage, d(vin, 1), "{origin}");
        assert_eq!(s.load_percent, Some(load), "{origin}");
        assert_eq!(s.battery_voltage, d(braw, bscale), "{origin}");
        assert_eq!(s.temperature, temp.and_then(|t| d(t, 1)), "{origin}");
        assert_eq!(s.bits.bits(), bits, "{origin}");
        assert_eq!(s.battery_per_cell(), bscale == 2, "{origin}");
        // Re-encoding gives the line back (terminators aside).
        let out = emit_status(&s);
        let trimmed: Vec<u8> = line
            .iter()
            .copied()
            .take_while(|&b| b != b'\r' && b != 0)
            .collect();
        assert_eq!(out[..out.len() - 1], trimmed[..], "{origin}");
    }
}

#[test]
fn status_bits_each_accessor() {
    type Accessor = fn(StatusBits) -> bool;
    let cases: [(u8, Accessor); 8] = [
        (0b1000_0000, StatusBits::utility_fail),
        (0b0100_0000, StatusBits::battery_low),
        (0b0010_0000, StatusBits::bypass_boost_buck),
        (0b0001_0000, StatusBits::ups_failed),
        (0b0000_1000, StatusBits::standby),
        (0b0000_0100, StatusBits::test_in_progress),
        (0b0000_0010, StatusBits::shutdown_active),
        (0b0000_0001, StatusBits::beeper_on),
    ];
    for (i, (mask, _)) in cases.iter().enumerate() {
        let mut line = *b"(230.0 230.0 230.0 000 50.0 13.6 --.- 00000000";
        line[38 + i] = b'1';
        let s = Status::parse(&line).unwrap();
        assert_eq!(s.bits.bits(), *mask);
        for (j, (_, other)) in cases.iter().enumerate() {
            assert_eq!(other(s.bits), i == j, "bit {i} accessor {j}");
        }
    }
}

#[test]
fn status_dialect_variations() {
    // Unknown fields of both widths, space-padded load (NUT docs/new-drivers.txt
    // strace shows `120.0   0 60.0`), CR LF and NUL padding.
    let s = Status::parse(b"(---.- 000.0 120.0   0 60.0 --.- --.- 00000000\r\n\0\0").unwrap();
    assert_eq!(s.input_voltage, None);
    assert_eq!(s.battery_voltage, None);
    assert_eq!(s.load_percent, Some(0));
    assert_eq!(s.input_frequency, d(600, 1));
    let s = Status::parse(b"(230.0 230.0 230.0 1000 50.0 13.6 -05.5 00000000").unwrap();
    assert_eq!(s.load_percent, Some(1000));
    assert_eq!(
        emit_status(&s),
        b"(230.0 230.0 230.0 1000 50.0 13.6 -05.5 00000000\r"
    );
    let s = Status::parse(b"(230.0 230.0 230.0 --- 50.0 13.6 -05.5 00000000").unwrap();
    assert_eq!(s.load_percent, None);
    assert_eq!(s.temperature, d(-55, 1));
    assert_eq!(
        emit_status(&s),
        b"(230.0 230.0 230.0 --- 50.0 13.6 -05.5 00000000\r"
    );
}

#[test]
fn status_display_is_one_line() {
    let text = Status::parse(SEED).unwrap().to_string();
    assert_eq!(
        text,
        "Q1 in 238.7V fault 238.7V out 238.7V load 7% 50.1Hz batt 27.4V temp ?C bits 00001000"
    );
}

// ---- F and I replies -------------------------------------------------------

#[test]
fn ratings_replies() {
    type Num = (i32, u8);
    type Row = (&'static str, &'static [u8], Num, Num, Num, Num);
    let rows: &[Row] = &[
        (
            "NUT nutdrv_qx_megatec.c comment",
            b"#220.0 000 024.0 50.0\r",
            (2200, 1),
            (0, 0),
            (240, 1),
            (500, 1),
        ),
        (
            "NUT nutdrv_qx_megatec.c testing table",
            b"#230.0 000 024.0 50.0\r",
            (2300, 1),
            (0, 0),
            (240, 1),
            (500, 1),
        ),
        (
            "NUT docs/nutdrv_qx-subdrivers.txt: Armac, two-decimal battery",
            b"#220.0 005 24.00 50.0",
            (2200, 1),
            (5, 0),
            (2400, 2),
            (500, 1),
        ),
        (
            "saper-2/py-upshid-voltqs README: HID 0665:5161, NUL padding",
            b"#230.0 003 12.00 50.0\r\x00\x00",
            (2300, 1),
            (3, 0),
            (1200, 2),
            (500, 1),
        ),
    ];
    for &(origin, line, v, c, b, f) in rows {
        let r = parse_ratings(line).unwrap_or_else(|e| panic!("{origin}: {e}"));
        assert_eq!(
            r,
            Ratings {
                voltage: d(v.0, v.1),
                current: d(c.0, c.1),
                battery_voltage: d(b.0, b.1),
                frequency: d(f.0, f.1),
            },
            "{origin}"
        );
        let mut buf = [0u8; 32];
        let n = r.emit(&mut buf).unwrap();
        let body: Vec<u8> = line.iter().copied().take_while(|&b| b != b'\r').collect();
        assert_eq!(buf[..n - 1], body[..], "{origin}");
    }
}

#[test]
fn info_replies() {
    let rows: &[(&str, &[u8], &str, &str, &str)] = &[
        (
            "NUT nutdrv_qx_megatec.c testing table",
            b"#NOT_A_LIVE_UPS  TESTING    TESTING   \r",
            "NOT_A_LIVE_UPS",
            "TESTING",
            "TESTING",
        ),
        (
            "NUT nutdrv_qx_megatec.c comment: common Qx firmware-only reply",
            b"#-------------   ------     VT12046Q  \r",
            "-------------",
            "------",
            "VT12046Q",
        ),
        (
            "NUT docs/nutdrv_qx-subdrivers.txt: Armac, blank company and model",
            b"#                           V4.10     \r",
            "",
            "",
            "V4.10",
        ),
    ];
    for &(origin, line, company, model, version) in rows {
        let i = parse_info(line).unwrap_or_else(|e| panic!("{origin}: {e}"));
        assert_eq!(
            i,
            Info {
                company,
                model,
                version
            },
            "{origin}"
        );
        let mut buf = [0u8; INFO_LINE_LEN];
        let n = i.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], line, "{origin}");
    }
}

#[test]
fn info_megatec_ic_variant_keeps_long_version() {
    // NUT nutdrv_qx_megatec.c comment: "Megatec IC" reply, one byte shorter.
    let line = b"#MegaTecabcedfhi k130v12345 v3.400000\r";
    let i = parse_info(line).unwrap();
    assert_eq!(
        (i.company, i.model, i.version),
        ("MegaTecabcedfhi", "k130v12345", "v3.400000")
    );
    let long = Info {
        company: "A",
        model: "B",
        version: "a version longer than ten",
    };
    let mut buf = [0u8; MAX_LINE_LEN];
    let n = long.emit(&mut buf).unwrap();
    assert_eq!(parse_info(&buf[..n]).unwrap(), long);
}

#[test]
fn info_short_reply_gives_empty_columns() {
    assert_eq!(
        parse_info(b"#\r").unwrap(),
        Info {
            company: "",
            model: "",
            version: ""
        }
    );
}

// ---- commands ----------------------------------------------------------------

fn emit_cmd(c: &Command) -> Vec<u8> {
    let mut buf = [0u8; MAX_COMMAND_LEN];
    let n = c.emit(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn commands_emit_and_parse() {
    let tm = |m| TestMinutes::new(m).unwrap();
    let tenths = |t| ShutdownDelay::from_tenths(t).unwrap();
    let mins = |m| ShutdownDelay::from_minutes(m).unwrap();
    let r = |m| Some(RestoreMinutes::new(m).unwrap());
    let rows: &[(&[u8], Command)] = &[
        (b"Q1\r", Command::Status),
        (b"D\r", Command::StatusLegacy),
        (b"T\r", Command::Test),
        (b"TL\r", Command::TestUntilLow),
        (b"T01\r", Command::TestFor(tm(1))),
        (b"T04\r", Command::TestFor(tm(4))),
        (b"T99\r", Command::TestFor(tm(99))),
        (b"Q\r", Command::ToggleBeeper),
        (
            b"S.2\r",
            Command::Shutdown {
                delay: tenths(2),
                restore: None,
            },
        ),
        (
            b"S.9\r",
            Command::Shutdown {
                delay: tenths(9),
                restore: None,
            },
        ),
        (
            b"S01\r",
            Command::Shutdown {
                delay: mins(1),
                restore: None,
            },
        ),
        (
            b"S03\r",
            Command::Shutdown {
                delay: mins(3),
                restore: None,
            },
        ),
        (
            b"S10\r",
            Command::Shutdown {
                delay: mins(10),
                restore: None,
            },
        ),
        (
            b"S.5R0000\r",
            Command::Shutdown {
                delay: tenths(5),
                restore: r(0),
            },
        ),
        (
            b"S02R0005\r",
            Command::Shutdown {
                delay: mins(2),
                restore: r(5),
            },
        ),
        (
            b"S.2R9999\r",
            Command::Shutdown {
                delay: tenths(2),
                restore: r(9999),
            },
        ),
        (
            b"S10R0001\r",
            Command::Shutdown {
                delay: mins(10),
                restore: r(1),
            },
        ),
        (b"C\r", Command::CancelShutdown),
        (b"CT\r", Command::CancelTest),
        (b"F\r", Command::Ratings),
        (b"I\r", Command::Info),
    ];
    for (wire, cmd) in rows {
        assert_eq!(parse_command(wire).unwrap(), *cmd, "{:?}", wire);
        assert_eq!(&emit_cmd(cmd), wire);
        // The CR is optional when parsing.
        assert_eq!(parse_command(&wire[..wire.len() - 1]).unwrap(), *cmd);
        assert_eq!(format!("{cmd}\r").as_bytes(), *wire);
    }
    assert_eq!(tenths(5).seconds(), 30);
    assert_eq!(mins(10).seconds(), 600);
}

#[test]
fn command_range_edges() {
    for bad in [
        &b"T00\r"[..],
        b"S00\r",
        b"S11\r",
        b"S.0\r",
        b"S.1\r",
        b"S99R0000\r",
    ] {
        assert!(
            matches!(parse_command(bad), Err(Error::OutOfRange { .. })),
            "{bad:?}"
        );
    }
    assert!(TestMinutes::new(0).is_err() && TestMinutes::new(100).is_err());
    assert!(ShutdownDelay::from_tenths(1).is_err() && ShutdownDelay::from_tenths(10).is_err());
    assert!(ShutdownDelay::from_minutes(0).is_err() && ShutdownDelay::from_minutes(11).is_err());
    assert!(RestoreMinutes::new(10_000).is_err());
    assert!(RestoreMinutes::new(9999).is_ok());
    for bad in [
        &b"T100\r"[..],
        b"S.5R00001\r",
        b"S1\r",
        b"S.5R001\r",
        b"T5\r",
    ] {
        assert!(parse_command(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn echo_detection() {
    assert!(Command::TestFor(TestMinutes::new(4).unwrap()).is_echoed_by(b"T04\r"));
    assert!(Command::CancelTest.is_echoed_by(b"CT"));
    assert!(!Command::CancelTest.is_echoed_by(b"C\r"));
    assert!(!Command::Status.is_echoed_by(SEED));
}

// ---- USB MEC0003 -------------------------------------------------------------

#[test]
fn usb_string_indexes_match_nut_fabula() {
    let sd = |c: &[u8]| usb::string_index(&parse_command(c).unwrap());
    assert_eq!(sd(b"Q1\r"), Some(0x03));
    assert_eq!(sd(b"F\r"), Some(0x0D));
    assert_eq!(sd(b"I\r"), Some(0x0C));
    assert_eq!(sd(b"Q\r"), Some(0x07));
    assert_eq!(sd(b"C\r"), Some(0x0A));
    // Stay off (R0000): low nibble 0; delay steps of 0x10 from .5.
    assert_eq!(sd(b"S.5R0000\r"), Some(0x10));
    assert_eq!(sd(b"S.6R0000\r"), Some(0x20));
    assert_eq!(sd(b"S.9R0000\r"), Some(0x50));
    assert_eq!(sd(b"S01R0000\r"), Some(0x60));
    assert_eq!(sd(b"S02R0000\r"), Some(0x70));
    assert_eq!(sd(b"S10R0000\r"), Some(0xF0));
    // Below .5 counts as .5.
    assert_eq!(sd(b"S.2R0000\r"), Some(0x10));
    assert_eq!(sd(b"S.4R0000\r"), Some(0x10));
    // Power returns (R ≥ 1, or no R at all): low nibble 8.
    assert_eq!(sd(b"S.5R0001\r"), Some(0x18));
    assert_eq!(sd(b"S02R0005\r"), Some(0x78));
    assert_eq!(sd(b"S03\r"), Some(0x88));
    assert_eq!(sd(b"S10R9999\r"), Some(0xF8));
    // No index: NUT echoes these back instead.
    for c in [&b"D\r"[..], b"T\r", b"TL\r", b"T10\r", b"CT\r"] {
        assert_eq!(sd(c), None, "{c:?}");
    }
}

#[test]
fn usb_no_ack_is_no_answer() {
    assert!(usb::is_no_ack(b"UPS No Ack"));
    assert!(usb::is_no_ack(b"UPS No Ack\r"));
    assert!(usb::is_no_ack(b"ups no ack\r"));
    assert!(!usb::is_no_ack(b"UPS No Ack!"));
    assert!(!usb::is_no_ack(b"UPS No"));
    assert_eq!(usb::reply(b"UPS No Ack\r"), None);
    assert_eq!(usb::reply(SEED), Some(SEED));
}

// ---- heartbeat -----------------------------------------------------------------

#[test]
fn heartbeats() {
    assert_eq!(
        parse_heartbeat(b"ups000cnt001").unwrap(),
        Heartbeat::Connected { ups: 0 }
    );
    assert_eq!(
        parse_heartbeat(b"ups042cnt001").unwrap(),
        Heartbeat::Connected { ups: 42 }
    );
    assert_eq!(
        parse_heartbeat(b"upsdiscnt001").unwrap(),
        Heartbeat::Disconnected
    );
    for hb in [
        Heartbeat::Connected { ups: 0 },
        Heartbeat::Connected { ups: 999 },
        Heartbeat::Disconnected,
    ] {
        let mut buf = [0u8; HEARTBEAT_LEN];
        let n = hb.emit(&mut buf).unwrap();
        assert_eq!(parse_heartbeat(&buf[..n]).unwrap(), hb);
    }
    let bad: &[(&[u8], usize)] = &[
        (b"", 0),
        (b"ups000cnt00", 11),
        (b"ups000cnt0011", 12),
        (b"ups0a0cnt001", 4),
        (b"upsdi0cnt001", 5),
        (b"upsupsdiscnt001", 3),
        (b"ups000cnt002", 11),
        (b"UPS000cnt001", 0),
    ];
    for &(datagram, offset) in bad {
        assert_eq!(
            parse_heartbeat(datagram),
            Err(Error::BadHeartbeat {
                offset,
                len: datagram.len()
            }),
            "{datagram:?}"
        );
    }
}

// ---- SMS alert -------------------------------------------------------------------

/// The seed's request to TCP 8652 (CR LF line ends, as WinInet sends them).
const SMS: &[u8] = b"GET /smssend_hide.cgi?$sms_recptmobile=0123456789&$sms_content=DESKTOP-294DAYV: This is a test message!&$sms_code=1 HTTP/1.1\r\nUser-Agent: RUPS2K SMS\r\nHost: 127.0.0.1\r\nConnection: Keep-Alive\r\n\r\n";

#[test]
fn sms_seed_request() {
    let sms::Parsed::Complete(n, a) = parse_sms_alert(SMS).unwrap() else {
        panic!("partial")
    };
    assert_eq!(n, SMS.len());
    assert_eq!(a.http_minor, 1);
    assert_eq!(a.path, "/smssend_hide.cgi");
    assert_eq!(a.recipient, "0123456789");
    assert_eq!(a.content, "DESKTOP-294DAYV: This is a test message!");
    assert_eq!(a.content_host(), Some("DESKTOP-294DAYV"));
    assert_eq!(a.message(), "This is a test message!");
    assert_eq!(a.code, "1");
    assert_eq!(a.user_agent, Some("RUPS2K SMS"));
    assert_eq!(a.host, Some("127.0.0.1"));
    assert_eq!(a.header("connection"), Some("Keep-Alive"));
    let names: Vec<&str> = a.headers().map(|h| h.name).collect();
    assert_eq!(names, ["User-Agent", "Host", "Connection"]);
    // No %XX: the raw text comes back and the buffer is not needed.
    assert_eq!(a.decoded_content(&mut []).unwrap(), a.content);
}

#[test]
fn sms_every_strict_prefix_is_partial() {
    for i in 0..SMS.len() {
        assert_eq!(
            parse_sms_alert(&SMS[..i]),
            Ok(sms::Parsed::Partial),
            "prefix of {i} bytes"
        );
    }
}

#[test]
fn sms_trailing_bytes_are_not_consumed() {
    let mut two = SMS.to_vec();
    two.extend_from_slice(b"GET /");
    assert!(matches!(
        parse_sms_alert(&two),
        Ok(sms::Parsed::Complete(n, _)) if n == SMS.len()
    ));
}

#[test]
fn sms_content_with_ampersand_and_http_inside() {
    let req = b"GET /smssend_hide.cgi?$sms_recptmobile=1&$sms_content=PC: A&B HTTP/1.0 x&$sms_code=7 HTTP/1.0\n\n";
    let sms::Parsed::Complete(_, a) = parse_sms_alert(req).unwrap() else {
        panic!("partial")
    };
    assert_eq!(a.http_minor, 0);
    assert_eq!(a.content, "PC: A&B HTTP/1.0 x");
    assert_eq!(a.code, "7");
    assert_eq!(a.user_agent, None);
}

#[test]
fn sms_percent_decoding_only_when_escaped() {
    let req = b"GET /smssend_hide.cgi?$sms_recptmobile=%2B27&$sms_content=PC%3A%20low%ZZ 100%&$sms_code=1 HTTP/1.1\r\n\r\n";
    let sms::Parsed::Complete(_, a) = parse_sms_alert(req).unwrap() else {
        panic!("partial")
    };
    let mut buf = [0u8; 64];
    assert_eq!(a.decoded_content(&mut buf).unwrap(), "PC: low%ZZ 100%");
    let mut buf = [0u8; 64];
    assert_eq!(a.decoded_recipient(&mut buf).unwrap(), "+27");
    assert_eq!(sms::split_host("PC: low"), (Some("PC"), "low"));
}

// ---- scanner -----------------------------------------------------------------------

#[test]
fn scanner_finds_records_between_noise() {
    let stream = b"junk\0(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r\n\0\0(230.0 230.0 230.0 000 50.0 13.6 --.- 00001000(1";
    let m = DEFAULT_MAX_RECORD_LEN;
    let Scan::Found {
        skipped,
        len,
        message,
    } = scan(stream, m)
    else {
        panic!()
    };
    assert_eq!((skipped, len, message), (5, 50, SEED));
    let rest = &stream[skipped + len..];
    // Second record has no CR: the next `(` ends it.
    let Scan::Found {
        skipped,
        len,
        message,
    } = scan(rest, m)
    else {
        panic!()
    };
    assert_eq!((skipped, len), (0, 46));
    assert_eq!(message, &rest[..46]);
    let rest = &rest[46..];
    assert_eq!(scan(rest, m), Scan::Partial { skipped: 0 });
    assert_eq!(
        scan_final(rest, m),
        Scan::Found {
            skipped: 0,
            len: 2,
            message: &b"(1"[..]
        }
    );
    assert_eq!(scan(b"no record\r\n", m), Scan::Partial { skipped: 11 });
}

#[test]
fn scanner_skips_oversize_records() {
    let mut stream = Vec::from(&b"("[..]);
    stream.extend(std::iter::repeat_n(b'x', 60));
    stream.extend_from_slice(b"\r");
    stream.extend_from_slice(SEED);
    stream.push(b'\r');
    // Too long for 50: the first record is garbage up to the next `(`.
    assert_eq!(
        scan(&stream, 50),
        Scan::Found {
            skipped: 62,
            len: SEED.len() + 1,
            message: SEED
        }
    );
    // While fewer than max bytes follow the `(`, it is kept.
    assert_eq!(scan(&stream[..40], 50), Scan::Partial { skipped: 0 });
    assert_eq!(scan(&stream[..55], 50), Scan::Partial { skipped: 55 });
}

// ---- one test per error variant ----------------------------------------------------

#[test]
fn rejects_unexpected_byte() {
    assert_eq!(
        Status::parse(b"238.7"),
        Err(Error::UnexpectedByte {
            field: Field::Start,
            offset: 0,
            found: b'2'
        })
    );
    assert_eq!(
        Status::parse(b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00002000"),
        Err(Error::UnexpectedByte {
            field: Field::StatusBits,
            offset: 42,
            found: b'2'
        })
    );
    assert_eq!(
        Status::parse(b"(238.7 238.7 23x.7 007 50.1 27.4 --.- 00001000"),
        Err(Error::UnexpectedByte {
            field: Field::OutputVoltage,
            offset: 15,
            found: b'x'
        })
    );
    assert_eq!(
        Status::parse(b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000 extra"),
        Err(Error::UnexpectedByte {
            field: Field::Trailing,
            offset: 47,
            found: b'e'
        })
    );
    assert!(matches!(
        parse_command(b"X\r"),
        Err(Error::UnexpectedByte { offset: 0, .. })
    ));
    assert!(matches!(
        parse_sms_alert(b"POST /"),
        Err(Error::UnexpectedByte {
            field: Field::Method,
            offset: 0,
            ..
        })
    ));
    assert!(matches!(
        parse_sms_alert(
            b"GET /x?$sms_recptmobile=1&$sms_content=a&$sms_code=1 HTTP/1.1\r\nBad Header: x\r\n"
        ),
        Err(Error::UnexpectedByte {
            field: Field::Header,
            ..
        })
    ));
}

#[test]
fn rejects_missing_field() {
    assert_eq!(
        Status::parse(b"(238.7 238.7 238.7 007 50.1 27.4 --.-\r"),
        Err(Error::MissingField {
            field: Field::StatusBits,
            offset: 37
        })
    );
    assert_eq!(
        Status::parse(b""),
        Err(Error::MissingField {
            field: Field::Start,
            offset: 0
        })
    );
    assert!(matches!(
        parse_ratings(b"#220.0 000 024.0"),
        Err(Error::MissingField {
            field: Field::RatedFrequency,
            ..
        })
    ));
    assert!(matches!(
        parse_sms_alert(b"GET /smssend_hide.cgi?$sms_recptmobile=1 HTTP/1.1\r\n\r\n"),
        Err(Error::MissingField {
            field: Field::Content,
            ..
        })
    ));
    assert!(matches!(
        parse_sms_alert(b"GET /smssend_hide.cgi\r\n"),
        Err(Error::MissingField {
            field: Field::HttpVersion,
            ..
        })
    ));
}

#[test]
fn rejects_too_long() {
    assert!(matches!(
        Status::parse(b"(2380000000.7 238.7 238.7 007 50.1 27.4 --.- 00001000"),
        Err(Error::TooLong {
            field: Field::InputVoltage,
            offset: 1,
            ..
        })
    ));
    assert!(matches!(
        Status::parse(b"(238.7 238.7 238.7 007 50.1 27.4 --.- 000010001"),
        Err(Error::TooLong {
            field: Field::StatusBits,
            ..
        })
    ));
    let long = [b'#'; MAX_INFO_LEN + 1];
    assert!(matches!(parse_info(&long), Err(Error::TooLong { .. })));
    let mut req = b"GET /".to_vec();
    req.resize(sms::MAX_REQUEST_LEN, b'a');
    assert!(matches!(
        parse_sms_alert(&req),
        Err(Error::TooLong {
            field: Field::Request,
            ..
        })
    ));
    let info = Info {
        company: "a company name too long",
        model: "",
        version: "",
    };
    assert!(matches!(
        info.emit(&mut [0u8; 64]),
        Err(Error::TooLong {
            field: Field::Company,
            ..
        })
    ));
}

#[test]
fn rejects_out_of_range() {
    assert_eq!(
        parse_command(b"T00\r"),
        Err(Error::OutOfRange {
            field: Field::TestMinutes,
            value: 0,
            min: 1,
            max: 99
        })
    );
    assert_eq!(
        parse_command(b"S11\r"),
        Err(Error::OutOfRange {
            field: Field::ShutdownDelay,
            value: 11,
            min: 1,
            max: 10
        })
    );
    let hb = Heartbeat::Connected { ups: 1000 };
    assert!(matches!(
        hb.emit(&mut [0u8; 16]),
        Err(Error::OutOfRange {
            field: Field::UpsNumber,
            ..
        })
    ));
}

#[test]
fn rejects_buffer_too_small() {
    let s = Status::parse(SEED).unwrap();
    assert_eq!(
        s.emit(&mut [0u8; 10]),
        Err(Error::BufferTooSmall {
            needed: SEED.len() + 1,
            available: 10
        })
    );
    assert_eq!(
        Command::Status.emit(&mut [0u8; 2]),
        Err(Error::BufferTooSmall {
            needed: 3,
            available: 2
        })
    );
    let req = b"GET /smssend_hide.cgi?$sms_recptmobile=1&$sms_content=%41%42&$sms_code=1 HTTP/1.1\r\n\r\n";
    let sms::Parsed::Complete(_, a) = parse_sms_alert(req).unwrap() else {
        panic!()
    };
    assert_eq!(
        a.decoded_content(&mut [0u8; 1]),
        Err(Error::BufferTooSmall {
            needed: 2,
            available: 1
        })
    );
}

#[test]
fn rejects_bad_heartbeat() {
    assert_eq!(
        parse_heartbeat(b"hello"),
        Err(Error::BadHeartbeat { offset: 0, len: 5 })
    );
}

#[test]
fn rejects_invalid_utf8() {
    let req =
        b"GET /smssend_hide.cgi?$sms_recptmobile=1&$sms_content=\xff&$sms_code=1 HTTP/1.1\r\n\r\n";
    assert_eq!(
        parse_sms_alert(req),
        Err(Error::InvalidUtf8 {
            field: Field::Content,
            offset: 54
        })
    );
    let req =
        b"GET /smssend_hide.cgi?$sms_recptmobile=1&$sms_content=%FF&$sms_code=1 HTTP/1.1\r\n\r\n";
    let sms::Parsed::Complete(_, a) = parse_sms_alert(req).unwrap() else {
        panic!()
    };
    assert_eq!(
        a.decoded_content(&mut [0u8; 8]),
        Err(Error::InvalidUtf8 {
            field: Field::Content,
            offset: 0
        })
    );
}

#[test]
fn rejects_too_many_headers() {
    let mut req = b"GET /x?$sms_recptmobile=1&$sms_content=a&$sms_code=1 HTTP/1.1\r\n".to_vec();
    for _ in 0..=sms::MAX_HEADERS {
        req.extend_from_slice(b"X: y\r\n");
    }
    req.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_sms_alert(&req),
        Err(Error::TooManyHeaders {
            max: sms::MAX_HEADERS
        })
    );
}
