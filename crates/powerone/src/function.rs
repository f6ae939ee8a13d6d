//! Function codes.

use core::fmt;

/// A function code (offset 6), the same in a request and its reply.
///
/// Any byte is a valid code; only the codes the evidence shows have names.
/// The article lists many more functions (its table 2) without printing
/// their codes, so they stay unnamed rather than guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionCode(pub u8);

impl FunctionCode {
    /// Set the PCU's date and time; request data is a [`DateTime`](crate::DateTime),
    /// the reply has no data.
    pub const SET_DATE_TIME: Self = Self(0x07);
    /// Set or change the PCU's password; request data is a
    /// [`Password`](crate::Password), the reply has no data.
    pub const SET_PASSWORD: Self = Self(0x08);

    /// Returns the function's name, or `None` for a code the evidence does
    /// not name.
    pub const fn name(self) -> Option<&'static str> {
        match self {
            Self::SET_DATE_TIME => Some("set date/time"),
            Self::SET_PASSWORD => Some("set password"),
            _ => None,
        }
    }

    /// Returns the function's name, or `"unknown"`.
    pub const fn name_or_unknown(self) -> &'static str {
        match self.name() {
            Some(name) => name,
            None => "unknown",
        }
    }

    /// Returns whether the evidence names this code.
    pub const fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl From<u8> for FunctionCode {
    fn from(code: u8) -> Self {
        Self(code)
    }
}

impl From<FunctionCode> for u8 {
    fn from(code: FunctionCode) -> Self {
        code.0
    }
}

impl fmt::Display for FunctionCode {
    /// Writes `name (0xNN)`, with `unknown` for unnamed codes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#04x})", self.name_or_unknown(), self.0)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    #[test]
    fn names() {
        assert_eq!(FunctionCode(0x07).name(), Some("set date/time"));
        assert_eq!(FunctionCode(0x08).name(), Some("set password"));
        assert_eq!(FunctionCode(0x09).name(), None);
        assert_eq!(FunctionCode(0x09).name_or_unknown(), "unknown");
        assert!(FunctionCode::SET_PASSWORD.is_known());
        assert_eq!(format!("{}", FunctionCode(0xAB)), "unknown (0xab)");
        assert_eq!(u8::from(FunctionCode::from(0x42)), 0x42);
    }

    #[test]
    fn only_the_evidenced_codes_are_named() {
        let named: std::vec::Vec<u8> = (0..=u8::MAX)
            .filter(|&c| FunctionCode(c).is_known())
            .collect();
        assert_eq!(named, [0x07, 0x08]);
    }
}
