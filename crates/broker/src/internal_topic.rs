//! The compacted internal topics coordinators keep their state in (`__consumer_offsets`,
//! `__transaction_state`): creation, replay at start, and appends of coordinator records.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use sluice_log::record_codec::{decode_batch, encode_batch, Record};
use sluice_protocol::batch::{parse_header, BatchHeader, BATCH_HEADER_LEN, MAGIC_V2};
use sluice_protocol::error::ErrorCode;

use crate::cluster::Cluster;
use crate::partition::Partition;
use crate::replica_manager::{AdminError, ReplicaManager, Topic};

/// Wall-clock milliseconds, the coordinators' time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The topic `name`, created compacted with `partitions` partitions through the controller if
/// the cluster has none (an existing topic keeps its partition count, as in Kafka). Its
/// replication factor is `replication_factor`, or the number of live brokers if fewer (Kafka
/// refuses instead; here a single node needs no setting to work).
pub async fn ensure(
    cluster: &Cluster,
    replicas: &Arc<ReplicaManager>,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    segment_bytes: i64,
) -> Result<Arc<Topic>, AdminError> {
    let live = cluster
        .image()
        .brokers()
        .values()
        .filter(|b| !b.fenced)
        .count()
        .max(1);
    let replication_factor = replication_factor.clamp(1, live.min(i16::MAX as usize) as i16);
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    configs.insert("segment.bytes".to_string(), segment_bytes.to_string());
    configs.insert("compression.type".to_string(), "producer".to_string());
    crate::admin::ensure_topic(
        cluster,
        replicas,
        name,
        partitions,
        replication_factor,
        configs,
    )
    .await
}

/// Calls `apply(key, value)` for every keyed record of one partition replica, in log order, up
/// to its high watermark; unreadable batches are skipped with a warning. Returns the number of
/// records.
pub fn replay_partition(
    partition: &Partition,
    mut apply: impl FnMut(&[u8], Option<&[u8]>),
) -> Result<usize, AdminError> {
    let mut count = 0;
    let log = &partition.log;
    let mut offset = log.log_start_offset();
    let end = partition.high_watermark();
    while offset < end {
        let read = log
            .read(offset, 1 << 20, end, true)
            .map_err(|e| AdminError::new(ErrorCode::UNKNOWN_SERVER_ERROR, e.to_string()))?;
        if read.records.is_empty() {
            break;
        }
        let mut rest = read.records.clone();
        while rest.len() >= BATCH_HEADER_LEN {
            let Ok(header) = parse_header(&rest) else {
                break;
            };
            let len = header.total_len();
            if len > rest.len() {
                break;
            }
            let raw = rest.split_to(len);
            offset = header.last_offset() + 1;
            if header.is_control() {
                continue;
            }
            match decode_batch(&raw) {
                Ok((_, records)) => {
                    for r in records {
                        if let Some(key) = r.key {
                            apply(&key, r.value.as_deref());
                            count += 1;
                        }
                    }
                }
                Err(e) => tracing::warn!(
                    "skipping unreadable batch in {}-{} at offset {}: {e}",
                    partition.topic,
                    partition.index,
                    header.base_offset
                ),
            }
        }
    }
    Ok(count)
}

/// The keyed records of one partition replica (see [`replay_partition`]), read in a blocking
/// task so that a coordinator can replay them under its lock without doing I/O there.
pub async fn read_partition(
    partition: Arc<Partition>,
) -> Result<Vec<(Bytes, Option<Bytes>)>, AdminError> {
    tokio::task::spawn_blocking(move || {
        let mut records = Vec::new();
        replay_partition(&partition, |key, value| {
            records.push((
                Bytes::copy_from_slice(key),
                value.map(Bytes::copy_from_slice),
            ))
        })?;
        Ok(records)
    })
    .await
    .map_err(|e| AdminError::new(ErrorCode::UNKNOWN_SERVER_ERROR, e.to_string()))?
}

/// Appends keyed records (value `None`: a tombstone) as one uncompressed batch.
pub fn append(
    topic: &Topic,
    partition: i32,
    records: &[(Bytes, Option<Bytes>)],
) -> Result<(), String> {
    let p = topic.leader(partition).map_err(|code| {
        format!(
            "{}-{partition}: {} (this broker does not lead it)",
            topic.name,
            code.name()
        )
    })?;
    if records.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            offset: i as i64,
            timestamp: now,
            attributes: 0,
            key: Some(k.clone()),
            value: v.clone(),
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
        base_timestamp: now,
        max_timestamp: now,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: 0,
    };
    let batch = encode_batch(&template, &records).map_err(|e| e.to_string())?;
    let info = p
        .append_as_leader(&Bytes::from(batch))
        .map_err(|e| e.to_string())?;
    if info.flush_due {
        p.log
            .flush(info.last_offset + 1)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
