//! Reading many series at once. Each read is a blocking call (a footer from a file, or an
//! object GET in a bucket); they run on tokio's blocking threads, at most
//! [`READS_IN_FLIGHT`] at a time, and come back in the order asked. A bucket's reads overlap
//! their latency this way, and a directory's footers are read on both cores.

use futures::StreamExt;

use super::Error;
use crate::cache::{SeriesKey, Store};
use crate::parquet_files::read::FileSummary;

/// Blocking reads in flight at once.
pub const READS_IN_FLIGHT: usize = 32;

/// `read(item)` for every item, on blocking threads, [`READS_IN_FLIGHT`] at a time, in order.
pub async fn map_blocking<T, R>(
    items: Vec<T>,
    read: impl Fn(T) -> Result<R, Error> + Send + Sync + Clone + 'static,
) -> Vec<Result<R, Error>>
where
    T: Send + 'static,
    R: Send + 'static,
{
    futures::stream::iter(items)
        .map(|item| {
            let read = read.clone();
            async move {
                tokio::task::spawn_blocking(move || read(item))
                    .await
                    .map_err(Error::from)
                    .and_then(|r| r)
            }
        })
        .buffered(READS_IN_FLIGHT)
        .collect()
        .await
}

/// The footers of `keys` (`None` for a series not cached), read concurrently, in order.
pub async fn read_summaries(
    store: &Store,
    keys: Vec<SeriesKey>,
) -> Vec<Result<Option<FileSummary>, Error>> {
    let store = store.clone();
    map_blocking(keys, move |key| Ok(store.read_summary(&key)?)).await
}
