//! How a URL may be shown: with the credentials a proxy URL can carry (`http://user:pass@host`)
//! and the values of secret-looking query parameters (`?apikey=...`, `X-Amz-Signature=...`)
//! replaced by `***`, and control characters escaped (`\u{1b}`), so a URL from the
//! environment cannot move the cursor or recolour the terminal. Every URL that reaches an
//! error, an event or a log line goes through here first; the URL actually requested is never
//! changed.

use reqwest::Url;

/// What stands in for a hidden secret.
const HIDDEN: &str = "***";

/// Parts of query parameter names that mark a secret value (compared lowercase).
const SECRET_NAME_PARTS: [&str; 9] = [
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "auth",
    "signature",
    "credential",
    "session",
];

/// Parameter names that look secret but are not: Alpaca's page cursor, which `-v` shows.
const NOT_SECRET: [&str; 1] = ["page_token"];

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !NOT_SECRET.contains(&name.as_str())
        && (name == "sig" || name == "pwd" || SECRET_NAME_PARTS.iter().any(|p| name.contains(p)))
}

/// `text` (a URL, possibly malformed) with its userinfo and secret query values hidden and
/// its control characters escaped. Works on the text itself, so it also redacts what
/// `Url::parse` refuses.
pub(super) fn redact_url(text: &str) -> String {
    let redacted = redact_url_raw(text);
    if redacted.chars().any(char::is_control) {
        redacted
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        redacted
    }
}

fn redact_url_raw(text: &str) -> String {
    let (before_fragment, fragment) = match text.find('#') {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let (base, query) = match before_fragment.find('?') {
        Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
        None => (before_fragment, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = String::with_capacity(text.len());
    match base[authority_start..authority_end].rfind('@') {
        Some(at) => {
            out.push_str(&base[..authority_start]);
            out.push_str(HIDDEN);
            out.push_str(&base[authority_start + at..]);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if is_secret_name(&percent_decoded(name)) => {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(HIDDEN);
                }
                _ => out.push_str(pair),
            }
        }
    }
    out.push_str(fragment);
    out
}

/// A parsed URL as it may be shown.
pub(super) fn shown(url: &Url) -> String {
    redact_url(url.as_str())
}

/// Hides the secrets of the URL a reqwest error carries (its `Display` shows the URL).
pub(super) fn redact_error(mut error: reqwest::Error) -> reqwest::Error {
    if let Some(url) = error.url_mut() {
        let _ = url.set_password(None);
        if !url.username().is_empty() {
            let _ = url.set_username(HIDDEN);
        }
        if url.query().is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if is_secret_name(&k) {
                        HIDDEN.to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    error
}

/// Headers never shown, even with `-vv`: credentials and cookies, in either direction.
pub(super) fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("apca-api-")
        || name.contains("authorization")
        || name.contains("cookie")
        || name.contains("secret")
        || name.contains("token")
        || name.contains("key")
}

/// `+` and `%XX` decoded, for comparing parameter names; invalid escapes are kept as they are.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_parameters_are_hidden() {
        assert_eq!(
            redact_url("http://user:hunter2@proxy.example:8080/v2/stocks/bars?symbols=AAPL"),
            "http://***@proxy.example:8080/v2/stocks/bars?symbols=AAPL"
        );
        assert_eq!(
            redact_url(
                "https://alice@host/x?apikey=abc&page_token=QUFQTA%3D%3D&X-Amz-Signature=f00#frag"
            ),
            "https://***@host/x?apikey=***&page_token=QUFQTA%3D%3D&X-Amz-Signature=***#frag"
        );
        // Not parsable as a URL, and still redacted.
        assert_eq!(
            redact_url("http://u:p@@ho st:99999"),
            "http://***@ho st:99999"
        );
        assert_eq!(redact_url("u:p@host:1"), "***@host:1");
        assert_eq!(
            redact_url("http://h/?api%5Fkey=1&a+key=2"),
            "http://h/?api%5Fkey=***&a+key=***"
        );
        assert_eq!(
            redact_url("https://data.alpaca.markets/v2/stocks/bars?symbols=A&limit=10000"),
            "https://data.alpaca.markets/v2/stocks/bars?symbols=A&limit=10000"
        );
        // An `@` in the path is not userinfo.
        assert_eq!(redact_url("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            redact_url("http://u:p@ex\u{1b}[31mample\r\n/x\u{7}?key=\u{1b}"),
            "http://***@ex\\u{1b}[31mample\\r\\n/x\\u{7}?key=***"
        );
    }

    #[test]
    fn parsed_urls_are_shown_redacted() {
        let url = Url::parse("http://me:pw@127.0.0.1:9/v2?token=t&symbols=A").unwrap();
        let shown = shown(&url);
        assert!(
            !shown.contains("pw") && !shown.contains("token=t"),
            "{shown}"
        );
    }
}
