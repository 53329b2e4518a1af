//! DescribeLogDirs (KIP-113): the log directory of this broker and, per partition replica it
//! hosts, the replica's size on disk and how far its log end is behind its high watermark.
//!
//! As Kafka's `ReplicaManager.describeLogDirs`:
//! - one result per log directory, named by its absolute path. Sluice keeps every replica in
//!   one directory (the first of `log.dirs`); a directory that cannot be read is answered with
//!   KAFKA_STORAGE_ERROR and no topics;
//! - `topics` null means every hosted replica; otherwise only the listed partitions that this
//!   broker hosts appear. Unknown topics and partitions are left out, without an error (that
//!   is how Kafka answers them), and so are topics left with no partition;
//! - `offset_lag` is `max(high_watermark - log_end_offset, 0)`, Kafka's lag of a current (not
//!   future) replica; `is_future_key` is always false, since Sluice does not move replicas
//!   between directories;
//! - `total_bytes` and `usable_bytes` (v4+) are -1, Kafka's "unknown": reading them needs
//!   statvfs, which the standard library does not offer without unsafe code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::replicas::{Partition, ReplicaManager};

pub async fn handle(
    replicas: &ReplicaManager,
    log_dir: &Path,
    ctx: &RequestContext,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return DescribeLogDirsResponse::default()
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0);
    }
    // None: every hosted replica.
    let wanted: Option<BTreeMap<String, BTreeSet<i32>>> = request.topics.map(|topics| {
        let mut wanted: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
        for t in topics {
            wanted
                .entry(t.topic.to_string())
                .or_default()
                .extend(t.partitions);
        }
        wanted
    });

    let dir = log_dir.to_path_buf();
    let path = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
    let result = DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_string(path.display().to_string()));
    if let Err(e) = std::fs::metadata(&dir) {
        tracing::warn!("DescribeLogDirs: log directory {}: {e}", path.display());
        return DescribeLogDirsResponse::default().with_results(vec![
            result.with_error_code(ErrorCode::KAFKA_STORAGE_ERROR.0)
        ]);
    }

    let topics = replicas
        .topics()
        .iter()
        .filter_map(|topic| {
            let indexes = match &wanted {
                None => None,
                Some(wanted) => Some(wanted.get(topic.name.as_ref())?),
            };
            let partitions: Vec<DescribeLogDirsPartition> = topic
                .partitions
                .iter()
                .filter(|p| indexes.is_none_or(|indexes| indexes.contains(&p.index)))
                .map(|p| describe_replica(p))
                .collect();
            (!partitions.is_empty()).then(|| {
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.name.to_string())))
                    .with_partitions(partitions)
            })
        })
        .collect();
    DescribeLogDirsResponse::default()
        .with_results(vec![result.with_error_code(0).with_topics(topics)])
}

fn describe_replica(partition: &Partition) -> DescribeLogDirsPartition {
    let offset_lag = (partition.high_watermark() - partition.log_end_offset()).max(0);
    DescribeLogDirsPartition::default()
        .with_partition_index(partition.index)
        .with_partition_size(i64::try_from(partition.size_bytes()).unwrap_or(i64::MAX))
        .with_offset_lag(offset_lag)
        .with_is_future_key(false)
}
