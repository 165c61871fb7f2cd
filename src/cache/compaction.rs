//! When a series file is worth compacting: appends add one small row group each (and a tail
//! rewrite leaves the replaced group's bytes dead), which slows whole-file reads (~2.5x after
//! 300 appends, `shared/STORAGE_NOTES.md`). Compaction rewrites the file into large row
//! groups; this module only decides when. Pure: no I/O.

use crate::parquet_files::write::ROW_GROUP_ROWS;

/// More row groups than a fresh write would make, beyond which a file is compacted. Keeps a
/// whole-file read within a few percent of a fresh file's while compacting a long minute
/// series about every 16 nightly appends.
pub const MAX_EXTRA_ROW_GROUPS: usize = 16;

/// Files smaller than this are never compacted for their dead bytes alone.
const DEAD_BYTES_MIN_FILE: u64 = 8 << 20;

/// The layout of a series file, from its footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileShape {
    pub rows: u64,
    pub row_groups: usize,
    /// Rows in row groups smaller than [`ROW_GROUP_ROWS`].
    pub small_group_rows: u64,
    pub file_len: u64,
    /// Bytes the footer references (column chunks and page indexes).
    pub live_bytes: u64,
}

impl FileShape {
    /// Row groups a fresh write of the same rows would make.
    pub fn ideal_row_groups(&self) -> usize {
        usize::try_from(self.rows.div_ceil(ROW_GROUP_ROWS as u64))
            .unwrap_or(usize::MAX)
            .max(1)
    }

    pub fn extra_row_groups(&self) -> usize {
        self.row_groups.saturating_sub(self.ideal_row_groups())
    }

    /// Bytes no footer references: left behind by tail rewrites (and the small parts of the
    /// file that are neither chunks nor footer, such as the leading magic).
    pub fn dead_bytes(&self) -> u64 {
        self.file_len.saturating_sub(self.live_bytes)
    }

    /// Whether the file should be rewritten into large row groups: too many extra row groups,
    /// or a quarter of the file dead. A short series (a daily one) that grows by one small
    /// group a night is left alone until it has 16 extra groups too: reading a few dozen
    /// small groups costs nothing, while a rewrite changes the file (and its inode) under
    /// readers and costs the next nightly update its in-place append.
    pub fn needs_compaction(&self) -> bool {
        let extra = self.extra_row_groups();
        extra > MAX_EXTRA_ROW_GROUPS
            // Each nightly tail rewrite leaves one small group dead; in files under 8 MiB the
            // waste is too small to be worth a rewrite (and the inode it costs readers).
            || (self.file_len > DEAD_BYTES_MIN_FILE && self.dead_bytes() * 4 > self.file_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(rows: u64, row_groups: usize, small: u64, len: u64, live: u64) -> FileShape {
        FileShape {
            rows,
            row_groups,
            small_group_rows: small,
            file_len: len,
            live_bytes: live,
        }
    }

    #[test]
    fn compaction_starts_past_the_thresholds_only() {
        let big = 2_500_000;
        // A fresh 2.5M-row file: 10 groups, the last one small.
        assert!(!shape(big, 10, 140_000, 34 << 20, 34 << 20).needs_compaction());
        // 16 daily appends on top: still fine; the 17th tips it.
        assert!(!shape(big + 16_000, 26, 156_000, 34 << 20, 34 << 20).needs_compaction());
        assert!(shape(big + 17_000, 27, 157_000, 34 << 20, 34 << 20).needs_compaction());
        // A short daily series that grew by appends: after 16 extra groups only.
        assert!(!shape(300, 5, 300, 9_000, 8_000).needs_compaction());
        assert!(!shape(300, 17, 300, 9_000, 8_000).needs_compaction());
        assert!(shape(300, 18, 300, 9_000, 8_000).needs_compaction());
        // A quarter of a large file dead.
        assert!(shape(big, 10, 140_000, 40 << 20, 29 << 20).needs_compaction());
        assert!(!shape(big, 10, 140_000, 40 << 20, 31 << 20).needs_compaction());
    }
}
