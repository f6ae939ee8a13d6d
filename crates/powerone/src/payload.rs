//! Typed data fields of the known functions.

use core::fmt;

use crate::{DateTimeField, Error, MAX_DATA_LEN, Result};

fn write_into(buf: &mut [u8], bytes: &[u8]) -> Result<usize> {
    let available = buf.len();
    let out = buf.get_mut(..bytes.len()).ok_or(Error::BufferTooSmall {
        needed: bytes.len(),
        available,
    })?;
    out.copy_from_slice(bytes);
    Ok(bytes.len())
}

/// The data of a [`SET_DATE_TIME`](crate::FunctionCode::SET_DATE_TIME)
/// request: five binary bytes `YY MM DD hh mm`, the year counted from 2000.
///
/// Values are always valid: [`new`](Self::new) and [`parse`](Self::parse)
/// check every field, including the day against the month's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
}

const fn bad(field: DateTimeField, value: u16) -> Result<DateTime> {
    Err(Error::BadDateTime { field, value })
}

const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl DateTime {
    /// The payload's size in bytes.
    pub const LEN: usize = 5;
    /// The year a `YY` byte of 0 stands for.
    pub const BASE_YEAR: u16 = 2000;

    /// Builds a date/time from calendar values.
    ///
    /// # Errors
    /// [`Error::BadDateTime`] naming the first field out of range: year
    /// 2000..=2099, month 1..=12, day 1..=the month's length, hour 0..=23,
    /// minute 0..=59.
    pub const fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8) -> Result<Self> {
        if year < Self::BASE_YEAR || year > Self::BASE_YEAR + 99 {
            return bad(DateTimeField::Year, year);
        }
        if month < 1 || month > 12 {
            return bad(DateTimeField::Month, month as u16);
        }
        if day < 1 || day > days_in_month(year, month) {
            return bad(DateTimeField::Day, day as u16);
        }
        if hour > 23 {
            return bad(DateTimeField::Hour, hour as u16);
        }
        if minute > 59 {
            return bad(DateTimeField::Minute, minute as u16);
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
        })
    }

    /// Reads the five data bytes of a set date/time request.
    ///
    /// # Errors
    /// [`Error::BadDataLength`] when `data` is not 5 bytes;
    /// [`Error::BadDateTime`] as in [`new`](Self::new) (for the year, the
    /// raw `YY` byte is reported).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let [yy, month, day, hour, minute] = *data else {
            return Err(Error::BadDataLength {
                expected: Self::LEN,
                found: data.len(),
            });
        };
        if yy > 99 {
            return Err(Error::BadDateTime {
                field: DateTimeField::Year,
                value: u16::from(yy),
            });
        }
        Self::new(
            Self::BASE_YEAR.saturating_add(u16::from(yy)),
            month,
            day,
            hour,
            minute,
        )
    }

    /// Writes the five data bytes into `buf` and returns 5.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` holds fewer than 5 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let yy = u8::try_from(self.year.saturating_sub(Self::BASE_YEAR)).unwrap_or(u8::MAX);
        write_into(buf, &[yy, self.month, self.day, self.hour, self.minute])
    }

    /// Returns the full year (2000..=2099).
    pub const fn year(&self) -> u16 {
        self.year
    }

    /// Returns the month (1..=12).
    pub const fn month(&self) -> u8 {
        self.month
    }

    /// Returns the day of the month (1..=31).
    pub const fn day(&self) -> u8 {
        self.day
    }

    /// Returns the hour (0..=23).
    pub const fn hour(&self) -> u8 {
        self.hour
    }

    /// Returns the minute (0..=59).
    pub const fn minute(&self) -> u8 {
        self.minute
    }
}

impl fmt::Display for DateTime {
    /// Writes `YYYY-MM-DD hh:mm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// A PCU password: 1 to [`MAX_DATA_LEN`] ASCII digits, carried as is in the
/// data of [`SET_PASSWORD`](crate::FunctionCode::SET_PASSWORD) and
/// verify-password requests (8888 is `38 38 38 38`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Password<'a> {
    digits: &'a [u8],
}

impl<'a> Password<'a> {
    /// Checks `digits` and wraps them.
    ///
    /// # Errors
    /// [`Error::BadPasswordLength`] when empty or longer than 247 bytes;
    /// [`Error::BadPassword`] at the first byte that is not `'0'..='9'`.
    pub fn new(digits: &'a [u8]) -> Result<Self> {
        if digits.is_empty() || digits.len() > MAX_DATA_LEN {
            return Err(Error::BadPasswordLength {
                length: digits.len(),
            });
        }
        if let Some((offset, &byte)) = digits.iter().enumerate().find(|(_, b)| !b.is_ascii_digit())
        {
            return Err(Error::BadPassword { offset, byte });
        }
        Ok(Self { digits })
    }

    /// Reads a password from a request's data field; same as
    /// [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        Self::new(data)
    }

    /// Writes the digits into `buf` and returns how many were written.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` is shorter than the password.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        write_into(buf, self.digits)
    }

    /// Returns the digits as bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.digits
    }

    /// Returns the digits as text.
    pub fn as_str(&self) -> &'a str {
        core::str::from_utf8(self.digits).unwrap_or_default()
    }

    /// Returns the number of digits (1..=247).
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> usize {
        self.digits.len()
    }
}

impl fmt::Display for Password<'_> {
    /// Writes the digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data of the PCU's answer to a verify-password request: one byte,
/// 0x01 when the password was right, 0x00 when wrong. The article does not
/// give that function's code; callers supply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordCheck {
    /// 0x00: the password was wrong.
    Wrong,
    /// 0x01: the password was right.
    Right,
}

impl PasswordCheck {
    /// The payload's size in bytes.
    pub const LEN: usize = 1;

    /// Reads the one data byte.
    ///
    /// # Errors
    /// [`Error::BadDataLength`] when `data` is not one byte;
    /// [`Error::BadPasswordCheck`] when the byte is neither 0x00 nor 0x01.
    pub fn parse(data: &[u8]) -> Result<Self> {
        match *data {
            [0x00] => Ok(Self::Wrong),
            [0x01] => Ok(Self::Right),
            [value] => Err(Error::BadPasswordCheck { value }),
            _ => Err(Error::BadDataLength {
                expected: Self::LEN,
                found: data.len(),
            }),
        }
    }

    /// Writes the one data byte into `buf` and returns 1.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` is empty.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        write_into(buf, &[self.byte()])
    }

    /// Returns the wire byte: 0x01 for right, 0x00 for wrong.
    pub const fn byte(self) -> u8 {
        match self {
            Self::Wrong => 0x00,
            Self::Right => 0x01,
        }
    }

    /// Returns whether the password was right.
    pub const fn is_right(self) -> bool {
        matches!(self, Self::Right)
    }
}

impl fmt::Display for PasswordCheck {
    /// Writes `password right` or `password wrong`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wrong => "password wrong",
            Self::Right => "password right",
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    #[test]
    fn date_time_from_the_article() {
        // YY=11 MM=3 DD=15 hh=15 mm=13: 2011-03-15 15:13 (article §1.3.1)
        let data = [0x0B, 0x03, 0x0F, 0x0F, 0x0D];
        let when = DateTime::parse(&data).unwrap();
        assert_eq!(when, DateTime::new(2011, 3, 15, 15, 13).unwrap());
        assert_eq!(format!("{when}"), "2011-03-15 15:13");
        let mut out = [0u8; 5];
        assert_eq!(when.emit(&mut out).unwrap(), 5);
        assert_eq!(out, data);
    }

    #[test]
    fn date_time_edges() {
        assert!(DateTime::new(2000, 1, 1, 0, 0).is_ok());
        assert!(DateTime::new(2099, 12, 31, 23, 59).is_ok());
        assert!(DateTime::new(2024, 2, 29, 0, 0).is_ok());
        assert!(DateTime::new(2000, 2, 29, 0, 0).is_ok());
        assert_eq!(
            DateTime::new(2023, 2, 29, 0, 0).unwrap_err(),
            Error::BadDateTime {
                field: DateTimeField::Day,
                value: 29
            }
        );
        assert!(DateTime::new(2023, 4, 31, 0, 0).is_err());
        assert!(DateTime::new(2100, 1, 1, 0, 0).is_err());
        assert!(DateTime::new(1999, 1, 1, 0, 0).is_err());
    }

    #[test]
    fn rejects_bad_date_time() {
        let cases = [
            ([100, 1, 1, 0, 0], DateTimeField::Year, 100),
            ([11, 0, 1, 0, 0], DateTimeField::Month, 0),
            ([11, 13, 1, 0, 0], DateTimeField::Month, 13),
            ([11, 3, 0, 0, 0], DateTimeField::Day, 0),
            ([11, 3, 32, 0, 0], DateTimeField::Day, 32),
            ([11, 3, 15, 24, 0], DateTimeField::Hour, 24),
            ([11, 3, 15, 15, 60], DateTimeField::Minute, 60),
        ];
        for (data, field, value) in cases {
            assert_eq!(
                DateTime::parse(&data).unwrap_err(),
                Error::BadDateTime { field, value },
                "{data:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_data_length() {
        assert_eq!(
            DateTime::parse(&[11, 3, 15, 15]).unwrap_err(),
            Error::BadDataLength {
                expected: 5,
                found: 4
            }
        );
        assert_eq!(
            PasswordCheck::parse(&[]).unwrap_err(),
            Error::BadDataLength {
                expected: 1,
                found: 0
            }
        );
        assert_eq!(
            PasswordCheck::parse(&[1, 1]).unwrap_err(),
            Error::BadDataLength {
                expected: 1,
                found: 2
            }
        );
    }

    #[test]
    fn password_8888() {
        let password = Password::parse(&[0x38, 0x38, 0x38, 0x38]).unwrap();
        assert_eq!(password.as_str(), "8888");
        assert_eq!(password.len(), 4);
        let mut out = [0u8; 4];
        assert_eq!(password.emit(&mut out).unwrap(), 4);
        assert_eq!(out, *b"8888");
        assert!(Password::new(&[b'9'; MAX_DATA_LEN]).is_ok());
    }

    #[test]
    fn rejects_bad_password() {
        assert_eq!(
            Password::new(b"56a8").unwrap_err(),
            Error::BadPassword {
                offset: 2,
                byte: b'a'
            }
        );
    }

    #[test]
    fn rejects_bad_password_length() {
        assert_eq!(
            Password::new(b"").unwrap_err(),
            Error::BadPasswordLength { length: 0 }
        );
        assert_eq!(
            Password::new(&[b'1'; MAX_DATA_LEN + 1]).unwrap_err(),
            Error::BadPasswordLength { length: 248 }
        );
    }

    #[test]
    fn password_check() {
        // article §1.3.3: 5678 was answered 0x00, 8888 was answered 0x01
        assert_eq!(PasswordCheck::parse(&[0x00]).unwrap(), PasswordCheck::Wrong);
        assert_eq!(PasswordCheck::parse(&[0x01]).unwrap(), PasswordCheck::Right);
        let mut out = [0xAA; 1];
        assert_eq!(PasswordCheck::Right.emit(&mut out).unwrap(), 1);
        assert_eq!(out, [0x01]);
        assert!(PasswordCheck::Right.is_right());
        assert_eq!(format!("{}", PasswordCheck::Wrong), "password wrong");
    }

    #[test]
    fn rejects_bad_password_check() {
        assert_eq!(
            PasswordCheck::parse(&[0x02]).unwrap_err(),
            Error::BadPasswordCheck { value: 0x02 }
        );
    }

    #[test]
    fn payload_emit_rejects_buffer_too_small() {
        let when = DateTime::new(2011, 3, 15, 15, 13).unwrap();
        assert_eq!(
            when.emit(&mut [0u8; 4]).unwrap_err(),
            Error::BufferTooSmall {
                needed: 5,
                available: 4
            }
        );
        assert_eq!(
            Password::new(b"8888")
                .unwrap()
                .emit(&mut [0u8; 3])
                .unwrap_err(),
            Error::BufferTooSmall {
                needed: 4,
                available: 3
            }
        );
        assert_eq!(
            PasswordCheck::Wrong.emit(&mut []).unwrap_err(),
            Error::BufferTooSmall {
                needed: 1,
                available: 0
            }
        );
    }
}
