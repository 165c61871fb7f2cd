//! Ctrl-C and SIGTERM as a value the core can watch: an [`Interrupt`] says whether (and
//! which) signal arrived, and can be awaited. The CLI installs one per run; the gap-filling
//! engine watches it to stop asking Alpaca and commit everything answered so far before the
//! process exits with 130 (SIGINT) or 143 (SIGTERM).
//!
//! Every wait ends within a second of a signal (issue 20), in one of two ways:
//! - a wait that can give up (a lock another process holds, a retry back-off, the rate limit)
//!   watches the signal itself, ends with an error, and records what it was waiting for with
//!   [`gave_up`], so the run goes on committing what was answered and then says why it stopped;
//! - a thread blocked in a system call that nothing can cancel (opening a FIFO nobody opens
//!   from the other end, reading stdin, writing to a reader that stopped reading) registers
//!   the wait with [`blocked_on`] while it lasts. Only waits during which nothing else of the
//!   process is in flight are registered: the CLI ends the process during them, leaving the
//!   thread to the process exit.
//!
//! Signals are process-wide, and so are these records: [`received`], the blocked waits and
//! the first wait given up are statics, for the waits deep in the cache that hold no
//! [`Interrupt`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use tokio::sync::watch;

/// A signal that asks barkeep to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: `timeout`, `kill`, a service manager.
    Terminate,
}

impl Signal {
    /// The conventional exit status of a process stopped by this signal: 128 + its number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        [Signal::Interrupt, Signal::Terminate]
            .into_iter()
            .find(|s| s.exit_code() == code)
    }
}

/// Whether a stop was asked for. Cheap to clone; every clone sees the same signal.
#[derive(Debug, Clone)]
pub struct Interrupt {
    rx: watch::Receiver<Option<Signal>>,
}

/// The sending side: the CLI's signal handler, or a test.
#[derive(Debug)]
pub struct InterruptTrigger {
    tx: watch::Sender<Option<Signal>>,
}

impl InterruptTrigger {
    /// Asks every holder of the [`Interrupt`] to stop. The first signal wins.
    pub fn trigger(&self, signal: Signal) {
        self.tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(signal);
                true
            } else {
                false
            }
        });
    }
}

impl Interrupt {
    /// A pair: the interrupt to hand to the core, and its trigger.
    pub fn new() -> (Self, InterruptTrigger) {
        let (tx, rx) = watch::channel(None);
        (Self { rx }, InterruptTrigger { tx })
    }

    /// An interrupt that never fires.
    pub fn never() -> Self {
        let (interrupt, trigger) = Self::new();
        // The receiver keeps the last value when the sender is gone: still `None`.
        drop(trigger);
        interrupt
    }

    /// The signal, if one arrived.
    pub fn signal(&self) -> Option<Signal> {
        *self.rx.borrow()
    }

    /// Waits for a signal; never resolves if none can come any more.
    pub async fn wait(&self) -> Signal {
        let mut rx = self.rx.clone();
        loop {
            if let Some(signal) = *rx.borrow_and_update() {
                return signal;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Something a thread waits for that is not this process's own work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// Writing the command's output (stdout or `--output`) while its reader takes nothing:
    /// the CLI, which knows where the output goes, names it and decides whether that is a
    /// reader's wait (a pipe, a FIFO) or its own file's.
    Output,
    /// Anything else, as the end of `interrupted (SIGTERM) while ...`: "waiting for the lock
    /// of AAPL 1Min (stocks sip) held by another barkeep".
    Other(String),
}

/// The signal [`listen`] received, as its exit code (0: none yet).
static RECEIVED: AtomicU8 = AtomicU8::new(0);

/// The signal this process received, for waits that hold no [`Interrupt`] (a lock wait in
/// the cache polls it between tries).
pub fn received() -> Option<Signal> {
    Signal::from_code(RECEIVED.load(Ordering::Relaxed))
}

/// The waits registered by [`blocked_on`], by registration number.
static BLOCKED: Mutex<Vec<(u64, Wait)>> = Mutex::new(Vec::new());
static NEXT_BLOCKED: AtomicU64 = AtomicU64::new(0);
/// The first wait a signal ended ([`gave_up`]).
static GAVE_UP: Mutex<Option<Wait>> = Mutex::new(None);

/// A registered blocking wait; dropping it ends the registration.
#[derive(Debug)]
#[must_use = "the wait is registered only while the guard lives"]
pub struct Blocked(u64);

impl Drop for Blocked {
    fn drop(&mut self) {
        let mut blocked = BLOCKED.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|(id, _)| *id != self.0);
    }
}

/// Registers the calling thread as blocked on `wait` (a system call that no signal cancels)
/// until the guard drops. Only for waits during which the process has nothing else in flight
/// (no commit, no answer to commit): when a signal comes, the CLI ends the process at once.
pub fn blocked_on(wait: Wait) -> Blocked {
    let id = NEXT_BLOCKED.fetch_add(1, Ordering::Relaxed);
    BLOCKED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, wait));
    Blocked(id)
}

/// The waits threads are blocked on right now, oldest first.
pub fn blocked() -> Vec<Wait> {
    let blocked = BLOCKED.lock().unwrap_or_else(|e| e.into_inner());
    blocked.iter().map(|(_, wait)| wait.clone()).collect()
}

/// Records that a signal ended `wait`, which then returned an error; the first one recorded
/// is what the CLI says it was waiting for.
pub fn gave_up(wait: Wait) {
    GAVE_UP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert(wait);
}

/// The first wait a signal ended, if any.
pub fn given_up() -> Option<Wait> {
    GAVE_UP.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Listens for SIGINT and SIGTERM (Ctrl-C and Ctrl-Break elsewhere) on the current tokio
/// runtime and triggers `trigger` on the first (and sets [`received`]). Each further signal
/// triggers again (a no-op), so a user pressing Ctrl-C twice is not ignored by the OS default
/// either way.
pub fn listen(trigger: InterruptTrigger) {
    let trigger = move |signal: Signal| {
        let _ =
            RECEIVED.compare_exchange(0, signal.exit_code(), Ordering::Relaxed, Ordering::Relaxed);
        trigger.trigger(signal);
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = int.recv() => trigger(Signal::Interrupt),
                    _ = term.recv() => trigger(Signal::Terminate),
                }
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            trigger(Signal::Interrupt);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_signal_wins_and_every_clone_sees_it() {
        let (interrupt, trigger) = Interrupt::new();
        let clone = interrupt.clone();
        assert_eq!(interrupt.signal(), None);
        let waiter = tokio::spawn(async move { clone.wait().await });
        trigger.trigger(Signal::Terminate);
        trigger.trigger(Signal::Interrupt);
        assert_eq!(waiter.await.unwrap(), Signal::Terminate);
        assert_eq!(interrupt.signal(), Some(Signal::Terminate));
        assert_eq!(Interrupt::never().signal(), None);
    }

    #[test]
    fn a_blocked_wait_is_listed_while_its_guard_lives() {
        let wait = Wait::Other("waiting for a test".to_owned());
        let guard = blocked_on(wait.clone());
        assert!(blocked().contains(&wait));
        drop(guard);
        assert!(!blocked().contains(&wait));
    }

    #[test]
    fn the_first_wait_given_up_is_kept() {
        gave_up(Wait::Output);
        let first = given_up();
        assert!(first.is_some());
        gave_up(Wait::Other("later".to_owned()));
        assert_eq!(given_up(), first);
    }
}
