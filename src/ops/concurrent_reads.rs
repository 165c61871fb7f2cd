//! Reading many series at once. Each read is a blocking call (a footer from a file, or an
//! object GET in a bucket); they run on tokio's blocking threads, at most
//! [`READS_IN_FLIGHT`] at a time, and come back in the order asked. A bucket's reads overlap
//! their latency this way, and a directory's footers are read on both cores. A single read
//! of a directory cache is done on the calling thread. Commands that
//! run outside the async runtime (`inspect`) use [`map_scoped`], the same bound on scoped
//! threads.

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
    // A single read is done right here where that is allowed: a local footer takes less
    // than starting a blocking thread for it.
    if items.len() == 1 && crate::blocking_tasks::may_block_here() {
        return items.into_iter().map(read).collect();
    }
    futures::stream::iter(items)
        .map(|item| {
            let read = read.clone();
            async move {
                crate::blocking_tasks::spawn(move || read(item))
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

/// `read(item)` for every item, on at most [`READS_IN_FLIGHT`] scoped threads, in order: for
/// callers on a plain (or blocking) thread, where [`map_blocking`] cannot be awaited. Each
/// thread takes the next item not yet taken, so one slow read holds up only its own thread.
pub fn map_scoped<T, R>(items: &[T], read: impl Fn(&T) -> R + Sync) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let threads = READS_IN_FLIGHT.min(items.len());
    if threads <= 1 {
        return items.iter().map(read).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    // The workers run in the caller's runtime, if any: a bucket's reads then share its I/O
    // driver and connection pool instead of building a runtime per read.
    let runtime = tokio::runtime::Handle::try_current().ok();
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let _context = runtime.as_ref().map(tokio::runtime::Handle::enter);
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break done };
                        done.push((i, read(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_scoped_keeps_the_order_and_reads_every_item_once() {
        let items: Vec<u32> = (0..1_000).collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let doubled = map_scoped(&items, |&i| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i % 97 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            i * 2
        });
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(calls.into_inner(), items.len());
        assert!(map_scoped(&[] as &[u32], |&i| i).is_empty());
        assert_eq!(map_scoped(&[7u32], |&i| i + 1), vec![8]);
    }
}
