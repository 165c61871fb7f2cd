//! The cache directory: where each series file lives (`layout`), who may write it (`lock`),
//! what is still missing from it (`planner`), and the one place that reads and commits a
//! series (`store`). Encoding the bytes of a file is `parquet_files`' job.

pub mod compaction;
mod error;
pub mod journal;
pub mod layout;
pub mod location;
pub mod lock;
pub mod planner;
pub mod store;

pub use error::Error;
pub use layout::SeriesKey;
pub use store::Store;
