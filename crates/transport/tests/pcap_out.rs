//! The USER0 serial pcap writer: file header, pseudo-header, splitting.

use rewire_transport::capture::pcap_out::{
    LINKTYPE_USER0, MAX_RECORD_DATA, PSEUDO_HEADER_LEN, SerialPcapWriter, SerialProtocol,
    write_serial_pcap,
};
use rewire_transport::capture::{
    CaptureEvent, CaptureOptions, Chunk, Direction, HexDumpReader, InputFormat,
    PacketCaptureReader, StreamId, sniff_capture_format,
};

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Splits a pcap written by the writer into (pseudo-header, data) records.
fn records(pcap: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let len = u32_at(pcap, at + 8) as usize;
        assert_eq!(len, u32_at(pcap, at + 12) as usize, "caplen == len");
        let rec = &pcap[at + 16..at + 16 + len];
        out.push((
            rec[..PSEUDO_HEADER_LEN].to_vec(),
            rec[PSEUDO_HEADER_LEN..].to_vec(),
        ));
        at += 16 + len;
    }
    assert_eq!(at, pcap.len(), "no trailing bytes");
    out
}

#[test]
fn file_header_is_pcap_with_user0() {
    let pcap = SerialPcapWriter::new(Vec::new(), SerialProtocol::Megatec)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(pcap.len(), 24);
    assert_eq!(sniff_capture_format(&pcap), Some(InputFormat::Pcap));
    assert_eq!(&pcap[4..8], &[2, 0, 4, 0], "version 2.4");
    assert_eq!(u32_at(&pcap, 20), LINKTYPE_USER0);
    assert_eq!(LINKTYPE_USER0, 147);
}

#[test]
fn hex_dump_directions_become_pseudo_headers() {
    let dump = "TX: FF 0D 01 00 01 01 07 0B 03 0F 0F 0D 4F\nRX: FF 08 00 01 00 01 07 10\n";
    let mut pcap = Vec::new();
    let n = write_serial_pcap(
        HexDumpReader::new(dump.as_bytes()),
        SerialProtocol::PowerOne,
        &mut pcap,
    )
    .unwrap();
    assert_eq!(n, 2);
    let recs = records(&pcap);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        &recs[0].0[..6],
        b"RW\x01\x01\x01\x00",
        "host to device, Power-One"
    );
    assert_eq!(&recs[1].0[..6], b"RW\x01\x02\x01\x00", "device to host");
    assert_eq!(recs[0].1[..2], [0xFF, 0x0D]);
    assert_eq!(recs[1].1, [0xFF, 0x08, 0x00, 0x01, 0x00, 0x01, 0x07, 0x10]);
    // Synthetic, increasing timestamps.
    let t0 = (u32_at(&pcap, 24), u32_at(&pcap, 28));
    let second = 24 + 16 + 8 + 13;
    let t1 = (u32_at(&pcap, second), u32_at(&pcap, second + 4));
    assert!(t1 > t0, "{t0:?} < {t1:?}");
}

#[test]
fn unknown_direction_and_stream_number() {
    let chunk = Chunk {
        stream: StreamId(0x1_0203),
        timestamp: None,
        direction: None,
        endpoints: None,
        bytes: b"Q1\r".to_vec(),
    };
    let mut w = SerialPcapWriter::new(Vec::new(), SerialProtocol::Unknown).unwrap();
    w.write_event(&CaptureEvent::Chunk(chunk)).unwrap();
    let recs = records(&w.finish().unwrap());
    assert_eq!(recs[0].0, b"RW\x01\x00\x00\x00\x02\x03");
    assert_eq!(recs[0].1, b"Q1\r");
}

#[test]
fn long_chunks_are_split_and_empty_ones_dropped() {
    let mut w = SerialPcapWriter::new(Vec::new(), SerialProtocol::WebSentry).unwrap();
    let big = Chunk {
        stream: StreamId(1),
        timestamp: None,
        direction: Some(Direction::ServerToClient),
        endpoints: None,
        bytes: vec![0x5a; MAX_RECORD_DATA + 10],
    };
    w.write_chunk(&big).unwrap();
    w.write_chunk(&Chunk {
        bytes: Vec::new(),
        ..big.clone()
    })
    .unwrap();
    assert_eq!(w.records(), 2);
    let recs = records(&w.finish().unwrap());
    assert_eq!(recs[0].1.len(), MAX_RECORD_DATA);
    assert_eq!(recs[1].1.len(), 10);
}

#[test]
fn the_packet_reader_refuses_user0_cleanly() {
    // Our own reader does not decode USER0; it must say so, not panic.
    let mut pcap = Vec::new();
    write_serial_pcap(
        HexDumpReader::new("TX: 51 31 0D\n".as_bytes()),
        SerialProtocol::Megatec,
        &mut pcap,
    )
    .unwrap();
    let reader = PacketCaptureReader::new(pcap.as_slice(), CaptureOptions::default());
    let first = reader.and_then(|mut r| r.next().transpose());
    assert!(first.is_err(), "{first:?}");
}
