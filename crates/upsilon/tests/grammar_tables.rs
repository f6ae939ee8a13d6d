//! Table tests of the text grammars, one row per edge case (httparse's
//! `req!` style): the input, then the value it parses to or the error,
//! with its field and byte offset. Together the rows reach every error
//! variant each grammar can return.

use rewire_upsilon::sms::{self, Parsed, SmsAlert, parse_sms_alert};
use rewire_upsilon::{
    Decimal, Error, Field, Info, MAX_INFO_LEN, Ratings, Status, StatusBits, parse_info,
    parse_ratings,
};

/// `raw / 10^scale`.
fn d(raw: i32, scale: u8) -> Option<Decimal> {
    Decimal::new(raw, scale)
}

fn unexpected(field: Field, offset: usize, found: u8) -> Error {
    Error::UnexpectedByte {
        field,
        offset,
        found,
    }
}

fn missing(field: Field, offset: usize) -> Error {
    Error::MissingField { field, offset }
}

fn too_long(field: Field, offset: usize, len: usize, max: usize) -> Error {
    Error::TooLong {
        field,
        offset,
        len,
        max,
    }
}

/// Runs `parse` on every row and reports all mismatches at once.
fn check<'a, T: PartialEq + std::fmt::Debug>(
    name: &str,
    parse: impl Fn(&'a [u8]) -> Result<T, Error>,
    rows: &[(&'a [u8], Result<T, Error>)],
) {
    let mut bad = Vec::new();
    for (input, want) in rows {
        let got = parse(input);
        if &got != want {
            bad.push(format!(
                "{name} {:?}\n  want {want:?}\n   got {got:?}",
                String::from_utf8_lossy(input)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---- F: ratings ------------------------------------------------------------------

fn ratings(
    v: Option<Decimal>,
    c: Option<Decimal>,
    b: Option<Decimal>,
    f: Option<Decimal>,
) -> Ratings {
    Ratings {
        voltage: v,
        current: c,
        battery_voltage: b,
        frequency: f,
    }
}

#[test]
fn f_reply_table() {
    use Field::*;
    let std = ratings(d(2200, 1), d(0, 0), d(240, 1), d(500, 1));
    let rows: &[(&[u8], Result<Ratings, Error>)] = &[
        // Accepted shapes.
        (b"#220.0 000 024.0 50.0\r", Ok(std)),
        (b"#220.0 000 024.0 50.0", Ok(std)),
        (b"#220.0 000 024.0 50.0\r\n\0\0", Ok(std)),
        (b"#  220.0   000 024.0 50.0   ", Ok(std)),
        (
            b"#220.0 005 24.00 50.0",
            Ok(ratings(d(2200, 1), d(5, 0), d(2400, 2), d(500, 1))),
        ),
        (b"#---.- --- --.- --.-", Ok(ratings(None, None, None, None))),
        (
            b"#-1 .- -.-- 1.234",
            Ok(ratings(d(-1, 0), None, None, d(1234, 3))),
        ),
        (
            b"#-1 .- -.5- 1.234",
            Err(unexpected(RatedBatteryVoltage, 8, b'.')),
        ),
        (
            b"#123456789 1 2 3",
            Ok(ratings(d(123_456_789, 0), d(1, 0), d(2, 0), d(3, 0))),
        ),
        // UnexpectedByte: start, a number's bytes, trailing data.
        (b"220.0 000 024.0 50.0", Err(unexpected(Start, 0, b'2'))),
        (b"(220.0 000 024.0 50.0", Err(unexpected(Start, 0, b'('))),
        (
            b"#2x0.0 000 024.0 50.0",
            Err(unexpected(RatedVoltage, 2, b'x')),
        ),
        (
            b"#220.0 0.0.0 024.0 50.0",
            Err(unexpected(RatedCurrent, 10, b'.')),
        ),
        (
            b"#220.0 000 .24 50.0",
            Err(unexpected(RatedBatteryVoltage, 11, b'.')),
        ),
        (
            b"#220.0 000 024.0 --5",
            Err(unexpected(RatedFrequency, 18, b'-')),
        ),
        (
            b"#220.0 000 024.0 5\t0",
            Err(unexpected(RatedFrequency, 18, b'\t')),
        ),
        (
            b"#220.0 000 024.0 50.0-",
            Err(unexpected(RatedFrequency, 21, b'-')),
        ),
        (
            b"#220.0 000 024.0 50.0 x",
            Err(unexpected(Trailing, 22, b'x')),
        ),
        (
            b"#220.0 000 024.0 50.0\r5",
            Err(unexpected(RatedFrequency, 21, b'\r')),
        ),
        // MissingField: start, whole fields, digits.
        (b"", Err(missing(Start, 0))),
        (b"\r\n", Err(missing(Start, 0))),
        (b"#", Err(missing(RatedVoltage, 1))),
        (b"#   ", Err(missing(RatedVoltage, 4))),
        (b"#220.0 000 024.0", Err(missing(RatedFrequency, 16))),
        (b"#220.0 000 024.0 \r", Err(missing(RatedFrequency, 17))),
        (b"#220. 000 024.0 50.0", Err(missing(RatedVoltage, 5))),
        (b"#220.0 - 024.0 50.0", Err(missing(RatedCurrent, 8))),
        // TooLong: digits, decimals.
        (
            b"#2200000000 000 024.0 50.0",
            Err(too_long(RatedVoltage, 1, 10, 9)),
        ),
        (
            b"#22000.00000 000 024.0 50.0",
            Err(too_long(RatedVoltage, 1, 11, 9)),
        ),
        (
            b"#1234567890x 000 024.0 50.0",
            Err(too_long(RatedVoltage, 1, 11, 9)),
        ),
        (
            b"#220.0 000 024.0 5.0000",
            Err(too_long(RatedFrequency, 17, 6, 3)),
        ),
    ];
    check("F", parse_ratings, rows);
}

// ---- I: information ----------------------------------------------------------------

fn info<'a>(company: &'a str, model: &'a str, version: &'a str) -> Info<'a> {
    Info {
        company,
        model,
        version,
    }
}

#[test]
fn i_reply_table() {
    use Field::*;
    let long_version = [b"#".as_slice(), &[b' '; 27], &[b'v'; MAX_INFO_LEN - 28]].concat();
    let too_long_reply = [long_version.as_slice(), b"v"].concat();
    let rows: &[(&[u8], Result<Info<'_>, Error>)] = &[
        // Accepted shapes.
        (
            b"#NOT_A_LIVE_UPS  TESTING    TESTING   \r",
            Ok(info("NOT_A_LIVE_UPS", "TESTING", "TESTING")),
        ),
        (
            b"#MegaTecabcedfhi k130v12345 v3.400000\r",
            Ok(info("MegaTecabcedfhi", "k130v12345", "v3.400000")),
        ),
        (
            b"#                           V4.10     \r",
            Ok(info("", "", "V4.10")),
        ),
        (b"#\r", Ok(info("", "", ""))),
        (b"#", Ok(info("", "", ""))),
        (b"#ACME", Ok(info("ACME", "", ""))),
        (b"#ACME           X", Ok(info("ACME", "", ""))),
        (b"#ACME           XMODEL", Ok(info("ACME", "MODEL", ""))),
        (
            b"#ACME           |MODEL     |V1",
            Ok(info("ACME", "MODEL", "V1")),
        ),
        (
            &long_version,
            Ok(info("", "", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")),
        ),
        // UnexpectedByte: start, a byte outside printable ASCII in each
        // column and in each gap (gaps are checked first; UTF-8 is not
        // printable ASCII, so InvalidUtf8 cannot happen here).
        (b"NOT_A_LIVE_UPS", Err(unexpected(Start, 0, b'N'))),
        (b" #", Err(unexpected(Start, 0, b' '))),
        (b"#AC\tME", Err(unexpected(Company, 3, b'\t'))),
        (
            b"#ACME           MOD\x7fEL",
            Err(unexpected(Model, 19, 0x7f)),
        ),
        (
            b"#ACME           MODEL      V\xc3\xa9",
            Err(unexpected(Version, 28, 0xc3)),
        ),
        (
            b"#ACME          \x01MODEL      V1",
            Err(unexpected(Company, 15, 0x01)),
        ),
        (
            b"#AC\x01ME          \x01MODEL",
            Err(unexpected(Company, 16, 0x01)),
        ),
        (
            b"#ACME           MODEL      \x02V1",
            Err(unexpected(Model, 27, 0x02)),
        ),
        (
            b"#\xffCME           MODEL      \x02V1",
            Err(unexpected(Model, 27, 0x02)),
        ),
        (
            b"#\xffCME           MODEL     \x02V1",
            Err(unexpected(Company, 1, 0xff)),
        ),
        (b"#ACME\r           ", Err(unexpected(Company, 5, b'\r'))),
        // MissingField: only the start.
        (b"", Err(missing(Start, 0))),
        (b"\r\0", Err(missing(Start, 0))),
        // TooLong: the whole reply.
        (
            &too_long_reply,
            Err(too_long(Request, 0, MAX_INFO_LEN + 1, MAX_INFO_LEN)),
        ),
    ];
    check("I", parse_info, rows);
}

// ---- Q1: status ----------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn q1(
    m: Option<Decimal>,
    n: Option<Decimal>,
    p: Option<Decimal>,
    q: Option<u16>,
    r: Option<Decimal>,
    s: Option<Decimal>,
    t: Option<Decimal>,
    bits: u8,
) -> Status {
    Status {
        input_voltage: m,
        input_fault_voltage: n,
        output_voltage: p,
        load_percent: q,
        input_frequency: r,
        battery_voltage: s,
        temperature: t,
        bits: StatusBits::from_bits(bits),
    }
}

#[test]
fn q1_status_table() {
    use Field::*;
    let seed = q1(
        d(2387, 1),
        d(2387, 1),
        d(2387, 1),
        Some(7),
        d(501, 1),
        d(274, 1),
        None,
        0b1000,
    );
    let rows: &[(&[u8], Result<Status, Error>)] = &[
        // Standard width (the by-position path) and the grammar's shapes.
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000\r",
            Ok(seed),
        ),
        (b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000", Ok(seed)),
        (
            b"(238.7 238.7 238.7 7 50.1 27.4 --.- 00001000\r\n\0",
            Ok(seed),
        ),
        (
            b"(238.7  238.7 238.7   007 50.1 27.4 ---.- 00001000   ",
            Ok(seed),
        ),
        (
            b"(215.0 195.0 230.0 014 49.0 2.27 30.0 00101000",
            Ok(q1(
                d(2150, 1),
                d(1950, 1),
                d(2300, 1),
                Some(14),
                d(490, 1),
                d(227, 2),
                d(300, 1),
                0b10_1000,
            )),
        ),
        (
            b"(-23.5 -00.0 -1.00 65535 -3.5 -.-- 1.125 11111111",
            Ok(q1(
                d(-235, 1),
                d(0, 1),
                d(-100, 2),
                Some(65535),
                d(-35, 1),
                None,
                d(1125, 3),
                0xff,
            )),
        ),
        (
            b"(---.- --.-- -.--- --- .- -- - 00000000",
            Err(missing(Temperature, 30)),
        ),
        (
            b"(---.- --.-- -.--- --- .- -- -. 00000000",
            Ok(q1(None, None, None, None, None, None, None, 0)),
        ),
        // UnexpectedByte: start, each field, bits, trailing data.
        (
            b"238.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
            Err(unexpected(Start, 0, b'2')),
        ),
        (
            b"#238.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
            Err(unexpected(Start, 0, b'#')),
        ),
        (
            b"(2+8.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
            Err(unexpected(InputVoltage, 2, b'+')),
        ),
        (
            b"(238.7 .38.7 238.7 007 50.1 27.4 --.- 00001000",
            Err(unexpected(InputFaultVoltage, 7, b'.')),
        ),
        (
            b"(238.7 238.7 23x.7 007 50.1 27.4 --.- 00001000",
            Err(unexpected(OutputVoltage, 15, b'x')),
        ),
        (
            b"(238.7 238.7 238.7 0.7 50.1 27.4 --.- 00001000",
            Err(unexpected(Load, 20, b'.')),
        ),
        (
            b"(238.7 238.7 238.7 -07 50.1 27.4 --.- 00001000",
            Err(unexpected(Load, 19, b'-')),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1. 27.4 --.- 00001000",
            Err(unexpected(InputFrequency, 27, b'.')),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 2-.4 --.- 00001000",
            Err(unexpected(BatteryVoltage, 29, b'-')),
        ),
        (b"(238.7 238.7 238.7 007 50.1 27.4 --.-- 00001000", Ok(seed)),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --..- 00001000",
            Err(unexpected(Temperature, 34, b'-')),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00002000",
            Err(unexpected(StatusBits, 42, b'2')),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 0000100x",
            Err(unexpected(StatusBits, 45, b'x')),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 00001000 extra",
            Err(unexpected(Trailing, 47, b'e')),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 0000\r100\r",
            Err(unexpected(StatusBits, 42, b'\r')),
        ),
        // MissingField: start, each field, digits, bits.
        (b"", Err(missing(Start, 0))),
        (b"\r", Err(missing(Start, 0))),
        (b"(", Err(missing(InputVoltage, 1))),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4\r",
            Err(missing(Temperature, 32)),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- \r",
            Err(missing(StatusBits, 38)),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.-",
            Err(missing(StatusBits, 37)),
        ),
        (
            b"(238. 238.7 238.7 007 50.1 27.4 --.- 00001000",
            Err(missing(InputVoltage, 5)),
        ),
        (
            b"(238.7 238.7 238.7 007 - 27.4 --.- 00001000",
            Err(missing(InputFrequency, 24)),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 0000100",
            Err(missing(StatusBits, 45)),
        ),
        // TooLong: digits, decimals, load digits, bits.
        (
            b"(2380000000.7 238.7 238.7 007 50.1 27.4 --.- 00001000",
            Err(too_long(InputVoltage, 1, 12, 9)),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 1.2345 00001000",
            Err(too_long(Temperature, 33, 6, 3)),
        ),
        (
            b"(238.7 238.7 238.7 0000000007 50.1 27.4 --.- 00001000",
            Err(too_long(Load, 19, 10, 9)),
        ),
        (
            b"(238.7 238.7 238.7 007 50.1 27.4 --.- 000010001",
            Err(too_long(StatusBits, 38, 9, 8)),
        ),
        // OutOfRange: a load above 65535.
        (
            b"(238.7 238.7 238.7 65536 50.1 27.4 --.- 00001000",
            Err(Error::OutOfRange {
                field: Load,
                value: 65536,
                min: 0,
                max: 65535,
            }),
        ),
    ];
    check("Q1", Status::parse, rows);
}

// ---- SMS request line ----------------------------------------------------------------

/// The request line and query of an alert, as `(minor, path, recipient,
/// content, code)`, or `None` for `Partial`.
type Line<'a> = Option<(u8, &'a str, &'a str, &'a str, &'a str)>;

fn request_line(buf: &[u8]) -> Result<Line<'_>, Error> {
    Ok(match parse_sms_alert(buf)? {
        Parsed::Complete(
            n,
            SmsAlert {
                http_minor,
                path,
                recipient,
                content,
                code,
                ..
            },
        ) => {
            assert!(n <= buf.len());
            Some((http_minor, path, recipient, content, code))
        }
        Parsed::Partial => None,
    })
}

#[test]
fn sms_request_line_table() {
    use Field::*;
    let too_big = [b"GET /".as_slice(), &[b'a'; sms::MAX_REQUEST_LEN]].concat();
    let too_many = [
        b"GET /x?$sms_recptmobile=1&$sms_content=a&$sms_code=1 HTTP/1.1\r\n".as_slice(),
        &b"X: y\r\n".repeat(sms::MAX_HEADERS + 1),
        b"\r\n",
    ]
    .concat();
    let rows: &[(&[u8], Result<Line<'_>, Error>)] = &[
        // Accepted shapes.
        (
            b"GET /smssend_hide.cgi?$sms_recptmobile=0123456789&$sms_content=PC: On battery&$sms_code=1 HTTP/1.1\r\n\r\n",
            Ok(Some((1, "/smssend_hide.cgi", "0123456789", "PC: On battery", "1"))),
        ),
        (b"GET /?$sms_recptmobile=&$sms_content=&$sms_code= HTTP/1.0\n\n", Ok(Some((0, "/", "", "", "")))),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_content=y&$sms_code=2&$sms_code=3 HTTP/1.1 HTTP/1.9\n\n",
            Ok(Some((9, "/a", "1", "x&$sms_content=y&$sms_code=2", "3 HTTP/1.1"))),
        ),
        (b"GET /a?b HTTP/1.1", Ok(None)),
        (b"GE", Ok(None)),
        (b"", Ok(None)),
        (b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_code=2 HTTP/1.1\r\nHost: h\r\n", Ok(None)),
        // UnexpectedByte: method, version digit and what follows it, target,
        // recipient key, header name.
        (b"POST /", Err(unexpected(Method, 0, b'P'))),
        (b"GEt /", Err(unexpected(Method, 2, b't'))),
        (b"GET\r\n", Err(unexpected(Method, 3, b'\r'))),
        (b"GET /a?x HTTP/1.x\r\n", Err(unexpected(HttpVersion, 16, b'x'))),
        (b"GET /a?x HTTP/1.11\r\n", Err(unexpected(HttpVersion, 17, b'1'))),
        (b"GET /a?x HTTP/1.1 \r\n", Err(unexpected(HttpVersion, 17, b' '))),
        (b"GET a?x HTTP/1.1\r\n", Err(unexpected(Target, 4, b'a'))),
        (b"GET /a?$sms_recptMobile=1 HTTP/1.1\r\n", Err(unexpected(Recipient, 17, b'M'))),
        (b"GET /a?&$sms_content=x HTTP/1.1\r\n", Err(unexpected(Recipient, 7, b'&'))),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_code=2 HTTP/1.1\r\nBad Header: x\r\n\r\n",
            Err(unexpected(Header, 66, b' ')),
        ),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_code=2 HTTP/1.1\r\nA: b\r\nC(",
            Err(unexpected(Header, 70, b'(')),
        ),
        // MissingField: version, version digit, target, path end, recipient
        // key, content key, code key, header name, header colon.
        (b"GET /smssend_hide.cgi\r\n", Err(missing(HttpVersion, 21))),
        (b"GET HTTP/1.1\r\n", Err(missing(HttpVersion, 12))),
        (b"GET /a?x HTTP/1.\r\n", Err(missing(HttpVersion, 16))),
        (b"GET  HTTP/1.1\r\n", Err(missing(Target, 4))),
        (b"GET /smssend_hide.cgi HTTP/1.1\r\n", Err(missing(Target, 21))),
        (b"GET /a?$sms_recpt HTTP/1.1\r\n", Err(missing(Recipient, 17))),
        (b"GET /a?$sms_recptmobile=1 HTTP/1.1\r\n\r\n", Err(missing(Content, 25))),
        (b"GET /a?$sms_recptmobile=1&$sms_content=x HTTP/1.1\r\n", Err(missing(Code, 40))),
        (b"GET /a?$sms_recptmobile=1&$sms_code=1&$sms_content=x HTTP/1.1\r\n", Err(missing(Code, 52))),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_code=2 HTTP/1.1\r\n: b\r\n\r\n",
            Err(missing(Header, 63)),
        ),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_code=2 HTTP/1.1\r\nNoColon\r\n\r\n",
            Err(missing(Header, 70)),
        ),
        // InvalidUtf8: path, recipient, content, code, header value.
        (
            b"GET /\xe9?$sms_recptmobile=1&$sms_content=x&$sms_code=2 HTTP/1.1\r\n\r\n",
            Err(Error::InvalidUtf8 { field: Target, offset: 5 }),
        ),
        (
            b"GET /a?$sms_recptmobile=1\xff&$sms_content=x&$sms_code=2 HTTP/1.1\r\n\r\n",
            Err(Error::InvalidUtf8 { field: Recipient, offset: 25 }),
        ),
        (
            b"GET /a?$sms_recptmobile=\xff HTTP/1.1\r\n\r\n",
            Err(missing(Content, 25)),
        ),
        (
            b"GET /a?$sms_recptmobile=\xff&$sms_content=x HTTP/1.1\r\n\r\n",
            Err(Error::InvalidUtf8 { field: Recipient, offset: 24 }),
        ),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=PC: \xc3&$sms_code=2 HTTP/1.1\r\n\r\n",
            Err(Error::InvalidUtf8 { field: Content, offset: 43 }),
        ),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_code=\xc3\xa9\xc3 HTTP/1.1\r\n\r\n",
            Err(Error::InvalidUtf8 { field: Code, offset: 53 }),
        ),
        (
            b"GET /a?$sms_recptmobile=1&$sms_content=x&$sms_code=2 HTTP/1.1\r\nA: \xff\r\n\r\n",
            Err(Error::InvalidUtf8 { field: Header, offset: 66 }),
        ),
        // TooLong: no request within MAX_REQUEST_LEN bytes.
        (&too_big, Err(too_long(Request, 0, too_big.len(), sms::MAX_REQUEST_LEN))),
        // TooManyHeaders.
        (&too_many, Err(Error::TooManyHeaders { max: sms::MAX_HEADERS })),
    ];
    check("SMS", request_line, rows);
}
