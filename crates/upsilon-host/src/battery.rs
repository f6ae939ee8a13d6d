//! `battery.charge` and `battery.runtime` as NUT's Megatec drivers
//! estimate them: `drivers/nutdrv_qx.c` (`qx_battery`, `qx_load`,
//! `qx_initbattery`, `upsdrv_updateinfo`) and `drivers/blazer.c`
//! (networkupstools/nut). A Q1 reply carries only a battery voltage (often
//! per cell: `2.28`), a load and the on-battery bit, so:
//!
//! - the voltage is scaled to the pack by a number of packs, given or
//!   detected from the nominal battery voltage (try 120, 100, 80, 60, 48,
//!   36, 30, 24, 18, 12, 8, 6, 4, 3, 2, 1, 0.5; skip a count whose product
//!   exceeds 1.25 × nominal; give up below 0.8 × nominal);
//! - `charge = clamp(100 × (V − low) / (high − low), 0, 100)`, with `low`
//!   and `high` given or guessed as `104 × nom / 120` and `130 × nom / 120`;
//! - with `runtimecal = rh,lh,rl,ll` (runtime `rh` s at load `lh` %, `rl` s
//!   at `ll` %): exponent `ln(rl/rh) / ln(lh/ll)`, nominal full-load runtime
//!   `rh × (lh/100)^exp`; on battery the remaining full-load runtime drops
//!   by the effective load `max((load/100)^exp, idleload)` per second, on
//!   line it refills in `chargetime`; `charge = 100 × est / nom`,
//!   `runtime = est / effective load`. rewire never lets the estimate fall
//!   below what the voltage says (so a restart on a full battery does not
//!   start from an old, lower figure).

use std::time::{Duration, Instant};

use rewire_upsilon::Status;

use crate::message::decimal;

/// The pack counts nutdrv_qx tries, highest first.
pub const PACK_COUNTS: [f64; 17] = [
    120.0, 100.0, 80.0, 60.0, 48.0, 36.0, 30.0, 24.0, 18.0, 12.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.0, 0.5,
];

/// NUT's `runtimecal`: runtime `rh` s at load `lh` %, `rl` s at `ll` %.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Runtimecal {
    /// Runtime at the high load, s.
    pub rh: f64,
    /// The high load, %.
    pub lh: f64,
    /// Runtime at the low load, s.
    pub rl: f64,
    /// The low load, %.
    pub ll: f64,
}

impl Runtimecal {
    /// Parses `RH,LH,RL,LL` and checks the ranges nutdrv_qx checks.
    ///
    /// # Errors
    /// Says which part is missing or out of range.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<f64> = text
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("runtimecal {text:?}: give four numbers RH,LH,RL,LL"))?;
        let [rh, lh, rl, ll] = parts[..] else {
            return Err(format!(
                "runtimecal {text:?}: give four numbers RH,LH,RL,LL"
            ));
        };
        if rh.is_nan() || rh <= 0.0 || rl < rh || !rl.is_finite() {
            return Err(format!(
                "runtimecal {text:?}: runtimes out of range (need 0 < RH <= RL)"
            ));
        }
        if lh > 100.0 || ll > lh || ll.is_nan() || ll <= 0.0 {
            return Err(format!(
                "runtimecal {text:?}: loads out of range (need 0 < LL <= LH <= 100)"
            ));
        }
        Ok(Runtimecal { rh, lh, rl, ll })
    }

    /// Returns the load exponent `ln(rl/rh) / ln(lh/ll)` (0 when both loads
    /// are equal).
    #[must_use]
    pub fn exponent(&self) -> f64 {
        let e = (self.rl / self.rh).ln() / (self.lh / self.ll).ln();
        if e.is_finite() { e } else { 0.0 }
    }

    /// Returns the runtime at full load, s: `rh × (lh/100)^exp`.
    #[must_use]
    pub fn nominal_runtime(&self) -> f64 {
        self.rh * (self.lh / 100.0).powf(self.exponent())
    }
}

/// The battery settings, named after NUT's `ups.conf` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BatteryConfig {
    /// `default.battery.voltage.high`: the pack voltage at 100 %.
    pub voltage_high: Option<f64>,
    /// `default.battery.voltage.low`: the pack voltage at 0 %.
    pub voltage_low: Option<f64>,
    /// `default.battery.voltage.nominal` (else the UPS's `F` reply).
    pub voltage_nominal: Option<f64>,
    /// `default.battery.packs`; `None` detects it.
    pub packs: Option<f64>,
    /// `runtimecal`; without it no runtime is estimated.
    pub runtimecal: Option<Runtimecal>,
    /// `chargetime`: empty to full on line (default 43200 s).
    pub chargetime: Duration,
    /// `idleload`: the least load the runtime model uses, 0–1 (default 0.10).
    pub idleload: f64,
}

impl Default for BatteryConfig {
    fn default() -> Self {
        BatteryConfig {
            voltage_high: None,
            voltage_low: None,
            voltage_nominal: None,
            packs: None,
            runtimecal: None,
            chargetime: Duration::from_secs(43_200),
            idleload: 0.10,
        }
    }
}

/// What the model says about one status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryFigures {
    /// The pack voltage (the reading times [`BatteryFigures::packs`]), V.
    pub voltage: f64,
    /// The multiplier applied to the reading.
    pub packs: f64,
    /// `battery.charge`, %, when it can be estimated.
    pub charge: Option<f64>,
    /// `battery.runtime`, s, with `runtimecal` only.
    pub runtime: Option<f64>,
    /// `battery.voltage.low` in use.
    pub low: Option<f64>,
    /// `battery.voltage.high` in use.
    pub high: Option<f64>,
    /// `battery.voltage.nominal` in use.
    pub nominal: Option<f64>,
}

/// Returns the pack count nutdrv_qx detects for a reading `act` and a
/// nominal voltage `nom`, or `None` when no count fits.
#[must_use]
pub fn detect_packs(act: f64, nom: f64) -> Option<f64> {
    for p in PACK_COUNTS {
        if p * act > 1.25 * nom {
            continue;
        }
        if p * act < 0.8 * nom {
            return None;
        }
        return Some(p);
    }
    None
}

/// Returns `clamp(100 × (v − low) / (high − low), 0, 100)`, or `None`
/// unless `0 < low < high`.
#[must_use]
pub fn charge_from_voltage(v: f64, low: f64, high: f64) -> Option<f64> {
    (low > 0.0 && high > low).then(|| (100.0 * (v - low) / (high - low)).clamp(0.0, 100.0))
}

/// The estimator: fed each status in order, it keeps the runtime state
/// between them.
#[derive(Debug, Clone, Default)]
pub struct BatteryModel {
    config: BatteryConfig,
    /// The nominal voltage the UPS's `F` reply gave.
    rated: Option<f64>,
    packs: Option<f64>,
    /// Remaining full-load runtime, s, and when it was last updated.
    est: Option<(f64, Instant)>,
}

impl BatteryModel {
    /// Makes a model with `config`.
    #[must_use]
    pub fn new(config: BatteryConfig) -> Self {
        if config.runtimecal.is_none() {
            log::debug!("battery runtime will not be calculated (runtimecal not set)");
        }
        BatteryModel {
            config,
            ..Self::default()
        }
    }

    /// Takes the nominal battery voltage of the UPS's `F` reply (used when
    /// the settings give none).
    pub fn set_rated(&mut self, nominal: Option<f64>) {
        self.rated = nominal;
    }

    fn nominal(&self) -> Option<f64> {
        self.config.voltage_nominal.or(self.rated)
    }

    fn limits(&self) -> (Option<f64>, Option<f64>) {
        let nom = self.nominal();
        (
            self.config.voltage_low.or(nom.map(|n| 104.0 * n / 120.0)),
            self.config.voltage_high.or(nom.map(|n| 130.0 * n / 120.0)),
        )
    }

    /// Returns the figures for `status` seen at `now`, or `None` without a
    /// battery voltage.
    pub fn observe(&mut self, status: &Status, now: Instant) -> Option<BatteryFigures> {
        let reading = decimal(status.battery_voltage?);
        let nominal = self.nominal();
        let packs = match (self.config.packs, self.packs, nominal) {
            (Some(p), _, _) => p,
            (None, Some(p), _) => p,
            (None, None, Some(nom)) => {
                let p = detect_packs(reading, nom).unwrap_or_else(|| {
                    log::info!(
                        "cannot autodetect the number of battery packs [{nom:.0}/{reading:.2}]"
                    );
                    1.0
                });
                if p != 1.0 {
                    log::info!(
                        "autodetected {p} as the number of battery packs [{nom:.0}/{reading:.2}]"
                    );
                }
                self.packs = Some(p);
                p
            }
            (None, None, None) => 1.0,
        };
        let voltage = packs * reading;
        let (low, high) = self.limits();
        let by_voltage = match (low, high) {
            (Some(l), Some(h)) => charge_from_voltage(voltage, l, h),
            _ => None,
        };
        let (mut charge, mut runtime) = (by_voltage, None);
        if let Some(cal) = self.config.runtimecal {
            let exp = cal.exponent();
            let nom_rt = cal.nominal_runtime();
            let load = f64::from(status.load_percent.unwrap_or(0)) / 100.0;
            let eff = load
                .powf(exp)
                .max(self.config.idleload)
                .max(f64::MIN_POSITIVE);
            // Without low/high, nutdrv_qx starts from nominal..1.15×nominal.
            let floor = by_voltage
                .or_else(|| nominal.and_then(|n| charge_from_voltage(voltage, n, 1.15 * n)));
            let est = match self.est {
                None => floor.map(|c| nom_rt * c / 100.0),
                Some((est, then)) => {
                    let dt = now.saturating_duration_since(then).as_secs_f64();
                    let est = if status.bits.utility_fail() {
                        (est - eff * dt).max(0.0)
                    } else {
                        let charge_time = self.config.chargetime.as_secs_f64().max(1.0);
                        (est + nom_rt * dt / charge_time).min(nom_rt)
                    };
                    Some(floor.map_or(est, |c| est.max(nom_rt * c / 100.0)))
                }
            };
            if let Some(est) = est {
                self.est = Some((est, now));
                charge = Some(100.0 * est / nom_rt);
                runtime = Some(est / eff);
            }
        }
        Some(BatteryFigures {
            voltage,
            packs,
            charge,
            runtime,
            low,
            high,
            nominal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(line: &str) -> Status {
        Status::parse(line.as_bytes()).unwrap()
    }

    #[test]
    fn charge_follows_the_nutdrv_qx_formula_and_clamps() {
        let mut m = BatteryModel::new(BatteryConfig {
            voltage_nominal: Some(24.0),
            ..BatteryConfig::default()
        });
        let t = Instant::now();
        // low 20.8, high 26.0
        let f = m
            .observe(&st("(230.0 230.0 230.0 020 50.0 23.40 --.- 00001000"), t)
            .unwrap();
        assert_eq!(f.packs, 1.0);
        assert!((f.charge.unwrap() - 50.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.low, Some(20.8));
        assert!((f.high.unwrap() - 26.0).abs() < 1e-9);
        let f = m
            .observe(&st("(230.0 230.0 230.0 020 50.0 27.40 --.- 00001000"), t)
            .unwrap();
        assert_eq!(f.charge, Some(100.0));
        let f = m
            .observe(&st("(230.0 230.0 230.0 020 50.0 19.00 --.- 00001000"), t)
            .unwrap();
        assert_eq!(f.charge, Some(0.0));
        assert!(f.runtime.is_none());
    }

    #[test]
    fn per_cell_readings_are_scaled_to_the_pack() {
        assert_eq!(detect_packs(2.28, 24.0), Some(12.0));
        assert_eq!(detect_packs(27.4, 24.0), Some(1.0));
        assert_eq!(detect_packs(13.6, 24.0), Some(2.0));
        assert_eq!(detect_packs(2.28, 240.0), Some(120.0));
        assert_eq!(detect_packs(1.0, 240.0), None);
        let mut m = BatteryModel::new(BatteryConfig::default());
        m.set_rated(Some(24.0));
        let f = m
            .observe(
                &st("(230.0 230.0 230.0 020 50.0 2.28 --.- 00001000"),
                Instant::now(),
            )
            .unwrap();
        assert_eq!(f.packs, 12.0);
        assert!((f.voltage - 27.36).abs() < 1e-9);
        assert_eq!(f.charge, Some(100.0));
        let mut m = BatteryModel::new(BatteryConfig {
            packs: Some(6.0),
            voltage_nominal: Some(12.0),
            ..BatteryConfig::default()
        });
        let f = m
            .observe(
                &st("(230.0 230.0 230.0 020 50.0 1.95 --.- 00001000"),
                Instant::now(),
            )
            .unwrap();
        assert_eq!(f.packs, 6.0);
        assert!((f.charge.unwrap() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn runtimecal_discharges_by_the_effective_load_and_recharges() {
        let cal = Runtimecal::parse("240,100,720,50").unwrap();
        let exp = cal.exponent();
        assert!((exp - (3f64).ln() / (2f64).ln()).abs() < 1e-12);
        assert!((cal.nominal_runtime() - 240.0).abs() < 1e-9);
        let mut m = BatteryModel::new(BatteryConfig {
            voltage_nominal: Some(24.0),
            runtimecal: Some(cal),
            chargetime: Duration::from_secs(1000),
            ..BatteryConfig::default()
        });
        let t0 = Instant::now();
        let full = m
            .observe(&st("(230.0 230.0 230.0 050 50.0 27.40 --.- 00001000"), t0)
            .unwrap();
        assert_eq!(full.charge, Some(100.0));
        let eff = 0.5f64.powf(exp);
        assert!((full.runtime.unwrap() - 240.0 / eff).abs() < 1e-6);
        // 60 s on battery at 50 %: est = 240 - 60 * eff; voltage says 0 %.
        let ob = m
            .observe(
                &st("(000.0 230.0 230.0 050 00.0 20.00 --.- 10001000"),
                t0 + Duration::from_secs(60),
            )
            .unwrap();
        let est = 240.0 - 60.0 * eff;
        assert!(
            (ob.charge.unwrap() - 100.0 * est / 240.0).abs() < 1e-6,
            "{ob:?}"
        );
        assert!((ob.runtime.unwrap() - est / eff).abs() < 1e-6);
        // Back on line for 50 s with a low voltage: refills 240 * 50 / 1000.
        let ol = m
            .observe(
                &st("(230.0 230.0 230.0 050 50.0 20.00 --.- 00001000"),
                t0 + Duration::from_secs(110),
            )
            .unwrap();
        assert!(
            (ol.charge.unwrap() - 100.0 * (est + 12.0) / 240.0).abs() < 1e-6,
            "{ol:?} {est}"
        );
        // Idle load: never below idleload.
        let idle = m
            .observe(
                &st("(230.0 230.0 230.0 000 50.0 27.40 --.- 00001000"),
                t0 + Duration::from_secs(111),
            )
            .unwrap();
        assert!((idle.runtime.unwrap() - 240.0 / 0.10).abs() < 1e-6);
    }

    #[test]
    fn runtimecal_rejects_what_nut_rejects() {
        for bad in [
            "1,2,3",
            "0,100,10,50",
            "100,100,50,50",
            "100,50,200,60",
            "100,120,200,50",
            "a,b,c,d",
        ] {
            assert!(Runtimecal::parse(bad).is_err(), "{bad}");
        }
    }
}
