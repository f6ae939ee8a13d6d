//! Home Assistant MQTT discovery built from readings: which entity a
//! reading becomes (`sensor` or `binary_sensor`), its `device_class`,
//! `state_class` and `unit_of_measurement`, and the retained config
//! payload.
//!
//! The classes and unit pairs follow Home Assistant's sensor and binary
//! sensor documentation (<https://www.home-assistant.io/integrations/sensor/>,
//! <https://www.home-assistant.io/integrations/binary_sensor/>) and the MQTT
//! discovery payload its MQTT integration reads
//! (<https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery>).

use rewire_host::reading::{Kind, Reading, Unit, Value};
use serde_json::{Map, Value as Json, json};

/// The label whose value is the text of an enumerated state (the WebSentry
/// enums carry their raw number as the value and their text in `label`):
/// the state topic carries the text and the key omits the label.
pub const TEXT_LABEL: &str = "label";

/// Home Assistant's entity platform for an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// A `sensor`: a number or a text.
    Sensor,
    /// A `binary_sensor`: on or off.
    BinarySensor,
}

impl Component {
    /// Returns the platform name used in the discovery topic.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sensor => "sensor",
            Self::BinarySensor => "binary_sensor",
        }
    }
}

/// How one key of the state topic is shown in Home Assistant.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// The key in the state object (`input_voltage`, `status_bit_battery_low`).
    pub key: String,
    /// A readable name (`Input voltage`).
    pub name: String,
    /// Sensor or binary sensor.
    pub component: Component,
    /// Home Assistant's device class, if one fits.
    pub device_class: Option<&'static str>,
    /// `measurement` or `total_increasing` for numbers.
    pub state_class: Option<&'static str>,
    /// The unit Home Assistant shows, if any.
    pub unit: Option<&'static str>,
    /// Whether the binary sensor is on when the key is `false` (utility
    /// power present = the `utility_fail` bit clear).
    pub inverted: bool,
    /// `diagnostic` for rewire's own entities (link, drop count).
    pub diagnostic: bool,
}

/// Returns the state-topic key of `reading`: its name, then the value of
/// each label except [`TEXT_LABEL`], joined by `_` and made topic- and
/// template-safe (`[a-z0-9_]`).
#[must_use]
pub fn key_of(reading: &Reading) -> String {
    let mut key = String::from(reading.name.as_ref());
    for (name, value) in &reading.labels {
        if *name != TEXT_LABEL {
            key.push('_');
            key.push_str(value);
        }
    }
    slug(&key)
}

/// Returns `text` lower-cased with every character outside `[a-z0-9_-]`
/// replaced by `_` (MQTT topic levels, unique ids and Jinja keys).
#[must_use]
pub fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Returns the JSON value `reading` has in the state object: a number, a
/// flag, a text (an enum's text for states labelled [`TEXT_LABEL`]), or
/// `null` when the device reports it unset.
#[must_use]
pub fn json_value(reading: &Reading) -> Json {
    if reading.kind == Kind::State
        && let Some(text) = reading.label(TEXT_LABEL)
    {
        return Json::from(text);
    }
    match &reading.value {
        Value::Number(v) => serde_json::Number::from_f64(*v).map_or(Json::Null, Json::Number),
        Value::Bool(b) => Json::Bool(*b),
        Value::Text(t) => Json::from(t.as_ref()),
        Value::Unset => Json::Null,
    }
}

/// Turns a `snake_case` key into a readable name (`input_voltage` →
/// `Input voltage`).
#[must_use]
pub fn readable(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for (i, word) in key.split('_').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Returns the entity a reading becomes.
#[must_use]
pub fn entity_of(reading: &Reading) -> Entity {
    let key = key_of(reading);
    let mut entity = Entity {
        name: readable(&key),
        key,
        component: Component::Sensor,
        device_class: None,
        state_class: None,
        unit: None,
        inverted: false,
        diagnostic: false,
    };
    let textual = reading.kind == Kind::State && reading.label(TEXT_LABEL).is_some()
        || matches!(reading.value, Value::Text(_));
    if textual {
        return entity;
    }
    if matches!(reading.value, Value::Bool(_)) {
        entity.component = Component::BinarySensor;
        let bit = reading.label("bit").unwrap_or(reading.name.as_ref());
        match bit {
            // Home Assistant's `power` class is on when power is present.
            "utility_fail" | "on_battery" => {
                entity.device_class = Some("power");
                entity.inverted = true;
                entity.name = "Utility power".to_owned();
            }
            "battery_low" | "low_battery" => entity.device_class = Some("battery"),
            "ups_failed" | "fault" => entity.device_class = Some("problem"),
            "link" | "link_up" | "heartbeat_connected" | "connected" => {
                entity.device_class = Some("connectivity");
            }
            _ => {}
        }
        return entity;
    }
    if reading.kind == Kind::Counter {
        entity.state_class = Some("total_increasing");
        return entity;
    }
    entity.state_class = Some("measurement");
    let name = reading.name.as_ref();
    let (class, unit) = match reading.unit {
        Unit::Volt => (Some("voltage"), Some("V")),
        Unit::Ampere => (Some("current"), Some("A")),
        Unit::Hertz => (Some("frequency"), Some("Hz")),
        Unit::Celsius => (Some("temperature"), Some("°C")),
        Unit::Fahrenheit => (Some("temperature"), Some("°F")),
        Unit::Second => (Some("duration"), Some("s")),
        Unit::Watt => (Some("power"), Some("W")),
        Unit::Byte => (Some("data_size"), Some("B")),
        Unit::Percent if name.contains("humid") => (Some("humidity"), Some("%")),
        Unit::Percent if name.contains("battery") || name.contains("charge") => {
            (Some("battery"), Some("%"))
        }
        Unit::Percent => (None, Some("%")),
        _ if name.ends_with("_psi") || name.contains("pressure") => (Some("pressure"), Some("psi")),
        _ => (None, None),
    };
    entity.device_class = class;
    entity.unit = unit;
    entity
}

/// The units Home Assistant accepts for each sensor device class used here
/// (from its sensor documentation), for checking configs.
#[must_use]
pub fn allowed_units(device_class: &str) -> &'static [&'static str] {
    match device_class {
        "voltage" => &["V", "mV", "µV", "kV", "MV"],
        "current" => &["A", "mA"],
        "frequency" => &["Hz", "kHz", "MHz", "GHz"],
        "temperature" => &["°C", "°F", "K"],
        "duration" => &["d", "h", "min", "s", "ms", "µs"],
        "power" => &["W", "kW", "MW", "GW", "TW", "mW"],
        "data_size" => &["B", "kB", "MB", "GB", "KiB", "MiB", "GiB"],
        "humidity" | "battery" => &["%"],
        "pressure" => &[
            "Pa", "kPa", "hPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi",
        ],
        _ => &[],
    }
}

/// Where the entities of one device publish, for building their configs.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// The device id in topics (`upsilon-ups`).
    pub id: String,
    /// Readable name (`UPSilon ups`).
    pub name: String,
    /// Maker.
    pub manufacturer: String,
    /// Model, as the device reports it or its kind.
    pub model: String,
    /// Firmware version, when the device reports one.
    pub sw_version: Option<String>,
    /// The state topic.
    pub state_topic: String,
    /// The availability topics every entity follows (all must say `online`).
    pub availability: Vec<String>,
}

/// Returns the retained discovery topic of `entity` of `device`:
/// `PREFIX/COMPONENT/DEVICE/KEY/config`.
#[must_use]
pub fn config_topic(prefix: &str, device: &DeviceInfo, entity: &Entity) -> String {
    format!(
        "{prefix}/{}/{}/{}/config",
        entity.component.as_str(),
        device.id,
        entity.key
    )
}

/// Returns the discovery config payload of `entity` of `device`.
#[must_use]
pub fn config_payload(device: &DeviceInfo, entity: &Entity) -> Json {
    let key = &entity.key;
    let mut c = Map::new();
    c.insert("name".into(), json!(entity.name));
    c.insert(
        "unique_id".into(),
        json!(format!("rewire_{}_{key}", slug(&device.id))),
    );
    c.insert(
        "object_id".into(),
        json!(format!("{}_{key}", slug(&device.id))),
    );
    c.insert("state_topic".into(), json!(device.state_topic));
    let template = match (entity.component, entity.inverted) {
        (Component::BinarySensor, false) => {
            format!("{{{{ 'ON' if value_json.{key} else 'OFF' }}}}")
        }
        (Component::BinarySensor, true) => {
            format!("{{{{ 'OFF' if value_json.{key} else 'ON' }}}}")
        }
        (Component::Sensor, _) => format!("{{{{ value_json.{key} }}}}"),
    };
    c.insert("value_template".into(), json!(template));
    if entity.component == Component::BinarySensor {
        c.insert("payload_on".into(), json!("ON"));
        c.insert("payload_off".into(), json!("OFF"));
    }
    if let Some(class) = entity.device_class {
        c.insert("device_class".into(), json!(class));
    }
    if let Some(class) = entity.state_class {
        c.insert("state_class".into(), json!(class));
    }
    if let Some(unit) = entity.unit {
        c.insert("unit_of_measurement".into(), json!(unit));
    }
    if entity.diagnostic {
        c.insert("entity_category".into(), json!("diagnostic"));
    }
    let availability: Vec<Json> = device
        .availability
        .iter()
        .map(|t| json!({ "topic": t, "payload_available": "online", "payload_not_available": "offline" }))
        .collect();
    c.insert("availability".into(), Json::Array(availability));
    c.insert("availability_mode".into(), json!("all"));
    let mut dev = Map::new();
    dev.insert(
        "identifiers".into(),
        json!([format!("rewire_{}", slug(&device.id))]),
    );
    dev.insert("name".into(), json!(device.name));
    dev.insert("manufacturer".into(), json!(device.manufacturer));
    dev.insert("model".into(), json!(device.model));
    if let Some(v) = &device.sw_version {
        dev.insert("sw_version".into(), json!(v));
    }
    c.insert("device".into(), Json::Object(dev));
    c.insert(
        "origin".into(),
        json!({ "name": "rewire", "sw_version": env!("CARGO_PKG_VERSION") }),
    );
    Json::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn gauge(name: &'static str, unit: Unit) -> Reading {
        Reading::gauge(name, "h", Value::Number(1.0), unit, UNIX_EPOCH)
    }

    #[test]
    fn units_map_to_classes_home_assistant_accepts() {
        let cases = [
            (
                gauge("input_voltage", Unit::Volt),
                Some("voltage"),
                Some("V"),
            ),
            (
                gauge("input_frequency", Unit::Hertz),
                Some("frequency"),
                Some("Hz"),
            ),
            (
                gauge("temperature", Unit::Celsius),
                Some("temperature"),
                Some("°C"),
            ),
            (
                gauge("humidity", Unit::Percent),
                Some("humidity"),
                Some("%"),
            ),
            (
                gauge("battery_charge", Unit::Percent),
                Some("battery"),
                Some("%"),
            ),
            (gauge("load", Unit::Percent), None, Some("%")),
            (gauge("run_time", Unit::Second), Some("duration"), Some("s")),
            (
                gauge("suction_psi", Unit::None),
                Some("pressure"),
                Some("psi"),
            ),
        ];
        for (reading, class, unit) in cases {
            let e = entity_of(&reading);
            assert_eq!((e.device_class, e.unit), (class, unit), "{}", reading.name);
            assert_eq!(e.state_class, Some("measurement"));
            if let (Some(c), Some(u)) = (class, unit) {
                assert!(allowed_units(c).contains(&u), "{c} {u}");
            }
        }
    }

    #[test]
    fn status_bits_become_binary_sensors_with_their_classes() {
        let bit = |b: &'static str| {
            Reading::state("status_bit", "h", Value::Bool(true), UNIX_EPOCH).with_label("bit", b)
        };
        let e = entity_of(&bit("utility_fail"));
        assert_eq!(e.key, "status_bit_utility_fail");
        assert_eq!(e.component, Component::BinarySensor);
        assert_eq!(e.device_class, Some("power"));
        assert!(e.inverted);
        assert_eq!(entity_of(&bit("battery_low")).device_class, Some("battery"));
        assert_eq!(entity_of(&bit("ups_failed")).device_class, Some("problem"));
        assert_eq!(entity_of(&bit("beeper_on")).device_class, None);
    }

    #[test]
    fn enums_are_text_sensors_keyed_without_their_text() {
        let r = Reading::state("mode", "h", Value::Number(2.0), UNIX_EPOCH)
            .with_label(TEXT_LABEL, "Dehumidify");
        assert_eq!(key_of(&r), "mode");
        assert_eq!(json_value(&r), json!("Dehumidify"));
        let e = entity_of(&r);
        assert_eq!(
            (e.component, e.device_class, e.state_class),
            (Component::Sensor, None, None)
        );
    }

    #[test]
    fn unset_is_null_and_names_are_readable() {
        let r = Reading::gauge("input_voltage", "h", Value::Unset, Unit::Volt, UNIX_EPOCH);
        assert_eq!(json_value(&r), Json::Null);
        assert_eq!(readable("input_fault_voltage"), "Input fault voltage");
        assert_eq!(slug("127.0.0.1:Ab"), "127_0_0_1_ab");
    }

    #[test]
    fn config_payload_has_the_fields_home_assistant_needs() {
        let device = DeviceInfo {
            id: "upsilon-ups".into(),
            name: "UPS".into(),
            manufacturer: "Megatec".into(),
            model: "UPS".into(),
            sw_version: None,
            state_topic: "rewire/upsilon-ups/state".into(),
            availability: vec!["rewire/upsilon-ups/availability".into()],
        };
        let e = entity_of(&gauge("input_voltage", Unit::Volt));
        assert_eq!(
            config_topic("homeassistant", &device, &e),
            "homeassistant/sensor/upsilon-ups/input_voltage/config"
        );
        let c = config_payload(&device, &e);
        assert_eq!(c["unique_id"], "rewire_upsilon-ups_input_voltage");
        assert_eq!(c["value_template"], "{{ value_json.input_voltage }}");
        assert_eq!(c["device"]["identifiers"][0], "rewire_upsilon-ups");
        assert_eq!(
            c["availability"][0]["topic"],
            "rewire/upsilon-ups/availability"
        );
        assert_eq!(c["unit_of_measurement"], "V");
    }
}
