//! A fixed-size ring of time buckets per reading: the history behind the
//! page's charts and `/api/history`.
//!
//! The window (default 24 h) is cut into `slots` buckets (default 1440, so
//! one minute each). A sample goes into the bucket of its time: the bucket
//! keeps the smallest, the largest and the last value. The ring is
//! allocated once at its full size and never grows, so a reading's history
//! costs `slots × size_of::<Point>()` bytes whatever the sample rate
//! (1440 × 32 B = 45 KiB by default).

/// One bucket of a reading's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Start of the bucket, seconds since the Unix epoch.
    pub t: f64,
    /// Smallest value in the bucket.
    pub min: f64,
    /// Largest value in the bucket.
    pub max: f64,
    /// Last value in the bucket.
    pub last: f64,
}

/// The history of one reading: at most `slots` buckets of `width` seconds.
#[derive(Debug, Clone)]
pub struct Ring {
    points: Vec<Point>,
    /// Index of the oldest point once the ring is full.
    head: usize,
    slots: usize,
    width: f64,
}

impl Ring {
    /// Makes an empty ring of `slots` buckets of `width` seconds, allocating
    /// all of it now.
    #[must_use]
    pub fn new(slots: usize, width: f64) -> Self {
        let slots = slots.max(1);
        Self {
            points: Vec::with_capacity(slots),
            head: 0,
            slots,
            width: if width.is_finite() && width > 0.0 {
                width
            } else {
                1.0
            },
        }
    }

    /// Returns the bytes the ring's buckets take (its allocation).
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<Point>()
    }

    /// Returns the number of buckets holding samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Returns whether no sample was taken yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Returns the bucket width in seconds.
    #[must_use]
    pub fn width(&self) -> f64 {
        self.width
    }

    fn newest(&self) -> Option<&Point> {
        if self.points.len() < self.slots {
            self.points.last()
        } else {
            let i = self.head.checked_sub(1).unwrap_or(self.slots - 1);
            self.points.get(i)
        }
    }

    fn newest_mut(&mut self) -> Option<&mut Point> {
        if self.points.len() < self.slots {
            self.points.last_mut()
        } else {
            let i = self.head.checked_sub(1).unwrap_or(self.slots - 1);
            self.points.get_mut(i)
        }
    }

    /// Takes a sample `value` at `t` (epoch seconds). Returns false (and
    /// keeps nothing) for a sample older than the newest bucket or not a
    /// finite number.
    pub fn push(&mut self, t: f64, value: f64) -> bool {
        if !t.is_finite() || !value.is_finite() {
            return false;
        }
        let start = (t / self.width).floor() * self.width;
        if let Some(p) = self.newest_mut() {
            if start < p.t {
                return false;
            }
            if start == p.t {
                p.min = p.min.min(value);
                p.max = p.max.max(value);
                p.last = value;
                return true;
            }
        }
        let point = Point {
            t: start,
            min: value,
            max: value,
            last: value,
        };
        if self.points.len() < self.slots {
            self.points.push(point);
        } else if let Some(slot) = self.points.get_mut(self.head) {
            *slot = point;
            self.head = (self.head + 1) % self.slots;
        }
        true
    }

    /// Returns the buckets from `since` on (epoch seconds), oldest first.
    #[must_use]
    pub fn since(&self, since: f64) -> Vec<Point> {
        let (newer, older) = self.points.split_at(self.head.min(self.points.len()));
        older
            .iter()
            .chain(newer)
            .filter(|p| p.t + self.width > since)
            .copied()
            .collect()
    }

    /// Returns the newest bucket's start, if any.
    #[must_use]
    pub fn newest_t(&self) -> Option<f64> {
        self.newest().map(|p| p.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_merge_and_the_ring_wraps_without_growing() {
        let mut ring = Ring::new(4, 10.0);
        let bytes = ring.bytes();
        assert!(ring.push(100.0, 1.0));
        assert!(ring.push(105.0, 3.0));
        assert!(ring.push(109.0, 2.0));
        assert_eq!(
            ring.since(0.0),
            [Point {
                t: 100.0,
                min: 1.0,
                max: 3.0,
                last: 2.0
            }]
        );
        assert!(!ring.push(95.0, 9.0), "older than the newest bucket");
        assert!(!ring.push(f64::NAN, 9.0));
        for (i, t) in [110.0, 120.0, 130.0, 140.0, 150.0].iter().enumerate() {
            assert!(ring.push(*t, i as f64));
        }
        let ts: Vec<f64> = ring.since(0.0).iter().map(|p| p.t).collect();
        assert_eq!(ts, [120.0, 130.0, 140.0, 150.0]);
        assert_eq!(
            ring.since(135.0).len(),
            3,
            "the bucket holding 135 and the later ones"
        );
        assert_eq!(ring.newest_t(), Some(150.0));
        assert_eq!(ring.bytes(), bytes, "allocated once");
    }

    #[test]
    fn a_day_at_one_sample_per_second_fits_the_stated_memory() {
        let mut ring = Ring::new(1440, 60.0);
        for s in 0..86_400u32 {
            ring.push(1_700_000_000.0 + f64::from(s), f64::from(s % 7));
        }
        assert_eq!(ring.len(), 1440);
        assert!(ring.bytes() <= 1440 * 32, "{}", ring.bytes());
    }
}
