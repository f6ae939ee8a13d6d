//! The committed captures (testdata/, made by make-captures.sh from real
//! loopback traffic) read back as exactly the bytes the senders sent.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use proptest::prelude::*;
use rewire_transport::capture::{
    CaptureErrorKind, CaptureEvent, CaptureOptions, Direction, EndReason, InputFormat, Location,
    PacketCaptureReader, StreamId, Transport, open, read_prefix,
};
use serde_json::Value;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// A flow the senders recorded in <scenario>.expected.json.
#[derive(Debug)]
struct Flow {
    transport: Transport,
    server_port: u16,
    client_to_server: Vec<u8>,
    server_to_client: Vec<u8>,
    datagrams: Vec<Vec<u8>>,
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap_or_default()).unwrap_or_default()
}

fn expected(rel: &str) -> Vec<Flow> {
    let text = std::fs::read_to_string(testdata(rel)).expect("expected.json");
    let json: Value = serde_json::from_str(&text).expect("json");
    let flows = json["flows"].as_array().cloned().unwrap_or_default();
    flows
        .iter()
        .map(|f| Flow {
            transport: if f["transport"] == "udp" {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            server_port: u16::try_from(f["server_port"].as_u64().unwrap_or(0)).unwrap_or(0),
            client_to_server: unhex(&f["client_to_server"]),
            server_to_client: unhex(&f["server_to_client"]),
            datagrams: f["datagrams"]
                .as_array()
                .map(|d| d.iter().map(unhex).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// What a capture yielded, grouped per (transport, server port, direction).
#[derive(Debug, Default, PartialEq)]
struct Seen {
    streams: BTreeMap<(u8, u16, bool), Vec<u8>>,
    chunk_sizes: BTreeMap<(u8, u16, bool), Vec<usize>>,
    datagrams: BTreeMap<u16, Vec<Vec<u8>>>,
    gaps: u64,
    ends: Vec<(StreamId, EndReason)>,
    timestamps: Vec<SystemTime>,
}

fn collect(
    events: impl Iterator<Item = Result<CaptureEvent, rewire_transport::capture::CaptureError>>,
) -> Seen {
    let mut seen = Seen::default();
    for event in events {
        match event.expect("no error") {
            CaptureEvent::Chunk(c) => {
                let ep = c.endpoints.expect("pcap chunks have endpoints");
                let c2s = c.direction == Some(Direction::ClientToServer);
                let port = if c2s { ep.dst.port() } else { ep.src.port() };
                if let Some(t) = c.timestamp {
                    seen.timestamps.push(t);
                }
                match ep.transport {
                    Transport::Udp => seen.datagrams.entry(port).or_default().push(c.bytes),
                    Transport::Tcp => {
                        seen.chunk_sizes
                            .entry((0, port, c2s))
                            .or_default()
                            .push(c.bytes.len());
                        seen.streams
                            .entry((0, port, c2s))
                            .or_default()
                            .extend_from_slice(&c.bytes);
                    }
                }
            }
            CaptureEvent::Gap(g) => seen.gaps += g.missing_bytes,
            CaptureEvent::End(e) => seen.ends.push((e.stream, e.reason)),
        }
    }
    seen
}

fn read(rel: &str, ports: &[u16]) -> Seen {
    let path = testdata(rel);
    let format = InputFormat::detect(&read_prefix(&path, 4096).expect("prefix"));
    assert!(
        matches!(format, InputFormat::Pcap | InputFormat::PcapNg),
        "{rel}: {format:?}"
    );
    collect(
        open(
            &path,
            format,
            &CaptureOptions::with_ports(ports.iter().copied()),
        )
        .expect("open"),
    )
}

fn check_against_expected(rel: &str, expected_rel: &str) -> Seen {
    let flows = expected(expected_rel);
    let ports: Vec<u16> = flows.iter().map(|f| f.server_port).collect();
    let seen = read(rel, &ports);
    for flow in &flows {
        match flow.transport {
            Transport::Tcp => {
                let get = |c2s| {
                    seen.streams
                        .get(&(0, flow.server_port, c2s))
                        .cloned()
                        .unwrap_or_default()
                };
                assert_eq!(
                    get(true),
                    flow.client_to_server,
                    "{rel}: port {} client→server",
                    flow.server_port
                );
                assert_eq!(
                    get(false),
                    flow.server_to_client,
                    "{rel}: port {} server→client",
                    flow.server_port
                );
            }
            Transport::Udp => {
                assert_eq!(
                    seen.datagrams.get(&flow.server_port),
                    Some(&flow.datagrams),
                    "{rel}: UDP"
                );
            }
        }
    }
    assert_eq!(seen.gaps, 0, "{rel}: no bytes missing");
    seen
}

const VARIANTS: [&str; 5] = [
    "-lo.pcap",
    "-lo-nano.pcap",
    "-any-sll.pcap",
    "-any-sll2.pcap",
    "-lo.pcapng",
];

#[test]
fn every_capture_reads_as_the_sent_bytes() {
    for scenario in ["upsilon", "websentry", "powerone"] {
        for variant in VARIANTS {
            let seen = check_against_expected(
                &format!("{scenario}/{scenario}{variant}"),
                &format!("{scenario}/{scenario}.expected.json"),
            );
            assert!(
                seen.ends.iter().all(|(_, r)| *r == EndReason::Fin),
                "{scenario}{variant}"
            );
        }
    }
    check_against_expected(
        "upsilon/upsilon-rawip.pcap",
        "upsilon/upsilon.expected.json",
    );
    check_against_expected(
        "websentry/websentry-rawip4.pcap",
        "websentry/websentry.expected.json",
    );
    check_against_expected(
        "websentry/websentry-lo-nano.pcapng",
        "websentry/websentry.expected.json",
    );
    check_against_expected(
        "powerone/powerone-rawip6.pcap",
        "powerone/powerone.expected.json",
    );
}

#[test]
fn split_segments_and_two_in_one_arrive_as_sent() {
    let seen = read("websentry/websentry-lo.pcap", &[1030]);
    // Client: init split 5 + 20, answer 29, set-ack and answer in one segment.
    assert_eq!(seen.chunk_sizes[&(0, 1030, true)], vec![5, 20, 29, 11 + 13]);
    // Server: query 17, set and query in one segment, the bad-CRC frame 11.
    assert_eq!(seen.chunk_sizes[&(0, 1030, false)], vec![17, 13 + 11, 11]);
    let seen = read("upsilon/upsilon-lo.pcap", &[2570]);
    assert_eq!(
        seen.chunk_sizes[&(0, 2570, false)],
        vec![47, 47, 17, 30, 94, 49, 48]
    );
}

#[test]
fn retransmissions_and_reordering_yield_each_byte_once() {
    // The capture really holds duplicates and out-of-order data: the sum of
    // the TCP payloads is larger than the streams.
    let file = std::fs::File::open(testdata("powerone/powerone-loss.pcap")).expect("open");
    let mut reader = PcapReader::new(file).expect("pcap");
    let mut payload_bytes = 0usize;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("packet");
        let sliced = etherparse::SlicedPacket::from_ethernet(&packet.data).expect("ethernet");
        if let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport {
            payload_bytes += tcp.payload().len();
        }
    }
    let flows = expected("powerone/powerone-loss.expected.json");
    let sent: usize = flows
        .iter()
        .map(|f| f.client_to_server.len() + f.server_to_client.len())
        .sum();
    assert!(
        payload_bytes > sent,
        "capture has retransmitted bytes ({payload_bytes} > {sent})"
    );

    for file in [
        "powerone/powerone-loss.pcap",
        "powerone/powerone-loss.pcapng",
    ] {
        check_against_expected(file, "powerone/powerone-loss.expected.json");
    }
}

#[test]
fn pcap_and_pcapng_agree() {
    // Same file converted by editcap: identical events, timestamps included
    // (the pcapng carries a nanosecond if_tsresol).
    let a = read("websentry/websentry-lo-nano.pcap", &[1030]);
    let b = read("websentry/websentry-lo-nano.pcapng", &[1030]);
    assert_eq!(a, b);
    let a = read("powerone/powerone-loss.pcap", &[4001]);
    let b = read("powerone/powerone-loss.pcapng", &[4001]);
    assert_eq!(a, b);
    // Separate tools on the same traffic: same bytes, timestamps within 1 ms.
    for scenario in ["upsilon", "websentry", "powerone"] {
        let a = read(
            &format!("{scenario}/{scenario}-lo.pcap"),
            &[2570, 8652, 11541, 1030, 4001],
        );
        let b = read(
            &format!("{scenario}/{scenario}-lo.pcapng"),
            &[2570, 8652, 11541, 1030, 4001],
        );
        assert_eq!(
            (a.streams, a.datagrams),
            (b.streams, b.datagrams),
            "{scenario}"
        );
        assert_eq!(a.timestamps.len(), b.timestamps.len());
        for (x, y) in a.timestamps.iter().zip(&b.timestamps) {
            let d = x
                .duration_since(*y)
                .or_else(|_| y.duration_since(*x))
                .unwrap_or_default();
            assert!(d.as_millis() < 1, "{scenario}: {x:?} vs {y:?}");
        }
    }
}

#[test]
fn port_filter_and_direction() {
    let seen = read("upsilon/upsilon-lo.pcap", &[8652]);
    assert_eq!(
        seen.streams.keys().copied().collect::<Vec<_>>(),
        vec![(0, 8652, false), (0, 8652, true)]
    );
    assert!(seen.datagrams.is_empty());
    // No filter: direction comes from who sent the SYN.
    let path = testdata("websentry/websentry-lo.pcap");
    let reader = PacketCaptureReader::new(
        std::fs::File::open(&path).expect("open"),
        CaptureOptions::default(),
    )
    .expect("pcap");
    let dirs: Vec<_> = reader
        .filter_map(|e| {
            e.ok()?
                .as_chunk()
                .map(|c| (c.direction, c.endpoints.map(|e| e.dst.port())))
        })
        .collect();
    assert!(
        dirs.iter()
            .all(|(d, port)| (*d == Some(Direction::ClientToServer)) == (*port == Some(1030)))
    );
}

/// Rewrites the Ethernet capture with another link-layer header.
fn relink(datalink: DataLink, header: &[u8]) -> Vec<u8> {
    let file = std::fs::File::open(testdata("websentry/websentry-lo.pcap")).expect("open");
    let mut reader = PcapReader::new(file).expect("pcap");
    let mut out = Vec::new();
    let pcap_header = PcapHeader {
        datalink,
        ..reader.header()
    };
    let mut writer = PcapWriter::with_header(&mut out, pcap_header).expect("writer");
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("packet");
        let mut data = header.to_vec();
        data.extend_from_slice(packet.data.get(14..).unwrap_or_default());
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        writer
            .write_packet(&PcapPacket::new(packet.timestamp, len, &data))
            .expect("write");
    }
    out
}

#[test]
fn bsd_null_both_byte_orders_and_raw_ip_link_types() {
    let reference = read("websentry/websentry-lo.pcap", &[1030]);
    let cases: [(DataLink, &[u8]); 5] = [
        (DataLink::NULL, &[2, 0, 0, 0]),
        (DataLink::NULL, &[0, 0, 0, 2]),
        (DataLink::LOOP, &[0, 0, 0, 2]),
        (DataLink::Unknown(12), &[]),
        (DataLink::IPV4, &[]),
    ];
    for (datalink, header) in cases {
        let bytes = relink(datalink, header);
        let reader =
            PacketCaptureReader::new(Cursor::new(bytes), CaptureOptions::with_ports([1030]))
                .expect("open");
        assert_eq!(collect(reader), reference, "{datalink:?} {header:?}");
    }
}

fn first_error(bytes: Vec<u8>) -> rewire_transport::capture::CaptureError {
    match PacketCaptureReader::new(Cursor::new(bytes), CaptureOptions::default()) {
        Err(e) => e,
        Ok(reader) => {
            let mut errors = reader.filter_map(Result::err);
            errors.next().expect("an error")
        }
    }
}

#[test]
fn broken_files_give_typed_errors() {
    let good = std::fs::read(testdata("websentry/websentry-lo.pcap")).expect("read");

    let e = first_error(good.get(..good.len() - 10).unwrap_or_default().to_vec());
    assert_eq!(e.kind(), CaptureErrorKind::Truncated, "{e}");
    assert!(
        matches!(e.location(), Some(Location::Offset(o)) if o > 24),
        "{e}"
    );

    let e = first_error(good.get(..10).unwrap_or_default().to_vec());
    assert_eq!(e.kind(), CaptureErrorKind::Truncated, "{e}");

    let mut wrong = good.clone();
    wrong.splice(0..4, *b"GIF8");
    let e = first_error(wrong);
    assert_eq!(e.kind(), CaptureErrorKind::WrongMagic);
    assert_eq!(e.location(), Some(Location::Offset(0)));

    let mut usb = good.clone();
    usb.splice(20..24, 189u32.to_le_bytes()); // LINKTYPE_USB_LINUX
    let e = first_error(usb);
    assert_eq!(
        e.kind(),
        CaptureErrorKind::UnsupportedLinkType { link_type: 189 }
    );
    assert!(e.to_string().contains("189"), "{e}");

    // pcapng: the interface description's link type is checked per packet.
    let mut ng = std::fs::read(testdata("websentry/websentry-lo-nano.pcapng")).expect("read");
    let shb_len = u32::from_le_bytes(
        ng.get(4..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default(),
    ) as usize;
    ng.splice(shb_len + 8..shb_len + 10, 189u16.to_le_bytes());
    let e = first_error(ng);
    assert_eq!(
        e.kind(),
        CaptureErrorKind::UnsupportedLinkType { link_type: 189 }
    );

    let e = first_error(std::fs::read(testdata("powerone/requests.bin")).expect("read"));
    assert_eq!(e.kind(), CaptureErrorKind::WrongMagic);

    let path = testdata("does-not-exist.pcap");
    let e = open(&path, InputFormat::Pcap, &CaptureOptions::default()).expect_err("error");
    assert_eq!(e.kind(), CaptureErrorKind::Io);
    assert_eq!(e.path(), Some(path.as_path()));
    assert!(std::error::Error::source(&e).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(reader) = PacketCaptureReader::new(Cursor::new(bytes), CaptureOptions::default()) {
            for _ in reader {}
        }
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        magic in prop::sample::select(vec![0u8, 1]),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let good = std::fs::read(testdata(if magic == 0 {
            "websentry/websentry-lo.pcap"
        } else {
            "websentry/websentry-lo-nano.pcapng"
        })).unwrap_or_default();
        let mut bytes = good.get(..good.len().min(200)).unwrap_or_default().to_vec();
        bytes.extend_from_slice(&body);
        if let Ok(reader) = PacketCaptureReader::new(Cursor::new(bytes), CaptureOptions::default()) {
            for _ in reader {}
        }
    }

    #[test]
    fn corrupted_captures_never_panic(index in 0usize..4000, value in any::<u8>()) {
        let mut bytes = std::fs::read(testdata("upsilon/upsilon-lo.pcapng")).unwrap_or_default();
        let len = bytes.len().max(1);
        if let Some(b) = bytes.get_mut(index % len) {
            *b = value;
        }
        if let Ok(reader) = PacketCaptureReader::new(Cursor::new(bytes), CaptureOptions::default()) {
            for _ in reader {}
        }
    }
}
