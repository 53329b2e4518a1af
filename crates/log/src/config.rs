//! Per-partition log settings, named after Kafka's topic-level configs.

/// Settings of one partition's log. `Default` gives Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
    }
}
