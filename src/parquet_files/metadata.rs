//! The key-value metadata that makes a series file describe itself.
//!
//! Stored under the Parquet footer key `barkeep` as one JSON object:
//!
//! ```json
//! {"format_version":1,"symbol":"AAPL","asset_class":"stocks","feed":"sip","timeframe":"1Day",
//!  "coverage":[["2020-01-02T05:00:00Z","2024-12-31T05:00:00Z"]],
//!  "provisional":[["2024-12-31T05:00:00Z","2025-01-02T05:00:00Z"]],
//!  "updated_at":"2025-01-02T06:00:00Z"}
//! ```
//!
//! `coverage` lists the half-open intervals `[start, end)` (RFC 3339, UTC) that Alpaca has
//! already been asked for and answered, sorted and disjoint. A bar with timestamp `t` is known
//! for every covered `t`; a covered instant without a row means Alpaca had no bar there.
//! `provisional` lists intervals that were answered but had not settled yet: their bars are
//! stored, but they are asked for again. Every row lies inside `coverage` or `provisional`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::Error;
use crate::market::{AssetClass, Feed, Interval, IntervalSet, Symbol, Timeframe};

/// The footer key under which the metadata JSON lives.
pub const METADATA_KEY: &str = "barkeep";
pub const FORMAT_VERSION: u32 = 1;

/// What a series file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesMetadata {
    pub symbol: Symbol,
    pub feed: Feed,
    pub timeframe: Timeframe,
    pub coverage: IntervalSet,
    /// Answered but not settled: stored, asked again next time. Disjoint from `coverage`.
    pub provisional: IntervalSet,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Json {
    format_version: u32,
    symbol: String,
    asset_class: String,
    feed: String,
    timeframe: String,
    coverage: Vec<[String; 2]>,
    #[serde(default)]
    provisional: Vec<[String; 2]>,
    updated_at: String,
}

/// RFC 3339 in UTC with a `Z`, with fractional seconds only when present.
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::Metadata(format!("bad time `{s}`")))
}

fn to_pairs(set: &IntervalSet) -> Vec<[String; 2]> {
    set.intervals()
        .iter()
        .map(|i| [format_instant(i.start), format_instant(i.end)])
        .collect()
}

fn from_pairs(pairs: &[[String; 2]]) -> Result<IntervalSet, Error> {
    let mut set = IntervalSet::new();
    for [start, end] in pairs {
        let interval = Interval::new(parse_instant(start)?, parse_instant(end)?)
            .ok_or_else(|| Error::Metadata(format!("empty interval [{start}, {end})")))?;
        set.insert(interval);
    }
    Ok(set)
}

impl SeriesMetadata {
    pub fn to_json(&self) -> String {
        let json = Json {
            format_version: FORMAT_VERSION,
            symbol: self.symbol.to_string(),
            asset_class: self.feed.asset_class().as_str().to_owned(),
            feed: self.feed.as_str().to_owned(),
            timeframe: self.timeframe.to_string(),
            coverage: to_pairs(&self.coverage),
            provisional: to_pairs(&self.provisional),
            updated_at: format_instant(self.updated_at),
        };
        serde_json::to_string(&json).expect("metadata serialises")
    }

    pub fn from_json(text: &str) -> Result<Self, Error> {
        let json: Json = serde_json::from_str(text).map_err(|e| Error::Metadata(e.to_string()))?;
        if json.format_version != FORMAT_VERSION {
            return Err(Error::Metadata(format!(
                "format version {} is not supported by this barkeep (expects {FORMAT_VERSION})",
                json.format_version
            )));
        }
        let symbol: Symbol = json
            .symbol
            .parse()
            .map_err(|e: crate::market::symbol::SymbolError| Error::Metadata(e.to_string()))?;
        let class = AssetClass::parse(&json.asset_class).ok_or_else(|| {
            Error::Metadata(format!("unknown asset class `{}`", json.asset_class))
        })?;
        let feed = Feed::parse(class, &json.feed)
            .ok_or_else(|| Error::Metadata(format!("unknown feed `{}`", json.feed)))?;
        let timeframe: Timeframe =
            json.timeframe
                .parse()
                .map_err(|e: crate::market::timeframe::TimeframeError| {
                    Error::Metadata(e.to_string())
                })?;
        let coverage = from_pairs(&json.coverage)?;
        let provisional = from_pairs(&json.provisional)?;
        Ok(SeriesMetadata {
            symbol,
            feed,
            timeframe,
            coverage,
            provisional,
            updated_at: parse_instant(&json.updated_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let meta = SeriesMetadata {
            symbol: "BTC/USD".parse().unwrap(),
            feed: Feed::CryptoUs,
            timeframe: "1H".parse().unwrap(),
            coverage: IntervalSet::from_intervals([
                Interval::new(t("2024-01-01T00:00:00Z"), t("2024-02-01T00:00:00Z")).unwrap(),
                Interval::new(t("2024-03-01T00:00:00Z"), t("2024-03-01T00:00:00.5Z")).unwrap(),
            ]),
            provisional: IntervalSet::from_intervals([Interval::new(
                t("2024-03-01T00:00:00.5Z"),
                t("2024-03-02T00:00:00Z"),
            )
            .unwrap()]),
            updated_at: t("2024-03-02T00:00:00Z"),
        };
        let json = meta.to_json();
        assert!(json.contains(r#""coverage":[["2024-01-01T00:00:00Z","2024-02-01T00:00:00Z"],["2024-03-01T00:00:00Z","2024-03-01T00:00:00.500Z"]]"#), "{json}");
        assert_eq!(SeriesMetadata::from_json(&json).unwrap(), meta);
        assert!(SeriesMetadata::from_json("{}").is_err());
    }
}
