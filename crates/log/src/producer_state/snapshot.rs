//! Producer-state snapshot files: their layout, encoding and decoding, and the files in the
//! partition directory.
//!
//! # Snapshot file `<offset, 20 digits>.snapshot` (big-endian)
//! The state after every batch below `offset`. Written at each segment roll (for the new
//! segment's base offset) and at close (for the log end offset), to `<name>.tmp`, fsynced and
//! renamed into place.
//! ```text
//! offset size field
//!  0     2    version                  i16, 1
//!  2     4    crc                      u32, CRC-32C of every byte after this field
//!  6     8    offset                   i64, must equal the file name's
//! 14     4    producer count           u32
//! 18     ..   producers, each 31 + 32 * batch count bytes:
//!             producer_id              i64
//!             epoch                    i16
//!             coordinator_epoch        i32
//!             last_timestamp           i64
//!             current_txn_first_offset i64, -1 = no open transaction
//!             batch count              u8, 0..=5
//!             batches, oldest first:   first_seq i32, last_seq i32, first_offset i64,
//!                                      last_offset i64, max_timestamp i64
//! ```
//! A snapshot that fails its checks is ignored (and deleted) and an older one is used: the log
//! rescans every batch after the snapshot it loads, so an older one only costs time.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::{BatchMetadata, ProducerEntry, ProducerStateManager, BATCHES_RETAINED};
use crate::checkpoint::TMP_SUFFIX;
use crate::error::LogError;
use crate::segment::file_stem;

pub(crate) const SNAPSHOT_SUFFIX: &str = ".snapshot";

const SNAPSHOT_VERSION: i16 = 1;
pub(super) const SNAPSHOT_HEADER_LEN: usize = 18;
const PRODUCER_FIXED_LEN: usize = 31;
const BATCH_LEN: usize = 32;

impl ProducerStateManager {
    /// The snapshot file contents for the state after every batch below `offset`.
    pub fn encode_snapshot(&self, offset: i64) -> Vec<u8> {
        let mut ids: Vec<i64> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        let mut out = Vec::with_capacity(
            SNAPSHOT_HEADER_LEN + ids.len() * (PRODUCER_FIXED_LEN + BATCHES_RETAINED * BATCH_LEN),
        );
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
        for id in ids {
            let e = &self.producers[&id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            out.extend_from_slice(&e.last_timestamp.to_be_bytes());
            out.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
            out.push(e.batch_count);
            for b in e.batches() {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.first_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
                out.extend_from_slice(&b.max_timestamp.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out[6..]);
        out[2..6].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Parses a snapshot written for `offset`; the error says what is wrong with it.
    pub fn decode_snapshot(bytes: &[u8], offset: i64) -> Result<ProducerStateManager, String> {
        let mut r = SnapshotReader { bytes, pos: 0 };
        let version = r.i16()?;
        if version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {version}"));
        }
        let crc = r.u32()?;
        let computed = crc32c::crc32c(&bytes[6..]);
        if crc != computed {
            return Err(format!(
                "CRC mismatch: stored {crc:#010x}, computed {computed:#010x}"
            ));
        }
        let stored_offset = r.i64()?;
        if stored_offset != offset {
            return Err(format!("holds offset {stored_offset}, named {offset}"));
        }
        let count = r.u32()? as usize;
        if count > bytes.len() / PRODUCER_FIXED_LEN {
            return Err(format!("claims {count} producers"));
        }
        let mut state = ProducerStateManager::default();
        for _ in 0..count {
            let producer_id = r.i64()?;
            let mut e = ProducerEntry::new();
            e.epoch = r.i16()?;
            e.coordinator_epoch = r.i32()?;
            e.last_timestamp = r.i64()?;
            let txn = r.i64()?;
            e.current_txn_first_offset = (txn >= 0).then_some(txn);
            let batches = r.u8()?;
            if usize::from(batches) > BATCHES_RETAINED {
                return Err(format!("producer {producer_id} has {batches} batches"));
            }
            for _ in 0..batches {
                e.push_batch(BatchMetadata {
                    first_seq: r.i32()?,
                    last_seq: r.i32()?,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                    max_timestamp: r.i64()?,
                });
            }
            if let Some(first) = e.current_txn_first_offset {
                state.ongoing.insert(first, producer_id);
            }
            if state.producers.insert(producer_id, e).is_some() {
                return Err(format!("producer {producer_id} appears twice"));
            }
        }
        if r.pos != bytes.len() {
            return Err(format!(
                "{} bytes after the last producer",
                bytes.len() - r.pos
            ));
        }
        Ok(state)
    }
}

/// Bounds-checked big-endian reads over a snapshot file.
struct SnapshotReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl SnapshotReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.pos + N;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take().map(i32::from_be_bytes)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.take().map(i64::from_be_bytes)
    }
}

pub(crate) fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{}{SNAPSHOT_SUFFIX}", file_stem(offset)))
}

/// Offsets of the snapshot files in `dir`, ascending.
pub(crate) fn snapshot_offsets(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SNAPSHOT_SUFFIX)) else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(offset) = stem.parse::<i64>() {
                out.push(offset);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Writes a snapshot: temporary file, fsync when `durable`, rename; returns its path. The caller
/// fsyncs the directory (a snapshot lost with the directory entry only means a longer rescan),
/// and, for a snapshot that is not `durable` (one taken at a roll, on the append path), the
/// file at its next flush: a snapshot torn by a crash before then fails its CRC and is ignored.
pub(crate) fn write_snapshot(
    dir: &Path,
    offset: i64,
    bytes: &[u8],
    durable: bool,
) -> Result<PathBuf, LogError> {
    let path = snapshot_path(dir, offset);
    let tmp = dir.join(format!(
        "{}{SNAPSHOT_SUFFIX}{TMP_SUFFIX}",
        file_stem(offset)
    ));
    let mut file = File::create(&tmp).map_err(LogError::io(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
        .map_err(LogError::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(LogError::io(&path))?;
    Ok(path)
}

/// Reads the snapshot for `offset`; `None` (after deleting the file) if it is unreadable.
pub(crate) fn read_snapshot(
    dir: &Path,
    offset: i64,
) -> Result<Option<ProducerStateManager>, LogError> {
    let path = snapshot_path(dir, offset);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(&path)(e)),
    };
    match ProducerStateManager::decode_snapshot(&bytes, offset) {
        Ok(state) => Ok(Some(state)),
        Err(reason) => {
            tracing::warn!(path = %path.display(), "ignoring producer state snapshot: {reason}");
            remove_file(&path)?;
            Ok(None)
        }
    }
}

/// Deletes the snapshots whose offset `doomed` accepts.
pub(crate) fn delete_snapshots(dir: &Path, doomed: impl Fn(i64) -> bool) -> Result<(), LogError> {
    for offset in snapshot_offsets(dir)? {
        if doomed(offset) {
            remove_file(&snapshot_path(dir, offset))?;
        }
    }
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(path)(e)),
    }
}
