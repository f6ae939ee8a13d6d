//! The one readings model every device yields and every output reads.
//!
//! A device library turns its parser types into [`Reading`]s (what a gauge,
//! state or counter says now) and [`Event`]s (something happened: an outage,
//! an alert, a bad frame). Prometheus metrics, the NUT variables, webhooks,
//! NDJSON and any later sink (MQTT, a status page) are fed from these, so a
//! new output is one [`Sink`](crate::sink::Sink) implementation and knows no
//! device.
//!
//! Names are stable machine names in `snake_case` without the device family
//! or the unit (`input_voltage`, `humidity`); the Prometheus name adds both
//! (`upsilon_input_voltage_volts`). A reading may carry labels
//! (`status_bit{bit="utility_fail"}`).

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

/// Which device a reading or event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId {
    /// The protocol family: `upsilon`, `websentry` or `powerone`.
    pub family: &'static str,
    /// This device among others of its family (a UPS name, a unit's MAC, a
    /// PCU address, or the link it is reached on).
    pub name: String,
}

impl DeviceId {
    /// Makes an id.
    pub fn new(family: &'static str, name: impl Into<String>) -> Self {
        Self {
            family,
            name: name.into(),
        }
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.family, self.name)
    }
}

/// The unit of a numeric reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// A plain number, a state or a text.
    None,
    /// Volts.
    Volt,
    /// Amperes.
    Ampere,
    /// Hertz.
    Hertz,
    /// Percent (0–100).
    Percent,
    /// Degrees Celsius.
    Celsius,
    /// Degrees Fahrenheit.
    Fahrenheit,
    /// Seconds.
    Second,
    /// Watts.
    Watt,
    /// Bytes.
    Byte,
}

impl Unit {
    /// Returns the symbol shown after a value (`V`, `%`, `°C`), empty for none.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Volt => "V",
            Self::Ampere => "A",
            Self::Hertz => "Hz",
            Self::Percent => "%",
            Self::Celsius => "°C",
            Self::Fahrenheit => "°F",
            Self::Second => "s",
            Self::Watt => "W",
            Self::Byte => "B",
        }
    }

    /// Returns the suffix Prometheus metric names carry for the unit
    /// (`volts`, `percent`, `celsius`), empty for none.
    #[must_use]
    pub fn metric_suffix(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Volt => "volts",
            Self::Ampere => "amperes",
            Self::Hertz => "hertz",
            Self::Percent => "percent",
            Self::Celsius => "celsius",
            Self::Fahrenheit => "fahrenheit",
            Self::Second => "seconds",
            Self::Watt => "watts",
            Self::Byte => "bytes",
        }
    }
}

/// What kind of quantity a reading is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A level that goes up and down (a voltage, a humidity).
    Gauge,
    /// A count that only grows (frames seen, alerts received).
    Counter,
    /// A state: a flag or an enumerated mode.
    State,
}

/// The value of a reading.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number in the reading's unit.
    Number(f64),
    /// A flag.
    Bool(bool),
    /// A text (a model name, an enumerated state's name).
    Text(Cow<'static, str>),
    /// The device reports the quantity as not set or not measured
    /// (`--.-` on a UPS, "unset" on a dehumidifier).
    Unset,
}

impl Value {
    /// Returns the value as a number when it has one (a flag is 0 or 1).
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Number(v) => Some(*v),
            Self::Bool(b) => Some(f64::from(u8::from(*b))),
            Self::Text(_) | Self::Unset => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(v) => write!(f, "{v}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Text(t) => f.write_str(t),
            Self::Unset => f.write_str("unset"),
        }
    }
}

/// One quantity of one device at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Stable machine name without family or unit (`input_voltage`).
    pub name: Cow<'static, str>,
    /// One line saying what it is (`Input voltage`).
    pub help: Cow<'static, str>,
    /// Labels: name and value (`("bit", "utility_fail")`), in order.
    pub labels: Vec<(&'static str, Cow<'static, str>)>,
    /// The value.
    pub value: Value,
    /// The unit of a numeric value.
    pub unit: Unit,
    /// Gauge, counter or state.
    pub kind: Kind,
    /// When the device said so.
    pub ts: SystemTime,
}

impl Reading {
    /// Makes a gauge reading.
    pub fn gauge(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        value: Value,
        unit: Unit,
        ts: SystemTime,
    ) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            labels: Vec::new(),
            value,
            unit,
            kind: Kind::Gauge,
            ts,
        }
    }

    /// Makes a counter reading.
    pub fn counter(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        count: u64,
        ts: SystemTime,
    ) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            labels: Vec::new(),
            // Counts stay exact up to 2^53, far beyond any count here.
            #[allow(clippy::cast_precision_loss)]
            value: Value::Number(count as f64),
            unit: Unit::None,
            kind: Kind::Counter,
            ts,
        }
    }

    /// Makes a state reading.
    pub fn state(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        value: Value,
        ts: SystemTime,
    ) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            labels: Vec::new(),
            value,
            unit: Unit::None,
            kind: Kind::State,
            ts,
        }
    }

    /// Adds a label.
    #[must_use]
    pub fn with_label(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.labels.push((name, value.into()));
        self
    }

    /// Returns the value of label `name`, if the reading has it.
    #[must_use]
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// How much an event matters to the outputs that may have to drop some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Garbage, bad frames, undecodable input: dropped first.
    Error,
    /// Routine records (a status line, a heartbeat).
    Routine,
    /// State transitions and alerts (on battery, back on line, an SMS
    /// alert, a link lost): never dropped to make room for the others.
    Alert,
}

/// Something that happened to a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Stable machine name (`on_battery`, `sms_alert`, `bad_crc`, `link_lost`).
    pub name: Cow<'static, str>,
    /// Whether outputs may drop it under load.
    pub priority: Priority,
    /// One readable line saying what happened.
    pub text: String,
    /// When.
    pub ts: SystemTime,
}

/// A message of a device library, as every generic output sees it: the
/// device it is about, the readings it carries and the event it is, if any.
///
/// Device libraries implement it for their typed message enum; generic sinks
/// (metrics, MQTT, a page) are written against it and never against a device.
pub trait Observation {
    /// Returns the device the message is about.
    fn device(&self) -> &DeviceId;
    /// Appends the readings the message carries (none for most events).
    fn readings(&self, out: &mut Vec<Reading>);
    /// Returns the event the message is, if it is one.
    fn event(&self) -> Option<Event>;
    /// Returns how much the message matters to outputs that must drop some
    /// (by default its event's priority, else routine). Override it when
    /// [`Observation::event`] is costly.
    fn priority(&self) -> Priority {
        self.event().map_or(Priority::Routine, |e| e.priority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_have_symbols_and_metric_suffixes() {
        assert_eq!(Unit::Volt.symbol(), "V");
        assert_eq!(Unit::Celsius.metric_suffix(), "celsius");
        assert_eq!(Unit::None.metric_suffix(), "");
    }

    #[test]
    fn values_as_numbers() {
        assert_eq!(Value::Bool(true).as_f64(), Some(1.0));
        assert_eq!(Value::Number(2.5).as_f64(), Some(2.5));
        assert_eq!(Value::Unset.as_f64(), None);
        assert_eq!(Value::Unset.to_string(), "unset");
    }

    #[test]
    fn priorities_order_alerts_last() {
        assert!(Priority::Alert > Priority::Routine);
        assert!(Priority::Routine > Priority::Error);
    }
}
