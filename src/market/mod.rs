//! The vocabulary of market data that every other module speaks: symbols and their asset
//! class, timeframes, bars, half-open time intervals, the `WHEN` syntax of `--start`/`--end`,
//! the US equity market calendar, corporate actions, the adjustment of bars for them, and
//! bars built from finer bars (`aggregate`).
//!
//! Everything here is pure: no I/O, no clock reads (the current time is always passed in).

pub mod adjustment;
pub mod aggregate;
pub mod asset;
pub mod bar;
pub mod calendar;
pub mod corporate_action;
pub mod interval;
pub mod symbol;
pub mod time_spec;
pub mod timeframe;

pub use adjustment::Adjustments;
pub use asset::{Asset, AssetFilter, AssetStatus, Closing, ClosingReason, Renaming, Universe};
pub use bar::{Bar, Volume};
pub use corporate_action::{ActionKind, CorporateAction, TickerEnd};
pub use interval::{Interval, IntervalSet};
pub use symbol::{AssetClass, Feed, Symbol, shown_input};
pub use time_spec::When;
pub use timeframe::Timeframe;

/// The time zone US equity sessions, daily bar stamps and date-only arguments are expressed in.
pub const NEW_YORK: chrono_tz::Tz = chrono_tz::America::New_York;
