//! DescribeLogDirs (KIP-113): every log directory of this broker and, per partition replica it
//! holds, the replica's size on disk and its offset lag.
//!
//! As Kafka's `ReplicaManager.describeLogDirs`:
//! - one result per directory of `log.dirs`, named by its absolute path; an offline directory
//!   (it failed, or could not be read at start) is answered with KAFKA_STORAGE_ERROR and no
//!   topics;
//! - `topics` null means every hosted replica; otherwise only the listed partitions that this
//!   broker hosts appear. Unknown topics and partitions are left out, without an error (that
//!   is how Kafka answers them), and so are topics left with no partition in a directory;
//! - a replica moving to another directory (AlterReplicaLogDirs) appears twice: as the current
//!   replica in its directory and as the future replica (`is_future_key`) in the destination;
//! - `offset_lag` is `max(high_watermark - log_end_offset, 0)` for a current replica and, for a
//!   future one, how far its copy is behind the current replica's log end offset;
//! - `total_bytes` and `usable_bytes` (v4+) are the file system's size and the space left to
//!   an unprivileged writer (statvfs), -1 when unknown.

use std::collections::{BTreeMap, BTreeSet};

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

    // Per directory, per topic: the partitions it holds, current or future.
    let dirs = replicas.log_dirs();
    let mut per_dir: Vec<BTreeMap<String, Vec<DescribeLogDirsPartition>>> =
        vec![BTreeMap::new(); dirs.len()];
    for topic in replicas.topics() {
        let indexes = match &wanted {
            None => None,
            Some(wanted) => match wanted.get(topic.name.as_ref()) {
                Some(indexes) => Some(indexes),
                None => continue,
            },
        };
        for p in topic
            .partitions
            .iter()
            .filter(|p| indexes.is_none_or(|indexes| indexes.contains(&p.index)))
        {
            if let Some(topics) = per_dir.get_mut(p.dir_index()) {
                topics
                    .entry(topic.name.to_string())
                    .or_default()
                    .push(describe_replica(p));
            }
            if let Some(future) = p.future_replica() {
                if let Some(topics) = per_dir.get_mut(future.dir_index) {
                    let lag = (p.log_end_offset() - future.copied_end_offset).max(0);
                    topics.entry(topic.name.to_string()).or_default().push(
                        DescribeLogDirsPartition::default()
                            .with_partition_index(p.index)
                            .with_partition_size(
                                i64::try_from(future.size_bytes).unwrap_or(i64::MAX),
                            )
                            .with_offset_lag(lag)
                            .with_is_future_key(true),
                    );
                }
            }
        }
    }

    let results = dirs
        .iter()
        .zip(per_dir)
        .map(|(dir, topics)| {
            let path = dir.absolute_path();
            let result = DescribeLogDirsResult::default()
                .with_log_dir(StrBytes::from_string(path.display().to_string()));
            if dir.is_offline() {
                return result.with_error_code(ErrorCode::KAFKA_STORAGE_ERROR.0);
            }
            let (total_bytes, usable_bytes) = match rustix::fs::statvfs(&dir.path) {
                Ok(st) => (
                    i64::try_from(st.f_blocks.saturating_mul(st.f_frsize)).unwrap_or(i64::MAX),
                    i64::try_from(st.f_bavail.saturating_mul(st.f_frsize)).unwrap_or(i64::MAX),
                ),
                Err(e) => {
                    tracing::debug!("statvfs {}: {e}", path.display());
                    (-1, -1)
                }
            };
            let topics = topics
                .into_iter()
                .map(|(name, partitions)| {
                    DescribeLogDirsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name)))
                        .with_partitions(partitions)
                })
                .collect();
            result
                .with_error_code(0)
                .with_topics(topics)
                .with_total_bytes(total_bytes)
                .with_usable_bytes(usable_bytes)
        })
        .collect();
    DescribeLogDirsResponse::default().with_results(results)
}

fn describe_replica(partition: &Partition) -> DescribeLogDirsPartition {
    let offset_lag = (partition.high_watermark() - partition.log_end_offset()).max(0);
    DescribeLogDirsPartition::default()
        .with_partition_index(partition.index)
        .with_partition_size(i64::try_from(partition.size_bytes()).unwrap_or(i64::MAX))
        .with_offset_lag(offset_lag)
        .with_is_future_key(false)
}
