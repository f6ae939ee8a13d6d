//! The property registry: names, units and enum labels, as static tables.
//!
//! Everything here comes from the public reverse-engineering in
//! bradfitz/websentry-mitm-prometheus-exporter (`websentry-protocol.md` and
//! the tables and comments of `wmpe.go`), which observed one Seresco NE unit
//! (board 7.0, firmware 5.15.12). Names keep that project's spelling, typos
//! and `TODO_` prefixes included, so the two can be compared; a name it
//! marks as a guess ("I think") is still a guess here (see
//! `docs/protocols/websentry.md`).
//!
//! This module is the bottom layer: tables, and lookups by raw ids and
//! bytes. The value layer uses it, never the reverse; the label of a whole
//! [`Value`](crate::Value) is [`enum_label`](crate::enum_label).

/// What the registry knows about one property id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    /// The 16-bit property id.
    pub id: u16,
    /// The name the reverse-engineering gave it.
    pub name: &'static str,
    /// The unit, derived from the name's suffix (`_f` °F, `_percent` %,
    /// `_psi`, `_sec` s, `_min`/`_minutes` min, `_hours` h, `_months`,
    /// `_ms`). Temperatures follow the unit's `temp_unit` setting; the names
    /// (and so these units) assume Fahrenheit.
    pub unit: Option<&'static str>,
    /// The value type a query answer carried in the captures, when known.
    pub value_type: Option<u8>,
    /// For typed-enum (`0x09`) properties, the enum type seen in captures.
    pub enum_type: Option<u8>,
}

const fn p(
    id: u16,
    name: &'static str,
    unit: Option<&'static str>,
    value_type: Option<u8>,
    enum_type: Option<u8>,
) -> Property {
    Property {
        id,
        name,
        unit,
        value_type,
        enum_type,
    }
}

/// Every named property, sorted by id.
pub static PROPERTIES: &[Property] = ALL;

/// [`PROPERTIES`] as a constant, for the index built at compile time.
const ALL: &[Property] = &[
    p(0x0100, "version", None, Some(0x05), None),
    p(0x0101, "version_string", None, Some(0x07), None),
    p(0x0102, "board_version", None, Some(0x09), Some(0x1b)),
    p(0x0103, "serial_number", None, Some(0x12), None),
    p(0x0107, "date", None, Some(0x0a), None),
    p(0x0108, "time", None, Some(0x0b), None),
    p(0x010b, "time_zone", None, Some(0x09), Some(0x0b)),
    p(0x010e, "temp_unit", None, Some(0x09), Some(0x2d)),
    p(0x010f, "fire_alarm_reset", None, Some(0x09), Some(0x03)),
    p(0x0110, "serial_number_string", None, Some(0x07), None),
    p(0x0111, "system_mode", None, Some(0x02), None),
    p(0x0116, "software_variant", None, Some(0x03), None),
    p(0x011a, "set_reboot", None, None, None),
    p(
        0x0300,
        "start_network_device_sec",
        Some("s"),
        Some(0x08),
        None,
    ),
    p(0x0303, "reboot_device_min", Some("min"), Some(0x08), None),
    p(0x0304, "reboot_delay_sec", Some("s"), Some(0x08), None),
    p(
        0x030d,
        "set_purge_time_minutes",
        Some("min"),
        Some(0x08),
        None,
    ),
    p(0x0311, "set_event_time_hours", Some("h"), Some(0x08), None),
    p(
        0x0333,
        "websentry_connect_interval_sec",
        Some("s"),
        Some(0x08),
        None,
    ),
    p(0x0400, "dhcp_enabled", None, Some(0x09), Some(0x00)),
    p(0x0402, "ip_address", None, Some(0x0c), None),
    p(0x0403, "subnet_mask", None, Some(0x0c), None),
    p(0x0404, "gateway", None, Some(0x0c), None),
    p(0x0405, "dns_server", None, Some(0x0c), None),
    p(0x0600, "humidity_percent", Some("%"), Some(0x06), None),
    p(0x0601, "room_temp_f", Some("°F"), Some(0x06), None),
    p(0x0602, "supply_air_f", Some("°F"), Some(0x06), None),
    p(0x0603, "outside_air_f", Some("°F"), Some(0x06), None),
    p(0x0604, "pool_temp_f", Some("°F"), Some(0x06), None),
    p(0x0605, "pool_temp_out_f", Some("°F"), Some(0x06), None),
    p(0x0606, "high_pressure_psi", Some("psi"), Some(0x06), None),
    p(0x0607, "low_pressure_psi", Some("psi"), Some(0x06), None),
    p(0x0608, "evaporator_temp_f", Some("°F"), Some(0x06), None),
    p(0x0609, "suction_temp_f", Some("°F"), Some(0x06), None),
    p(0x060a, "superheat_temp_f", Some("°F"), Some(0x06), None),
    p(0x0610, "discharge_temp_f", Some("°F"), Some(0x06), None),
    p(0x0701, "blower_speed_percent", Some("%"), Some(0x08), None),
    p(0x0c03, "TODO_some_state", None, Some(0x02), None),
    p(
        0x0c04,
        "blower_normal_speed_percent",
        Some("%"),
        Some(0x08),
        None,
    ),
    p(
        0x0c05,
        "blower_secondary_speed_percent",
        Some("%"),
        Some(0x08),
        None,
    ),
    p(0x0e02, "supply_air_mode", None, Some(0x02), None),
    p(
        0x0e0c,
        "adv_control_status_internal_heat_on",
        None,
        Some(0x03),
        None,
    ),
    p(0x1000, "change_filter_date", None, Some(0x0a), None),
    p(
        0x1001,
        "change_filter_months",
        Some("months"),
        Some(0x08),
        None,
    ),
    p(
        0x1004,
        "exhaust_fan_stop_on_overload",
        None,
        Some(0x09),
        Some(0x00),
    ),
    p(0x100f, "ventilation_state", None, Some(0x02), None),
    p(
        0x1016,
        "exhaust_fan_unoccupied_percent",
        Some("%"),
        Some(0x08),
        None,
    ),
    p(
        0x1017,
        "exhaust_fan_occupied_percent",
        Some("%"),
        Some(0x08),
        None,
    ),
    p(0x1018, "fan1_capacity_percent", Some("%"), Some(0x08), None),
    p(0x101b, "spectator_fan_percent", Some("%"), Some(0x08), None),
    p(0x101c, "spectator_mode", None, None, None),
    p(0x1122, "sched1_days", None, Some(0x09), Some(0x08)),
    p(0x1123, "sched1_occupied_time_on", None, Some(0x0b), None),
    p(0x1124, "sched1_occupied_time_off", None, Some(0x0b), None),
    p(0x1142, "sched2_days", None, Some(0x09), Some(0x08)),
    p(0x1143, "sched2_occupied_time_on", None, Some(0x0b), None),
    p(0x1144, "sched2_occupied_time_off", None, Some(0x0b), None),
    p(0x1162, "sched3_days", None, Some(0x09), Some(0x08)),
    p(0x1163, "sched3_occupied_time_on", None, Some(0x0b), None),
    p(0x1164, "sched3_occupied_time_off", None, Some(0x0b), None),
    p(0x1182, "sched4_days", None, None, None),
    p(0x1183, "sched4_occupied_time_on", None, None, None),
    p(0x1184, "sched4_occupied_time_off", None, None, None),
    p(0x11a2, "sched5_days", None, None, None),
    p(0x11a3, "sched5_occupied_time_on", None, None, None),
    p(0x11a4, "sched5_occupied_time_off", None, None, None),
    p(0x11c2, "sched6_days", None, None, None),
    p(0x11c3, "sched6_occupied_time_on", None, None, None),
    p(0x11c4, "sched6_occupied_time_off", None, None, None),
    p(0x11e2, "sched7_days", None, None, None),
    p(0x11e3, "sched7_occupied_time_on", None, None, None),
    p(0x11e4, "sched7_occupied_time_off", None, None, None),
    p(
        0x1207,
        "set_high_pressure_psi",
        Some("psi"),
        Some(0x08),
        None,
    ),
    p(0x120d, "blower_state_string", None, Some(0x07), None),
    p(0x120e, "blower_state", None, Some(0x02), None),
    p(
        0x1214,
        "set_low_pressure_psi",
        Some("psi"),
        Some(0x08),
        None,
    ),
    p(0x1227, "TODO_state1227", None, Some(0x02), None),
    p(
        0x122c,
        "oacc_min_hp_change_psi",
        Some("psi"),
        Some(0x08),
        None,
    ),
    p(0x1336, "TODO_state1336", None, Some(0x02), None),
    p(0x1612, "pool_heating_state_maybe", None, Some(0x02), None),
    p(0x190a, "dehumidifer_state", None, Some(0x02), None),
    p(0x1a04, "room_temp_state", None, Some(0x02), None),
    p(
        0x1a18,
        "adv_control_status_internal_room_heat",
        None,
        Some(0x03),
        None,
    ),
    p(0x1b2b, "TODO_state1b2b", None, Some(0x02), None),
    p(0x2003, "resolved_websentry_ip", None, Some(0x0c), None),
    p(0x2201, "set_modbus_enabled", None, Some(0x09), None),
    p(0x2300, "lon_enabled", None, Some(0x09), Some(0x2c)),
    p(0x2303, "TODO_state2303", None, Some(0x02), None),
    p(0x2500, "set_room_temp_f", Some("°F"), Some(0x08), None),
    p(0x2501, "set_humidity_percent", Some("%"), Some(0x08), None),
    p(0x2502, "set_pool_temp_f", Some("°F"), Some(0x08), None),
    p(
        0x2503,
        "set_economizer_min_temp_f",
        Some("°F"),
        Some(0x08),
        None,
    ),
    p(0x2504, "set_freezestat_f", Some("°F"), Some(0x08), None),
    p(0x2505, "set_purge_shutoff_f", Some("°F"), Some(0x08), None),
    p(0x2506, "set_heat_recovery_f", Some("°F"), Some(0x08), None),
    p(0x2508, "set_supply_air_f", Some("°F"), Some(0x08), None),
    p(0x250c, "set_disable_ac_at_f", Some("°F"), Some(0x08), None),
    p(
        0x2512,
        "set_humidity_unoccupied_percent",
        Some("%"),
        None,
        None,
    ),
    p(0x2513, "set_room_temp_unoccupied_f", Some("°F"), None, None),
    p(
        0x2702,
        "blower_overload_iomap",
        None,
        Some(0x09),
        Some(0x26),
    ),
    p(0x3300, "port_b_enabled", None, None, None),
    p(0x3301, "port_b_baud", None, None, None),
    p(0x3303, "port_b_frame_delay_ms", Some("ms"), None, None),
    p(0x3400, "port_c_enabled", None, None, None),
    p(0x3401, "port_c_baud", None, None, None),
    p(0x3403, "port_c_frame_delay_ms", Some("ms"), None, None),
    p(0x3500, "port_d_enabled", None, None, None),
    p(0x3501, "port_d_baud", None, None, None),
    p(0x3503, "port_d_frame_delay_ms", Some("ms"), None, None),
];

/// One value → label entry of an enum table.
pub type Label = (u8, &'static str);

/// A shared enum used by typed-enum values (`0x09`), keyed by enum type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypedEnum {
    /// The enum-type byte.
    pub enum_type: u8,
    /// What the enum is about, when the reverse-engineering says.
    pub name: Option<&'static str>,
    /// The short name the original exporter shows a value without a label
    /// with (`2(t=DigOut)` there, `2 (DigOut)` here), where it has one.
    pub kind: Option<&'static str>,
    /// Known labels, sorted by value (may be empty when only the name is known).
    pub labels: &'static [Label],
}

const fn te(enum_type: u8, name: Option<&'static str>, labels: &'static [Label]) -> TypedEnum {
    TypedEnum {
        enum_type,
        name,
        kind: kind_of(enum_type),
        labels,
    }
}

/// The original exporter's short names of enum kinds (its fallback for a
/// typed-enum value without a label).
const fn kind_of(enum_type: u8) -> Option<&'static str> {
    match enum_type {
        0x0d => Some("SerialSpeed"),
        0x1c => Some("SensorType"),
        0x24 => Some("AnalogIn"),
        0x25 => Some("Jn-n"),
        0x26 => Some("DigIn"),
        0x27 => Some("DigOut"),
        _ => None,
    }
}

/// Labels of plain numbers (value types `0x01`, `0x03`) that the
/// reverse-engineering names, by property id and value: `(id, value, label)`,
/// sorted. A label ending in `?` is a guess in the source too.
pub static NUMBER_LABELS: &[(u16, u16, &str)] = &[
    // software_variant 17: "Only unit I have, so I'm guessing" (wmpe.go).
    (0x0116, 17, "NE Modbus/LON?"),
];

/// Returns the label of the plain number `value` of property `id`, if the
/// registry has one ([`NUMBER_LABELS`]).
///
/// ```
/// use rewire_websentry::registry::number_label;
/// assert_eq!(number_label(0x0116, 17), Some("NE Modbus/LON?"));
/// assert_eq!(number_label(0x0116, 18), None);
/// ```
#[must_use]
pub fn number_label(id: u16, value: u16) -> Option<&'static str> {
    NUMBER_LABELS
        .iter()
        .find(|(i, v, _)| *i == id && *v == value)
        .map(|(_, _, label)| *label)
}

/// Every known typed enum, sorted by enum type.
pub static TYPED_ENUMS: &[TypedEnum] = &[
    te(0x00, None, &[(0, "No"), (1, "Yes")]),
    te(0x01, None, &[(0, "Off"), (1, "On")]),
    te(0x02, None, &[(0, "Disabled"), (1, "Enabled")]),
    te(0x03, None, &[(0, "Auto"), (1, "Manual")]),
    te(0x06, None, &[(0, "0 Volt"), (1, "10 Volt")]),
    te(
        0x08,
        Some("day schedule"),
        &[
            (0, "None"),
            (1, "Daily"),
            (2, "Mon-Fri"),
            (3, "Sat-Sun"),
            (4, "Sun"),
            (5, "Mon"),
            (6, "Tue"),
            (7, "Wed"),
            (8, "Thu"),
            (9, "Fri"),
            (10, "Sat"),
        ],
    ),
    te(
        0x0b,
        Some("time zone"),
        &[
            (0, "GMT"),
            (1, "-03:30"),
            (2, "AST"),
            (3, "EST"),
            (4, "CST"),
            (5, "MST"),
            (6, "PST"),
            (7, "-09:00"),
            (8, "-10:00"),
        ],
    ),
    te(
        0x0d,
        Some("serial baud rate"),
        &[
            (0, "1200"),
            (1, "2400"),
            (2, "4800"),
            (3, "9600"),
            (4, "19200"),
            (5, "28800"),
            (6, "57600"),
            (7, "38400"),
            (8, "76800"),
            (9, "115200"),
        ],
    ),
    te(
        0x0e,
        Some("serial data bits"),
        &[(0, "8 bits"), (1, "7 bits")],
    ),
    te(
        0x0f,
        Some("serial parity bits"),
        &[(0, "None"), (1, "Even"), (2, "Odd"), (3, "2 Stop Bits")],
    ),
    te(
        0x10,
        None,
        &[
            (0, "None"),
            (1, "Control Board"),
            (2, "Slave Board"),
            (3, "LON"),
            (4, "Modbus"),
            (5, "Broadcast"),
        ],
    ),
    te(0x12, Some("refrigerant type"), &[(2, "R410A")]),
    te(
        0x13,
        Some("stages"),
        &[
            (0, "One Stage"),
            (1, "Two Stages"),
            (2, "Modulated"),
            (3, "Modulated/Staged"),
            (4, "Stage-Modulation"),
        ],
    ),
    te(
        0x14,
        None,
        &[(0, "Deg*Min"), (1, "PID"), (2, "Deg*Min Int")],
    ),
    te(0x19, None, &[(0, "Init"), (1, "Normal"), (2, "Service")]),
    te(
        0x1b,
        Some("board version"),
        &[
            (16, "7.0"),
            (17, "7.1"),
            (18, "7.2"),
            (19, "8.0"),
            (20, "8.1"),
            (21, "9.0"),
        ],
    ),
    te(0x1c, Some("sensor type"), &[]),
    te(
        0x21,
        None,
        &[(0, "Disabled"), (1, "All Year"), (2, "Summer Only")],
    ),
    te(
        0x23,
        None,
        &[
            (0, "None"),
            (1, "Default"),
            (2, "View Only"),
            (3, "Control Only"),
        ],
    ),
    te(0x24, Some("analog input"), &[]),
    te(
        0x25,
        Some("analog output ports"),
        &[(0, "None"), (9, "Modbus")],
    ),
    te(
        0x26,
        Some("digital input"),
        &[
            (0, "None"),
            (1, "DI01 (JCOM-9)"),
            (2, "DI02 (J3-1)"),
            (3, "DI03 (J3-2)"),
            (4, "DI04 (J3-3)"),
            (5, "DI05 (J3-4)"),
            (6, "DI06 (J3-5)"),
            (7, "DI07 (J3-6)"),
            (8, "DI08 (J3-7)"),
            (9, "DI09 (J7-1)"),
            (10, "DI10 (J7-2)"),
            (11, "DI11 (J7-3)"),
            (12, "DI12 (J7-4)"),
            (13, "DI13 (J7-5)"),
            (14, "DI14 (J7-6)"),
            (15, "DI15 (J7-7)"),
            (16, "DI16 (J8-3)"),
            (17, "DI17 (JDIN-1)"),
            (18, "DI18 (JDIN-2)"),
            (19, "DI19 (JDIN-3)"),
            (20, "DI20 (JDIN-4)"),
            (21, "DI21 (JDIN-5)"),
            (25, "BMS"),
        ],
    ),
    te(0x27, Some("digital output"), &[]),
    te(0x28, None, &[(0, "AirDir=0?"), (1, "AirDir=1?")]),
    te(
        0x29,
        None,
        &[
            (0, "None"),
            (1, "Compressor"),
            (2, "Auxiliary"),
            (3, "Compr & Aux"),
        ],
    ),
    te(0x2a, None, &[(0, "Pool 2"), (1, "Stage 2"), (2, "Bypass")]),
    te(
        0x2b,
        Some("port"),
        &[
            (0, "None"),
            (1, "Port 1/B"),
            (2, "Port 2/C"),
            (3, "Port 3/D"),
            (4, "Port 4"),
            (6, "None"),
        ],
    ),
    te(
        0x2c,
        None,
        &[(0, "Off"), (1, "Read/Write"), (2, "Read-Only")],
    ),
    te(
        0x2d,
        Some("temp unit"),
        &[(3, "Celsius"), (4, "Fahrenheit")],
    ),
    te(0x2e, None, &[(0, "Off"), (1, "On"), (2, "N/A")]),
    te(
        0x2f,
        None,
        &[
            (0, "Classic/Staged"),
            (1, "Protocol/Modulated"),
            (3, "None"),
        ],
    ),
    te(
        0x30,
        None,
        &[
            (0, "1 Stage"),
            (1, "2 Stages"),
            (2, "Modulated"),
            (3, "Low/High"),
        ],
    ),
    te(
        0x31,
        None,
        &[
            (0, "None"),
            (1, "Full"),
            (2, "Dehumidification"),
            (3, "A/C"),
        ],
    ),
    te(0x32, None, &[(0, "Open"), (1, "Closed")]),
    te(
        0x36,
        None,
        &[
            (0, "None"),
            (1, "1 Stage"),
            (2, "2 Stages"),
            (3, "Modulated"),
        ],
    ),
    te(
        0x37,
        None,
        &[
            (0, "None"),
            (1, "Circuit 1"),
            (2, "Circuit 2"),
            (3, "All Circuits"),
        ],
    ),
    te(
        0x38,
        None,
        &[(0, "1 Stage"), (1, "2 Stages"), (2, "Modulated")],
    ),
    te(
        0x3f,
        None,
        &[(0, "None"), (1, "Level 1"), (2, "Level 2"), (3, "Level 3")],
    ),
];

/// Labels of a property-specific enum (`0x02`), keyed by property id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyEnum {
    /// The property id.
    pub id: u16,
    /// Known labels, sorted by value.
    pub labels: &'static [Label],
}

const fn pe(id: u16, labels: &'static [Label]) -> PropertyEnum {
    PropertyEnum { id, labels }
}

/// Every known property-specific enum, sorted by property id.
pub static PROPERTY_ENUMS: &[PropertyEnum] = &[
    pe(
        0x0111,
        &[
            (0, "Startup"),
            (1, "Normal"),
            (2, "Service"),
            (3, "Shut Down"),
            (4, "Restart"),
            (5, "Off"),
            (6, "Night Time"),
            (7, "Day Time"),
            (8, "Event 1"),
            (9, "Event 2"),
        ],
    ),
    pe(
        0x0c03,
        &[
            (0, "Power Up"),
            (1, "Stopped"),
            (2, "Running"),
            (3, "Stopping"),
            (4, "Pending Start"),
            (5, "Stabilize"),
            (6, "Alarm"),
        ],
    ),
    pe(
        0x0e02,
        &[
            (0, "Disabled"),
            (1, "Idle"),
            (2, "Cool"),
            (3, "Heat"),
            (4, "Hold"),
            (5, "HoldCool"),
            (6, "HoldHeat"),
        ],
    ),
    pe(
        0x100f,
        &[
            (0, "Stopped"),
            (1, "Stabilize"),
            (2, "Day Time"),
            (3, "Night Time"),
            (4, "Stopping"),
            (5, "Shutting Down"),
            (6, "Pending Purge"),
            (7, "Purge"),
            (8, "Economizer"),
            (9, "Slave Mode"),
            (10, "Freezestat"),
            (11, "PendEcono"),
            (12, "Spectators"),
        ],
    ),
    pe(
        0x120e,
        &[
            (0, "Disabled"),
            (1, "No Ventilation"),
            (2, "Ready"),
            (3, "Starting up"),
            (4, "Stabilize"),
            (5, "Min Runtime"),
            (6, "Stable"),
            (7, "Stopping"),
            (9, "Min Stop Time"),
            (12, "Shutting Down"),
            (14, "External Off"),
            (15, "Pump Fault"),
        ],
    ),
    pe(
        0x1227,
        &[
            (0, "Disabled"),
            (1, "Idle"),
            (2, "Ready"),
            (3, "Starting Up"),
            (4, "Running"),
            (6, "Running"),
            (7, "Stopping"),
            (10, "Lockout"),
            (13, "Alarm Stop"),
        ],
    ),
    pe(
        0x1336,
        &[
            (0, "Disabled"),
            (1, "NoVent/Service"),
            (2, "Ready/Idle"),
            (3, "Starting/Open Valves"),
            (4, "Stabilize"),
            (5, "Min Runtime"),
            (6, "Stable"),
            (7, "Stopping/Alarm"),
            (8, "Pumpdown"),
            (9, "Min Stop Time"),
            (10, "Lockout/No Conn"),
            (11, "Forced On/Oil Recovery"),
            (12, "Shutting Down"),
            (13, "Alarm Stop"),
            (14, "External Off"),
            (15, "Pump Fault"),
            (16, "Recovery"),
        ],
    ),
    pe(0x1612, &[(0, "Off"), (1, "Heating")]),
    pe(
        0x190a,
        &[
            (0, "Disabled"),
            (1, "Idle"),
            (2, "Dehumidifying"),
            (3, "Pending"),
        ],
    ),
    pe(
        0x1a04,
        &[
            (0, "Disabled"),
            (1, "Idle"),
            (2, "Lower"),
            (3, "Higher"),
            (4, "Partial Cooling"),
            (5, "Partial Heating"),
            (6, "Econo Cooling"),
        ],
    ),
    pe(
        0x1b2b,
        &[
            (0, "Disabled"),
            (1, "Alarm/Waterflow Fault"),
            (2, "Idle"),
            (3, "Heating"),
            (4, "Heat Sink"),
            (5, "HP Relief"),
            (6, "Aux Heat/Disabled Ext"),
            (7, "No HP Relief"),
            (8, "No Heat Sink"),
        ],
    ),
    pe(
        0x2303,
        &[
            (0, "Disabled"),
            (1, "Connecting"),
            (2, "Port Fault"),
            (3, "Comm Error"),
            (4, "Connected"),
            (5, "Shutting Down"),
        ],
    ),
];

pub(crate) fn label_in(labels: &'static [Label], value: u8) -> Option<&'static str> {
    labels
        .binary_search_by_key(&value, |&(v, _)| v)
        .ok()
        .and_then(|i| labels.get(i))
        .map(|&(_, label)| label)
}

/// Looks up a property by id.
///
/// ```
/// let p = rewire_websentry::registry::property(0x0601).unwrap();
/// assert_eq!((p.name, p.unit), ("room_temp_f", Some("°F")));
/// ```
#[must_use]
pub fn property(id: u16) -> Option<&'static Property> {
    let [high, low] = id.to_be_bytes();
    let group = usize::from(*INDEX.page.get(usize::from(high))?);
    let &(base, len) = INDEX.groups.get(group.checked_sub(1)?)?;
    if u16::from(low) >= len {
        return None;
    }
    let slot = *INDEX.slots.get(usize::from(base) + usize::from(low))?;
    PROPERTIES.get(usize::from(slot).checked_sub(1)?)
}

/// How many distinct high bytes the ids have.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build, it cannot panic at run time"
)]
const GROUPS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < ALL.len() {
        if i == 0 || ALL[i].id >> 8 != ALL[i - 1].id >> 8 {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Slots of the second level: per high byte, one per low byte up to the
/// largest one present.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build, it cannot panic at run time"
)]
const SLOTS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < ALL.len() {
        let last_of_group = i + 1 == ALL.len() || ALL[i + 1].id >> 8 != ALL[i].id >> 8;
        if last_of_group {
            n += (ALL[i].id & 0xff) as usize + 1;
        }
        i += 1;
    }
    n
};

/// A two-level index of [`PROPERTIES`] by id, built at compile time, so
/// that [`property`] takes three array reads and no search (it ran for
/// every value decoded). About 1.1 KiB: 256 bytes of pages, 4 bytes per
/// high byte in use, one byte per low byte up to each page's largest.
struct Index {
    /// High byte → group number + 1 (0: no property has that high byte).
    page: [u8; 256],
    /// Per group: where its slots start, and how many low bytes it covers.
    groups: [(u16, u16); GROUPS],
    /// Low byte within a group → index in [`PROPERTIES`] + 1 (0: none).
    slots: [u8; SLOTS],
}

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build, it cannot panic at run time"
)]
static INDEX: Index = {
    assert!(
        ALL.len() < 255,
        "the index stores property indexes in a byte"
    );
    let mut index = Index {
        page: [0; 256],
        groups: [(0, 0); GROUPS],
        slots: [0; SLOTS],
    };
    let mut group = 0;
    let mut base = 0;
    let mut i = 0;
    while i < ALL.len() {
        let id = ALL[i].id;
        assert!(
            i == 0 || ALL[i - 1].id < id,
            "PROPERTIES must be sorted by id"
        );
        let high = (id >> 8) as usize;
        if index.page[high] == 0 {
            // A new group: it covers low bytes 0..=the largest of its ids.
            let mut last = i;
            while last + 1 < ALL.len() && ALL[last + 1].id >> 8 == id >> 8 {
                last += 1;
            }
            let len = (ALL[last].id & 0xff) as usize + 1;
            index.groups[group] = (base as u16, len as u16);
            group += 1;
            index.page[high] = group as u8;
            base += len;
        }
        let (start, _) = index.groups[index.page[high] as usize - 1];
        index.slots[start as usize + (id & 0xff) as usize] = i as u8 + 1;
        i += 1;
    }
    index
};

/// Looks up a property by name (a linear search over [`PROPERTIES`]).
#[must_use]
pub fn property_by_name(name: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == name)
}

/// Looks up a typed enum by its enum-type byte.
#[must_use]
pub fn typed_enum(enum_type: u8) -> Option<&'static TypedEnum> {
    TYPED_ENUMS
        .binary_search_by_key(&enum_type, |e| e.enum_type)
        .ok()
        .and_then(|i| TYPED_ENUMS.get(i))
}

/// Returns the label of `value` in typed enum `enum_type` (value type `0x09`).
///
/// ```
/// use rewire_websentry::registry::typed_enum_label;
/// assert_eq!(typed_enum_label(0x0b, 6), Some("PST"));
/// assert_eq!(typed_enum_label(0x0b, 99), None);
/// ```
#[must_use]
pub fn typed_enum_label(enum_type: u8, value: u8) -> Option<&'static str> {
    typed_enum(enum_type).and_then(|e| label_in(e.labels, value))
}

/// Returns the label of `value` in the property-specific enum (value type
/// `0x02`) of property `id`.
#[must_use]
pub fn property_enum_label(id: u16, value: u8) -> Option<&'static str> {
    PROPERTY_ENUMS
        .binary_search_by_key(&id, |e| e.id)
        .ok()
        .and_then(|i| PROPERTY_ENUMS.get(i))
        .and_then(|e| label_in(e.labels, value))
}
