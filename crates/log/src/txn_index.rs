//! The `.txnindex` file of a segment: the aborted transactions whose ABORT marker lies in the
//! segment, in marker order (Kafka's `TransactionIndex`). A read_committed fetch asks which
//! aborted transactions overlap the data it returns, so the consumer can drop their records.
//!
//! # Layout
//! `<base offset, 20 digits>.txnindex`, a plain array of 34-byte entries (big-endian), no
//! header. The file is created with the segment's first entry; most segments have none.
//! ```text
//! offset size field
//!  0     2    version            i16, 0
//!  2     8    producer_id        i64
//! 10     8    first_offset       i64   offset of the transaction's first batch
//! 18     8    last_offset        i64   offset of the ABORT marker
//! 26     8    last_stable_offset i64   the partition's LSO once this transaction completed
//! ```
//! Entries are appended in ascending `last_offset` order, so truncating at an offset cuts a
//! suffix. A torn last entry (a crash mid-write) is cut on load; the producer-state rebuild on
//! open re-adds the entries of every batch it rescans.
//!
//! All entries are also kept in memory: aborts are rare, an entry is 32 bytes, and fetches then
//! never read the file.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;

pub(crate) const TXN_INDEX_SUFFIX: &str = ".txnindex";
const ENTRY_LEN: usize = 34;
const VERSION: i16 = 0;

/// One aborted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0..2].copy_from_slice(&VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    fn decode(entry: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |pos: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&entry[pos..pos + 8]);
            i64::from_be_bytes(b)
        };
        if entry.len() < ENTRY_LEN || i16::from_be_bytes([entry[0], entry[1]]) != VERSION {
            return None;
        }
        let txn = AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        };
        (txn.first_offset <= txn.last_offset).then_some(txn)
    }
}

#[derive(Debug)]
pub(crate) struct TxnIndex {
    path: PathBuf,
    /// Open once the file exists.
    file: Option<File>,
    /// invariant: the file holds exactly these entries, in ascending `last_offset` order.
    entries: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// An empty index; the file is created by the first [`TxnIndex::append`].
    pub fn empty(path: PathBuf) -> TxnIndex {
        TxnIndex {
            path,
            file: None,
            entries: Vec::new(),
        }
    }

    /// Loads the index at `path` (none: empty), cutting the file at the first entry that is
    /// torn, of an unknown version or out of order.
    pub fn load(path: PathBuf) -> Result<TxnIndex, LogError> {
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(TxnIndex::empty(path)),
            Err(e) => return Err(LogError::io(&path)(e)),
        };
        let mut entries: Vec<AbortedTxn> = Vec::with_capacity(bytes.len() / ENTRY_LEN);
        for chunk in bytes.chunks(ENTRY_LEN) {
            match AbortedTxn::decode(chunk) {
                Some(txn)
                    if entries
                        .last()
                        .is_none_or(|prev| prev.last_offset < txn.last_offset) =>
                {
                    entries.push(txn)
                }
                _ => break,
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(LogError::io(&path))?;
        let valid = (entries.len() * ENTRY_LEN) as u64;
        if valid < bytes.len() as u64 {
            tracing::warn!(path = %path.display(),
                "cutting the transaction index at byte {valid} of {}", bytes.len());
            file.set_len(valid).map_err(LogError::io(&path))?;
        }
        Ok(TxnIndex {
            path,
            file: Some(file),
            entries,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Appends an entry; its marker must come after every entry's.
    pub fn append(&mut self, txn: AbortedTxn) -> Result<(), LogError> {
        if let Some(last) = self.entries.last() {
            assert!(
                last.last_offset < txn.last_offset,
                "aborted transactions are indexed in marker order"
            );
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(
                OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(&self.path)
                    .map_err(LogError::io(&self.path))?,
            ),
        };
        let position = (self.entries.len() * ENTRY_LEN) as u64;
        let write = |f: &mut File| {
            use std::io::{Seek, SeekFrom};
            f.seek(SeekFrom::Start(position))?;
            f.write_all(&txn.encode())
        };
        if let Err(e) = write(file) {
            // Leave the file as the entries say (best effort; a reload cuts a torn entry).
            let _ = file.set_len(position);
            return Err(LogError::io(&self.path)(e));
        }
        self.entries.push(txn);
        Ok(())
    }

    /// Drops the entries whose marker is at or after `offset`.
    pub fn truncate_from(&mut self, offset: i64) -> Result<(), LogError> {
        let keep = self
            .entries
            .iter()
            .take_while(|t| t.last_offset < offset)
            .count();
        if keep == self.entries.len() {
            return Ok(());
        }
        self.entries.truncate(keep);
        if let Some(file) = &self.file {
            file.set_len((keep * ENTRY_LEN) as u64)
                .map_err(LogError::io(&self.path))?;
        }
        Ok(())
    }

    /// Adds `(producer_id, first_offset)` of every entry overlapping `[from, to)` to `out`.
    /// Returns true once an entry shows that no later marker can belong to a transaction that
    /// started below `to` (its last stable offset reached `to`): the caller can stop there.
    pub fn collect(&self, from: i64, to: i64, out: &mut Vec<(i64, i64)>) -> bool {
        for txn in &self.entries {
            if txn.last_offset >= from && txn.first_offset < to {
                out.push((txn.producer_id, txn.first_offset));
            }
            if txn.last_stable_offset >= to {
                return true;
            }
        }
        false
    }

    pub fn sync(&self) -> Result<(), LogError> {
        match &self.file {
            Some(f) => f.sync_data().map_err(LogError::io(&self.path)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn append_load_truncate_collect() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut index = TxnIndex::empty(path.clone());
        assert!(!path.exists(), "created lazily");
        index.append(txn(7, 0, 10, 11)).unwrap();
        index.append(txn(8, 5, 20, 5)).unwrap();
        index.append(txn(9, 12, 30, 31)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 3 * 34);

        let loaded = TxnIndex::load(path.clone()).unwrap();
        assert_eq!(loaded.entries(), index.entries());
        let mut out = Vec::new();
        // [11, 15) overlaps pid 8 (5..=20) and pid 9 (12..=30), not pid 7 (0..=10).
        assert!(loaded.collect(11, 15, &mut out));
        assert_eq!(out, vec![(8, 5), (9, 12)]);
        // Stops early: the first entry's last stable offset 11 reaches `to`.
        out.clear();
        assert!(loaded.collect(0, 11, &mut out));
        assert_eq!(out, vec![(7, 0)]);

        index.truncate_from(20).unwrap();
        assert_eq!(index.entries().len(), 1);
        assert_eq!(fs::metadata(&path).unwrap().len(), 34);
        index.append(txn(10, 15, 25, 26)).unwrap();
        assert_eq!(TxnIndex::load(path).unwrap().entries().len(), 2);
    }

    #[test]
    fn torn_and_bad_entries_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txnindex");
        let mut index = TxnIndex::empty(path.clone());
        index.append(txn(1, 0, 3, 4)).unwrap();
        index.append(txn(2, 4, 6, 7)).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0u8; 20]);
        fs::write(&path, &bytes).unwrap();
        let loaded = TxnIndex::load(path.clone()).unwrap();
        assert_eq!(loaded.entries().len(), 2);
        assert_eq!(fs::metadata(&path).unwrap().len(), 68);

        bytes.truncate(68);
        bytes[34] = 9; // unknown version on the second entry
        fs::write(&path, &bytes).unwrap();
        assert_eq!(TxnIndex::load(path).unwrap().entries().len(), 1);
    }
}
