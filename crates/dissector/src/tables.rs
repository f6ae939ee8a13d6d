//! The generated part of the Lua file: the parser crates' tables as Lua.

use std::fmt::Write as _;

use rewire_powerone as powerone;
use rewire_upsilon as upsilon;
use rewire_websentry as websentry;

/// Writes `bytes` as a Lua string literal (ASCII kept, other bytes as
/// decimal escapes, which Lua 5.2 reads back byte for byte).
pub(crate) fn lua_str(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                // Three digits, so a following digit is not read as part of it.
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

fn opt_str(s: Option<&str>) -> String {
    s.map_or_else(|| "nil".to_owned(), |s| lua_str(s.as_bytes()))
}

fn opt_u8(v: Option<u8>) -> String {
    v.map_or_else(|| "nil".to_owned(), |v| format!("0x{v:02x}"))
}

/// Returns the leading identifier of a `Debug` rendering (`U8(0)` → `U8`).
fn variant_name(debug: &str) -> String {
    debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// Returns the Lua table section.
pub(crate) fn lua_tables() -> String {
    let mut out = String::new();
    websentry_tables(&mut out);
    powerone_tables(&mut out);
    upsilon_tables(&mut out);
    out
}

fn websentry_tables(out: &mut String) {
    use websentry::registry::{PROPERTIES, PROPERTY_ENUMS, TYPED_ENUMS};

    out.push_str("-- WebSentry, from rewire-websentry\n");
    out.push_str("local WS = {}\n");
    let _ = writeln!(out, "WS.magic = {}", lua_str(&websentry::MAGIC));
    let _ = writeln!(out, "WS.crc_offset = {}", websentry::field::CRC.start);
    let _ = writeln!(out, "WS.length_offset = {}", websentry::field::LENGTH.start);
    let _ = writeln!(out, "WS.function_offset = {}", websentry::field::PAYLOAD);
    let _ = writeln!(out, "WS.body_offset = {}", websentry::field::BODY);
    let _ = writeln!(out, "WS.header_len = {}", websentry::HEADER_LEN);
    let _ = writeln!(out, "WS.max_payload_len = {}", websentry::MAX_PAYLOAD_LEN);
    let _ = writeln!(out, "WS.query_marker = 0x{:02x}", websentry::QUERY_MARKER);
    let _ = writeln!(out, "WS.status_ok = 0x{:02x}", websentry::STATUS_OK);

    out.push_str("-- function code -> name (codes the crate knows)\nWS.functions = {\n");
    for code in 0..=u8::MAX {
        let function = websentry::FunctionCode::from(code);
        if function.is_known() {
            let _ = writeln!(
                out,
                "  [0x{code:02x}] = {},",
                lua_str(function.to_string().as_bytes())
            );
        }
    }
    out.push_str("}\n");

    out.push_str(
        "-- value type -> { name = Value variant, len = body length (nil: length byte first) }\n\
         WS.types = {\n",
    );
    for code in 0..=u8::MAX {
        // A zero body of the longest fixed size parses as any known type.
        let mut sample = [0u8; 8];
        sample[0] = code;
        let Ok((value, _)) = websentry::Value::parse(&sample) else {
            continue;
        };
        let name = variant_name(&format!("{value:?}"));
        let len =
            websentry::fixed_body_len(code).map_or_else(|| "nil".to_owned(), |len| len.to_string());
        let _ = writeln!(
            out,
            "  [0x{code:02x}] = {{ name = {}, len = {len} }},",
            lua_str(name.as_bytes())
        );
    }
    out.push_str("}\n");

    out.push_str(
        "-- property id -> { name, unit, value type seen, typed-enum type seen }\n\
         WS.properties = {\n",
    );
    for p in PROPERTIES {
        let _ = writeln!(
            out,
            "  [0x{:04x}] = {{ {}, {}, {}, {} }},",
            p.id,
            lua_str(p.name.as_bytes()),
            opt_str(p.unit),
            opt_u8(p.value_type),
            opt_u8(p.enum_type)
        );
    }
    out.push_str("}\n");

    out.push_str(
        "-- typed enums (value type 0x09): enum type -> { name, labels }\nWS.typed_enums = {\n",
    );
    for e in TYPED_ENUMS {
        let _ = write!(
            out,
            "  [0x{:02x}] = {{ name = {}, labels = {{",
            e.enum_type,
            opt_str(e.name)
        );
        for (value, label) in e.labels {
            let _ = write!(out, " [{value}] = {},", lua_str(label.as_bytes()));
        }
        out.push_str(" } },\n");
    }
    out.push_str("}\n");

    out.push_str(
        "-- property enums (value type 0x02): property id -> labels\nWS.property_enums = {\n",
    );
    for e in PROPERTY_ENUMS {
        let _ = write!(out, "  [0x{:04x}] = {{", e.id);
        for (value, label) in e.labels {
            let _ = write!(out, " [{value}] = {},", lua_str(label.as_bytes()));
        }
        out.push_str(" },\n");
    }
    out.push_str("}\n\n");
}

fn powerone_tables(out: &mut String) {
    use powerone::field;

    out.push_str("-- Power-One, from rewire-powerone\nlocal P1 = {}\n");
    let _ = writeln!(out, "P1.flag = 0x{:02x}", powerone::FLAG);
    let _ = writeln!(out, "P1.min_len = {}", powerone::MIN_FRAME_LEN);
    let _ = writeln!(out, "P1.max_len = {}", powerone::MAX_FRAME_LEN);
    let _ = writeln!(
        out,
        "P1.offsets = {{ flag = {}, length = {}, dst = {}, src = {}, reply = {}, control = {}, func = {}, data = {} }}",
        field::FLAG.start,
        field::LENGTH.start,
        field::DESTINATION.start,
        field::SOURCE.start,
        field::REPLY.start,
        field::CONTROL.start,
        field::FUNCTION.start,
        field::data(powerone::MIN_FRAME_LEN).start
    );
    // Trailer bytes after the data: the checksum field's distance from the end.
    let trailer = powerone::MIN_FRAME_LEN - field::checksum(powerone::MIN_FRAME_LEN).start;
    let _ = writeln!(out, "P1.trailer_len = {trailer}");
    let _ = writeln!(
        out,
        "P1.reply_required = 0x{:02x}",
        powerone::REPLY_REQUIRED
    );
    let _ = writeln!(out, "P1.no_reply = 0x{:02x}", powerone::NO_REPLY);
    let _ = writeln!(out, "P1.control = 0x{:02x}", powerone::CONTROL);
    let _ = writeln!(out, "P1.pc_address = 0x{:02x}", powerone::PC_ADDRESS);
    out.push_str("P1.functions = {\n");
    for code in 0..=u8::MAX {
        if let Some(name) = powerone::FunctionCode(code).name() {
            let _ = writeln!(out, "  [0x{code:02x}] = {},", lua_str(name.as_bytes()));
        }
    }
    out.push_str("}\n");
    let _ = writeln!(
        out,
        "P1.set_date_time = 0x{:02x}",
        powerone::FunctionCode::SET_DATE_TIME.0
    );
    let _ = writeln!(
        out,
        "P1.set_password = 0x{:02x}",
        powerone::FunctionCode::SET_PASSWORD.0
    );
    let _ = writeln!(out, "P1.date_time_len = {}", powerone::DateTime::LEN);
    let _ = writeln!(out, "P1.base_year = {}", powerone::DateTime::BASE_YEAR);
    out.push('\n');
}

/// The Q1 fields in line order, with the record name of each (the
/// `decode --json` key; the parser names them only in prose).
const Q1_FIELDS: [(upsilon::Field, &str); 7] = [
    (upsilon::Field::InputVoltage, "input_voltage"),
    (upsilon::Field::InputFaultVoltage, "input_fault_voltage"),
    (upsilon::Field::OutputVoltage, "output_voltage"),
    (upsilon::Field::Load, "load_percent"),
    (upsilon::Field::InputFrequency, "input_frequency"),
    (upsilon::Field::BatteryVoltage, "battery_voltage"),
    (upsilon::Field::Temperature, "temperature"),
];

/// The status bits, mask from the parser, record name and label.
const Q1_BITS: [(u8, &str, &str); 8] = [
    (
        upsilon::StatusBits::UTILITY_FAIL,
        "utility_fail",
        "Utility fail",
    ),
    (
        upsilon::StatusBits::BATTERY_LOW,
        "battery_low",
        "Battery low",
    ),
    (
        upsilon::StatusBits::BYPASS_BOOST_BUCK,
        "bypass_active",
        "Bypass/boost/buck active",
    ),
    (upsilon::StatusBits::UPS_FAILED, "ups_failed", "UPS failed"),
    (
        upsilon::StatusBits::STANDBY,
        "standby",
        "Standby UPS (0: on-line)",
    ),
    (
        upsilon::StatusBits::TEST_IN_PROGRESS,
        "test_in_progress",
        "Test in progress",
    ),
    (
        upsilon::StatusBits::SHUTDOWN_ACTIVE,
        "shutdown_active",
        "Shutdown active",
    ),
    (upsilon::StatusBits::BEEPER_ON, "beeper_on", "Beeper on"),
];

/// The SMS alert query keys (private constants in `rewire-upsilon`).
const SMS_KEYS: [(&str, &str); 3] = [
    ("recipient", "$sms_recptmobile="),
    ("content", "&$sms_content="),
    ("code", "&$sms_code="),
];

fn emit_command(command: &upsilon::Command) -> String {
    let mut buf = [0u8; upsilon::MAX_COMMAND_LEN];
    let n = command.emit(&mut buf).unwrap_or(0);
    let wire = buf.get(..n).unwrap_or_default();
    // Without the CR terminator.
    String::from_utf8_lossy(wire.strip_suffix(b"\r").unwrap_or(wire)).into_owned()
}

fn emit_heartbeat(heartbeat: upsilon::Heartbeat) -> Vec<u8> {
    let mut buf = [0u8; upsilon::MAX_LINE_LEN];
    let n = heartbeat.emit(&mut buf).unwrap_or(0);
    buf.get(..n).unwrap_or_default().to_vec()
}

fn upsilon_tables(out: &mut String) {
    use upsilon::Command;

    out.push_str("-- UPSilon 2000 / Megatec, from rewire-upsilon\nlocal UPS = {}\n");
    out.push_str("-- Q1 numeric fields in line order: { record name, label }\nUPS.q1_fields = {\n");
    for (field, key) in Q1_FIELDS {
        let mut label = field.name().to_owned();
        if let Some(first) = label.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let _ = writeln!(
            out,
            "  {{ {}, {} }},",
            lua_str(key.as_bytes()),
            lua_str(label.as_bytes())
        );
    }
    out.push_str("}\n");
    out.push_str("-- status bits, b7 first: { mask, record name, label }\nUPS.q1_bits = {\n");
    for (mask, key, label) in Q1_BITS {
        let _ = writeln!(
            out,
            "  {{ 0x{mask:02x}, {}, {} }},",
            lua_str(key.as_bytes()),
            lua_str(label.as_bytes())
        );
    }
    out.push_str("}\n");
    let _ = writeln!(out, "UPS.status_line_len = {}", upsilon::STATUS_LINE_LEN);
    let _ = writeln!(
        out,
        "UPS.max_record_len = {}",
        upsilon::DEFAULT_MAX_RECORD_LEN
    );

    out.push_str("-- commands without argument: wire spelling -> name\nUPS.commands = {\n");
    let fixed = [
        Command::Status,
        Command::StatusLegacy,
        Command::Test,
        Command::TestUntilLow,
        Command::ToggleBeeper,
        Command::CancelShutdown,
        Command::CancelTest,
        Command::Ratings,
        Command::Info,
    ];
    for command in &fixed {
        let _ = writeln!(
            out,
            "  [{}] = {},",
            lua_str(emit_command(command).as_bytes()),
            lua_str(variant_name(&format!("{command:?}")).as_bytes())
        );
    }
    out.push_str("}\n");
    if let Ok(minutes) = upsilon::TestMinutes::new(upsilon::TestMinutes::MIN) {
        let command = Command::TestFor(minutes);
        let _ = writeln!(
            out,
            "UPS.command_test_for = {}",
            lua_str(variant_name(&format!("{command:?}")).as_bytes())
        );
    }
    if let Ok(delay) = upsilon::ShutdownDelay::from_minutes(1) {
        let command = Command::Shutdown {
            delay,
            restore: None,
        };
        let _ = writeln!(
            out,
            "UPS.command_shutdown = {}",
            lua_str(variant_name(&format!("{command:?}")).as_bytes())
        );
    }
    let _ = writeln!(
        out,
        "UPS.test_minutes = {{ {}, {} }}",
        upsilon::TestMinutes::MIN,
        upsilon::TestMinutes::MAX
    );
    let _ = writeln!(
        out,
        "UPS.restore_minutes_max = {}",
        upsilon::RestoreMinutes::MAX
    );

    let connected = emit_heartbeat(upsilon::Heartbeat::Connected { ups: 0 });
    let disconnected = emit_heartbeat(upsilon::Heartbeat::Disconnected);
    let prefix_len = connected
        .iter()
        .zip(&disconnected)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix_len = connected
        .iter()
        .rev()
        .zip(disconnected.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let middle = |bytes: &[u8]| {
        bytes
            .get(prefix_len..bytes.len().saturating_sub(suffix_len))
            .unwrap_or_default()
            .to_vec()
    };
    let _ = writeln!(out, "UPS.heartbeat_len = {}", upsilon::HEARTBEAT_LEN);
    let _ = writeln!(
        out,
        "UPS.heartbeat_prefix = {}",
        lua_str(connected.get(..prefix_len).unwrap_or_default())
    );
    let _ = writeln!(
        out,
        "UPS.heartbeat_suffix = {}",
        lua_str(
            connected
                .get(connected.len().saturating_sub(suffix_len)..)
                .unwrap_or_default()
        )
    );
    let _ = writeln!(
        out,
        "UPS.heartbeat_disconnected = {}",
        lua_str(&middle(&disconnected))
    );
    let _ = writeln!(out, "UPS.max_ups_number = {}", upsilon::MAX_UPS_NUMBER);
    let _ = writeln!(
        out,
        "UPS.info_columns = {{ company = {}, model = {}, version = {} }}",
        upsilon::COMPANY_LEN,
        upsilon::MODEL_LEN,
        upsilon::VERSION_LEN
    );
    out.push_str("UPS.sms_keys = {");
    for (name, key) in SMS_KEYS {
        let _ = write!(out, " {name} = {},", lua_str(key.as_bytes()));
    }
    out.push_str(" }\n");
    let _ = writeln!(
        out,
        "UPS.sms_max_request_len = {}",
        upsilon::sms::MAX_REQUEST_LEN
    );
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_escape_bytes() {
        assert_eq!(lua_str(b"a\"\\"), "\"a\\\"\\\\\"");
        assert_eq!(lua_str("°F".as_bytes()), "\"\\194\\176F\"");
        assert_eq!(lua_str(&[0x70, 0x83, 0x9e]), "\"p\\131\\158\"");
    }

    #[test]
    fn heartbeat_spelling_is_derived() {
        let t = lua_tables();
        assert!(t.contains("UPS.heartbeat_prefix = \"ups\""), "{t}");
        assert!(t.contains("UPS.heartbeat_suffix = \"cnt001\""), "{t}");
        assert!(t.contains("UPS.heartbeat_disconnected = \"dis\""), "{t}");
    }

    #[test]
    fn commands_and_types_are_named() {
        let t = lua_tables();
        assert!(t.contains("[\"Q1\"] = \"Status\""), "{t}");
        assert!(t.contains("[0x06] = { name = \"Tenths\", len = 2 }"), "{t}");
        assert!(t.contains("[0x07] = { name = \"Str\", len = nil }"), "{t}");
    }
}
