//! Half-open time intervals `[start, end)` and sets of them. Coverage (what the cache has
//! already asked Alpaca for) and gaps (what it still has to ask) are both `IntervalSet`s.

use chrono::{DateTime, Utc};

/// A half-open interval of instants, `start <= t < end`. Never empty once constructed
/// through [`Interval::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    /// `None` when the interval would be empty (`end <= start`).
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// The overlap of two intervals, if any.
    pub fn intersect(&self, other: &Interval) -> Option<Interval> {
        Interval::new(self.start.max(other.start), self.end.min(other.end))
    }

    /// The smallest interval containing both.
    pub fn hull(&self, other: &Interval) -> Interval {
        Interval {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A normalised set of intervals: sorted, disjoint and with no two touching (touching
/// intervals are merged), so equal sets have equal representations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalSet {
    intervals: Vec<Interval>,
}

impl IntervalSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_intervals(intervals: impl IntoIterator<Item = Interval>) -> Self {
        let mut set = Self::new();
        for interval in intervals {
            set.insert(interval);
        }
        set
    }

    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let idx = self.intervals.partition_point(|i| i.end <= t);
        self.intervals.get(idx).is_some_and(|i| i.contains(t))
    }

    /// Adds an interval, merging it with every interval it overlaps or touches.
    pub fn insert(&mut self, interval: Interval) {
        let mut merged = interval;
        // First interval that could overlap or touch: its end is >= merged.start.
        let first = self.intervals.partition_point(|i| i.end < merged.start);
        let mut last = first;
        while last < self.intervals.len() && self.intervals[last].start <= merged.end {
            merged.start = merged.start.min(self.intervals[last].start);
            merged.end = merged.end.max(self.intervals[last].end);
            last += 1;
        }
        self.intervals.splice(first..last, [merged]);
    }

    pub fn insert_all(&mut self, other: &IntervalSet) {
        for interval in &other.intervals {
            self.insert(*interval);
        }
    }

    /// The parts of `range` this set does not contain, in order.
    pub fn missing_from(&self, range: Interval) -> Vec<Interval> {
        let mut gaps = Vec::new();
        let mut cursor = range.start;
        for covered in &self.intervals {
            if covered.end <= cursor {
                continue;
            }
            if covered.start >= range.end {
                break;
            }
            if let Some(gap) = Interval::new(cursor, covered.start.min(range.end)) {
                gaps.push(gap);
            }
            cursor = cursor.max(covered.end);
            if cursor >= range.end {
                break;
            }
        }
        if let Some(gap) = Interval::new(cursor, range.end) {
            gaps.push(gap);
        }
        gaps
    }

    /// This set without anything in `other`.
    pub fn difference(&self, other: &IntervalSet) -> IntervalSet {
        IntervalSet::from_intervals(self.intervals.iter().flat_map(|i| other.missing_from(*i)))
    }

    /// Removes everything before `cutoff` (used by retention).
    pub fn remove_before(&mut self, cutoff: DateTime<Utc>) {
        self.intervals.retain(|i| i.end > cutoff);
        if let Some(first) = self.intervals.first_mut() {
            first.start = first.start.max(cutoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, h, 0, 0).unwrap()
    }

    fn iv(a: u32, b: u32) -> Interval {
        Interval::new(t(a), t(b)).unwrap()
    }

    #[test]
    fn insert_merges_overlapping_and_touching() {
        let set = IntervalSet::from_intervals([iv(1, 3), iv(5, 7), iv(3, 4), iv(6, 9)]);
        assert_eq!(set.intervals(), &[iv(1, 4), iv(5, 9)]);
        let set = IntervalSet::from_intervals([iv(5, 7), iv(1, 2), iv(0, 10)]);
        assert_eq!(set.intervals(), &[iv(0, 10)]);
    }

    #[test]
    fn missing_from_reports_head_hole_and_tail() {
        let set = IntervalSet::from_intervals([iv(2, 4), iv(6, 8)]);
        assert_eq!(
            set.missing_from(iv(0, 10)),
            vec![iv(0, 2), iv(4, 6), iv(8, 10)]
        );
        assert_eq!(set.missing_from(iv(2, 4)), vec![]);
        assert_eq!(set.missing_from(iv(3, 7)), vec![iv(4, 6)]);
    }

    #[test]
    fn difference_cuts_out_the_other_set() {
        let a = IntervalSet::from_intervals([iv(0, 10)]);
        let b = IntervalSet::from_intervals([iv(2, 3), iv(5, 12)]);
        assert_eq!(a.difference(&b).intervals(), &[iv(0, 2), iv(3, 5)]);
        assert!(
            b.difference(&IntervalSet::from_intervals([iv(0, 20)]))
                .is_empty()
        );
    }

    #[test]
    fn remove_before_trims_the_first_interval() {
        let mut set = IntervalSet::from_intervals([iv(1, 3), iv(5, 9)]);
        set.remove_before(t(6));
        assert_eq!(set.intervals(), &[iv(6, 9)]);
        assert!(set.contains(t(6)));
        assert!(!set.contains(t(9)));
    }
}
