//! A shard's side of its partition: the coordinator's records appended as leader, refused as
//! an acks=all produce would be when the ISR is below `min.insync.replicas`; the fsync the
//! flush policy asks for, on the blocking pool.
//!
//! The records of one write go out as one uncompressed batch of keyed records (a `None` value
//! is a tombstone), without producer id, in Kafka's v2 format:
//! ```text
//! base offset, length, leader epoch, magic 2, crc, attributes 0, last offset delta,
//! base and max timestamp (the append time), producer id -1, epoch -1, base sequence -1,
//! then the records (offset delta i, timestamp delta 0, key, value, no headers)
//! ```

use std::sync::Arc;

use bytes::Bytes;
use sluice_coordinator::KeyedRecord;
use sluice_log::record_codec::{encode_batch, Record};
use sluice_protocol::batch::{BatchHeader, MAGIC_V2};
use sluice_protocol::error::ErrorCode;

use crate::replicas::Partition;

/// How many replicas must be in sync for a coordinator write, asked at every append (the
/// topic's `min.insync.replicas` may change at any time).
pub type MinInsyncReplicas = Arc<dyn Fn() -> usize + Send + Sync>;

/// Where a write's records went.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Appended {
    /// The offset after the batch: the high watermark commits the write when it reaches it.
    pub end_offset: i64,
    /// The flush policy asks for an fsync up to `end_offset`.
    pub flush_due: bool,
}

pub(crate) struct ShardLog {
    pub(crate) partition: Arc<Partition>,
    min_insync_replicas: MinInsyncReplicas,
}

impl ShardLog {
    pub(crate) fn new(partition: Arc<Partition>, min_insync_replicas: MinInsyncReplicas) -> Self {
        ShardLog {
            partition,
            min_insync_replicas,
        }
    }

    /// Appends `records` as leader with coordinator origin. A page-cache write: callable under
    /// the shard's lock; an fsync, if due, is the caller's to run on the blocking pool.
    pub(crate) fn append(
        &self,
        records: &[KeyedRecord],
        now_ms: i64,
    ) -> Result<Appended, ErrorCode> {
        let p = &self.partition;
        if !p.is_leader() {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        let isr = p.isr().len();
        let min_isr = (self.min_insync_replicas)();
        if isr < min_isr {
            // Every write is refused while this lasts (the timers' included): debug, not warn.
            tracing::debug!(
                "{}-{}: refusing a coordinator write: the ISR ({isr}) is below min.insync.replicas ({min_isr})",
                p.topic,
                p.index
            );
            return Err(ErrorCode::NOT_ENOUGH_REPLICAS);
        }
        let batch = batch_of(records, now_ms).map_err(|e| {
            tracing::error!(
                "{}-{}: cannot encode coordinator records: {e}",
                p.topic,
                p.index
            );
            ErrorCode::UNKNOWN_SERVER_ERROR
        })?;
        let info = p.append_from_coordinator(&batch).map_err(|e| {
            tracing::error!("{}-{}: coordinator append failed: {e}", p.topic, p.index);
            e.error_code()
        })?;
        Ok(Appended {
            end_offset: info.last_offset + 1,
            flush_due: info.flush_due,
        })
    }

    /// Fsyncs the partition up to `offset` on the blocking pool.
    pub(crate) async fn flush(partition: Arc<Partition>, offset: i64) -> Result<(), ErrorCode> {
        let flushed = tokio::task::spawn_blocking(move || {
            partition.flush(offset).map_err(|e| {
                tracing::error!(
                    "{}-{}: cannot flush coordinator records: {e}",
                    partition.topic,
                    partition.index
                );
                e.error_code()
            })
        })
        .await;
        flushed.unwrap_or(Err(ErrorCode::KAFKA_STORAGE_ERROR))
    }
}

/// One v2 batch of keyed records (layout in the module docs).
fn batch_of(records: &[KeyedRecord], now_ms: i64) -> Result<Bytes, String> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            offset: i as i64,
            timestamp: now_ms,
            attributes: 0,
            key: Some(key.clone()),
            value: value.clone(),
            headers: Vec::new(),
        })
        .collect();
    let template = BatchHeader {
        base_offset: 0,
        batch_length: 0,
        partition_leader_epoch: -1,
        magic: MAGIC_V2,
        crc: 0,
        attributes: 0,
        last_offset_delta: 0,
        base_timestamp: now_ms,
        max_timestamp: now_ms,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: 0,
    };
    encode_batch(&template, &records)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}
