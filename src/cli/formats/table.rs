//! The one column aligner: every table barkeep prints for people (bars, `inspect` listings,
//! its calendar and gaps, the `update --dry-run` plan) is laid out here. Columns are
//! separated by two spaces, padded to their widest cell (or a minimum width), left- or
//! right-aligned, and each line ends without trailing spaces.

use std::io::Write;

/// Which side of its column a cell leans on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    /// Numbers, so their digits line up.
    Right,
}

/// One column: its header, alignment and the narrowest it may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub(crate) header: &'static str,
    pub(crate) align: Align,
    pub(crate) min_width: usize,
}

impl Column {
    pub(crate) const fn left(header: &'static str) -> Self {
        Column {
            header,
            align: Align::Left,
            min_width: 0,
        }
    }

    pub(crate) const fn right(header: &'static str) -> Self {
        Column {
            header,
            align: Align::Right,
            min_width: 0,
        }
    }

    /// At least `width` characters wide, so a table keeps its shape whatever the rows hold.
    pub(crate) const fn min(mut self, width: usize) -> Self {
        self.min_width = width;
        self
    }
}

/// Rows of text under a header, held until written (a column's width needs every cell).
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    header: bool,
    indent: &'static str,
}

/// What stands between two columns.
const GUTTER: &str = "  ";

impl Table {
    pub(crate) fn new(columns: impl IntoIterator<Item = Column>) -> Self {
        Table {
            columns: columns.into_iter().collect(),
            rows: Vec::new(),
            header: true,
            indent: "",
        }
    }

    /// Rows only: a listing whose columns speak for themselves (headers then only name the
    /// columns in the code and do not widen them).
    pub(crate) fn without_header(mut self) -> Self {
        self.header = false;
        self
    }

    /// Every line starts with `indent` (a table nested under a heading line).
    pub(crate) fn indented(mut self, indent: &'static str) -> Self {
        self.indent = indent;
        self
    }

    /// Adds a row; a row shorter than the header leaves its last columns empty.
    pub(crate) fn push(&mut self, row: Vec<String>) {
        debug_assert!(row.len() <= self.columns.len(), "more cells than columns");
        self.rows.push(row);
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|c| match self.header {
                true => c.min_width.max(c.header.chars().count()),
                false => c.min_width,
            })
            .collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        widths
    }

    fn push_line<'a>(
        &self,
        text: &mut String,
        widths: &[usize],
        cells: impl Iterator<Item = &'a str>,
    ) {
        let start = text.len();
        text.push_str(self.indent);
        for (i, ((cell, column), width)) in cells.zip(&self.columns).zip(widths).enumerate() {
            if i > 0 {
                text.push_str(GUTTER);
            }
            let pad = width.saturating_sub(cell.chars().count());
            if column.align == Align::Right {
                text.extend(std::iter::repeat_n(' ', pad));
            }
            text.push_str(cell);
            if column.align == Align::Left {
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.truncate(start + text[start..].trim_end().len());
        text.push('\n');
    }

    /// The header and every row, aligned.
    pub(crate) fn render(&self) -> String {
        let widths = self.widths();
        let mut text = String::new();
        if self.header {
            self.push_line(&mut text, &widths, self.columns.iter().map(|c| c.header));
        }
        for row in &self.rows {
            self.push_line(&mut text, &widths, row.iter().map(String::as_str));
        }
        text
    }

    /// Writes [`Table::render`] in one write.
    pub(crate) fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(self.render().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_their_widest_cell_or_minimum() {
        let mut table = Table::new([
            Column::left("name"),
            Column::right("n"),
            Column::left("note").min(6),
        ]);
        table.push(vec!["a".into(), "1000".into(), String::new()]);
        table.push(vec!["longer".into(), "7".into(), "x".into()]);
        table.push(vec!["b".into()]);
        assert_eq!(
            table.render(),
            "name       n  note\na       1000\nlonger     7  x\nb\n"
        );
    }

    #[test]
    fn a_listing_without_header_may_be_indented() {
        let mut table = Table::new([Column::left("verb").min(6), Column::right("n")])
            .without_header()
            .indented("  ");
        table.push(vec!["cut".into(), "10".into()]);
        table.push(vec!["kept".into(), "7".into()]);
        assert_eq!(table.render(), "  cut     10\n  kept     7\n");
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = Table::new([Column::left("date").min(10), Column::left("day")]);
        assert_eq!(table.render(), "date        day\n");
    }
}
