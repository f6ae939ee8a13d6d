//! The meaning of a frame, apart from its bytes.

use core::fmt;

use crate::frame::Frame;
use crate::{
    CONTROL, Error, FunctionCode, MAX_DATA_LEN, MIN_FRAME_LEN, NO_REPLY, PC_ADDRESS,
    REPLY_REQUIRED, Result,
};

/// A frame's fields as values: parse one from a checked [`Frame`], or
/// build one and [`emit`](Self::emit) it into a caller's buffer.
///
/// [`Repr::request`] builds what the PC sends (reply flag 0x01, control
/// 0x01, source 0x00); [`Repr::reply_to`] builds a PCU's answer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// The receiver's address (the PC is 0x00).
    pub destination: u8,
    /// The sender's address.
    pub source: u8,
    /// The raw reply flag: 0x01 when the receiver must answer, 0x00 when not.
    pub reply_flag: u8,
    /// The control byte (0x01 in every capture).
    pub control: u8,
    /// The function code.
    pub function: FunctionCode,
    /// The data field, at most [`MAX_DATA_LEN`] bytes.
    pub data: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Builds a PC request to module `destination`: source 0x00 (change it
    /// with [`with_source`](Self::with_source)), reply flag 0x01, control 0x01.
    pub const fn request(destination: u8, function: FunctionCode, data: &'a [u8]) -> Self {
        Self {
            destination,
            source: PC_ADDRESS,
            reply_flag: REPLY_REQUIRED,
            control: CONTROL,
            function,
            data,
        }
    }

    /// Returns the same frame sent from `source` instead.
    #[must_use]
    pub const fn with_source(self, source: u8) -> Self {
        Self { source, ..self }
    }

    /// Builds the answer to `self` as the captures show it: addresses
    /// swapped, reply flag 0x00, same control and function, carrying `data`.
    pub const fn reply_to<'b>(&self, data: &'b [u8]) -> Repr<'b> {
        Repr {
            destination: self.source,
            source: self.destination,
            reply_flag: NO_REPLY,
            control: self.control,
            function: self.function,
            data,
        }
    }

    /// Returns whether the receiver must answer (reply flag 0x01).
    pub const fn reply_required(&self) -> bool {
        self.reply_flag == REPLY_REQUIRED
    }

    /// Reads a frame's fields, checking its length and checksum.
    ///
    /// # Errors
    /// As [`Frame::check_len`] and [`Frame::check_checksum`].
    pub fn parse(frame: &Frame<&'a [u8]>) -> Result<Self> {
        frame.check_len()?;
        frame.check_checksum()?;
        Ok(Self {
            destination: frame.destination(),
            source: frame.source(),
            reply_flag: frame.reply_flag(),
            control: frame.control(),
            function: frame.function(),
            data: frame.into_data(),
        })
    }

    /// Returns the number of bytes [`emit`](Self::emit) writes: the data
    /// plus [`MIN_FRAME_LEN`].
    pub const fn buffer_len(&self) -> usize {
        self.data.len().saturating_add(MIN_FRAME_LEN)
    }

    /// Writes the frame, checksum included, at the start of `buf` and
    /// returns its length.
    ///
    /// # Errors
    /// [`Error::DataTooLong`] when the data exceeds [`MAX_DATA_LEN`];
    /// [`Error::BufferTooSmall`] when `buf` is shorter than
    /// [`buffer_len`](Self::buffer_len). Nothing is written on error.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let length = u8::try_from(self.buffer_len())
            .ok()
            .filter(|_| self.data.len() <= MAX_DATA_LEN)
            .ok_or(Error::DataTooLong {
                length: self.data.len(),
                max: MAX_DATA_LEN,
            })?;
        let len = usize::from(length);
        let available = buf.len();
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall {
            needed: len,
            available,
        })?;
        let mut frame = Frame::new_unchecked(out);
        frame.set_flag();
        frame.set_length(length);
        frame.set_destination(self.destination);
        frame.set_source(self.source);
        frame.set_reply_flag(self.reply_flag);
        frame.set_control(self.control);
        frame.set_function(self.function);
        frame.data_mut().copy_from_slice(self.data);
        frame.fill_checksum();
        Ok(len)
    }
}

impl fmt::Display for Repr<'_> {
    /// Writes one tcpdump-like line: `src > dst function reply ctrl data`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#04x} > {:#04x} {} {} ctrl {:#04x} data[{}]",
            self.source,
            self.destination,
            self.function,
            crate::reply_word(self.reply_flag),
            self.control,
            self.data.len(),
        )?;
        if !self.data.is_empty() {
            f.write_str(" ")?;
            crate::write_hex(f, self.data)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;
    use crate::{DateTime, Password, parse};

    /// The PC's "set date/time" request for 2011-03-15 15:13 to module 0x01.
    const SET_DATE_TIME_REQUEST: [u8; 13] = [
        0xFF, // flag
        0x0D, // length: 13 = 8 + 5 data bytes
        0x01, // destination: PCU module 0x01
        0x00, // source: the PC
        0x01, // reply flag: the PCU must answer
        0x01, // control
        0x07, // function: set date/time
        0x0B, // YY = 11 -> 2011
        0x03, // MM = 3
        0x0F, // DD = 15
        0x0F, // hh = 15
        0x0D, // mm = 13
        0x4F, // checksum: sum of the 12 bytes above = 0x14F -> 0x4F
    ];

    /// The PC's "set password" request for 8888 to module 0x01.
    const SET_PASSWORD_REQUEST: [u8; 12] = [
        0xFF, // flag
        0x0C, // length: 12 = 8 + 4 data bytes
        0x01, // destination: PCU module 0x01
        0x00, // source: the PC
        0x01, // reply flag: the PCU must answer
        0x01, // control
        0x08, // function: set password
        0x38, 0x38, 0x38, 0x38, // "8888" in ASCII
        0xF6, // checksum: 0x2F6 -> 0xF6
    ];

    fn hex(bytes: &[u8]) -> std::string::String {
        bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<std::vec::Vec<_>>()
            .join(" ")
    }

    #[test]
    fn emit_date_time_request() {
        let mut data = [0u8; DateTime::LEN];
        DateTime::new(2011, 3, 15, 15, 13)
            .unwrap()
            .emit(&mut data)
            .unwrap();
        let repr = Repr::request(0x01, FunctionCode::SET_DATE_TIME, &data);
        let mut buf = [0u8; 32];
        let n = repr.emit(&mut buf).unwrap();
        assert_eq!(n, repr.buffer_len());
        assert_eq!(hex(&buf[..n]), "FF 0D 01 00 01 01 07 0B 03 0F 0F 0D 4F");
        assert_eq!(buf[..n], SET_DATE_TIME_REQUEST);
    }

    #[test]
    fn emit_password_request() {
        let mut data = [0u8; 4];
        let n = Password::new(b"8888").unwrap().emit(&mut data).unwrap();
        let repr = Repr::request(0x01, FunctionCode::SET_PASSWORD, &data[..n]);
        let mut buf = [0u8; 12];
        assert_eq!(repr.emit(&mut buf).unwrap(), 12);
        assert_eq!(hex(&buf), "FF 0C 01 00 01 01 08 38 38 38 38 F6");
        assert_eq!(buf, SET_PASSWORD_REQUEST);
    }

    #[test]
    fn parse_date_time_request() {
        let (frame, used) = parse(&SET_DATE_TIME_REQUEST).unwrap();
        assert_eq!(used, 13);
        let repr = Repr::parse(&frame).unwrap();
        assert_eq!(
            repr,
            Repr::request(0x01, FunctionCode::SET_DATE_TIME, &[0x0B, 3, 15, 15, 13])
        );
        assert!(repr.reply_required());
        let when = DateTime::parse(repr.data).unwrap();
        assert_eq!(
            (
                when.year(),
                when.month(),
                when.day(),
                when.hour(),
                when.minute()
            ),
            (2011, 3, 15, 15, 13)
        );
    }

    #[test]
    fn reply_to_matches_capture() {
        let request = Repr::request(0x01, FunctionCode::SET_PASSWORD, b"8888");
        let reply = request.reply_to(&[]);
        let mut buf = [0u8; 8];
        reply.emit(&mut buf).unwrap();
        assert_eq!(hex(&buf), "FF 08 00 01 00 01 08 11");
        assert!(!reply.reply_required());
    }

    #[test]
    fn with_source_overrides_the_pc_address() {
        let repr = Repr::request(0x05, FunctionCode(0x42), &[]).with_source(0x09);
        let mut buf = [0u8; 8];
        repr.emit(&mut buf).unwrap();
        assert_eq!(&buf[..7], &[0xFF, 0x08, 0x05, 0x09, 0x01, 0x01, 0x42]);
        assert_eq!(
            format!("{repr}"),
            "0x09 > 0x05 unknown (0x42) reply ctrl 0x01 data[0]"
        );
    }

    #[test]
    fn emit_max_data() {
        let data = [0x5Au8; MAX_DATA_LEN];
        let repr = Repr::request(0x01, FunctionCode(0x30), &data);
        let mut buf = [0u8; 255];
        assert_eq!(repr.emit(&mut buf).unwrap(), 255);
        assert_eq!(buf[1], 0xFF);
        let (frame, _) = parse(&buf).unwrap();
        assert_eq!(Repr::parse(&frame).unwrap(), repr);
    }

    #[test]
    fn rejects_buffer_too_small() {
        let repr = Repr::request(0x01, FunctionCode::SET_PASSWORD, b"8888");
        let mut buf = [0xEEu8; 11];
        assert_eq!(
            repr.emit(&mut buf).unwrap_err(),
            Error::BufferTooSmall {
                needed: 12,
                available: 11
            }
        );
        assert_eq!(buf, [0xEE; 11], "nothing written on error");
    }

    #[test]
    fn rejects_data_too_long() {
        let data = [0u8; MAX_DATA_LEN + 1];
        let repr = Repr::request(0x01, FunctionCode(0x01), &data);
        let mut buf = [0u8; 300];
        assert_eq!(
            repr.emit(&mut buf).unwrap_err(),
            Error::DataTooLong {
                length: 248,
                max: 247
            }
        );
    }

    #[test]
    fn parse_rejects_bad_checksum() {
        let mut bytes = SET_PASSWORD_REQUEST;
        bytes[11] = 0;
        let frame = Frame::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Repr::parse(&frame).unwrap_err(),
            Error::ChecksumMismatch {
                expected: 0xF6,
                found: 0
            }
        );
    }
}
