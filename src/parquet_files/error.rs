//! Errors from encoding or decoding a series file.
//!
//! An i/o error is always [`Error::Io`], also when the parquet or arrow crate reports it
//! wrapped in one of its own errors (a write that hit a full disk): callers tell the disk's
//! failures (space, permission) from damage by this variant alone.

/// A file could not be written, or is not a barkeep series file we can read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    #[error("not a readable parquet file")]
    Parquet(#[source] parquet::errors::ParquetError),
    #[error("arrow error")]
    Arrow(#[source] arrow::error::ArrowError),
    /// A column chunk compressed with a codec this build cannot decode (Brotli or LZO, which
    /// no common writer uses by default).
    #[error(
        "column `{column}` is compressed with {codec}, which barkeep cannot read; rewrite the file with zstd, snappy, gzip or lz4"
    )]
    Codec { column: String, codec: String },
    #[error("unexpected schema: {0}")]
    Schema(String),
    #[error("missing or malformed barkeep metadata: {0}")]
    Metadata(String),
    #[error("bars out of order or duplicated: {0}")]
    Order(String),
}

impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        use parquet::errors::ParquetError;
        match e {
            ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::Io(*io),
                Err(inner) => match inner.downcast::<arrow::error::ArrowError>() {
                    Ok(arrow) => Error::from(*arrow),
                    Err(inner) => Error::Parquet(ParquetError::External(inner)),
                },
            },
            other => Error::Parquet(other),
        }
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        use arrow::error::ArrowError;
        match e {
            ArrowError::IoError(_, io) => Error::Io(io),
            ArrowError::ExternalError(inner) => match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::Io(*io),
                Err(inner) => match inner.downcast::<parquet::errors::ParquetError>() {
                    Ok(parquet) => Error::from(*parquet),
                    Err(inner) => Error::Arrow(ArrowError::ExternalError(inner)),
                },
            },
            other => Error::Arrow(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_wrapped_by_parquet_or_arrow_is_an_io_error() {
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        let wrapped = [
            Error::from(parquet::errors::ParquetError::from(full())),
            Error::from(arrow::error::ArrowError::IoError("write".into(), full())),
            Error::from(parquet::errors::ParquetError::from(
                arrow::error::ArrowError::ExternalError(Box::new(full())),
            )),
        ];
        for e in wrapped {
            assert!(
                matches!(&e, Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull),
                "{e:?}"
            );
        }
        assert!(matches!(
            Error::from(parquet::errors::ParquetError::General("bad".into())),
            Error::Parquet(_)
        ));
    }
}
