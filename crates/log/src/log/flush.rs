//! Flushes: group commit of fsyncs, the `flush.messages` / `flush.ms` policy, the files the
//! append path left unsynced, and the recovery point.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{lock, Log};
use crate::checkpoint;
use crate::config::LogConfig;
use crate::error::LogError;
use crate::segment::Segment;

impl Log {
    /// Whether an append that ended at `log_end_offset` should be followed by a flush:
    /// `flush.messages` offsets or `flush.ms` since the last flush, or a roll.
    pub(super) fn flush_due(
        &self,
        config: &LogConfig,
        rolled: bool,
        log_end_offset: i64,
        now: i64,
    ) -> bool {
        let unflushed = u64::try_from(log_end_offset - self.flushed_offset()).unwrap_or(0);
        let since_flush = now.saturating_sub(self.last_flush_ms.load(Ordering::SeqCst));
        rolled || unflushed >= config.flush_messages || since_flush >= config.flush_ms
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
        self.fsync_above(&segments, flushed)?;
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

    /// fsyncs the segments holding offsets at or above `flushed` (the others were fsynced
    /// before), then the files the append path wrote without fsync. Call under `flush_lock`.
    pub(super) fn fsync_above(
        &self,
        segments: &[Arc<Segment>],
        flushed: i64,
    ) -> Result<(), LogError> {
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

    /// Leaves the fsync of `path` (written on the append path) to the next flush.
    pub(super) fn sync_at_next_flush(&self, path: PathBuf) {
        self.dir_dirty.store(true, Ordering::SeqCst);
        let mut unsynced = lock(&self.unsynced_files);
        if !unsynced.contains(&path) {
            unsynced.push(path);
        }
    }
}
