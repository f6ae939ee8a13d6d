//! pcap and pcapng: packets → link layer → IP → TCP (reassembled) / UDP.

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use foldhash::HashMap;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::PcapNgReader;
use pcap_file::{Endianness, PcapError};

use super::link::{self, Payload};
use super::tcp::{Reassembler, Segment, direction_for};
use super::{
    CaptureError, CaptureErrorKind, CaptureEvent, CaptureOptions, Chunk, Endpoints, InputFormat,
    Location, StreamId, Transport, sniff_capture_format,
};

/// UDP flows get stream ids from the top half of the id space, apart from TCP's.
const UDP_STREAM_BASE: u64 = 1 << 63;

/// Counters of what a packet capture reader saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaptureStats {
    /// Packets read from the file.
    pub packets: u64,
    /// Packets that were not IPv4/IPv6 TCP/UDP (ARP, ICMP, fragments, ...).
    pub not_tcp_udp: u64,
    /// Packets whose IP/TCP/UDP headers did not parse (e.g. cut by the snap length).
    pub undecodable: u64,
    /// TCP/UDP packets dropped by the port filter.
    pub filtered_out: u64,
}

enum Source<R: Read> {
    Pcap {
        reader: PcapReader<BufReader<R>>,
        link_type: u32,
    },
    PcapNg {
        reader: PcapNgReader<BufReader<R>>,
        interfaces: Vec<Interface>,
    },
}

impl<R: Read> std::fmt::Debug for Source<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pcap { link_type, .. } => write!(f, "Pcap {{ link_type: {link_type} }}"),
            Self::PcapNg { interfaces, .. } => write!(f, "PcapNg {{ interfaces: {interfaces:?} }}"),
        }
    }
}

/// What a pcapng interface description says about its packets.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second, as a power of ten or two.
    resolution: TsResolution,
    offset_secs: u64,
}

#[derive(Debug, Clone, Copy)]
enum TsResolution {
    Pow10(u8),
    Pow2(u8),
}

impl TsResolution {
    fn from_option(raw: u8) -> Self {
        if raw & 0x80 == 0 {
            Self::Pow10(raw)
        } else {
            Self::Pow2(raw & 0x7f)
        }
    }

    /// Converts a count of units to a duration (saturating on absurd values).
    fn to_duration(self, ticks: u64) -> Duration {
        let ticks = u128::from(ticks);
        let nanos = match self {
            Self::Pow10(e) if e <= 9 => ticks.saturating_mul(10u128.pow(9 - u32::from(e))),
            Self::Pow10(e) => ticks / 10u128.saturating_pow(u32::from(e) - 9),
            Self::Pow2(e) => {
                let e = u32::from(e).min(127);
                ticks.saturating_mul(1_000_000_000) >> e
            }
        };
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
        Duration::new(secs, sub)
    }
}

/// Reads pcap or pcapng packets and turns them into [`CaptureEvent`]s:
/// TCP reassembled per direction, UDP datagrams one per chunk, filtered by
/// port (see [`CaptureOptions`]).
///
/// Memory stays bounded: the file is read through a fixed buffer, and TCP
/// state is capped by [`CaptureOptions::max_connections`] and
/// [`CaptureOptions::max_out_of_order_bytes`].
#[derive(Debug)]
pub struct PacketCaptureReader<R: Read> {
    source: Source<R>,
    format: InputFormat,
    path: Option<PathBuf>,
    offset: u64,
    flows: Flows,
    done: bool,
}

/// Everything past the file format: the packet's layers, the port filter,
/// TCP reassembly and UDP flows, and the events ready to hand out. Apart
/// from the reader so that a packet can be decoded while it still borrows
/// the reader's buffer (no copy per packet).
#[derive(Debug)]
struct Flows {
    options: CaptureOptions,
    tcp: Reassembler,
    udp_flows: HashMap<(SocketAddr, SocketAddr), u64>,
    next_udp: u64,
    queue: VecDeque<CaptureEvent>,
    stats: CaptureStats,
}

fn pcap_error(err: PcapError, offset: u64) -> CaptureError {
    let kind = match &err {
        PcapError::IncompleteBuffer => CaptureErrorKind::Truncated,
        PcapError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            CaptureErrorKind::Truncated
        }
        PcapError::IoError(_) => CaptureErrorKind::Io,
        _ => CaptureErrorKind::Malformed,
    };
    // pcap-file's error and its I/O cause become one detail, each said
    // once ("Error reading bytes: unexpected end of file"), and not also a
    // source, so that a report of the error chain does not repeat them.
    let mut detail = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        let text = c.to_string();
        if !detail.ends_with(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        cause = c.source();
    }
    CaptureError::new(kind)
        .at(Location::Offset(offset))
        .with_detail(detail)
}

impl<R: Read> PacketCaptureReader<R> {
    /// Opens a pcap or pcapng stream (told apart by its magic number).
    ///
    /// # Errors
    ///
    /// [`CaptureErrorKind::WrongMagic`] when the stream is neither,
    /// [`CaptureErrorKind::Truncated`] when it ends inside the header,
    /// [`CaptureErrorKind::UnsupportedLinkType`] for a pcap whose link type
    /// is not decoded, [`CaptureErrorKind::Io`] when reading fails.
    pub fn new(reader: R, options: CaptureOptions) -> Result<Self, CaptureError> {
        let mut reader = BufReader::new(reader);
        let prefix = {
            use std::io::BufRead;
            let buf = reader.fill_buf().map_err(CaptureError::io)?;
            buf.get(..12)
                .map(<[u8]>::to_vec)
                .unwrap_or_else(|| buf.to_vec())
        };
        let format = match sniff_capture_format(&prefix) {
            Some(format) => format,
            None if prefix.len() < 4 => {
                return Err(CaptureError::new(CaptureErrorKind::Truncated)
                    .at(Location::Offset(0))
                    .with_detail("shorter than a magic number"));
            }
            None => {
                return Err(CaptureError::new(CaptureErrorKind::WrongMagic)
                    .at(Location::Offset(0))
                    .with_detail(format!(
                        "first bytes {:02x?}",
                        prefix.get(..4).unwrap_or(&prefix)
                    )));
            }
        };
        let (source, offset) = if format == InputFormat::Pcap {
            let reader = PcapReader::new(reader).map_err(|e| pcap_error(e, 0))?;
            let link_type = u32::from(reader.header().datalink);
            if !link::is_supported(link_type) {
                return Err(
                    CaptureError::new(CaptureErrorKind::UnsupportedLinkType { link_type })
                        .at(Location::Offset(20)),
                );
            }
            (Source::Pcap { reader, link_type }, 24)
        } else {
            let reader = PcapNgReader::new(reader).map_err(|e| pcap_error(e, 0))?;
            // Block length at 4..8, in the order the byte-order magic at 8..12 shows.
            let big = prefix.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d][..]);
            let section_len = read_u32(&prefix, 4, big).map_or(0, u64::from);
            (
                Source::PcapNg {
                    reader,
                    interfaces: Vec::new(),
                },
                section_len,
            )
        };
        Ok(Self {
            source,
            format,
            path: None,
            offset,
            flows: Flows {
                tcp: Reassembler::new(options.clone()),
                options,
                udp_flows: HashMap::default(),
                next_udp: 0,
                queue: VecDeque::new(),
                stats: CaptureStats::default(),
            },
            done: false,
        })
    }

    /// Names the file in errors.
    #[must_use]
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Returns whether the input is pcap or pcapng.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Returns the counters so far.
    pub fn stats(&self) -> CaptureStats {
        self.flows.stats
    }

    fn fail(&mut self, err: CaptureError) -> Option<Result<CaptureEvent, CaptureError>> {
        self.done = true;
        self.flows.queue.clear();
        Some(Err(err.with_path(self.path.as_deref())))
    }

    /// Reads one record; returns Ok(false) at the end of the input.
    fn read_record(&mut self) -> Result<bool, CaptureError> {
        let at = self.offset;
        match &mut self.source {
            Source::Pcap { reader, link_type } => {
                let link_type = *link_type;
                let Some(packet) = reader.next_packet() else {
                    return Ok(false);
                };
                let packet = packet.map_err(|e| pcap_error(e, at))?;
                self.offset = at
                    .saturating_add(16)
                    .saturating_add(packet.data.len() as u64);
                let ts = super::timestamp(packet.timestamp);
                self.flows.packet(link_type, ts, &packet.data);
                Ok(true)
            }
            Source::PcapNg { reader, interfaces } => {
                // The byte order of the current section (a new section header
                // is handled below without needing it).
                let big = reader.section().endianness == Endianness::Big;
                let Some(raw) = reader.next_raw_block() else {
                    return Ok(false);
                };
                let raw = raw.map_err(|e| pcap_error(e, at))?;
                self.offset = at.saturating_add(u64::from(raw.initial_len));
                let body: &[u8] = &raw.body;
                let malformed = |what: &str| {
                    CaptureError::new(CaptureErrorKind::Malformed)
                        .at(Location::Offset(at))
                        .with_detail(what.to_owned())
                };
                let (interface_id, ticks, data) = match raw.type_ {
                    SECTION_HEADER_BLOCK => {
                        interfaces.clear();
                        return Ok(true);
                    }
                    INTERFACE_DESCRIPTION_BLOCK => {
                        let iface = parse_idb(body, big)
                            .ok_or_else(|| malformed("interface description block too short"))?;
                        interfaces.push(iface);
                        return Ok(true);
                    }
                    ENHANCED_PACKET_BLOCK => {
                        let (id, ticks, data) = parse_epb(body, big)
                            .ok_or_else(|| malformed("enhanced packet block too short"))?;
                        (id, Some(ticks), data)
                    }
                    SIMPLE_PACKET_BLOCK => {
                        let data = body
                            .get(4..)
                            .ok_or_else(|| malformed("simple packet block too short"))?;
                        let cap = usize::try_from(read_u32(body, 0, big).unwrap_or(0))
                            .unwrap_or(usize::MAX);
                        (0, None, data.get(..cap.min(data.len())).unwrap_or_default())
                    }
                    _ => return Ok(true),
                };
                let Some(iface) = usize::try_from(interface_id)
                    .ok()
                    .and_then(|i| interfaces.get(i))
                    .copied()
                else {
                    return Err(CaptureError::new(CaptureErrorKind::Malformed)
                        .at(Location::Offset(at))
                        .with_detail(format!(
                            "packet names interface {interface_id}, which is not described"
                        )));
                };
                if !link::is_supported(iface.link_type) {
                    return Err(CaptureError::new(CaptureErrorKind::UnsupportedLinkType {
                        link_type: iface.link_type,
                    })
                    .at(Location::Offset(at)));
                }
                let ts = ticks.and_then(|t| {
                    super::timestamp(
                        Duration::from_secs(iface.offset_secs)
                            .checked_add(iface.resolution.to_duration(t))?,
                    )
                });
                self.flows.packet(iface.link_type, ts, data);
                Ok(true)
            }
        }
    }
}

impl Flows {
    fn packet(&mut self, link_type: u32, ts: Option<SystemTime>, frame: &[u8]) {
        self.stats.packets = self.stats.packets.saturating_add(1);
        let Payload::Ip(ip) = link::network_payload(link_type, frame) else {
            self.stats.not_tcp_udp = self.stats.not_tcp_udp.saturating_add(1);
            return;
        };
        let Ok(sliced) = SlicedPacket::from_ip(ip) else {
            self.stats.undecodable = self.stats.undecodable.saturating_add(1);
            return;
        };
        let (src_ip, dst_ip): (IpAddr, IpAddr) = match &sliced.net {
            Some(NetSlice::Ipv4(v4)) => {
                if v4.is_payload_fragmented() {
                    self.stats.not_tcp_udp = self.stats.not_tcp_udp.saturating_add(1);
                    return;
                }
                (
                    v4.header().source_addr().into(),
                    v4.header().destination_addr().into(),
                )
            }
            Some(NetSlice::Ipv6(v6)) => {
                if v6.is_payload_fragmented() {
                    self.stats.not_tcp_udp = self.stats.not_tcp_udp.saturating_add(1);
                    return;
                }
                (
                    v6.header().source_addr().into(),
                    v6.header().destination_addr().into(),
                )
            }
            _ => {
                self.stats.not_tcp_udp = self.stats.not_tcp_udp.saturating_add(1);
                return;
            }
        };
        match &sliced.transport {
            Some(TransportSlice::Tcp(tcp)) => {
                let src = SocketAddr::new(src_ip, tcp.source_port());
                let dst = SocketAddr::new(dst_ip, tcp.destination_port());
                if !self.wanted(src, dst) {
                    return;
                }
                let seg = Segment {
                    src,
                    dst,
                    seq: tcp.sequence_number(),
                    syn: tcp.syn(),
                    ack: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                    payload: tcp.payload(),
                    timestamp: ts,
                };
                self.tcp.segment(&seg, &mut self.queue);
            }
            Some(TransportSlice::Udp(udp)) => {
                let src = SocketAddr::new(src_ip, udp.source_port());
                let dst = SocketAddr::new(dst_ip, udp.destination_port());
                if !self.wanted(src, dst) {
                    return;
                }
                let stream = self.udp_stream(src, dst);
                self.queue.push_back(CaptureEvent::Chunk(Chunk {
                    stream,
                    timestamp: ts,
                    direction: direction_for(&self.options.ports, src, dst),
                    endpoints: Some(Endpoints {
                        src,
                        dst,
                        transport: Transport::Udp,
                    }),
                    bytes: udp.payload().to_vec(),
                }));
            }
            _ => self.stats.not_tcp_udp = self.stats.not_tcp_udp.saturating_add(1),
        }
    }

    fn wanted(&mut self, src: SocketAddr, dst: SocketAddr) -> bool {
        let ports = &self.options.ports;
        let keep = ports.is_empty() || ports.contains(&src.port()) || ports.contains(&dst.port());
        if !keep {
            self.stats.filtered_out = self.stats.filtered_out.saturating_add(1);
        }
        keep
    }

    fn udp_stream(&mut self, src: SocketAddr, dst: SocketAddr) -> StreamId {
        if self.udp_flows.len() >= self.options.max_connections.max(1)
            && !self.udp_flows.contains_key(&(src, dst))
        {
            self.udp_flows.clear();
        }
        let next = &mut self.next_udp;
        let id = *self.udp_flows.entry((src, dst)).or_insert_with(|| {
            let id = *next;
            *next = next.saturating_add(1);
            id
        });
        StreamId(UDP_STREAM_BASE | id)
    }
}

const SECTION_HEADER_BLOCK: u32 = 0x0a0d_0d0a;
const INTERFACE_DESCRIPTION_BLOCK: u32 = 1;
const SIMPLE_PACKET_BLOCK: u32 = 3;
const ENHANCED_PACKET_BLOCK: u32 = 6;
const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

fn read_u16(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let v: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    })
}

fn read_u32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let v: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    })
}

fn read_u64(b: &[u8], at: usize, big: bool) -> Option<u64> {
    let v: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if big {
        u64::from_be_bytes(v)
    } else {
        u64::from_le_bytes(v)
    })
}

/// Interface description block body: link type, reserved, snap length, options.
fn parse_idb(body: &[u8], big: bool) -> Option<Interface> {
    let link_type = u32::from(read_u16(body, 0, big)?);
    let mut resolution = TsResolution::Pow10(6);
    let mut offset_secs = 0;
    let mut at = 8usize;
    while let (Some(code), Some(len)) = (
        read_u16(body, at, big),
        read_u16(body, at.saturating_add(2), big),
    ) {
        let start = at.saturating_add(4);
        let value = body.get(start..start.saturating_add(usize::from(len)));
        match (code, value) {
            (OPT_END, _) | (_, None) => break,
            (OPT_IF_TSRESOL, Some([r])) => resolution = TsResolution::from_option(*r),
            (OPT_IF_TSOFFSET, Some(v)) => offset_secs = read_u64(v, 0, big).unwrap_or(0),
            _ => {}
        }
        let padded = usize::from(len).div_ceil(4).saturating_mul(4);
        at = start.saturating_add(padded);
    }
    Some(Interface {
        link_type,
        resolution,
        offset_secs,
    })
}

/// Enhanced packet block body: interface, timestamp high/low, captured and
/// original length, data.
fn parse_epb(body: &[u8], big: bool) -> Option<(u32, u64, &[u8])> {
    let interface_id = read_u32(body, 0, big)?;
    let ticks = (u64::from(read_u32(body, 4, big)?) << 32) | u64::from(read_u32(body, 8, big)?);
    let captured = usize::try_from(read_u32(body, 12, big)?).ok()?;
    let data = body.get(20..20usize.checked_add(captured)?)?;
    Some((interface_id, ticks, data))
}

impl<R: Read> Iterator for PacketCaptureReader<R> {
    type Item = Result<CaptureEvent, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.flows.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            match self.read_record() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    self.flows.tcp.finish(&mut self.flows.queue);
                }
                Err(err) => return self.fail(err),
            }
        }
    }
}
