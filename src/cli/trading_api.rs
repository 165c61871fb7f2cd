//! The clients of Alpaca's Trading API (the assets list of `update --universe`): the base URL
//! in `APCA_API_BASE_URL` when set, as Alpaca's SDKs read it; otherwise the live host, then
//! the paper host for keys the live host refuses. They share the data client's retries,
//! rate limit and interrupt.

use std::sync::Arc;

use reqwest::Url;

use super::{Context, UsageError, environment};
use crate::api::Client;
use crate::events::Observer;
use crate::ops::universe::TradingApi;

const LIVE: &str = "https://api.alpaca.markets";
const PAPER: &str = "https://paper-api.alpaca.markets";

pub(crate) fn trading_api(
    ctx: &Context,
    observer: &Arc<dyn Observer>,
) -> anyhow::Result<TradingApi> {
    let urls = match environment::trading_base_url() {
        Some(url) => {
            let usable = Url::parse(&url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !usable {
                // The value is not shown: a URL may carry a password.
                return Err(UsageError(format!(
                    "{} is not an http(s) URL with a host; unset it or give one such as {PAPER}",
                    environment::TRADING_BASE_URL,
                ))
                .into());
            }
            vec![url]
        }
        None => vec![LIVE.to_owned(), PAPER.to_owned()],
    };
    let clients = urls
        .into_iter()
        .map(|url| {
            let mut trading = ctx.clone();
            trading.api_url = url;
            trading.client(observer.clone())
        })
        .collect::<anyhow::Result<Vec<Client>>>()?;
    Ok(TradingApi { clients })
}
