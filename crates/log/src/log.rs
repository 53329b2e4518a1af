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
//!
//! # Files
//! This file holds the [`Log`] type, its fields and the segment set; open, close and delete.
//! The rest are `impl Log` blocks in child modules, one subsystem each:
//! - `load`: what open does with the directory (leftover files, recovery of the segments an
//!   unclean shutdown may have damaged, the log start and end offsets);
//! - `append`: leader, coordinator and follower appends, transaction markers, rolling;
//! - `flush`: fsyncs (group commit), the flush policy, the recovery point;
//! - `read`: reads, timestamp lookups ([`ReadResult`]);
//! - `truncate`: follower truncation and DeleteRecords;
//! - `retention`: the `retention.ms` / `retention.bytes` pass;
//! - `compaction`: the log-compaction pass and its segment swap;
//! - `leader_epochs`: the leader epoch cache as the log changes, OffsetsForLeaderEpoch;
//! - `producers`: producer state as the log changes (snapshots, replay on open), the
//!   transaction index reads.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::checkpoint;
use crate::cleaner;
use crate::clock::Clock;
use crate::config::LogConfig;
use crate::error::LogError;
use crate::leader_epoch_cache::LeaderEpochCache;
use crate::producer_state::ProducerStateManager;
use crate::segment::Segment;

mod append;
mod compaction;
mod flush;
mod leader_epochs;
mod load;
mod producers;
mod read;
mod retention;
mod truncate;

pub use append::AppendInfo;
pub(crate) use producers::batch_input;
pub use read::ReadResult;

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
        let bases = load::scan_dir(dir)?;
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

        let segments = load::load_segments(dir, bases, recovery_point, clean, &config, now)?;

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
            self.fsync_above(&self.segments_snapshot(), self.flushed_offset())?;
            self.flushed_offset
                .store(self.log_end_offset(), Ordering::SeqCst);
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
