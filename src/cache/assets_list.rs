//! The cached copy of Alpaca's assets list: one document per class, `assets/<class>.json`
//! (`assets/us_equity.json`, `assets/crypto.json`), holding when it was fetched and every
//! asset, active and inactive, one per line:
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "asset_class": "us_equity",
//!   "fetched_at": "2024-06-14T20:30:00Z",
//!   "assets": [
//!     {"symbol":"AAPL","name":"Apple Inc. Common Stock","exchange":"NASDAQ","status":"active"}
//!   ]
//! }
//! ```
//!
//! It is a document of the backend (like the ledgers), so it works the same in a directory
//! and in a bucket, and sits two levels deep, where no series file can. A list that cannot be
//! read counts as absent: it is only a copy, and the next fetch replaces it. An entry that
//! cannot be read is left out, the rest kept. Deciding when the copy is stale is
//! [`AssetsList::fetched_today`]'s: Alpaca is asked at most once per New York day.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Error, Store};
use crate::market::calendar::new_york_date;
use crate::market::{Asset, AssetStatus, Universe};
use crate::parquet_files::metadata::format_instant;

const FORMAT_VERSION: u32 = 1;
/// The directory of the assets lists, under the cache root.
pub const ASSETS_DIR: &str = "assets";

/// One class's list as last fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetsList {
    pub universe: Universe,
    pub fetched_at: DateTime<Utc>,
    pub assets: Vec<Asset>,
}

impl AssetsList {
    /// Whether the list was fetched on the New York date of `now` (and not after `now`, as a
    /// clock set back would have it).
    pub fn fetched_today(&self, now: DateTime<Utc>) -> bool {
        self.fetched_at <= now && new_york_date(self.fetched_at) == new_york_date(now)
    }
}

/// The list of `universe` relative to the cache root: `assets/us_equity.json`.
pub fn relative_path(universe: Universe) -> PathBuf {
    Path::new(ASSETS_DIR).join(format!("{}.json", universe.as_str()))
}

/// Where the list lives: a file path, or an object URL.
pub fn path(store: &Store, universe: Universe) -> PathBuf {
    store.document_location(&relative_path(universe))
}

/// The cached list of `universe`; `None` when there is none or it cannot be read. Fails only
/// when storage does. Blocking.
pub fn read(store: &Store, universe: Universe) -> Result<Option<AssetsList>, Error> {
    let Some(bytes) = store.read_document(&relative_path(universe))? else {
        return Ok(None);
    };
    Ok(parse(&bytes).filter(|list| list.universe == universe))
}

/// Replaces the cached list of `list.universe`, under its lock. Blocking.
pub fn write(store: &Store, list: &AssetsList) -> Result<(), Error> {
    let relative = relative_path(list.universe);
    // Always wait: the lock is held only for one small write.
    let lock = store.lock_document(&relative, true)?;
    store.write_document(&relative, &serialise(list), &lock)
}

#[derive(Serialize, Deserialize)]
struct Json {
    format_version: u32,
    asset_class: String,
    fetched_at: String,
    assets: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct JsonAsset {
    symbol: String,
    name: String,
    exchange: String,
    status: String,
}

fn parse(bytes: &[u8]) -> Option<AssetsList> {
    let json: Json = serde_json::from_slice(bytes).ok()?;
    if json.format_version != FORMAT_VERSION {
        return None;
    }
    let universe = Universe::parse(&json.asset_class)?;
    let fetched_at = DateTime::parse_from_rfc3339(&json.fetched_at)
        .ok()?
        .to_utc();
    let assets = json
        .assets
        .into_iter()
        .filter_map(|value| {
            let entry: JsonAsset = serde_json::from_value(value).ok()?;
            Some(Asset {
                symbol: entry.symbol.parse().ok()?,
                name: entry.name,
                exchange: entry.exchange,
                status: AssetStatus::parse(&entry.status)?,
            })
        })
        .collect();
    Some(AssetsList {
        universe,
        fetched_at,
        assets,
    })
}

fn serialise(list: &AssetsList) -> Vec<u8> {
    let head = |value: &str| serde_json::to_string(value).expect("a string serialises");
    let mut out = format!(
        "{{\n  \"format_version\": {FORMAT_VERSION},\n  \"asset_class\": {},\n  \"fetched_at\": {},\n  \"assets\": [",
        head(list.universe.as_str()),
        head(&format_instant(list.fetched_at)),
    )
    .into_bytes();
    // One line per asset: readable, diffable, and a fraction of the pretty form's size.
    for (i, asset) in list.assets.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
        let entry = JsonAsset {
            symbol: asset.symbol.to_string(),
            name: asset.name.clone(),
            exchange: asset.exchange.clone(),
            status: asset.status.as_str().to_owned(),
        };
        out.extend(serde_json::to_vec(&entry).expect("an asset serialises"));
    }
    if !list.assets.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"]\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_list_round_trips_and_is_fresh_for_one_new_york_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        assert_eq!(read(&store, Universe::UsEquity).unwrap(), None);
        let list = AssetsList {
            universe: Universe::UsEquity,
            // 2024-06-14 21:30 in New York.
            fetched_at: t("2024-06-15T01:30:00Z"),
            assets: vec![
                Asset {
                    symbol: "BRK.B".parse().unwrap(),
                    name: "Berkshire \"B\"".to_owned(),
                    exchange: "NYSE".to_owned(),
                    status: AssetStatus::Active,
                },
                Asset {
                    symbol: "GONE".parse().unwrap(),
                    name: String::new(),
                    exchange: "NASDAQ".to_owned(),
                    status: AssetStatus::Inactive,
                },
            ],
        };
        write(&store, &list).unwrap();
        assert_eq!(
            read(&store, Universe::UsEquity).unwrap(),
            Some(list.clone())
        );
        assert_eq!(read(&store, Universe::Crypto).unwrap(), None);
        assert!(path(&store, Universe::UsEquity).ends_with("assets/us_equity.json"));

        assert!(list.fetched_today(t("2024-06-15T03:59:00Z")));
        assert!(
            !list.fetched_today(t("2024-06-15T04:00:00Z")),
            "midnight in New York"
        );
        assert!(
            !list.fetched_today(t("2024-06-15T01:00:00Z")),
            "before the fetch"
        );

        fs_err::write(path(&store, Universe::UsEquity), "{not json").unwrap();
        assert_eq!(read(&store, Universe::UsEquity).unwrap(), None);
    }
}
