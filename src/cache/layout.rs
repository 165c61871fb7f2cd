//! The file layout of the cache: `<root>/<asset class>/<feed>/<timeframe>/<symbol>.parquet`,
//! e.g. `stocks/sip/1Day/AAPL.parquet` and `crypto/us/1Hour/BTC%2FUSD.parquet`, plus one
//! corporate-actions ledger per stock symbol, `stocks/actions/<symbol>.json`. A ledger sits
//! three levels deep, where no series file can, so listing series never mistakes one for a
//! series.
//!
//! Symbols are percent-encoded into file names: every byte other than ASCII letters, digits,
//! `-` and `.` becomes `%XX`, so the encoding is reversible and a file name can never contain
//! a path separator. Validated symbols (see `market::symbol`) cannot be `.` or `..` either.

use std::fmt;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::market::{AssetClass, Feed, Symbol, Timeframe};

const FILE_NAME_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.');
pub const EXTENSION: &str = "parquet";
/// The directory of the corporate-actions ledgers, under `stocks/`.
pub const LEDGER_DIR: &str = "actions";

/// The encoded symbol, as it appears in file names.
fn encoded(symbol: &Symbol) -> String {
    utf8_percent_encode(symbol.as_str(), FILE_NAME_ESCAPES).to_string()
}

/// The file name of the index of corporate-actions checks, inside the ledger directory (no
/// symbol's ledger can have it: `_` is percent-encoded in ledger names).
pub const LEDGER_INDEX_FILE: &str = "_index.json";

/// The directory of the ledgers relative to the cache root: `stocks/actions`.
pub fn ledger_relative_dir() -> PathBuf {
    Path::new(AssetClass::Stocks.as_str()).join(LEDGER_DIR)
}

/// The ledger of a stock symbol relative to the cache root: `stocks/actions/<symbol>.json`.
pub fn ledger_relative_path(symbol: &Symbol) -> PathBuf {
    ledger_relative_dir().join(format!("{}.json", encoded(symbol)))
}

/// The hidden file `.<file>.<suffix>` beside a series file: its lock, its rollback journal.
pub fn hidden_sibling(series_path: &Path, suffix: &str) -> PathBuf {
    let name = series_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    series_path.with_file_name(format!(".{name}.{suffix}"))
}

/// The identity of one series: one file in the cache.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub symbol: Symbol,
    pub feed: Feed,
    pub timeframe: Timeframe,
}

impl SeriesKey {
    pub fn new(symbol: Symbol, feed: Feed, timeframe: Timeframe) -> Self {
        debug_assert_eq!(symbol.asset_class(), feed.asset_class());
        Self {
            symbol,
            feed,
            timeframe,
        }
    }

    pub fn asset_class(&self) -> AssetClass {
        self.feed.asset_class()
    }

    /// The directory of this series relative to the cache root.
    pub fn relative_dir(&self) -> PathBuf {
        Path::new(self.asset_class().as_str())
            .join(self.feed.as_str())
            .join(self.timeframe.to_string())
    }

    /// The file name: the encoded symbol plus `.parquet`.
    pub fn file_name(&self) -> String {
        format!("{}.{EXTENSION}", encoded(&self.symbol))
    }

    pub fn relative_path(&self) -> PathBuf {
        self.relative_dir().join(self.file_name())
    }

    /// Recognises a series file from its path relative to the root. `None` for anything
    /// barkeep would not have written (foreign files, temp files, locks).
    pub fn from_relative_path(path: &Path) -> Option<SeriesKey> {
        let parts: Vec<&str> = path.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
        let [class, feed, timeframe, file] = parts.as_slice() else {
            return None;
        };
        let class = AssetClass::parse(class)?;
        let feed = Feed::parse(class, feed)?;
        let timeframe: Timeframe = timeframe.parse().ok()?;
        if timeframe.to_string() != *timeframe_str(path)? {
            return None;
        }
        let stem = file.strip_suffix(".parquet")?;
        let decoded = percent_decode_str(stem).decode_utf8().ok()?;
        let symbol: Symbol = decoded.parse().ok()?;
        if symbol.asset_class() != class {
            return None;
        }
        let key = SeriesKey {
            symbol,
            feed,
            timeframe,
        };
        (key.file_name() == *file).then_some(key)
    }
}

fn timeframe_str(path: &Path) -> Option<&str> {
    path.iter().nth(2)?.to_str()
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({} {})",
            self.symbol,
            self.timeframe,
            self.asset_class(),
            self.feed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(symbol: &str, feed: Feed, tf: &str) -> SeriesKey {
        SeriesKey::new(symbol.parse().unwrap(), feed, tf.parse().unwrap())
    }

    #[test]
    fn paths_match_the_documented_layout() {
        assert_eq!(
            key("AAPL", Feed::Sip, "1D").relative_path(),
            Path::new("stocks/sip/1Day/AAPL.parquet")
        );
        assert_eq!(
            key("BTC/USD", Feed::CryptoUs, "1H").relative_path(),
            Path::new("crypto/us/1Hour/BTC%2FUSD.parquet")
        );
        assert_eq!(
            key("BRK.B", Feed::Iex, "15Min").relative_path(),
            Path::new("stocks/iex/15Min/BRK.B.parquet")
        );
        assert_eq!(
            ledger_relative_path(&"BRK.B".parse().unwrap()),
            Path::new("stocks/actions/BRK.B.json")
        );
    }

    #[test]
    fn foreign_names_are_not_series() {
        for p in [
            "stocks/sip/1Day/.AAPL.parquet.lock",
            "stocks/sip/1Day/AAPL.csv",
            "stocks/sip/1D/AAPL.parquet",
            "stocks/us/1Day/AAPL.parquet",
            "crypto/us/1Day/AAPL.parquet",
            "stocks/sip/1Day/aapl.parquet",
            "x/stocks/sip/1Day/AAPL.parquet",
            "stocks/actions/AAPL.json",
            "stocks/actions/x/AAPL.parquet",
        ] {
            assert_eq!(SeriesKey::from_relative_path(Path::new(p)), None, "{p}");
        }
    }

    proptest! {
        #[test]
        fn encoding_is_reversible_and_stays_in_one_directory(symbol in "[A-Z][A-Z.-]{0,8}|[A-Z0-9]{1,6}/[A-Z0-9]{1,5}") {
            let symbol: Symbol = symbol.parse().unwrap();
            let feed = if symbol.asset_class() == AssetClass::Crypto { Feed::CryptoUs } else { Feed::Sip };
            let key = SeriesKey::new(symbol, feed, Timeframe::ONE_DAY);
            let name = key.file_name();
            prop_assert!(!name.contains('/') && !name.contains('\\') && name != ".." && !name.starts_with('.'));
            prop_assert_eq!(key.relative_path().components().count(), 4);
            prop_assert_eq!(SeriesKey::from_relative_path(&key.relative_path()), Some(key));
        }
    }
}
