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
