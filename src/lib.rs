//! barkeep keeps historical market-data bars from Alpaca in a local Parquet cache and serves
//! them to terminals, cron jobs and pipelines.
//!
//! Data flows one way: the CLI turns argv into options → an operation (`ops`) plans what the
//! cache is missing (`cache::planner`) → the API client (`api`) fetches only that from Alpaca →
//! the store (`cache::Store`, one `dyn cache::CacheBackend`: a local directory or a bucket)
//! merges it into one Parquet file per series (`parquet_files`) →
//! the operation reads the requested bars back for the CLI to print. Bars are stored raw; an
//! adjusted fetch applies the corporate actions recorded per symbol (`cache::ledger`) on the
//! way out (`market::adjustment`).
//!
//! Module map:
//! - [`cli`]: argv (`cli::args`), one thin command per subcommand that renders its
//!   operation's report (`cli::commands`), one printer per output format, exit statuses; the
//!   only code that prints.
//! - [`ops`]: one operation per subcommand (typed options in, a report or a stream of bars
//!   out), and what they share: the gap-filling planner and engine, the corporate-actions
//!   refresh, the watchlist file.
//! - [`api`]: Alpaca's market-data HTTP API: bars and corporate actions.
//! - [`cache`]: the storage seam (`CacheBackend`, held as a `Store`) and its two backends,
//!   `LocalDir` (locks, journal, compaction, temp-file rewrites) and `Bucket` (conditional
//!   puts); the merge both share; file layout, the gap planner and the corporate-actions
//!   ledgers.
//! - [`parquet_files`]: the on-disk format of one series.
//! - [`market`]: symbols, timeframes, bars, intervals, the `WHEN` syntax, corporate actions
//!   and adjusting bars for them.
//! - [`events`]: what the core reports while it works.
//! - [`error_chain`]: an error and its causes as text, flattened once for every caller.
//! - [`interrupt`]: Ctrl-C and SIGTERM as a value the core watches, to commit before it stops.
//! - [`blocking_tasks`]: blocking work on tokio's blocking threads, counted while it runs.

pub mod api;
pub mod blocking_tasks;
pub mod cache;
pub mod cli;
pub mod error_chain;
pub mod events;
pub mod interrupt;
pub mod market;
pub mod ops;
pub mod parquet_files;
