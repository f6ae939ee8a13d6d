//! Inference on the bundled captures, with the protocol knowledge withheld:
//! the expected structure below is what the protocol notes say, and the
//! library must find it from the bytes alone.

use std::path::PathBuf;

use rewire_infer::collect::read_path;
use rewire_infer::report::{Algorithm, BoundaryMethod, Endian, GroupReport, Role};
use rewire_infer::{Config, infer_group};
use rewire_transport::capture::CaptureOptions;

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn infer_file(rel: &str, ports: &[u16]) -> Vec<GroupReport> {
    let config = Config::default();
    let groups = read_path(
        &testdata(rel),
        &CaptureOptions::with_ports(ports.iter().copied()),
        &config,
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"));
    groups.iter().map(|g| infer_group(g, &config)).collect()
}

fn only(rel: &str, ports: &[u16]) -> GroupReport {
    let mut groups = infer_file(rel, ports);
    assert_eq!(groups.len(), 1, "{rel}: {groups:#?}");
    groups.remove(0)
}

fn role_at(r: &GroupReport, offset: usize) -> Option<Role> {
    r.fields.iter().find(|f| f.offset == offset).map(|f| f.role)
}

/// The article's table 1: FF, length, addresses, reply flag, 01, function, data, sum.
fn assert_powerone(r: &GroupReport, rel: &str) {
    let sync = r.sync.found().unwrap_or_else(|| panic!("{rel}: sync\n{r}"));
    assert_eq!(sync.bytes, "ff", "{rel}\n{r}");
    let len = r
        .length
        .found()
        .unwrap_or_else(|| panic!("{rel}: length\n{r}"));
    assert_eq!((len.offset, len.width, len.adjust), (1, 1, 0), "{rel}\n{r}");
    assert_eq!(len.counts_from, Some(0));
    let sum = r
        .checksum
        .found()
        .unwrap_or_else(|| panic!("{rel}: checksum\n{r}"));
    assert_eq!(sum.algorithm, Algorithm::Sum8, "{rel}\n{r}");
    assert_eq!(
        (
            sum.offset,
            sum.from_end,
            sum.width,
            sum.range_from,
            sum.range_to_end
        ),
        (1, true, 1, 0, 1),
        "{rel}\n{r}"
    );
    let field = |o: usize| r.fields.iter().find(|f| f.offset == o);
    assert_eq!(role_at(r, 2), Some(Role::Address), "{rel}\n{r}");
    assert_eq!(field(2).and_then(|f| f.pair_offset), Some(3), "{rel}\n{r}");
    assert_eq!(role_at(r, 3), Some(Role::Address), "{rel}\n{r}");
    assert_eq!(role_at(r, 4), Some(Role::DirectionFlag), "{rel}\n{r}");
    assert_eq!(
        field(4).map(|f| f.values.clone()),
        Some(vec!["c2s=01".to_owned(), "s2c=00".to_owned()]),
        "{rel}\n{r}"
    );
    assert_eq!(role_at(r, 5), Some(Role::Constant), "{rel}\n{r}");
    assert_eq!(
        field(5).map(|f| f.values.clone()),
        Some(vec!["01".to_owned()])
    );
    assert_eq!(role_at(r, 6), Some(Role::Function), "{rel}\n{r}");
}

#[test]
fn powerone_captures() {
    for rel in [
        "powerone/powerone-lo.pcap",
        "powerone/powerone-lo.pcapng",
        "powerone/powerone-any-sll.pcap",
        "powerone/powerone-rawip6.pcap",
        "powerone/powerone-loss.pcap",
        "powerone/powerone-loss.pcapng",
    ] {
        let r = only(rel, &[]);
        assert_eq!(r.name, "tcp/4001");
        assert_powerone(&r, rel);
    }
}

#[test]
fn powerone_hex_dumps() {
    for rel in ["powerone/exchange.hex", "powerone/exchange-arrows.hex"] {
        let r = only(rel, &[]);
        assert_eq!(r.messages, 4, "{rel}\n{r}");
        assert_powerone(&r, rel);
    }
}

#[test]
fn powerone_raw_requests_without_directions() {
    // One direction, no pieces: boundaries come from the sync and the
    // length predicting the next sync. Only two distinct frames: too thin
    // to name a length field or a checksum, and the report says so.
    for rel in [
        "powerone/requests.bin",
        "powerone/requests.xxd.hex",
        "powerone/requests.hexdump-c.hex",
    ] {
        let r = only(rel, &[]);
        assert_eq!(r.messages, 4, "{rel}\n{r}");
        assert_eq!(r.boundaries.method, BoundaryMethod::SyncLength, "{rel}");
        assert_eq!(
            r.sync.found().map(|s| s.bytes.as_str()),
            Some("ff"),
            "{rel}"
        );
        assert!(r.length.found().is_none(), "{rel}\n{r}");
        assert!(r.checksum.found().is_none(), "{rel}\n{r}");
        assert!(
            r.to_string().contains("too few distinct messages"),
            "{rel}\n{r}"
        );
    }
}

#[test]
fn websentry_captures() {
    for rel in [
        "websentry/websentry-lo.pcap",
        "websentry/websentry-lo-nano.pcapng",
        "websentry/websentry-any-sll2.pcap",
        "websentry/websentry-rawip4.pcap",
    ] {
        let r = only(rel, &[]);
        assert_eq!(r.name, "tcp/1030");
        assert_eq!(
            r.sync.found().map(|s| s.bytes.as_str()),
            Some("70839e"),
            "{rel}\n{r}"
        );
        let len = r.length.found().unwrap_or_else(|| panic!("{rel}\n{r}"));
        assert_eq!(
            (len.offset, len.width, len.endian, len.counts_from),
            (5, 2, Endian::Big, Some(7)),
            "{rel}\n{r}"
        );
        let crc = r.checksum.found().unwrap_or_else(|| panic!("{rel}\n{r}"));
        assert_eq!(crc.algorithm, Algorithm::Crc);
        assert_eq!(
            (
                crc.offset,
                crc.from_end,
                crc.width,
                crc.endian,
                crc.range_from,
                crc.range_to_end
            ),
            (3, false, 2, Endian::Big, 7, 0),
            "{rel}\n{r}"
        );
        let params = crc.crc.as_ref().expect("crc parameters");
        assert_eq!(params.name.as_deref(), Some("CRC-16/MODBUS"), "{rel}\n{r}");
        assert_eq!(params.params.poly, "0x8005");
        // The deliberately corrupted query does not change the answer.
        assert_eq!(crc.evidence.agree + 1, crc.evidence.total, "{rel}\n{r}");
        assert_eq!(role_at(&r, 7), Some(Role::Function), "{rel}\n{r}");
    }
}

#[test]
fn upsilon_status_lines_are_text() {
    let r = only("upsilon/upsilon-lo.pcap", &[2570]);
    let text = r.text.as_ref().unwrap_or_else(|| panic!("text\n{r}"));
    assert_eq!(text.start.as_deref(), Some("("), "{r}");
    assert_eq!(text.terminator, "CR", "{r}");
    assert_eq!(text.separator.as_deref(), Some(" "), "{r}");
    assert_eq!(text.field_count, 8, "{r}");
    assert_eq!(text.fields.first().map(|f| f.shape.as_str()), Some("999.9"));
}

#[test]
fn upsilon_capture_has_three_services() {
    let groups = infer_file("upsilon/upsilon-lo.pcap", &[]);
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["tcp/2570", "tcp/8652", "udp/11541"]);
    assert!(groups.iter().all(|g| g.text.is_some()), "{groups:#?}");
}
