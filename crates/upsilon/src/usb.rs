//! The USB "MEC0003" bridge (VID 0x0001, PID 0x0000): Megatec commands
//! become GET_DESCRIPTOR requests for string descriptors, and the string
//! that comes back is the reply.
//!
//! The mapping is the one NUT's `nutdrv_qx` "fabula" subdriver uses; see
//! `docs/protocols/upsilon.md` for the evidence.

use crate::command::Command;

/// USB vendor id of the MEC0003 bridge.
pub const VENDOR_ID: u16 = 0x0001;
/// USB product id of the MEC0003 bridge.
pub const PRODUCT_ID: u16 = 0x0000;

/// What the bridge answers (in place of a reply) when it takes a command
/// without data to return, whether the command worked or not.
pub const NO_ACK: &[u8] = b"UPS No Ack";

/// Returns the string-descriptor index that carries `cmd` over the MEC0003
/// bridge, or `None` when the bridge has no index for it.
///
/// For `None` commands (`D`, `T`, `TL`, `T<n>`, `CT`) NUT's driver sends
/// nothing and hands the command itself back as the reply, which a Megatec
/// monitor reads as "command refused" (see
/// [`Command::is_echoed_by`]).
///
/// Shutdowns encode the delay in the high nibble and "power comes back" in
/// bit 3: `.5` → `0x1_`, `.6` → `0x2_`, … `.9` → `0x5_`, `01` → `0x6_`, …
/// `10` → `0xF_`; delays below `.5` count as `.5`. The low nibble is `0x8`
/// when power returns (`S<n>` alone, or `R<m>` with `m` ≥ 1) and `0x0` for
/// `R0000` (stay off).
///
/// ```
/// use rewire_upsilon::{usb, Command, RestoreMinutes, ShutdownDelay};
/// assert_eq!(usb::string_index(&Command::Status), Some(0x03));
/// let stay_off = Command::Shutdown {
///     delay: ShutdownDelay::from_minutes(1)?,
///     restore: Some(RestoreMinutes::new(0)?),
/// };
/// assert_eq!(usb::string_index(&stay_off), Some(0x60));
/// assert_eq!(usb::string_index(&Command::TestUntilLow), None);
/// # Ok::<(), rewire_upsilon::Error>(())
/// ```
pub const fn string_index(cmd: &Command) -> Option<u8> {
    match *cmd {
        Command::Status => Some(0x03),
        Command::Ratings => Some(0x0D),
        Command::Info => Some(0x0C),
        Command::ToggleBeeper => Some(0x07),
        Command::CancelShutdown => Some(0x0A),
        Command::Shutdown { delay, restore } => {
            let tenths = delay.tenths();
            // NUT clamps the delay to .5 … 10 minutes, then counts steps of
            // 0x10: five sub-minute steps (.5 … .9), then whole minutes.
            let step = if tenths < 5 {
                1
            } else if tenths < 10 {
                1 + (tenths - 5)
            } else {
                6 + (tenths / 10 - 1)
            };
            let returns = match restore {
                None => true,
                Some(m) => m.get() != 0,
            };
            Some(step * 0x10 + if returns { 0x08 } else { 0x00 })
        }
        Command::StatusLegacy
        | Command::Test
        | Command::TestUntilLow
        | Command::TestFor(_)
        | Command::CancelTest => None,
    }
}

/// Reports whether a string read from the bridge is `UPS No Ack`: exactly
/// those ten characters, in any case, before the first CR (or NUL, where a C
/// string would end).
pub fn is_no_ack(reply: &[u8]) -> bool {
    let end = reply
        .iter()
        .position(|&b| b == b'\r' || b == 0)
        .unwrap_or(reply.len());
    reply
        .get(..end)
        .is_some_and(|text| text.eq_ignore_ascii_case(NO_ACK))
}

/// Turns a string read from the bridge into the Megatec reply it stands for:
/// `None` ("no answer") for `UPS No Ack`, the bytes unchanged otherwise.
///
/// ```
/// use rewire_upsilon::usb;
/// assert_eq!(usb::reply(b"UPS No Ack"), None);
/// assert_eq!(usb::reply(b"#220.0 000 024.0 50.0"), Some(&b"#220.0 000 024.0 50.0"[..]));
/// ```
pub fn reply(descriptor: &[u8]) -> Option<&[u8]> {
    if is_no_ack(descriptor) {
        None
    } else {
        Some(descriptor)
    }
}
