//! A pcap to typed WebSentry frames with no CLI crate: the bundled capture
//! is read with `rewire_transport`'s capture reader, each TCP direction is
//! framed by `rewire_host::stream::Streams`, and each frame is read through
//! `rewire_websentry`'s frame view and body walks.
//!
//! `cargo run -p rewire-examples --example websentry_pcap_frames [FILE]`

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use rewire_host::stream::{Meta, StreamItem, Streams};
use rewire_transport::capture::{CaptureOptions, Direction, PacketCaptureReader};
use rewire_transport::framing::{Event, Framer, WebSentry};
use rewire_websentry::{Frame, FunctionCode, QueryIds, SetStatuses, Values, registry};

fn name(id: u16) -> String {
    registry::property(id).map_or_else(|| format!("{id:#06x}"), |p| p.name.to_owned())
}

/// Prints one frame: who sent it, its function, and each item's name and value.
fn show(meta: &Meta, bytes: &[u8]) {
    let Ok(frame) = Frame::new_checked(bytes) else {
        println!("  (not a frame: {} bytes)", bytes.len());
        return;
    };
    let from = match meta.direction {
        Some(Direction::ClientToServer) => "unit ",
        Some(Direction::ServerToClient) => "cloud",
        None => "?    ",
    };
    let crc = if frame.checksum_ok() { "" } else { " BAD-CRC" };
    println!("{from} {:?} ({} bytes){crc}", frame.function(), bytes.len());
    let body = frame.body();
    let client = meta.direction == Some(Direction::ClientToServer);
    match (frame.function(), client) {
        (FunctionCode::QUERY, false) => {
            for id in QueryIds::new(body).flatten() {
                println!("    {} ?", name(id));
            }
        }
        (FunctionCode::SET, true) => {
            for (id, status) in SetStatuses::new(body).flatten() {
                println!("    {} -> status {status}", name(id));
            }
        }
        (FunctionCode::INIT | FunctionCode::QUERY | FunctionCode::SET, _) => {
            for (id, value) in Values::new(body).flatten() {
                let unit = registry::property(id).and_then(|p| p.unit).unwrap_or("");
                println!("    {} = {}{unit}", name(id), value.labeled(id));
            }
        }
        _ => println!("    body {:02x?}", body),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata/websentry/websentry-lo.pcap")
        },
        PathBuf::from,
    );
    let file = BufReader::new(File::open(&path)?);
    let reader = PacketCaptureReader::new(file, CaptureOptions::with_ports(vec![1030]))?;
    let mut streams = Streams::new(|| Framer::new(WebSentry));
    let mut frames = 0;
    let mut on_item = |meta: &Meta, item: StreamItem<'_>| -> Result<(), std::convert::Infallible> {
        match item {
            StreamItem::Framed(Event::Message(m)) => {
                frames += 1;
                show(meta, &m.bytes);
            }
            StreamItem::Framed(Event::Skipped(s)) => {
                println!(
                    "  {} bytes skipped at offset {}: {}",
                    s.len, s.offset, s.reason
                );
            }
            StreamItem::Gap { missing_bytes, .. } => println!("  gap of {missing_bytes} bytes"),
            StreamItem::Overflow(_) => {}
        }
        Ok(())
    };
    for event in reader {
        let _ = streams.handle(event?, &mut on_item);
    }
    let _ = streams.finish(&mut on_item);
    println!("{frames} frames in {}", path.display());
    Ok(())
}
