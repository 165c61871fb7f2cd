//! Choosing cached series by symbol, timeframe and feed: the filter `update`, `inspect`
//! and `prune` share.

use crate::cache::{SeriesKey, Store};
use crate::market::{Feed, Symbol, Timeframe};

/// Empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct SeriesFilter {
    pub symbols: Vec<Symbol>,
    pub timeframes: Vec<Timeframe>,
    pub feed: Option<Feed>,
}

impl SeriesFilter {
    pub fn matches(&self, key: &SeriesKey) -> bool {
        (self.symbols.is_empty() || self.symbols.contains(&key.symbol))
            && (self.timeframes.is_empty() || self.timeframes.contains(&key.timeframe))
            && self
                .feed
                // A stock feed filter leaves crypto series (which have no stock feed) alone.
                .is_none_or(|f| key.feed == f || key.feed.asset_class() != f.asset_class())
    }

    /// The cached series this filter selects, sorted.
    pub fn select(&self, store: &Store) -> Result<Vec<SeriesKey>, crate::cache::Error> {
        Ok(self
            .select_sized(store)?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    /// The cached series this filter selects with their sizes in bytes (from the listing:
    /// a directory walk, or a bucket LIST), sorted.
    pub fn select_sized(
        &self,
        store: &Store,
    ) -> Result<Vec<(SeriesKey, u64)>, crate::cache::Error> {
        Ok(store
            .list_sized()?
            .into_iter()
            .filter(|(k, _)| self.matches(k))
            .collect())
    }
}
