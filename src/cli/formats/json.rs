//! JSON for listings and reports: a pretty-printed document (`inspect --format json`, its
//! calendar and gaps) or one object on one line (`update --report json`). Bars stream their
//! own JSON and NDJSON through [`bar_text`](super::bar_text), whose strings serde escapes.

use std::io::Write;

use serde::Serialize;

/// `value` pretty-printed, then a newline.
pub(crate) fn write_pretty(out: &mut dyn Write, value: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// `value` on one line, then a newline (one NDJSON record).
pub(crate) fn write_line(out: &mut dyn Write, value: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}
