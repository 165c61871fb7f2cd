//! One OHLCV bar as Alpaca reports it, before any adjustment.

use chrono::{DateTime, Utc};

/// Traded volume. Stocks trade whole shares; crypto trades fractional units. The two are kept
/// apart so stock volume is stored as an exact unsigned integer and crypto volume as a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Volume {
    Shares(u64),
    Units(f64),
}

/// One bar: `timestamp` is the start of the bar's interval, in UTC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub timestamp: DateTime<Utc>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: Volume,
    pub trade_count: u64,
    pub vwap: f64,
}

/// Puts `bars` in time order with one bar per timestamp, as a series stores them. Of bars
/// sharing a timestamp (a bar repeated at a page boundary, or by windows stitched at an
/// inclusive end, or by a retried request), the one that came later in `bars` wins: it is the
/// later answer. Returns how many repeats were dropped. Bars already in order cost one pass.
pub fn sort_keeping_last(bars: &mut Vec<Bar>) -> usize {
    if bars.windows(2).all(|w| w[0].timestamp < w[1].timestamp) {
        return 0;
    }
    // A stable sort keeps repeats in arrival order, so the last of each run is the latest.
    bars.sort_by_key(|b| b.timestamp);
    let before = bars.len();
    let mut kept = 0;
    for i in 0..bars.len() {
        if kept > 0 && bars[kept - 1].timestamp == bars[i].timestamp {
            bars[kept - 1] = bars[i];
        } else {
            bars[kept] = bars[i];
            kept += 1;
        }
    }
    bars.truncate(kept);
    before - kept
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn bar(second: u32, close: f64) -> Bar {
        Bar {
            timestamp: Utc.with_ymd_and_hms(2024, 6, 5, 14, 51, second).unwrap(),
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close,
            volume: Volume::Shares(10),
            trade_count: 1,
            vwap: 1.0,
        }
    }

    #[test]
    fn repeats_are_dropped_and_the_later_copy_wins() {
        let mut bars = vec![
            bar(0, 1.0),
            bar(1, 1.0),
            bar(1, 9.0),
            bar(2, 1.0),
            bar(0, 7.0),
        ];
        assert_eq!(sort_keeping_last(&mut bars), 2);
        let closes: Vec<(u32, f64)> = bars
            .iter()
            .map(|b| (b.timestamp.timestamp() as u32 % 60, b.close))
            .collect();
        assert_eq!(closes, [(0, 7.0), (1, 9.0), (2, 1.0)]);
    }

    #[test]
    fn ordered_bars_are_left_alone() {
        let mut bars = vec![bar(0, 1.0), bar(1, 2.0), bar(2, 3.0)];
        let before = bars.clone();
        assert_eq!(sort_keeping_last(&mut bars), 0);
        assert_eq!(bars, before);
        let mut empty = Vec::new();
        assert_eq!(sort_keeping_last(&mut empty), 0);
    }
}
