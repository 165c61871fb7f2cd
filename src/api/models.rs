//! The JSON shapes Alpaca answers with, and their conversion into bars. Tolerant where
//! Alpaca has varied over time: `n` and `vw` may be missing, `bars` may be `null`, keys may
//! come in any order, and a numeric volume may be written as `1.0`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::market::{AssetClass, Bar, Volume};

#[derive(Debug, Deserialize)]
pub(crate) struct BarsPage {
    #[serde(default)]
    pub bars: Option<HashMap<String, Option<Vec<RawBar>>>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawBar {
    t: String,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    v: serde_json::Number,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default)]
    vw: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub message: String,
}

impl RawBar {
    pub(crate) fn into_bar(self, class: AssetClass) -> Result<Bar, String> {
        let timestamp = DateTime::parse_from_rfc3339(&self.t)
            .map_err(|_| format!("bad bar timestamp `{}`", self.t))?
            .with_timezone(&Utc);
        let volume = match class {
            AssetClass::Stocks => Volume::Shares(
                self.v
                    .as_u64()
                    .or_else(|| {
                        let f = self.v.as_f64()?;
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        (f >= 0.0 && f.fract() == 0.0 && f < 1.8e19).then_some(f as u64)
                    })
                    .ok_or_else(|| format!("bad stock volume `{}`", self.v))?,
            ),
            AssetClass::Crypto => Volume::Units(
                self.v
                    .as_f64()
                    .ok_or_else(|| format!("bad volume `{}`", self.v))?,
            ),
        };
        Ok(Bar {
            timestamp,
            open: self.o,
            high: self.h,
            low: self.l,
            close: self.c,
            volume,
            trade_count: self.n.unwrap_or(0),
            vwap: self.vw.unwrap_or(f64::NAN),
        })
    }
}
