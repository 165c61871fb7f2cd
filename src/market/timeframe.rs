//! Bar timeframes: every spelling Alpaca accepts, one canonical spelling for paths and output.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

/// A validated timeframe such as 15Min or 1Day. `Display` gives the canonical spelling
/// (`1Min`, `15Min`, `1Hour`, `1Day`, `1Week`, `3Month`), which Alpaca also accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeframe {
    // Field order matters: the derived `Ord` sorts by unit, then amount (shortest first).
    unit: TimeUnit,
    amount: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown timeframe `{input}`: {reason}; use [1-59]Min, [1-23]Hour, 1Day, 1Week or 1/2/3/4/6/12Month (short forms T, H, D, W, M)"
)]
pub struct TimeframeError {
    input: String,
    reason: &'static str,
}

impl Timeframe {
    pub const ONE_DAY: Timeframe = Timeframe {
        amount: 1,
        unit: TimeUnit::Day,
    };

    pub fn new(amount: u32, unit: TimeUnit) -> Option<Self> {
        let valid = match unit {
            TimeUnit::Minute => (1..=59).contains(&amount),
            TimeUnit::Hour => (1..=23).contains(&amount),
            TimeUnit::Day | TimeUnit::Week => amount == 1,
            TimeUnit::Month => matches!(amount, 1 | 2 | 3 | 4 | 6 | 12),
        };
        valid.then_some(Self { amount, unit })
    }

    pub fn amount(self) -> u32 {
        self.amount
    }

    pub fn unit(self) -> TimeUnit {
        self.unit
    }

    /// True for minute and hour timeframes.
    pub fn is_intraday(self) -> bool {
        matches!(self.unit, TimeUnit::Minute | TimeUnit::Hour)
    }

    /// An upper bound on the wall-clock length of one bar (a New York day can last 25 hours,
    /// a month 31 days), used to decide when a bar can no longer change.
    pub fn max_bar_length(self) -> TimeDelta {
        let amount = i64::from(self.amount);
        match self.unit {
            TimeUnit::Minute => TimeDelta::minutes(amount),
            TimeUnit::Hour => TimeDelta::hours(amount),
            TimeUnit::Day => TimeDelta::hours(25),
            TimeUnit::Week => TimeDelta::days(7) + TimeDelta::hours(1),
            TimeUnit::Month => TimeDelta::days(31 * amount) + TimeDelta::hours(1),
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            TimeUnit::Minute => "Min",
            TimeUnit::Hour => "Hour",
            TimeUnit::Day => "Day",
            TimeUnit::Week => "Week",
            TimeUnit::Month => "Month",
        };
        write!(f, "{}{unit}", self.amount)
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| TimeframeError {
            input: input.to_owned(),
            reason,
        };
        let digits = input.bytes().take_while(u8::is_ascii_digit).count();
        let (number, suffix) = input.split_at(digits);
        if number.is_empty() {
            return Err(err("it must start with a number"));
        }
        let amount: u32 = number.parse().map_err(|_| err("the number is too large"))?;
        // Short forms are case-sensitive as Alpaca spells them (`M` is Month, `T` is Minute);
        // long forms are accepted in any case for convenience.
        let unit = match suffix {
            "T" => TimeUnit::Minute,
            "H" => TimeUnit::Hour,
            "D" => TimeUnit::Day,
            "W" => TimeUnit::Week,
            "M" => TimeUnit::Month,
            "m" => return Err(err("`m` is ambiguous (minute or month)")),
            long => match long.to_ascii_lowercase().as_str() {
                "min" => TimeUnit::Minute,
                "hour" => TimeUnit::Hour,
                "day" => TimeUnit::Day,
                "week" => TimeUnit::Week,
                "month" => TimeUnit::Month,
                _ => return Err(err("the unit is not one Alpaca knows")),
            },
        };
        Timeframe::new(amount, unit)
            .ok_or_else(|| err("Alpaca does not offer that amount for this unit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_every_alpaca_spelling_and_prints_one() {
        for (input, canonical) in [
            ("1Min", "1Min"),
            ("1T", "1Min"),
            ("59Min", "59Min"),
            ("15min", "15Min"),
            ("1Hour", "1Hour"),
            ("4H", "4Hour"),
            ("23Hour", "23Hour"),
            ("1Day", "1Day"),
            ("1D", "1Day"),
            ("1day", "1Day"),
            ("1Week", "1Week"),
            ("1W", "1Week"),
            ("1Month", "1Month"),
            ("4M", "4Month"),
            ("12Month", "12Month"),
        ] {
            assert_eq!(
                input.parse::<Timeframe>().unwrap().to_string(),
                canonical,
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_what_alpaca_rejects() {
        for input in [
            "",
            "Min",
            "0Min",
            "60Min",
            "24Hour",
            "2Day",
            "2Week",
            "5Month",
            "3Fortnight",
            "1m",
            "30Sec",
            "-1Min",
        ] {
            assert!(input.parse::<Timeframe>().is_err(), "{input}");
        }
    }

    proptest! {
        #[test]
        fn canonical_spelling_round_trips(amount in 1u32..60, unit in 0usize..5) {
            let unit = [TimeUnit::Minute, TimeUnit::Hour, TimeUnit::Day, TimeUnit::Week, TimeUnit::Month][unit];
            if let Some(tf) = Timeframe::new(amount, unit) {
                prop_assert_eq!(tf.to_string().parse::<Timeframe>().unwrap(), tf);
            }
        }
    }
}
