//! The one CSV escaper (RFC 4180): a field holding a comma, a quote or a line break is quoted,
//! its quotes doubled. Bars, `inspect` listings, its calendar and gaps all write their CSV
//! through [`field`] or [`write_row`].

use std::borrow::Cow;
use std::io::Write;

/// `text` as a CSV field: quoted only when it must be.
pub(crate) fn field(text: &str) -> Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(text)
    }
}

/// One record: the fields escaped, separated by commas, ended by a newline.
pub(crate) fn write_row<S: AsRef<str>>(
    out: &mut dyn Write,
    fields: impl IntoIterator<Item = S>,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, text) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&field(text.as_ref()));
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fields_that_need_quotes_get_them() {
        assert_eq!(field("AAPL"), "AAPL");
        assert_eq!(field("/tmp/a,b"), "\"/tmp/a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        let mut out = Vec::new();
        write_row(&mut out, ["a", "b,c", ""]).unwrap();
        assert_eq!(out, b"a,\"b,c\",\n");
    }
}
