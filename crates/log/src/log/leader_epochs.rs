//! The leader epoch cache (`leader-epoch-checkpoint`, see `crate::leader_epoch_cache`) as the
//! log changes: epochs recorded by appends and elections, cut by truncation and log start
//! moves, loaded or rebuilt on open; Kafka's OffsetsForLeaderEpoch answer.

use std::sync::atomic::Ordering;

use super::{lock, Log};
use crate::error::LogError;
use crate::leader_epoch_cache::LeaderEpochCache;

/// `Log::latest_epoch_hint` while `leader-epoch-checkpoint` may differ from the cache in memory
/// (a write failed): the next append with a leader epoch writes the file again.
const EPOCH_FILE_STALE: i32 = i32::MIN;

impl Log {
    /// Records in the leader epoch cache the `(leader epoch, base offset)` of an append's
    /// batches, in order, before their data is written, and persists the cache if that changed
    /// it. A batch in the latest epoch costs one atomic load. On error the cache is unchanged.
    pub(super) fn assign_epochs(
        &self,
        batches: impl Iterator<Item = (i32, i64)>,
    ) -> Result<(), LogError> {
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
    pub(super) fn cut_epoch_cache(
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
    pub(super) fn load_epoch_cache(&self) -> Result<(), LogError> {
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
}
