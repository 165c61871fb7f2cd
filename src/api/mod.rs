//! Talking to Alpaca's market-data API: the bars endpoints for stocks and crypto, the
//! corporate-actions endpoint, pagination, retries with backoff and jitter, pacing within the
//! rate limit, and turning Alpaca's error responses into typed errors. Knows nothing about the
//! cache.
//!
//! `client` is the transport every endpoint shares; each endpoint is a module over it (`bars`,
//! `corporate_actions`, `assets` on the trading host) that the client does not know. Submodules import each other directly,
//! never through this file, which only hands the public names on.

mod assets;
mod bars;
mod client;
mod corporate_actions;
mod error;
mod models;
mod pacing;
mod redact;
mod retry;

pub use assets::AssetsAnswer;
pub use bars::{BarsAnswer, BarsPage, BarsPages, BarsRequest, RECENT_SIP_DELAY, symbol_batches};
pub use client::{Client, ClientConfig, Credentials};
pub use corporate_actions::{CorporateActionsAnswer, CorporateActionsRequest};
pub use error::Error;
pub use pacing::Pacer;
pub use retry::RetryPolicy;
