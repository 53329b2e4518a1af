//! One partition replica hosted by this broker: its log and its replication state.
//!
//! The controller's image says who leads, at which leader epoch, and which replicas are in sync
//! (ISR). As leader, a replica tracks how far each follower has fetched and keeps the high
//! watermark at the smallest log end offset in the ISR: everything below it is on every in-sync
//! replica (with an ISR of one, the leader's own log end offset). As follower, its high
//! watermark is the leader's, capped at its own log end.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use sluice_controller::PartitionState;
use uuid::Uuid;

use crate::metrics::TopicMetrics;

use bytes::Bytes;
use sluice_log::{
    AppendInfo, AppendOrigin, CleanResult, Clock, Log, LogConfig, LogError, ProducerInfo,
    ReadResult, RetentionResult,
};
use tokio::sync::Notify;

use super::log_dir::LogDirs;
use super::replica_move::{future_dir_name, FutureCopy};

/// The replica set as the last applied image gave it.
#[derive(Clone, Debug, Default)]
struct ReplicaSet {
    leader: Option<i32>,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    partition_epoch: i32,
}

/// A replica's copy in another log directory while it moves there (Kafka's future replica).
#[derive(Clone, Debug)]
pub struct FutureReplica {
    /// Index of the destination among the broker's log directories.
    pub dir_index: usize,
    /// `<destination>/<topic>-<partition>.<random>-future`.
    pub path: PathBuf,
    /// The copy holds every offset below this (the log end offset when its last copy pass
    /// began).
    pub copied_end_offset: i64,
    /// Bytes in the copy.
    pub size_bytes: u64,
}

/// How far one follower has fetched (leader side).
#[derive(Clone, Copy, Debug)]
struct FollowerProgress {
    /// The offset of its last fetch: it holds everything below.
    log_end_offset: i64,
    /// The last time it had everything the leader had (Kafka's lastCaughtUpTimeMs).
    last_caught_up: Instant,
    /// The leader's log end offset at its previous fetch, and when that was.
    leader_end_at_last_fetch: i64,
    last_fetch: Instant,
}

pub struct Partition {
    pub topic: Arc<str>,
    pub topic_id: Uuid,
    pub index: i32,
    /// Reached only through this type: every append goes through one of its four doors
    /// (client, replica fetch, coordinator, marker), every read and maintenance pass through
    /// the methods below. Each holds the read lock for its call; moving the replica to
    /// another log directory (AlterReplicaLogDirs) takes the write lock to swap in the copy,
    /// so no append lands in the old log after its tail was copied.
    log: RwLock<Arc<Log>>,
    /// The broker's log directories; `dir_index` is the one holding this replica. The
    /// replica is offline while that directory is.
    dirs: Arc<LogDirs>,
    dir_index: AtomicUsize,
    /// This broker's id.
    node_id: i32,
    /// invariant: log_start_offset <= high_watermark <= log_end_offset
    high_watermark: AtomicI64,
    leader_epoch: AtomicI32,
    /// Whether the controller's image names this broker the leader.
    leader: AtomicBool,
    /// Woken on every append that moves the high watermark (and so, with one replica, on every
    /// move of the last stable offset: markers are appends): long-polling fetches wait here.
    appended: Notify,
    /// Woken on every append as leader: followers' long-polling fetches wait here.
    log_end_moved: Notify,
    replica_set: Mutex<ReplicaSet>,
    /// Leader side: progress of each follower, by broker id.
    followers: Mutex<HashMap<i32, FollowerProgress>>,
    /// Its topic's throughput counters (bytes and messages in, bytes out).
    metrics: TopicMetrics,
    /// The move to another log directory under way, if any (see [`Partition::move_to_dir`]).
    future: Mutex<Option<FutureReplica>>,
    /// Held through a move: moves of one replica run one after the other.
    moving: Mutex<()>,
    /// Follower truncations so far: a move copies a segment by its new tail only if none
    /// happened since its previous copy pass.
    truncations: AtomicU64,
    /// Test seam: the next client append waits here (see `hold_next_client_append`).
    #[cfg(test)]
    append_hold: Mutex<Option<AppendHold>>,
}

/// Test seam: tells the test that an append reached the hold, then waits for its release.
#[cfg(test)]
struct AppendHold {
    entered: tokio::sync::oneshot::Sender<()>,
    release: tokio::sync::oneshot::Receiver<()>,
}

fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Only the swap of a moved log writes, and it leaves the value whole.
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Partition {
    /// A replica of `topic`-`index` hosted by broker `node_id`, not leading until the image says
    /// so. Its high watermark starts at its log end offset when it leads alone and no higher
    /// than what the ISR holds otherwise (see [`Partition::update_from_image`]).
    pub fn new(
        topic: Arc<str>,
        topic_id: Uuid,
        index: i32,
        log: Arc<Log>,
        node_id: i32,
    ) -> Partition {
        let parent = log.dir().parent().map(PathBuf::from).unwrap_or_default();
        let dirs = Arc::new(LogDirs::single(parent));
        Partition::in_dir(topic, topic_id, index, log, node_id, dirs, 0)
    }

    /// [`Partition::new`] for a replica in directory `dir_index` of `dirs`.
    pub fn in_dir(
        topic: Arc<str>,
        topic_id: Uuid,
        index: i32,
        log: Arc<Log>,
        node_id: i32,
        dirs: Arc<LogDirs>,
        dir_index: usize,
    ) -> Partition {
        let high_watermark = log.log_start_offset();
        Partition {
            topic,
            topic_id,
            index,
            log: RwLock::new(log),
            dirs,
            dir_index: AtomicUsize::new(dir_index),
            node_id,
            high_watermark: AtomicI64::new(high_watermark),
            leader_epoch: AtomicI32::new(0),
            leader: AtomicBool::new(false),
            appended: Notify::new(),
            log_end_moved: Notify::new(),
            replica_set: Mutex::new(ReplicaSet::default()),
            followers: Mutex::new(HashMap::new()),
            metrics: TopicMetrics::default(),
            future: Mutex::new(None),
            moving: Mutex::new(()),
            truncations: AtomicU64::new(0),
            #[cfg(test)]
            append_hold: Mutex::new(None),
        }
    }

    /// Records its throughput into `metrics` (its topic's registered counters) instead of
    /// counters of its own.
    pub fn with_metrics(mut self, metrics: TopicMetrics) -> Partition {
        self.metrics = metrics;
        self
    }

    /// Its topic's throughput counters.
    pub fn metrics(&self) -> &TopicMetrics {
        &self.metrics
    }

    /// Applies the image's state of this partition: leadership, leader epoch, replicas and ISR.
    /// Returns whether this replica leads now.
    pub fn update_from_image(&self, state: &PartitionState) -> bool {
        // A replica whose directory is offline leads nothing (the controller moves it away).
        let leads = state.leader == Some(self.node_id) && !self.is_offline();
        let was_leader = self.is_leader();
        let new_term = state.leader_epoch != self.leader_epoch() || leads != was_leader;
        {
            let mut set = lock(&self.replica_set);
            *set = ReplicaSet {
                leader: state.leader,
                replicas: state.replicas.clone(),
                isr: state.isr.clone(),
                partition_epoch: state.partition_epoch,
            };
        }
        if new_term {
            // A new leadership term: followers' progress is unknown until they fetch again,
            // but in-sync followers are not dropped from the ISR before they had time to.
            let now = Instant::now();
            let mut followers = lock(&self.followers);
            followers.clear();
            if leads {
                for r in state.isr.iter().filter(|r| **r != self.node_id) {
                    followers.insert(
                        *r,
                        FollowerProgress {
                            log_end_offset: -1,
                            last_caught_up: now,
                            leader_end_at_last_fetch: -1,
                            last_fetch: now,
                        },
                    );
                }
            }
        }
        if leads && new_term {
            if let Err(e) = self.log().assign_leader_epoch(state.leader_epoch) {
                tracing::warn!(
                    "{}-{}: recording leader epoch {} failed: {e}",
                    self.topic,
                    self.index,
                    state.leader_epoch
                );
            }
        }
        self.set_leadership(leads, state.leader_epoch);
        leads
    }

    /// The leader the image names (None: the partition is offline).
    pub fn leader_id(&self) -> Option<i32> {
        lock(&self.replica_set).leader
    }

    pub fn replicas(&self) -> Vec<i32> {
        lock(&self.replica_set).replicas.clone()
    }

    pub fn isr(&self) -> Vec<i32> {
        lock(&self.replica_set).isr.clone()
    }

    pub fn partition_epoch(&self) -> i32 {
        lock(&self.replica_set).partition_epoch
    }

    /// Leader side: a follower fetched from `fetch_offset` (so it holds everything below).
    /// Advances the high watermark, and returns the ISR to propose when this fetch shows an
    /// out-of-sync follower caught up (Kafka's ISR expansion).
    pub fn record_follower_fetch(&self, replica: i32, fetch_offset: i64) -> Option<Vec<i32>> {
        let now = Instant::now();
        let leader_end = self.log_end_offset();
        {
            let mut followers = lock(&self.followers);
            let progress = followers.entry(replica).or_insert(FollowerProgress {
                log_end_offset: -1,
                last_caught_up: now,
                leader_end_at_last_fetch: -1,
                last_fetch: now,
            });
            if fetch_offset >= leader_end {
                progress.last_caught_up = now;
            } else if fetch_offset >= progress.leader_end_at_last_fetch
                && progress.leader_end_at_last_fetch >= 0
            {
                progress.last_caught_up = progress.last_caught_up.max(progress.last_fetch);
            }
            progress.log_end_offset = fetch_offset;
            progress.leader_end_at_last_fetch = leader_end;
            progress.last_fetch = now;
        }
        self.maybe_advance_high_watermark();
        let set = lock(&self.replica_set);
        let caught_up = fetch_offset >= self.high_watermark();
        if self.is_leader()
            && caught_up
            && set.replicas.contains(&replica)
            && !set.isr.contains(&replica)
        {
            let mut isr = set.isr.clone();
            isr.push(replica);
            return Some(isr);
        }
        None
    }

    /// Leader side: in-sync followers that have not caught up for `max_lag` (Kafka's
    /// `replica.lag.time.max.ms`): the ISR to propose without them, if any.
    pub fn shrunk_isr(&self, max_lag: std::time::Duration) -> Option<Vec<i32>> {
        if !self.is_leader() {
            return None;
        }
        let now = Instant::now();
        let set = lock(&self.replica_set);
        let followers = lock(&self.followers);
        let lagging: Vec<i32> = set
            .isr
            .iter()
            .copied()
            .filter(|r| *r != self.node_id)
            .filter(|r| {
                followers
                    .get(r)
                    .is_none_or(|p| now.duration_since(p.last_caught_up) > max_lag)
            })
            .collect();
        if lagging.is_empty() {
            return None;
        }
        Some(
            set.isr
                .iter()
                .copied()
                .filter(|r| !lagging.contains(r))
                .collect(),
        )
    }

    /// Follower side (replica fetch origin): appends batches fetched from the leader, offsets
    /// and epochs as the leader assigned them. Blocking if the flush policy asks for a flush
    /// (`AppendInfo::flush_due`, see [`Partition::flush`]): call it from the blocking pool.
    pub fn append_from_leader(&self, records: &Bytes) -> Result<AppendInfo, LogError> {
        let appended = self.log().append_as_follower(records);
        self.check_io(appended)
    }

    /// At open: the high watermark checkpointed before the restart (Kafka's
    /// `replication-offset-checkpoint`), within the recovered log. A leader takes it up from
    /// there as its followers fetch, a follower from the leader's answers.
    pub fn restore_high_watermark(&self, checkpointed: i64) {
        let hw = checkpointed
            .min(self.log_end_offset())
            .max(self.log_start_offset());
        self.high_watermark.fetch_max(hw, Ordering::AcqRel);
    }

    /// Follower side: the leader's high watermark as its fetch response gave it.
    pub fn set_follower_high_watermark(&self, leader_high_watermark: i64) {
        if self.is_leader() {
            return;
        }
        let hw = leader_high_watermark
            .min(self.log_end_offset())
            .max(self.log_start_offset());
        self.high_watermark.store(hw, Ordering::Release);
    }

    /// Follower side: removes every batch at or after `offset` (divergence from the leader).
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        self.truncations.fetch_add(1, Ordering::AcqRel);
        let truncated = self.log().truncate_to(offset);
        self.check_io(truncated)?;
        let end = self.log_end_offset();
        self.high_watermark.fetch_min(end, Ordering::AcqRel);
        Ok(())
    }

    /// A future completing at the next append as leader (for followers' long-polling fetches).
    pub fn log_end_moved(&self) -> tokio::sync::futures::Notified<'_> {
        self.log_end_moved.notified()
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    /// Whether this replica leads the partition (serves produce and consumer fetches).
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire) && !self.is_offline()
    }

    /// Takes or gives up leadership as the controller's image says, at `leader_epoch`.
    pub fn set_leadership(&self, leader: bool, leader_epoch: i32) {
        self.leader_epoch.store(leader_epoch, Ordering::Release);
        self.leader.store(leader, Ordering::Release);
        if leader {
            // The high watermark moves on once the ISR is known to hold more (at once when the
            // leader is the whole ISR).
            self.maybe_advance_high_watermark();
        }
        // Waiting fetches re-check (and answer NOT_LEADER_OR_FOLLOWER once resigned).
        self.appended.notify_waiters();
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log().log_start_offset()
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log().log_end_offset()
    }

    /// The last stable offset: below it every transaction is decided, and read_committed
    /// consumers read nothing at or above it. invariant: log_start_offset <= last_stable_offset
    /// <= high_watermark.
    pub fn last_stable_offset(&self) -> i64 {
        // The high watermark first: a transaction opening after this read starts at or above it.
        let hw = self.high_watermark();
        self.log()
            .first_unstable_offset()
            .map_or(hw, |first| first.min(hw))
    }

    /// Appends batches the broker's coordinators write (group and transaction state,
    /// transactional offset commits) as leader, with [`AppendOrigin::Coordinator`] checks, and
    /// advances the high watermark to what the ISR holds.
    pub fn append_from_coordinator(&self, records: &Bytes) -> Result<AppendInfo, LogError> {
        self.append_with_origin(records, AppendOrigin::Coordinator)
    }

    /// Appends a Produce request's validated batches as leader: [`AppendOrigin::Client`]
    /// checks (sequence numbers, duplicates, no control batches).
    pub fn append_from_client(&self, records: &Bytes) -> Result<AppendInfo, LogError> {
        self.append_with_origin(records, AppendOrigin::Client)
    }

    /// Appends as leader with the checks of `origin`, then advances the high watermark.
    fn append_with_origin(
        &self,
        records: &Bytes,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        let appended = self
            .log()
            .append_with_origin(records, self.leader_epoch(), origin);
        let info = self.check_io(appended)?;
        self.log_end_moved.notify_waiters();
        self.maybe_advance_high_watermark();
        Ok(info)
    }

    /// Writes a COMMIT (`commit`) or ABORT transaction marker for `producer_id` as leader (see
    /// [`Log::append_control`] for what it checks and records) and advances the high
    /// watermark, waking fetches (a read_committed fetch waits for the last stable offset).
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        let appended = self.log().append_control(
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            self.leader_epoch(),
        );
        let info = self.check_io(appended)?;
        self.log_end_moved.notify_waiters();
        self.maybe_advance_high_watermark();
        Ok(info)
    }

    /// As leader, recomputes the high watermark as the smallest log end offset in the ISR
    /// (a follower that has not fetched in this leadership term holds it back).
    fn maybe_advance_high_watermark(&self) {
        if !self.is_leader() {
            return;
        }
        let mut isr_min = self.log().log_end_offset();
        {
            let set = lock(&self.replica_set);
            let followers = lock(&self.followers);
            for r in set.isr.iter().filter(|r| **r != self.node_id) {
                let end = followers.get(r).map_or(-1, |p| p.log_end_offset);
                isr_min = isr_min.min(end);
            }
        }
        let prev = self.high_watermark.fetch_max(isr_min, Ordering::AcqRel);
        if isr_min > prev {
            self.appended.notify_waiters();
        }
    }

    /// A future that completes at the next high-watermark move. Create it (and `enable` it)
    /// before checking for data, so an append between the check and the wait is not missed.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// Fsyncs the log up to `offset` (exclusive), with the files the append path left unsynced
    /// (a roll's producer snapshot, the leader epoch checkpoint). Blocking: call it from the
    /// blocking pool. An append whose `flush_due` is set (the flush policy, or a roll) is
    /// followed by this, up to its end.
    pub fn flush(&self, offset: i64) -> Result<(), LogError> {
        let flushed = self.log().flush(offset);
        self.check_io(flushed)
    }

    /// [`Partition::flush`] on the blocking pool when `appended` asks for it.
    pub async fn flush_if_asked(self: &Arc<Self>, appended: &AppendInfo) -> Result<(), LogError> {
        if !appended.flush_due {
            return Ok(());
        }
        let partition = self.clone();
        let up_to = appended.last_offset + 1;
        let dir = self.dir();
        tokio::task::spawn_blocking(move || partition.flush(up_to))
            .await
            .map_err(|e| LogError::Io {
                path: dir,
                source: std::io::Error::other(format!("flush did not complete: {e}")),
            })?
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the high watermark).
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let deleted = self.log().delete_records_before(offset);
        self.check_io(deleted)
    }
}

#[cfg(test)]
impl Partition {
    /// Holds the next client append to this partition: the first receiver completes when an
    /// append reaches the hold, which lasts until the sender is used or dropped.
    pub(crate) fn hold_next_client_append(
        &self,
    ) -> (
        tokio::sync::oneshot::Receiver<()>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel();
        *lock(&self.append_hold) = Some(AppendHold {
            entered: entered_tx,
            release: release_rx,
        });
        (entered_rx, release_tx)
    }

    /// Waits at the hold if a test set one.
    pub(crate) async fn wait_at_append_hold(&self) {
        let hold = lock(&self.append_hold).take();
        if let Some(hold) = hold {
            let _ = hold.entered.send(());
            let _ = hold.release.await;
        }
    }
}

impl Partition {
    /// Waits until the high watermark reaches `offset` or `timeout` passes; true if reached.
    pub async fn wait_for_high_watermark(&self, offset: i64, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.appended();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.high_watermark() >= offset {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.high_watermark() >= offset;
            }
        }
    }
}

/// The log directory holding the replica, and its failure.
impl Partition {
    /// The log, for one call (see the `log` field).
    fn log(&self) -> RwLockReadGuard<'_, Arc<Log>> {
        read_lock(&self.log)
    }

    /// Index in the broker's log directories of the one holding this replica.
    pub fn dir_index(&self) -> usize {
        self.dir_index.load(Ordering::Acquire)
    }

    /// Whether the replica's log directory failed: the replica then neither leads nor
    /// follows, and its requests get KAFKA_STORAGE_ERROR.
    pub fn is_offline(&self) -> bool {
        self.dirs
            .get(self.dir_index())
            .is_none_or(|d| d.is_offline())
    }

    /// An I/O error on the log takes its whole directory offline, as Kafka's
    /// `LogDirFailureChannel` does; a full disk does not (appends fail with
    /// KAFKA_STORAGE_ERROR while reads go on).
    fn check_io<T>(&self, result: Result<T, LogError>) -> Result<T, LogError> {
        if let Err(e @ LogError::Io { source, .. }) = &result {
            if source.kind() != std::io::ErrorKind::StorageFull {
                self.dirs.fail(self.dir_index(), e);
                // Waiting fetches re-check and see the replica offline.
                self.appended.notify_waiters();
                self.log_end_moved.notify_waiters();
            }
        }
        result
    }
}

/// Reads and maintenance: the only ways to the log besides the appends above.
impl Partition {
    /// Whole batches from `offset`, at most `max_bytes` (but one batch at least when
    /// `min_one_batch`), stopping below `upper`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper: i64,
        min_one_batch: bool,
    ) -> Result<ReadResult, LogError> {
        let read = self.log().read(offset, max_bytes, upper, min_one_batch);
        self.check_io(read)
    }

    /// Aborted transactions (producer id, first offset) that overlap `[from, to)`.
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        self.log().aborted_transactions(from, to)
    }

    /// The newest leader epoch in the log's epoch cache.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.log().latest_epoch()
    }

    /// The largest epoch at or below `epoch` and the offset where it ends (KIP-101/279).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.log().end_offset_for_epoch(epoch)
    }

    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        self.log().max_timestamp_offset()
    }

    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.log().offset_for_timestamp(timestamp)
    }

    /// The idempotent and transactional producers this replica has state for.
    pub fn producers(&self) -> Vec<ProducerInfo> {
        self.log().producers()
    }

    /// Bytes of every segment.
    pub fn size_bytes(&self) -> u64 {
        self.log().size_bytes()
    }

    /// The replica's directory (`<log dir>/<topic>-<partition>`).
    pub fn dir(&self) -> PathBuf {
        self.log().dir().to_path_buf()
    }

    pub fn update_config(&self, config: LogConfig) {
        self.log().update_config(config)
    }

    pub fn is_compacted(&self) -> bool {
        self.log().config().compact
    }

    /// Flushes and closes the log (blocking).
    pub fn close(&self) -> Result<(), LogError> {
        self.log().close()
    }

    /// Time- and size-based retention below the high watermark (blocking).
    pub fn apply_retention(&self) -> Result<RetentionResult, LogError> {
        let hw = self.high_watermark();
        let result = self.log().apply_retention(hw);
        self.check_io(result)
    }

    /// Forgets producers idle for `max_age_ms`; returns how many.
    pub fn expire_producers(&self, now_ms: i64, max_age_ms: i64) -> usize {
        self.log().expire_producers(now_ms, max_age_ms)
    }

    /// One compaction pass below the high watermark (blocking).
    pub fn clean(&self) -> Result<CleanResult, LogError> {
        let hw = self.high_watermark();
        let result = self.log().clean(hw);
        self.check_io(result)
    }

    /// Flushes when `flush.ms` / `flush.messages` or a roll ask for it (blocking).
    pub fn flush_if_due(&self) -> Result<(), LogError> {
        let flushed = self.log().flush_if_due();
        self.check_io(flushed)
    }
}

/// Moving the replica to another log directory (AlterReplicaLogDirs; the file side and the
/// crash story are in `replica_move`).
impl Partition {
    /// The move under way, if any.
    pub fn future_replica(&self) -> Option<FutureReplica> {
        lock(&self.future).clone()
    }

    /// Moves the replica to directory `dest` of the broker's log directories, serving reads
    /// and appends meanwhile: copy passes run beside the live log until little is left, then
    /// appends, reads and maintenance wait while the log is closed, the rest is copied, the
    /// directories are swapped and the copy is opened in its place. `stop` is asked between
    /// passes (the broker is shutting down): the move is abandoned, its copy removed.
    /// Blocking: call it from the blocking pool. Errors leave the replica where it was.
    pub fn move_to_dir(
        &self,
        dest: usize,
        clock: Arc<dyn Clock>,
        stop: &dyn Fn() -> bool,
        pace: &dyn Fn(u64),
    ) -> Result<(), LogError> {
        let _one_at_a_time = lock(&self.moving);
        let Some(dest_dir) = self.dirs.get(dest) else {
            return Err(LogError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(format!("no log directory {dest}")),
            });
        };
        if dest == self.dir_index() {
            return Ok(());
        }
        if self.is_offline() || dest_dir.is_offline() {
            return Err(LogError::Io {
                path: dest_dir.path.clone(),
                source: std::io::Error::other("a log directory of the move is offline"),
            });
        }
        let source = self.dir();
        let future = dest_dir.path.join(future_dir_name(&self.topic, self.index));
        *lock(&self.future) = Some(FutureReplica {
            dir_index: dest,
            path: future.clone(),
            copied_end_offset: self.log_start_offset(),
            size_bytes: 0,
        });
        let result = self.copy_and_swap(&source, &future, dest, clock, stop, pace);
        *lock(&self.future) = None;
        if result.is_err() {
            if let Err(e) = std::fs::remove_dir_all(&future) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("could not remove {}: {e}", future.display());
                }
            }
        }
        result
    }

    fn copy_and_swap(
        &self,
        source: &std::path::Path,
        future: &std::path::Path,
        dest: usize,
        clock: Arc<dyn Clock>,
        stop: &dyn Fn() -> bool,
        pace: &dyn Fn(u64),
    ) -> Result<(), LogError> {
        let io_at = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| LogError::Io { path, source }
        };
        let mut copy = FutureCopy::default();
        let mut truncations = self.truncations.load(Ordering::Acquire);
        // Passes beside the live log, until one copies little (or a bounded number ran).
        for _ in 0..8 {
            if stop() {
                return Err(LogError::Closed);
            }
            let end = self.log_end_offset();
            let now = self.truncations.load(Ordering::Acquire);
            let copied = copy
                .pass(source, future, now == truncations, false, pace)
                .map_err(io_at(future))?;
            truncations = now;
            self.note_future_progress(end, future);
            if copied < 1024 * 1024 {
                break;
            }
        }
        if stop() {
            return Err(LogError::Closed);
        }
        // The last pass: no append, read or maintenance runs on the log until it is swapped.
        let mut log = write_lock(&self.log);
        let config = log.config();
        log.close()?;
        let reopen_here = |log: &mut Arc<Log>, why: LogError| -> LogError {
            if !source.is_dir() {
                // The replica was deleted or reassigned away meanwhile: nothing to reopen (and
                // no empty directory to leave behind).
                return why;
            }
            match Log::open(source, config.clone(), clock.clone()) {
                Ok(reopened) => *log = Arc::new(reopened),
                Err(e) => {
                    // The replica cannot be served from either place.
                    self.dirs.fail(self.dir_index(), &e);
                }
            }
            why
        };
        let tails_only_grow = self.truncations.load(Ordering::Acquire) == truncations;
        // Not paced: appends wait for it.
        if let Err(e) = copy.pass(source, future, tails_only_grow, true, &|_| {}) {
            return Err(reopen_here(&mut log, io_at(future)(e)));
        }
        let (Some(parent), Some(name)) = (source.parent(), source.file_name()) else {
            return Err(reopen_here(&mut log, LogError::Closed));
        };
        let name = name.to_string_lossy().into_owned();
        let doomed = parent.join(format!("{name}.{}-delete", uuid::Uuid::new_v4().simple()));
        if let Err(e) = std::fs::rename(source, &doomed) {
            return Err(reopen_here(&mut log, io_at(source)(e)));
        }
        // From here the copy is the replica: a crash now finds only the future directory,
        // which the next start promotes.
        let target = future.with_file_name(&name);
        let renamed = std::fs::rename(future, &target)
            .and_then(|()| std::fs::File::open(parent)?.sync_all())
            .and_then(|()| match target.parent() {
                Some(dest_root) => std::fs::File::open(dest_root)?.sync_all(),
                None => Ok(()),
            });
        let opened = renamed
            .map_err(io_at(&target))
            .and_then(|()| Log::open(&target, config.clone(), clock.clone()));
        match opened {
            Ok(moved) => {
                *log = Arc::new(moved);
                self.dir_index.store(dest, Ordering::Release);
                drop(log);
                if let Err(e) = std::fs::remove_dir_all(&doomed) {
                    tracing::warn!("could not remove {}: {e}", doomed.display());
                }
                Ok(())
            }
            Err(e) => {
                // Put the source back (the future directory is promoted or removed at start).
                if std::fs::rename(&doomed, source).is_ok() {
                    let _ = std::fs::remove_dir_all(&target);
                    return Err(reopen_here(&mut log, e));
                }
                self.dirs.fail(self.dir_index(), &e);
                Err(e)
            }
        }
    }

    fn note_future_progress(&self, copied_end_offset: i64, future: &std::path::Path) {
        let size_bytes = std::fs::read_dir(future)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        if let Some(f) = lock(&self.future).as_mut() {
            f.copied_end_offset = copied_end_offset;
            f.size_bytes = size_bytes;
        }
    }
}
