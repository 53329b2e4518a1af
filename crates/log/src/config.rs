//! Per-partition log settings, named after Kafka's topic-level configs.

/// Settings of one partition's log. `Default` gives Kafka's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll when an append would make the active segment larger than this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is this old.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose newest record is older; -1 = keep forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is larger; -1 = no limit.
    pub retention_bytes: i64,
    /// `index.interval.bytes`: bytes of log between two offset-index entries.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes`: roll when either index of the active segment would exceed this.
    pub segment_index_bytes: u32,
    /// `flush.messages`: fsync after this many appended offsets.
    pub flush_messages: u64,
    /// `flush.ms`: fsync when the last flush is this old.
    pub flush_ms: i64,
    /// `file.delete.delay.ms`: how long deleted segment files linger as `*.deleted`.
    pub file_delete_delay_ms: i64,
    /// `message.timestamp.type=LogAppendTime`: stamp batches with the broker's clock.
    pub message_timestamp_type_log_append: bool,
    /// `cleanup.policy` contains `delete`: retention deletes segments by `retention.ms` /
    /// `retention.bytes`. Without it (`compact` alone) retention deletes nothing.
    pub delete: bool,
    /// `cleanup.policy` contains `compact`: [`crate::Log::clean`] compacts the log.
    pub compact: bool,
    /// `delete.retention.ms`: how long tombstones survive after their segment was cleaned.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: clean when dirty bytes / cleanable bytes reach this.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: segments with records younger than this are not cleaned.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: clean regardless of the dirty ratio once the oldest dirty
    /// record is this old.
    pub max_compaction_lag_ms: i64,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            // Kafka's default is Long.MAX_VALUE: never flush because of a message count.
            flush_messages: i64::MAX as u64,
            flush_ms: i64::MAX,
            file_delete_delay_ms: 60_000,
            message_timestamp_type_log_append: false,
            delete: true,
            compact: false,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}
