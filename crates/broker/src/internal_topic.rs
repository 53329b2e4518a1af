//! The compacted internal topics coordinators keep their state in (`__consumer_offsets`,
//! `__transaction_state`): their creation. Replay and appends are the coordinator runtime's
//! (`crate::coordinator`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::Cluster;
use crate::replicas::{AdminError, ReplicaManager, Topic};

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
    let voters = replicas
        .settings()
        .quorum_voters
        .as_ref()
        .map_or(1, |v| v.len());
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
