//! The NUT command-line grammar as table rows: each line, the words upsd's
//! tokenizer (`common/parseconf.c` in networkupstools/nut) makes of it, or
//! the error and its column; then how the server answers such lines, over
//! `answer` and over TCP (non-UTF-8 bytes, lines at the length bound).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rewire_upsilon_host::hub::Shared;
use rewire_upsilon_host::nut::{
    CommandLineError, NutConfig, NutServer, Server, Session, parse_command_line,
};

/// One row: the line, then the words (`Ok`) or the error (`Err`).
type Row = (
    &'static str,
    Result<&'static [&'static str], CommandLineError>,
);

const ROWS: &[Row] = &[
    // Empty and blank lines have no words.
    ("", Ok(&[])),
    ("   ", Ok(&[])),
    ("\t \t", Ok(&[])),
    // Spaces, tabs and the rest of C's isspace separate words.
    ("LIST UPS", Ok(&["LIST", "UPS"])),
    (
        "  GET\tVAR  ups\tups.status  ",
        Ok(&["GET", "VAR", "ups", "ups.status"]),
    ),
    ("a\rb\x0bc\x0cd", Ok(&["a", "b", "c", "d"])),
    // Quotes group, and end the word where they close.
    ("PASSWORD \"se cret\"", Ok(&["PASSWORD", "se cret"])),
    (
        "SET VAR ups ups.id \"My UPS\"",
        Ok(&["SET", "VAR", "ups", "ups.id", "My UPS"]),
    ),
    ("\"a\"b", Ok(&["a", "b"])),
    ("\"a\"\"b\"", Ok(&["a", "b"])),
    ("\"\"", Ok(&[""])),
    ("x \"\" y", Ok(&["x", "", "y"])),
    ("\"\t\"", Ok(&["\t"])),
    // A quote inside a word is an ordinary character.
    ("a\"b c\"", Ok(&["a\"b", "c\""])),
    // Escaped quote and escaped backslash, inside quotes and out.
    ("\"a \\\"b\\\" c\"", Ok(&["a \"b\" c"])),
    ("a\\\"b", Ok(&["a\"b"])),
    ("\"a\\\\b\"", Ok(&["a\\b"])),
    ("a\\\\", Ok(&["a\\"])),
    ("\\\"a", Ok(&["\"a"])),
    // parseconf's own examples.
    ("embedded\\ space", Ok(&["embedded space"])),
    ("embedded\\\\backslash", Ok(&["embedded\\backslash"])),
    (
        "this \"is also\" a line",
        Ok(&["this", "is also", "a", "line"]),
    ),
    ("\\ ", Ok(&[" "])),
    ("\\x", Ok(&["x"])),
    // '=' is a word of its own outside quotes.
    ("a=b", Ok(&["a", "=", "b"])),
    ("=", Ok(&["="])),
    ("==", Ok(&["=", "="])),
    ("\"a=b\"", Ok(&["a=b"])),
    ("a\\=b", Ok(&["a=b"])),
    // '#' starts a comment outside quotes.
    ("LIST UPS # a comment", Ok(&["LIST", "UPS"])),
    ("a#b c", Ok(&["a"])),
    ("# only a comment", Ok(&[])),
    ("\"a#b\"", Ok(&["a#b"])),
    ("a\\#b", Ok(&["a#b"])),
    ("a # \"never closed", Ok(&["a"])),
    ("a # \\", Ok(&["a"])),
    // Non-ASCII and control characters are kept (parseconf drops them).
    ("PASSWORD pässwörd", Ok(&["PASSWORD", "pässwörd"])),
    (
        "USERNAME \u{fffd}\u{fffd}",
        Ok(&["USERNAME", "\u{fffd}\u{fffd}"]),
    ),
    ("a\\é", Ok(&["aé"])),
    ("\"ü \\ö\"", Ok(&["ü ö"])),
    ("a\x01b", Ok(&["a\x01b"])),
    // An open quote: the column is the quote's.
    ("\"", Err(CommandLineError::UnterminatedQuote { column: 1 })),
    (
        "\"abc",
        Err(CommandLineError::UnterminatedQuote { column: 1 }),
    ),
    (
        "PASSWORD \"a b",
        Err(CommandLineError::UnterminatedQuote { column: 10 }),
    ),
    (
        "a \"b\\\"",
        Err(CommandLineError::UnterminatedQuote { column: 3 }),
    ),
    (
        "\"a\" \"b",
        Err(CommandLineError::UnterminatedQuote { column: 5 }),
    ),
    (
        "é \"",
        Err(CommandLineError::UnterminatedQuote { column: 4 }),
    ),
    // A final backslash: the column is the backslash's.
    ("\\", Err(CommandLineError::TrailingBackslash { column: 1 })),
    (
        "abc\\",
        Err(CommandLineError::TrailingBackslash { column: 4 }),
    ),
    (
        "a \\",
        Err(CommandLineError::TrailingBackslash { column: 3 }),
    ),
    (
        "\"abc\\",
        Err(CommandLineError::TrailingBackslash { column: 5 }),
    ),
    (
        "a\\\\\\",
        Err(CommandLineError::TrailingBackslash { column: 4 }),
    ),
];

#[test]
fn command_lines_split_like_upsd() {
    for &(line, want) in ROWS {
        let got = parse_command_line(line);
        let got: Result<Vec<&str>, CommandLineError> = match &got {
            Ok(words) => Ok(words.iter().map(|w| &**w).collect()),
            Err(e) => Err(*e),
        };
        assert_eq!(got, want.map(<[&str]>::to_vec), "{line:?}");
    }
}

#[test]
fn errors_say_what_and_where() {
    assert_eq!(
        CommandLineError::UnterminatedQuote { column: 7 }.to_string(),
        "the quote at column 7 is never closed"
    );
    assert_eq!(
        CommandLineError::TrailingBackslash { column: 3 }.to_string(),
        "the backslash at column 3 ends the line"
    );
}

#[test]
fn words_without_escapes_borrow_from_the_line() {
    let line = String::from("GET VAR \"ups\" a\\b");
    let words = parse_command_line(&line).unwrap();
    assert!(matches!(words[0], std::borrow::Cow::Borrowed("GET")));
    assert!(matches!(words[2], std::borrow::Cow::Borrowed("ups")));
    assert!(matches!(words[3], std::borrow::Cow::Owned(_)));
}

#[test]
fn lines_at_the_length_bound_split() {
    // The server reads lines of up to 1023 bytes before the newline.
    let value = "x".repeat(1023 - "SET VAR ups ups.id \"\"".len());
    let line = format!("SET VAR ups ups.id \"{value}\"");
    assert_eq!(line.len(), 1023);
    let words = parse_command_line(&line).unwrap();
    assert_eq!(words.len(), 5);
    assert_eq!(words[4], value);
    let escaped = "\\\"".repeat(511);
    let words = parse_command_line(&escaped).unwrap();
    assert_eq!(words, ["\"".repeat(511)]);
    let open = format!("\"{}", "y".repeat(1022));
    assert_eq!(
        parse_command_line(&open),
        Err(CommandLineError::UnterminatedQuote { column: 1 })
    );
    let trailing_at_bound = format!("{}\\", "z".repeat(1022));
    assert_eq!(
        parse_command_line(&trailing_at_bound),
        Err(CommandLineError::TrailingBackslash { column: 1023 })
    );
}

/// Fresh data of a UPS on line at 20 % load.
fn shared() -> Shared {
    let shared = Shared::default();
    {
        let mut snap = shared.lock();
        snap.status =
            rewire_upsilon::Status::parse(b"(230.0 230.0 230.0 020 50.0 27.2 --.- 00001000").ok();
        snap.status_at = Some(Instant::now());
    }
    shared
}

fn config() -> NutConfig {
    NutConfig::new("ups", "table", Duration::from_secs(3600))
}

#[test]
fn the_server_answers_each_kind_of_line() {
    let s = Server::new(config(), shared());
    let rows: &[(&str, &str)] = &[
        ("", "ERR UNKNOWN-COMMAND\n"),
        ("   ", "ERR UNKNOWN-COMMAND\n"),
        ("# a comment", "ERR UNKNOWN-COMMAND\n"),
        ("NETVER", "1.3\n"),
        ("netver # comment", "1.3\n"),
        ("\"NETVER\"", "1.3\n"),
        ("NET\\VER", "1.3\n"),
        ("NETVER=", "ERR INVALID-ARGUMENT\n"),
        ("NETVER \"\"", "ERR INVALID-ARGUMENT\n"),
        ("GET VAR \"ups\" \"ups.load\"", "VAR ups ups.load \"20\"\n"),
        ("GET VAR ups ups.load\t", "VAR ups ups.load \"20\"\n"),
        ("GET VAR ups \"ups.load", "ERR INVALID-ARGUMENT\n"),
        ("GET VAR ups ups.load\\", "ERR INVALID-ARGUMENT\n"),
        ("\"GET", "ERR INVALID-ARGUMENT\n"),
        ("\\", "ERR INVALID-ARGUMENT\n"),
        ("GET VAR ups ups.lo\"ad", "ERR VAR-NOT-SUPPORTED\n"),
    ];
    for &(line, want) in rows {
        let mut c = Session::default();
        assert_eq!(s.answer(&mut c, line), want, "{line:?}");
    }
}

fn reply(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn over_tcp_a_broken_line_is_refused_and_the_session_goes_on() {
    let nut = NutServer::start("127.0.0.1:0".parse().unwrap(), config(), shared()).unwrap();
    let mut c = TcpStream::connect(nut.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    // Non-UTF-8 bytes are read as U+FFFD and kept in the word.
    c.write_all(b"USERNAME \xff\xfe\n").unwrap();
    assert_eq!(reply(&mut r), "OK\n");
    c.write_all(b"GET VAR ups \"ups.load\n").unwrap();
    assert_eq!(reply(&mut r), "ERR INVALID-ARGUMENT\n");
    c.write_all(b"GET VAR ups ups.load \\\r\n").unwrap();
    assert_eq!(reply(&mut r), "ERR INVALID-ARGUMENT\n");
    c.write_all(b"GET VAR ups ups.load\r\n").unwrap();
    assert_eq!(reply(&mut r), "VAR ups ups.load \"20\"\n");
    // 1023 bytes before the newline: answered.
    let long = format!("GET VAR ups {}\n", "v".repeat(1023 - 12));
    assert_eq!(long.len(), 1024);
    c.write_all(long.as_bytes()).unwrap();
    assert_eq!(reply(&mut r), "ERR VAR-NOT-SUPPORTED\n");
    // One byte more: refused, and the connection closes.
    let longer = format!("GET VAR ups {}\n", "v".repeat(1024 - 12));
    c.write_all(longer.as_bytes()).unwrap();
    assert_eq!(reply(&mut r), "ERR INVALID-ARGUMENT\n");
    assert_eq!(reply(&mut r), "");
    nut.shutdown();
}
