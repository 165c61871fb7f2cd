//! A watchlist file (`update --symbols-file`, or stdin for `-`): one symbol per line, `#`
//! comments and blank lines ignored, a UTF-8 byte-order mark skipped. A line that is not a
//! symbol is reported and skipped, so a typo in one line of a nightly watchlist does not skip
//! the whole night. The file is refused beyond [`MAX_BYTES`] or [`MAX_LINES`], so
//! `/dev/zero` or a wrong file fails at once instead of filling memory.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::interrupt::{self, Wait};
use crate::market::Symbol;

/// The largest watchlist read: 1 MiB, far more than every US ticker one per line.
pub const MAX_BYTES: u64 = 1 << 20;
/// The most lines a watchlist may have (comments and blank lines included).
pub const MAX_LINES: usize = 100_000;

/// A watchlist that cannot be used at all (bad input: exit status 2 at the CLI).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WatchlistError(String);

/// A line that is not a valid symbol.
#[derive(Debug)]
pub struct BadLine {
    /// `FILE:LINE`.
    pub location: String,
    /// The line as written (escaped and shortened for display).
    pub text: String,
    pub error: String,
}

/// What a watchlist holds.
#[derive(Debug, Default)]
pub struct Watchlist {
    pub symbols: Vec<Symbol>,
    pub bad_lines: Vec<BadLine>,
}

/// Reads the watchlist at `path` (`-`: stdin) off the async threads.
///
/// A FIFO nobody writes to, or stdin from a writer that never closes it, blocks the open or
/// the read where no signal reaches it: the wait is registered, so a signal ends the run at
/// once (issue 20).
pub async fn read(path: &Path) -> Result<Watchlist, WatchlistError> {
    let path: PathBuf = path.to_owned();
    crate::blocking_tasks::spawn(move || read_blocking(&path))
        .await
        .map_err(|e| WatchlistError(format!("reading the watchlist failed: {e}")))?
}

fn read_blocking(path: &Path) -> Result<Watchlist, WatchlistError> {
    let text = read_text(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut watchlist = Watchlist::default();
    for (number, line) in text.lines().enumerate() {
        let text = line.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        match text.parse::<Symbol>() {
            Ok(symbol) => watchlist.symbols.push(symbol),
            Err(e) => watchlist.bad_lines.push(BadLine {
                location: format!("{}:{}", path.display(), number + 1),
                text: crate::market::shown_input(text),
                error: e.to_string(),
            }),
        }
    }
    if watchlist.symbols.is_empty() && watchlist.bad_lines.is_empty() {
        return Err(WatchlistError(format!(
            "--symbols-file `{}` lists no symbols; put one symbol per line",
            path.display()
        )));
    }
    Ok(watchlist)
}

/// The text of the file, within the limits.
fn read_text(path: &Path) -> Result<String, WatchlistError> {
    let unreadable = |e: std::io::Error| {
        WatchlistError(format!(
            "cannot read --symbols-file `{}`: {e}; give a readable file with one symbol per line",
            path.display()
        ))
    };
    let stdin = path.as_os_str() == "-";
    let _waiting = interrupt::blocked_on(Wait::Other(if stdin {
        "waiting for stdin to be written and closed (--symbols-file -)".to_owned()
    } else {
        format!(
            "waiting for --symbols-file `{}` to be written",
            path.display()
        )
    }));
    let mut bytes = Vec::new();
    if stdin {
        std::io::stdin()
            .lock()
            .take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
    } else {
        std::fs::File::open(path)
            .map_err(unreadable)?
            .take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
    }
    if bytes.len() as u64 > MAX_BYTES {
        return Err(WatchlistError(format!(
            "--symbols-file `{}` is larger than 1 MiB; a watchlist holds one symbol per line (check that this is the right file)",
            path.display()
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        WatchlistError(format!(
            "--symbols-file `{}` is not UTF-8 text; give a text file with one symbol per line",
            path.display()
        ))
    })?;
    if text.lines().count() > MAX_LINES {
        return Err(WatchlistError(format!(
            "--symbols-file `{}` has more than 100,000 lines; split the watchlist, or check that this is the right file",
            path.display()
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_symbols_and_bad_lines_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watchlist.txt");
        std::fs::write(
            &path,
            "\u{feff}AAPL\n# comment\n\nmsft # trailing\nBAD SYMBOL\n",
        )
        .unwrap();
        let watchlist = read_blocking(&path).unwrap();
        let symbols: Vec<&str> = watchlist.symbols.iter().map(Symbol::as_str).collect();
        assert_eq!(symbols, ["AAPL", "MSFT"]);
        assert_eq!(watchlist.bad_lines.len(), 1);
        assert!(watchlist.bad_lines[0].location.ends_with("watchlist.txt:5"));
        std::fs::write(&path, "# only a comment\n").unwrap();
        let empty = read_blocking(&path).unwrap_err().to_string();
        assert!(empty.contains("lists no symbols"), "{empty}");
    }
}
