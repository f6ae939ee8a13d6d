//! Builds a Power-One "set date/time" request, prints its hex, parses it
//! back, then decodes a PCU reply captured from a noisy line.
//!
//! Run with `cargo run -p rewire-examples --example powerone_request`.

use std::process::ExitCode;

use rewire_powerone::{DateTime, Error, FunctionCode, Repr, Scan, parse, scan};

/// What the PCU at address 0x01 answered, as captured, behind two bytes of
/// line noise.
const CAPTURED: [u8; 10] = [0x3C, 0xFF, 0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10];

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run() -> Result<(), Error> {
    // Request: PC (0x00) asks module 0x01 to set its clock to 2011-03-15 15:13.
    let when = DateTime::new(2011, 3, 15, 15, 13)?;
    let mut data = [0u8; DateTime::LEN];
    when.emit(&mut data)?;
    let request = Repr::request(0x01, FunctionCode::SET_DATE_TIME, &data);
    let mut buf = [0u8; 255];
    let n = request.emit(&mut buf)?;
    println!("request  {}", hex(&buf[..n]));

    let (frame, _) = parse(&buf[..n])?;
    println!("parsed   {frame}");
    println!("         date/time {}", DateTime::parse(frame.data())?);

    // Reply: find it in the captured bytes, noise and a stray 0xFF included.
    // This capture ends right after the reply, so `scan` waits on the stray
    // 0xFF (it could open a 255-byte frame); a transport would then call
    // `scan_idle` once the line has gone quiet.
    let outcome = match scan(&CAPTURED) {
        found @ Scan::Found { .. } => found,
        Scan::Partial { .. } => rewire_powerone::scan_idle(&CAPTURED),
    };
    match outcome {
        Scan::Found {
            skipped, message, ..
        } => {
            println!(
                "reply    {} ({skipped} noise bytes skipped)",
                hex(message.as_bytes())
            );
            println!("decoded  {message}");
            let ok = message.function() == request.function
                && message.source() == request.destination
                && !message.reply_required();
            println!(
                "         module {:#04x} {} the {} request",
                message.source(),
                if ok {
                    "acknowledged"
                } else {
                    "did not acknowledge"
                },
                message.function().name_or_unknown()
            );
        }
        Scan::Partial { skipped } => println!("no reply found ({skipped} bytes of noise)"),
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("powerone_request: {err}");
            ExitCode::from(2)
        }
    }
}
