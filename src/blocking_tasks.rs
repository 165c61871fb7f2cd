//! Blocking work (file reads, commits, the output writer) handed to tokio's blocking
//! threads, and counted while it runs, so the CLI knows at exit whether any of it is still
//! running. Every blocking task of barkeep starts through [`spawn`] (a unit test keeps it so),
//! and [`may_block_here`] says when a short one may run in place instead.
//!
//! Why count: when a run ends, its runtime either waits for its blocking threads to finish
//! (`shutdown_timeout`), or leaves them to the process exit (`shutdown_background`). Waiting
//! is what keeps a commit that a failure or a signal left running from being cut off. But
//! when nothing runs, waiting only wakes idle threads to join them: 0.3-0.5 ms of every
//! shell-loop call in a micro-benchmark (issue 24). [`in_flight`] tells the two apart.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::task::JoinHandle;

/// Blocking tasks spawned through a counter and not yet finished (or dropped unstarted).
struct Counter(AtomicUsize);

/// The process's count: signals and the runtime are process-wide too.
static TASKS: Counter = Counter(AtomicUsize::new(0));

impl Counter {
    /// `tokio::task::spawn_blocking`, counted until `work` returns (or unwinds), or is
    /// dropped without running because the runtime shut down first.
    fn spawn<F, R>(&'static self, work: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let running = Running::start(self);
        tokio::task::spawn_blocking(move || {
            let _running = running;
            work()
        })
    }

    fn in_flight(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// One counted task: counted from its creation until it is dropped.
struct Running(&'static Counter);

impl Running {
    fn start(counter: &'static Counter) -> Self {
        counter.0.fetch_add(1, Ordering::SeqCst);
        Running(counter)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `tokio::task::spawn_blocking`, counted by [`in_flight`] until `work` returns.
pub fn spawn<F, R>(work: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    TASKS.spawn(work)
}

/// Whether the caller may do a short piece of blocking work right where it is, rather than
/// hand it to a blocking thread: true on the current-thread runtime, the one of runs on a
/// directory cache, where nothing else waits on this thread and starting a blocking thread
/// costs more than a footer read or one chunk of output (issue 24: a shell loop fetching one
/// series a call). The multi-thread runtime (runs that reach a bucket) keeps its workers free.
pub fn may_block_here() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
        runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
    })
}

/// Blocking tasks started by [`spawn`] whose work has not returned yet.
pub fn in_flight() -> usize {
    TASKS.in_flight()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_current_thread_runtime_may_block_in_place() {
        assert!(!may_block_here(), "outside any runtime");
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(current.block_on(async { may_block_here() }));
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert!(!multi.block_on(async { may_block_here() }));
    }

    #[tokio::test]
    async fn a_task_counts_until_its_work_returns() {
        static COUNTER: Counter = Counter(AtomicUsize::new(0));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        let task = COUNTER.spawn(move || {
            started.send(()).unwrap();
            gate.recv().unwrap();
            7
        });
        has_started.recv().unwrap();
        assert_eq!(COUNTER.in_flight(), 1, "a running task is counted");
        release.send(()).unwrap();
        assert_eq!(task.await.unwrap(), 7);
        // The closure (and its guard) is dropped once it returns, before its handle resolves.
        assert_eq!(COUNTER.in_flight(), 0, "a finished task is not");
    }

    #[tokio::test]
    async fn a_task_that_panics_is_no_longer_counted() {
        static COUNTER: Counter = Counter(AtomicUsize::new(0));
        let task = COUNTER.spawn(|| panic!("boom"));
        assert!(task.await.is_err());
        assert_eq!(COUNTER.in_flight(), 0);
    }

    #[test]
    fn every_blocking_task_of_the_crate_starts_through_spawn() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![src];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("blocking_tasks.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains("tokio::task::spawn_blocking") {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "use crate::blocking_tasks::spawn in {offenders:?}"
        );
    }
}
