//! The pure state machine that turns successive statuses and connection
//! changes into transition events, and the NUT `ups.status` derivation.

use rewire_upsilon::Status;

use crate::message::{Body, LinkEvent, Transition, decimal};

/// Returns the NUT `ups.status` words for a status, as NUT's Q1 drivers
/// derive them (`nutdrv_qx` with the blazer status-bit handler).
///
/// `OL`/`OB` from bit 7, `LB` from bit 6; bit 5 becomes `TRIM`, `BYPASS` or
/// `BOOST` by the output/input voltage ratio (below 0.95, below 1.05, below
/// 1.5; outside 0.5…1.5 nothing), `CAL` from bit 2, `FSD` from bit 1. Bit 4
/// (UPS failed) is an alarm, not a status word (see [`ups_alarm`]).
#[must_use]
pub fn ups_status(s: &Status) -> String {
    let b = s.bits;
    let mut words: Vec<&str> = vec![if b.utility_fail() { "OB" } else { "OL" }];
    if b.battery_low() {
        words.push("LB");
    }
    if b.bypass_boost_buck()
        && let (Some(vi), Some(vo)) = (s.input_voltage, s.output_voltage)
    {
        let (vi, vo) = (decimal(vi), decimal(vo));
        if vo >= 0.5 * vi && vo < 0.95 * vi {
            words.push("TRIM");
        } else if vo >= 0.95 * vi && vo < 1.05 * vi {
            words.push("BYPASS");
        } else if vo >= 1.05 * vi && vo < 1.5 * vi {
            words.push("BOOST");
        }
    }
    if b.test_in_progress() {
        words.push("CAL");
    }
    if b.shutdown_active() {
        words.push("FSD");
    }
    words.join(" ")
}

/// Returns NUT's `ups.alarm` for a status: bit 4 reads "UPS selftest failed!"
/// in NUT's blazer handler.
#[must_use]
pub fn ups_alarm(s: &Status) -> Option<&'static str> {
    s.bits.ups_failed().then_some("UPS selftest failed!")
}

/// A connection change fed to the [`Tracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    /// The link is up (first connect or after a loss).
    Up {
        /// The link's name (`rupsmon`, `serial`, …).
        link: String,
        /// The peer.
        peer: Option<String>,
        /// Free text (for example the downtime).
        detail: Option<String>,
    },
    /// The link is down.
    Down {
        /// The link's name.
        link: String,
        /// The peer.
        peer: Option<String>,
        /// Why.
        detail: Option<String>,
    },
}

impl LinkChange {
    /// Returns the link's name and whether it is up.
    #[must_use]
    pub fn state(&self) -> (&str, bool) {
        match self {
            LinkChange::Up { link, .. } => (link, true),
            LinkChange::Down { link, .. } => (link, false),
        }
    }
}

/// Remembers the last status bits and the links' states; derives
/// transitions from what changes. Pure: no I/O, no clock.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    last: Option<Status>,
    links: Vec<(String, bool)>,
}

impl Tracker {
    /// Creates a tracker that has seen nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the last status seen.
    #[must_use]
    pub fn last_status(&self) -> Option<&Status> {
        self.last.as_ref()
    }

    /// Feeds a new status; returns the transitions it causes, in order
    /// `on_battery`, `battery_low`, `ups_failed`, `back_on_line`.
    ///
    /// The first status announces any alarming state it starts in (already on
    /// battery, low, failed); later ones announce rising edges, and
    /// `back_on_line` when bit 7 falls.
    pub fn status(&mut self, s: &Status) -> Vec<Transition> {
        let prev = self.last.map(|p| p.bits);
        let was = |f: fn(&rewire_upsilon::StatusBits) -> bool| prev.as_ref().is_some_and(f);
        let b = s.bits;
        let mut out = Vec::new();
        if b.utility_fail() && !was(|p| p.utility_fail()) {
            out.push(Transition::OnBattery);
        }
        if b.battery_low() && !was(|p| p.battery_low()) {
            out.push(Transition::BatteryLow);
        }
        if b.ups_failed() && !was(|p| p.ups_failed()) {
            out.push(Transition::UpsFailed);
        }
        if !b.utility_fail() && was(|p| p.utility_fail()) {
            out.push(Transition::BackOnLine);
        }
        self.last = Some(*s);
        out
    }

    /// Feeds a connection change; returns `connection_lost` when a link that
    /// was up goes down, `connection_restored` when a link that went down
    /// comes back. A first connection, a repeated loss, and a link that was
    /// never up going (or staying) down say nothing: a link that never came
    /// up is not "lost" (its source reports that it cannot connect).
    pub fn link(&mut self, change: LinkChange) -> Option<LinkEvent> {
        let (name, up, peer, detail) = match change {
            LinkChange::Up { link, peer, detail } => (link, true, peer, detail),
            LinkChange::Down { link, peer, detail } => (link, false, peer, detail),
        };
        let Some(slot) = self.links.iter_mut().find(|(n, _)| *n == name) else {
            // Unknown link: only an "up" makes it known; its first "up" is
            // the initial connection, not news.
            if up {
                self.links.push((name, true));
            }
            return None;
        };
        if slot.1 == up {
            return None;
        }
        slot.1 = up;
        Some(LinkEvent {
            lost: !up,
            link: name,
            peer,
            detail,
        })
    }

    /// Feeds any message body and returns the transitions it causes.
    pub fn observe(&mut self, body: &Body) -> Vec<Transition> {
        match body {
            Body::Status(s) => self.status(s),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(line: &str) -> Status {
        rewire_upsilon::Status::parse(line.as_bytes()).unwrap()
    }

    const ONLINE: &str = "(230.0 230.0 230.0 020 50.0 27.2 --.- 00001000";
    const ON_BATT: &str = "(000.0 230.0 229.0 020 00.0 25.0 --.- 10001000";
    const LOW: &str = "(000.0 230.0 228.0 020 00.0 21.0 --.- 11001000";
    const FAILED: &str = "(230.0 230.0 230.0 020 50.0 27.2 --.- 00011000";

    fn kinds(v: &[Transition]) -> Vec<&'static str> {
        v.iter().map(|t| t.kind()).collect()
    }

    #[test]
    fn outage_gives_on_battery_low_then_back_on_line() {
        let mut t = Tracker::new();
        assert!(t.status(&st(ONLINE)).is_empty());
        assert!(t.status(&st(ONLINE)).is_empty());
        assert_eq!(kinds(&t.status(&st(ON_BATT))), ["on_battery"]);
        assert!(t.status(&st(ON_BATT)).is_empty());
        assert_eq!(kinds(&t.status(&st(LOW))), ["battery_low"]);
        assert_eq!(kinds(&t.status(&st(ONLINE))), ["back_on_line"]);
        assert!(t.status(&st(ONLINE)).is_empty());
    }

    #[test]
    fn first_status_announces_an_alarming_start() {
        let mut t = Tracker::new();
        assert_eq!(kinds(&t.status(&st(LOW))), ["on_battery", "battery_low"]);
        let mut t = Tracker::new();
        assert_eq!(kinds(&t.status(&st(FAILED))), ["ups_failed"]);
        assert!(t.status(&st(FAILED)).is_empty());
    }

    #[test]
    fn transition_records_carry_nut_status() {
        let m = crate::message::Message::new(
            std::sync::Arc::new(rewire_host::reading::DeviceId::new("upsilon", "ups")),
            Body::Transition {
                transition: Transition::OnBattery,
                status: st(ON_BATT),
            },
        );
        let crate::record::Body::OnBattery(r) = crate::record::Record::from_message(&m).body else {
            panic!()
        };
        assert_eq!(r.ups_status, "OB");
        assert_eq!(r.bits, "10001000");
        assert_eq!(r.battery_voltage, Some(25.0));
    }

    #[test]
    fn links_report_loss_and_restore_once() {
        let up = || LinkChange::Up {
            link: "rupsmon".into(),
            peer: Some("127.0.0.1:2570".into()),
            detail: None,
        };
        let down = || LinkChange::Down {
            link: "rupsmon".into(),
            peer: None,
            detail: Some("closed".into()),
        };
        let mut t = Tracker::new();
        assert_eq!(t.link(up()), None);
        assert_eq!(t.link(down()).map(|b| b.kind()), Some("connection_lost"));
        assert_eq!(t.link(down()), None);
        assert_eq!(t.link(up()).map(|b| b.kind()), Some("connection_restored"));
        assert_eq!(t.link(up()), None);
        // A link that was never up is not lost, however often it fails.
        let never = || LinkChange::Down {
            link: "heartbeat".into(),
            peer: None,
            detail: None,
        };
        assert_eq!(t.link(never()), None);
        assert_eq!(t.link(never()), None);
    }

    #[test]
    fn nut_status_words_follow_the_blazer_mapping() {
        assert_eq!(ups_status(&st(ONLINE)), "OL");
        assert_eq!(ups_status(&st(LOW)), "OB LB");
        // Bit 5 by voltage ratio: out/in 0.9 → TRIM, 1.0 → BYPASS, 1.1 → BOOST.
        assert_eq!(
            ups_status(&st("(250.0 250.0 225.0 020 50.0 27.2 --.- 00101000")),
            "OL TRIM"
        );
        assert_eq!(
            ups_status(&st("(230.0 230.0 230.0 020 50.0 27.2 --.- 00101000")),
            "OL BYPASS"
        );
        assert_eq!(
            ups_status(&st("(200.0 200.0 220.0 020 50.0 27.2 --.- 00101000")),
            "OL BOOST"
        );
        assert_eq!(
            ups_status(&st("(230.0 230.0 230.0 020 50.0 27.2 --.- 00001110")),
            "OL CAL FSD"
        );
        assert_eq!(ups_alarm(&st(FAILED)), Some("UPS selftest failed!"));
        assert_eq!(ups_alarm(&st(ONLINE)), None);
    }
}
