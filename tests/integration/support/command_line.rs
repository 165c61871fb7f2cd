//! Command lines for the binary under test, written the way the README writes them:
//! `env.run("fetch -q AAPL --start 2024-01-02 --end 2024-01-31")`.
//!
//! Owns: splitting one string into arguments (whitespace between words; `'…'` and `"…"` for a
//! word with spaces, or an empty one), and [`CommandLine`], which also takes an argv slice for
//! what a string cannot say (an argument that is not UTF-8, or one built from a path).
//! Must not: know about barkeep's flags, or expand anything a shell would (`$`, `~`, globs).

use std::ffi::{OsStr, OsString};

/// What `TestEnv::run` and its siblings take: a command line as one string, split by
/// [`split`], or the arguments one by one (`&["fetch", ""]`, a `Vec` built in a loop).
pub(crate) trait CommandLine {
    fn into_args(self) -> Vec<OsString>;
}

impl CommandLine for &str {
    fn into_args(self) -> Vec<OsString> {
        split(self).into_iter().map(OsString::from).collect()
    }
}

impl CommandLine for &String {
    fn into_args(self) -> Vec<OsString> {
        self.as_str().into_args()
    }
}

/// A reference to a command line, e.g. `&&[&str]` when looping over a list of argv slices.
impl<T: CommandLine + Copy> CommandLine for &T {
    fn into_args(self) -> Vec<OsString> {
        (*self).into_args()
    }
}

impl<S: AsRef<OsStr>> CommandLine for &[S] {
    fn into_args(self) -> Vec<OsString> {
        self.iter().map(|a| a.as_ref().to_owned()).collect()
    }
}

impl<S: AsRef<OsStr>, const N: usize> CommandLine for &[S; N] {
    fn into_args(self) -> Vec<OsString> {
        self.as_slice().into_args()
    }
}

impl<S: AsRef<OsStr>> CommandLine for &Vec<S> {
    fn into_args(self) -> Vec<OsString> {
        self.as_slice().into_args()
    }
}

/// The words of `line`: runs of non-whitespace, where a quoted part (`'…'` or `"…"`, taken
/// literally, no escapes) may hold spaces and `""` is an empty word. Panics on an unclosed
/// quote: that is a typo in the test.
pub(crate) fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(inner) => word.push(inner),
                        None => panic!("unclosed {c} in the command line {line:?}"),
                    }
                }
            }
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_are_split_on_whitespace() {
        assert_eq!(
            split("  fetch -q\tAAPL  --start 2024-01-02 "),
            ["fetch", "-q", "AAPL", "--start", "2024-01-02"]
        );
        assert!(split("   ").is_empty());
    }

    #[test]
    fn quotes_hold_spaces_empty_words_and_the_other_quote() {
        assert_eq!(
            split(r#"fetch "" 'a b' "it's" --x="1 2"y"#),
            ["fetch", "", "a b", "it's", "--x=1 2y"]
        );
    }

    #[test]
    #[should_panic(expected = "unclosed")]
    fn an_unclosed_quote_is_a_typo() {
        split("fetch 'AAPL");
    }
}
