//! One segment of a partition's log: the `.log` file plus its two indexes.
//!
//! # Layout
//! `<base offset, 20 digits zero-padded>.log` is a plain concatenation of v2 record batches
//! exactly as the broker received them, with baseOffset and partitionLeaderEpoch patched (see
//! `sluice_protocol::batch` for the 61-byte batch header). No header, no padding, no trailer.
//! `<base offset>.index` and `<base offset>.timeindex` are described in `offset_index` and
//! `time_index`; `<base offset>.txnindex` (only once the segment holds an ABORT marker of a
//! transaction with data) in `txn_index`.
//!
//! Concurrency: appends come from one thread at a time (the log's append lock). Readers use
//! positional reads on the shared file handle and never look past `committed_size`, which is
//! published (Release) only after a whole append reached the file, so they never see a partial
//! batch. Index state sits behind an `RwLock` taken briefly by both sides.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use sluice_protocol::batch::{self, BatchHeader, BATCH_HEADER_LEN};

use crate::error::LogError;
use crate::offset_index::OffsetIndex;
use crate::time_index::TimeIndex;
use crate::txn_index::{TxnIndex, TXN_INDEX_SUFFIX};

pub(crate) const LOG_SUFFIX: &str = ".log";
pub(crate) const INDEX_SUFFIX: &str = ".index";
pub(crate) const TIME_INDEX_SUFFIX: &str = ".timeindex";
pub(crate) const DELETED_SUFFIX: &str = ".deleted";

/// The file name stem of the segment starting at `base_offset`.
pub(crate) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// What the segment needs to know about each batch of an append, in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchMeta {
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub size: u64,
}

/// Mutable per-segment metadata kept in step with the indexes.
#[derive(Debug)]
pub(crate) struct SegmentState {
    pub offset_index: OffsetIndex,
    pub time_index: TimeIndex,
    /// Aborted transactions whose marker is in this segment. Not rebuilt by `recovery` (it
    /// needs producer state): the log's producer-state rebuild keeps it in step.
    pub txn_index: TxnIndex,
    pub bytes_since_last_index_entry: u64,
    /// Largest batch maxTimestamp in the segment (-1 if none).
    pub max_timestamp: i64,
    /// Last offset of the batch carrying `max_timestamp` (-1 if none).
    pub offset_of_max_timestamp: i64,
    /// Offset after the last batch; equals the base offset while empty. Only maintained for the
    /// active segment and segments scanned by recovery; for others the next segment's base.
    pub next_offset: i64,
    /// maxTimestamp of the first batch, the base of time-based rolling (`segment.ms`).
    pub first_batch_timestamp: Option<i64>,
}

impl SegmentState {
    /// Index bookkeeping for one batch appended at `position`, Kafka's way: when more than
    /// `index_interval_bytes` were written since the last entry, this batch gets an entry.
    pub fn on_batch(
        &mut self,
        meta: &BatchMeta,
        position: u64,
        index_interval_bytes: u32,
    ) -> Result<(), LogError> {
        if meta.max_timestamp > self.max_timestamp {
            self.max_timestamp = meta.max_timestamp;
            self.offset_of_max_timestamp = meta.last_offset;
        }
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(meta.max_timestamp);
        }
        if self.bytes_since_last_index_entry > u64::from(index_interval_bytes) {
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            self.offset_index.append(meta.last_offset, position)?;
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += meta.size;
        self.next_offset = meta.last_offset + 1;
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    file: File,
    /// Bytes of whole batches readers may see. Invariant: <= the file's length.
    committed_size: AtomicU64,
    /// Clock time when this segment was created or loaded (time-based rolling fallback).
    created_ms: i64,
    state: RwLock<SegmentState>,
}

impl Segment {
    /// Creates a new empty segment; fails if its `.log` file already exists.
    pub fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Segment, LogError> {
        Segment::create_files(dir, base_offset, "", now_ms)
    }

    /// Creates (emptying any leftover) the files of a segment being rewritten by the cleaner:
    /// the usual names plus `suffix` (`.cleaned`). The result is only written and flushed; the
    /// cleaner renames its files into place and opens them afresh with [`Segment::open`].
    pub fn create_with_suffix(
        dir: &Path,
        base_offset: i64,
        suffix: &str,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let log_path = dir.join(format!("{}{LOG_SUFFIX}{suffix}", file_stem(base_offset)));
        match fs::remove_file(&log_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(LogError::io(&log_path)(e));
            }
            _ => {}
        }
        Segment::create_files(dir, base_offset, suffix, now_ms)
    }

    /// Creates the `.log` file (which must not exist) and empty indexes, all named with `suffix`.
    fn create_files(
        dir: &Path,
        base_offset: i64,
        suffix: &str,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let stem = file_stem(base_offset);
        let log_path = dir.join(format!("{stem}{LOG_SUFFIX}{suffix}"));
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(LogError::io(&log_path))?;
        let offset_index = OffsetIndex::create(
            &dir.join(format!("{stem}{INDEX_SUFFIX}{suffix}")),
            base_offset,
        )?;
        let time_index = TimeIndex::create(
            &dir.join(format!("{stem}{TIME_INDEX_SUFFIX}{suffix}")),
            base_offset,
        )?;
        let txn_path = dir.join(format!("{stem}{TXN_INDEX_SUFFIX}{suffix}"));
        match fs::remove_file(&txn_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(LogError::io(&txn_path)(e));
            }
            _ => {}
        }
        Ok(Segment::new(
            base_offset,
            log_path,
            file,
            0,
            now_ms,
            offset_index,
            time_index,
            TxnIndex::empty(txn_path),
        ))
    }

    /// Opens an existing segment. Indexes that are missing or fail their sanity checks come back
    /// empty, with `false` as the second value: the caller must rebuild them (recovery).
    /// `next_offset_bound` is an exclusive upper bound on the segment's offsets (the next
    /// segment's base, or `i64::MAX` for the last one).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        next_offset_bound: i64,
        now_ms: i64,
    ) -> Result<(Segment, bool), LogError> {
        let stem = file_stem(base_offset);
        let log_path = dir.join(format!("{stem}{LOG_SUFFIX}"));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(LogError::io(&log_path))?;
        let size = file.metadata().map_err(LogError::io(&log_path))?.len();
        let index_path = dir.join(format!("{stem}{INDEX_SUFFIX}"));
        let time_path = dir.join(format!("{stem}{TIME_INDEX_SUFFIX}"));
        let offset_index = OffsetIndex::load(&index_path, base_offset, size)?;
        let time_index = TimeIndex::load(&time_path, base_offset, next_offset_bound)?;
        let txn_index = TxnIndex::load(dir.join(format!("{stem}{TXN_INDEX_SUFFIX}")))?;
        let intact = offset_index.is_some() && time_index.is_some();
        let (offset_index, time_index) = match (offset_index, time_index) {
            (Some(o), Some(t)) => (o, t),
            _ => (
                OffsetIndex::create(&index_path, base_offset)?,
                TimeIndex::create(&time_path, base_offset)?,
            ),
        };
        let segment = Segment::new(
            base_offset,
            log_path,
            file,
            size,
            now_ms,
            offset_index,
            time_index,
            txn_index,
        );
        {
            let mut state = segment.state_mut();
            if let Some((ts, offset)) = state.time_index.last_entry() {
                state.max_timestamp = ts;
                state.offset_of_max_timestamp = offset;
            }
        }
        Ok((segment, intact))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        base_offset: i64,
        log_path: PathBuf,
        file: File,
        size: u64,
        now_ms: i64,
        offset_index: OffsetIndex,
        time_index: TimeIndex,
        txn_index: TxnIndex,
    ) -> Segment {
        Segment {
            base_offset,
            log_path,
            file,
            committed_size: AtomicU64::new(size),
            created_ms: now_ms,
            state: RwLock::new(SegmentState {
                offset_index,
                time_index,
                txn_index,
                bytes_since_last_index_entry: 0,
                max_timestamp: -1,
                offset_of_max_timestamp: -1,
                next_offset: base_offset,
                first_batch_timestamp: None,
            }),
        }
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }

    /// Bytes of whole batches in the segment.
    pub fn size(&self) -> u64 {
        self.committed_size.load(Ordering::Acquire)
    }

    pub fn state(&self) -> RwLockReadGuard<'_, SegmentState> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state_mut(&self) -> RwLockWriteGuard<'_, SegmentState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `slices` (whole batches, described in order by `batches`) at the end of the file
    /// with vectored writes, then publishes them and updates the indexes. On a write error the
    /// file is cut back to its previous size (best effort; recovery handles the rest).
    pub fn append(
        &self,
        slices: &mut [IoSlice<'_>],
        batches: &[BatchMeta],
        index_interval_bytes: u32,
    ) -> Result<(), LogError> {
        let start = self.size();
        if let Err(e) = write_all_vectored(&self.file, slices) {
            if let Err(cut) = self.file.set_len(start) {
                tracing::error!(path = %self.log_path.display(), "cannot undo a failed append: {cut}");
            }
            return Err(LogError::io(&self.log_path)(e));
        }
        let total: u64 = batches.iter().map(|b| b.size).sum();
        self.committed_size.store(start + total, Ordering::Release);
        let mut state = self.state_mut();
        let mut position = start;
        for meta in batches {
            state.on_batch(meta, position, index_interval_bytes)?;
            position += meta.size;
        }
        Ok(())
    }

    /// Reads exactly `len` bytes at `position`.
    pub fn read_exact(&self, position: u64, len: usize) -> Result<Vec<u8>, LogError> {
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(LogError::io(&self.log_path))?;
        Ok(buf)
    }

    /// Reads up to `len` bytes at `position` into `buf` (cleared first); fewer only at EOF.
    pub fn read_into(&self, position: u64, len: usize, buf: &mut Vec<u8>) -> Result<(), LogError> {
        buf.clear();
        buf.resize(len, 0);
        let mut filled = 0;
        while filled < len {
            match self
                .file
                .read_at(&mut buf[filled..], position + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LogError::io(&self.log_path)(e)),
            }
        }
        buf.truncate(filled);
        Ok(())
    }

    /// The header of the batch at `position`, if a whole header lies below `limit`.
    pub fn read_header(&self, position: u64, limit: u64) -> Result<Option<BatchHeader>, LogError> {
        if position + BATCH_HEADER_LEN as u64 > limit {
            return Ok(None);
        }
        let mut buf = [0u8; BATCH_HEADER_LEN];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(LogError::io(&self.log_path))?;
        Ok(batch::parse_header(&buf).ok())
    }

    /// Position and header of the first committed batch whose last offset is `>= offset`.
    pub fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let limit = self.size();
        let (_, start) = self.state().offset_index.lookup(offset);
        self.scan_from(u64::from(start), limit, |h| h.last_offset() >= offset)
    }

    /// Walks batch headers from `position` (a batch start) up to `limit`, returning the first
    /// one `pred` accepts.
    pub fn scan_from(
        &self,
        mut position: u64,
        limit: u64,
        mut pred: impl FnMut(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        while let Some(header) = self.read_header(position, limit)? {
            let len = header.total_len() as u64;
            if header.batch_length < batch::MIN_BATCH_LENGTH || position + len > limit {
                return Err(LogError::Corrupt {
                    path: self.log_path.clone(),
                    reason: format!("bad batch length at position {position}"),
                });
            }
            if pred(&header) {
                return Ok(Some((position, header)));
            }
            position += len;
        }
        Ok(None)
    }

    /// Cuts the file at `position` (a batch boundary) and drops offset-index entries past it.
    /// The caller rebuilds the rest of the state (recovery).
    pub fn truncate_to_position(&self, position: u64) -> Result<(), LogError> {
        if position < self.size() {
            self.committed_size.store(position, Ordering::Release);
        }
        self.file
            .set_len(position)
            .map_err(LogError::io(&self.log_path))?;
        self.committed_size.store(position, Ordering::Release);
        self.state_mut().offset_index.truncate_to_position(position)
    }

    /// Adds the final time-index entry, as Kafka does when a segment stops being active.
    pub fn seal(&self) -> Result<(), LogError> {
        let mut state = self.state_mut();
        let (ts, offset) = (state.max_timestamp, state.offset_of_max_timestamp);
        state.time_index.maybe_append(ts, offset)
    }

    /// fsyncs the log file and the indexes.
    pub fn flush(&self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(LogError::io(&self.log_path))?;
        let state = self.state();
        state.offset_index.sync()?;
        state.time_index.sync()?;
        state.txn_index.sync()
    }

    /// Renames the segment's files to `*.deleted`, returning the new paths. Open handles (in
    /// concurrent readers) keep working.
    pub fn rename_to_deleted(&self) -> Result<Vec<PathBuf>, LogError> {
        let state = self.state();
        let mut renamed = Vec::with_capacity(4);
        for path in [
            self.log_path.as_path(),
            state.offset_index.path(),
            state.time_index.path(),
            state.txn_index.path(),
        ] {
            let mut target = path.as_os_str().to_owned();
            target.push(DELETED_SUFFIX);
            let target = PathBuf::from(target);
            match fs::rename(path, &target) {
                Ok(()) => renamed.push(target),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(path)(e)),
            }
        }
        Ok(renamed)
    }
}

/// Writes all of `slices` with as few `writev` calls as the kernel allows.
fn write_all_vectored(mut file: &File, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "wrote no bytes of a batch",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
