//! Cutting the log: DeleteRecords (the log start offset moves up) and a follower's truncation
//! to its leader (the log end offset moves down).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{lock, Log};
use crate::checkpoint;
use crate::error::LogError;
use crate::leader_epoch_cache::LeaderEpochCache;
use crate::producer_state;
use crate::recovery;
use crate::segment::Segment;

impl Log {
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
}
