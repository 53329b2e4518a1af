//! AlterReplicaLogDirs (KIP-113): moves replicas this broker hosts between its log directories,
//! online (the move itself is `Partition::move_to_dir`).
//!
//! As Kafka answers it, per partition: CLUSTER_AUTHORIZATION_FAILED without ALTER on the
//! cluster; LOG_DIR_NOT_FOUND for a path that is not one of `log.dirs`; KAFKA_STORAGE_ERROR
//! when that directory or the replica's own is offline; REPLICA_NOT_AVAILABLE when this broker
//! does not host the replica (the directory is remembered should it come here); NONE once the
//! move has started (it runs in the background: DescribeLogDirs shows the future replica until
//! it is swapped in). A partition named twice keeps its last directory, as in Kafka's map.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::{
    AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::replicas::ReplicaManager;

pub async fn handle(
    replicas: &Arc<ReplicaManager>,
    ctx: &RequestContext,
    request: AlterReplicaLogDirsRequest,
) -> AlterReplicaLogDirsResponse {
    let authorized = ctx.authorize_cluster(AclOperation::Alter);
    let mut moves: BTreeMap<(String, i32), PathBuf> = BTreeMap::new();
    for dir in request.dirs {
        let path = PathBuf::from(dir.path.as_str());
        for topic in dir.topics {
            for partition in topic.partitions {
                moves.insert((topic.name.to_string(), partition), path.clone());
            }
        }
    }
    let mut results: BTreeMap<String, Vec<AlterReplicaLogDirPartitionResult>> = BTreeMap::new();
    for ((topic, partition), path) in moves {
        let code = if !authorized {
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED
        } else {
            match replicas.alter_replica_log_dir(&topic, partition, &path) {
                Ok(()) => ErrorCode::NONE,
                Err(code) => {
                    tracing::info!(
                        "AlterReplicaLogDirs {topic}-{partition} to {}: {code:?}",
                        path.display()
                    );
                    code
                }
            }
        };
        results.entry(topic).or_default().push(
            AlterReplicaLogDirPartitionResult::default()
                .with_partition_index(partition)
                .with_error_code(code.0),
        );
    }
    AlterReplicaLogDirsResponse::default().with_results(
        results
            .into_iter()
            .map(|(topic, partitions)| {
                AlterReplicaLogDirTopicResult::default()
                    .with_topic_name(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(partitions)
            })
            .collect(),
    )
}
