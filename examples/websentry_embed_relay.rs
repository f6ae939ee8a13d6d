//! Embed the WebSentry relay with an observer and shut it down: a fake
//! cloud listens on 127.0.0.1, the relay from `rewire-websentry-host`
//! forwards a unit to it, an observer sink prints every relayed frame, and
//! `shutdown()` stops everything within a second.
//!
//! `cargo run -p rewire-examples --example websentry_embed_relay`

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rewire_host::reading::{Observation, Reading};
use rewire_host::sink::{Fanout, Sink};
use rewire_websentry_host::message::Message;
use rewire_websentry_host::proxy::{Proxy, ProxyConfig};
use rewire_websentry_host::simulate::init_frame;

/// An observer: prints each relayed frame with the readings it carries,
/// and tells `main` when one came.
struct Printer(mpsc::Sender<()>);

impl Sink<Message> for Printer {
    fn name(&self) -> &str {
        "printer"
    }

    fn observe(&mut self, message: &Message) {
        if let Message::Frame { frame, .. } = message {
            println!("observer: {message}");
            let mut readings: Vec<Reading> = Vec::new();
            message.readings(&mut readings);
            for r in &readings {
                println!("  reading {} = {} {}", r.name, r.value, r.unit.symbol());
            }
            println!(
                "  ({} items, function {:?})",
                frame.items.len(),
                frame.function
            );
            let _ = self.0.send(());
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The fake cloud.
    let cloud = TcpListener::bind("127.0.0.1:0")?;
    let cloud_addr = cloud.local_addr()?;

    // The relay, with one observer behind a fan-out (a slow observer never
    // holds the relay back).
    let (seen_tx, seen) = mpsc::channel();
    let mut sinks = Fanout::new();
    sinks.add(Printer(seen_tx), 64);
    let config = ProxyConfig::new("127.0.0.1:0".parse()?, cloud_addr.to_string());
    let proxy = Proxy::start(config, sinks)?;
    println!(
        "relay on {} to the cloud on {cloud_addr}",
        proxy.local_addr()
    );

    // A unit connects through the relay and sends its init frame.
    let mut unit = TcpStream::connect(proxy.local_addr())?;
    let (mut upstream, _) = cloud.accept()?;
    let frame = init_frame([0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3]);
    unit.write_all(&frame)?;

    // The cloud gets it unchanged...
    let mut got = vec![0u8; frame.len()];
    upstream.set_read_timeout(Some(Duration::from_secs(5)))?;
    upstream.read_exact(&mut got)?;
    assert_eq!(got, frame);
    println!("cloud: got the {}-byte init frame unchanged", got.len());
    // ...and the observer saw it decoded.
    seen.recv_timeout(Duration::from_secs(5))?;

    let started = Instant::now();
    proxy.shutdown();
    let took = started.elapsed();
    println!("shutdown took {took:?}");
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    Ok(())
}
