//! Where the cache lives: `--cache-dir`, else `BARKEEP_CACHE_DIR` (both resolved by the CLI),
//! else the platform's user cache directory, one of [`DEFAULT_ROOTS`]. That list is also what
//! `--help` and the man pages' FILES section say, so it is the one place to change.

use std::path::PathBuf;

use super::Error;

/// The default cache root per platform: (platform, where), as `directories` resolves it.
pub const DEFAULT_ROOTS: [(&str, &str); 3] = [
    (
        "Linux",
        "~/.cache/barkeep, or $XDG_CACHE_HOME/barkeep when XDG_CACHE_HOME is set",
    ),
    ("macOS", "~/Library/Caches/barkeep"),
    ("Windows", r"%LOCALAPPDATA%\barkeep\cache"),
];

/// The cache root: `explicit` when given, otherwise the user cache directory.
pub fn resolve(explicit: Option<PathBuf>) -> Result<PathBuf, Error> {
    match explicit {
        Some(dir) => Ok(dir),
        None => directories::ProjectDirs::from("", "", "barkeep")
            .map(|dirs| dirs.cache_dir().to_path_buf())
            .ok_or(Error::NoCacheDir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented default is the one `directories` picks on this platform.
    #[test]
    fn default_root_is_the_documented_one() {
        let Ok(root) = resolve(None) else {
            return; // no home directory: nothing to compare
        };
        let home = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
        let documented = |platform: &str| {
            DEFAULT_ROOTS
                .iter()
                .find(|(p, _)| *p == platform)
                .map(|(_, r)| *r)
                .unwrap()
        };
        if cfg!(target_os = "linux") {
            let xdg = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from);
            let expected = match xdg.filter(|p| p.is_absolute()) {
                Some(xdg) => xdg.join("barkeep"),
                None => home.unwrap().join(".cache/barkeep"),
            };
            assert_eq!(root, expected);
            assert!(documented("Linux").starts_with("~/.cache/barkeep"));
        } else if cfg!(target_os = "macos") {
            let relative = documented("macOS").trim_start_matches("~/");
            assert_eq!(root, home.unwrap().join(relative));
        } else if cfg!(windows) {
            assert!(root.ends_with(r"barkeep\cache"));
        }
    }
}
