//! Conversion between bars and Arrow record batches.

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

/// Appends the bars of `batch` to `out`. The batch must have the bar schema (checked by the caller).
pub(crate) fn extend_from_record_batch(
    batch: &RecordBatch,
    out: &mut Vec<Bar>,
) -> Result<(), Error> {
    let ts = downcast::<TimestampNanosecondArray>(batch, 0)?;
    let open = downcast::<Float64Array>(batch, 1)?;
    let high = downcast::<Float64Array>(batch, 2)?;
    let low = downcast::<Float64Array>(batch, 3)?;
    let close = downcast::<Float64Array>(batch, 4)?;
    let trades = downcast::<UInt64Array>(batch, 6)?;
    let vwap = downcast::<Float64Array>(batch, 7)?;
    let shares = batch.column(5).as_any().downcast_ref::<UInt64Array>();
    let units = batch.column(5).as_any().downcast_ref::<Float64Array>();
    if shares.is_none() && units.is_none() {
        return Err(Error::Schema(
            "column `volume` has an unexpected type".into(),
        ));
    }
    let arrays: [&dyn Array; 8] = [
        ts,
        open,
        high,
        low,
        close,
        batch.column(5).as_ref(),
        trades,
        vwap,
    ];
    if arrays.iter().any(|a| a.null_count() > 0) {
        return Err(Error::Schema("null values in a bar column".into()));
    }
    out.reserve(batch.num_rows());
    for i in 0..batch.num_rows() {
        let volume = match (shares, units) {
            (Some(s), _) => Volume::Shares(s.value(i)),
            (None, Some(u)) => Volume::Units(u.value(i)),
            (None, None) => unreachable!("checked above"),
        };
        out.push(Bar {
            timestamp: DateTime::from_timestamp_nanos(ts.value(i)),
            open: open.value(i),
            high: high.value(i),
            low: low.value(i),
            close: close.value(i),
            volume,
            trade_count: trades.value(i),
            vwap: vwap.value(i),
        });
    }
    Ok(())
}
