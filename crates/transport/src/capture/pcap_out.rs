//! Serial bytes into a pcap file that Wireshark opens: link type `USER0`
//! (147) with a small direction pseudo-header, decoded by the rewire Lua
//! dissector (`contrib/wireshark/rewire.lua`, `docs/wireshark.md`).
//!
//! Every record is one [`Chunk`] of a serial stream (a hex dump's run of
//! `TX`/`RX` lines, a raw file's read):
//!
//! ```text
//!  0    2         3           4          5          6          8
//!  +----+---------+-----------+----------+----------+----------+--------------+
//!  |"RW"| version | direction | protocol | reserved | stream   | serial bytes |
//!  |52 57|   01   | 0 unknown | 0 unknown|    00    | u16 BE   |              |
//!  |    |         | 1 host→dev| 1 Power-One         | (low 16  |              |
//!  |    |         | 2 dev→host| 2 Megatec|          |  bits of |              |
//!  |    |         |           | 3 WebSentry         | StreamId)|              |
//!  +----+---------+-----------+----------+----------+----------+--------------+
//! ```
//!
//! "host to device" is [`Direction::ClientToServer`] (`TX`, `>` in a hex
//! dump: the PC or monitor talking to the PCU or UPS). A chunk without a
//! timestamp (hex dumps, raw files) gets a synthetic one: record *n* is
//! stamped *n* milliseconds after the epoch, so the order survives.
//! Chunks longer than [`MAX_RECORD_DATA`] are split over several records;
//! the dissector carries an incomplete message over to the next record of
//! the same stream, direction and protocol.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use super::{CaptureError, CaptureErrorKind, CaptureEvent, Chunk, Direction};

/// `LINKTYPE_USER0`, the link-layer header type of the files written here.
pub const LINKTYPE_USER0: u32 = 147;
/// Length of the pseudo-header before the serial bytes of each record.
pub const PSEUDO_HEADER_LEN: usize = 8;
/// The pseudo-header's first two bytes.
pub const PSEUDO_HEADER_MAGIC: [u8; 2] = *b"RW";
/// The pseudo-header version written.
pub const PSEUDO_HEADER_VERSION: u8 = 1;
/// Most serial bytes in one record; longer chunks are split.
pub const MAX_RECORD_DATA: usize = 65_535 - PSEUDO_HEADER_LEN;

/// Which protocol the serial bytes carry (pseudo-header byte 4), so the
/// dissector need not guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SerialProtocol {
    /// Not said; the dissector detects it (or follows its preference).
    Unknown,
    /// Power-One PCU frames.
    PowerOne,
    /// Megatec commands and replies (UPSilon's UPS link).
    Megatec,
    /// WebSentry frames.
    WebSentry,
}

impl SerialProtocol {
    /// Returns the pseudo-header code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::PowerOne => 1,
            Self::Megatec => 2,
            Self::WebSentry => 3,
        }
    }
}

/// Returns the pseudo-header code of a direction (0 unknown, 1 host to
/// device, 2 device to host).
pub const fn direction_code(direction: Option<Direction>) -> u8 {
    match direction {
        None => 0,
        Some(Direction::ClientToServer) => 1,
        Some(Direction::ServerToClient) => 2,
    }
}

fn io_error(e: std::io::Error) -> CaptureError {
    CaptureError::new(CaptureErrorKind::Io)
        .with_detail("writing the pcap")
        .with_source(e)
}

/// Writes serial chunks as a `USER0` pcap (see the module doc).
#[derive(Debug)]
pub struct SerialPcapWriter<W: Write> {
    out: W,
    protocol: SerialProtocol,
    records: u64,
}

impl<W: Write> SerialPcapWriter<W> {
    /// Writes the pcap file header (microsecond stamps, link type `USER0`)
    /// and returns the writer.
    ///
    /// # Errors
    /// [`CaptureErrorKind::Io`] when writing fails.
    pub fn new(mut out: W, protocol: SerialProtocol) -> Result<Self, CaptureError> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
        header.extend_from_slice(&LINKTYPE_USER0.to_le_bytes());
        out.write_all(&header).map_err(io_error)?;
        Ok(Self {
            out,
            protocol,
            records: 0,
        })
    }

    /// Returns how many records were written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes one chunk as one record (several when it is longer than
    /// [`MAX_RECORD_DATA`]). An empty chunk writes nothing.
    ///
    /// # Errors
    /// [`CaptureErrorKind::Io`] when writing fails.
    pub fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), CaptureError> {
        for piece in chunk.bytes.chunks(MAX_RECORD_DATA) {
            let stamp = chunk.timestamp.unwrap_or_else(|| {
                UNIX_EPOCH + Duration::from_millis(self.records.saturating_add(1))
            });
            let since = stamp.duration_since(UNIX_EPOCH).unwrap_or_default();
            let secs = u32::try_from(since.as_secs()).unwrap_or(u32::MAX);
            let len = u32::try_from(piece.len() + PSEUDO_HEADER_LEN).unwrap_or(u32::MAX);
            let stream = u16::try_from(chunk.stream.0 & 0xffff).unwrap_or(0);
            let mut record = Vec::with_capacity(16 + PSEUDO_HEADER_LEN + piece.len());
            record.extend_from_slice(&secs.to_le_bytes());
            record.extend_from_slice(&since.subsec_micros().to_le_bytes());
            record.extend_from_slice(&len.to_le_bytes());
            record.extend_from_slice(&len.to_le_bytes());
            record.extend_from_slice(&PSEUDO_HEADER_MAGIC);
            record.push(PSEUDO_HEADER_VERSION);
            record.push(direction_code(chunk.direction));
            record.push(self.protocol.code());
            record.push(0);
            record.extend_from_slice(&stream.to_be_bytes());
            record.extend_from_slice(piece);
            self.out.write_all(&record).map_err(io_error)?;
            self.records = self.records.saturating_add(1);
        }
        Ok(())
    }

    /// Writes the event if it is a chunk; gaps and stream ends have no
    /// record.
    ///
    /// # Errors
    /// [`CaptureErrorKind::Io`] when writing fails.
    pub fn write_event(&mut self, event: &CaptureEvent) -> Result<(), CaptureError> {
        match event {
            CaptureEvent::Chunk(chunk) => self.write_chunk(chunk),
            CaptureEvent::Gap(_) | CaptureEvent::End(_) => Ok(()),
        }
    }

    /// Flushes and returns the inner writer.
    ///
    /// # Errors
    /// [`CaptureErrorKind::Io`] when flushing fails.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        self.out.flush().map_err(io_error)?;
        Ok(self.out)
    }
}

/// Copies every chunk of a capture reader (a [`HexDumpReader`](super::HexDumpReader),
/// a [`RawFileReader`](super::RawFileReader), …) into a `USER0` pcap on
/// `out` and returns the number of records written. This is what a
/// `decode --pcap-out FILE` option calls.
///
/// ```
/// use rewire_transport::capture::HexDumpReader;
/// use rewire_transport::capture::pcap_out::{SerialProtocol, write_serial_pcap};
/// let dump = "TX: FF 08 00 01 00 01 07 10\n";
/// let mut pcap = Vec::new();
/// let n = write_serial_pcap(HexDumpReader::new(dump.as_bytes()), SerialProtocol::PowerOne, &mut pcap)?;
/// assert_eq!(n, 1);
/// assert_eq!(pcap.len(), 24 + 16 + 8 + 8);
/// # Ok::<(), rewire_transport::capture::CaptureError>(())
/// ```
///
/// # Errors
/// The reader's first error, or [`CaptureErrorKind::Io`] when writing fails.
pub fn write_serial_pcap<I, W>(
    events: I,
    protocol: SerialProtocol,
    out: W,
) -> Result<u64, CaptureError>
where
    I: IntoIterator<Item = Result<CaptureEvent, CaptureError>>,
    W: Write,
{
    let mut writer = SerialPcapWriter::new(out, protocol)?;
    for event in events {
        writer.write_event(&event?)?;
    }
    let records = writer.records();
    writer.finish()?;
    Ok(records)
}
