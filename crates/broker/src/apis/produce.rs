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

use crate::coordinators::SchemaService;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse,
    TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::BrokerRegistration;
use sluice_log::AppendInfo;
use sluice_protocol::batch::{validate_batches, BatchSetInfo};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;
use uuid::Uuid;

use super::leader_hint::{wants_hint, CurrentLeader, LeaderHints, TopicRef};
use super::request::RequestContext;
use crate::cluster::Cluster;
use crate::config::ProduceSettings;
use crate::coordinators::TxnService;
use crate::replicas::{Partition, ReplicaManager};

/// `None`: acks=0, no response is sent.
///
/// Three steps: every partition of the request is validated and appended, in request order;
/// then the connection's next request may start ([`RequestContext::effects_done`]); then, for
/// acks=all, the appended partitions wait for replication against one deadline.
pub async fn handle(
    replicas: &ReplicaManager,
    cluster: &Cluster,
    txns: &TxnService,
    schemas: &SchemaService,
    ctx: &RequestContext,
    request: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let acks_valid = matches!(acks, -1..=1);
    let by_id = ctx.api_version >= 13;
    let transactional_id = request.transactional_id.as_ref().map(|t| t.to_string());
    let shared = RequestWide {
        acks,
        transactional_id: transactional_id.as_deref(),
        version: ctx.api_version,
    };
    // A transactional producer needs WRITE on its transactional id (else every partition is
    // refused), and every producer WRITE on each topic.
    let txn_id_refused = transactional_id
        .as_deref()
        .is_some_and(|id| !ctx.authorize_transactional_id(AclOperation::Write, id));
    // Step 1: validate and append, partition by partition.
    let mut topics = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let topic = if by_id {
            replicas.topic_by_id(&topic_data.topic_id)
        } else {
            replicas.topic(topic_data.name.as_str())
        };
        // An id this broker does not know names no topic to check: UNKNOWN_TOPIC_ID, as in
        // Kafka.
        let topic_refused = ctx.authorizer_enabled()
            && match &topic {
                Some(t) => !ctx.authorize_topic(AclOperation::Write, &t.name),
                None if by_id => false,
                None => !ctx.authorize_topic(AclOperation::Write, topic_data.name.as_str()),
            };
        let unknown = if by_id {
            ErrorCode::UNKNOWN_TOPIC_ID
        } else {
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        };
        let mut outcomes = Vec::with_capacity(topic_data.partition_data.len());
        for pd in topic_data.partition_data {
            let outcome = if txn_id_refused {
                Outcome::Refused(error(
                    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                    None,
                ))
            } else if topic_refused {
                Outcome::Refused(error(ErrorCode::TOPIC_AUTHORIZATION_FAILED, None))
            } else if !acks_valid {
                Outcome::Refused(error(ErrorCode::INVALID_REQUIRED_ACKS, None))
            } else {
                match topic.as_ref() {
                    None => Outcome::Refused(error(unknown, None)),
                    Some(t) => match t.leader(pd.index) {
                        Err(code) => Outcome::Refused(error(code, None)),
                        Ok(p) => {
                            let records = pd.records.unwrap_or_default();
                            let services = (cluster, txns, schemas);
                            match append(services, p, &t.produce, records, &shared).await {
                                Ok(appended) => appended,
                                Err(refused) => Outcome::Refused(refused),
                            }
                        }
                    },
                }
            };
            outcomes.push((pd.index, outcome));
        }
        topics.push(TopicOutcomes {
            name: topic_data.name,
            topic_id: topic_data.topic_id,
            outcomes,
        });
    }
    // Step 2: fsync where the flush policy asks for it, off the async workers.
    flush_due(&mut topics, ctx.api_version).await;
    ctx.effects_done();
    if acks == 0 {
        return None;
    }
    // Step 3: acks=all answers once the ISR holds every appended batch, or at the deadline.
    if acks == -1 {
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(request.timeout_ms.max(0) as u64);
        for topic in &mut topics {
            for (_, outcome) in topic.outcomes.iter_mut() {
                if let Outcome::Appended { .. } = outcome {
                    wait_for_replication(outcome, deadline).await;
                }
            }
        }
    }
    // KIP-951: CurrentLeader and NodeEndpoints exist from v10. Taken at the first refusal.
    let hinted = ctx.api_version >= 10;
    let mut hints: Option<LeaderHints> = None;
    let mut responses = Vec::with_capacity(topics.len());
    for TopicOutcomes {
        name,
        topic_id,
        outcomes,
    } in topics
    {
        let mut partition_responses = Vec::with_capacity(outcomes.len());
        for (index, outcome) in outcomes {
            let mut resp = outcome.into_response(ctx.api_version);
            if hinted && wants_hint(resp.error_code) {
                let topic_ref = if by_id {
                    TopicRef::Id(&topic_id)
                } else {
                    TopicRef::Name(name.as_str())
                };
                let leader = hints
                    .get_or_insert_with(|| LeaderHints::new(cluster.image()))
                    .leader(topic_ref, index);
                resp = resp.with_current_leader(current_leader(leader));
            }
            partition_responses.push(resp.with_index(index));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(name)
                .with_topic_id(topic_id)
                .with_partition_responses(partition_responses),
        );
    }
    let node_endpoints = hints.map_or_else(Vec::new, |h| {
        h.endpoints()
            .filter_map(|b| node_endpoint(b, ctx.listener()))
            .collect()
    });
    Some(
        ProduceResponse::default()
            .with_responses(responses)
            .with_node_endpoints(node_endpoints),
    )
}

/// What became of one topic's partitions, in request order.
struct TopicOutcomes {
    name: TopicName,
    topic_id: Uuid,
    outcomes: Vec<(i32, Outcome)>,
}

/// What became of one partition of the request.
enum Outcome {
    /// Refused before or at the append; the response is final.
    Refused(PartitionProduceResponse),
    /// In the leader's log; an acks=all write still waits for the ISR.
    Appended {
        partition: Arc<Partition>,
        info: AppendInfo,
        min_insync_replicas: usize,
    },
}

impl Outcome {
    fn into_response(self, version: i16) -> PartitionProduceResponse {
        match self {
            Outcome::Refused(response) => response,
            Outcome::Appended { info, .. } => PartitionProduceResponse::default()
                .with_error_code(0)
                .with_base_offset(info.first_offset)
                .with_log_append_time_ms(info.log_append_time)
                .with_log_start_offset(if version >= 5 {
                    info.log_start_offset
                } else {
                    -1
                }),
        }
    }
}

/// Fsyncs, on the blocking pool, every appended partition whose flush policy asks for it; a
/// failed fsync turns that partition's answer into KAFKA_STORAGE_ERROR.
async fn flush_due(topics: &mut [TopicOutcomes], version: i16) {
    let mut due: Vec<(Arc<Partition>, i64)> = Vec::new();
    for topic in topics.iter() {
        for (_, outcome) in &topic.outcomes {
            if let Outcome::Appended {
                partition, info, ..
            } = outcome
            {
                if info.flush_due {
                    due.push((partition.clone(), info.last_offset + 1));
                }
            }
        }
    }
    if due.is_empty() {
        return;
    }
    let failed: Vec<(Arc<Partition>, String)> = {
        let flushing = due.clone();
        match tokio::task::spawn_blocking(move || {
            flushing
                .into_iter()
                .filter_map(|(p, up_to)| p.flush(up_to).err().map(|e| (p, e.to_string())))
                .collect()
        })
        .await
        {
            Ok(failed) => failed,
            Err(e) => due
                .into_iter()
                .map(|(p, _)| (p, format!("flush did not complete: {e}")))
                .collect(),
        }
    };
    for (partition, reason) in failed {
        for topic in topics.iter_mut() {
            for (_, outcome) in topic.outcomes.iter_mut() {
                if matches!(outcome, Outcome::Appended { partition: p, .. } if Arc::ptr_eq(p, &partition))
                {
                    *outcome = Outcome::Refused(error(
                        ErrorCode::KAFKA_STORAGE_ERROR,
                        message(version, reason.clone()),
                    ));
                }
            }
        }
    }
}

/// acks=all: waits until the high watermark (what the ISR holds) covers the appended batch or
/// `deadline` passes; then the outcome is final.
async fn wait_for_replication(outcome: &mut Outcome, deadline: tokio::time::Instant) {
    let Outcome::Appended {
        partition,
        info,
        min_insync_replicas,
    } = outcome
    else {
        return;
    };
    let next_offset = info.last_offset + 1;
    let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    if partition
        .wait_for_high_watermark(next_offset, timeout)
        .await
    {
        return;
    }
    // The ISR shrank below min.insync.replicas while the write waited: Kafka's
    // NOT_ENOUGH_REPLICAS_AFTER_APPEND (the write is in the leader's log, not committed).
    let code = if partition.isr().len() < *min_insync_replicas {
        ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
    } else {
        ErrorCode::REQUEST_TIMED_OUT
    };
    *outcome = Outcome::Refused(error(code, None));
}

fn current_leader(leader: CurrentLeader) -> LeaderIdAndEpoch {
    LeaderIdAndEpoch::default()
        .with_leader_id(BrokerId(leader.leader_id))
        .with_leader_epoch(leader.leader_epoch)
}

/// The broker's endpoint on the client's listener (none if it has no such listener).
fn node_endpoint(broker: &BrokerRegistration, listener: &str) -> Option<NodeEndpoint> {
    let (host, port) = broker.endpoint(listener)?;
    Some(
        NodeEndpoint::default()
            .with_node_id(BrokerId(broker.broker_id))
            .with_host(StrBytes::from_string(host.to_string()))
            .with_port(i32::from(port))
            .with_rack(broker.rack.clone().map(StrBytes::from_string)),
    )
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
    transactional_id: Option<&'a str>,
    version: i16,
}

/// Validates one partition's batch and appends it as leader.
async fn append(
    (cluster, txns, schemas): (&Cluster, &TxnService, &SchemaService),
    partition: &Arc<Partition>,
    settings: &ProduceSettings,
    records: Bytes,
    shared: &RequestWide<'_>,
) -> Result<Outcome, PartitionProduceResponse> {
    let RequestWide {
        acks,
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
    if settings.compacted {
        if let Some(refused) = keyless_refusal(partition, &records, version) {
            return Err(refused);
        }
    }
    if settings.key_schema_validation || settings.value_schema_validation {
        if let Some(refused) = schema_refusal(schemas, partition, settings, &records, version).await
        {
            return Err(refused);
        }
    }
    verify_transaction(cluster, txns, partition, &records, transactional_id)
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
    #[cfg(test)]
    partition.wait_at_append_hold().await;
    let appended = partition
        .append_from_client(&records)
        .map_err(|e| error(e.error_code(), message(version, e.to_string())))?;
    partition
        .metrics()
        .record_produce(info.total_bytes as u64, info.record_count.max(0) as u64);
    Ok(Outcome::Appended {
        partition: partition.clone(),
        info: appended,
        min_insync_replicas: settings.min_insync_replicas,
    })
}

/// A compacted topic keeps the latest record per key, so a record without a key has no place
/// in it: Kafka refuses the batch with INVALID_RECORD and names each keyless record by its
/// index in the batch (KIP-467 `record_errors`), so that a client fails exactly those.
/// `None`: every record has a key.
/// The most a batch for a compacted topic may decompress to while its keys are checked.
const KEY_CHECK_MAX_BYTES: usize = 128 << 20;

fn keyless_refusal(
    partition: &Partition,
    records: &Bytes,
    version: i16,
) -> Option<PartitionProduceResponse> {
    // Decompression is bounded: a small compressed batch must not make the broker allocate
    // whatever its records claim.
    let decoded = match sluice_protocol::records::decode_batch(records, KEY_CHECK_MAX_BYTES) {
        Ok(decoded) => decoded.records,
        Err(e) => {
            return Some(error(
                ErrorCode::CORRUPT_MESSAGE,
                message(version, format!("Record batch cannot be read: {e}")),
            ))
        }
    };
    let keyless: Vec<i32> = decoded
        .iter()
        .enumerate()
        .filter(|(_, r)| r.key.is_none())
        .map(|(i, _)| i as i32)
        .collect();
    if keyless.is_empty() {
        return None;
    }
    let what = format!(
        "Compacted topic cannot accept message without key in topic partition {}-{}.",
        partition.topic, partition.index
    );
    let failures: Vec<(i32, String)> = keyless.into_iter().map(|i| (i, what.clone())).collect();
    Some(invalid_records(version, &failures, &what))
}

/// INVALID_RECORD for a batch whose records `failures` (index in the batch, why) were
/// refused: each named in KIP-467's `record_errors` (produce v8+), `what` in the message.
fn invalid_records(
    version: i16,
    failures: &[(i32, String)],
    what: &str,
) -> PartitionProduceResponse {
    let record_errors = if version >= 8 {
        failures
            .iter()
            .map(|(i, m)| {
                BatchIndexAndErrorMessage::default()
                    .with_batch_index(*i)
                    .with_batch_index_error_message(Some(StrBytes::from_string(m.clone())))
            })
            .collect()
    } else {
        Vec::new()
    };
    let summary = format!(
        "One or more records have been rejected due to {} record errors in total: {what}",
        failures.len()
    );
    error(ErrorCode::INVALID_RECORD, message(version, summary)).with_record_errors(record_errors)
}

/// Schema validation (`confluent.key.schema.validation`, `confluent.value.schema.validation`):
/// each checked key or value must be a schema-registry payload (magic byte 0, then a 4-byte
/// big-endian schema id, as Confluent's serializers write) whose id is registered under the
/// topic's `<topic>-key` / `<topic>-value` subject (the registry's TopicNameStrategy).
/// Otherwise the whole batch is refused with INVALID_RECORD, each failing record named by its
/// index (KIP-467). `None`: every record passes.
async fn schema_refusal(
    schemas: &SchemaService,
    partition: &Partition,
    settings: &ProduceSettings,
    records: &Bytes,
    version: i16,
) -> Option<PartitionProduceResponse> {
    let decoded = match sluice_protocol::records::decode_batch(records, KEY_CHECK_MAX_BYTES) {
        Ok(decoded) => decoded.records,
        Err(e) => {
            return Some(error(
                ErrorCode::CORRUPT_MESSAGE,
                message(version, format!("Record batch cannot be read: {e}")),
            ))
        }
    };
    let topic = &partition.topic;
    let mut failures: Vec<(i32, String)> = Vec::new();
    for (index, record) in decoded.iter().enumerate() {
        let checks = [
            (settings.key_schema_validation, "key", record.key.as_ref()),
            (
                settings.value_schema_validation,
                "value",
                record.value.as_ref(),
            ),
        ];
        for (on, field, payload) in checks {
            if !on {
                continue;
            }
            let subject = format!("{topic}-{field}");
            let problem = match payload.map(|b| b.as_ref()) {
                Some([0, a, b, c, d, ..]) => {
                    let id = i32::from_be_bytes([*a, *b, *c, *d]);
                    let registered = match schemas.read_now(|r| r.is_registered_under(&subject, id)) {
                        Some(true) => Ok(true),
                        // Not (yet) in this node's view: catch up with the replica first (a
                        // producer's serializer registers the schema just before it sends).
                        _ => schemas.read(|r| r.is_registered_under(&subject, id)).await,
                    };
                    match registered {
                        Ok(true) => None,
                        Ok(false) => Some(format!(
                            "the record's {field} carries schema id {id}, which is not registered under subject '{subject}'"
                        )),
                        Err(why) => Some(format!(
                            "the record's {field} schema id {id} cannot be checked on this broker: {why}"
                        )),
                    }
                }
                Some(_) => Some(format!(
                    "the record's {field} is not in the schema registry's wire format (magic byte 0 and a 4-byte schema id)"
                )),
                None => Some(format!("the record has no {field}")),
            };
            if let Some(problem) = problem {
                failures.push((index as i32, problem));
                break;
            }
        }
    }
    let (_, first) = failures.first()?;
    let what = format!(
        "Log record for topic partition {topic}-{} is rejected by schema validation: {first}",
        partition.index
    );
    Some(invalid_records(version, &failures, &what))
}

/// KIP-890: a transactional batch goes only to a partition its producer added to its ongoing
/// transaction (AddPartitionsToTxn); otherwise a late or hanging write could land outside any
/// transaction and hold the last stable offset back forever.
///
/// When another broker coordinates the transaction, this leader asks it (AddPartitionsToTxn
/// v4 with verify_only, as Kafka's leaders do); a partition that already holds the producer's
/// open transaction was verified by its first batch.
async fn verify_transaction(
    cluster: &Cluster,
    txns: &TxnService,
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
    let Some(tid) = transactional_id else {
        return Err((
            ErrorCode::INVALID_TXN_STATE,
            "A transactional batch needs the request's transactional id".to_string(),
        ));
    };
    let verdict = txns.read_id(tid, |c| {
        c.verify_partition(
            header.producer_id,
            header.producer_epoch,
            &partition.topic,
            partition.index,
        )
    });
    let verdict = match verdict {
        // This broker does not coordinate the transaction.
        Err(
            ErrorCode::INVALID_PRODUCER_ID_MAPPING
            | ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ) => {
            let open_here = partition.producers().iter().any(|p| {
                p.producer_id == header.producer_id
                    && p.producer_epoch == header.producer_epoch
                    && p.current_txn_start_offset.is_some()
            });
            if open_here {
                Ok(())
            } else {
                crate::coordinators::verify_with_remote_coordinator(
                    cluster,
                    tid,
                    header.producer_id,
                    header.producer_epoch,
                    &partition.topic,
                    partition.index,
                )
                .await
            }
        }
        verdict => verdict,
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
