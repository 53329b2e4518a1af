//! DeleteRecords: move a partition's log start offset forward (offset -1 means the high
//! watermark).

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::replicas::ReplicaManager;

pub async fn handle(
    replicas: &ReplicaManager,
    ctx: &RequestContext,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::new();
    for t in request.topics {
        let deletable = ctx.authorize_topic(AclOperation::Delete, t.name.as_str());
        let mut partitions = Vec::new();
        for p in &t.partitions {
            let result = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            let partition = match replicas.topic(t.name.as_str()) {
                _ if !deletable => Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
                None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                Some(topic) => topic.leader(p.partition_index).cloned(),
            };
            let partition = match partition {
                Ok(partition) => partition,
                Err(code) => {
                    partitions.push(result.with_error_code(code.0));
                    continue;
                }
            };
            let hw = partition.high_watermark();
            let offset = if p.offset == -1 { hw } else { p.offset };
            if offset < 0 || offset > hw {
                partitions.push(result.with_error_code(ErrorCode::OFFSET_OUT_OF_RANGE.0));
                continue;
            }
            let moved = {
                let partition = partition.clone();
                tokio::task::spawn_blocking(move || partition.delete_records_before(offset)).await
            };
            partitions.push(match moved {
                Ok(Ok(low)) => result.with_error_code(0).with_low_watermark(low),
                Ok(Err(e)) => {
                    tracing::warn!(
                        "DeleteRecords on {}-{}: {e}",
                        t.name.as_str(),
                        p.partition_index
                    );
                    result.with_error_code(ErrorCode::KAFKA_STORAGE_ERROR.0)
                }
                Err(_) => result.with_error_code(ErrorCode::UNKNOWN_SERVER_ERROR.0),
            });
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}
