//! `--output FILE`: a regular file (or a new one) is replaced atomically, through a temp file
//! beside it (`.FILE.barkeep-PID.tmp`) that is synced and renamed over it, and removed when
//! the write fails or is interrupted; anything else (a device such as `/dev/null`, a FIFO, a
//! symlink, `/dev/stdout`) is written directly and never replaced (issue 14).
//!
//! A replacement is an editor's save (issue 20):
//! - the new file keeps the old one's mode and owner: the temp file is created with that mode
//!   (the umask can only narrow it) and given that owner before anything is written into it.
//!   When the process may not give it that owner, FILE is refused rather than handed to
//!   another owner, which could let someone else read it;
//! - a read-only FILE is refused unless `--force` (its replacement stays read-only);
//! - when the directory is not writable but FILE is, FILE is rewritten in place, with a note
//!   that this is not atomic;
//! - the temp files of dead processes (a SIGKILL leaves one) are removed by the next run that
//!   writes the same FILE; a live process's never are.
//!
//! [`check`] makes every refusal before any work is done; they are usage errors (exit 2).
//!
//! The temp file is written behind the formatter ([`WriteBehind`]: past the page cache where
//! the filesystem allows), so the disk works while the bars are formatted and the final sync
//! has little left.

use std::fs::Metadata;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::UsageError;
use super::printer::Printer;
use super::write_behind::WriteBehind;

/// Checks that `path` can be written as [`write`] will write it, before any work is done:
/// the temp file is created (with the mode and owner it would have) and removed again.
pub(super) fn check(path: &Path, force: bool) -> anyhow::Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => Ok(()),
        existing => {
            prepare(path, existing.ok().as_ref(), force)?.discard();
            Ok(())
        }
    }
}

/// Writes `path` with `write`: atomically when it is a regular file or does not exist (in
/// place, with a note on `printer`, when only the file is writable), directly otherwise.
pub(super) fn write(
    path: &Path,
    force: bool,
    printer: &Printer,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            let file = open_directly(path)?;
            let mut out = BufWriter::with_capacity(1 << 16, file);
            write(&mut out)?;
            Ok(out.flush()?)
        }
        existing => {
            remove_dead_temps(path);
            match prepare(path, existing.ok().as_ref(), force)? {
                Prepared::Temp { temp, file } => write_atomically(path, &temp, file, write),
                Prepared::InPlace(file) => {
                    printer.note(&format!(
                        "note: the directory of `{}` is not writable, so the file is rewritten in place, not atomically: a reader may see it half-written, and an interrupted run leaves it cut short",
                        path.display()
                    ));
                    write_in_place(file, write)
                }
            }
        }
    }
}

/// Whether `path` is written directly: something that is not a regular file (a device, a
/// FIFO, a symlink). A regular file, or nothing, is replaced through a temp file.
pub(super) fn is_written_directly(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok_and(|meta| !meta.file_type().is_file())
}

/// Whether `path` is a terminal (`/dev/tty`, a pty, `/dev/stdout` when that is one), for the
/// binary formats, which refuse one. Only a character device is opened to ask, never a FIFO
/// (that would wait for a reader), and without waiting (`O_NONBLOCK`: a serial line does not
/// wait for its carrier) or becoming the controlling terminal (`O_NOCTTY`).
#[cfg(unix)]
pub(super) fn is_terminal(path: &Path) -> bool {
    use std::io::IsTerminal;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    std::fs::metadata(path).is_ok_and(|meta| meta.file_type().is_char_device())
        && std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(flags.bits().cast_signed())
            .open(path)
            .is_ok_and(|file| file.is_terminal())
}

/// Whether `path` is a console (`CON`, `CONOUT$`), for the binary formats, which refuse one.
#[cfg(not(unix))]
pub(super) fn is_terminal(path: &Path) -> bool {
    use std::io::IsTerminal;
    !std::fs::metadata(path).is_ok_and(|meta| meta.is_file())
        && std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .is_ok_and(|file| file.is_terminal())
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

/// Where the bars of a regular FILE go.
enum Prepared {
    /// A new temp file beside FILE, with FILE's mode and owner when FILE exists.
    Temp { temp: PathBuf, file: fs_err::File },
    /// FILE itself, opened for writing but not truncated yet: its directory is not writable.
    InPlace(fs_err::File),
}

impl Prepared {
    fn discard(self) {
        if let Prepared::Temp { temp, file } = self {
            drop(file);
            let _ = fs_err::remove_file(temp);
        }
    }
}

/// The temp file of `path`: `.NAME.barkeep-PID.tmp` beside it.
fn temp_path(path: &Path) -> PathBuf {
    path.with_file_name(format!("{}{}.tmp", temp_prefix(path), std::process::id()))
}

/// What the temp files of `path` start with, whichever process made them: `.NAME.barkeep-`.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.barkeep-")
}

/// Creates the temp file of `path` (`existing` is its metadata when it exists), or opens
/// `path` itself when only it is writable, making every refusal.
fn prepare(path: &Path, existing: Option<&Metadata>, force: bool) -> anyhow::Result<Prepared> {
    let temp = temp_path(path);
    let file = match create_temp(&temp, existing) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return open_in_place(path, existing, force, &e);
        }
        Err(e) => return Err(e.into()),
    };
    match existing.map_or(Ok(()), |old| keep_mode_and_owner(path, &file, old, force)) {
        Ok(()) => Ok(Prepared::Temp { temp, file }),
        Err(e) => {
            Prepared::Temp { temp, file }.discard();
            Err(e)
        }
    }
}

/// Creates `temp`, with the permission bits of the file it replaces when there is one (the
/// umask may narrow them; [`keep_mode_and_owner`] then sets them exactly). Never follows or
/// reuses what stands at its path: a leftover of an earlier process that had this pid is
/// removed first.
fn create_temp(temp: &Path, existing: Option<&Metadata>) -> std::io::Result<fs_err::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(old) = existing {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        options.mode(old.mode() & 0o777);
    }
    #[cfg(not(unix))]
    let _ = existing;
    let file = match options.open(temp) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            fs_err::remove_file(temp)?;
            options.open(temp)
        }
        result => result,
    };
    let file = file.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create `{}`: {e}", temp.display()))
    })?;
    Ok(fs_err::File::from_parts(file, temp))
}

/// Whether `old` is a file its owner may not write, or no one may (the way editors tell).
#[cfg(unix)]
fn is_read_only(old: &Metadata, owner_is_me: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    old.mode() & 0o222 == 0 || (owner_is_me && old.mode() & 0o200 == 0)
}

#[cfg(not(unix))]
fn is_read_only(old: &Metadata, _owner_is_me: bool) -> bool {
    old.permissions().readonly()
}

fn read_only_refusal(path: &Path, old: &Metadata) -> anyhow::Error {
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::MetadataExt;
        format!(" (mode {:04o})", old.mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = {
        let _ = old;
        String::new()
    };
    UsageError(format!(
        "--output `{}` is read-only{mode}; pass --force to replace it anyway (the new file stays read-only), or choose another FILE",
        path.display()
    ))
    .into()
}

/// Refuses a read-only `old` without `force`, then gives the temp file `old`'s owner and
/// group (when they differ from the process's) and exactly its mode, before any byte is
/// written into it.
#[cfg(unix)]
fn keep_mode_and_owner(
    path: &Path,
    temp: &fs_err::File,
    old: &Metadata,
    force: bool,
) -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // A file this process creates belongs to its effective user.
    let mine = temp.metadata()?;
    if is_read_only(old, old.uid() == mine.uid()) && !force {
        return Err(read_only_refusal(path, old));
    }
    let uid = (old.uid() != mine.uid()).then_some(old.uid());
    let gid = (old.gid() != mine.gid()).then_some(old.gid());
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(temp.file(), uid, gid).map_err(|e| {
            UsageError(format!(
                "cannot replace --output `{}` and keep its owner (user {}, group {}): {e}; run barkeep as that user, delete the file first, or choose another FILE",
                path.display(),
                old.uid(),
                old.gid()
            ))
        })?;
    }
    // After the owner: changing it may clear the set-user-ID and set-group-ID bits.
    temp.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777))?;
    Ok(())
}

#[cfg(not(unix))]
fn keep_mode_and_owner(
    path: &Path,
    _temp: &fs_err::File,
    old: &Metadata,
    force: bool,
) -> anyhow::Result<()> {
    if is_read_only(old, true) && !force {
        return Err(read_only_refusal(path, old));
    }
    Ok(())
}

/// The directory of `path` refused the temp file (`create_error`): `path` itself, opened
/// for writing, when it exists and may be written.
fn open_in_place(
    path: &Path,
    existing: Option<&Metadata>,
    force: bool,
    create_error: &std::io::Error,
) -> anyhow::Result<Prepared> {
    let Some(old) = existing else {
        return Err(UsageError(format!(
            "cannot create --output `{}`: its directory is not writable ({create_error}); choose another directory",
            path.display()
        ))
        .into());
    };
    // Whoever may open it for writing below is its owner, root, or allowed by its group or
    // other bits: only a file no one may write counts as read-only here.
    if is_read_only(old, false) && !force {
        return Err(read_only_refusal(path, old));
    }
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => Ok(Prepared::InPlace(fs_err::File::from_parts(file, path))),
        Err(e) => Err(UsageError(format!(
            "cannot write --output `{}`: neither its directory nor the file is writable ({e}); choose another FILE",
            path.display()
        ))
        .into()),
    }
}

/// Writes through `temp` and renames it over `path`, so an interrupted run never leaves a
/// half-written output file.
fn write_atomically(
    path: &Path,
    temp: &Path,
    file: fs_err::File,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let result = (|| -> anyhow::Result<()> {
        let mut out = WriteBehind::new(file);
        write(&mut out)?;
        let file = out.finish()?;
        file.sync_all()?;
        Ok(fs_err::rename(temp, path)?)
    })();
    if result.is_err() {
        let _ = fs_err::remove_file(temp);
    }
    result
}

/// Truncates `file` (the output itself) and writes it; not atomic, so only when its
/// directory refuses a temp file.
fn write_in_place(
    file: fs_err::File,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    file.set_len(0)?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    write(&mut out)?;
    let file = out
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    Ok(file.sync_all()?)
}

/// Removes the temp files of `path` that dead processes left (killed before they could
/// remove them). Best effort: what cannot be listed or removed stays, and so does the temp
/// file of any process that may be alive.
fn remove_dead_temps(path: &Path) {
    let prefix = temp_prefix(path);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && is_dead(pid)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether no process `pid` exists: `kill(pid, 0)` answers ESRCH. A process of another user
/// (EPERM) is alive. A pid reused since is taken for alive, so its temp file stays.
#[cfg(unix)]
fn is_dead(pid: u32) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH))
}

/// Without a way to ask, every process may be alive.
#[cfg(not(unix))]
fn is_dead(_pid: u32) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn temp_files_of_dead_processes_go_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bars.csv");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let alive = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let names = [
            format!(".bars.csv.barkeep-{dead}.tmp"),
            format!(".bars.csv.barkeep-{}.tmp", alive.id()),
            format!(".bars.csv.barkeep-{}.tmp", std::process::id()),
            format!(".other.csv.barkeep-{dead}.tmp"),
            ".bars.csv.barkeep-x1.tmp".to_owned(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        remove_dead_temps(&out);
        let mut alive = alive;
        let _ = alive.kill();
        let _ = alive.wait();
        let left: Vec<bool> = names.iter().map(|n| dir.path().join(n).exists()).collect();
        assert_eq!(left, [false, true, true, true, true]);
    }
}
