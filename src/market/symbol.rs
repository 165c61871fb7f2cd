//! Validated symbols, the asset class they imply, and the data feed a series comes from.
//!
//! A symbol containing `/` (`BTC/USD`) is crypto; anything else is a US stock. Validation is
//! strict on purpose: Alpaca rejects a whole multi-symbol request for one malformed ticker,
//! and a symbol becomes part of a file name in the cache.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

/// Which Alpaca endpoint family a symbol belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssetClass {
    Stocks,
    Crypto,
}

impl AssetClass {
    /// The directory name in the cache, also used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetClass::Stocks => "stocks",
            AssetClass::Crypto => "crypto",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "stocks" => Some(AssetClass::Stocks),
            "crypto" => Some(AssetClass::Crypto),
            _ => None,
        }
    }

    /// The calendar date of an instant where the class trades: New York for stocks, UTC for
    /// crypto (the days Alpaca's daily bars are stamped by).
    pub fn local_date(self, t: DateTime<Utc>) -> NaiveDate {
        match self {
            AssetClass::Stocks => t.with_timezone(&super::NEW_YORK).date_naive(),
            AssetClass::Crypto => t.date_naive(),
        }
    }

    /// The first instant of `date` where the class trades (see [`AssetClass::local_date`]).
    pub fn day_start(self, date: NaiveDate) -> DateTime<Utc> {
        match self {
            AssetClass::Stocks => super::time_spec::midnight(date, &super::NEW_YORK),
            AssetClass::Crypto => super::time_spec::midnight(date, &Utc),
        }
    }
}

impl fmt::Display for AssetClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An uppercase, validated symbol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid symbol `{input}`: {reason}")]
pub struct SymbolError {
    input: String,
    reason: &'static str,
}

const MAX_SYMBOL_LEN: usize = 21;

/// The most characters of someone else's text (a rejected symbol, a key in Alpaca's answer)
/// an error message repeats.
const SHOWN_INPUT_CHARS: usize = 40;

/// `text` as an error message may repeat it: control characters and quotes escaped (so a
/// message stays one line and cannot drive the terminal), and cut after 40 characters with
/// the full length noted.
pub fn shown_input(text: &str) -> String {
    let count = text.chars().count();
    let kept: String = text.chars().take(SHOWN_INPUT_CHARS).collect();
    let escaped = kept.escape_debug().to_string();
    if count > SHOWN_INPUT_CHARS {
        format!("{escaped}… ({count} characters)")
    } else {
        escaped
    }
}

impl Symbol {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn asset_class(&self) -> AssetClass {
        if self.0.contains('/') {
            AssetClass::Crypto
        } else {
            AssetClass::Stocks
        }
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| SymbolError {
            input: shown_input(input),
            reason,
        };
        let upper = input.trim().to_ascii_uppercase();
        if upper.is_empty() {
            return Err(err("it is empty"));
        }
        if upper.len() > MAX_SYMBOL_LEN {
            return Err(err("it is longer than 21 characters"));
        }
        if let Some((base, quote)) = upper.split_once('/') {
            let part_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric());
            if !part_ok(base) || !part_ok(quote) {
                return Err(err(
                    "crypto pairs look like BTC/USD (letters and digits on both sides of one `/`)",
                ));
            }
        } else {
            if !upper
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
            {
                return Err(err("stock symbols start with a letter"));
            }
            if !upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'.' || b == b'-')
            {
                return Err(err(
                    "stock symbols hold only letters, `.` and `-` (e.g. AAPL, BRK.B); crypto pairs look like BTC/USD",
                ));
            }
        }
        Ok(Symbol(upper))
    }
}

/// Where bars come from: a stock feed (`sip`, `iex`, `otc`, `boats`) or a crypto location (`us`).
/// Part of a series' identity: bars from different feeds are never mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feed {
    Sip,
    Iex,
    Otc,
    Boats,
    CryptoUs,
}

impl Feed {
    pub const STOCK_FEEDS: [Feed; 4] = [Feed::Sip, Feed::Iex, Feed::Otc, Feed::Boats];

    pub fn as_str(self) -> &'static str {
        match self {
            Feed::Sip => "sip",
            Feed::Iex => "iex",
            Feed::Otc => "otc",
            Feed::Boats => "boats",
            Feed::CryptoUs => "us",
        }
    }

    pub fn asset_class(self) -> AssetClass {
        if self == Feed::CryptoUs {
            AssetClass::Crypto
        } else {
            AssetClass::Stocks
        }
    }

    /// The feed of `class` named `name` (as in the cache layout), if any.
    pub fn parse(class: AssetClass, name: &str) -> Option<Feed> {
        match class {
            AssetClass::Stocks => Feed::STOCK_FEEDS.into_iter().find(|f| f.as_str() == name),
            AssetClass::Crypto => (name == "us").then_some(Feed::CryptoUs),
        }
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_classifies() {
        let s: Symbol = "aapl".parse().unwrap();
        assert_eq!(s.as_str(), "AAPL");
        assert_eq!(s.asset_class(), AssetClass::Stocks);
        let c: Symbol = "btc/usd".parse().unwrap();
        assert_eq!(c.as_str(), "BTC/USD");
        assert_eq!(c.asset_class(), AssetClass::Crypto);
        assert_eq!("BRK.B".parse::<Symbol>().unwrap().as_str(), "BRK.B");
    }

    #[test]
    fn errors_repeat_bad_input_escaped_and_short() {
        let long = "A".repeat(10_000);
        let message = long.parse::<Symbol>().unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("(10000 characters)"), "{message}");
        let message = "A\x1b[31mB\nC".parse::<Symbol>().unwrap_err().to_string();
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(message.contains("\\u{1b}"), "{message}");
    }

    #[test]
    fn rejects_paths_and_garbage() {
        for bad in [
            "",
            "../x",
            "/",
            "a/b/c",
            "x\0y",
            "..",
            ".",
            "CSP1",
            "A B",
            "BTC/",
            "/USD",
            "ÄPL",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(bad.parse::<Symbol>().is_err(), "{bad:?}");
        }
    }
}
