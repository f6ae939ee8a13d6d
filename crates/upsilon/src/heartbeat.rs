//! UDP 11541 heartbeats between UPSilon 2000's processes: `ups000cnt001`
//! (UPS 0 connected) or `upsdiscnt001` (no UPS connected).

use core::fmt;

use crate::decimal::Writer;
use crate::error::{Error, Field};

/// Length of every heartbeat datagram.
pub const HEARTBEAT_LEN: usize = 12;

/// Largest UPS number a heartbeat can carry (three digits).
pub const MAX_UPS_NUMBER: u16 = 999;

const PREFIX: &[u8] = b"ups";
const SUFFIX: &[u8] = b"cnt001";
const DISCONNECTED: &[u8] = b"dis";

/// A decoded UDP 11541 heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Heartbeat {
    /// `ups<NNN>cnt001`: UPS number `ups` is connected.
    Connected {
        /// The three-digit UPS number (0 … 999).
        ups: u16,
    },
    /// `upsdiscnt001`: no UPS is connected.
    Disconnected,
}

impl Heartbeat {
    /// Writes the datagram ([`HEARTBEAT_LEN`] bytes) into `buf`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a UPS number above 999;
    /// [`Error::BufferTooSmall`] when `buf` is shorter than 12 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        w.bytes(PREFIX);
        match *self {
            Heartbeat::Connected { ups } if ups > MAX_UPS_NUMBER => {
                return Err(Error::OutOfRange {
                    field: Field::UpsNumber,
                    value: u32::from(ups),
                    min: 0,
                    max: u32::from(MAX_UPS_NUMBER),
                });
            }
            Heartbeat::Connected { ups } => w.unsigned(u32::from(ups), 3),
            Heartbeat::Disconnected => w.bytes(DISCONNECTED),
        }
        w.bytes(SUFFIX);
        w.finish()
    }
}

impl fmt::Display for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Heartbeat::Connected { ups } => write!(f, "heartbeat UPS {ups:03} connected"),
            Heartbeat::Disconnected => f.write_str("heartbeat UPS disconnected"),
        }
    }
}

/// Parses one UDP 11541 datagram.
///
/// ```
/// use rewire_upsilon::{parse_heartbeat, Heartbeat};
/// assert_eq!(parse_heartbeat(b"ups000cnt001")?, Heartbeat::Connected { ups: 0 });
/// assert_eq!(parse_heartbeat(b"upsdiscnt001")?, Heartbeat::Disconnected);
/// # Ok::<(), rewire_upsilon::Error>(())
/// ```
///
/// # Errors
/// [`Error::BadHeartbeat`] for anything but `ups` + three digits or `dis` +
/// `cnt001`, carrying the datagram's length and the first offending offset.
pub fn parse_heartbeat(datagram: &[u8]) -> Result<Heartbeat, Error> {
    let bad = |offset: usize| Error::BadHeartbeat {
        offset,
        len: datagram.len(),
    };
    // Compare position by position so the error points at the first byte
    // that cannot belong to a heartbeat.
    let mut digits = true;
    let mut dis = true;
    let mut ups: u16 = 0;
    for i in 0..HEARTBEAT_LEN {
        let Some(&b) = datagram.get(i) else {
            return Err(bad(i));
        };
        let ok = match i {
            0..=2 => PREFIX.get(i) == Some(&b),
            3..=5 => {
                digits &= b.is_ascii_digit();
                dis &= DISCONNECTED.get(i - 3) == Some(&b);
                if b.is_ascii_digit() {
                    ups = ups * 10 + u16::from(b - b'0');
                }
                digits || dis
            }
            _ => SUFFIX.get(i - 6) == Some(&b),
        };
        if !ok {
            return Err(bad(i));
        }
    }
    if datagram.len() > HEARTBEAT_LEN {
        return Err(bad(HEARTBEAT_LEN));
    }
    if digits {
        Ok(Heartbeat::Connected { ups })
    } else {
        Ok(Heartbeat::Disconnected)
    }
}
