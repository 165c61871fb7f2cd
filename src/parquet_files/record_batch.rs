//! Conversion between bars and Arrow record batches, and [`BarColumns`]: bars as decoded,
//! column by column, which an export formats or re-encodes without building a [`Bar`] per
//! row (issues 22 and 24).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray, UInt64Array,
};
use chrono::DateTime;

use super::Error;
use super::schema::bar_schema;
use crate::market::{AssetClass, Bar, Volume};

pub(crate) fn to_record_batch(class: AssetClass, bars: &[Bar]) -> Result<RecordBatch, Error> {
    let timestamps = bars
        .iter()
        .map(|b| {
            b.timestamp
                .timestamp_nanos_opt()
                .ok_or_else(|| Error::Order(format!("timestamp {} out of range", b.timestamp)))
        })
        .collect::<Result<Vec<i64>, Error>>()?;
    let column =
        |f: fn(&Bar) -> f64| -> ArrayRef { Arc::new(bars.iter().map(f).collect::<Float64Array>()) };
    let volume: ArrayRef = match class {
        AssetClass::Stocks => Arc::new(
            bars.iter()
                .map(|b| match b.volume {
                    Volume::Shares(v) => Ok(v),
                    Volume::Units(_) => {
                        Err(Error::Schema("fractional volume in a stock series".into()))
                    }
                })
                .collect::<Result<UInt64Array, Error>>()?,
        ),
        AssetClass::Crypto => Arc::new(
            bars.iter()
                .map(|b| match b.volume {
                    Volume::Units(v) => v,
                    #[allow(clippy::cast_precision_loss)]
                    Volume::Shares(v) => v as f64,
                })
                .collect::<Float64Array>(),
        ),
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(timestamps).with_timezone("UTC")),
        column(|b| b.open),
        column(|b| b.high),
        column(|b| b.low),
        column(|b| b.close),
        volume,
        Arc::new(bars.iter().map(|b| b.trade_count).collect::<UInt64Array>()),
        column(|b| b.vwap),
    ];
    Ok(RecordBatch::try_new(bar_schema(class), columns)?)
}

fn downcast<T: 'static>(batch: &RecordBatch, index: usize) -> Result<&T, Error> {
    batch
        .column(index)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| {
            Error::Schema(format!(
                "column `{}` has an unexpected type",
                batch.schema().field(index).name()
            ))
        })
}

/// Checks that the timestamps of `batch` increase strictly and follow `previous` (nanoseconds);
/// returns the batch's last timestamp (or `previous` when it is empty).
pub(crate) fn check_batch_order(
    batch: &RecordBatch,
    previous: Option<i64>,
) -> Result<Option<i64>, Error> {
    let ts = downcast::<TimestampNanosecondArray>(batch, 0)?;
    let values = ts.values();
    let seam = previous.zip(values.first().copied());
    let inside = values.windows(2).map(|w| (w[0], w[1]));
    if let Some((a, b)) = seam.into_iter().chain(inside).find(|(a, b)| a >= b) {
        return Err(Error::Order(format!(
            "{} is followed by {}",
            DateTime::from_timestamp_nanos(a),
            DateTime::from_timestamp_nanos(b)
        )));
    }
    Ok(values.last().copied().or(previous))
}

/// The volume column of a [`BarColumns`]: shares (stocks) or fractional units (crypto).
#[derive(Debug, Clone, Copy)]
pub enum VolumeColumn<'a> {
    Shares(&'a [u64]),
    Units(&'a [f64]),
}

/// A chunk of bars as decoded from a series file: a record batch of the bar schema whose
/// columns were checked (types, no nulls), read through typed slices.
#[derive(Debug, Clone)]
pub struct BarColumns {
    batch: RecordBatch,
}

impl BarColumns {
    /// Checks the types of `batch`'s columns (the bar schema, volume either type) and that
    /// none holds a null.
    pub(crate) fn try_new(batch: RecordBatch) -> Result<Self, Error> {
        downcast::<TimestampNanosecondArray>(&batch, 0)?;
        for index in [1, 2, 3, 4, 7] {
            downcast::<Float64Array>(&batch, index)?;
        }
        downcast::<UInt64Array>(&batch, 6)?;
        let volume = batch.column(5).as_any();
        if !volume.is::<UInt64Array>() && !volume.is::<Float64Array>() {
            return Err(Error::Schema(
                "column `volume` has an unexpected type".into(),
            ));
        }
        if batch.columns().iter().any(|a| a.null_count() > 0) {
            return Err(Error::Schema("null values in a bar column".into()));
        }
        Ok(Self { batch })
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The columns as a record batch of the bar schema.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// The rows `offset..offset + len` (no copy).
    #[must_use]
    pub fn slice(&self, offset: usize, len: usize) -> Self {
        Self {
            batch: self.batch.slice(offset, len),
        }
    }

    fn floats(&self, index: usize) -> &[f64] {
        self.batch
            .column(index)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("checked by try_new")
            .values()
    }

    /// Nanoseconds since the epoch, UTC.
    pub fn timestamps(&self) -> &[i64] {
        self.batch
            .column(0)
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .expect("checked by try_new")
            .values()
    }

    pub fn open(&self) -> &[f64] {
        self.floats(1)
    }

    pub fn high(&self) -> &[f64] {
        self.floats(2)
    }

    pub fn low(&self) -> &[f64] {
        self.floats(3)
    }

    pub fn close(&self) -> &[f64] {
        self.floats(4)
    }

    pub fn volume(&self) -> VolumeColumn<'_> {
        let volume = self.batch.column(5).as_any();
        match volume.downcast_ref::<UInt64Array>() {
            Some(shares) => VolumeColumn::Shares(shares.values()),
            None => VolumeColumn::Units(
                volume
                    .downcast_ref::<Float64Array>()
                    .expect("checked by try_new")
                    .values(),
            ),
        }
    }

    pub fn trade_count(&self) -> &[u64] {
        self.batch
            .column(6)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .expect("checked by try_new")
            .values()
    }

    pub fn vwap(&self) -> &[f64] {
        self.floats(7)
    }

    /// The bar of row `i`.
    pub fn bar(&self, i: usize) -> Bar {
        Bar {
            timestamp: DateTime::from_timestamp_nanos(self.timestamps()[i]),
            open: self.open()[i],
            high: self.high()[i],
            low: self.low()[i],
            close: self.close()[i],
            volume: match self.volume() {
                VolumeColumn::Shares(v) => Volume::Shares(v[i]),
                VolumeColumn::Units(v) => Volume::Units(v[i]),
            },
            trade_count: self.trade_count()[i],
            vwap: self.vwap()[i],
        }
    }

    /// Appends every row to `out` as a bar.
    pub fn extend_bars(&self, out: &mut Vec<Bar>) {
        let (ts, open, high, low) = (self.timestamps(), self.open(), self.high(), self.low());
        let (close, trades, vwap) = (self.close(), self.trade_count(), self.vwap());
        let volume = self.volume();
        out.reserve(self.len());
        out.extend((0..self.len()).map(|i| Bar {
            timestamp: DateTime::from_timestamp_nanos(ts[i]),
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: match volume {
                VolumeColumn::Shares(v) => Volume::Shares(v[i]),
                VolumeColumn::Units(v) => Volume::Units(v[i]),
            },
            trade_count: trades[i],
            vwap: vwap[i],
        }));
    }

    /// Every row as a bar.
    pub fn to_bars(&self) -> Vec<Bar> {
        let mut out = Vec::new();
        self.extend_bars(&mut out);
        out
    }
}
