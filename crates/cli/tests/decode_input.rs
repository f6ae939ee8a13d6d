//! The shared decode driver on the bundled captures and on bad inputs.

use std::path::PathBuf;

use clap::Parser;
use rewire_cli::decode::{DecodeArgs, open_input};
use rewire_host::stream::{Meta, StreamItem, Streams};
use rewire_transport::capture::{Direction, InputFormat};
use rewire_transport::framing::{Event, Framer, WebSentry};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    decode: DecodeArgs,
}

fn args(argv: &[&str]) -> DecodeArgs {
    Cli::try_parse_from(std::iter::once("decode").chain(argv.iter().copied()))
        .unwrap()
        .decode
}

fn testdata(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn expected_websentry(direction: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(testdata("websentry/websentry.expected.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    hex::decode(json["flows"][0][direction].as_str().unwrap()).unwrap()
}

#[test]
fn frames_every_websentry_capture_format_alike() {
    for (file, format) in [
        ("websentry/websentry-lo.pcap", InputFormat::Pcap),
        ("websentry/websentry-lo.pcapng", InputFormat::PcapNg),
        ("websentry/websentry-any-sll2.pcap", InputFormat::Pcap),
    ] {
        let input = open_input(&args(&[&testdata(file)]), &[1030], true).unwrap();
        assert_eq!(input.format(), format, "{file}");
        let mut streams = Streams::new(|| Framer::new(WebSentry));
        let (mut c2s, mut s2c, mut stamped) = (Vec::new(), Vec::new(), 0);
        let mut sink = |meta: &Meta, item: StreamItem<'_>| {
            match item {
                StreamItem::Framed(Event::Message(m)) => {
                    stamped += usize::from(meta.ts().is_some_and(|t| t > 1.0e9));
                    assert!(meta.src_addr().unwrap().starts_with("127.0.0.1:"));
                    match meta.direction {
                        Some(Direction::ClientToServer) => c2s.extend_from_slice(&m.bytes),
                        Some(Direction::ServerToClient) => s2c.extend_from_slice(&m.bytes),
                        None => panic!("{file}: no direction"),
                    }
                }
                other => panic!("{file}: unexpected {other:?}"),
            }
            Ok::<_, ()>(())
        };
        for event in input {
            streams.handle(event.unwrap(), &mut sink).unwrap();
        }
        streams.finish(&mut sink).unwrap();
        assert_eq!(c2s, expected_websentry("client_to_server"), "{file}");
        assert_eq!(s2c, expected_websentry("server_to_client"), "{file}");
        assert!(stamped > 0, "{file}: no timestamps");
    }
}

#[test]
fn detects_hex_raw_log_and_inline_hex() {
    let hex = open_input(&args(&[&testdata("powerone/exchange.hex")]), &[], false).unwrap();
    assert_eq!(hex.format(), InputFormat::HexText);
    let log = open_input(&args(&[&testdata("websentry/rawlog.json")]), &[], true).unwrap();
    assert_eq!(log.format(), InputFormat::RawLog);
    // Only websentry reads raw logs; elsewhere the JSON is just bytes.
    let not_log = open_input(&args(&[&testdata("websentry/rawlog.json")]), &[], false).unwrap();
    assert_eq!(not_log.format(), InputFormat::Binary);
    let inline = open_input(&args(&["--hex", "FF 08 00 01 00 01 07 10"]), &[], false).unwrap();
    let bytes: Vec<u8> = inline
        .filter_map(|e| e.unwrap().as_chunk().map(|c| c.bytes.clone()))
        .flatten()
        .collect();
    assert_eq!(bytes, [0xFF, 0x08, 0, 1, 0, 1, 7, 0x10]);
}

fn open_err(argv: &[&str]) -> String {
    format!("{:#}", open_input(&args(argv), &[], true).unwrap_err())
}

#[test]
fn bad_inputs_name_the_input() {
    let missing = testdata("no-such-file.pcap");
    let err = open_err(&[&missing]);
    assert!(
        err.contains(&missing) && err.contains("No such file"),
        "{err}"
    );
    let dir = testdata("powerone");
    let err = open_err(&[&dir]);
    assert!(err.contains(&dir) && err.contains("directory"), "{err}");
    let hex_file = testdata("powerone/exchange.hex");
    let err = open_err(&["--input", "pcap", &hex_file]);
    assert!(
        err.contains(&hex_file) && err.contains("wrong magic"),
        "{err}"
    );
    let err = open_err(&["--input", "wmpe-json", &hex_file]);
    assert!(err.contains("not a WebSentry raw log"), "{err}");
    let err = open_err(&["--hex", "FF 0Z"]);
    assert!(err.starts_with("--hex: not hex"), "{err}");
}

#[test]
fn truncated_capture_fails_naming_the_file() {
    let full = std::fs::read(testdata("websentry/websentry-lo.pcap")).unwrap();
    let dir = std::env::temp_dir().join(format!("rewire-cli-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &full[..full.len() - 7]).unwrap();
    let cut_name = cut.to_string_lossy().into_owned();
    let input = open_input(&args(&[&cut_name]), &[1030], true).unwrap();
    let err = input
        .filter_map(Result::err)
        .next()
        .expect("an error at the cut");
    let text = format!("{err:#}");
    assert!(
        text.contains(&cut_name) && text.contains("truncated"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pcap_out_copies_a_serial_input_and_refuses_a_capture() {
    use rewire_transport::capture::pcap_out::SerialProtocol;
    let out = std::env::temp_dir().join(format!("rewire-pcap-out-{}.pcap", std::process::id()));
    let out_text = out.to_string_lossy().into_owned();
    let a = args(&[&testdata("powerone/exchange.hex"), "--pcap-out", &out_text]);
    let input = open_input(&a, &[4001], false)
        .unwrap()
        .tee_pcap(&a, SerialProtocol::PowerOne)
        .unwrap();
    let chunks = input
        .filter(|e| matches!(e, Ok(rewire_transport::capture::CaptureEvent::Chunk(_))))
        .count();
    let pcap = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian pcap magic"
    );
    assert_eq!(u32::from_le_bytes(pcap[20..24].try_into().unwrap()), 147);
    assert!(
        chunks > 0 && pcap.len() > 24 + chunks * 16,
        "{} bytes",
        pcap.len()
    );

    let a = args(&[
        &testdata("powerone/powerone-lo.pcap"),
        "--pcap-out",
        &out_text,
    ]);
    let err = open_input(&a, &[4001], false)
        .unwrap()
        .tee_pcap(&a, SerialProtocol::PowerOne)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not serial bytes"), "{err}");
    assert!(!out.exists());
}
