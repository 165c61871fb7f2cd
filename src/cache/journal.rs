//! The rollback journal that makes an in-place append atomic (SQLite's design; measured in
//! `shared/STORAGE_NOTES.md`). Before a series file is touched, `.<file>.journal` beside it
//! records the file's old length and the bytes the append will overwrite (the old footer);
//! it is synced and renamed into place first. Removing the journal is the commit point.
//! A journal found later means the append may be incomplete: [`Journal::roll_back`] writes the old
//! bytes back and truncates, which is safe to repeat after a crash during recovery.
//!
//! Format (little endian): magic `barkeep-journal1`, old length (u64), offset of the
//! overwritten bytes (u64), length and xxHash64 of a guard window of the file just before
//! that offset (u64, u64), the number of saved bytes (u64), the saved bytes, and an xxHash64
//! of everything before it. A journal whose checksum or guard does not match is never applied.
//!
//! Owns: the journal's bytes and applying them. Must not: take locks (callers hold the series
//! lock) or decide when to append.

use std::fs::File;
use std::hash::Hasher;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use twox_hash::XxHash64;

const MAGIC: &[u8; 16] = b"barkeep-journal1";
/// Bytes of the file before the overwritten region whose hash the journal keeps, so a journal
/// is never applied to a file that was replaced since (it would corrupt it).
const GUARD_LEN: u64 = 4096;
const HEADER_LEN: usize = 16 + 5 * 8;

/// The journal that guards `series_path`.
pub fn journal_path(series_path: &Path) -> PathBuf {
    super::layout::hidden_sibling(series_path, "journal")
}

/// What an append will overwrite, and how to restore it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub old_len: u64,
    /// Where the append starts writing.
    pub at: u64,
    guard_len: u64,
    guard_hash: u64,
    /// The file's bytes `[at, old_len)`.
    pub saved: Vec<u8>,
}

/// Why a journal cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal i/o error")]
    Io(#[from] std::io::Error),
    #[error("checksum mismatch or truncated journal")]
    Checksum,
    #[error("the file no longer matches the journal (it was replaced since)")]
    Mismatch,
}

impl Journal {
    /// Describes an append that writes at `at` into `file`, whose length is `old_len`.
    pub fn capture(file: &File, old_len: u64, at: u64) -> std::io::Result<Self> {
        let mut saved = vec![0; usize::try_from(old_len - at).expect("footer fits memory")];
        read_at(file, &mut saved, at)?;
        let guard_len = GUARD_LEN.min(at);
        let guard_hash = guard_hash(file, at, guard_len)?;
        Ok(Journal {
            old_len,
            at,
            guard_len,
            guard_hash,
            saved,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.saved.len() + 8);
        out.extend_from_slice(MAGIC);
        for n in [
            self.old_len,
            self.at,
            self.guard_len,
            self.guard_hash,
            self.saved.len() as u64,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&self.saved);
        let checksum = xxhash(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, JournalError> {
        let body_len = bytes
            .len()
            .checked_sub(8)
            .filter(|&n| n >= HEADER_LEN)
            .ok_or(JournalError::Checksum)?;
        let (body, checksum) = bytes.split_at(body_len);
        if !body.starts_with(MAGIC) || xxhash(body).to_le_bytes() != checksum {
            return Err(JournalError::Checksum);
        }
        let word = |i: usize| {
            let start = 16 + 8 * i;
            u64::from_le_bytes(body[start..start + 8].try_into().expect("eight bytes"))
        };
        let (old_len, at, guard_len, guard_hash, saved_len) =
            (word(0), word(1), word(2), word(3), word(4));
        let saved = body[HEADER_LEN..].to_vec();
        if saved.len() as u64 != saved_len || at.checked_add(saved_len) != Some(old_len) {
            return Err(JournalError::Checksum);
        }
        Ok(Journal {
            old_len,
            at,
            guard_len,
            guard_hash,
            saved,
        })
    }

    /// Reads the journal at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, JournalError> {
        match fs_err::read(path) {
            Ok(bytes) => Self::decode(&bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Restores the file as it was before the append: the saved bytes at `at`, truncated to
    /// the old length, synced. Refuses (and changes nothing) when the bytes before `at` are
    /// not the ones the journal was taken from.
    ///
    /// Needs no new space when the append grew the file (the usual case, and the one a full
    /// disk interrupts): the file is first cut back to its old length, and the saved bytes go
    /// over bytes it already holds. So an append that failed for lack of space can always be
    /// undone at once (on file systems that overwrite in place, as ext4, XFS and tmpfs do).
    pub fn roll_back(&self, file: &mut File) -> Result<(), JournalError> {
        let len = file.metadata()?.len();
        if len < self.at || guard_hash(file, self.at, self.guard_len)? != self.guard_hash {
            return Err(JournalError::Mismatch);
        }
        if len > self.old_len {
            file.set_len(self.old_len)?;
        }
        file.seek(SeekFrom::Start(self.at))?;
        file.write_all(&self.saved)?;
        file.set_len(self.old_len)?;
        file.sync_all()?;
        Ok(())
    }
}

fn xxhash(bytes: &[u8]) -> u64 {
    let mut hasher = XxHash64::with_seed(0);
    hasher.write(bytes);
    hasher.finish()
}

fn guard_hash(file: &File, at: u64, len: u64) -> std::io::Result<u64> {
    let mut guard = vec![0; usize::try_from(len).expect("small")];
    read_at(file, &mut guard, at - len)?;
    Ok(xxhash(&guard))
}

fn read_at(mut file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn contents(mut file: &File) -> Vec<u8> {
        let mut out = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn roll_back_restores_the_original_bytes_and_is_repeatable() {
        let original: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = file_with(&original);
        let journal = Journal::capture(&file, 10_000, 9_000).unwrap();
        let decoded = Journal::decode(&journal.encode()).unwrap();
        assert_eq!(decoded, journal);
        // A torn append: half the tail written over the footer and beyond.
        file.seek(SeekFrom::Start(9_500)).unwrap();
        file.write_all(&[7; 3_000]).unwrap();
        decoded.roll_back(&mut file).unwrap();
        assert_eq!(contents(&file), original);
        decoded.roll_back(&mut file).unwrap();
        assert_eq!(contents(&file), original);
    }

    #[test]
    fn a_damaged_journal_or_a_replaced_file_is_never_applied() {
        let original = vec![1u8; 8_192];
        let mut file = file_with(&original);
        let journal = Journal::capture(&file, 8_192, 8_000).unwrap();
        let mut bytes = journal.encode();
        bytes[HEADER_LEN + 3] ^= 0xff;
        assert!(matches!(
            Journal::decode(&bytes),
            Err(JournalError::Checksum)
        ));
        assert!(matches!(
            Journal::decode(&bytes[..bytes.len() - 1]),
            Err(JournalError::Checksum)
        ));

        let replaced = vec![2u8; 9_000];
        let mut other = file_with(&replaced);
        assert!(matches!(
            journal.roll_back(&mut other),
            Err(JournalError::Mismatch)
        ));
        assert_eq!(contents(&other), replaced);
        journal.roll_back(&mut file).unwrap();
    }
}
