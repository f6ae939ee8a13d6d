//! What a device's page puts first: the status line, the headline values,
//! the charts and which events mean the link went up or down. The page
//! knows no device; the caller describes its device with a [`Headline`]
//! ([`Headline::upsilon`], [`Headline::websentry`] and
//! [`Headline::powerone`] are the rewire tools' descriptions, plain data
//! naming their readings and events).

/// How much a status matters; shown as a word, never by colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// All is well.
    Ok,
    /// Unknown, stale or degraded.
    Warning,
    /// An outage, a fault, an alarm.
    Alarm,
}

impl Severity {
    /// Returns the word shown beside the status (`OK`, `WARNING`, `ALARM`).
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Alarm => "ALARM",
        }
    }
}

/// A status the headline shows when a reading has a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The reading's key (`status_bit{bit="utility_fail"}`).
    pub key: String,
    /// The value that makes the condition true (a flag is 0 or 1).
    pub equals: f64,
    /// The status text (`ON BATTERY`).
    pub text: String,
    /// How much it matters.
    pub severity: Severity,
}

impl Condition {
    /// Makes a condition.
    pub fn new(
        key: impl Into<String>,
        equals: f64,
        text: impl Into<String>,
        severity: Severity,
    ) -> Self {
        Self {
            key: key.into(),
            equals,
            text: text.into(),
            severity,
        }
    }
}

/// One value of the headline.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// The current value of a reading, by key.
    Reading {
        /// The reading's key.
        key: String,
        /// What the headline calls it.
        label: String,
    },
    /// How many events of a name arrived (`bad_checksum`).
    Events {
        /// The event name.
        name: String,
        /// What the headline calls it.
        label: String,
    },
    /// How many messages arrived.
    Records {
        /// What the headline calls it.
        label: String,
    },
}

impl Item {
    /// Makes a reading item.
    pub fn reading(key: impl Into<String>, label: impl Into<String>) -> Self {
        Self::Reading {
            key: key.into(),
            label: label.into(),
        }
    }

    /// Makes an event-count item.
    pub fn events(name: impl Into<String>, label: impl Into<String>) -> Self {
        Self::Events {
            name: name.into(),
            label: label.into(),
        }
    }
}

/// A device's page description.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// The page title (`UPS`).
    pub title: String,
    /// Status conditions, the first true one wins.
    pub conditions: Vec<Condition>,
    /// The status when no condition holds but `normal_needs` has a value.
    pub normal: String,
    /// A reading whose presence means the status is known (none: always).
    pub normal_needs: Option<String>,
    /// The headline values, in order.
    pub items: Vec<Item>,
    /// The readings charted, by key, in order.
    pub charts: Vec<String>,
    /// Events that mean the device link came up.
    pub link_up: Vec<String>,
    /// Events that mean the device link went down.
    pub link_down: Vec<String>,
    /// Links shown at the top of the page: text and target (`/props`).
    pub links: Vec<(String, String)>,
}

impl Headline {
    /// Makes a headline with a title and nothing else: the status is
    /// `normal` and every reading appears only in the full table.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            conditions: Vec::new(),
            normal: "RECEIVING".into(),
            normal_needs: None,
            items: Vec::new(),
            charts: Vec::new(),
            link_up: Vec::new(),
            link_down: Vec::new(),
            links: Vec::new(),
        }
    }

    /// The UPS (`upsilon monitor`, `upsilon ups`): status from the Q1
    /// status bits (fault, low battery, on battery, else on line), the
    /// voltages, load, frequency and temperature; RupsMon's link events.
    #[must_use]
    pub fn upsilon() -> Self {
        let bit = |b: &str| format!("status_bit{{bit=\"{b}\"}}");
        Self {
            title: "UPS".into(),
            conditions: vec![
                Condition::new(bit("ups_failed"), 1.0, "FAULT", Severity::Alarm),
                Condition::new(bit("battery_low"), 1.0, "LOW BATTERY", Severity::Alarm),
                Condition::new(bit("utility_fail"), 1.0, "ON BATTERY", Severity::Alarm),
                Condition::new(bit("test_in_progress"), 1.0, "SELF TEST", Severity::Warning),
                Condition::new(
                    bit("shutdown_active"),
                    1.0,
                    "SHUTTING DOWN",
                    Severity::Alarm,
                ),
            ],
            normal: "ON LINE".into(),
            normal_needs: Some(bit("utility_fail")),
            items: vec![
                Item::reading("input_voltage", "Input"),
                Item::reading("output_voltage", "Output"),
                Item::reading("load", "Load"),
                Item::reading("battery_voltage", "Battery"),
                Item::reading("input_frequency", "Frequency"),
                Item::reading("temperature", "Temperature"),
                Item::events("sms_alert", "SMS alerts"),
            ],
            charts: vec![
                "input_voltage".into(),
                "output_voltage".into(),
                "load".into(),
                "battery_voltage".into(),
                "temperature".into(),
            ],
            link_up: vec!["connection_restored".into()],
            link_down: vec!["connection_lost".into()],
            links: vec![("Prometheus metrics".into(), "/metrics".into())],
        }
    }

    /// The dehumidifier (`websentry proxy`): humidity against its set
    /// point, the room, supply and outside temperatures, the blower, the
    /// dehumidifier state and system mode, bad frames; the unit's sessions
    /// as the link; the full property table one click away. The property
    /// registry knows no compressor or alarm property, so the headline has
    /// none (the dehumidifier state is the nearest).
    #[must_use]
    pub fn websentry() -> Self {
        Self {
            title: "Dehumidifier".into(),
            conditions: Vec::new(),
            normal: "RELAYING".into(),
            normal_needs: Some("humidity".into()),
            items: vec![
                Item::reading("humidity", "Humidity"),
                Item::reading("set_humidity", "Set point"),
                Item::reading("room_temp", "Room"),
                Item::reading("supply_air", "Supply air"),
                Item::reading("outside_air", "Outside air"),
                Item::reading("blower_state", "Blower"),
                Item::reading("blower_speed", "Blower speed"),
                Item::reading("dehumidifer_state", "Dehumidifier"),
                Item::reading("system_mode", "Mode"),
                Item::events("session_opened", "Sessions"),
                Item::events("bad_frame", "Bad frames"),
            ],
            charts: vec![
                "humidity".into(),
                "set_humidity".into(),
                "room_temp".into(),
                "supply_air".into(),
                "outside_air".into(),
            ],
            link_up: vec!["session_opened".into()],
            link_down: vec!["upstream_failed".into(), "relay_failed".into()],
            links: vec![
                ("All properties".into(), "/props".into()),
                ("Prometheus metrics".into(), "/metrics".into()),
            ],
        }
    }

    /// The Power-One line (`powerone listen`): the PCU link, frames seen,
    /// bad checksums and garbage, the last clock set and password check.
    #[must_use]
    pub fn powerone() -> Self {
        Self {
            title: "Power-One PCU line".into(),
            conditions: Vec::new(),
            normal: "RECEIVING".into(),
            normal_needs: None,
            items: vec![
                Item::Records {
                    label: "Messages".into(),
                },
                Item::events("bad_checksum", "Bad checksums"),
                Item::events("garbage", "Garbage runs"),
                Item::reading("clock_set", "Clock set"),
                Item::reading("password_ok", "Password accepted"),
            ],
            charts: Vec::new(),
            link_up: vec!["link_up".into()],
            // A relay's clients come and go (`link_down`); only a failure
            // means the line is lost.
            link_down: vec!["link_failed".into()],
            links: vec![("Prometheus metrics".into(), "/metrics".into())],
        }
    }
}
