//! The SMS alert request RupsMon sends to its SMS gateway on TCP 8652.
//!
//! ```text
//! GET /smssend_hide.cgi?$sms_recptmobile=<to>&$sms_content=<host>: <message>&$sms_code=<code> HTTP/1.1<CR><LF>
//! User-Agent: RUPS2K SMS<CR><LF>
//! Host: 127.0.0.1<CR><LF>
//! Connection: Keep-Alive<CR><LF>
//! <CR><LF>
//! ```
//!
//! The query is not percent-encoded: spaces and colons travel raw, so the
//! request line ends at its *last* ` HTTP/1.x`, and the content runs from
//! `&$sms_content=` to the *last* `&$sms_code=`. Parsing is httparse-style:
//! [`Parsed::Partial`] means "feed more bytes", an [`Error`] means the bytes
//! can never become a valid request.

use core::fmt;

use nom::Parser;
use nom::bytes::complete::{tag, take_till, take_until, take_while};
use nom::character::complete::satisfy;
use nom::combinator::{eof, recognize};
use nom::sequence::{preceded, terminated};

use crate::error::{Error, Field};
use crate::grammar::{self, NomError};

/// Longest request accepted, headers and blank line included.
pub const MAX_REQUEST_LEN: usize = 4096;

/// Most header lines accepted.
pub const MAX_HEADERS: usize = 32;

const METHOD: &[u8] = b"GET ";
const VERSION_PREFIX: &[u8] = b" HTTP/1.";
const RECIPIENT_KEY: &[u8] = b"$sms_recptmobile=";
const CONTENT_KEY: &[u8] = b"&$sms_content=";
const CODE_KEY: &[u8] = b"&$sms_code=";

/// Result of feeding bytes to [`parse_sms_alert`] (httparse's `Status`,
/// named apart from the Q1 [`Status`](crate::Status)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole request: it occupies the first `.0` bytes of the input.
    Complete(usize, T),
    /// The bytes so far are a valid beginning; feed more.
    Partial,
}

/// A decoded SMS alert request. Text fields borrow from the input and are
/// exactly as sent (see [`SmsAlert::decoded_content`] for `%XX` escapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsAlert<'a> {
    /// The minor HTTP version: 1 for `HTTP/1.1`, 0 for `HTTP/1.0`.
    pub http_minor: u8,
    /// The path before `?`, e.g. `/smssend_hide.cgi`.
    pub path: &'a str,
    /// `$sms_recptmobile`: the phone number to alert.
    pub recipient: &'a str,
    /// `$sms_content`: the alert text, usually `<host name>: <message>`.
    pub content: &'a str,
    /// `$sms_code`: a code whose meaning is not known (the capture shows `1`).
    pub code: &'a str,
    /// The `User-Agent` header (`RUPS2K SMS` from RupsMon), if any.
    pub user_agent: Option<&'a str>,
    /// The `Host` header, if any.
    pub host: Option<&'a str>,
    headers: &'a str,
}

impl<'a> SmsAlert<'a> {
    /// Returns the host name that starts the content, before its first
    /// `": "`, or `None` when the content has no `": "`.
    pub fn content_host(&self) -> Option<&'a str> {
        split_host(self.content).0
    }

    /// Returns the message after the content's first `": "` (the whole
    /// content when there is none).
    pub fn message(&self) -> &'a str {
        split_host(self.content).1
    }

    /// Iterates over all header lines in order.
    pub fn headers(&self) -> Headers<'a> {
        Headers { rest: self.headers }
    }

    /// Returns the first header named `name` (compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Returns the content with `%XX` escapes decoded into `out`, or the raw
    /// content, untouched and without using `out`, when it has none.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `out` is too short for the decoded
    /// text; [`Error::InvalidUtf8`] when the decoded bytes are not UTF-8.
    pub fn decoded_content<'b>(&self, out: &'b mut [u8]) -> Result<&'b str, Error>
    where
        'a: 'b,
    {
        percent_decode(self.content, Field::Content, out)
    }

    /// Returns the recipient with `%XX` escapes decoded into `out` (or
    /// untouched when it has none), like [`SmsAlert::decoded_content`].
    ///
    /// # Errors
    /// As [`SmsAlert::decoded_content`].
    pub fn decoded_recipient<'b>(&self, out: &'b mut [u8]) -> Result<&'b str, Error>
    where
        'a: 'b,
    {
        percent_decode(self.recipient, Field::Recipient, out)
    }
}

impl fmt::Display for SmsAlert<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SMS to {:?} code {:?} content {:?}",
            self.recipient, self.code, self.content
        )
    }
}

/// One `Name: value` header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The header name, as sent.
    pub name: &'a str,
    /// The value, without surrounding spaces or tabs.
    pub value: &'a str,
}

/// Iterator over the header lines of an [`SmsAlert`].
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, rest) = self.rest.split_once('\n').unwrap_or((self.rest, ""));
            self.rest = rest;
            let line = line.strip_suffix('\r').unwrap_or(line);
            // Lines were validated by the parser; skip anything odd anyway.
            if let Some((name, value)) = line.split_once(':') {
                return Some(Header {
                    name,
                    value: value.trim_matches([' ', '\t']),
                });
            }
        }
    }
}

/// Splits alert content into the host name before its first `": "` and the
/// message after it; without `": "` there is no host and the message is the
/// whole text.
///
/// ```
/// use rewire_upsilon::sms::split_host;
/// assert_eq!(split_host("PC: on battery"), (Some("PC"), "on battery"));
/// assert_eq!(split_host("on battery"), (None, "on battery"));
/// ```
pub fn split_host(content: &str) -> (Option<&str>, &str) {
    match content.split_once(": ") {
        Some((host, message)) => (Some(host), message),
        None => (None, content),
    }
}

/// Reports whether `raw` holds at least one `%XX` escape (two hex digits).
pub fn has_escapes(raw: &str) -> bool {
    raw.as_bytes()
        .windows(3)
        .any(|w| matches!(w, [b'%', a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit()))
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

fn percent_decode<'b>(raw: &'b str, field: Field, out: &'b mut [u8]) -> Result<&'b str, Error> {
    if !has_escapes(raw) {
        return Ok(raw);
    }
    let bytes = raw.as_bytes();
    let mut n = 0usize;
    let mut i = 0usize;
    let available = out.len();
    while let Some(&b) = bytes.get(i) {
        let decoded = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                i += 3;
                (hex(h) << 4) | hex(l)
            }
            _ => {
                i += 1;
                b
            }
        };
        if let Some(slot) = out.get_mut(n) {
            *slot = decoded;
        }
        n += 1;
    }
    if n > available {
        return Err(Error::BufferTooSmall {
            needed: n,
            available,
        });
    }
    let text = out.get(..n).unwrap_or_default();
    core::str::from_utf8(text).map_err(|e| Error::InvalidUtf8 {
        field,
        offset: e.valid_up_to(),
    })
}

fn utf8(bytes: &[u8], field: Field, offset: usize) -> Result<&str, Error> {
    core::str::from_utf8(bytes).map_err(|e| Error::InvalidUtf8 {
        field,
        offset: offset + e.valid_up_to(),
    })
}

/// Reports whether `b` may appear in a header name (an HTTP token byte).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks a header line (or the start of one) up to its colon:
/// `name = 1*token-byte ":"`; a line without a colon yet passes.
fn check_header_name(line: &[u8], offset: usize) -> Result<(), Error> {
    let (rest, name) = take_while(is_token)
        .parse(line)
        .map_err(|e| grammar::failure(line, offset, Field::Header, e))?;
    match rest.first() {
        None => Ok(()),
        Some(b':') if name.is_empty() => Err(Error::MissingField {
            field: Field::Header,
            offset,
        }),
        Some(b':') => Ok(()),
        Some(_) => Err(grammar::stopped_at(line, offset, Field::Header, rest)),
    }
}

/// Parses an SMS alert request from the start of `buf`.
///
/// Lines end in LF with an optional CR before it; the request ends at the
/// first empty line.
///
/// ```
/// use rewire_upsilon::sms::{parse_sms_alert, Parsed};
/// let req = b"GET /smssend_hide.cgi?$sms_recptmobile=0123456789&$sms_content=PC: On battery&$sms_code=1 HTTP/1.1\r\nUser-Agent: RUPS2K SMS\r\n\r\n";
/// let Parsed::Complete(n, alert) = parse_sms_alert(req)? else { panic!() };
/// assert_eq!(n, req.len());
/// assert_eq!(alert.content_host(), Some("PC"));
/// assert_eq!(alert.message(), "On battery");
/// assert_eq!(parse_sms_alert(&req[..40])?, Parsed::Partial);
/// # Ok::<(), rewire_upsilon::Error>(())
/// ```
///
/// # Errors
/// [`Error::UnexpectedByte`] for a method other than `GET`, a target not
/// starting with `/`, a query not starting with `$sms_recptmobile=`, or a bad
/// header name; [`Error::MissingField`] for a request line without
/// ` HTTP/1.x`, `?`, `&$sms_content=` or `&$sms_code=`;
/// [`Error::InvalidUtf8`] for non-UTF-8 text; [`Error::TooLong`] when no
/// complete request fits in [`MAX_REQUEST_LEN`] bytes;
/// [`Error::TooManyHeaders`] beyond [`MAX_HEADERS`].
pub fn parse_sms_alert(buf: &[u8]) -> Result<Parsed<SmsAlert<'_>>, Error> {
    // The method is checked byte by byte so garbage fails fast; a strict
    // prefix of it may still become a request.
    if let Err(nom::Err::Error(e)) = grammar::exact(METHOD)(buf)
        && !e.input.is_empty()
    {
        return Err(grammar::stopped_at(buf, 0, Field::Method, e.input));
    }
    let window = buf
        .get(..buf.len().min(MAX_REQUEST_LEN))
        .unwrap_or_default();
    let too_long = || Error::TooLong {
        field: Field::Request,
        offset: 0,
        len: buf.len(),
        max: MAX_REQUEST_LEN,
    };
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_REQUEST_LEN {
            Err(too_long())
        } else {
            Ok(Parsed::Partial)
        };
    };
    let line = window.get(..lf).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (http_minor, target) = parse_request_line(line)?;
    let (path, recipient, content, code) = parse_target(target, METHOD.len())?;

    // Headers, up to the blank line.
    let headers_start = lf + 1;
    let mut pos = headers_start;
    let mut count = 0usize;
    let mut user_agent = None;
    let mut host = None;
    loop {
        let rest = window.get(pos..).unwrap_or_default();
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            // A lone CR may be the start of the blank line's CR LF.
            check_header_name(rest.strip_suffix(b"\r").unwrap_or(rest), pos)?;
            return if buf.len() >= MAX_REQUEST_LEN {
                Err(too_long())
            } else {
                Ok(Parsed::Partial)
            };
        };
        let raw_line = rest.get(..end).unwrap_or_default();
        let header_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        if header_line.is_empty() {
            let headers = utf8(
                window.get(headers_start..pos).unwrap_or_default(),
                Field::Header,
                headers_start,
            )?;
            let alert = SmsAlert {
                http_minor,
                path,
                recipient,
                content,
                code,
                user_agent,
                host,
                headers,
            };
            return Ok(Parsed::Complete(pos + end + 1, alert));
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(Error::TooManyHeaders { max: MAX_HEADERS });
        }
        check_header_name(header_line, pos)?;
        let Some(colon) = header_line.iter().position(|&b| b == b':') else {
            return Err(Error::MissingField {
                field: Field::Header,
                offset: pos + header_line.len(),
            });
        };
        let name = utf8(
            header_line.get(..colon).unwrap_or_default(),
            Field::Header,
            pos,
        )?;
        let value = utf8(
            header_line.get(colon + 1..).unwrap_or_default(),
            Field::Header,
            pos + colon + 1,
        )?
        .trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("user-agent") && user_agent.is_none() {
            user_agent = Some(value);
        } else if name.eq_ignore_ascii_case("host") && host.is_none() {
            host = Some(value);
        }
        pos += end + 1;
    }
}

/// Parses the request line (without its line end),
/// `request-line = "GET " target " HTTP/1." DIGIT`, where the target runs
/// to the *last* ` HTTP/1.` (the query is not percent-encoded and may hold
/// one); returns the minor version and the target bytes.
fn parse_request_line(line: &[u8]) -> Result<(u8, &[u8]), Error> {
    let (rest, target) = preceded(
        grammar::exact(METHOD),
        grammar::take_until_last(VERSION_PREFIX),
    )
    .parse(line)
    .map_err(|_: nom::Err<NomError<'_>>| Error::MissingField {
        field: Field::HttpVersion,
        offset: line.len(),
    })?;
    let (_, (_, minor, _)) = (tag(VERSION_PREFIX), satisfy(|c| c.is_ascii_digit()), eof)
        .parse(rest)
        .map_err(|e| grammar::failure(line, 0, Field::HttpVersion, e))?;
    // An ASCII digit: its value fits a u8.
    Ok((
        minor
            .to_digit(10)
            .and_then(|d| u8::try_from(d).ok())
            .unwrap_or(0),
        target,
    ))
}

/// Splits the target into path, recipient, content and code. `base` is the
/// target's offset in the request.
///
/// `target = path "?" "$sms_recptmobile=" recipient "&$sms_content="
/// content "&$sms_code=" code`, `path = "/" *(not "?")`; the recipient
/// runs to the first `&$sms_content=`, the content to the last
/// `&$sms_code=` (the content is not escaped and may hold either).
fn parse_target(target: &[u8], base: usize) -> Result<(&str, &str, &str, &str), Error> {
    let at = |rest: &[u8]| base + grammar::offset(target, rest);
    let missing = |field| {
        move |_: nom::Err<NomError<'_>>| Error::MissingField {
            field,
            offset: base + target.len(),
        }
    };
    let (query, path) = terminated(
        recognize(preceded(tag(&b"/"[..]), take_till(|b| b == b'?'))),
        tag(&b"?"[..]),
    )
    .parse(target)
    .map_err(|e| grammar::failure(target, base, Field::Target, e))?;
    let path = utf8(path, Field::Target, base)?;
    let (rest, _) = grammar::exact(RECIPIENT_KEY)(query)
        .map_err(|e| grammar::failure(target, base, Field::Recipient, e))?;
    let recipient_at = at(rest);
    let (rest, recipient) = terminated(take_until(CONTENT_KEY), tag(CONTENT_KEY))
        .parse(rest)
        .map_err(missing(Field::Content))?;
    let recipient = utf8(recipient, Field::Recipient, recipient_at)?;
    let content_at = at(rest);
    let (code, content) = terminated(grammar::take_until_last(CODE_KEY), tag(CODE_KEY))
        .parse(rest)
        .map_err(missing(Field::Code))?;
    let content = utf8(content, Field::Content, content_at)?;
    let code = utf8(code, Field::Code, at(code))?;
    Ok((path, recipient, content, code))
}
