//! The assets list of Alpaca's Trading API, `GET /v2/assets?asset_class=CLASS`: every asset
//! of a class, active and inactive, in one JSON array (no pages). It lives on the trading
//! host (live or paper), not the data host, so it is asked through a [`Client`] configured
//! with that base URL. Retries, pacing and error handling are the client's.

use super::client::Client;
use super::error::Error;
use super::models::{AssetsPage, RawAsset};
use crate::events::{Event, RequestKind};
use crate::market::{Asset, AssetStatus, Symbol, Universe, shown_input};

/// Elements that could not be read, warned about one by one; the rest are counted.
const MAX_SKIP_WARNINGS: usize = 5;

#[derive(Debug, Clone, Default)]
pub struct AssetsAnswer {
    /// Every readable asset of the class, in Alpaca's order.
    pub assets: Vec<Asset>,
    /// Elements left out: no symbol, a symbol barkeep cannot store (digits, say), another
    /// class, or an unknown status.
    pub skipped: usize,
}

impl Client {
    /// Asks the whole list of `universe`'s assets, active and inactive (without `status`,
    /// Alpaca answers both).
    pub async fn get_assets(&self, universe: Universe) -> Result<AssetsAnswer, Error> {
        self.require_credentials()?;
        let mut url = self.url("v2/assets")?;
        url.query_pairs_mut()
            .append_pair("asset_class", universe.as_str());
        let page: AssetsPage = self.send_with_retries(&url, RequestKind::Assets).await?;
        let mut answer = AssetsAnswer::default();
        let mut reasons = Vec::new();
        for raw in page.0 {
            match decode(raw, universe) {
                Ok(asset) => answer.assets.push(asset),
                Err(reason) => {
                    answer.skipped += 1;
                    if reasons.len() < MAX_SKIP_WARNINGS {
                        reasons.push(reason);
                    }
                }
            }
        }
        for reason in &reasons {
            self.observer.event(Event::OddAnswer {
                message: &format!("skipped an asset of the assets list: {reason}"),
            });
        }
        if answer.skipped > reasons.len() {
            self.observer.event(Event::OddAnswer {
                message: &format!(
                    "skipped {} more assets of the assets list",
                    answer.skipped - reasons.len()
                ),
            });
        }
        Ok(answer)
    }
}

/// One element as an [`Asset`] of `universe`, or why it is left out.
fn decode(raw: RawAsset, universe: Universe) -> Result<Asset, String> {
    let text = raw.symbol.ok_or("it has no `symbol`")?;
    let symbol: Symbol = text.trim().parse().map_err(|e| {
        format!(
            "`{}` is not a symbol barkeep can store ({e})",
            shown_input(&text)
        )
    })?;
    if let Some(class) = &raw.class
        && class != universe.as_str()
    {
        return Err(format!("`{symbol}` is of class `{}`", shown_input(class)));
    }
    if symbol.asset_class() != universe.asset_class() {
        return Err(format!("`{symbol}` is not a {universe} symbol"));
    }
    let status = match raw.status.as_deref() {
        // An asset listed without a status is taken as trading.
        None => AssetStatus::Active,
        Some(status) => AssetStatus::parse(status)
            .ok_or_else(|| format!("`{symbol}` has status `{}`", shown_input(status)))?,
    };
    Ok(Asset {
        symbol,
        name: raw.name.unwrap_or_default(),
        exchange: raw.exchange.unwrap_or_default().trim().to_ascii_uppercase(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(symbol: &str, class: &str, status: &str) -> RawAsset {
        RawAsset {
            symbol: Some(symbol.to_owned()),
            name: Some("Acme Corp".to_owned()),
            exchange: Some("nasdaq".to_owned()),
            status: Some(status.to_owned()),
            class: Some(class.to_owned()),
        }
    }

    #[test]
    fn odd_elements_are_left_out_with_a_reason() {
        let ok = decode(raw("ACME", "us_equity", "inactive"), Universe::UsEquity).unwrap();
        assert_eq!(ok.exchange, "NASDAQ");
        assert_eq!(ok.status, AssetStatus::Inactive);
        assert!(decode(raw("BTC/USD", "crypto", "active"), Universe::Crypto).is_ok());
        for (bad, universe) in [
            (raw("ACME", "crypto", "active"), Universe::UsEquity),
            (raw("BTC/USD", "us_equity", "active"), Universe::UsEquity),
            (raw("ACME", "us_equity", "halted"), Universe::UsEquity),
            (raw("", "us_equity", "active"), Universe::UsEquity),
        ] {
            assert!(decode(bad, universe).is_err());
        }
    }
}
