//! The cache: where each series lives and how it is read and committed, behind one seam.
//!
//! - `backend`: the [`CacheBackend`] trait every backend implements, and the values that
//!   cross it (updates, commit summaries, scans).
//! - `store`: the [`Store`] handle (a shared `dyn CacheBackend`) that `ops` and `cli` hold.
//! - `local_dir` and `bucket`: the two backends, a directory on disk and object storage;
//!   `journal`, `lock`, `compaction` and `temp_file` serve the first, `object_client` the
//!   second.
//! - `series_merge`: merging an answer into stored bars and coverage, shared by both.
//! - `layout` (file names), `location` (which cache), `planner` (what is still missing) and
//!   `ledger` (the corporate-actions ledger of a stock symbol, a document of the backend)
//!   with `ledger_index` (when each symbol's actions were last checked, one document), and
//!   `assets_list` (the cached copy of Alpaca's assets list of a class, one document).
//!
//! Encoding the bytes of a series file is `parquet_files`' job.

pub mod assets_list;
pub mod backend;
pub mod bucket;
pub mod compaction;
mod error;
pub mod journal;
pub mod layout;
pub mod ledger;
pub mod ledger_index;
pub mod local_dir;
pub mod location;
pub mod lock;
pub mod object_client;
pub mod planner;
pub mod series_merge;
pub mod store;
pub mod temp_file;

pub use backend::CacheBackend;
pub use error::{Access, Error};
pub use layout::SeriesKey;
pub use store::Store;
