//! Ctrl-C and SIGTERM as a value the core can watch: an [`Interrupt`] says whether (and
//! which) signal arrived, and can be awaited. The CLI installs one per run; the gap-filling
//! engine watches it to stop asking Alpaca and commit everything answered so far before the
//! process exits with 130 (SIGINT) or 143 (SIGTERM).

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

/// Listens for SIGINT and SIGTERM (Ctrl-C and Ctrl-Break elsewhere) on the current tokio
/// runtime and triggers `trigger` on the first. Each further signal triggers again (a no-op),
/// so a user pressing Ctrl-C twice is not ignored by the OS default either way.
pub fn listen(trigger: InterruptTrigger) {
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
                    _ = int.recv() => trigger.trigger(Signal::Interrupt),
                    _ = term.recv() => trigger.trigger(Signal::Terminate),
                }
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            trigger.trigger(Signal::Interrupt);
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
}
