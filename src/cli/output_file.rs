//! `--output FILE`: a regular file (or a new one) is replaced atomically, through a temp file
//! beside it (`.FILE.barkeep-PID.tmp`) that is synced and renamed over it, and removed when
//! the write fails or is interrupted; anything else (a device such as `/dev/null`, a FIFO, a
//! symlink, `/dev/stdout`) is written directly and never replaced (issue 14).
//!
//! The temp file is synced behind the writer, every [`SYNC_EVERY`] bytes on a thread of its
//! own, so the disk works while the bars are formatted and the final sync has little left.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;

/// Bytes written between two background syncs of the temp file.
const SYNC_EVERY: u64 = 16 << 20;

/// Writes `path` with `write`: atomically when it is a regular file or does not exist,
/// directly otherwise.
pub(super) fn write(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if is_written_directly(path) {
        let file = open_directly(path)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        write(&mut out)?;
        Ok(out.flush()?)
    } else {
        write_atomically(path, write)
    }
}

/// Whether `path` is written directly: something that is not a regular file (a device, a
/// FIFO, a symlink). A regular file, or nothing, is replaced through a temp file.
pub(super) fn is_written_directly(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok_and(|meta| !meta.file_type().is_file())
}

/// Opens a target that is not a regular file for writing. Opening a FIFO waits for a
/// reader, possibly for ever: the wait is registered, so a signal ends the run at once
/// (issue 20).
fn open_directly(path: &Path) -> std::io::Result<fs_err::File> {
    let _waiting = crate::interrupt::blocked_on(crate::interrupt::Wait::Other(format!(
        "waiting for a reader to open `{}`",
        path.display()
    )));
    fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Writes through a temp file beside `path` and renames it into place, so an interrupted
/// run never leaves a half-written output file.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.barkeep-{}.tmp", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let file = fs_err::File::create(&temp)?;
        let behind = file.file().try_clone()?;
        // One pending request at most: a sync flushes whatever is written by then.
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let syncer = std::thread::spawn(move || {
            // Errors here are not lost: the final sync below meets them again.
            while rx.recv().is_ok() {
                let _ = behind.sync_data();
            }
        });
        let mut out = BufWriter::with_capacity(
            1 << 16,
            SyncBehind {
                file,
                unsynced: 0,
                tx,
            },
        );
        let written = write(&mut out).and_then(|()| Ok(out.flush()?));
        let SyncBehind { file, tx, .. } = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        drop(tx);
        let _ = syncer.join();
        written?;
        file.sync_all()?;
        Ok(fs_err::rename(&temp, path)?)
    })();
    if result.is_err() {
        let _ = fs_err::remove_file(&temp);
    }
    result
}

/// A file that asks for a background sync every [`SYNC_EVERY`] bytes.
struct SyncBehind {
    file: fs_err::File,
    unsynced: u64,
    tx: mpsc::SyncSender<()>,
}

impl Write for SyncBehind {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unsynced += n as u64;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            let _ = self.tx.try_send(());
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
