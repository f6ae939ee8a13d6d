//! Unit tests: captured fixtures, construct/deconstruct, one `rejects_*` per
//! error variant. No `std`: formatting goes through a fixed buffer.

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use crate::registry::{self, PROPERTIES, PROPERTY_ENUMS, TYPED_ENUMS};
use crate::*;

/// A fixed-capacity `fmt::Write` sink.
struct Text {
    buf: [u8; 256],
    len: usize,
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn show(value: impl fmt::Display) -> Text {
    let mut t = Text {
        buf: [0; 256],
        len: 0,
    };
    write!(t, "{value}").unwrap();
    t
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        &self.buf[..self.len] == other.as_bytes()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(core::str::from_utf8(&self.buf[..self.len]).unwrap())
    }
}

/// Captured init frame (wmpe.go, 2024-01-20 log), CRC verifies.
const INIT: [u8; 25] = [
    0x70, 0x83, 0x9e, // magic
    0xe8, 0xe6, // CRC-16/MODBUS of the payload, big-endian
    0x00, 0x12, // payload length 18
    0x00, // function: init
    0xff, 0x00, 0x02, 0x05, // id 0xff00, enum (0x02) value 5
    0x04, 0x01, 0x0d, 0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3, // id 0x0401, MAC (0x0d)
    0x01, 0x20, 0x02, 0x07, // id 0x0120, enum value 7 (also seen 4 and 6)
];

/// The server's usual first query (websentry-protocol.md), payload only.
const FIRST_QUERY: [u8; 49] = [
    0x02, 0x01, 0x00, 0x0f, 0x01, 0x01, 0x0f, 0x01, 0x0e, 0x0f, 0x01, 0x16, 0x0f, 0x02, 0x81, 0x0f,
    0x0c, 0x01, 0x0f, 0x10, 0x03, 0x0f, 0x10, 0x0c, 0x0f, 0x10, 0x10, 0x0f, 0x12, 0x20, 0x0f, 0x01,
    0x02, 0x0f, 0x01, 0x07, 0x0f, 0x01, 0x08, 0x0f, 0x01, 0x0b, 0x0f, 0x01, 0x25, 0x0f, 0x01, 0x36,
    0x0f,
];

/// A query response body built from the protocol table's sample values.
const SAMPLE_RESPONSE: &[u8] = &[
    0x06, 0x00, 0x06, 0x02, 0x16, // humidity_percent 53.4
    0x06, 0x01, 0x06, 0x02, 0x75, // room_temp_f 62.9
    0x01, 0x07, 0x0a, 0x7c, 0x01, 0x10, 0x00, // date 2024-01-16
    0x01, 0x08, 0x0b, 0x14, 0x22, 0x08, 0x00, // time 20:34:02
    0x01, 0x00, 0x05, 0x00, 0x05, 0x0f, 0x0c, // version 0.5.15.12
    0x01, 0x03, 0x12, 0x07, 0x5b, 0xcd, 0x15, // serial_number 123456789
    0x04, 0x02, 0x0c, 0x0a, 0x0f, 0x19, 0x22, // ip_address 10.15.25.34
    0x01, 0x10, 0x07, 0x09, b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8',
    b'9', // serial string
    0x0c, 0x04, 0x08, 0x00, 0x5a, 0x00, 0x0a, 0x00, 0x64,
    0x05, // blower normal speed 90 (10-100 by 5)
    0x01, 0x0b, 0x09, 0x0b, 0x06, // time_zone PST
    0x12, 0x0e, 0x02, 0x02, // blower_state Ready
];
const SAMPLE_IDS: [u16; 11] = [
    0x0600, 0x0601, 0x0107, 0x0108, 0x0100, 0x0103, 0x0402, 0x0110, 0x0c04, 0x010b, 0x120e,
];

fn frame_of(payload: &[u8], buf: &mut [u8]) -> usize {
    let (function, body) = payload.split_first().unwrap();
    encode_frame(FunctionCode::from(*function), body, buf).unwrap()
}

#[test]
fn deconstruct_init() {
    let frame = Frame::new_checked(&INIT[..]).unwrap();
    assert_eq!(frame.magic(), MAGIC);
    assert_eq!(frame.checksum(), 0xe8e6);
    assert!(frame.checksum_ok());
    assert_eq!(frame.payload_len(), 18);
    assert_eq!(frame.function(), FunctionCode::INIT);
    let mut values = frame.values();
    assert_eq!(values.next(), Some(Ok((0xff00, Value::Enum(5)))));
    let (id, mac) = values.next().unwrap().unwrap();
    assert_eq!(id, 0x0401);
    assert_eq!(mac, Value::Mac([0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3]));
    assert_eq!(show(mac), "00:90:c2:0c:02:b3");
    assert_eq!(values.next(), Some(Ok((0x0120, Value::Enum(7)))));
    assert_eq!(values.next(), None);
    assert_eq!(values.position(), 17);
}

#[test]
fn init_variant_ending_in_04_has_crc_e9a6() {
    let mut bytes = INIT;
    bytes[24] = 0x04;
    let frame = Frame::new_checked(&bytes[..]).unwrap();
    assert_eq!(frame.computed_checksum(), 0xe9a6);
    assert!(!frame.checksum_ok());
    bytes[3..5].copy_from_slice(&[0xe9, 0xa6]);
    assert!(Frame::new_checked(&bytes[..]).unwrap().checksum_ok());
}

#[test]
fn construct_init() {
    let items = [
        (0xff00, Value::Enum(5)),
        (0x0401, Value::Mac([0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3])),
        (0x0120, Value::Enum(7)),
    ];
    let mut buf = [0u8; 32];
    let n = encode_values(FunctionCode::INIT, &items, &mut buf).unwrap();
    assert_eq!(&buf[..n], &INIT[..]);

    // The same frame built field by field through the setters.
    let mut buf = [0u8; 25];
    let mut frame = Frame::new_unchecked(&mut buf[..]);
    frame.set_magic();
    frame.set_payload_len(18);
    frame.set_function(FunctionCode::INIT);
    frame.body_mut().copy_from_slice(&INIT[8..]);
    frame.fill_checksum();
    assert_eq!(frame.into_inner(), &INIT[..]);
}

#[test]
fn parse_reports_consumed_and_ignores_trailing_bytes() {
    let mut buf = [0u8; 30];
    buf[..25].copy_from_slice(&INIT);
    buf[25..].copy_from_slice(&[0x70, 0x83, 0x9e, 0x00, 0x00]);
    let (frame, used) = parse(&buf).unwrap();
    assert_eq!(used, 25);
    assert_eq!(frame.as_bytes(), &INIT[..]);
    assert_eq!(frame.into_inner().len(), 25);
}

#[test]
fn first_query_yields_its_16_ids() {
    let mut buf = [0u8; 64];
    let n = frame_of(&FIRST_QUERY, &mut buf);
    let (frame, _) = parse(&buf[..n]).unwrap();
    assert_eq!(frame.function(), FunctionCode::QUERY);
    let mut ids = [0u16; 16];
    let mut count = 0;
    for (slot, id) in ids.iter_mut().zip(frame.query_ids()) {
        *slot = id.unwrap();
        count += 1;
    }
    assert_eq!(count, 16);
    assert_eq!(frame.query_ids().count(), 16);
    assert_eq!(
        ids,
        [
            0x0100, 0x0101, 0x010e, 0x0116, 0x0281, 0x0c01, 0x1003, 0x100c, 0x1010, 0x1220, 0x0102,
            0x0107, 0x0108, 0x010b, 0x0125, 0x0136
        ]
    );
    // And it re-encodes byte for byte.
    let mut again = [0u8; 64];
    let m = encode_query_request(&ids, &mut again).unwrap();
    assert_eq!(&again[..m], &buf[..n]);
}

#[test]
fn sample_response_decodes_to_documented_values() {
    let mut request = [0u8; 64];
    let n = encode_query_request(&SAMPLE_IDS, &mut request).unwrap();
    let request = Frame::new_checked(&request[..n]).unwrap();

    let mut expected_text: [&str; 11] = [""; 11];
    expected_text.copy_from_slice(&[
        "53.4",
        "62.9",
        "2024-01-16",
        "20:34:02",
        "0.5.15.12",
        "123456789",
        "10.15.25.34",
        "\"123456789\"",
        "90 (10-100 by 5)",
        "PST",
        "Ready",
    ]);
    let mut seen = 0;
    for (i, item) in Pairs::new(request.body(), SAMPLE_RESPONSE).enumerate() {
        let (id, value) = item.unwrap();
        assert_eq!(id, SAMPLE_IDS[i]);
        assert_eq!(show(value.labeled(id)), expected_text[i], "item {i}");
        seen += 1;
    }
    assert_eq!(seen, 11);

    let mut values = Values::new(SAMPLE_RESPONSE);
    assert_eq!(values.next().unwrap().unwrap().1.as_f64(), Some(53.4));
    assert_eq!(values.next().unwrap().unwrap().1.as_f64(), Some(62.9));
    let date = values.next().unwrap().unwrap().1;
    assert_eq!(
        date,
        Value::Date {
            year_since_1900: 124,
            month: 1,
            day: 16,
            reserved: 0
        }
    );
    let time = values.next().unwrap().unwrap().1;
    assert_eq!(time.raw().as_ref(), [0x14, 0x22, 0x08, 0x00]);
    let _version = values.next();
    assert_eq!(values.next(), Some(Ok((0x0103, Value::U32(123_456_789)))));
    assert_eq!(
        values.next(),
        Some(Ok((0x0402, Value::Ipv4(Ipv4Addr::new(10, 15, 25, 34)))))
    );
}

#[test]
fn set_exchange_humidity_50() {
    let request_payload = [0x03, 0x25, 0x01, 0x03, 0x00, 0x32];
    let mut buf = [0u8; 16];
    let n = encode_set_request(&[(0x2501, Value::U16(50))], &mut buf).unwrap();
    let frame = Frame::new_checked(&buf[..n]).unwrap();
    assert_eq!(frame.payload(), request_payload);
    let mut items = frame.values();
    let (id, value) = items.next().unwrap().unwrap();
    assert_eq!(property(id).unwrap().name, "set_humidity_percent");
    assert_eq!(value.as_f64(), Some(50.0));
    assert_eq!(items.next(), None);

    let mut buf = [0u8; 16];
    let n = encode_set_response(&[(0x2501, STATUS_OK)], &mut buf).unwrap();
    let frame = Frame::new_checked(&buf[..n]).unwrap();
    assert_eq!(frame.payload(), [0x03, 0x25, 0x01, 0x00]);
    let mut statuses = frame.set_statuses();
    assert_eq!(statuses.next(), Some(Ok((0x2501, STATUS_OK))));
    assert_eq!(statuses.next(), None);
}

#[test]
fn value_display_table() {
    let rows: [(Value<'_>, &str); 22] = [
        (Value::U8(5), "5"),
        (Value::Enum(2), "2"),
        (Value::U16(17), "17"),
        (Value::Bytes2([0x00, 0x03]), "00 03"),
        (Value::Version([0, 5, 15, 12]), "0.5.15.12"),
        (Value::Tenths(534), "53.4"),
        (Value::Tenths(1772), "177.2"),
        (Value::Str(b"Ready"), "\"Ready\""),
        (Value::Str(b"a\xffb"), "\"a\\xffb\""),
        (
            Value::Ranged {
                value: 90,
                min: 0,
                max: 100,
                step: 5,
            },
            "90 (0-100 by 5)",
        ),
        (
            Value::Ranged {
                value: -2,
                min: -50,
                max: 50,
                step: 1,
            },
            "-2 (-50-50 by 1)",
        ),
        (
            Value::TypedEnum {
                enum_type: 0x2d,
                value: 4,
            },
            "Fahrenheit",
        ),
        (
            Value::TypedEnum {
                enum_type: 0x24,
                value: 14,
            },
            "14 (AnalogIn)",
        ),
        (
            Value::TypedEnum {
                enum_type: 0x27,
                value: 2,
            },
            "2 (DigOut)",
        ),
        (
            Value::TypedEnum {
                enum_type: 0x25,
                value: 3,
            },
            "3 (Jn-n)",
        ),
        (
            Value::TypedEnum {
                enum_type: 0x1c,
                value: 1,
            },
            "1 (SensorType)",
        ),
        (
            Value::TypedEnum {
                enum_type: 0x7f,
                value: 1,
            },
            "1 (enum 0x7f)",
        ),
        (
            Value::Ranged {
                value: 0,
                min: 5,
                max: 300,
                step: 5,
            },
            "unset (5-300 by 5)",
        ),
        (
            Value::Ranged {
                value: 0,
                min: -50,
                max: 50,
                step: 1,
            },
            "0 (-50-50 by 1)",
        ),
        (
            Value::Time {
                hour: 10,
                minute: 30,
                seconds_x4: 0,
                reserved: 0,
            },
            "10:30:00",
        ),
        (
            Value::Ipv4(Ipv4Addr::new(255, 255, 255, 0)),
            "255.255.255.0",
        ),
        (Value::U32(123_456_789), "123456789"),
    ];
    for (value, text) in rows {
        assert_eq!(show(value), text);
        // Every value survives emit -> parse.
        let mut buf = [0u8; 16];
        let n = value.emit(&mut buf).unwrap();
        assert_eq!(n, value.encoded_len());
        assert_eq!(buf[0], value.type_code());
        assert_eq!(
            &buf[1..n][buf[0].eq(&0x07) as usize..],
            value.raw().as_ref()
        );
        assert_eq!(Value::parse(&buf[..n]), Ok((value, n)));
    }
}

#[test]
fn ranged_reads_signed_limits() {
    // 0x2b04 in the capture table: ff fe ff ce 00 32 01.
    let (value, _) = Value::parse(&[0x08, 0xff, 0xfe, 0xff, 0xce, 0x00, 0x32, 0x01]).unwrap();
    assert_eq!(
        value,
        Value::Ranged {
            value: -2,
            min: -50,
            max: 50,
            step: 1
        }
    );
    assert_eq!(value.as_f64(), Some(-2.0));
}

#[test]
fn scan_skips_noise_and_false_magic() {
    let mut stream = [0u8; 64];
    // A stray byte, a false magic with an absurd length, a lone magic byte.
    let noise = [0x00, 0x70, 0x83, 0x9e, 0x00, 0x00, 0xea, 0x60, 0x70, 0x11];
    stream[..10].copy_from_slice(&noise);
    stream[10..35].copy_from_slice(&INIT);
    match scan(&stream[..35]) {
        Scan::Found {
            skipped,
            len,
            message,
        } => {
            assert_eq!((skipped, len), (10, 25));
            assert_eq!(message.as_bytes(), &INIT[..]);
        }
        other => panic!("{other:?}"),
    }
    // Every strict prefix of the frame (after the noise) is Partial.
    for cut in 10..35 {
        assert_eq!(scan(&stream[..cut]), Scan::Partial { skipped: 10 }, "{cut}");
    }
    // Until the false magic's length arrives, it might still be a frame.
    assert_eq!(scan(&noise[..7]), Scan::Partial { skipped: 1 });
    assert_eq!(scan(&noise[..1]), Scan::Partial { skipped: 1 });
    assert_eq!(scan(&[]), Scan::Partial { skipped: 0 });
}

#[test]
fn scan_yields_bad_crc_frames_for_the_caller_to_flag() {
    let mut bytes = INIT;
    bytes[24] = 0x04;
    let Scan::Found { message, .. } = scan(&bytes) else {
        panic!("no frame")
    };
    assert!(!message.checksum_ok());
    assert_eq!(
        message.check_checksum(),
        Err(Error::ChecksumMismatch {
            expected: 0xe9a6,
            found: 0xe8e6
        })
    );
}

#[test]
fn every_strict_prefix_is_truncated() {
    for cut in 0..INIT.len() {
        assert!(
            matches!(parse(&INIT[..cut]), Err(Error::Truncated { .. })),
            "{cut}"
        );
    }
}

#[test]
fn registry_tables_are_sorted_and_unique() {
    assert!(PROPERTIES.len() >= 100);
    assert!(PROPERTIES.windows(2).all(|w| w[0].id < w[1].id));
    assert!(
        TYPED_ENUMS
            .windows(2)
            .all(|w| w[0].enum_type < w[1].enum_type)
    );
    assert!(PROPERTY_ENUMS.windows(2).all(|w| w[0].id < w[1].id));
    for e in TYPED_ENUMS {
        assert!(
            e.labels.windows(2).all(|w| w[0].0 < w[1].0),
            "{:#x}",
            e.enum_type
        );
    }
    for e in PROPERTY_ENUMS {
        assert!(e.labels.windows(2).all(|w| w[0].0 < w[1].0), "{:#x}", e.id);
        assert_eq!(property(e.id).unwrap().id, e.id);
    }
    for (i, a) in PROPERTIES.iter().enumerate() {
        assert!(
            PROPERTIES[i + 1..].iter().all(|b| b.name != a.name),
            "{}",
            a.name
        );
        assert_eq!(property(a.id), Some(a));
        assert_eq!(registry::property_by_name(a.name), Some(a));
    }
    let p = property(0x0600).unwrap();
    assert_eq!(
        (p.name, p.unit, p.value_type),
        ("humidity_percent", Some("%"), Some(0x06))
    );
    assert_eq!(property(0x0610).unwrap().name, "discharge_temp_f");
    assert_eq!(property(0x2500).unwrap().name, "set_room_temp_f");
    assert_eq!(property(0x0402).unwrap().name, "ip_address");
    assert_eq!(property(0x190a).unwrap().name, "dehumidifer_state");
    assert_eq!(property(0x0101).unwrap().unit, None);
    assert_eq!(property(0xffff), None);
    assert_eq!(registry::typed_enum_label(0x08, 2), Some("Mon-Fri"));
    assert_eq!(registry::typed_enum_label(0x0d, 3), Some("9600"));
    assert_eq!(registry::typed_enum_label(0x1b, 16), Some("7.0"));
    assert_eq!(registry::property_enum_label(0x0111, 1), Some("Normal"));
    assert_eq!(registry::property_enum_label(0x0111, 200), None);
    assert_eq!(enum_label(0x0600, &Value::Tenths(1)), None);
}

#[test]
fn function_codes_round_trip() {
    for code in 0..=u8::MAX {
        assert_eq!(u8::from(FunctionCode::from(code)), code);
    }
    assert_eq!(FunctionCode::from(0x08), FunctionCode::CODE_08);
    assert_eq!(FunctionCode::from(0x05), FunctionCode(0x05));
    assert_eq!(show(FunctionCode::QUERY), "query");
}

#[test]
fn display_is_one_line_and_flags_bad_crc() {
    let mut bytes = INIT;
    assert_eq!(
        show(Frame::new_checked(&bytes[..]).unwrap()),
        "websentry init len=18 crc=e8e6: ff 00 02 05 04 01 0d 00 90 c2 0c 02 b3 01 20 02 07"
    );
    bytes[24] = 0x04;
    assert_eq!(
        show(Frame::new_checked(&bytes[..]).unwrap()),
        "websentry init len=18 crc=e8e6 (bad, computed e9a6): ff 00 02 05 04 01 0d 00 90 c2 0c 02 b3 01 20 02 04"
    );
}

#[test]
fn unchecked_view_never_panics_on_short_buffers() {
    let frame = Frame::new_unchecked(&[0x70u8][..]);
    assert_eq!(frame.checksum(), 0);
    assert_eq!(frame.payload(), &[] as &[u8]);
    assert_eq!(frame.body(), &[] as &[u8]);
    let mut short = [0u8; 2];
    let mut frame = Frame::new_unchecked(&mut short[..]);
    frame.set_magic();
    frame.set_checksum(1);
    frame.fill_checksum();
    assert_eq!(frame.payload_mut(), &mut [] as &mut [u8]);
}

// One test per error variant.

#[test]
fn rejects_truncated() {
    assert_eq!(
        Frame::new_checked(&INIT[..24]),
        Err(Error::Truncated {
            offset: 7,
            needed: 18,
            available: 17
        })
    );
    assert_eq!(
        Value::parse(&[0x0c, 10, 15]),
        Err(Error::Truncated {
            offset: 1,
            needed: 4,
            available: 2
        })
    );
    assert_eq!(
        Value::parse(&[0x07, 5, b'R']),
        Err(Error::Truncated {
            offset: 1,
            needed: 6,
            available: 2
        })
    );
    let mut ids = QueryIds::new(&[0x01, 0x00, 0x0f, 0x01]);
    assert_eq!(ids.next(), Some(Ok(0x0100)));
    assert_eq!(
        ids.next(),
        Some(Err(Error::Truncated {
            offset: 3,
            needed: 3,
            available: 1
        }))
    );
    assert_eq!(ids.next(), None);
    let mut statuses = SetStatuses::new(&[0x25, 0x01]);
    assert_eq!(
        statuses.next(),
        Some(Err(Error::Truncated {
            offset: 0,
            needed: 3,
            available: 2
        }))
    );
}

#[test]
fn rejects_bad_magic() {
    let mut bytes = INIT;
    bytes[2] = 0x9f;
    assert_eq!(
        Frame::new_checked(&bytes[..]),
        Err(Error::BadMagic {
            found: [0x70, 0x83, 0x9f]
        })
    );
}

#[test]
fn rejects_empty_payload() {
    let bytes = [0x70, 0x83, 0x9e, 0xff, 0xff, 0x00, 0x00];
    assert_eq!(Frame::new_checked(&bytes[..]), Err(Error::EmptyPayload));
    // The scanner treats it as garbage rather than a message.
    assert_eq!(scan(&bytes), Scan::Partial { skipped: 7 });
}

#[test]
fn rejects_payload_too_long() {
    // A 60 000-byte length is absurd, whatever follows.
    let bytes = [0x70, 0x83, 0x9e, 0x00, 0x00, 0xea, 0x60, 0x00];
    assert_eq!(
        Frame::new_checked(&bytes[..]),
        Err(Error::PayloadTooLong {
            len: 60_000,
            max: MAX_PAYLOAD_LEN
        })
    );
    assert_eq!(scan(&bytes), Scan::Partial { skipped: 8 });
    // Encoders refuse to build one too.
    let mut buf = [0u8; MAX_FRAME_LEN + 8];
    let body = [0u8; MAX_PAYLOAD_LEN];
    assert_eq!(
        encode_frame(FunctionCode::CODE_08, &body, &mut buf),
        Err(Error::PayloadTooLong {
            len: MAX_PAYLOAD_LEN + 1,
            max: MAX_PAYLOAD_LEN
        })
    );
    assert_eq!(
        encode_frame(FunctionCode::CODE_08, &body[1..], &mut buf),
        Ok(MAX_FRAME_LEN)
    );
}

#[test]
fn rejects_checksum_mismatch() {
    let mut bytes = INIT;
    bytes[24] = 0x04;
    let mismatch = Error::ChecksumMismatch {
        expected: 0xe9a6,
        found: 0xe8e6,
    };
    // The view takes the frame (length only); the checksum is checked apart.
    let frame = Frame::new_checked(&bytes[..]).unwrap();
    assert_eq!(frame.check_checksum(), Err(mismatch));
    assert_eq!(parse(&bytes).map(|(_, n)| n), Err(mismatch));
}

#[test]
fn rejects_unknown_type_keeping_earlier_items() {
    let body = [0x06, 0x00, 0x06, 0x02, 0x16, 0x06, 0x01, 0x0e, 0x00, 0x00];
    let mut values = Values::new(&body);
    assert_eq!(values.next(), Some(Ok((0x0600, Value::Tenths(534)))));
    assert_eq!(
        values.next(),
        Some(Err(Error::UnknownType {
            offset: 7,
            type_code: 0x0e
        }))
    );
    assert_eq!(values.next(), None);
}

#[test]
fn rejects_bad_query_marker() {
    let mut ids = QueryIds::new(&[0x01, 0x00, 0x0f, 0x01, 0x01, 0x10]);
    assert_eq!(ids.next(), Some(Ok(0x0100)));
    assert_eq!(
        ids.next(),
        Some(Err(Error::BadQueryMarker {
            offset: 5,
            found: 0x10
        }))
    );
    assert_eq!(ids.next(), None);
}

#[test]
fn rejects_order_mismatch() {
    let request = [0x06, 0x00, 0x0f, 0x06, 0x01, 0x0f];
    let response = [0x06, 0x00, 0x01, 0x05, 0x06, 0x02, 0x01, 0x05];
    let mut pairs = Pairs::new(&request, &response);
    assert_eq!(pairs.next(), Some(Ok((0x0600, Value::U8(5)))));
    assert_eq!(
        pairs.next(),
        Some(Err(Error::OrderMismatch {
            index: 1,
            requested: 0x0601,
            answered: 0x0602
        }))
    );
    assert_eq!(pairs.next(), None);
}

#[test]
fn rejects_count_mismatch() {
    let request = [0x06, 0x00, 0x0f, 0x06, 0x01, 0x0f, 0x06, 0x02, 0x0f];
    let response = [0x06, 0x00, 0x01, 0x05];
    let mut pairs = Pairs::new(&request, &response);
    assert!(pairs.next().unwrap().is_ok());
    assert_eq!(
        pairs.next(),
        Some(Err(Error::CountMismatch {
            requested: 3,
            answered: 1
        }))
    );
    assert_eq!(pairs.next(), None);
    let mut pairs = Pairs::new(&request[..3], &SAMPLE_RESPONSE[..10]);
    assert!(pairs.next().unwrap().is_ok());
    assert_eq!(
        pairs.next(),
        Some(Err(Error::CountMismatch {
            requested: 1,
            answered: 2
        }))
    );
}

#[test]
fn rejects_string_too_long() {
    let text = [b'x'; 256];
    let mut buf = [0u8; 300];
    assert_eq!(
        Value::Str(&text).emit(&mut buf),
        Err(Error::StringTooLong { len: 256 })
    );
    assert_eq!(Value::Str(&text[..255]).emit(&mut buf), Ok(257));
}

#[test]
fn rejects_buffer_too_small() {
    let mut buf = [0u8; 24];
    let items = [(0x0401, Value::Mac([0; 6]))];
    assert_eq!(
        encode_values(FunctionCode::INIT, &items, &mut buf[..12]),
        Err(Error::BufferTooSmall {
            needed: 17,
            available: 12
        })
    );
    assert_eq!(
        encode_query_request(&[1, 2], &mut buf[..10]),
        Err(Error::BufferTooSmall {
            needed: 11,
            available: 10
        })
    );
    assert_eq!(
        Value::U32(1).emit(&mut buf[..4]),
        Err(Error::BufferTooSmall {
            needed: 5,
            available: 4
        })
    );
}

/// The compile-time index finds every registry entry, and nothing else,
/// over all 65,536 ids.
#[test]
fn the_property_index_agrees_with_a_search() {
    for id in 0..=u16::MAX {
        let searched = registry::PROPERTIES.iter().find(|p| p.id == id);
        assert_eq!(registry::property(id), searched, "{id:#06x}");
    }
}

/// The table-driven CRC (slice-by-16 or byte-wise, as the features say)
/// agrees with the bit-by-bit definition on lengths around 16-byte blocks.
#[test]
fn crc_tables_agree_with_the_definition() {
    fn bitwise(bytes: &[u8]) -> u16 {
        let mut crc = 0xffffu16;
        for &b in bytes {
            crc ^= u16::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xa001
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }
    let data: [u8; 300] = core::array::from_fn(|i| (i as u8).wrapping_mul(151).wrapping_add(7));
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 100, 300] {
        assert_eq!(crc16_modbus(&data[..len]), bitwise(&data[..len]), "{len}");
    }
}

/// The walk as it was before the lazy walk (`Value::parse` item by item),
/// for comparison: the next item at `pos` and its length, or the error.
fn reference_item(body: &[u8], pos: usize) -> Result<((u16, Value<'_>), usize)> {
    let rest = &body[pos..];
    let [hi, lo, tail @ ..] = rest else {
        return Err(Error::Truncated {
            offset: pos,
            needed: 3,
            available: rest.len(),
        });
    };
    let shift = |e: Error| match e {
        Error::Truncated {
            offset,
            needed,
            available,
        } => Error::Truncated {
            offset: offset + pos + 2,
            needed,
            available,
        },
        Error::UnknownType { offset, type_code } => Error::UnknownType {
            offset: offset + pos + 2,
            type_code,
        },
        other => other,
    };
    let (value, used) = Value::parse(tail).map_err(shift)?;
    Ok(((u16::from_be_bytes([*hi, *lo]), value), 2 + used))
}

/// The lazy walk, the typed walk and the item-by-item parse agree on
/// every item, every number and every error, over bodies of every known
/// and unknown type byte, every length of string, and every prefix.
#[test]
fn the_lazy_walk_agrees_with_the_typed_parse() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut checked = 0;
    for round in 0..4000 {
        let mut body = [0u8; 96];
        for b in &mut body {
            *b = next() as u8;
        }
        // Mostly known type bytes, so that walks go past the first item.
        let mut pos = 0;
        while pos + 3 < body.len() {
            let r = next();
            body[pos + 2] = if r % 16 == 0 {
                (r >> 8) as u8
            } else {
                [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x0b, 0x0c, 0x0d, 0x12][(r >> 8) as usize % 14]
            };
            if body[pos + 2] == 7 {
                body[pos + 3] = (r >> 16) as u8 % 12;
            }
            // Ranged values of 0 with either sign of minimum.
            if body[pos + 2] == 8 && r & 0x100 != 0 && pos + 4 < body.len() {
                body[pos + 3] = 0;
                body[pos + 4] = 0;
            }
            pos += 3 + fixed_body_len(body[pos + 2]).unwrap_or(1 + usize::from(body[pos + 3]));
        }
        let len = round % body.len();
        let body = &body[..len];
        let mut items = Items::new(body);
        let mut values = Values::new(body);
        let mut pos = 0;
        loop {
            let (item, value) = (items.next(), values.next());
            if pos >= body.len() {
                assert_eq!((item, value), (None, None));
                break;
            }
            match reference_item(body, pos) {
                Ok(((id, expected), used)) => {
                    let item = item.unwrap().unwrap();
                    assert_eq!((item.id(), item.value()), (id, expected), "{body:02x?}");
                    assert_eq!(value, Some(Ok((id, expected))));
                    assert_eq!(item.type_code(), expected.type_code());
                    assert_eq!(
                        item.as_f64().map(f64::to_bits),
                        expected.as_f64().map(f64::to_bits),
                        "{expected:?}"
                    );
                    pos += used;
                    assert_eq!(items.position(), pos);
                    checked += 1;
                }
                Err(e) => {
                    assert_eq!(item, Some(Err(e)), "{body:02x?}");
                    assert_eq!(value, Some(Err(e)));
                    assert_eq!((items.next(), values.next()), (None, None));
                    break;
                }
            }
        }
    }
    assert!(checked > 20_000, "{checked} items compared");
}
