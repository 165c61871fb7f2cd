//! Errors from encoding or decoding a series file.

/// A file could not be written, or is not a barkeep series file we can read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    #[error("not a readable parquet file")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow error")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("unexpected schema: {0}")]
    Schema(String),
    #[error("missing or malformed barkeep metadata: {0}")]
    Metadata(String),
    #[error("bars out of order or duplicated: {0}")]
    Order(String),
}
