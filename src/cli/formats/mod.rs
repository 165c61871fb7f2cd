//! One printer per output format, shared by every command that prints data on stdout, in
//! the manner of ripgrep's `printer` crate: [`table`] (the one column aligner, for people),
//! [`csv`] (the one escaper) and [`json`] (documents and one-line records), used by the bars
//! of `fetch` ([`bars`], whose hot loop formats rows in [`bar_text`] and their numbers in
//! [`number_text`]; its binary formats
//! are an Arrow IPC stream, [`arrow`], and a Parquet file, [`parquet`]), the listings,
//! calendar and gaps of `inspect`, and the plans and reports of `update` and `prune`.
//!
//! A reader that stops reading (`fetch ... | sleep 60`) blocks a write in the kernel, where no
//! signal reaches it: every stdout writer is a [`ReaderWait`], whose writes are registered as
//! a wait for the reader ([`interrupt::blocked_on`]), so that Ctrl-C or SIGTERM ends the run
//! at once (issue 20).

use std::io::Write;

use crate::interrupt::{self, Wait};

pub(crate) mod arrow;
pub(crate) mod bar_text;
pub(crate) mod bars;
pub(crate) mod csv;
pub(crate) mod json;
pub(crate) mod number_text;
pub(crate) mod parquet;
pub(crate) mod table;

/// An output (stdout, or `-o`) each of whose writes (and flushes) is registered as a wait
/// for its reader while it lasts, so a signal ends a write into a reader that stopped
/// reading at once. Every command's data on stdout goes through one.
pub(crate) struct ReaderWait<W>(pub(crate) W);

impl<W: Write> Write for ReaderWait<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _waiting = interrupt::blocked_on(Wait::Output);
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let _waiting = interrupt::blocked_on(Wait::Output);
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _waiting = interrupt::blocked_on(Wait::Output);
        self.0.flush()
    }
}

/// Standard output, buffered, each write a registered wait for its reader.
pub(crate) fn stdout() -> std::io::BufWriter<ReaderWait<std::io::StdoutLock<'static>>> {
    std::io::BufWriter::new(ReaderWait(std::io::stdout().lock()))
}
