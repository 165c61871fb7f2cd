//! How a series is encoded as one standard Parquet file: the Arrow schema of the bar
//! columns, the self-describing key-value metadata (series identity and coverage), and
//! reading and writing whole files, and appending row groups in place (`append`). This module decides how the bytes look; `cache` decides
//! where files live, when they are written and how writes stay atomic.

pub mod append;
mod error;
pub mod footer;
pub mod metadata;
pub mod ranged_read;
pub mod read;
pub mod record_batch;
pub mod schema;
pub mod write;

pub use error::Error;
pub use metadata::SeriesMetadata;
