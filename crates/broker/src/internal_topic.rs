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

/// The replication factor an internal topic gets: the configured one, capped at the brokers the
/// cluster is expected to have (the registered ones, or the controller voters when more: in a
/// combined cluster every voter is a broker). A standalone node thus needs no setting.
fn internal_replication_factor(cluster: &Cluster, configured: i16, voters: usize) -> usize {
    let image = cluster.image();
    let expected = image.brokers().len().max(voters).max(1);
    (configured.max(1) as usize).min(expected)
}

/// The topic `name` if it exists, else created compacted with `partitions` partitions through
/// the controller once enough brokers are live for its replication factor (see
/// [`internal_replication_factor`]); `None` while they are not (Kafka likewise answers
/// COORDINATOR_NOT_AVAILABLE until the internal topics can be created). An existing topic
/// keeps its partition count, as in Kafka.
pub async fn ensure(
    cluster: &Cluster,
    replicas: &Arc<ReplicaManager>,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    segment_bytes: i64,
) -> Result<Option<Arc<Topic>>, AdminError> {
    if let Some(t) = replicas.topic(name) {
        return Ok(Some(t));
    }
    let voters = replicas.config().quorum_voters().map_or(1, |v| v.len());
    let rf = internal_replication_factor(cluster, replication_factor, voters);
    let live = cluster
        .image()
        .brokers()
        .values()
        .filter(|b| !b.fenced)
        .count();
    if live < rf {
        return Ok(None);
    }
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    configs.insert("segment.bytes".to_string(), segment_bytes.to_string());
    configs.insert("compression.type".to_string(), "producer".to_string());
    crate::admin::ensure_topic(cluster, replicas, name, partitions, rf as i16, configs)
        .await
        .map(Some)
}

/// Calls `apply(key, value)` for every keyed record of one partition replica, in log order, up
/// to its log end (a coordinator loads a partition it now leads: its whole log becomes the
/// committed state, as in Kafka); unreadable batches are skipped with a warning. Returns the
/// number of records.
pub fn replay_partition(
    partition: &Partition,
    mut apply: impl FnMut(&[u8], Option<&[u8]>),
) -> Result<usize, AdminError> {
    let mut count = 0;
    let mut offset = partition.log_start_offset();
    let end = partition.log_end_offset();
    while offset < end {
        let read = partition
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
/// Returns the offset after the appended batch (what the high watermark must reach for the
/// records to be on every in-sync replica), or `None` when there was nothing to append.
pub fn append(
    topic: &Topic,
    partition: i32,
    records: &[(Bytes, Option<Bytes>)],
) -> Result<Option<i64>, String> {
    let p = topic.leader(partition).map_err(|code| {
        format!(
            "{}-{partition}: {} (this broker does not lead it)",
            topic.name,
            code.name()
        )
    })?;
    if records.is_empty() {
        return Ok(None);
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
        .append_from_coordinator(&Bytes::from(batch))
        .map_err(|e| e.to_string())?;
    if info.flush_due {
        p.flush(info.last_offset + 1).map_err(|e| e.to_string())?;
    }
    Ok(Some(info.last_offset + 1))
}

/// How long a coordinator waits for its writes to reach every in-sync replica before it
/// answers COORDINATOR_NOT_AVAILABLE (the client retries; Kafka's coordinators wait likewise).
pub const REPLICATION_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until `topic`-`partition`'s high watermark reaches `offset` (the coordinator's write
/// is committed); false on timeout or when this broker no longer hosts the partition.
pub async fn wait_committed(
    replicas: &ReplicaManager,
    topic: &str,
    partition: i32,
    offset: i64,
) -> bool {
    match replicas.partition(topic, partition) {
        Some(p) => p.wait_for_high_watermark(offset, REPLICATION_WAIT).await,
        None => false,
    }
}
