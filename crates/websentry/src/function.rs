//! Function codes.

use core::fmt;

/// A function code, the first payload byte: the same in a request and its
/// answer.
///
/// Any byte is a valid code, so a frame view never rejects one; the codes
/// seen in traffic are the associated constants ([`is_known`](Self::is_known)),
/// and those whose meaning is known have a [`name`](Self::name).
///
/// ```
/// use rewire_websentry::FunctionCode;
/// assert_eq!(FunctionCode::from(0x02), FunctionCode::QUERY);
/// assert_eq!(FunctionCode::QUERY.name(), Some("query"));
/// assert_eq!(FunctionCode::CODE_08.name(), None);
/// assert_eq!(FunctionCode(0x42).to_string(), "fn42");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionCode(pub u8);

impl FunctionCode {
    /// `0x00`: the unit's first frame after connecting (its body is id +
    /// typed-value items, one of them the MAC address).
    pub const INIT: Self = Self(0x00);
    /// `0x02`: the server asks for properties; the unit answers with values.
    pub const QUERY: Self = Self(0x02);
    /// `0x03`: the server sets properties; the unit answers each with a status.
    pub const SET: Self = Self(0x03);
    /// `0x08`: seen after the queries (the server asks, the unit answers);
    /// its meaning is not known, so it has no [`name`](Self::name).
    pub const CODE_08: Self = Self(0x08);

    /// Returns the function's name (`init`, `query`, `set`), or `None` for a
    /// code whose meaning is not known.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        match self {
            Self::INIT => Some("init"),
            Self::QUERY => Some("query"),
            Self::SET => Some("set"),
            _ => None,
        }
    }

    /// Returns whether the code is one of the associated constants: the
    /// codes seen in traffic, `0x08` included although its meaning is not
    /// known (so it has no [`name`](Self::name)).
    #[must_use]
    pub const fn is_known(self) -> bool {
        matches!(self, Self::INIT | Self::QUERY | Self::SET | Self::CODE_08)
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
    /// Writes the name, or `fnNN` (two hex digits) for a code without one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "fn{:02x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(FunctionCode(0x00).name(), Some("init"));
        assert_eq!(FunctionCode(0x02).name(), Some("query"));
        assert_eq!(FunctionCode(0x03).name(), Some("set"));
        assert_eq!(FunctionCode(0x08), FunctionCode::CODE_08);
        assert!(FunctionCode::CODE_08.is_known());
        assert!(!FunctionCode(0x05).is_known());
        assert_eq!(FunctionCode::CODE_08.to_string(), "fn08");
        assert_eq!(FunctionCode::INIT.to_string(), "init");
        assert_eq!(FunctionCode(0xab).to_string(), "fnab");
        assert_eq!(u8::from(FunctionCode::from(0x42)), 0x42);
    }

    #[test]
    fn only_the_codes_seen_are_known_and_only_the_understood_named() {
        let known: std::vec::Vec<u8> = (0..=u8::MAX)
            .filter(|&c| FunctionCode(c).is_known())
            .collect();
        assert_eq!(known, [0x00, 0x02, 0x03, 0x08]);
        let named: std::vec::Vec<u8> = (0..=u8::MAX)
            .filter(|&c| FunctionCode(c).name().is_some())
            .collect();
        assert_eq!(named, [0x00, 0x02, 0x03]);
    }
}
