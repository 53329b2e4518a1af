//! The retention pass: deleting the oldest segments by `retention.ms` and `retention.bytes`
//! (the rules in `crate::retention`).

use std::fs;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{lock, Log};
use crate::checkpoint;
use crate::error::LogError;
use crate::retention::{self, RetentionResult, SegmentFacts};
use crate::segment::Segment;

impl Log {
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
}

/// Newest timestamp of a segment for retention: its max timestamp, or the file's mtime if its
/// batches carry none (Kafka does the same).
pub(super) fn largest_timestamp(segment: &Segment) -> i64 {
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
