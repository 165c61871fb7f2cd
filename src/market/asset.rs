//! An entry of Alpaca's assets list (the Trading API's `GET /v2/assets`): a tradable or
//! data-only symbol with its name, listing exchange and whether it is still active, and the
//! two classes of assets the list is asked for (`us_equity`, `crypto`). Pure vocabulary: the
//! endpoint is `api::assets`, the cached copy `cache::assets_list`. Also how a series ends or
//! takes over another ticker's history (`Closing`, `Renaming`), as its footer records it.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use super::{AssetClass, Interval, Symbol};

/// The class of assets `update --universe` mirrors, named as Alpaca's `asset_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Universe {
    UsEquity,
    Crypto,
}

impl Universe {
    pub const ALL: [Universe; 2] = [Universe::UsEquity, Universe::Crypto];

    /// Alpaca's name: `us_equity`, `crypto`.
    pub fn as_str(self) -> &'static str {
        match self {
            Universe::UsEquity => "us_equity",
            Universe::Crypto => "crypto",
        }
    }

    pub fn parse(name: &str) -> Option<Universe> {
        Universe::ALL.into_iter().find(|u| u.as_str() == name)
    }

    /// The class of barkeep's series its symbols belong to.
    pub fn asset_class(self) -> AssetClass {
        match self {
            Universe::UsEquity => AssetClass::Stocks,
            Universe::Crypto => AssetClass::Crypto,
        }
    }
}

impl fmt::Display for Universe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether Alpaca still lists the asset as trading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetStatus {
    Active,
    /// Delisted (or otherwise ended): its history stops at some date.
    Inactive,
}

impl AssetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetStatus::Active => "active",
            AssetStatus::Inactive => "inactive",
        }
    }

    pub fn parse(name: &str) -> Option<AssetStatus> {
        match name {
            "active" => Some(AssetStatus::Active),
            "inactive" => Some(AssetStatus::Inactive),
            _ => None,
        }
    }
}

/// One asset of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub symbol: Symbol,
    /// The company's or pair's name, as Alpaca spells it (may be empty).
    pub name: String,
    /// The listing exchange, upper case (`NASDAQ`, `NYSE`, `ARCA`, `CRYPTO`, ...).
    pub exchange: String,
    pub status: AssetStatus,
}

/// Which assets of a list a universe run takes: the active ones (and the inactive ones with
/// `include_inactive`), on one of `exchanges` when any is given (compared without case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFilter {
    pub include_inactive: bool,
    /// Upper case; empty means every exchange.
    pub exchanges: Vec<String>,
}

impl AssetFilter {
    pub fn matches(&self, asset: &Asset) -> bool {
        (self.include_inactive || asset.status == AssetStatus::Active)
            && (self.exchanges.is_empty()
                || self
                    .exchanges
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(&asset.exchange)))
    }
}

/// Why a series ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosingReason {
    /// The asset is inactive in Alpaca's assets list, or was removed as worthless.
    Delisted,
    /// A `name_change` moved the ticker to its successor.
    Renamed,
    /// The acquiree of a merger.
    Acquired,
}

impl ClosingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosingReason::Delisted => "delisted",
            ClosingReason::Renamed => "renamed",
            ClosingReason::Acquired => "acquired",
        }
    }

    pub fn parse(name: &str) -> Option<ClosingReason> {
        [
            ClosingReason::Delisted,
            ClosingReason::Renamed,
            ClosingReason::Acquired,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

/// The end of a series whose symbol ended: nothing is asked from `end` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// The date shown: the last trading day of a delisted symbol, the process date of a
    /// rename or merger (New York).
    pub date: NaiveDate,
    /// Nothing is asked at or after this instant.
    pub end: DateTime<Utc>,
    pub reason: ClosingReason,
    /// The symbol the company trades under now, when there is one.
    pub successor: Option<Symbol>,
}

impl fmt::Display for Closing {
    /// `delisted 2023-03-15`, `renamed to META on 2022-06-09`, `acquired by GAME on
    /// 2024-03-11`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = self.reason.as_str();
        match (&self.reason, &self.successor) {
            (ClosingReason::Acquired, Some(acquirer)) => {
                write!(f, "{reason} by {acquirer} on {}", self.date)
            }
            (_, Some(successor)) => write!(f, "{reason} to {successor} on {}", self.date),
            (_, None) => write!(f, "{reason} {}", self.date),
        }
    }
}

/// A ticker that another company took over by a rename (`name_change`, issue 23): from
/// `date` the ticker names the company formerly `old_symbol`, and Alpaca serves that
/// company's history under it. What the cache held of the ticker before the rename was known
/// (another company's bars, or answers that may predate the mapping) was dropped: `restated`
/// is that span, asked again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renaming {
    pub old_symbol: Symbol,
    /// The process date of the name change (New York).
    pub date: NaiveDate,
    /// The span dropped and asked again: from the first instant held to the rename (`None`
    /// when nothing was held before it).
    pub restated: Option<Interval>,
}

impl fmt::Display for Renaming {
    /// `renamed from FB on 2022-06-09`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "renamed from {} on {}", self.old_symbol, self.date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(symbol: &str, exchange: &str, status: AssetStatus) -> Asset {
        Asset {
            symbol: symbol.parse().unwrap(),
            name: String::new(),
            exchange: exchange.to_owned(),
            status,
        }
    }

    #[test]
    fn the_filter_takes_active_assets_of_the_exchanges_named() {
        let live = asset("AAA", "NASDAQ", AssetStatus::Active);
        let gone = asset("BBB", "NYSE", AssetStatus::Inactive);
        let all = AssetFilter::default();
        assert!(all.matches(&live) && !all.matches(&gone));
        let with_inactive = AssetFilter {
            include_inactive: true,
            exchanges: Vec::new(),
        };
        assert!(with_inactive.matches(&live) && with_inactive.matches(&gone));
        let nyse = AssetFilter {
            include_inactive: true,
            exchanges: vec!["nyse".to_owned()],
        };
        assert!(!nyse.matches(&live) && nyse.matches(&gone));
        for name in ["us_equity", "crypto"] {
            assert_eq!(Universe::parse(name).unwrap().as_str(), name);
        }
    }
}
