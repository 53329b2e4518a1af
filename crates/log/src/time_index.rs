//! The sparse time index of one segment (`<base offset>.timeindex`).
//!
//! # Layout
//! A plain sequence of 12-byte entries, Kafka's format, no header and no preallocation:
//! ```text
//! 0..8   timestamp       i64 BE   largest batch max timestamp seen in the segment so far
//! 8..12  relative offset u32 BE   last offset of the batch that carried it, minus base offset
//! ```
//! An entry is added alongside each offset-index entry, and when the segment stops being the
//! active one (roll, close), but only if its timestamp is larger than the last entry's.
//! Invariants: timestamps strictly increase, offsets never decrease. So every record at an
//! offset `<=` an entry's offset has a timestamp `<=` the entry's timestamp.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;

pub(crate) const TIME_ENTRY_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

#[derive(Debug)]
pub(crate) struct TimeIndex {
    path: PathBuf,
    file: File,
    base_offset: i64,
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Creates (or empties) the index file.
    pub fn create(path: &Path, base_offset: i64) -> Result<TimeIndex, LogError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)
            .map_err(LogError::io(path))?;
        Ok(TimeIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            entries: Vec::new(),
        })
    }

    /// Loads an existing index; `Ok(None)` if missing or failing a sanity check (size not a
    /// multiple of 12, entries not monotonic, offsets not below `next_offset_bound`, an
    /// exclusive upper bound on the segment's offsets).
    pub fn load(
        path: &Path,
        base_offset: i64,
        next_offset_bound: i64,
    ) -> Result<Option<TimeIndex>, LogError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::io(path)(e)),
        };
        match decode(&bytes, base_offset, next_offset_bound) {
            Ok(entries) => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(LogError::io(path))?;
                Ok(Some(TimeIndex {
                    path: path.to_path_buf(),
                    file,
                    base_offset,
                    entries,
                }))
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), "time index is corrupt ({reason}), rebuilding");
                Ok(None)
            }
        }
    }

    /// Appends (timestamp, offset) if the timestamp is larger than the last entry's.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> Result<(), LogError> {
        if timestamp < 0 {
            return Ok(());
        }
        let Ok(relative_offset) = u32::try_from(offset - self.base_offset) else {
            debug_assert!(false, "relative offset out of range");
            return Ok(());
        };
        if let Some(last) = self.entries.last() {
            if timestamp <= last.timestamp || relative_offset < last.relative_offset {
                return Ok(());
            }
        }
        let mut entry = [0u8; TIME_ENTRY_LEN];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&relative_offset.to_be_bytes());
        let end = (self.entries.len() * TIME_ENTRY_LEN) as u64;
        self.file
            .seek(SeekFrom::Start(end))
            .and_then(|_| self.file.write_all(&entry))
            .map_err(LogError::io(&self.path))?;
        self.entries.push(TimeEntry {
            timestamp,
            relative_offset,
        });
        Ok(())
    }

    /// The offset of the last entry whose timestamp is `< timestamp`: every record with a
    /// timestamp `>= timestamp` lies in that offset's batch or after it. `None`: scan from the
    /// segment's start.
    pub fn lookup(&self, timestamp: i64) -> Option<i64> {
        let n = self.entries.partition_point(|e| e.timestamp < timestamp);
        n.checked_sub(1)
            .map(|i| self.base_offset + i64::from(self.entries[i].relative_offset))
    }

    /// (timestamp, offset) of the last entry.
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|e| (e.timestamp, self.base_offset + i64::from(e.relative_offset)))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn size_bytes(&self) -> u64 {
        (self.entries.len() * TIME_ENTRY_LEN) as u64
    }

    /// Whether one more entry would exceed `max_bytes` (`segment.index.bytes`).
    pub fn is_full(&self, max_bytes: u32) -> bool {
        self.size_bytes() + TIME_ENTRY_LEN as u64 > u64::from(max_bytes)
    }

    pub fn sync(&self) -> Result<(), LogError> {
        self.file.sync_data().map_err(LogError::io(&self.path))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn decode(
    bytes: &[u8],
    base_offset: i64,
    next_offset_bound: i64,
) -> Result<Vec<TimeEntry>, &'static str> {
    if !bytes.chunks_exact(TIME_ENTRY_LEN).remainder().is_empty() {
        return Err("size is not a multiple of 12");
    }
    let mut entries: Vec<TimeEntry> = Vec::with_capacity(bytes.len() / TIME_ENTRY_LEN);
    for chunk in bytes.chunks_exact(TIME_ENTRY_LEN) {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&chunk[..8]);
        let timestamp = i64::from_be_bytes(ts);
        let relative_offset = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
        if let Some(last) = entries.last() {
            if timestamp <= last.timestamp || relative_offset < last.relative_offset {
                return Err("entries are not monotonic");
            }
        }
        if timestamp < 0 || base_offset + i64::from(relative_offset) >= next_offset_bound {
            return Err("entry out of range");
        }
        entries.push(TimeEntry {
            timestamp,
            relative_offset,
        });
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn append_lookup_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000050.timeindex");
        let mut index = TimeIndex::create(&path, 50).unwrap();
        index.maybe_append(1000, 55).unwrap();
        index.maybe_append(1000, 56).unwrap(); // not larger: skipped
        index.maybe_append(2000, 60).unwrap();
        index.maybe_append(3000, 70).unwrap();
        assert_eq!(index.len(), 3);
        assert_eq!(index.lookup(500), None);
        assert_eq!(index.lookup(1000), None);
        assert_eq!(index.lookup(1001), Some(55));
        assert_eq!(index.lookup(2500), Some(60));
        assert_eq!(index.lookup(9999), Some(70));
        assert_eq!(index.last_entry(), Some((3000, 70)));
        let loaded = TimeIndex::load(&path, 50, 71).unwrap().unwrap();
        assert_eq!(loaded.last_entry(), Some((3000, 70)));
        assert!(TimeIndex::load(&path, 50, 70).unwrap().is_none());
        std::fs::write(&path, [1u8; 13]).unwrap();
        assert!(TimeIndex::load(&path, 50, 71).unwrap().is_none());
    }
}
