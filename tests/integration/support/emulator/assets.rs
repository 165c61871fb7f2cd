//! The emulator's Trading API assets list, `GET /v2/assets` (ALPACA_API.md §8.3): every
//! symbol the emulator knows is an asset (stocks of class `us_equity`, pairs of `crypto`),
//! with a name and exchange (set by the test or made up), active until the day after its
//! last trading day when the test delisted it. One JSON array, no pages; `status`,
//! `asset_class` and `exchange` filter it.
//! Must not: know about HTTP (that is `server`) or bars.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::calendar::new_york_date;
use super::server::{param, reject_unexpected};

const PARAMS: [&str; 4] = ["status", "asset_class", "exchange", "attributes"];

/// What the test said about an asset beyond its listing date.
#[derive(Debug, Clone, Default)]
pub(crate) struct AssetInfo {
    pub(crate) name: Option<String>,
    pub(crate) exchange: Option<String>,
    /// The last New York date it traded; inactive from the next day on.
    pub(crate) last_day: Option<NaiveDate>,
}

/// The assets list at `clock` for `query`, as Alpaca's JSON array, or a 400 message.
pub(super) fn list(
    stocks: &BTreeMap<String, NaiveDate>,
    crypto: &BTreeMap<String, NaiveDate>,
    info: &BTreeMap<String, AssetInfo>,
    query: &[(String, String)],
    clock: DateTime<Utc>,
) -> Result<String, String> {
    reject_unexpected(query, &PARAMS)?;
    let class = param(query, "asset_class").unwrap_or("us_equity");
    let listed = match class {
        "us_equity" => stocks,
        "crypto" => crypto,
        other => return Err(format!("invalid asset_class: {other}")),
    };
    let status = param(query, "status");
    if let Some(s) = status
        && s != "active"
        && s != "inactive"
    {
        return Err(format!("invalid status: {s}"));
    }
    let exchange = param(query, "exchange");
    let today = new_york_date(clock);
    let mut out = String::from("[");
    for (symbol, since) in listed {
        if *since > today {
            continue;
        }
        let asset = info.get(symbol).cloned().unwrap_or_default();
        let active = asset.last_day.is_none_or(|last| last >= today);
        let state = if active { "active" } else { "inactive" };
        let venue = asset.exchange.clone().unwrap_or_else(|| {
            if class == "crypto" {
                "CRYPTO"
            } else {
                "NASDAQ"
            }
            .to_owned()
        });
        if status.is_some_and(|s| s != state) || exchange.is_some_and(|e| e != venue) {
            continue;
        }
        let name = asset
            .name
            .unwrap_or_else(|| format!("{symbol} Corporation"));
        if out.len() > 1 {
            out.push(',');
        }
        let id = format!("{:08x}-0000-4000-8000-000000000000", fnv(symbol));
        out.push_str(
            &serde_json::json!({
                "id": id,
                "class": class,
                "exchange": venue,
                "symbol": symbol,
                "name": name,
                "status": state,
                "tradable": active,
                "marginable": active,
                "shortable": false,
                "easy_to_borrow": false,
                "fractionable": active,
                "attributes": [],
            })
            .to_string(),
        );
    }
    out.push(']');
    Ok(out)
}

/// A stable 32-bit hash, for made-up asset ids.
fn fnv(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
