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
//! A series whose symbol ended (delisted, renamed, acquired; issue 23) also records it, and
//! nothing at or after `end` is ever asked:
//! `"closed":{"date":"2023-03-15","end":"2023-03-16T04:00:00Z","reason":"delisted","successor":null}`.
//! Files without the key (all files before it) read as open; older binaries ignore the key.
//! A ticker that took over another company's history by a rename records it the same way,
//! with the span it dropped and asked again:
//! `"renamed_from":{"symbol":"FB","date":"2022-06-09","restated":["2021-06-01T04:00:00Z","2022-06-09T04:00:00Z"]}`.
//!
//! `coverage` lists the half-open intervals `[start, end)` (RFC 3339, UTC) that Alpaca has
//! already been asked for and answered, sorted and disjoint. A bar with timestamp `t` is known
//! for every covered `t`; a covered instant without a row means Alpaca had no bar there.
//! `provisional` lists intervals that were answered but had not settled yet: their bars are
//! stored, but they are asked for again. Every row lies inside `coverage` or `provisional`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::Error;
use crate::market::{
    AssetClass, Closing, ClosingReason, Feed, Interval, IntervalSet, Renaming, Symbol, Timeframe,
};

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
    /// When and why the symbol ended, if it did.
    pub closed: Option<Closing>,
    /// The rename by which the ticker took over another company's history, if one did.
    pub renamed_from: Option<Renaming>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed: Option<JsonClosing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    renamed_from: Option<JsonRenaming>,
}

#[derive(Serialize, Deserialize)]
struct JsonRenaming {
    symbol: String,
    date: String,
    #[serde(default)]
    restated: Option<[String; 2]>,
}

fn renaming_to_json(r: &Renaming) -> JsonRenaming {
    JsonRenaming {
        symbol: r.old_symbol.to_string(),
        date: r.date.to_string(),
        restated: r
            .restated
            .map(|i| [format_instant(i.start), format_instant(i.end)]),
    }
}

fn renaming_from_json(r: &JsonRenaming) -> Result<Renaming, Error> {
    let bad = |what: &str| Error::Metadata(format!("bad `renamed_from` {what}"));
    let restated = match &r.restated {
        Some([start, end]) => Some(
            Interval::new(parse_instant(start)?, parse_instant(end)?).ok_or_else(|| bad("span"))?,
        ),
        None => None,
    };
    Ok(Renaming {
        old_symbol: r.symbol.parse().map_err(|_| bad("symbol"))?,
        date: NaiveDate::parse_from_str(&r.date, "%Y-%m-%d").map_err(|_| bad("date"))?,
        restated,
    })
}

#[derive(Serialize, Deserialize)]
struct JsonClosing {
    date: String,
    end: String,
    reason: String,
    successor: Option<String>,
}

fn closing_to_json(c: &Closing) -> JsonClosing {
    JsonClosing {
        date: c.date.to_string(),
        end: format_instant(c.end),
        reason: c.reason.as_str().to_owned(),
        successor: c.successor.as_ref().map(ToString::to_string),
    }
}

fn closing_from_json(c: &JsonClosing) -> Result<Closing, Error> {
    let bad = |what: &str| Error::Metadata(format!("bad `closed` {what}"));
    Ok(Closing {
        date: NaiveDate::parse_from_str(&c.date, "%Y-%m-%d").map_err(|_| bad("date"))?,
        end: parse_instant(&c.end)?,
        reason: ClosingReason::parse(&c.reason).ok_or_else(|| bad("reason"))?,
        successor: match &c.successor {
            Some(s) => Some(s.parse().map_err(|_| bad("successor"))?),
            None => None,
        },
    })
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
            closed: self.closed.as_ref().map(closing_to_json),
            renamed_from: self.renamed_from.as_ref().map(renaming_to_json),
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
            closed: json.closed.as_ref().map(closing_from_json).transpose()?,
            renamed_from: json
                .renamed_from
                .as_ref()
                .map(renaming_from_json)
                .transpose()?,
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
            closed: None,
            renamed_from: None,
        };
        let json = meta.to_json();
        assert!(
            !json.contains("closed") && !json.contains("renamed_from"),
            "an open series writes what older files hold"
        );
        assert!(json.contains(r#""coverage":[["2024-01-01T00:00:00Z","2024-02-01T00:00:00Z"],["2024-03-01T00:00:00Z","2024-03-01T00:00:00.500Z"]]"#), "{json}");
        assert_eq!(SeriesMetadata::from_json(&json).unwrap(), meta);
        assert!(SeriesMetadata::from_json("{}").is_err());

        let closed = SeriesMetadata {
            closed: Some(Closing {
                date: "2022-06-09".parse().unwrap(),
                end: t("2022-06-09T04:00:00Z"),
                reason: ClosingReason::Renamed,
                successor: Some("META".parse().unwrap()),
            }),
            ..meta.clone()
        };
        let json = closed.to_json();
        assert!(json.contains(r#""closed":{"date":"2022-06-09","end":"2022-06-09T04:00:00Z","reason":"renamed","successor":"META"}"#), "{json}");
        assert_eq!(SeriesMetadata::from_json(&json).unwrap(), closed);
        assert_eq!(
            closed.closed.unwrap().to_string(),
            "renamed to META on 2022-06-09"
        );

        let renamed = SeriesMetadata {
            renamed_from: Some(Renaming {
                old_symbol: "FB".parse().unwrap(),
                date: "2022-06-09".parse().unwrap(),
                restated: Interval::new(t("2021-06-01T04:00:00Z"), t("2022-06-09T04:00:00Z")),
            }),
            ..meta
        };
        let json = renamed.to_json();
        assert!(json.contains(r#""renamed_from":{"symbol":"FB","date":"2022-06-09","restated":["2021-06-01T04:00:00Z","2022-06-09T04:00:00Z"]}"#), "{json}");
        assert_eq!(SeriesMetadata::from_json(&json).unwrap(), renamed);
        assert_eq!(
            renamed.renamed_from.unwrap().to_string(),
            "renamed from FB on 2022-06-09"
        );
    }
}
