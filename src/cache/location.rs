//! Where the cache lives: `--cache-dir`, else `BARKEEP_CACHE_DIR` (both resolved by the CLI),
//! else the platform's user cache directory, one of [`DEFAULT_ROOTS`]. That list is also what
//! `--help` and the man pages' FILES section say, so it is the one place to change.
//!
//! A location given by the user is a directory, a `file://` URL (a directory too), or an
//! object-storage URL of a scheme in [`BUCKET_SCHEMES`]; schemes are case-insensitive. Any
//! other `scheme:` at the start is refused rather than taken for a directory name, so a typo
//! such as `gcs://b/x` or `s3:/b/p` never creates `./gcs:/b/x` (issue 20). A scheme has at
//! least two characters, so a Windows drive (`C:\cache`) is a directory.
//!
//! Also here: [`holds`], whether a path is one of the files a directory cache keeps, so that
//! `fetch -o` never writes CSV over a series.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use super::Error;
use super::object_client::BUCKET_SCHEMES;
use crate::market::{AssetClass, shown_input};

/// Where a cache is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Directory(PathBuf),
    /// An object-storage URL, its scheme in lowercase: `s3://bucket/prefix`.
    Bucket(String),
}

/// The default cache root per platform: (platform, where), as `directories` resolves it.
pub const DEFAULT_ROOTS: [(&str, &str); 3] = [
    (
        "Linux",
        "~/.cache/barkeep, or $XDG_CACHE_HOME/barkeep when XDG_CACHE_HOME is set",
    ),
    ("macOS", "~/Library/Caches/barkeep"),
    ("Windows", r"%LOCALAPPDATA%\barkeep\cache"),
];

/// The cache: `explicit` when given (see [`parse`]), otherwise the user cache directory.
pub fn resolve(explicit: Option<PathBuf>) -> Result<Location, Error> {
    match explicit {
        Some(location) => parse(location.as_os_str()),
        None => directories::ProjectDirs::from("", "", "barkeep")
            .map(|dirs| Location::Directory(dirs.cache_dir().to_path_buf()))
            .ok_or(Error::NoCacheDir),
    }
}

/// The location `text` names: a directory, unless it starts with a URL scheme.
pub fn parse(text: &OsStr) -> Result<Location, Error> {
    let Some(scheme) = scheme_of(text.as_encoded_bytes()) else {
        return Ok(Location::Directory(PathBuf::from(text)));
    };
    let refused = |problem: String| Error::Location {
        location: shown_input(&text.to_string_lossy()),
        problem,
    };
    let Some(text) = text.to_str() else {
        return Err(refused("is not UTF-8, so it is no URL".to_owned()));
    };
    let scheme = scheme.to_ascii_lowercase();
    let rest = &text[scheme.len() + 1..];
    if scheme == "file" {
        return file_url_path(text, rest)
            .map(Location::Directory)
            .map_err(refused);
    }
    if BUCKET_SCHEMES.contains(&scheme.as_str()) {
        let bucket = rest.strip_prefix("//").and_then(|r| r.split('/').next());
        return match bucket {
            Some(bucket) if !bucket.is_empty() => Ok(Location::Bucket(format!("{scheme}:{rest}"))),
            _ => Err(refused(format!(
                "is not an object-storage URL; write {scheme}://BUCKET/PREFIX"
            ))),
        };
    }
    let directory_hint = if rest.starts_with("//") {
        ""
    } else {
        " (write `./` before a directory name that has a colon)"
    };
    Err(refused(format!(
        "starts with the URL scheme `{}`, which barkeep does not support; give a directory, a file:// URL, or an object-storage URL: {}{directory_hint}",
        shown_input(&scheme),
        supported_schemes()
    )))
}

/// The URL schemes of object storage as a message lists them: `s3://, s3a://, ...`.
fn supported_schemes() -> String {
    BUCKET_SCHEMES
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The scheme `text` starts with, as RFC 3986 spells one (`[A-Za-z][A-Za-z0-9+.-]*:`), when
/// it is at least two characters long (one letter is a Windows drive).
fn scheme_of(text: &[u8]) -> Option<&str> {
    let end = text.iter().position(|&b| b == b':')?;
    let scheme = &text[..end];
    let valid = scheme.len() >= 2
        && scheme[0].is_ascii_alphabetic()
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
    valid.then(|| std::str::from_utf8(scheme).ok()).flatten()
}

/// The directory a `file:` URL names: `file:///PATH`, `file://localhost/PATH` or `file:/PATH`,
/// percent-decoded. `rest` is what follows `file:`.
fn file_url_path(url: &str, rest: &str) -> Result<PathBuf, String> {
    const FIX: &str = "write file:///PATH with an absolute PATH";
    if !rest.starts_with('/') {
        return Err(format!("is not a file URL of a directory; {FIX}"));
    }
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("is not a valid URL ({e}); {FIX}"))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "has a query or fragment (`?`, `#`); {FIX}, and write `%23` for a `#` in it"
        ));
    }
    parsed
        .to_file_path()
        .map_err(|()| format!("names a file on another host; {FIX}"))
}

/// Whether `path` is, or through symbolic links would write, a file the directory cache at
/// `root` keeps: anything under its asset-class directories (series files, ledgers, their
/// locks, journals and temp files). `false` for a bucket, or when either cannot be resolved.
pub fn holds(root: &Path, path: &Path) -> bool {
    let (Ok(root), Some(path)) = (std::fs::canonicalize(root), resolved(path)) else {
        return false;
    };
    let Ok(inside) = path.strip_prefix(&root) else {
        return false;
    };
    match inside.components().next() {
        Some(Component::Normal(first)) => first.to_str().and_then(AssetClass::parse).is_some(),
        _ => false,
    }
}

/// Where writing `path` lands: its symbolic links followed (also a dangling last one), and
/// its directory made absolute and canonical. `None` when the directory does not resolve.
fn resolved(path: &Path) -> Option<PathBuf> {
    let mut path = path.to_path_buf();
    // The kernel's own limit on links followed in one lookup.
    for _ in 0..40 {
        match std::fs::read_link(&path) {
            Ok(target) => path = path.parent().unwrap_or(Path::new("")).join(target),
            Err(_) => break,
        }
    }
    let name = path.file_name()?.to_owned();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Location, String> {
        parse(OsStr::new(text)).map_err(|e| e.to_string())
    }

    fn directory(path: &str) -> Result<Location, String> {
        Ok(Location::Directory(PathBuf::from(path)))
    }

    fn bucket(url: &str) -> Result<Location, String> {
        Ok(Location::Bucket(url.to_owned()))
    }

    /// Issue 20: every spelling, and what it is taken for.
    #[test]
    fn locations_are_directories_supported_urls_or_refused() {
        let table = [
            // Directories, including colons that start no scheme.
            ("/srv/barkeep", directory("/srv/barkeep")),
            ("cache", directory("cache")),
            ("./gcs:/b/x", directory("./gcs:/b/x")),
            ("data/x:y", directory("data/x:y")),
            ("~/cache", directory("~/cache")),
            (r"C:\cache", directory(r"C:\cache")),
            ("C:/cache", directory("C:/cache")),
            ("c:cache", directory("c:cache")),
            ("1a:b", directory("1a:b")),
            ("a_b:c", directory("a_b:c")),
            (":x", directory(":x")),
            // Object storage, the scheme in any case.
            ("s3://b/p", bucket("s3://b/p")),
            ("S3://b/p", bucket("s3://b/p")),
            ("s3a://b", bucket("s3a://b")),
            ("Gs://Bucket/Prefix", bucket("gs://Bucket/Prefix")),
            ("az://c/p", bucket("az://c/p")),
            ("ABFSS://c/p", bucket("abfss://c/p")),
        ];
        for (text, expected) in table {
            assert_eq!(parsed(text), expected, "{text}");
        }
        // file:// URLs are local paths, percent-decoded; the scheme in any case.
        #[cfg(unix)]
        for (text, expected) in [
            ("file:///x", directory("/x")),
            ("FILE:///srv/bar%20keep", directory("/srv/bar keep")),
            ("File://localhost/srv/x", directory("/srv/x")),
            ("file:/srv/x", directory("/srv/x")),
        ] {
            assert_eq!(parsed(text), expected, "{text}");
        }
    }

    #[test]
    fn unsupported_and_malformed_urls_are_refused() {
        let every_scheme = "s3://, s3a://, gs://, az://, abfs://, abfss://";
        for text in [
            "gcs://b/x",
            "GCS://b/x",
            "http://host/x",
            "https://host/x",
            "ftp:x",
            "cache:v2",
            "s3+http://b",
            "x.y-z:1",
        ] {
            let e = parsed(text).unwrap_err();
            assert!(
                e.contains("does not support") && e.contains(every_scheme),
                "{text}: {e}"
            );
        }
        assert!(parsed("cache:v2").unwrap_err().contains("`./`"));
        assert!(!parsed("gcs://b/x").unwrap_err().contains("`./`"));
        for text in ["s3:/b/p", "s3:b/p", "S3:/b/p", "gs:///p", "az://"] {
            let e = parsed(text).unwrap_err();
            assert!(e.contains("://BUCKET/PREFIX"), "{text}: {e}");
        }
        for text in ["file:x", "file://host/x", "file:///x?y", "file:///x#y"] {
            let e = parsed(text).unwrap_err();
            assert!(e.contains("file:///PATH"), "{text}: {e}");
        }
        // Control characters are escaped in the message.
        let e = parsed("gcs://b/\u{1b}[31m").unwrap_err();
        assert!(!e.contains('\u{1b}') && e.contains("\\u{1b}"), "{e}");
    }

    #[test]
    fn cache_files_are_held_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let series_dir = root.join("stocks/sip/1Day");
        std::fs::create_dir_all(&series_dir).unwrap();
        std::fs::write(series_dir.join("AAPL.parquet"), b"").unwrap();
        assert!(holds(&root, &series_dir.join("AAPL.parquet")));
        assert!(holds(&root, &series_dir.join("NEW.parquet")));
        assert!(holds(
            &root,
            &root.join("stocks/sip/1Day/../1Day/AAPL.parquet")
        ));
        assert!(!holds(&root, &root.join("bars.csv")));
        assert!(!holds(&root, &dir.path().join("bars.csv")));
        assert!(!holds(&root, &root.join("stocks/missing-dir/x")));
        assert!(!holds(
            Path::new("s3://b/p"),
            &series_dir.join("AAPL.parquet")
        ));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(series_dir.join("AAPL.parquet"), &link).unwrap();
            assert!(holds(&root, &link));
            let dangling = dir.path().join("dangling.csv");
            std::os::unix::fs::symlink(series_dir.join("NEW.parquet"), &dangling).unwrap();
            assert!(holds(&root, &dangling));
            let via_dir = dir.path().join("via");
            std::os::unix::fs::symlink(&series_dir, &via_dir).unwrap();
            assert!(holds(&root, &via_dir.join("AAPL.parquet")));
        }
    }

    /// The documented default is the one `directories` picks on this platform.
    #[test]
    fn default_root_is_the_documented_one() {
        let Ok(Location::Directory(root)) = resolve(None) else {
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
