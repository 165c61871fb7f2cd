//! Replacing a file in the cache atomically: write a temp file in the same directory, fsync
//! it, rename it over the old file, fsync the directory. A crash at any moment leaves the old
//! file or the new one, both complete. Callers hold the lock that guards the file.

use std::fs::File;
use std::path::Path;

use super::Error;

/// Prefix of temp files; anything starting with it is left over from an interrupted write.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Replaces `path` with what `write` writes into a fresh file (returning the file to sync).
/// On failure the temp file is removed and the old file stays.
pub fn replace(path: &Path, write: impl FnOnce(File) -> Result<File, Error>) -> Result<(), Error> {
    let dir = path.parent().expect("cache files have a directory");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    fs_err::create_dir_all(dir)?;
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}-{name}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = (|| {
        let file = write(fs_err::File::create(&temp)?.into_file())?;
        file.sync_all()?;
        fs_err::rename(&temp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs_err::remove_file(&temp);
    }
    result
}

/// Makes a rename or removal in `dir` durable.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs_err::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> Result<(), Error> {
    Ok(())
}
