//! What the relay reports: the typed [`Message`]s its observers receive,
//! and the readings a unit's values make ([`property_reading`]).
//!
//! Messages implement [`Observation`], so generic outputs (Prometheus, a
//! page, MQTT) read them without knowing WebSentry.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use rewire_host::reading::{
    DeviceId, Event, Observation, Priority, Reading, Unit, Value as RValue,
};
use rewire_websentry::{Value, registry};

use crate::frame::{DecodedFrame, Sender, ids};

/// The device family name of WebSentry readings and metrics.
pub const FAMILY: &str = "websentry";

/// Which side of a relayed session a failure is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The unit's connection.
    Unit,
    /// The cloud's (upstream) connection.
    Upstream,
}

impl Side {
    /// Returns `"unit"` or `"upstream"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unit => "unit",
            Self::Upstream => "upstream",
        }
    }

    /// Returns the side whose socket carries what `direction` sends.
    #[must_use]
    pub fn sending(direction: Sender) -> Self {
        match direction {
            Sender::Client => Self::Unit,
            Sender::Server => Self::Upstream,
        }
    }
}

/// One thing the relay saw or did.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A unit connected and its upstream connection is up.
    SessionOpened {
        /// The unit (named by its address).
        device: DeviceId,
        /// The unit's address.
        peer: SocketAddr,
        /// Where its traffic goes.
        upstream: String,
        /// When.
        ts: SystemTime,
    },
    /// A session ended (both directions closed).
    SessionClosed {
        /// The unit.
        device: DeviceId,
        /// The unit's address.
        peer: SocketAddr,
        /// How long the session lasted.
        duration: Duration,
        /// Frames relayed in both directions.
        frames: u64,
        /// When.
        ts: SystemTime,
    },
    /// A frame was relayed (unchanged); here is what it says.
    Frame {
        /// The unit.
        device: DeviceId,
        /// The unit's address.
        peer: SocketAddr,
        /// The frame, decoded.
        frame: DecodedFrame,
        /// When it was relayed.
        ts: SystemTime,
    },
    /// Relayed bytes that did not frame (garbage, an absurd length, a frame
    /// cut off by the end of the stream).
    Garbage {
        /// The unit.
        device: DeviceId,
        /// The unit's address.
        peer: SocketAddr,
        /// Which stream they were in.
        direction: Sender,
        /// Stream offset of the first byte.
        offset: u64,
        /// How many bytes.
        len: u64,
        /// `garbage`, `oversize` or `truncated`.
        reason: String,
        /// The first bytes.
        head: Vec<u8>,
        /// When.
        ts: SystemTime,
    },
    /// The upstream could not be reached; the unit's connection was closed.
    UpstreamFailed {
        /// The unit.
        device: DeviceId,
        /// The unit's address.
        peer: SocketAddr,
        /// The upstream that failed.
        upstream: String,
        /// Why.
        error: String,
        /// When.
        ts: SystemTime,
    },
    /// A socket failed during a session (reset, write error).
    RelayFailed {
        /// The unit.
        device: DeviceId,
        /// The unit's address.
        peer: SocketAddr,
        /// Whose socket failed.
        side: Side,
        /// `read` or `write`.
        what: &'static str,
        /// The error.
        error: String,
        /// When.
        ts: SystemTime,
    },
}

/// Returns the device id of the unit at `peer` before its MAC address is
/// known: its IP address (a unit reconnects from a new port every session).
#[must_use]
pub fn device_of(peer: SocketAddr) -> DeviceId {
    DeviceId::new(FAMILY, peer.ip().to_string())
}

/// Returns the device id of the unit whose init frame reported `mac`: the
/// address as `00:90:c2:0c:02:b3`, stable across addresses and sessions.
#[must_use]
pub fn device_of_mac(mac: [u8; 6]) -> DeviceId {
    let [a, b, c, d, e, f] = mac;
    DeviceId::new(
        FAMILY,
        format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}"),
    )
}

/// Returns the MAC address a unit's frame reports (its init frame carries
/// one as property `0x0401`), if it does.
#[must_use]
pub fn mac_of(frame: &DecodedFrame) -> Option<[u8; 6]> {
    frame.values().find_map(|(_, v)| match v {
        Value::Mac(mac) => Some(mac),
        _ => None,
    })
}

/// The units a relay has seen, each by the MAC address its init frame
/// reported, keyed by its IP address. Bounded: beyond [`Units::CAPACITY`]
/// addresses, new units keep their IP address as their id (counted in
/// [`Units::unnamed`], said once in the log).
#[derive(Debug, Default)]
pub struct Units {
    known: std::sync::Mutex<std::collections::HashMap<IpAddr, DeviceId>>,
    unnamed: std::sync::atomic::AtomicU64,
}

impl Units {
    /// How many units are remembered at most.
    pub const CAPACITY: usize = 4096;

    /// Returns the id of the unit at `peer`: by its MAC address once one
    /// of its frames reported it, else by its IP address.
    #[must_use]
    pub fn device(&self, peer: SocketAddr) -> DeviceId {
        let known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known
            .get(&peer.ip())
            .cloned()
            .unwrap_or_else(|| device_of(peer))
    }

    /// Returns how many times a unit's MAC address was not remembered
    /// because [`Units::CAPACITY`] units were known already.
    #[must_use]
    pub fn unnamed(&self) -> u64 {
        self.unnamed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Remembers the MAC address `frame` reports for the unit at `peer`;
    /// returns whether the unit's id changed.
    pub fn learn(&self, peer: SocketAddr, frame: &DecodedFrame) -> bool {
        let Some(mac) = mac_of(frame) else {
            return false;
        };
        let id = device_of_mac(mac);
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.get(&peer.ip()) == Some(&id) {
            return false;
        }
        if known.len() >= Self::CAPACITY && !known.contains_key(&peer.ip()) {
            let before = self
                .unnamed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if before == 0 {
                log::warn!(
                    "more than {} units: {} and later ones keep their IP address as their id",
                    Self::CAPACITY,
                    peer.ip()
                );
            }
            return false;
        }
        known.insert(peer.ip(), id);
        true
    }
}

impl Message {
    /// Returns the unit's address.
    #[must_use]
    pub fn peer(&self) -> SocketAddr {
        match self {
            Self::SessionOpened { peer, .. }
            | Self::SessionClosed { peer, .. }
            | Self::Frame { peer, .. }
            | Self::Garbage { peer, .. }
            | Self::UpstreamFailed { peer, .. }
            | Self::RelayFailed { peer, .. } => *peer,
        }
    }

    /// Returns when it happened.
    #[must_use]
    pub fn ts(&self) -> SystemTime {
        match self {
            Self::SessionOpened { ts, .. }
            | Self::SessionClosed { ts, .. }
            | Self::Frame { ts, .. }
            | Self::Garbage { ts, .. }
            | Self::UpstreamFailed { ts, .. }
            | Self::RelayFailed { ts, .. } => *ts,
        }
    }

    /// Returns whether it deserves a line even when not everything is
    /// shown: failures, garbage and anomalous frames.
    #[must_use]
    pub fn is_notable(&self) -> bool {
        match self {
            Self::Frame { frame, .. } => frame.is_anomalous(),
            Self::Garbage { .. } | Self::UpstreamFailed { .. } | Self::RelayFailed { .. } => true,
            Self::SessionOpened { .. } | Self::SessionClosed { .. } => false,
        }
    }
}

impl fmt::Display for Message {
    /// One line: `PEER: what happened` (a frame as its record's text line).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = self.peer();
        match self {
            Self::SessionOpened { upstream, .. } => {
                write!(f, "{peer}: session relayed to {upstream}")
            }
            Self::SessionClosed {
                duration, frames, ..
            } => write!(
                f,
                "{peer}: session closed after {:.3} s, {frames} frames",
                duration.as_secs_f64()
            ),
            Self::Frame { frame, ts, .. } => {
                let record = crate::record::FrameRecord::from_frame(frame, *ts);
                write!(f, "{peer}: {record}")
            }
            Self::Garbage { .. } => match crate::record::error_record(self) {
                Some(record) => write!(f, "{peer}: {record}"),
                None => Ok(()),
            },
            Self::UpstreamFailed {
                upstream, error, ..
            } => write!(
                f,
                "{peer}: upstream {upstream} unreachable ({error}); closing the unit's connection"
            ),
            Self::RelayFailed {
                side, what, error, ..
            } => write!(f, "{peer}: {} {what} failed: {error}", side.as_str()),
        }
    }
}

impl Observation for Message {
    fn device(&self) -> &DeviceId {
        match self {
            Self::SessionOpened { device, .. }
            | Self::SessionClosed { device, .. }
            | Self::Frame { device, .. }
            | Self::Garbage { device, .. }
            | Self::UpstreamFailed { device, .. }
            | Self::RelayFailed { device, .. } => device,
        }
    }

    fn readings(&self, out: &mut Vec<Reading>) {
        if let Self::Frame { frame, ts, .. } = self
            && frame.carries_readings()
        {
            let celsius = frame
                .values()
                .any(|(id, v)| id == ids::TEMP_UNIT && reports_celsius(&v));
            out.extend(
                frame
                    .values()
                    .map(|(id, v)| property_reading(id, &v, celsius, *ts)),
            );
        }
    }

    fn event(&self) -> Option<Event> {
        let (name, priority): (&'static str, Priority) = match self {
            Self::SessionOpened { .. } => ("session_opened", Priority::Routine),
            Self::SessionClosed { .. } => ("session_closed", Priority::Routine),
            Self::Frame { frame, .. } if frame.is_anomalous() => ("bad_frame", Priority::Error),
            Self::Frame { .. } => return None,
            Self::Garbage { .. } => ("garbage", Priority::Error),
            Self::UpstreamFailed { .. } => ("upstream_failed", Priority::Alert),
            Self::RelayFailed { .. } => ("relay_failed", Priority::Alert),
        };
        Some(Event {
            name: name.into(),
            priority,
            text: self.to_string(),
            ts: self.ts(),
        })
    }

    fn priority(&self) -> Priority {
        match self {
            Self::Frame { frame, .. } if frame.is_anomalous() => Priority::Error,
            Self::Garbage { .. } => Priority::Error,
            Self::UpstreamFailed { .. } | Self::RelayFailed { .. } => Priority::Alert,
            _ => Priority::Routine,
        }
    }
}

/// Returns whether a `temp_unit` value says Celsius.
#[must_use]
pub fn reports_celsius(value: &Value<'_>) -> bool {
    matches!(
        value,
        Value::TypedEnum {
            enum_type: ids::TEMP_UNIT_ENUM,
            value: ids::TEMP_UNIT_CELSIUS
        }
    )
}

/// How a property's value is turned into its reading's base unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conversion {
    /// Used as it is.
    None,
    /// Multiplied by the factor (minutes, hours, milliseconds → seconds;
    /// a Fahrenheit *difference* → kelvin-sized Celsius degrees).
    Scale(f64),
    /// An absolute Fahrenheit temperature → Celsius.
    FahrenheitToCelsius,
}

impl Conversion {
    /// Applies the conversion.
    #[must_use]
    pub fn apply(self, v: f64) -> f64 {
        match self {
            Self::None => v,
            Self::Scale(k) => v * k,
            Self::FahrenheitToCelsius => (v - 32.0) * 5.0 / 9.0,
        }
    }
}

/// Maps a registry name's unit suffix onto a base unit: the stem, the unit,
/// and the conversion.
fn base_unit(name: &str, reports_celsius: bool) -> (String, Unit, Conversion) {
    const SUFFIXES: &[(&str, Unit, Conversion)] = &[
        ("_sec", Unit::Second, Conversion::None),
        ("_minutes", Unit::Second, Conversion::Scale(60.0)),
        ("_min", Unit::Second, Conversion::Scale(60.0)),
        ("_ms", Unit::Second, Conversion::Scale(0.001)),
        ("_hours", Unit::Second, Conversion::Scale(3600.0)),
        ("_percent", Unit::Percent, Conversion::None),
    ];
    if let Some(stem) = name.strip_suffix("_f") {
        // Superheat is a difference of two temperatures: scale it, do not shift it.
        let conversion = match (reports_celsius, stem.contains("superheat")) {
            (true, _) => Conversion::None,
            (false, true) => Conversion::Scale(5.0 / 9.0),
            (false, false) => Conversion::FahrenheitToCelsius,
        };
        return (stem.to_string(), Unit::Celsius, conversion);
    }
    for (suffix, unit, conversion) in SUFFIXES {
        if let Some(stem) = name.strip_suffix(suffix) {
            return (stem.to_string(), *unit, *conversion);
        }
    }
    // `_psi` and `_months` have no base unit here: they stay in the name.
    (name.to_string(), Unit::None, Conversion::None)
}

/// Returns the reading name of property `id` (without family or unit), its
/// unit and how its value converts: the registry name in lower case with
/// its unit suffix split off (`room_temp_f` → `room_temp` in °C, converted
/// from °F unless the unit reports Celsius; `superheat_temp_f`, a
/// difference, only scaled; `_sec`/`_min`/`_minutes`/`_hours`/`_ms` →
/// seconds; `_percent` → percent; `_psi` and `_months` kept in the name).
/// Ids the registry does not name are `property_0x1234`, unconverted.
#[must_use]
pub fn reading_spec(id: u16, reports_celsius: bool) -> (String, Unit, Conversion) {
    match registry::property(id) {
        Some(p) => {
            let clean: String = p
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            base_unit(&clean, reports_celsius)
        }
        None => (format!("property_{id:#06x}"), Unit::None, Conversion::None),
    }
}

/// What a property reading's `# HELP` says (the id, name and unit of each
/// are in `/props.json`).
const PROPERTY_HELP: &str =
    "WebSentry property (id, registry name and reported unit in /props.json)";

/// Returns the reading of property `id` with `value`: a gauge in the base
/// unit for numbers, a state with the raw number labelled with its enum
/// label for enums, a text state for everything else (strings, addresses,
/// versions, dates). `reports_celsius` says whether the unit reports
/// temperatures in Celsius (its `temp_unit`).
#[must_use]
pub fn property_reading(
    id: u16,
    value: &Value<'_>,
    reports_celsius: bool,
    ts: SystemTime,
) -> Reading {
    let (name, unit, conversion) = reading_spec(id, reports_celsius);
    match (value, value.as_f64()) {
        // No number, and no text either: the metric is left out.
        (_, None) if value.is_unset() => {
            Reading::gauge(name, PROPERTY_HELP, RValue::Unset, unit, ts)
        }
        (Value::Enum(_) | Value::TypedEnum { .. }, Some(raw)) => {
            let label = rewire_websentry::enum_label(id, value)
                .map_or_else(|| Cow::Owned(value.to_string()), Cow::Borrowed);
            Reading::state(name, PROPERTY_HELP, RValue::Number(raw), ts).with_label("label", label)
        }
        (_, Some(v)) => Reading::gauge(
            name,
            PROPERTY_HELP,
            RValue::Number(conversion.apply(v)),
            unit,
            ts,
        ),
        (_, None) => Reading::state(
            name,
            PROPERTY_HELP,
            RValue::Text(value.to_string().into()),
            ts,
        ),
    }
}

/// Returns the Prometheus name [`rewire_host::metrics::render`] gives
/// `reading`: `websentry_NAME_UNIT`, with `_info` for a text state and
/// `_total` for a counter.
#[must_use]
pub fn exported_name(reading: &Reading) -> String {
    let mut name = rewire_host::metrics::metric_name(FAMILY, reading);
    if matches!(reading.value, RValue::Text(_)) {
        name.push_str("_info");
    } else if reading.kind == rewire_host::reading::Kind::Counter && !name.ends_with("_total") {
        name.push_str("_total");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn name(id: u16) -> String {
        exported_name(&property_reading(
            id,
            &Value::Tenths(1),
            false,
            SystemTime::UNIX_EPOCH,
        ))
    }

    #[test]
    fn units_are_named_by_the_mac_their_init_frame_reports() {
        let units = Units::default();
        let peer: SocketAddr = "192.168.1.40:50123".parse().unwrap();
        assert_eq!(units.device(peer).name, "192.168.1.40");
        let mac = [0x00, 0x90, 0xc2, 0x0c, 0x02, 0xb3];
        let init =
            DecodedFrame::decode(crate::simulate::init_frame(mac), Some(Sender::Client), None);
        assert_eq!(mac_of(&init), Some(mac));
        assert!(units.learn(peer, &init));
        assert!(!units.learn(peer, &init), "unchanged");
        // The next session comes from another port: same unit.
        let again: SocketAddr = "192.168.1.40:50999".parse().unwrap();
        assert_eq!(units.device(again).name, "00:90:c2:0c:02:b3");
        assert_eq!(units.device(again).family, FAMILY);
        let other: SocketAddr = "192.168.1.41:50123".parse().unwrap();
        assert_eq!(units.device(other).name, "192.168.1.41");
        // Bounded, and what it cannot keep is counted.
        for i in 0..Units::CAPACITY + 2 {
            let [_, _, a, b] = u32::try_from(i).unwrap().to_be_bytes();
            let peer = SocketAddr::from(([10, 0, a, b], 1));
            units.learn(peer, &init);
        }
        assert_eq!(units.known.lock().unwrap().len(), Units::CAPACITY);
        assert_eq!(units.unnamed(), 3);
    }

    #[test]
    fn metric_names_are_unique_valid_and_keep_todays_spelling() {
        let mut seen = HashSet::new();
        for p in registry::PROPERTIES {
            let n = name(p.id);
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{n}"
            );
            assert!(seen.insert(n.clone()), "duplicate {n}");
        }
        assert_eq!(name(0x0601), "websentry_room_temp_celsius");
        assert_eq!(name(0x0600), "websentry_humidity_percent");
        assert_eq!(name(0x0333), "websentry_websentry_connect_interval_seconds");
        assert_eq!(name(0x0303), "websentry_reboot_device_seconds");
        assert_eq!(name(0x1234), "websentry_property_0x1234");
        assert_eq!(reading_spec(0x0601, true).2, Conversion::None);
        assert!((reading_spec(0x0601, false).2.apply(212.0) - 100.0).abs() < 1e-9);
        assert!((reading_spec(0x060a, false).2.apply(9.0) - 5.0).abs() < 1e-9);
        assert!((reading_spec(0x0303, false).2.apply(2.0) - 120.0).abs() < 1e-9);
    }

    #[test]
    fn enums_and_texts_become_states() {
        let t = SystemTime::UNIX_EPOCH;
        let r = property_reading(0x120e, &Value::Enum(2), false, t);
        assert_eq!(r.label("label"), Some("Ready"));
        assert_eq!(exported_name(&r), "websentry_blower_state");
        let r = property_reading(ids::VERSION_STRING, &Value::Str(b"5.15.12"), false, t);
        assert_eq!(exported_name(&r), "websentry_version_string_info");
    }
}
