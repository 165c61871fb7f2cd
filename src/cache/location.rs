//! Where the cache lives: `--cache-dir`, else `BARKEEP_CACHE_DIR` (both resolved by the CLI),
//! else the platform's user cache directory (`~/.cache/barkeep` on Linux,
//! `~/Library/Caches/barkeep` on macOS, `%LOCALAPPDATA%\barkeep\cache` on Windows).

use std::path::PathBuf;

use super::Error;

/// The cache root: `explicit` when given, otherwise the user cache directory.
pub fn resolve(explicit: Option<PathBuf>) -> Result<PathBuf, Error> {
    match explicit {
        Some(dir) => Ok(dir),
        None => directories::ProjectDirs::from("", "", "barkeep")
            .map(|dirs| dirs.cache_dir().to_path_buf())
            .ok_or(Error::NoCacheDir),
    }
}
