//! Generates `contrib/wireshark/rewire.lua`, the Wireshark (4.0 and later)
//! Lua dissectors for the three rewire protocols, from the parser crates'
//! own tables, so the dissector cannot drift from the Rust decoders.
//!
//! What comes from the crates:
//!
//! - **WebSentry** (`rewire-websentry`): the magic, header layout
//!   ([`rewire_websentry::field`]), [`rewire_websentry::MAX_PAYLOAD_LEN`],
//!   the query marker and the set status "ok", the known function codes and
//!   their names, every value type with its body length
//!   ([`rewire_websentry::fixed_body_len`]) and its name (the `Value`
//!   variant), and the whole property registry: names, units, value types,
//!   typed-enum and property-enum labels.
//! - **Power-One** (`rewire-powerone`): the flag, the field offsets
//!   ([`rewire_powerone::field`]), the frame length bounds, the reply-flag
//!   and control constants, the named function codes and the date/time
//!   payload layout.
//! - **UPSilon / Megatec** (`rewire-upsilon`): the Q1 field names and order
//!   ([`rewire_upsilon::Field::name`]), the status-bit masks
//!   ([`rewire_upsilon::StatusBits`]), the command spellings (written by
//!   [`rewire_upsilon::Command::emit`]), the heartbeat spelling (written by
//!   [`rewire_upsilon::Heartbeat::emit`]), the `I` reply column widths and
//!   the record length bound.
//!
//! The Lua logic itself (framing, reassembly, expert info) is the template
//! `src/template.lua`; [`generate`] fills its table section.
//!
//! ```
//! let lua = rewire_dissector::generate();
//! assert!(lua.contains("humidity_percent"));
//! assert!(lua.starts_with("-- rewire.lua"));
//! ```
//!
//! # Guarantees
//! No `unsafe`, no panics: generation only formats constant tables.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod tables;

/// Where the generated file lives, relative to the workspace root.
pub const LUA_PATH: &str = "contrib/wireshark/rewire.lua";

/// The command that rewrites [`LUA_PATH`] (run from the workspace root).
pub const REGENERATE: &str = "cargo run -p rewire-dissector -- contrib/wireshark/rewire.lua";

/// The link-layer header type the serial pcaps use (`LINKTYPE_USER0`).
pub const LINKTYPE_USER0: u32 = 147;

/// Default TCP port of the WebSentry cloud service.
pub const WEBSENTRY_PORT: u16 = 1030;
/// Default TCP port of the UPSilon status stream (RupsMon).
pub const UPSILON_STATUS_PORT: u16 = 2570;
/// Default TCP port of UPSilon's SMS alert requests.
pub const UPSILON_SMS_PORT: u16 = 8652;
/// Default UDP port of UPSilon's heartbeats.
pub const UPSILON_HEARTBEAT_PORT: u16 = 11541;
/// Default TCP port for Power-One frames (a serial-to-TCP bridge).
pub const POWERONE_PORT: u16 = 4001;

const TEMPLATE: &str = include_str!("template.lua");
const MARKER: &str = "--@TABLES@--\n";

/// Returns the complete Lua dissector source.
#[must_use]
pub fn generate() -> String {
    let tables = tables::lua_tables();
    match TEMPLATE.split_once(MARKER) {
        Some((head, tail)) => {
            let mut out = String::with_capacity(TEMPLATE.len() + tables.len());
            out.push_str(head);
            out.push_str(&tables);
            out.push_str(tail);
            out
        }
        // The template is part of this crate; a test checks the marker.
        None => TEMPLATE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_has_the_marker_once() {
        assert_eq!(TEMPLATE.matches(MARKER).count(), 1);
        assert!(!generate().contains(MARKER));
    }

    #[test]
    fn registry_is_complete() {
        let lua = generate();
        for p in rewire_websentry::registry::PROPERTIES {
            assert!(lua.contains(&format!("[0x{:04x}]", p.id)), "{}", p.name);
        }
    }
}
