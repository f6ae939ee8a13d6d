//! The value parsers every tool uses for its flags, written once so the
//! three tools read the same text the same way. Each returns a message
//! naming the text it was given, for clap's `value_parser`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The longest duration any flag takes (a day).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Parses a duration written with a unit: `250ms`, `1s`, `1.5s`, `5m`,
/// `2h`, or combined (`1m30s`). A bare number is refused: durations always
/// carry their unit. Zero and more than a day are refused.
///
/// # Errors
/// Names the text and shows the accepted forms.
pub fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 250ms, 1s, 1.5s or 5m");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0.0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale = match unit.trim() {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        let value: f64 = number.parse().map_err(|_| bad())?;
        total += value * scale;
        rest = next.trim_start();
    }
    if !total.is_finite() || total <= 0.0 {
        return Err(format!("{text:?}: a duration must be more than zero"));
    }
    if total > MAX_DURATION.as_secs_f64() {
        return Err(format!("{text:?}: a duration must be at most 24h"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses an address to listen on: `IP:PORT`, `HOST:PORT`, or a bare `PORT`
/// (or `:PORT`), which means `127.0.0.1:PORT`.
///
/// # Errors
/// Names the text when it is no address, or resolves to none.
pub fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    socket_addr(text)
}

/// Parses `HOST:PORT` or `IP:PORT` to its first address.
///
/// # Errors
/// Names the text when it has no port, does not resolve, or resolves to
/// nothing.
pub fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    let has_port = text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    if !has_port {
        return Err(format!("{text:?} needs a port: HOST:PORT"));
    }
    text.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {text:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// Parses a `HOST:PORT` target to connect to, without resolving it (a
/// reconnecting client resolves each time): the port must be a number
/// from 1 to 65535 and the host not empty.
///
/// # Errors
/// Names the text and what is wrong with it.
pub fn target(text: &str) -> Result<String, String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("{text:?} needs a port: HOST:PORT"));
    };
    if host.is_empty() {
        return Err(format!("{text:?} has no host: HOST:PORT"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(text.to_owned()),
        _ => Err(format!(
            "{text:?}: the port must be a number from 1 to 65535"
        )),
    }
}

/// The serial speeds accepted: from 50 to 4,000,000 baud.
pub const BAUD_RANGE: std::ops::RangeInclusive<u32> = 50..=4_000_000;

/// Parses a serial speed in baud within [`BAUD_RANGE`].
///
/// # Errors
/// Names the text when it is no number or out of range.
pub fn baud(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(b) if BAUD_RANGE.contains(&b) => Ok(b),
        _ => Err(format!(
            "{text:?} is not a serial speed from {} to {} baud",
            BAUD_RANGE.start(),
            BAUD_RANGE.end()
        )),
    }
}

/// Parses a serial device: a path (`/dev/ttyUSB0`, `/dev/pts/3`), a Windows
/// port (`COM3`, any case) or its device-namespace form (`\\.\COM10`, which
/// Windows needs above `COM9` and `serialport` passes through as given).
/// Nothing is opened here; a port that does not exist fails when opened.
///
/// # Errors
/// Names the text when it is empty, or when it reads as a COM port without
/// a number from 1 to 255 (`COM`, `COM0`, `COMX`, `\\.\`).
pub fn serial_port(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(r"no serial device given: /dev/ttyUSB0, COM3 or \\.\COM10".into());
    }
    let name = text.strip_prefix(r"\\.\").unwrap_or(text);
    if name.is_empty() {
        return Err(format!("{text:?} names no device: \\\\.\\COM10"));
    }
    let com = name
        .get(..3)
        .filter(|p| p.eq_ignore_ascii_case("COM"))
        .and_then(|_| name.get(3..));
    // Only names that start with `COM` are checked as Windows ports; paths
    // (`/dev/...`) are left to the open call to judge.
    if let Some(number) = com {
        match number.parse::<u8>() {
            Ok(n) if n > 0 && number.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => {
                return Err(format!(
                    "{text:?} is not a COM port: COM1 to COM255 (\\\\.\\COM10 above COM9)"
                ));
            }
        }
    }
    Ok(text.to_owned())
}

/// Parses hex bytes: pairs of hex digits, optionally separated by spaces,
/// colons, commas or dashes, each optionally with `0x`
/// (`"FF 08 00 01 00 01 07 10"`, `ff:08`, `0xff,0x08`).
///
/// # Errors
/// Names the first character that is not hex, or an odd digit count.
pub fn hex(text: &str) -> Result<Vec<u8>, String> {
    let mut digits = String::with_capacity(text.len());
    for token in text.split(|c: char| c.is_ascii_whitespace() || matches!(c, ':' | ',' | '-')) {
        let token = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
            .unwrap_or(token);
        if let Some((i, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(format!(
                "not hex: {c:?} in {token:?} (at character {})",
                i + 1
            ));
        }
        if token.len() % 2 != 0 {
            return Err(format!("odd number of hex digits in {token:?}"));
        }
        digits.push_str(token);
    }
    if digits.is_empty() {
        return Err("no hex bytes given".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| "not hex".to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_carry_units() {
        for (text, ms) in [
            ("250ms", 250),
            ("1s", 1000),
            ("1.5s", 1500),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("1m30s", 90_000),
            (" 10s ", 10_000),
        ] {
            assert_eq!(duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        for bad in ["", "10", "1x", "s", "-1s", "0s", "25h", "1.2.3s"] {
            assert!(duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(duration("10").unwrap_err().contains("like 250ms"));
    }

    #[test]
    fn bare_ports_listen_on_loopback() {
        assert_eq!(listen_addr("3493"), Ok("127.0.0.1:3493".parse().unwrap()));
        assert_eq!(listen_addr(":9100"), Ok("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(
            listen_addr("0.0.0.0:1030"),
            Ok("0.0.0.0:1030".parse().unwrap())
        );
        assert!(
            listen_addr("127.0.0.1")
                .unwrap_err()
                .contains("needs a port")
        );
        assert!(listen_addr("99999").is_err());
    }

    #[test]
    fn targets_need_a_host_and_a_numeric_port() {
        assert_eq!(target("ups.local:2570"), Ok("ups.local:2570".into()));
        assert!(target("foo:bar").unwrap_err().contains("port must be"));
        assert!(target("foo").unwrap_err().contains("needs a port"));
        assert!(target(":2570").unwrap_err().contains("no host"));
        assert!(target("h:0").is_err());
        assert!(target("h:99999").is_err());
    }

    #[test]
    fn baud_rates_are_bounded() {
        assert_eq!(baud("9600"), Ok(9600));
        assert!(baud("0").is_err());
        assert!(baud("4294967295").is_err());
        assert!(baud("fast").is_err());
    }

    #[test]
    fn serial_ports_are_paths_or_com_ports() {
        for ok in [
            "/dev/ttyUSB0",
            "/dev/pts/3",
            "COM3",
            "com1",
            "COM255",
            r"\\.\COM10",
            r"\\.\COM3",
        ] {
            assert_eq!(serial_port(ok).as_deref(), Ok(ok), "{ok:?} refused");
        }
        for bad in [
            "",
            "  ",
            "COM",
            "COM0",
            "COMX",
            "COM256",
            "COM+3",
            r"\\.\",
            r"\\.\COMa",
        ] {
            assert!(serial_port(bad).is_err(), "{bad:?} accepted");
        }
        assert!(serial_port("COM0").unwrap_err().contains("COM1 to COM255"));
        assert!(serial_port("").unwrap_err().contains("no serial device"));
    }

    #[test]
    fn hex_bytes() {
        assert_eq!(
            hex("FF 08 00 01 00 01 07 10").unwrap(),
            [0xFF, 8, 0, 1, 0, 1, 7, 0x10]
        );
        assert_eq!(hex("ff:08,0x00-01").unwrap(), [0xFF, 8, 0, 1]);
        assert_eq!(hex("ff0800").unwrap(), [0xFF, 8, 0]);
        assert!(hex("FF 0G").unwrap_err().contains("'G'"));
        assert!(hex("FFF").unwrap_err().contains("odd"));
        assert!(hex("  ").is_err());
    }
}
