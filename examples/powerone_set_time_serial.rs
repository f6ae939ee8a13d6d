//! Power-One set-time over a serial port.
//!
//! A simulated PCU serves the master side of a pseudo-terminal; the other
//! side is opened like any serial port, 9600 8N1 (the PCU's settings), and
//! the PCU master sets its clock. No hardware and no CLI crate: the
//! `rewire-powerone-host` library, the `rewire-transport` links and the
//! `rewire-powerone` parser.
//!
//! Run: `cargo run -p rewire-examples --example powerone_set_time_serial`
//!
//! Pseudo-terminals are Unix only; on Windows the example says so and exits
//! (there, `powerone simulate --tcp 127.0.0.1:PORT` serves a PCU over TCP).

#[cfg(unix)]
use std::error::Error;

#[cfg(unix)]
use rewire_host::sink::Fanout;
#[cfg(unix)]
use rewire_powerone::DateTime;
#[cfg(unix)]
use rewire_powerone_host::link::READ_TICK;
#[cfg(unix)]
use rewire_powerone_host::master::{Action, Master, Verdict};
#[cfg(unix)]
use rewire_powerone_host::message::Body;
#[cfg(unix)]
use rewire_powerone_host::record::Record;
#[cfg(unix)]
use rewire_powerone_host::simulator::{Pcu, SimConfig, Simulator, local_now};
#[cfg(unix)]
use rewire_transport::link::{Pty, RequestPolicy, SerialSettings, open_serial};

#[cfg(not(unix))]
fn main() {
    eprintln!(
        "powerone_set_time_serial needs a pseudo-terminal (Unix only); \
         `powerone simulate --tcp 127.0.0.1:PORT` serves a PCU over TCP"
    );
    std::process::exit(2);
}

#[cfg(unix)]
fn main() -> Result<(), Box<dyn Error>> {
    // The PCU: module 1, on the master side of a pseudo-terminal, in a
    // thread of the simulator's own.
    let pty = Pty::open(READ_TICK)?;
    let path = pty.path().to_owned();
    let pcu = Pcu::new(SimConfig::default(), local_now());
    let simulator = Simulator::serve_pty(pty, pcu, Fanout::new())?;

    // The PC: the slave side, opened as a serial port at the PCU's settings.
    let settings = SerialSettings::POWERONE;
    let port = open_serial(&path, &settings)?;
    println!("serial line {path} ({settings})");
    let mut master = Master::new(Box::new(port), &path, 1, RequestPolicy::default());

    // Set the clock to 2011-03-15 15:13 and print both frames.
    let time = DateTime::new(2011, 3, 15, 15, 13)?;
    let report = master.run(&Action::SetTime(time), &mut |message| {
        if let Some(record) = Record::from_message(&message) {
            println!("{record}");
        }
        if let Body::Frame(frame) = &message.body {
            println!("  bytes {:02x?}", frame.frame.as_bytes());
        }
    })?;
    match report.verdict {
        Verdict::Done { attempts } => println!("the PCU answered (attempt {attempts})"),
        other => return Err(format!("the PCU did not answer: {other:?}").into()),
    }
    let clock = simulator.pcu().lock().map_err(|e| e.to_string())?.clock();
    println!("the PCU's clock now reads {clock}");

    simulator.shutdown();
    Ok(())
}
