//! The log-compaction pass (`cleanup.policy=compact`, the rules in `crate::cleaner`) and the
//! swap of a rewritten segment into the log.

use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::retention::largest_timestamp;
use super::{lock, Log};
use crate::checkpoint;
use crate::cleaner::{self, CleanResult, OffsetMap};
use crate::error::LogError;
use crate::recovery;
use crate::segment::Segment;

impl Log {
    /// The cleaner's first dirty offset as checkpointed (a bad checkpoint is ignored: the next
    /// pass then treats the whole log as dirty, which is only slower).
    pub(super) fn first_dirty_checkpoint(&self) -> Result<Option<i64>, LogError> {
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
}
