//! The sparse offset index of one segment (`<base offset>.index`).
//!
//! # Layout
//! A plain sequence of 8-byte entries, Kafka's format, no header and no preallocation:
//! ```text
//! 0..4  relative offset u32 BE   offset - segment base offset (an offset inside the batch)
//! 4..8  position        u32 BE   byte position in the `.log` file of the batch holding it
//! ```
//! One entry is added every `index.interval.bytes` of log: it maps the last offset of the batch
//! that crossed the interval to the batch's start. Invariants: relative offsets strictly increase,
//! positions never decrease and each is the start of a batch in the `.log` file. Any record at or
//! after an entry's offset is therefore found by scanning batches forward from its position.
//!
//! The entries are also kept in memory (at most `segment.index.bytes` / 8 of them).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;

pub(crate) const OFFSET_ENTRY_LEN: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

#[derive(Debug)]
pub(crate) struct OffsetIndex {
    path: PathBuf,
    file: File,
    base_offset: i64,
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    /// Creates (or empties) the index file.
    pub fn create(path: &Path, base_offset: i64) -> Result<OffsetIndex, LogError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)
            .map_err(LogError::io(path))?;
        Ok(OffsetIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            entries: Vec::new(),
        })
    }

    /// Loads an existing index. `Ok(None)` if the file is missing or fails a sanity check (size
    /// not a multiple of 8, entries not monotonic, a position at or past `log_size`): the caller
    /// rebuilds it then.
    pub fn load(
        path: &Path,
        base_offset: i64,
        log_size: u64,
    ) -> Result<Option<OffsetIndex>, LogError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::io(path)(e)),
        };
        match decode(&bytes, log_size) {
            Ok(entries) => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(LogError::io(path))?;
                Ok(Some(OffsetIndex {
                    path: path.to_path_buf(),
                    file,
                    base_offset,
                    entries,
                }))
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), "offset index is corrupt ({reason}), rebuilding");
                Ok(None)
            }
        }
    }

    /// Appends an entry for `offset` at `position`. Ignored unless `offset` is past the last
    /// entry (keeps the invariant when an append is retried after a failed write).
    pub fn append(&mut self, offset: i64, position: u32) -> Result<(), LogError> {
        let relative = offset - self.base_offset;
        let Ok(relative_offset) = u32::try_from(relative) else {
            debug_assert!(false, "relative offset {relative} out of range");
            return Ok(());
        };
        if let Some(last) = self.entries.last() {
            if relative_offset <= last.relative_offset {
                return Ok(());
            }
        }
        let mut entry = [0u8; OFFSET_ENTRY_LEN];
        entry[..4].copy_from_slice(&relative_offset.to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        self.write_at_end(&entry)?;
        self.entries.push(OffsetEntry {
            relative_offset,
            position,
        });
        Ok(())
    }

    fn write_at_end(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        use std::io::{Seek, SeekFrom};
        let end = (self.entries.len() * OFFSET_ENTRY_LEN) as u64;
        self.file
            .seek(SeekFrom::Start(end))
            .and_then(|_| self.file.write_all(bytes))
            .map_err(LogError::io(&self.path))
    }

    /// The entry with the largest offset `<= offset`, as (absolute offset, position);
    /// (base offset, 0) if there is none.
    pub fn lookup(&self, offset: i64) -> (i64, u32) {
        let relative = offset - self.base_offset;
        if relative < 0 {
            return (self.base_offset, 0);
        }
        let relative = u32::try_from(relative).unwrap_or(u32::MAX);
        let n = self
            .entries
            .partition_point(|e| e.relative_offset <= relative);
        match n.checked_sub(1).map(|i| self.entries[i]) {
            Some(e) => (self.base_offset + i64::from(e.relative_offset), e.position),
            None => (self.base_offset, 0),
        }
    }

    pub fn last_entry(&self) -> Option<(i64, u32)> {
        self.entries
            .last()
            .map(|e| (self.base_offset + i64::from(e.relative_offset), e.position))
    }

    /// Drops entries whose position is at or past `position` (the log was truncated there).
    pub fn truncate_to_position(&mut self, position: u64) -> Result<(), LogError> {
        let keep = self
            .entries
            .partition_point(|e| u64::from(e.position) < position);
        if keep < self.entries.len() {
            self.entries.truncate(keep);
            self.file
                .set_len((keep * OFFSET_ENTRY_LEN) as u64)
                .map_err(LogError::io(&self.path))?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn size_bytes(&self) -> u64 {
        (self.entries.len() * OFFSET_ENTRY_LEN) as u64
    }

    /// Whether one more entry would exceed `max_bytes` (`segment.index.bytes`).
    pub fn is_full(&self, max_bytes: u32) -> bool {
        self.size_bytes() + OFFSET_ENTRY_LEN as u64 > u64::from(max_bytes)
    }

    pub fn sync(&self) -> Result<(), LogError> {
        self.file.sync_data().map_err(LogError::io(&self.path))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn decode(bytes: &[u8], log_size: u64) -> Result<Vec<OffsetEntry>, &'static str> {
    if !bytes.chunks_exact(OFFSET_ENTRY_LEN).remainder().is_empty() {
        return Err("size is not a multiple of 8");
    }
    let mut entries: Vec<OffsetEntry> = Vec::with_capacity(bytes.len() / OFFSET_ENTRY_LEN);
    for chunk in bytes.chunks_exact(OFFSET_ENTRY_LEN) {
        let relative_offset = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let position = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        if let Some(last) = entries.last() {
            if relative_offset <= last.relative_offset || position < last.position {
                return Err("entries are not monotonic");
            }
        }
        if u64::from(position) >= log_size {
            return Err("position beyond the end of the log file");
        }
        entries.push(OffsetEntry {
            relative_offset,
            position,
        });
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_the_floor_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut index = OffsetIndex::create(&path, 100).unwrap();
        assert_eq!(index.lookup(150), (100, 0));
        index.append(110, 4000).unwrap();
        index.append(120, 8000).unwrap();
        index.append(120, 9000).unwrap(); // not past the last entry: ignored
        index.append(135, 12000).unwrap();
        assert_eq!(index.len(), 3);
        assert_eq!(index.lookup(99), (100, 0));
        assert_eq!(index.lookup(100), (100, 0));
        assert_eq!(index.lookup(109), (100, 0));
        assert_eq!(index.lookup(110), (110, 4000));
        assert_eq!(index.lookup(119), (110, 4000));
        assert_eq!(index.lookup(134), (120, 8000));
        assert_eq!(index.lookup(1_000_000), (135, 12000));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24);

        let loaded = OffsetIndex::load(&path, 100, 20000).unwrap().unwrap();
        assert_eq!(loaded.lookup(125), (120, 8000));
        // Positions past the log's end make it corrupt.
        assert!(OffsetIndex::load(&path, 100, 12000).unwrap().is_none());

        index.truncate_to_position(8000).unwrap();
        assert_eq!(index.last_entry(), Some((110, 4000)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
        index.append(111, 5000).unwrap();
        let loaded = OffsetIndex::load(&path, 100, 20000).unwrap().unwrap();
        assert_eq!(loaded.last_entry(), Some((111, 5000)));
    }

    #[test]
    fn corrupt_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        assert!(OffsetIndex::load(&path, 0, 100).unwrap().is_none());
        std::fs::write(&path, [0u8; 7]).unwrap();
        assert!(OffsetIndex::load(&path, 0, 100).unwrap().is_none());
        std::fs::write(&path, [0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2]).unwrap();
        assert!(OffsetIndex::load(&path, 0, 100).unwrap().is_none());
        std::fs::write(&path, [0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, 2]).unwrap();
        assert!(OffsetIndex::load(&path, 0, 100).unwrap().is_some());
    }

    #[test]
    fn full_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = OffsetIndex::create(&dir.path().join("0.index"), 0).unwrap();
        assert!(!index.is_full(16));
        index.append(1, 1).unwrap();
        index.append(2, 2).unwrap();
        assert!(index.is_full(16));
    }
}
