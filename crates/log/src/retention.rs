//! Which segments retention deletes (Kafka's `retention.ms` / `retention.bytes` rules).
//!
//! Only a prefix of the candidate segments is ever deleted (the non-active ones, plus the active
//! one when it is non-empty and fully replicated): time-based retention stops at the first
//! segment that is not expired, and size-based retention deletes the oldest segments while the
//! log stays at or above `retention.bytes` without them.

/// What one `apply_retention` pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionResult {
    pub deleted_segments: usize,
    pub deleted_bytes: u64,
    pub log_start_offset: i64,
}

/// Facts about one candidate segment, oldest first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentFacts {
    pub size: u64,
    /// Newest timestamp in the segment (the file's mtime when it has no timestamps).
    pub largest_timestamp: i64,
}

/// How many of the oldest candidate `segments` retention deletes, given the whole log's size
/// (active segment included).
pub(crate) fn deletable_prefix(
    segments: &[SegmentFacts],
    log_size: u64,
    retention_ms: i64,
    retention_bytes: i64,
    now_ms: i64,
) -> usize {
    let mut count = 0;
    if retention_ms >= 0 {
        count = segments
            .iter()
            .take_while(|s| now_ms.saturating_sub(s.largest_timestamp) > retention_ms)
            .count();
    }
    if retention_bytes >= 0 {
        let mut excess = i128::from(log_size) - i128::from(retention_bytes);
        let mut by_size = 0;
        for s in segments {
            if excess - i128::from(s.size) < 0 {
                break;
            }
            excess -= i128::from(s.size);
            by_size += 1;
        }
        count = count.max(by_size);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(size: u64, ts: i64) -> SegmentFacts {
        SegmentFacts {
            size,
            largest_timestamp: ts,
        }
    }

    #[test]
    fn time_and_size_rules() {
        let segs = [seg(100, 1000), seg(100, 5000), seg(100, 2000)];
        // Unlimited: nothing.
        assert_eq!(deletable_prefix(&segs, 400, -1, -1, 10_000), 0);
        // Time: stops at the first unexpired segment even if later ones are expired.
        assert_eq!(deletable_prefix(&segs, 400, 6000, -1, 10_000), 1);
        assert_eq!(deletable_prefix(&segs, 400, 4000, -1, 10_000), 3);
        // Size: 400 bytes, keep at most 250 -> delete 100 + (still 300 >= 250) 100 -> 200 left.
        assert_eq!(deletable_prefix(&segs, 400, -1, 250, 10_000), 1);
        assert_eq!(deletable_prefix(&segs, 400, -1, 200, 10_000), 2);
        assert_eq!(deletable_prefix(&segs, 400, -1, 0, 10_000), 3);
        assert_eq!(deletable_prefix(&segs, 400, 6000, 200, 10_000), 2);
    }
}
