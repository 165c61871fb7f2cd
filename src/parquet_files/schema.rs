//! The Arrow schema of a series file. Column order and types are part of the on-disk format
//! that outside readers (pyarrow, DuckDB, polars) rely on.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::market::AssetClass;

pub const TIMESTAMP: &str = "timestamp";
pub const OPEN: &str = "open";
pub const HIGH: &str = "high";
pub const LOW: &str = "low";
pub const CLOSE: &str = "close";
pub const VOLUME: &str = "volume";
pub const TRADE_COUNT: &str = "trade_count";
pub const VWAP: &str = "vwap";

/// Timestamps are UTC instants with nanosecond precision (what Alpaca reports). Stock volume
/// is an exact unsigned integer; crypto volume is fractional.
pub fn bar_schema(class: AssetClass) -> SchemaRef {
    let volume = match class {
        AssetClass::Stocks => DataType::UInt64,
        AssetClass::Crypto => DataType::Float64,
    };
    Arc::new(Schema::new(vec![
        Field::new(
            TIMESTAMP,
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new(OPEN, DataType::Float64, false),
        Field::new(HIGH, DataType::Float64, false),
        Field::new(LOW, DataType::Float64, false),
        Field::new(CLOSE, DataType::Float64, false),
        Field::new(VOLUME, volume, false),
        Field::new(TRADE_COUNT, DataType::UInt64, false),
        Field::new(VWAP, DataType::Float64, false),
    ]))
}

/// Compares names and types only: Parquet round trips may drop field metadata.
pub fn matches(expected: &Schema, found: &Schema) -> bool {
    expected.fields().len() == found.fields().len()
        && expected
            .fields()
            .iter()
            .zip(found.fields())
            .all(|(e, f)| e.name() == f.name() && e.data_type() == f.data_type())
}
