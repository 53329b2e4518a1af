//! Transaction verification by a partition leader or group coordinator that does not coordinate
//! the transaction itself (KIP-890): it asks the broker that does.

use std::time::Duration;

use sluice_coordinator::TXN_STATE_TOPIC;
use sluice_protocol::error::ErrorCode;

use crate::cluster::{Cluster, PeerConnection};

/// Asks the broker coordinating `transactional_id` whether `topic`-`index` is in the
/// producer's ongoing transaction (AddPartitionsToTxn v4, verify_only), as Kafka's partition
/// leaders and group coordinators do (KIP-890) when another broker coordinates the transaction.
/// An unreachable or moving coordinator gives NOT_ENOUGH_REPLICAS (retriable for producers;
/// callers map it for other requests); a fenced epoch INVALID_PRODUCER_EPOCH; anything else
/// INVALID_TXN_STATE.
pub async fn verify_with_remote_coordinator(
    cluster: &Cluster,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    topic: &str,
    index: i32,
) -> Result<(), ErrorCode> {
    use kafka_protocol::messages::add_partitions_to_txn_request::{
        AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
    };
    use kafka_protocol::messages::{
        AddPartitionsToTxnRequest, ProducerId, TopicName, TransactionalId,
    };
    use kafka_protocol::protocol::StrBytes;
    let image = cluster.image();
    let coordinator = image
        .topic(TXN_STATE_TOPIC)
        .and_then(|t| {
            let p = sluice_coordinator::partition_for(transactional_id, t.partitions.len() as i32);
            t.partition(p).and_then(|s| s.leader)
        })
        .ok_or(ErrorCode::NOT_ENOUGH_REPLICAS)?;
    if coordinator == cluster.node_id {
        return Err(ErrorCode::INVALID_TXN_STATE);
    }
    let target = image
        .broker(coordinator)
        .ok_or(ErrorCode::NOT_ENOUGH_REPLICAS)?;
    let mut conn = PeerConnection::connect(
        &target.host,
        target.port,
        &cluster.peer_security,
        &format!("sluice-txn-verify-{}", cluster.node_id),
        1 << 20,
        Duration::from_secs(5),
    )
    .await
    .map_err(|_| ErrorCode::NOT_ENOUGH_REPLICAS)?;
    let request = AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(
                transactional_id.to_string(),
            )))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch)
            .with_verify_only(true)
            .with_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![index])]),
    ]);
    let response = conn
        .send(&request, 4, Duration::from_secs(10))
        .await
        .map_err(|_| ErrorCode::NOT_ENOUGH_REPLICAS)?;
    if response.error_code != 0 {
        return Err(ErrorCode::NOT_ENOUGH_REPLICAS);
    }
    let code = response
        .results_by_transaction
        .first()
        .and_then(|r| r.topic_results.first())
        .and_then(|t| t.results_by_partition.first())
        .map(|p| ErrorCode(p.partition_error_code))
        .unwrap_or(ErrorCode::INVALID_TXN_STATE);
    match code {
        ErrorCode::NONE => Ok(()),
        ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => {
            Err(ErrorCode::INVALID_PRODUCER_EPOCH)
        }
        ErrorCode::NOT_COORDINATOR
        | ErrorCode::COORDINATOR_NOT_AVAILABLE
        | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => Err(ErrorCode::NOT_ENOUGH_REPLICAS),
        _ => Err(ErrorCode::INVALID_TXN_STATE),
    }
}
