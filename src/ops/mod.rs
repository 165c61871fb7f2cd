//! The operations behind the subcommands, one file each, plus what they share: the
//! gap-filling engine, the refreshing of corporate-actions ledgers and reading many series
//! at once. Inputs are typed
//! options; outputs are data. Nothing here parses argv or prints.

pub mod concurrent_reads;
pub mod corporate_actions;
pub mod derive;
mod error;
pub mod fetch;
pub mod gap_fill;
pub mod inspect;
pub mod prune;
pub mod selection;
pub mod update;
pub mod watchlist;

pub use error::Error;
