//! The cache directory: where each series file lives (`layout`), who may write it (`lock`),
//! what is still missing from it (`planner`), the one place that reads and commits a series
//! (`store`), and the corporate-actions ledger kept beside the series of a stock symbol
//! (`ledger`). Encoding the bytes of a series file is `parquet_files`' job.

pub mod atomic_file;
pub mod bucket;
pub mod bucket_store;
pub mod cleanup;
pub mod compaction;
mod error;
pub mod journal;
pub mod layout;
pub mod ledger;
pub mod location;
pub mod lock;
pub mod planner;
pub mod store;

pub use error::Error;
pub use layout::SeriesKey;
pub use store::Store;
