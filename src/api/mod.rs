//! Talking to Alpaca's market-data API: the bars endpoints for stocks and crypto, the
//! corporate-actions endpoint, pagination, retries with backoff and jitter, pacing within the
//! rate limit, and turning Alpaca's error responses into typed errors. Knows nothing about the
//! cache.

mod client;
mod corporate_actions;
mod error;
mod models;
mod pacing;
mod redact;
mod retry;

pub use client::{
    BarsAnswer, BarsPage, BarsPages, BarsRequest, Client, ClientConfig, Credentials,
    RECENT_SIP_DELAY, symbol_batches,
};
pub use corporate_actions::{CorporateActionsAnswer, CorporateActionsRequest};
pub use error::Error;
pub use pacing::Pacer;
pub use retry::RetryPolicy;
