//! A partition's log: an ordered set of segments plus the offsets that frame them.
//!
//! Invariants: `log_start_offset <= log_end_offset`; `log_start_offset >=` the first segment's
//! base offset; the last segment in `segments` is the active one and the only one appended to;
//! `flushed_offset <= log_end_offset` and every offset below `flushed_offset` has been fsynced.
//!
//! Locking: `append_lock` serialises everything that changes the segment set or the files
//! (append, roll, truncation, retention, deletion, close). Readers never take it: they clone the
//! `Arc<Segment>`s they need out of `segments` (a short read lock) and use positional reads.
//! `flush_lock` serialises fsyncs so that concurrent flushes share one (group commit).
//! `clean_lock` serialises compaction passes, which take `append_lock` only to swap a rewritten
//! segment in (see `Log::clean`).
//! `producer_state` is changed only under `append_lock`, and held only briefly (never across
//! file I/O) so that fetches asking for the last stable offset do not wait for appends.
//! `epoch_cache` is changed only under `append_lock` and is taken alone, briefly (its file is
//! written outside it).
//! `unsynced_files` is a leaf lock, held only to take or add paths.
//! Lock order: clean_lock, then append_lock, then flush_lock, then producer_state, then
//! segments, then a segment's state.
//!
//! Producer state (see `producer_state`): every append checks its batches with a producer id
//! against the state first (a duplicate returns the original offsets and writes nothing), and
//! commits the changes after the data is in the file and before the new log end offset is
//! published. Snapshots are written at each roll and at close; open loads the newest snapshot
//! at or below the log end offset and replays the batches after it, rebuilding the `.txnindex`
//! entries of the segments it replays. Snapshots go with the segments that hold their offset
//! (retention, DeleteRecords) and above the new end on truncation.
//!
//! Leader epochs (see `leader_epoch_cache`): every append records its batches' leader epoch in
//! the cache before its data is written (so `leader-epoch-checkpoint` never lacks the epoch of
//! data in the log); truncation, DeleteRecords and retention cut the cache as they cut the log,
//! and open drops the entries a crash left above the recovered log end. A log without the file
//! (written before it existed) gets its cache rebuilt from the batch headers on open.
//!
//! Follower appends ([`Log::append_as_follower`]) take the leader's batches as they are:
//! offsets, leader epochs and timestamps stay, producer state and the `.txnindex` follow them
//! without the leader's checks, and the active segment rolls as for leader appends.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, IoSlice};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use sluice_protocol::batch::{
    self, BatchError, BatchHeader, BATCH_HEADER_LEN, MAGIC_V2, MIN_BATCH_LENGTH,
};

use crate::checkpoint;
use crate::cleaner::{self, CleanResult, OffsetMap};
use crate::clock::Clock;
use crate::config::LogConfig;
use crate::error::LogError;
use crate::leader_epoch_cache::LeaderEpochCache;
use crate::marker;
use crate::producer_state::{
    self, AppendOrigin, AppendPlan, BatchInput, Check, Marker, Planned, ProducerInfo,
    ProducerStateManager,
};
use crate::recovery;
use crate::retention::{self, RetentionResult, SegmentFacts};
use crate::segment::{
    BatchMeta, Segment, DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
};
use crate::txn_index::TXN_INDEX_SUFFIX;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// Largest timestamp appended (the append time under LogAppendTime).
    pub max_timestamp: i64,
    /// Offset carrying `max_timestamp`: the last offset of that batch (the first offset of the
    /// append under LogAppendTime).
    pub offset_of_max_timestamp: i64,
    /// The broker time stamped on the batches, or -1 under CreateTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// Bytes written.
    pub bytes: usize,
    /// The caller should call [`Log::flush`] (from a blocking thread): `flush.messages` or
    /// `flush.ms` is reached, or a segment was rolled (its data is then fsynced, as Kafka does).
    pub flush_due: bool,
    /// The batch had been appended before (same producer, epoch and sequences): nothing was
    /// written, and the offsets and max timestamp are those of the original append
    /// (`log_append_time` is -1, as in Kafka's answer to a duplicate).
    pub duplicate: bool,
}

/// `Log::latest_epoch_hint` while `leader-epoch-checkpoint` may differ from the cache in memory
/// (a write failed): the next append with a leader epoch writes the file again.
const EPOCH_FILE_STALE: i32 = i32::MIN;

/// Whole batches read from one segment, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadResult {
    pub records: Bytes,
    /// Base offset of the first batch in `records`, `None` if empty.
    pub first_batch_offset: Option<i64>,
}

pub struct Log {
    dir: PathBuf,
    config: RwLock<LogConfig>,
    clock: Arc<dyn Clock>,
    segments: RwLock<BTreeMap<i64, Arc<Segment>>>,
    append_lock: Mutex<()>,
    log_start_offset: AtomicI64,
    /// Offset the next appended record gets. Published after the data is in the file.
    log_end_offset: AtomicI64,
    flush_lock: Mutex<()>,
    flushed_offset: AtomicI64,
    last_flush_ms: AtomicI64,
    /// A segment file was created since the last directory fsync.
    dir_dirty: AtomicBool,
    /// Files renamed to `*.deleted`, removed once the time (ms) is reached.
    pending_deletes: Mutex<Vec<(i64, PathBuf)>>,
    closed: AtomicBool,
    /// Serialises cleaning passes. Taken before `append_lock`, which a pass holds only to swap
    /// a cleaned segment in.
    clean_lock: Mutex<()>,
    /// Idempotent and transactional producers. invariant: reflects every batch below
    /// `log_end_offset` (changed only under `append_lock`).
    producer_state: Mutex<ProducerStateManager>,
    /// Leader epoch -> first offset. invariant: describes the batches below `log_end_offset`;
    /// only the latest entry may start at the log end offset (an append whose data is not
    /// published yet, or a log start offset moved up to the end). Changed only under
    /// `append_lock`.
    epoch_cache: Mutex<LeaderEpochCache>,
    /// The latest epoch in `epoch_cache` (-1 if none), or `EPOCH_FILE_STALE`: lets an append in
    /// the current epoch skip the cache without a lock. Written under `append_lock`.
    latest_epoch_hint: AtomicI32,
    /// The recovery point last written to `recovery-point.checkpoint` (changed under
    /// `flush_lock`).
    recovery_point_written: AtomicI64,
    /// Files the append path wrote without fsync (the producer snapshot of a roll, the leader
    /// epoch checkpoint): the next flush fsyncs them, on the caller's blocking thread, so that
    /// an append never waits for the disk.
    unsynced_files: Mutex<Vec<PathBuf>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.dir)
            .field("log_start_offset", &self.log_start_offset())
            .field("log_end_offset", &self.log_end_offset())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The protected data stays consistent across a panic (files are the truth); keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Log {
    /// Opens (creating if needed) the log in `dir` and recovers it.
    pub fn open(dir: &Path, config: LogConfig, clock: Arc<dyn Clock>) -> Result<Log, LogError> {
        fs::create_dir_all(dir).map_err(LogError::io(dir))?;
        let clean = checkpoint::take_clean_shutdown(dir)?;
        let now = clock.now_ms();
        cleaner::recover_swaps(dir)?;
        let bases = scan_dir(dir)?;
        let checkpointed_start = match checkpoint::read_log_start_offset(dir) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "ignoring log start offset checkpoint: {e}");
                None
            }
        };

        // After a crash, every segment from the recovery point on may hold unflushed data: each
        // is validated batch by batch. Without a checkpoint, all of them are.
        let checkpointed_point =
            match checkpoint::read_offset_file(dir, checkpoint::RECOVERY_POINT_FILE) {
                Ok(point) => point.unwrap_or(0),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), "ignoring the recovery point: {e}");
                    0
                }
            };
        let recovery_point = if clean { i64::MAX } else { checkpointed_point };

        let mut segments = BTreeMap::new();
        let mut bases = bases.into_iter().peekable();
        while let Some(base) = bases.next() {
            let next_base = bases.peek().copied();
            let bound = next_base.unwrap_or(i64::MAX);
            let (segment, intact) = Segment::open(dir, base, bound, now)?;
            if next_base.is_some() && base >= recovery_point {
                let outcome =
                    recovery::recover_segment(&segment, bound, config.index_interval_bytes, true)?;
                if outcome.truncated_bytes > 0 {
                    // What follows a damaged batch cannot be trusted: the later segments go,
                    // and this one is the active segment now.
                    let later: Vec<i64> = bases.by_ref().collect();
                    tracing::warn!(
                        dir = %dir.display(),
                        "segment {base} was damaged after its last flush: truncated {} bytes, \
                         removed {} later segment(s)",
                        outcome.truncated_bytes,
                        later.len()
                    );
                    for later_base in later {
                        let (doomed, _) = Segment::open(dir, later_base, i64::MAX, now)?;
                        for path in doomed.rename_to_deleted()? {
                            fs::remove_file(&path).map_err(LogError::io(&path))?;
                        }
                    }
                    segments.insert(base, Arc::new(segment));
                    break;
                }
                segment.seal()?;
            } else if next_base.is_none() {
                if clean && intact {
                    recovery::load_clean_tail(&segment)?;
                } else {
                    let outcome = recovery::recover_segment(
                        &segment,
                        bound,
                        config.index_interval_bytes,
                        true,
                    )?;
                    tracing::info!(
                        dir = %dir.display(),
                        "recovered active segment {base}: {} batches, {} bytes truncated",
                        outcome.batches,
                        outcome.truncated_bytes
                    );
                }
            } else if !intact {
                recovery::recover_segment(&segment, bound, config.index_interval_bytes, !clean)?;
                segment.seal()?;
            }
            if let Some(next) = next_base {
                segment.state_mut().next_offset = next;
            }
            segments.insert(base, Arc::new(segment));
        }

        let log = Log {
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            clock,
            segments: RwLock::new(segments),
            append_lock: Mutex::new(()),
            log_start_offset: AtomicI64::new(0),
            log_end_offset: AtomicI64::new(0),
            flush_lock: Mutex::new(()),
            flushed_offset: AtomicI64::new(0),
            last_flush_ms: AtomicI64::new(now),
            dir_dirty: AtomicBool::new(false),
            pending_deletes: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            clean_lock: Mutex::new(()),
            producer_state: Mutex::new(ProducerStateManager::default()),
            epoch_cache: Mutex::new(LeaderEpochCache::default()),
            latest_epoch_hint: AtomicI32::new(-1),
            recovery_point_written: AtomicI64::new(checkpointed_point),
            unsynced_files: Mutex::new(Vec::new()),
        };
        log.finish_open(checkpointed_start, clean, now)?;
        log.load_producer_state()?;
        log.load_epoch_cache()?;
        Ok(log)
    }

    /// Settles log start/end offsets after the segments are loaded.
    fn finish_open(
        &self,
        checkpointed: Option<i64>,
        clean: bool,
        now: i64,
    ) -> Result<(), LogError> {
        let first = self.segments_snapshot().first().map(|s| s.base_offset());
        let (log_start, log_end) = match first {
            None => {
                let start = checkpointed.unwrap_or(0);
                self.insert_segment(Arc::new(Segment::create(&self.dir, start, now)?));
                (start, start)
            }
            Some(first_base) => {
                let end = self.active().state().next_offset;
                let start = checkpointed.unwrap_or(first_base).max(first_base);
                if start > end {
                    // The checkpoint is ahead of the data (lost in a crash): start afresh there,
                    // as Kafka does.
                    tracing::warn!(dir = %self.dir.display(),
                        "log start offset {start} is past the log end {end}; emptying the log");
                    for s in self.segments_snapshot() {
                        self.remove_segment(&s, now)?;
                    }
                    producer_state::delete_snapshots(&self.dir, |_| true)?;
                    self.insert_segment(Arc::new(Segment::create(&self.dir, start, now)?));
                    (start, start)
                } else {
                    (start, end)
                }
            }
        };
        self.log_start_offset.store(log_start, Ordering::SeqCst);
        self.log_end_offset.store(log_end, Ordering::SeqCst);
        let flushed = if clean {
            log_end
        } else {
            self.active().base_offset().min(log_end)
        };
        self.flushed_offset.store(flushed, Ordering::SeqCst);
        if checkpointed != Some(log_start) {
            checkpoint::write_log_start_offset(&self.dir, log_start)?;
        }
        checkpoint::sync_dir(&self.dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> LogConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies altered topic configs; they take effect from the next append/retention pass.
    pub fn update_config(&self, config: LogConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::SeqCst)
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset.load(Ordering::SeqCst)
    }

    /// Offset below which everything is known to be fsynced (the recovery point).
    pub fn flushed_offset(&self) -> i64 {
        self.flushed_offset.load(Ordering::SeqCst)
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments_snapshot().iter().map(|s| s.size()).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    fn segments_snapshot(&self) -> Vec<Arc<Segment>> {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn active(&self) -> Arc<Segment> {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .next_back()
            .cloned()
            .expect("invariant: a log always has an active segment")
    }

    fn insert_segment(&self, segment: Arc<Segment>) {
        self.segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(segment.base_offset(), segment);
        self.dir_dirty.store(true, Ordering::SeqCst);
    }

    /// Takes a segment out of the log and renames its files to `*.deleted`, to be removed after
    /// `file.delete.delay.ms` (readers holding it keep reading meanwhile).
    fn remove_segment(&self, segment: &Arc<Segment>, now: i64) -> Result<(), LogError> {
        self.segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&segment.base_offset());
        let renamed = segment.rename_to_deleted()?;
        let due = now.saturating_add(self.config().file_delete_delay_ms.max(0));
        lock(&self.pending_deletes).extend(renamed.into_iter().map(|p| (due, p)));
        self.dir_dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Removes `*.deleted` files whose delay has passed.
    fn purge_deleted_files(&self, now: i64) {
        let due: Vec<PathBuf> = {
            let mut pending = lock(&self.pending_deletes);
            let (due, keep) = pending.drain(..).partition(|(t, _)| *t <= now);
            *pending = keep;
            due.into_iter().map(|(_, p)| p).collect()
        };
        for path in due {
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), "cannot remove deleted segment file: {e}");
                }
            }
        }
    }

    /// Appends whole v2 batches (already validated by `validate_batches`) from a producer
    /// (origin [`AppendOrigin::Client`]), assigning offsets from the log end offset and
    /// stamping `leader_epoch`. See the crate docs for the rules.
    pub fn append(&self, records: &Bytes, leader_epoch: i32) -> Result<AppendInfo, LogError> {
        self.append_with_origin(records, leader_epoch, AppendOrigin::Client)
    }

    /// [`Log::append`] for a given origin: batches with a producer id go through the checks of
    /// `producer_state` for that origin; control batches are refused from clients.
    /// [`AppendOrigin::Replication`] is [`Log::append_as_follower`] (`leader_epoch` unused).
    pub fn append_with_origin(
        &self,
        records: &Bytes,
        leader_epoch: i32,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        if origin == AppendOrigin::Replication {
            return self.append_as_follower(records);
        }
        let _guard = lock(&self.append_lock);
        if self.closed.load(Ordering::SeqCst) {
            return Err(LogError::Closed);
        }
        let config = self.config();
        let now = self.clock.now_ms();
        let log_append_time = config.message_timestamp_type_log_append;

        let mut headers: Vec<(usize, BatchHeader)> = Vec::new();
        let mut with_producer = false;
        for item in batch::batches(records) {
            let (position, header) = item?;
            if header.magic != MAGIC_V2 {
                return Err(BatchError::UnsupportedMagic {
                    position,
                    magic: header.magic,
                }
                .into());
            }
            if header.last_offset_delta < 0 {
                return Err(BatchError::InvalidRecord {
                    position,
                    reason: "negative last offset delta",
                }
                .into());
            }
            if origin == AppendOrigin::Client {
                check_client_batch(position, &header)?;
            }
            with_producer |= header.producer_id >= 0;
            headers.push((position, header));
        }
        if headers.is_empty() {
            return Err(BatchError::Empty.into());
        }
        let total_bytes: usize = headers.iter().map(|(_, h)| h.total_len()).sum();
        let offset_count: i64 = headers
            .iter()
            .map(|(_, h)| i64::from(h.last_offset_delta) + 1)
            .sum();
        let first_offset = self.log_end_offset();
        let last_offset = first_offset + offset_count - 1;

        // Producer checks come first: a refused or duplicate batch writes (and rolls) nothing.
        let plan = if with_producer {
            let inputs =
                producer_inputs(records, &headers, Some(first_offset), log_append_time, now)?;
            let planned = lock(&self.producer_state).plan(&inputs, Check::from(origin))?;
            match planned {
                Planned::Append(plan) => Some(plan),
                Planned::Duplicate(original) => {
                    return Ok(AppendInfo {
                        first_offset: original.first_offset,
                        last_offset: original.last_offset,
                        max_timestamp: original.max_timestamp,
                        offset_of_max_timestamp: original.last_offset,
                        log_append_time: -1,
                        log_start_offset: self.log_start_offset(),
                        bytes: 0,
                        flush_due: false,
                        duplicate: true,
                    });
                }
            }
        } else {
            None
        };

        let max_timestamp_in = if log_append_time {
            now
        } else {
            headers
                .iter()
                .map(|(_, h)| h.max_timestamp)
                .max()
                .unwrap_or(-1)
        };

        let (active, rolled) = self.maybe_roll(
            &config,
            total_bytes as u64,
            first_offset,
            last_offset,
            max_timestamp_in,
            now,
        )?;
        ensure_fits(&active, total_bytes, &config)?;
        self.assign_epochs(std::iter::once((leader_epoch, first_offset)))?;

        // Patched copies of the 61-byte headers (or, under LogAppendTime, of whole batches: the
        // CRC changes). The record bytes are written straight from `records`.
        let mut header_copies: Vec<[u8; BATCH_HEADER_LEN]> = Vec::with_capacity(headers.len());
        let mut whole_copies: Vec<Vec<u8>> = Vec::new();
        let mut metas: Vec<BatchMeta> = Vec::with_capacity(headers.len());
        let mut next = first_offset;
        let mut max_timestamp = -1i64;
        let mut offset_of_max_timestamp = -1i64;
        for (position, header) in &headers {
            let len = header.total_len();
            let bytes = &records[*position..*position + len];
            if log_append_time {
                let mut copy = bytes.to_vec();
                batch::set_base_offset(&mut copy, next);
                batch::set_partition_leader_epoch(&mut copy, leader_epoch);
                batch::set_log_append_time(&mut copy, now);
                whole_copies.push(copy);
            } else {
                let mut copy = [0u8; BATCH_HEADER_LEN];
                copy.copy_from_slice(&bytes[..BATCH_HEADER_LEN]);
                batch::set_base_offset(&mut copy, next);
                batch::set_partition_leader_epoch(&mut copy, leader_epoch);
                header_copies.push(copy);
            }
            let batch_last = next + i64::from(header.last_offset_delta);
            let batch_max_ts = if log_append_time {
                now
            } else {
                header.max_timestamp
            };
            if batch_max_ts > max_timestamp {
                max_timestamp = batch_max_ts;
                offset_of_max_timestamp = if log_append_time {
                    first_offset
                } else {
                    batch_last
                };
            }
            metas.push(BatchMeta {
                last_offset: batch_last,
                max_timestamp: batch_max_ts,
                size: len as u64,
            });
            next = batch_last + 1;
        }
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(headers.len() * 2);
        if log_append_time {
            slices.extend(whole_copies.iter().map(|b| IoSlice::new(b)));
        } else {
            for ((position, header), copy) in headers.iter().zip(&header_copies) {
                slices.push(IoSlice::new(copy));
                let rest = &records[position + BATCH_HEADER_LEN..position + header.total_len()];
                if !rest.is_empty() {
                    slices.push(IoSlice::new(rest));
                }
            }
        }
        active.append(&mut slices, &metas, config.index_interval_bytes)?;
        if let Some(plan) = plan {
            self.commit_producer_plan(&active, plan)?;
        }
        self.log_end_offset.store(next, Ordering::SeqCst);

        Ok(AppendInfo {
            first_offset,
            last_offset,
            max_timestamp,
            offset_of_max_timestamp,
            log_append_time: if log_append_time { now } else { -1 },
            log_start_offset: self.log_start_offset(),
            bytes: total_bytes,
            flush_due: self.flush_due(&config, rolled, next, now),
            duplicate: false,
        })
    }

    /// Appends batches fetched from the leader, as a follower does (Kafka's `appendAsFollower`,
    /// origin [`AppendOrigin::Replication`]). `records` holds whole v2 batches; each is checked
    /// (framing, magic, offset delta, CRC-32C) and written byte for byte: offsets, leader epoch
    /// and timestamps stay as the leader wrote them.
    ///
    /// The first batch must not start below the log end offset
    /// ([`LogError::UnexpectedAppendOffset`]) and every batch must start after the previous
    /// one's last offset ([`LogError::OffsetsOutOfOrder`]). Gaps are accepted, as in Kafka: the
    /// leader's cleaner removes batches from compacted logs. Nothing is written when a check
    /// fails.
    ///
    /// Producer state and the `.txnindex` follow the batches (transaction markers included)
    /// exactly as on the leader, without the leader's sequence and epoch checks, so this log
    /// can take over as leader. The leader epoch cache takes each batch's epoch. Segments roll
    /// and `flush_due` is set as for leader appends.
    pub fn append_as_follower(&self, records: &Bytes) -> Result<AppendInfo, LogError> {
        let _guard = lock(&self.append_lock);
        if self.closed.load(Ordering::SeqCst) {
            return Err(LogError::Closed);
        }
        let config = self.config();
        let now = self.clock.now_ms();
        let log_end_offset = self.log_end_offset();

        let mut headers: Vec<(usize, BatchHeader)> = Vec::new();
        let mut metas: Vec<BatchMeta> = Vec::new();
        let mut with_producer = false;
        let mut max_timestamp = -1i64;
        let mut offset_of_max_timestamp = -1i64;
        for item in batch::batches(records) {
            let (position, header) = item?;
            let len = header.total_len();
            check_replicated_batch(&records[position..position + len], position, &header)?;
            match headers.last() {
                None if header.base_offset < log_end_offset => {
                    return Err(LogError::UnexpectedAppendOffset {
                        log_end_offset,
                        first_offset: header.base_offset,
                        last_offset: header.last_offset(),
                    });
                }
                Some((_, previous)) if header.base_offset <= previous.last_offset() => {
                    return Err(LogError::OffsetsOutOfOrder {
                        position,
                        base_offset: header.base_offset,
                        previous_last_offset: previous.last_offset(),
                    });
                }
                _ => {}
            }
            if header.max_timestamp > max_timestamp {
                max_timestamp = header.max_timestamp;
                offset_of_max_timestamp = header.last_offset();
            }
            metas.push(BatchMeta {
                last_offset: header.last_offset(),
                max_timestamp: header.max_timestamp,
                size: len as u64,
            });
            with_producer |= header.producer_id >= 0;
            headers.push((position, header));
        }
        let (Some((_, first)), Some((_, last))) = (headers.first(), headers.last()) else {
            return Err(BatchError::Empty.into());
        };
        let (first_offset, last_offset) = (first.base_offset, last.last_offset());
        let total_bytes = records.len();

        let plan = if with_producer {
            let inputs = producer_inputs(records, &headers, None, false, now)?;
            let planned =
                lock(&self.producer_state).plan(&inputs, Check::from(AppendOrigin::Replication))?;
            match planned {
                Planned::Append(plan) => Some(plan),
                Planned::Duplicate(_) => {
                    unreachable!("invariant: only client appends are checked for duplicates")
                }
            }
        } else {
            None
        };

        let (active, rolled) = self.maybe_roll(
            &config,
            total_bytes as u64,
            first_offset,
            last_offset,
            max_timestamp,
            now,
        )?;
        ensure_fits(&active, total_bytes, &config)?;
        self.assign_epochs(
            headers
                .iter()
                .map(|(_, h)| (h.partition_leader_epoch, h.base_offset)),
        )?;
        // `batches` walked the buffer to its end: it is the batches, back to back.
        let mut slices = [IoSlice::new(records)];
        active.append(&mut slices, &metas, config.index_interval_bytes)?;
        if let Some(plan) = plan {
            self.commit_producer_plan(&active, plan)?;
        }
        let next = last_offset + 1;
        self.log_end_offset.store(next, Ordering::SeqCst);

        Ok(AppendInfo {
            first_offset,
            last_offset,
            max_timestamp,
            offset_of_max_timestamp,
            log_append_time: -1,
            log_start_offset: self.log_start_offset(),
            bytes: total_bytes,
            flush_due: self.flush_due(&config, rolled, next, now),
            duplicate: false,
        })
    }

    /// Whether an append that ended at `log_end_offset` should be followed by a flush:
    /// `flush.messages` offsets or `flush.ms` since the last flush, or a roll.
    fn flush_due(&self, config: &LogConfig, rolled: bool, log_end_offset: i64, now: i64) -> bool {
        let unflushed = u64::try_from(log_end_offset - self.flushed_offset()).unwrap_or(0);
        let since_flush = now.saturating_sub(self.last_flush_ms.load(Ordering::SeqCst));
        rolled || unflushed >= config.flush_messages || since_flush >= config.flush_ms
    }

    /// Records in the leader epoch cache the `(leader epoch, base offset)` of an append's
    /// batches, in order, before their data is written, and persists the cache if that changed
    /// it. A batch in the latest epoch costs one atomic load. On error the cache is unchanged.
    fn assign_epochs(&self, batches: impl Iterator<Item = (i32, i64)>) -> Result<(), LogError> {
        let mut latest = self.latest_epoch_hint.load(Ordering::Acquire);
        let mut updated: Option<LeaderEpochCache> = None;
        for (epoch, base_offset) in batches {
            if epoch < 0 || epoch == latest {
                continue;
            }
            let cache = updated.get_or_insert_with(|| lock(&self.epoch_cache).clone());
            cache.assign(epoch, base_offset);
            latest = cache.latest_epoch().unwrap_or(-1);
        }
        let Some(updated) = updated else {
            return Ok(());
        };
        let path = updated.write_unsynced(&self.dir)?;
        self.sync_at_next_flush(path);
        *lock(&self.epoch_cache) = updated;
        self.latest_epoch_hint.store(latest, Ordering::Release);
        Ok(())
    }

    /// Cuts the leader epoch cache as the log was cut (`change` returns whether it changed
    /// anything) and persists it. Memory first: the cache must never describe removed data. If
    /// the write fails, the next append with a leader epoch writes the file.
    fn cut_epoch_cache(
        &self,
        change: impl FnOnce(&mut LeaderEpochCache) -> bool,
    ) -> Result<(), LogError> {
        let (updated, latest) = {
            let mut cache = lock(&self.epoch_cache);
            if !change(&mut cache) {
                return Ok(());
            }
            self.latest_epoch_hint
                .store(EPOCH_FILE_STALE, Ordering::Release);
            (cache.clone(), cache.latest_epoch().unwrap_or(-1))
        };
        updated.write(&self.dir)?;
        self.latest_epoch_hint.store(latest, Ordering::Release);
        Ok(())
    }

    /// Loads `leader-epoch-checkpoint` on open and cuts it to the recovered log (Kafka's order:
    /// the end first, then the start). Without a readable file the cache is rebuilt from the
    /// batch headers.
    fn load_epoch_cache(&self) -> Result<(), LogError> {
        let (mut cache, mut changed) = match LeaderEpochCache::read(&self.dir) {
            Ok(Some(cache)) => (cache, false),
            Ok(None) => (self.epoch_cache_from_log()?, true),
            Err(e @ LogError::Io { .. }) => return Err(e),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "rebuilding the leader epoch cache: {e}");
                (self.epoch_cache_from_log()?, true)
            }
        };
        changed |= cache.truncate_from_end(self.log_end_offset());
        changed |= cache.truncate_from_start(self.log_start_offset());
        if changed {
            cache.write(&self.dir)?;
        }
        self.latest_epoch_hint
            .store(cache.latest_epoch().unwrap_or(-1), Ordering::Release);
        *lock(&self.epoch_cache) = cache;
        Ok(())
    }

    /// The leader epoch cache the batches in the log describe (their headers only).
    fn epoch_cache_from_log(&self) -> Result<LeaderEpochCache, LogError> {
        let mut cache = LeaderEpochCache::default();
        let mut batches = 0usize;
        for segment in self.segments_snapshot() {
            segment.scan_from(0, segment.size(), |h| {
                cache.assign(h.partition_leader_epoch, h.base_offset);
                batches += 1;
                false
            })?;
        }
        if batches > 0 {
            tracing::info!(dir = %self.dir.display(),
                "rebuilt the leader epoch cache from {batches} batch headers: {} epochs",
                cache.entries().len());
        }
        Ok(cache)
    }

    /// Records that leader epoch `epoch` starts at the current log end, as Kafka does when a
    /// replica becomes leader: the epoch is known to OffsetForLeaderEpoch and to followers'
    /// truncation before the new leader writes anything. An epoch not above the latest cached
    /// one changes nothing.
    pub fn assign_leader_epoch(&self, epoch: i32) -> Result<(), LogError> {
        let _append = lock(&self.append_lock);
        if lock(&self.epoch_cache)
            .latest_epoch()
            .is_some_and(|latest| latest >= epoch)
        {
            return Ok(());
        }
        self.assign_epochs(std::iter::once((epoch, self.log_end_offset())))
    }

    /// The latest leader epoch in the cache: of the last batch written, or of the last
    /// election this replica won ([`Log::assign_leader_epoch`]).
    pub fn latest_epoch(&self) -> Option<i32> {
        lock(&self.epoch_cache).latest_epoch()
    }

    /// Kafka's OffsetsForLeaderEpoch answer for `epoch`: the largest cached epoch `<= epoch` and
    /// that epoch's end offset (the start offset of the next cached epoch, or the log end
    /// offset for the latest). As in Kafka, an `epoch` below every cached one gets `epoch` and
    /// the first cached epoch's start offset (older data is gone from the log), and an `epoch`
    /// above every cached one gets the latest epoch and the log end offset. `None` (Kafka's
    /// UNDEFINED_EPOCH_OFFSET) when no batch carries an epoch or `epoch` is negative.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let cache = lock(&self.epoch_cache);
        cache.end_offset_for(epoch, self.log_end_offset())
    }

    /// `(leader epoch, start offset)` of every epoch in the cache, oldest first.
    pub fn epoch_entries(&self) -> Vec<(i32, i64)> {
        lock(&self.epoch_cache)
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    /// Records the aborted transactions of an append in `segment`'s `.txnindex`, then applies
    /// its producer-state changes. The index entries go first: no reader may see a transaction
    /// closed (the last stable offset past it) before its abort is indexed.
    fn commit_producer_plan(&self, segment: &Segment, plan: AppendPlan) -> Result<(), LogError> {
        if !plan.aborted.is_empty() {
            let mut state = segment.state_mut();
            for txn in &plan.aborted {
                state.txn_index.append(*txn)?;
            }
        }
        if !plan.is_empty() {
            lock(&self.producer_state).commit(plan);
        }
        Ok(())
    }

    /// Writes a transaction marker (Kafka's `EndTransactionMarker` control batch, see `marker`)
    /// for `producer_id`, as the transaction coordinator does to end a transaction: COMMIT if
    /// `commit`, else ABORT. It closes the producer's open transaction; an ABORT of one that
    /// had data is recorded in the `.txnindex` of the segment holding the marker. Refused with
    /// [`LogError::InvalidProducerEpoch`] when `producer_epoch` is older than the producer's,
    /// and [`LogError::TransactionCoordinatorFenced`] when `coordinator_epoch` is older than
    /// that of the producer's last marker.
    pub fn append_control(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        let batch = marker::encode(
            producer_id,
            producer_epoch,
            Marker {
                commit,
                coordinator_epoch,
            },
            leader_epoch,
            self.clock.now_ms(),
        );
        self.append_with_origin(&Bytes::from(batch), leader_epoch, AppendOrigin::Coordinator)
    }

    /// Rolls a new active segment when Kafka would; returns the segment to append to and
    /// whether a roll happened. A new segment starts at `first_offset`, the append's first
    /// offset (the log end offset, or above it for a follower append after a compacted gap).
    fn maybe_roll(
        &self,
        config: &LogConfig,
        append_bytes: u64,
        first_offset: i64,
        last_offset: i64,
        max_timestamp_in: i64,
        now: i64,
    ) -> Result<(Arc<Segment>, bool), LogError> {
        let active = self.active();
        let size = active.size();
        if size == 0 {
            return Ok((active, false));
        }
        let reason = {
            let state = active.state();
            let waited_ms = match state.first_batch_timestamp {
                Some(t) if t >= 0 => max_timestamp_in.saturating_sub(t),
                _ => now.saturating_sub(active.created_ms()),
            };
            if size + append_bytes > config.segment_bytes
                || size + append_bytes > u64::from(u32::MAX)
            {
                Some("segment.bytes")
            } else if waited_ms > config.segment_ms {
                Some("segment.ms")
            } else if state.offset_index.is_full(config.segment_index_bytes)
                || state.time_index.is_full(config.segment_index_bytes)
            {
                Some("segment.index.bytes")
            } else if last_offset - active.base_offset() > i64::from(i32::MAX) {
                Some("relative offset overflow")
            } else {
                None
            }
        };
        let Some(reason) = reason else {
            return Ok((active, false));
        };
        let base = first_offset;
        tracing::debug!(dir = %self.dir.display(), "rolling segment at offset {base} ({reason})");
        active.seal()?;
        // fsynced by the flush that follows every roll (the caller's, on a blocking thread).
        let snapshot = self.write_producer_snapshot(base, false)?;
        self.sync_at_next_flush(snapshot);
        let segment = Arc::new(Segment::create(&self.dir, base, now)?);
        self.insert_segment(segment.clone());
        Ok((segment, true))
    }

    /// Makes everything below `up_to_offset` durable (group commit: returns at once if another
    /// flush already covered it; concurrent callers share one fsync).
    pub fn flush(&self, up_to_offset: i64) -> Result<(), LogError> {
        if self.flushed_offset() >= up_to_offset {
            return Ok(());
        }
        let _guard = lock(&self.flush_lock);
        let flushed = self.flushed_offset();
        if flushed >= up_to_offset {
            return Ok(());
        }
        // Everything below the current end is in the files; flush it all in one go.
        let target = self.log_end_offset();
        let segments = self.segments_snapshot();
        for (i, segment) in segments.iter().enumerate() {
            let end = segments
                .get(i + 1)
                .map_or(i64::MAX, |next| next.base_offset());
            if end > flushed {
                segment.flush()?;
            }
        }
        let unsynced = std::mem::take(&mut *lock(&self.unsynced_files));
        for (i, path) in unsynced.iter().enumerate() {
            if let Err(e) = checkpoint::sync_file(path) {
                // Kept for the next flush, with those not reached.
                lock(&self.unsynced_files).extend(unsynced[i..].iter().cloned());
                return Err(e);
            }
        }
        if self.dir_dirty.swap(false, Ordering::SeqCst) {
            checkpoint::sync_dir(&self.dir)?;
        }
        self.flushed_offset.fetch_max(target, Ordering::SeqCst);
        self.last_flush_ms
            .store(self.clock.now_ms(), Ordering::SeqCst);
        // The segment holding the flushed offset is the new recovery point: written once per
        // segment, so its cost does not grow with the flush rate.
        let point = segments
            .iter()
            .map(|s| s.base_offset())
            .take_while(|base| *base <= target)
            .last()
            .unwrap_or(0);
        if point > self.recovery_point_written.load(Ordering::SeqCst) {
            checkpoint::write_offset_file(&self.dir, checkpoint::RECOVERY_POINT_FILE, point)?;
            self.recovery_point_written.store(point, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Flushes if `flush.ms` has passed since the last flush (or `flush.messages` offsets are
    /// unflushed) and there is something to flush. For a periodic background task.
    pub fn flush_if_due(&self) -> Result<(), LogError> {
        let config = self.config();
        let end = self.log_end_offset();
        let unflushed = u64::try_from(end - self.flushed_offset()).unwrap_or(0);
        if unflushed == 0 {
            return Ok(());
        }
        // Segments rolled since the last flush are flushed in the background, as Kafka does at
        // a roll, whatever the flush policy: that moves the recovery point on.
        if self.flushed_offset() < self.active().base_offset() {
            return self.flush(end);
        }
        let since = self
            .clock
            .now_ms()
            .saturating_sub(self.last_flush_ms.load(Ordering::SeqCst));
        if since >= config.flush_ms || unflushed >= config.flush_messages {
            self.flush(end)?;
        }
        Ok(())
    }

    /// Reads whole batches from `offset` (see the crate docs for the rules).
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<ReadResult, LogError> {
        let log_end_offset = self.log_end_offset();
        let log_start_offset = self.log_start_offset();
        if offset < log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            });
        }
        if offset >= max_offset || offset == log_end_offset {
            return Ok(ReadResult::default());
        }
        let mut segment = self.segment_for(offset);
        while let Some(seg) = segment {
            if let Some((position, header)) = seg.find_batch(offset)? {
                if header.base_offset >= max_offset {
                    return Ok(ReadResult::default());
                }
                return read_batches(
                    &seg,
                    position,
                    &header,
                    max_bytes,
                    max_offset,
                    min_one_batch,
                );
            }
            // `offset` is past this segment's data: continue in the next segment.
            segment = self.segment_after(seg.base_offset());
        }
        Ok(ReadResult::default())
    }

    fn segment_for(&self, offset: i64) -> Option<Arc<Segment>> {
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        segments
            .range(..=offset)
            .next_back()
            .or_else(|| segments.iter().next())
            .map(|(_, s)| s.clone())
    }

    fn segment_after(&self, base_offset: i64) -> Option<Arc<Segment>> {
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        segments
            .range(base_offset.saturating_add(1)..)
            .next()
            .map(|(_, s)| s.clone())
    }

    /// Offset and timestamp of the first record (at or after the log start offset) whose
    /// timestamp is `>= timestamp`; `None` if there is none.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let log_start_offset = self.log_start_offset();
        for segment in self.segments_snapshot() {
            let start = {
                let state = segment.state();
                if state.max_timestamp < timestamp {
                    continue;
                }
                match state.time_index.lookup(timestamp) {
                    Some(o) => u64::from(state.offset_index.lookup(o).1),
                    None => 0,
                }
            };
            let limit = segment.size();
            let mut position = start;
            while let Some((at, header)) = segment.scan_from(position, limit, |h| {
                h.max_timestamp >= timestamp && h.last_offset() >= log_start_offset
            })? {
                let found = decode_records(&segment, at, &header)?
                    .into_iter()
                    .find(|&(o, ts)| o >= log_start_offset && ts >= timestamp);
                if found.is_some() {
                    return Ok(found);
                }
                position = at + header.total_len() as u64;
            }
        }
        Ok(None)
    }

    /// Offset and timestamp of the record with the largest timestamp (the earliest such record
    /// on ties), for ListOffsets with timestamp -3 (KIP-734). `None` if no record has one.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<(Arc<Segment>, i64, i64)> = None;
        for segment in self.segments_snapshot() {
            let (ts, offset) = {
                let state = segment.state();
                (state.max_timestamp, state.offset_of_max_timestamp)
            };
            if ts >= 0 && best.as_ref().is_none_or(|(_, best_ts, _)| ts > *best_ts) {
                best = Some((segment, ts, offset));
            }
        }
        let Some((segment, max_ts, batch_offset)) = best else {
            return Ok(None);
        };
        let Some((position, header)) = segment.find_batch(batch_offset)? else {
            return Ok(None);
        };
        let found = decode_records(&segment, position, &header)?
            .into_iter()
            .find(|&(_, ts)| ts == max_ts);
        // The header's maxTimestamp should match a record; fall back to the batch otherwise.
        Ok(found.or(Some((header.last_offset(), max_ts))))
    }

    /// Raises the log start offset to `offset` (DeleteRecords), persists it, and deletes segments
    /// wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let _guard = lock(&self.append_lock);
        let log_end_offset = self.log_end_offset();
        let current = self.log_start_offset();
        if offset > log_end_offset || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: current,
                log_end_offset,
            });
        }
        if offset <= current {
            return Ok(current);
        }
        checkpoint::write_log_start_offset(&self.dir, offset)?;
        self.log_start_offset.store(offset, Ordering::SeqCst);
        self.cut_epoch_cache(|c| c.truncate_from_start(offset))?;
        let now = self.clock.now_ms();
        let segments = self.segments_snapshot();
        for pair in segments.windows(2) {
            if pair[1].base_offset() <= offset {
                self.remove_segment(&pair[0], now)?;
            } else {
                break;
            }
        }
        self.delete_snapshots_below_first_segment()?;
        Ok(offset)
    }

    /// One retention pass (Kafka's `retention.ms` / `retention.bytes`), called by the broker
    /// every `log.retention.check.interval.ms`. Deletes the oldest segments that are expired or
    /// beyond the size limit, advancing and persisting the log start offset. As in Kafka, the
    /// active segment is included once it is non-empty and wholly below `high_watermark`: then
    /// a new empty segment is rolled first, so an idle topic's data does expire. Deleted files
    /// are renamed `.deleted` and removed after `file.delete.delay.ms`.
    pub fn apply_retention(&self, high_watermark: i64) -> Result<RetentionResult, LogError> {
        let _guard = lock(&self.append_lock);
        let config = self.config();
        let now = self.clock.now_ms();
        self.purge_deleted_files(now);
        let mut segments = self.segments_snapshot();
        if !config.delete {
            // `cleanup.policy=compact` alone: nothing expires.
            return Ok(RetentionResult {
                log_start_offset: self.log_start_offset(),
                ..RetentionResult::default()
            });
        }
        let active_eligible = segments
            .last()
            .is_some_and(|active| active.size() > 0 && high_watermark >= self.log_end_offset());
        let candidates = if active_eligible {
            segments.len()
        } else {
            segments.len().saturating_sub(1)
        };
        let facts: Vec<SegmentFacts> = segments[..candidates]
            .iter()
            .map(|s| SegmentFacts {
                size: s.size(),
                largest_timestamp: largest_timestamp(s),
            })
            .collect();
        let log_size: u64 = segments.iter().map(|s| s.size()).sum();
        let count = retention::deletable_prefix(
            &facts,
            log_size,
            config.retention_ms,
            config.retention_bytes,
            now,
        );
        if count > 0 && count == segments.len() {
            // Every segment goes: roll an empty one at the log end offset to append to.
            if let Some(active) = segments.last() {
                active.seal()?;
            }
            self.write_producer_snapshot(self.log_end_offset(), true)?;
            let fresh = Arc::new(Segment::create(&self.dir, self.log_end_offset(), now)?);
            self.insert_segment(fresh);
            segments = self.segments_snapshot();
        }
        let mut result = RetentionResult {
            log_start_offset: self.log_start_offset(),
            ..RetentionResult::default()
        };
        if count == 0 {
            return Ok(result);
        }
        // Raise the log start offset durably before any file goes.
        let new_start = segments[count].base_offset().max(result.log_start_offset);
        if new_start != result.log_start_offset {
            checkpoint::write_log_start_offset(&self.dir, new_start)?;
            self.log_start_offset.store(new_start, Ordering::SeqCst);
            self.cut_epoch_cache(|c| c.truncate_from_start(new_start))?;
        }
        for segment in &segments[..count] {
            result.deleted_bytes += segment.size();
            self.remove_segment(segment, now)?;
        }
        self.delete_snapshots_below_first_segment()?;
        result.deleted_segments = count;
        result.log_start_offset = new_start;
        tracing::info!(dir = %self.dir.display(),
            "retention deleted {count} segments ({} bytes), log start offset {new_start}",
            result.deleted_bytes);
        Ok(result)
    }

    /// Removes every batch at or after `offset` (a follower truncating to the leader). When
    /// `offset` falls inside a batch the whole batch goes, so the new log end offset is that
    /// batch's base offset. Below the log start offset the log is emptied and restarts at
    /// `offset`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let _guard = lock(&self.append_lock);
        if offset >= self.log_end_offset() {
            // No batch goes, but an epoch this replica recorded when it was elected and never
            // wrote in may sit at the log end, unknown to the leader: it goes (as in Kafka),
            // or the follower would report it as its last fetched epoch again and again.
            let end = self.log_end_offset();
            return self.cut_epoch_cache(|c| c.truncate_from_end(end));
        }
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset(),
                log_end_offset: self.log_end_offset(),
            });
        }
        let now = self.clock.now_ms();
        let config = self.config();
        // Data from `offset` on is replaced: it is dirty again.
        if self.first_dirty_checkpoint()?.is_some_and(|d| d > offset) {
            checkpoint::write_offset_file(&self.dir, checkpoint::CLEANER_OFFSET_FILE, offset)?;
        }
        if offset < self.log_start_offset() {
            // Old files are renamed away first: the new segment may reuse a base offset.
            for segment in self.segments_snapshot() {
                self.remove_segment(&segment, now)?;
            }
            // The producers' history went with the data, as in Kafka.
            producer_state::delete_snapshots(&self.dir, |_| true)?;
            let fresh = Arc::new(Segment::create(&self.dir, offset, now)?);
            self.insert_segment(fresh);
            checkpoint::write_log_start_offset(&self.dir, offset)?;
            self.log_start_offset.store(offset, Ordering::SeqCst);
            self.log_end_offset.store(offset, Ordering::SeqCst);
            // No batch is left to have an epoch (Kafka's `truncateFullyAndStartAt`).
            self.cut_epoch_cache(LeaderEpochCache::clear)?;
        } else {
            for segment in self.segments_snapshot() {
                if segment.base_offset() > offset && self.segment_count() > 1 {
                    self.remove_segment(&segment, now)?;
                }
            }
            let active = self.active();
            let cut = active
                .find_batch(offset)?
                .map_or(active.size(), |(position, _)| position);
            active.truncate_to_position(cut)?;
            recovery::recover_segment(&active, i64::MAX, config.index_interval_bytes, false)?;
            let end = active.state().next_offset;
            self.log_end_offset.store(end, Ordering::SeqCst);
            if self.log_start_offset() > end {
                checkpoint::write_log_start_offset(&self.dir, end)?;
                self.log_start_offset.store(end, Ordering::SeqCst);
            }
            self.cut_epoch_cache(|c| c.truncate_from_end(end))?;
        }
        self.flushed_offset
            .fetch_min(self.log_end_offset(), Ordering::SeqCst);
        // Rewritten data below the recovery point would escape validation after a crash.
        let point = self.active().base_offset();
        if point < self.recovery_point_written.load(Ordering::SeqCst) {
            let _flush = lock(&self.flush_lock);
            checkpoint::write_offset_file(&self.dir, checkpoint::RECOVERY_POINT_FILE, point)?;
            self.recovery_point_written.store(point, Ordering::SeqCst);
        }
        // Rebuild producer state from the newest snapshot still valid (snapshots above the new
        // end describe removed batches) and the batches after it.
        self.load_producer_state()
    }

    /// The cleaner's first dirty offset as checkpointed (a bad checkpoint is ignored: the next
    /// pass then treats the whole log as dirty, which is only slower).
    fn first_dirty_checkpoint(&self) -> Result<Option<i64>, LogError> {
        match checkpoint::read_offset_file(&self.dir, checkpoint::CLEANER_OFFSET_FILE) {
            Ok(o) => Ok(o),
            Err(e @ LogError::Io { .. }) => Err(e),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "ignoring cleaner checkpoint: {e}");
                Ok(None)
            }
        }
    }

    /// One log-compaction pass (`cleanup.policy=compact`), for a background thread: see the
    /// `cleaner` module for the rules. Appends and reads go on meanwhile; the append lock is
    /// taken only to swap each rewritten segment in. Does nothing unless `compact` is set, the
    /// log has dirty whole segments below `high_watermark`, and the dirty ratio or
    /// `max.compaction.lag.ms` calls for a pass.
    pub fn clean(&self, high_watermark: i64) -> Result<CleanResult, LogError> {
        let _clean = lock(&self.clean_lock);
        let config = self.config();
        let now = self.clock.now_ms();
        let log_start = self.log_start_offset();
        let checkpointed = self.first_dirty_checkpoint()?;
        let first_dirty = checkpointed
            .unwrap_or(log_start)
            .clamp(log_start, self.log_end_offset());
        // Segments wholly below it were cleaned by an earlier pass.
        let previously_cleaned_end = first_dirty;
        let mut result = CleanResult {
            first_dirty_offset: first_dirty,
            ..CleanResult::default()
        };
        if !config.compact || self.closed.load(Ordering::SeqCst) {
            return Ok(result);
        }

        // The cleanable range: whole non-active segments below the high watermark and older
        // than min.compaction.lag.ms. `ends[i]` is segment i's next base offset.
        let segments = self.segments_snapshot();
        let mut ends = Vec::new();
        for pair in segments.windows(2) {
            let end = pair[1].base_offset();
            // Record timestamps only: an empty (cleaned) segment holds nothing too young.
            let newest = pair[0].state().max_timestamp;
            if end > high_watermark
                || (newest >= 0 && now.saturating_sub(newest) < config.min_compaction_lag_ms)
            {
                break;
            }
            ends.push(end);
        }
        let Some(first_dirty_index) = ends.iter().position(|&end| end > first_dirty) else {
            return Ok(result);
        };
        let total_bytes: u64 = segments[..ends.len()].iter().map(|s| s.size()).sum();
        let dirty_bytes: u64 = segments[first_dirty_index..ends.len()]
            .iter()
            .map(|s| s.size())
            .sum();
        let forced = config.max_compaction_lag_ms < i64::MAX
            && segments[first_dirty_index]
                .read_header(0, segments[first_dirty_index].size())?
                .is_some_and(|h| {
                    h.base_timestamp >= 0
                        && now.saturating_sub(h.base_timestamp) > config.max_compaction_lag_ms
                });
        if !cleaner::should_clean(
            dirty_bytes,
            total_bytes,
            config.min_cleanable_dirty_ratio,
            forced,
        ) {
            return Ok(result);
        }

        let mut map = OffsetMap::new();
        let mut cleaned_count = ends.len();
        for (i, segment) in segments[..ends.len()]
            .iter()
            .enumerate()
            .skip(first_dirty_index)
        {
            cleaner::add_to_offset_map(segment, first_dirty, &mut map)?;
            if map.len() >= cleaner::MAX_OFFSET_MAP_KEYS {
                cleaned_count = i + 1;
                break;
            }
        }
        let cleaned_end = ends[cleaned_count - 1];
        let delete_horizon = now.saturating_sub(config.delete_retention_ms.max(0));

        for (segment, &end) in segments[..cleaned_count].iter().zip(&ends) {
            let drop_tombstones =
                end <= previously_cleaned_end && largest_timestamp(segment) < delete_horizon;
            let filtered = cleaner::filter_segment(segment, &map, drop_tombstones)?;
            if filtered.records_removed == 0 {
                continue;
            }
            let base = segment.base_offset();
            let rewritten =
                Segment::create_with_suffix(&self.dir, base, cleaner::CLEANED_SUFFIX, now)?;
            let written = if filtered.bytes.is_empty() {
                Ok(())
            } else {
                let mut slices = [IoSlice::new(&filtered.bytes)];
                rewritten.append(&mut slices, &filtered.metas, config.index_interval_bytes)
            };
            if let Err(e) = written
                .and_then(|()| rewritten.seal())
                .and_then(|()| rewritten.flush())
            {
                drop(rewritten);
                cleaner::discard_cleaned(&self.dir, base)?;
                return Err(e);
            }
            let size_after = rewritten.size();
            drop(rewritten);
            if !self.swap_in_cleaned(segment, end, now)? {
                // The segment left the log meanwhile (retention, truncation): stop here.
                cleaner::discard_cleaned(&self.dir, base)?;
                return Ok(result);
            }
            result.cleaned_segments += 1;
            result.bytes_before += segment.size();
            result.bytes_after += size_after;
            result.records_removed += filtered.records_removed;
        }
        {
            // A truncation below `cleaned_end` since the snapshot (it removes the segment that
            // starts there) has made that data dirty again: keep its checkpoint then.
            let _guard = lock(&self.append_lock);
            let segments_now = self.segments.read().unwrap_or_else(|e| e.into_inner());
            if !segments_now
                .get(&cleaned_end)
                .is_some_and(|s| Arc::ptr_eq(s, &segments[cleaned_count]))
            {
                return Ok(result);
            }
            drop(segments_now);
            checkpoint::write_offset_file(&self.dir, checkpoint::CLEANER_OFFSET_FILE, cleaned_end)?;
        }
        result.first_dirty_offset = cleaned_end;
        tracing::info!(dir = %self.dir.display(),
            "cleaned {} segments ({} -> {} bytes, {} records removed), first dirty offset {}",
            result.cleaned_segments, result.bytes_before, result.bytes_after,
            result.records_removed, cleaned_end);
        Ok(result)
    }

    /// Replaces `old` (still a non-active segment ending at `end`) by its flushed `.cleaned`
    /// rewrite. Returns false, touching nothing, if `old` is no longer in the log.
    fn swap_in_cleaned(&self, old: &Arc<Segment>, end: i64, now: i64) -> Result<bool, LogError> {
        let _guard = lock(&self.append_lock);
        let base = old.base_offset();
        let current = {
            let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
            segments.get(&base).is_some_and(|s| Arc::ptr_eq(s, old))
                && segments.range(base + 1..).next().map(|(&b, _)| b) == Some(end)
        };
        if !current || self.closed.load(Ordering::SeqCst) {
            return Ok(false);
        }
        cleaner::commit_cleaned(&self.dir, base)?;
        let (segment, intact) = Segment::open(&self.dir, base, end, now)?;
        if !intact {
            recovery::recover_segment(&segment, end, self.config().index_interval_bytes, false)?;
            segment.seal()?;
        }
        segment.state_mut().next_offset = end;
        self.insert_segment(Arc::new(segment));
        Ok(true)
    }

    /// The first offset of the earliest open transaction, if any. The last stable offset is the
    /// smaller of this and the high watermark: read_committed consumers see nothing from there
    /// on. A caller combining the two must read the high watermark first (a transaction that
    /// opens later starts at or above it).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        lock(&self.producer_state).first_unstable_offset()
    }

    /// `(producer_id, first_offset)` of every aborted transaction whose range (first offset to
    /// ABORT marker) overlaps `[from_offset, to_offset)`, in marker order: what a read_committed
    /// fetch returning that range must tell the consumer to drop.
    pub fn aborted_transactions(&self, from_offset: i64, to_offset: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        if from_offset >= to_offset {
            return out;
        }
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        // A marker at or after `from_offset` lies in the segment holding it or a later one.
        let start = segments
            .range(..=from_offset)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        for segment in segments.range(start..).map(|(_, s)| s) {
            if segment
                .state()
                .txn_index
                .collect(from_offset, to_offset, &mut out)
            {
                break;
            }
        }
        out
    }

    /// The producers this partition has state for, by producer id (DescribeProducers).
    pub fn producers(&self) -> Vec<ProducerInfo> {
        lock(&self.producer_state).producers()
    }

    /// Forgets producers without an open transaction whose last batch's timestamp is
    /// `max_age_ms` or more before `now_ms` (`producer.id.expiration.ms`). A forgotten producer
    /// that writes again with a sequence other than 0 gets UNKNOWN_PRODUCER_ID. Returns how many
    /// were dropped.
    pub fn expire_producers(&self, now_ms: i64, max_age_ms: i64) -> usize {
        let _guard = lock(&self.append_lock);
        lock(&self.producer_state).expire(now_ms, max_age_ms)
    }

    /// Writes the producer-state snapshot for `offset` (the state after every batch below it),
    /// fsynced when `durable`; returns its path.
    fn write_producer_snapshot(&self, offset: i64, durable: bool) -> Result<PathBuf, LogError> {
        let bytes = lock(&self.producer_state).encode_snapshot(offset);
        let path = producer_state::write_snapshot(&self.dir, offset, &bytes, durable)?;
        self.dir_dirty.store(true, Ordering::SeqCst);
        Ok(path)
    }

    /// Leaves the fsync of `path` (written on the append path) to the next flush.
    fn sync_at_next_flush(&self, path: PathBuf) {
        self.dir_dirty.store(true, Ordering::SeqCst);
        let mut unsynced = lock(&self.unsynced_files);
        if !unsynced.contains(&path) {
            unsynced.push(path);
        }
    }

    /// Deletes snapshots that belonged to segments no longer in the log.
    fn delete_snapshots_below_first_segment(&self) -> Result<(), LogError> {
        let first = self
            .segments_snapshot()
            .first()
            .map_or(i64::MIN, |s| s.base_offset());
        producer_state::delete_snapshots(&self.dir, |o| o < first)
    }

    /// Sets the producer state from the newest readable snapshot at or below the log end offset
    /// (deleting those above it) and the batches after it. Without a snapshot every batch from
    /// the first segment on is replayed.
    fn load_producer_state(&self) -> Result<(), LogError> {
        let end = self.log_end_offset();
        producer_state::delete_snapshots(&self.dir, |o| o > end)?;
        let first_base = self
            .segments_snapshot()
            .first()
            .map_or(end, |s| s.base_offset());
        let mut state = ProducerStateManager::default();
        let mut from = first_base;
        for offset in producer_state::snapshot_offsets(&self.dir)?
            .into_iter()
            .rev()
        {
            if let Some(loaded) = producer_state::read_snapshot(&self.dir, offset)? {
                state = loaded;
                from = offset.max(first_base);
                break;
            }
        }
        let replayed =
            recovery::replay_producer_state(&self.segments_snapshot(), &mut state, from)?;
        if replayed > 0 {
            tracing::info!(dir = %self.dir.display(),
                "rebuilt producer state from offset {from}: {replayed} batches replayed, {} producers",
                state.len());
        }
        *lock(&self.producer_state) = state;
        Ok(())
    }

    /// Flushes everything, persists the log start offset and writes the clean-shutdown marker.
    /// Later appends fail with [`LogError::Closed`]; reads keep working.
    pub fn close(&self) -> Result<(), LogError> {
        let _guard = lock(&self.append_lock);
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let active = self.active();
        active.seal()?;
        {
            let _flush = lock(&self.flush_lock);
            let flushed = self.flushed_offset();
            let segments = self.segments_snapshot();
            for (i, segment) in segments.iter().enumerate() {
                let end = segments
                    .get(i + 1)
                    .map_or(i64::MAX, |next| next.base_offset());
                if end > flushed {
                    segment.flush()?;
                }
            }
            self.flushed_offset
                .store(self.log_end_offset(), Ordering::SeqCst);
            for path in std::mem::take(&mut *lock(&self.unsynced_files)) {
                checkpoint::sync_file(&path)?;
            }
        }
        self.write_producer_snapshot(self.log_end_offset(), true)?;
        checkpoint::write_log_start_offset(&self.dir, self.log_start_offset())?;
        checkpoint::write_clean_shutdown(&self.dir)
    }

    /// Deletes the partition directory (topic deletion).
    pub fn delete(self) -> Result<(), LogError> {
        self.closed.store(true, Ordering::SeqCst);
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(&dir).map_err(LogError::io(&dir))
    }
}

/// Kafka's checks on a batch from a producer that concern producer state: control batches
/// come only from the transaction coordinator, and a batch with a producer id must carry a
/// sequence number.
fn check_client_batch(position: usize, header: &BatchHeader) -> Result<(), LogError> {
    if header.is_control() {
        return Err(BatchError::InvalidRecord {
            position,
            reason: "control batches are written by the transaction coordinator only",
        }
        .into());
    }
    if header.producer_id >= 0 && header.base_sequence < 0 {
        return Err(BatchError::InvalidRecord {
            position,
            reason: "a batch with a producer id must have a base sequence",
        }
        .into());
    }
    Ok(())
}

/// What a follower checks of a fetched batch before writing it unchanged (Kafka's
/// `analyzeAndValidateRecords` without offset assignment): magic 2, offsets that make sense and
/// the CRC-32C. The leader validated the records; this makes sure they arrived intact. Unlike
/// `validate_batches`, the record count is not compared with the offset range: a batch the
/// leader's cleaner rewrote keeps its survivors' offsets, with holes.
fn check_replicated_batch(
    bytes: &[u8],
    position: usize,
    header: &BatchHeader,
) -> Result<(), LogError> {
    if header.magic != MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic {
            position,
            magic: header.magic,
        }
        .into());
    }
    if header.base_offset < 0 || header.last_offset_delta < 0 {
        return Err(BatchError::InvalidRecord {
            position,
            reason: "negative base offset or last offset delta",
        }
        .into());
    }
    let computed = batch::crc_of(bytes);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            position,
            stored: header.crc,
            computed,
        }
        .into());
    }
    Ok(())
}

/// Refuses an append that would take the active segment past the index formats' 32-bit file
/// positions.
fn ensure_fits(active: &Segment, total_bytes: usize, config: &LogConfig) -> Result<(), LogError> {
    if active.size() + total_bytes as u64 > u64::from(u32::MAX) {
        return Err(LogError::TooLargeForSegment {
            bytes: total_bytes,
            segment_bytes: config.segment_bytes,
        });
    }
    Ok(())
}

/// What producer state needs of each batch with a producer id in an append. With
/// `first_offset`, the batches get consecutive offsets from it (a leader append); without, they
/// keep their own base offsets (a follower append). Control batches that are not transaction
/// markers are left out.
fn producer_inputs(
    records: &Bytes,
    headers: &[(usize, BatchHeader)],
    first_offset: Option<i64>,
    log_append_time: bool,
    now: i64,
) -> Result<Vec<BatchInput>, LogError> {
    let mut inputs = Vec::with_capacity(headers.len());
    let mut next = first_offset;
    for &(position, ref header) in headers {
        let base_offset = next.unwrap_or(header.base_offset);
        if let Some(n) = next.as_mut() {
            *n = base_offset + i64::from(header.last_offset_delta) + 1;
        }
        if header.producer_id < 0 {
            continue;
        }
        let marker = if header.is_control() {
            let raw = records.slice(position..position + header.total_len());
            match marker::decode(&raw) {
                Ok(Some(m)) => Some(m),
                Ok(None) => continue,
                Err(_) => {
                    return Err(BatchError::InvalidRecord {
                        position,
                        reason: "malformed transaction marker",
                    }
                    .into())
                }
            }
        } else {
            None
        };
        let max_timestamp = if log_append_time {
            now
        } else {
            header.max_timestamp
        };
        inputs.push(batch_input(header, base_offset, max_timestamp, marker));
    }
    Ok(inputs)
}

pub(crate) fn batch_input(
    header: &BatchHeader,
    base_offset: i64,
    max_timestamp: i64,
    marker: Option<Marker>,
) -> BatchInput {
    BatchInput {
        producer_id: header.producer_id,
        epoch: header.producer_epoch,
        first_seq: header.base_sequence,
        last_seq: producer_state::last_sequence(header.base_sequence, header.last_offset_delta),
        first_offset: base_offset,
        last_offset: base_offset + i64::from(header.last_offset_delta),
        max_timestamp,
        transactional: header.is_transactional(),
        marker,
    }
}

/// Newest timestamp of a segment for retention: its max timestamp, or the file's mtime if its
/// batches carry none (Kafka does the same).
fn largest_timestamp(segment: &Segment) -> i64 {
    let ts = segment.state().max_timestamp;
    if ts >= 0 {
        return ts;
    }
    fs::metadata(segment.log_path())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(i64::MAX, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Reads whole batches starting with `first` at `position`, in one positional read.
fn read_batches(
    segment: &Segment,
    position: u64,
    first: &BatchHeader,
    max_bytes: usize,
    max_offset: i64,
    min_one_batch: bool,
) -> Result<ReadResult, LogError> {
    let first_len = first.total_len();
    if first_len > max_bytes && !min_one_batch {
        return Ok(ReadResult::default());
    }
    let available = usize::try_from(segment.size().saturating_sub(position)).unwrap_or(usize::MAX);
    let want = max_bytes.max(first_len).min(available);
    let mut buf = Vec::new();
    segment.read_into(position, want, &mut buf)?;
    let mut end = 0usize;
    while end + BATCH_HEADER_LEN <= buf.len() {
        let Ok(header) = batch::parse_header(&buf[end..]) else {
            break;
        };
        let len = header.total_len();
        if header.batch_length < MIN_BATCH_LENGTH
            || end + len > buf.len()
            || header.base_offset >= max_offset
        {
            break;
        }
        end += len;
    }
    buf.truncate(end);
    Ok(ReadResult {
        first_batch_offset: (end > 0).then_some(first.base_offset),
        records: Bytes::from(buf),
    })
}

/// (offset, timestamp) of every record of the batch at `position`, decoding (and decompressing)
/// it with kafka-protocol. Under LogAppendTime every record carries the batch's maxTimestamp.
fn decode_records(
    segment: &Segment,
    position: u64,
    header: &BatchHeader,
) -> Result<Vec<(i64, i64)>, LogError> {
    let mut bytes = Bytes::from(segment.read_exact(position, header.total_len())?);
    let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| LogError::Corrupt {
        path: segment.log_path().to_path_buf(),
        reason: format!("batch at position {position} does not decode: {e}"),
    })?;
    Ok(set
        .records
        .iter()
        .map(|r| {
            let ts = if header.is_log_append_time() {
                header.max_timestamp
            } else {
                r.timestamp
            };
            (r.offset, ts)
        })
        .collect())
}

/// Lists segment base offsets in `dir`, removing leftovers: `*.deleted` and `*.tmp` files and
/// index files whose `.log` is gone.
fn scan_dir(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(DELETED_SUFFIX) || name.ends_with(checkpoint::TMP_SUFFIX) {
            fs::remove_file(&path).map_err(LogError::io(&path))?;
        } else if let Some(stem) = name.strip_suffix(LOG_SUFFIX) {
            if let Some(base) = parse_stem(stem) {
                bases.push(base);
            }
        } else if let Some(stem) = name
            .strip_suffix(INDEX_SUFFIX)
            .or_else(|| name.strip_suffix(TIME_INDEX_SUFFIX))
            .or_else(|| name.strip_suffix(TXN_INDEX_SUFFIX))
        {
            if let Some(base) = parse_stem(stem) {
                index_files.push((base, path));
            }
        }
    }
    bases.sort_unstable();
    for (base, path) in index_files {
        if bases.binary_search(&base).is_err() {
            fs::remove_file(&path).map_err(LogError::io(&path))?;
        }
    }
    Ok(bases)
}

fn parse_stem(stem: &str) -> Option<i64> {
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}
