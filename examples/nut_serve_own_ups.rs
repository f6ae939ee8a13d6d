//! Serve your own UPS readings over NUT, with no serial line and no CLI:
//! a program that measures its UPS some other way publishes each status to
//! a `Hub`, and the NUT server of `rewire-upsilon-host` answers `upsc` and
//! `upsmon` from it.
//!
//! This one publishes two readings of its own, starts the server on
//! 127.0.0.1 (a free port), asks it `GET VAR ups ups.load` over a plain
//! TCP connection, prints the answer and shuts everything down.
//!
//! Run it with `cargo run -p rewire-examples --example nut_serve_own_ups`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use rewire_upsilon::{Decimal, Status, StatusBits};
use rewire_upsilon_host::hub::Hub;
use rewire_upsilon_host::message::Message;
use rewire_upsilon_host::nut::{NutConfig, NutServer};

/// A reading of our own: 230 V in and out, `load` percent, on line.
fn reading(load: u16) -> Status {
    let volts = |tenths| Decimal::new(tenths, 1);
    Status {
        input_voltage: volts(2300),
        input_fault_voltage: volts(2300),
        output_voltage: volts(2300),
        load_percent: Some(load),
        input_frequency: volts(500),
        battery_voltage: volts(272),
        temperature: None,
        bits: StatusBits::from_bits(StatusBits::STANDBY),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hub = Hub::new("ups");
    let server = NutServer::start(
        "127.0.0.1:0".parse()?,
        NutConfig::new("ups", "my own UPS", Duration::from_secs(15)),
        hub.shared().clone(),
    )?;
    for load in [12, 17] {
        hub.publish(Message::status(hub.device(), reading(load)));
    }

    // A NUT client: one command, one line back. The hub's snapshot is
    // updated by a sink on its own thread, so ask until the last reading
    // shows (a few milliseconds at most).
    let mut answer = String::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(server.local_addr())?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET VAR ups ups.load\n")?;
        answer.clear();
        BufReader::new(stream).read_line(&mut answer)?;
        if answer.contains("\"17\"") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    print!("{answer}");

    server.shutdown();
    hub.close();
    if answer.trim_end() == "VAR ups ups.load \"17\"" {
        Ok(())
    } else {
        Err(format!("unexpected answer {answer:?}").into())
    }
}
