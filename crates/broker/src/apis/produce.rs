//! Produce: validate each partition's record batches, append them, answer per `acks`.
//!
//! The batches stay the `Bytes` slice of the request frame; the log writes them with their
//! base offsets patched in a copy of the header (the CRC does not cover the base offset), so the
//! record data is copied once from the socket and written once to the file.
//!
//! Batches of idempotent and transactional producers pass the log's producer-state checks;
//! their errors carry Kafka's codes (OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
//! UNKNOWN_PRODUCER_ID, INVALID_TXN_STATE, INVALID_RECORD for a control batch). A duplicate
//! (a retry of a batch already appended) is answered like the original: no error, its base
//! offset.
//!
//! From v10 a partition refused with NOT_LEADER_OR_FOLLOWER names the current leader, and the
//! response lists the leaders' endpoints (KIP-951, see `leader_hint`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::BrokerRegistration;
use sluice_protocol::batch::{validate_batches, BatchSetInfo};
use sluice_protocol::error::ErrorCode;

use super::leader_hint::{wants_hint, CurrentLeader, LeaderHints, TopicRef};
use crate::broker::Broker;
use crate::partition::Partition;
use crate::request::RequestContext;
use crate::topic_config::ProduceSettings;

/// `None`: acks=0, no response is sent.
pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let acks_valid = matches!(acks, -1..=1);
    let by_id = ctx.api_version >= 13;
    // KIP-951: CurrentLeader and NodeEndpoints exist from v10. Taken at the first refusal.
    let hinted = ctx.api_version >= 10;
    let mut hints: Option<LeaderHints> = None;
    let transactional_id = request.transactional_id.as_ref().map(|t| t.to_string());
    let shared = RequestWide {
        acks,
        timeout_ms: request.timeout_ms,
        transactional_id: transactional_id.as_deref(),
        version: ctx.api_version,
    };
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let topic = if by_id {
            broker.replicas.topic_by_id(&topic_data.topic_id)
        } else {
            broker.replicas.topic(topic_data.name.as_str())
        };
        let unknown = if by_id {
            ErrorCode::UNKNOWN_TOPIC_ID
        } else {
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        };
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for pd in topic_data.partition_data {
            let result = if !acks_valid {
                Err(error(ErrorCode::INVALID_REQUIRED_ACKS, None))
            } else {
                match topic.as_ref() {
                    None => Err(error(unknown, None)),
                    Some(t) => match t.leader(pd.index) {
                        Err(code) => Err(error(code, None)),
                        Ok(p) => {
                            let records = pd.records.unwrap_or_default();
                            append(broker, p, &t.produce, records, &shared).await
                        }
                    },
                }
            };
            let mut resp = match result {
                Ok(r) => r,
                Err(r) => r,
            };
            if hinted && wants_hint(resp.error_code) {
                let topic_ref = if by_id {
                    TopicRef::Id(&topic_data.topic_id)
                } else {
                    TopicRef::Name(topic_data.name.as_str())
                };
                let leader = hints
                    .get_or_insert_with(|| LeaderHints::new(broker.cluster.image()))
                    .leader(topic_ref, pd.index);
                resp = resp.with_current_leader(current_leader(leader));
            }
            partition_responses.push(resp.with_index(pd.index));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_topic_id(topic_data.topic_id)
                .with_partition_responses(partition_responses),
        );
    }
    if acks == 0 {
        return None;
    }
    let node_endpoints =
        hints.map_or_else(Vec::new, |h| h.endpoints().map(node_endpoint).collect());
    Some(
        ProduceResponse::default()
            .with_responses(responses)
            .with_node_endpoints(node_endpoints),
    )
}

fn current_leader(leader: CurrentLeader) -> LeaderIdAndEpoch {
    LeaderIdAndEpoch::default()
        .with_leader_id(BrokerId(leader.leader_id))
        .with_leader_epoch(leader.leader_epoch)
}

fn node_endpoint(broker: &BrokerRegistration) -> NodeEndpoint {
    NodeEndpoint::default()
        .with_node_id(BrokerId(broker.broker_id))
        .with_host(StrBytes::from_string(broker.host.clone()))
        .with_port(i32::from(broker.port))
        .with_rack(broker.rack.clone().map(StrBytes::from_string))
}

/// Error messages exist in responses from v8 on.
fn message(version: i16, text: String) -> Option<String> {
    (version >= 8).then_some(text)
}

fn error(code: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_error_code(code.0)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(StrBytes::from_string))
}

/// What every partition of one Produce request shares.
struct RequestWide<'a> {
    acks: i16,
    timeout_ms: i32,
    transactional_id: Option<&'a str>,
    version: i16,
}

async fn append(
    broker: &Broker,
    partition: &Arc<Partition>,
    settings: &ProduceSettings,
    records: Bytes,
    shared: &RequestWide<'_>,
) -> Result<PartitionProduceResponse, PartitionProduceResponse> {
    let RequestWide {
        acks,
        timeout_ms,
        transactional_id,
        version,
    } = *shared;
    let info = validate_batches(&records, settings.max_message_bytes)
        .map_err(|e| error(e.error_code(), message(version, e.to_string())))?;
    if info.batch_count != 1 {
        // Kafka: produce v3+ carries exactly one record batch per partition.
        return Err(error(
            ErrorCode::INVALID_RECORD,
            message(
                version,
                format!(
                    "Produce requests carry exactly one record batch per partition, got {}",
                    info.batch_count
                ),
            ),
        ));
    }
    if settings.create_time {
        check_timestamps(settings, &info)
            .map_err(|m| error(ErrorCode::INVALID_TIMESTAMP, message(version, m)))?;
    }
    verify_transaction(broker, partition, &records, transactional_id)
        .await
        .map_err(|(code, m)| error(code, message(version, m)))?;
    if acks == -1 {
        let isr = partition.isr().len();
        if isr < settings.min_insync_replicas {
            return Err(error(
                ErrorCode::NOT_ENOUGH_REPLICAS,
                message(
                    version,
                    format!(
                        "The size of the current ISR ({isr}) is insufficient to satisfy the min.isr requirement of {} for partition {}-{}",
                        settings.min_insync_replicas, partition.topic, partition.index
                    ),
                ),
            ));
        }
    }
    let appended = partition
        .append_from_client(&records)
        .map_err(|e| error(e.error_code(), message(version, e.to_string())))?;
    let next_offset = appended.last_offset + 1;
    if appended.flush_due {
        let p = partition.clone();
        let flushed = tokio::task::spawn_blocking(move || p.log.flush(next_offset)).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(error(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                    message(version, e.to_string()),
                ))
            }
            Err(e) => {
                return Err(error(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                    message(version, e.to_string()),
                ))
            }
        }
    }
    if acks == -1 {
        // acks=all: answer once the high watermark (the ISR's replicated offset) covers the batch.
        let deadline = Duration::from_millis(timeout_ms.max(0) as u64);
        if !partition
            .wait_for_high_watermark(next_offset, deadline)
            .await
        {
            // The ISR shrank below min.insync.replicas while the write waited: Kafka's
            // NOT_ENOUGH_REPLICAS_AFTER_APPEND (the write is in the leader's log, not committed).
            if partition.isr().len() < settings.min_insync_replicas {
                return Err(error(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND, None));
            }
            return Err(error(ErrorCode::REQUEST_TIMED_OUT, None));
        }
    }
    Ok(PartitionProduceResponse::default()
        .with_error_code(0)
        .with_base_offset(appended.first_offset)
        .with_log_append_time_ms(appended.log_append_time)
        .with_log_start_offset(if version >= 5 {
            appended.log_start_offset
        } else {
            -1
        }))
}

/// KIP-890: a transactional batch goes only to a partition its producer added to its ongoing
/// transaction (AddPartitionsToTxn); otherwise a late or hanging write could land outside any
/// transaction and hold the last stable offset back forever.
///
/// When another broker coordinates the transaction, this leader asks it (AddPartitionsToTxn
/// v4 with verify_only, as Kafka's leaders do); a partition that already holds the producer's
/// open transaction was verified by its first batch.
async fn verify_transaction(
    broker: &Broker,
    partition: &Partition,
    records: &Bytes,
    transactional_id: Option<&str>,
) -> Result<(), (ErrorCode, String)> {
    let Ok(header) = sluice_protocol::batch::parse_header(records) else {
        return Ok(());
    };
    if !header.is_transactional() || header.is_control() || header.producer_id < 0 {
        return Ok(());
    }
    let verdict = broker
        .txns
        .read(|c| {
            c.verify_partition(
                header.producer_id,
                header.producer_epoch,
                &partition.topic,
                partition.index,
            )
        })
        .await;
    let verdict = match (verdict, transactional_id) {
        // This broker does not coordinate the transaction.
        (
            Err(
                ErrorCode::INVALID_PRODUCER_ID_MAPPING
                | ErrorCode::NOT_COORDINATOR
                | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            ),
            Some(tid),
        ) => {
            let open_here = partition.log.producers().iter().any(|p| {
                p.producer_id == header.producer_id
                    && p.producer_epoch == header.producer_epoch
                    && p.current_txn_start_offset.is_some()
            });
            if open_here {
                Ok(())
            } else {
                verify_with_coordinator(broker, partition, tid, &header).await
            }
        }
        (verdict, _) => verdict,
    };
    match verdict {
        Ok(()) => Ok(()),
        Err(ErrorCode::NOT_ENOUGH_REPLICAS) => Err((
            ErrorCode::NOT_ENOUGH_REPLICAS,
            "The transaction coordinator could not be asked to verify the partition; retry"
                .to_string(),
        )),
        Err(ErrorCode::INVALID_PRODUCER_EPOCH) => Err((
            ErrorCode::INVALID_PRODUCER_EPOCH,
            format!(
                "Producer epoch {} of producer {} is older than the transaction's",
                header.producer_epoch, header.producer_id
            ),
        )),
        Err(_) => Err((
            ErrorCode::INVALID_TXN_STATE,
            format!(
                "Partition {}-{} is not part of an ongoing transaction of producer {}",
                partition.topic, partition.index, header.producer_id
            ),
        )),
    }
}

/// Asks the broker coordinating `transactional_id` whether `partition` is in the producer's
/// ongoing transaction (AddPartitionsToTxn v4, verify_only). Unreachable coordinators give
/// NOT_ENOUGH_REPLICAS, which producers retry.
async fn verify_with_coordinator(
    broker: &Broker,
    partition: &Partition,
    transactional_id: &str,
    header: &sluice_protocol::batch::BatchHeader,
) -> Result<(), ErrorCode> {
    use kafka_protocol::messages::add_partitions_to_txn_request::{
        AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
    };
    use kafka_protocol::messages::{
        AddPartitionsToTxnRequest, ProducerId, TopicName, TransactionalId,
    };
    let image = broker.cluster.image();
    let coordinator = image
        .topic(crate::txn_coordinator::TXN_STATE_TOPIC)
        .and_then(|t| {
            let p = sluice_group::partition_for(transactional_id, t.partitions.len() as i32);
            t.partition(p).and_then(|s| s.leader)
        })
        .ok_or(ErrorCode::NOT_ENOUGH_REPLICAS)?;
    if coordinator == broker.node_id {
        return Err(ErrorCode::INVALID_TXN_STATE);
    }
    let target = image
        .broker(coordinator)
        .ok_or(ErrorCode::NOT_ENOUGH_REPLICAS)?;
    let mut conn = crate::peer::PeerConnection::connect(
        &target.host,
        target.port,
        &format!("sluice-txn-verify-{}", broker.node_id),
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
            .with_producer_id(ProducerId(header.producer_id))
            .with_producer_epoch(header.producer_epoch)
            .with_verify_only(true)
            .with_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_string(
                    partition.topic.to_string(),
                )))
                .with_partitions(vec![partition.index])]),
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

/// CreateTime topics reject batches whose timestamps lie outside
/// `message.timestamp.before.max.ms` / `message.timestamp.after.max.ms` of the broker's clock.
/// The error is the message sent with INVALID_TIMESTAMP.
fn check_timestamps(settings: &ProduceSettings, info: &BatchSetInfo) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (before, after) = (
        settings.timestamp_before_max_ms,
        settings.timestamp_after_max_ms,
    );
    if info.max_timestamp > now.saturating_add(after) {
        return Err(format!(
            "Timestamp {} of a record is more than {after} ms ahead of the broker's time {now}",
            info.max_timestamp
        ));
    }
    if info.max_timestamp >= 0 && info.max_timestamp < now.saturating_sub(before) {
        return Err(format!(
            "Timestamp {} of a record is more than {before} ms behind the broker's time {now}",
            info.max_timestamp
        ));
    }
    Ok(())
}
