//! Transaction APIs: InitProducerId (transactional and not), AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn, TxnOffsetCommit, WriteTxnMarkers, DescribeTransactions and
//! ListTransactions. Each turns the wire request into a write or a read on the transaction
//! service (`crate::coordinators::TxnService`), on the shard of the transactional id's
//! partition, or, for TxnOffsetCommit, on the group service. Reads see committed state only.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState as DescribedTxn,
};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedTxn;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse,
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TopicName, TransactionalId,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse, WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_group::coordinator::CommitPartition;
use sluice_group::Reply;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;
use sluice_txn::{Markers, Ownership, TxnState, OFFSETS_TOPIC};

use super::request::RequestContext;
use crate::cluster::{Cluster, ProducerIdManager};
use crate::coordinators::{GroupService, TxnService};

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// PRODUCER_FENCED arrived with KIP-588; older request versions get INVALID_PRODUCER_EPOCH.
fn fenced_for(code: ErrorCode, version: i16, fenced_since: i16) -> ErrorCode {
    if code == ErrorCode::PRODUCER_FENCED && version < fenced_since {
        ErrorCode::INVALID_PRODUCER_EPOCH
    } else {
        code
    }
}

pub async fn init_producer_id(
    producer_ids: &ProducerIdManager,
    txns: &TxnService,
    ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| {
        InitProducerIdResponse::default()
            .with_error_code(fenced_for(code, ctx.api_version, 4).0)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    let transactional_id = request.transactional_id.as_ref().map(|t| t.to_string());
    // KIP-679: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some
    // topic; a transactional one WRITE on its transactional id.
    match &transactional_id {
        None if !ctx.authorize_idempotent_write() => {
            return fail(ErrorCode::CLUSTER_AUTHORIZATION_FAILED)
        }
        Some(id) if !ctx.authorize_transactional_id(AclOperation::Write, id) => {
            return fail(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        }
        _ => {}
    }
    let Some(transactional_id) = transactional_id else {
        // Idempotent producers get a fresh producer id with epoch 0 every time, as in Kafka.
        return match producer_ids.reserve(1).await {
            Ok(ids) => InitProducerIdResponse::default()
                .with_error_code(0)
                .with_producer_id(ProducerId(ids[0]))
                .with_producer_epoch(0),
            Err(e) => {
                tracing::warn!("cannot allocate a producer id: {e}");
                fail(ErrorCode::COORDINATOR_NOT_AVAILABLE)
            }
        };
    };
    let expected =
        (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
    let timeout = request.transaction_timeout_ms;
    // The coordinator takes a new producer id at most once or twice per attempt (a new
    // transactional id, an exhausted epoch); ids it does not use are skipped.
    let mut ids = match producer_ids.reserve(2 * INIT_ATTEMPTS).await {
        Ok(ids) => ids.into_iter(),
        Err(e) => {
            tracing::warn!("cannot allocate a producer id: {e}");
            return fail(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
    };
    let mut outcome = None;
    for _ in 0..INIT_ATTEMPTS {
        let ids = &mut ids;
        let ran = txns
            .run(&transactional_id, |c, now, out| {
                let mut alloc = || {
                    ids.next()
                        .ok_or_else(|| "no producer id reserved".to_string())
                };
                c.init_producer_id(now, &transactional_id, timeout, expected, &mut alloc, out)
            })
            .await;
        // An ongoing transaction of an older incarnation was just aborted (and completed):
        // the request goes on, as if the client had retried.
        let retry = ran.result == Err(ErrorCode::CONCURRENT_TRANSACTIONS) && ran.completed > 0;
        outcome = Some(ran.result);
        if !retry {
            break;
        }
    }
    match outcome.unwrap_or(Err(ErrorCode::CONCURRENT_TRANSACTIONS)) {
        Ok((id, epoch)) => InitProducerIdResponse::default()
            .with_error_code(0)
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(code) => fail(code),
    }
}

/// How many times InitProducerId runs when the first run had to abort an ongoing transaction.
const INIT_ATTEMPTS: usize = 2;

fn topic_partitions(topics: &[(String, Vec<i32>)]) -> Vec<(String, i32)> {
    topics
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
        .collect()
}

/// Adds (or with `verify_only` checks) partitions of one transaction; per partition the code.
/// `from_client`: a v0-v3 request, authorized here; v4+ requests come from brokers and were
/// authorized as a whole.
#[allow(clippy::too_many_arguments)]
async fn add_partitions(
    ctx: &RequestContext,
    cluster: &Cluster,
    txns: &TxnService,
    transactional_id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    from_client: bool,
    topics: &[(String, Vec<i32>)],
) -> Vec<(String, Vec<(i32, ErrorCode)>)> {
    let all = topic_partitions(topics);
    let shape = |codes: &dyn Fn(&str, i32) -> ErrorCode| -> Vec<(String, Vec<(i32, ErrorCode)>)> {
        topics
            .iter()
            .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (*p, codes(t, *p))).collect()))
            .collect()
    };
    // A client needs WRITE on the transactional id, then WRITE on each topic: a refused topic
    // fails, the rest are not attempted.
    if from_client && !ctx.authorize_transactional_id(AclOperation::Write, transactional_id) {
        return shape(&|_, _| ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    let refused: Vec<&str> = if from_client {
        topics
            .iter()
            .map(|(t, _)| t.as_str())
            .filter(|t| !ctx.authorize_topic(AclOperation::Write, t))
            .collect()
    } else {
        Vec::new()
    };
    if !refused.is_empty() {
        return shape(&|t, _| {
            if refused.contains(&t) {
                ErrorCode::TOPIC_AUTHORIZATION_FAILED
            } else {
                ErrorCode::OPERATION_NOT_ATTEMPTED
            }
        });
    }
    let image = cluster.image();
    let missing: Vec<(String, i32)> = all
        .iter()
        .filter(|(t, p)| {
            image
                .topic(t)
                .and_then(|topic| topic.partition(*p))
                .is_none()
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        // Kafka adds nothing then: the missing ones are unknown, the rest not attempted.
        return shape(&|t, p| {
            if missing.iter().any(|(mt, mp)| mt == t && *mp == p) {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                ErrorCode::OPERATION_NOT_ATTEMPTED
            }
        });
    }
    if verify_only {
        let codes = txns.read_id(transactional_id, |c| {
            c.verify_partitions(transactional_id, producer_id, epoch, &all)
        });
        let lookup: Vec<((String, i32), ErrorCode)> = all.into_iter().zip(codes).collect();
        return shape(&|t, p| {
            lookup
                .iter()
                .find(|((lt, lp), _)| lt == t && *lp == p)
                .map(|(_, c)| *c)
                .unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR)
        });
    }
    let code = txns
        .run(transactional_id, |c, now, out| {
            c.add_partitions(now, transactional_id, producer_id, epoch, &all, out)
                .map(|()| (producer_id, epoch))
        })
        .await
        .code();
    shape(&|_, _| code)
}

fn topic_results(
    rows: Vec<(String, Vec<(i32, ErrorCode)>)>,
    version: i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    rows.into_iter()
        .map(|(t, ps)| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(TopicName(sb(&t)))
                .with_results_by_partition(
                    ps.into_iter()
                        .map(|(p, code)| {
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(p)
                                .with_partition_error_code(fenced_for(code, version, 2).0)
                        })
                        .collect(),
                )
        })
        .collect()
}

pub async fn add_partitions_to_txn(
    cluster: &Cluster,
    txns: &TxnService,
    ctx: &RequestContext,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let v = ctx.api_version;
    let topics_of = |topics: &[kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic]| {
        topics
            .iter()
            .map(|t| (t.name.to_string(), t.partitions.clone()))
            .collect::<Vec<_>>()
    };
    if v <= 3 {
        let rows = add_partitions(
            ctx,
            cluster,
            txns,
            &req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            false,
            true,
            &topics_of(&req.v3_and_below_topics),
        )
        .await;
        return AddPartitionsToTxnResponse::default()
            .with_results_by_topic_v3_and_below(topic_results(rows, v));
    }
    // v4+ batches come from brokers only (KIP-890): CLUSTER_ACTION for the whole request.
    if !ctx.authorize_cluster(AclOperation::ClusterAction) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0);
    }
    let mut results = Vec::with_capacity(req.transactions.len());
    for txn in &req.transactions {
        let rows = add_partitions(
            ctx,
            cluster,
            txns,
            &txn.transactional_id,
            txn.producer_id.0,
            txn.producer_epoch,
            txn.verify_only,
            false,
            &topics_of(&txn.topics),
        )
        .await;
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(txn.transactional_id.clone())
                .with_topic_results(topic_results(rows, v)),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

pub async fn add_offsets_to_txn(
    groups: &GroupService,
    txns: &TxnService,
    ctx: &RequestContext,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    if req.group_id.is_empty() {
        return AddOffsetsToTxnResponse::default().with_error_code(ErrorCode::INVALID_GROUP_ID.0);
    }
    if !ctx.authorize_transactional_id(AclOperation::Write, &req.transactional_id) {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0);
    }
    if !ctx.authorize_group(AclOperation::Read, &req.group_id) {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0);
    }
    let partition = groups.partition_for(&req.group_id);
    let code = txns
        .run(&req.transactional_id, |c, now, out| {
            c.add_partitions(
                now,
                &req.transactional_id,
                req.producer_id.0,
                req.producer_epoch,
                &[(OFFSETS_TOPIC.to_string(), partition)],
                out,
            )
            .map(|()| (req.producer_id.0, req.producer_epoch))
        })
        .await
        .code();
    AddOffsetsToTxnResponse::default().with_error_code(fenced_for(code, ctx.api_version, 2).0)
}

pub async fn end_txn(
    txns: &TxnService,
    ctx: &RequestContext,
    req: EndTxnRequest,
) -> EndTxnResponse {
    if !ctx.authorize_transactional_id(AclOperation::Write, &req.transactional_id) {
        return EndTxnResponse::default()
            .with_error_code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0);
    }
    let code = txns
        .run(&req.transactional_id, |c, now, out| {
            c.end_txn(
                now,
                &req.transactional_id,
                req.producer_id.0,
                req.producer_epoch,
                req.committed,
                out,
            )
            .map(|()| (req.producer_id.0, req.producer_epoch))
        })
        .await
        .code();
    EndTxnResponse::default()
        .with_error_code(fenced_for(code, ctx.api_version, 2).0)
        .with_producer_id(req.producer_id)
        .with_producer_epoch(req.producer_epoch)
}

pub async fn txn_offset_commit(
    cluster: &Cluster,
    groups: &GroupService,
    txns: &TxnService,
    ctx: &RequestContext,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let v = ctx.api_version;
    let group_id = req.group_id.to_string();
    let topics: Vec<(String, Vec<CommitPartition>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.to_string(),
                t.partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.committed_metadata.as_ref().map(|m| m.to_string()),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let respond = |rows: Vec<(String, Vec<(i32, ErrorCode)>)>| {
        TxnOffsetCommitResponse::default().with_topics(
            rows.into_iter()
                .map(|(t, ps)| {
                    TxnOffsetCommitResponseTopic::default()
                        .with_name(TopicName(sb(&t)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|(p, code)| {
                                    TxnOffsetCommitResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_error_code(fenced_for(code, v, 3).0)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    };
    // WRITE on the transactional id, then READ on the group, each for the whole request.
    if !ctx.authorize_transactional_id(AclOperation::Write, &req.transactional_id) {
        return respond(all_partitions(
            &topics,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ));
    }
    if !ctx.authorize_group(AclOperation::Read, &group_id) {
        return respond(all_partitions(
            &topics,
            ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ));
    }
    // Then READ on each topic: a refused topic's partitions answer TOPIC_AUTHORIZATION_FAILED
    // and the others are committed, as in Kafka.
    let (topics, refused): (Vec<_>, Vec<_>) = topics
        .into_iter()
        .partition(|(t, _)| ctx.authorize_topic(AclOperation::Read, t));
    let refused = all_partitions(&refused, ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    if topics.is_empty() {
        return respond(refused);
    }
    let respond = |mut rows: Vec<(String, Vec<(i32, ErrorCode)>)>| {
        rows.extend(refused);
        respond(rows)
    };
    let all = |code: ErrorCode| all_partitions(&topics, code);
    // The group's offsets partition must be in the producer's transaction (AddOffsetsToTxn).
    let partition = groups.partition_for(&group_id);
    let verified = txns.read_id(&req.transactional_id, |c| {
        if c.ownership(c.partition_for(&req.transactional_id)) == Ownership::Loading {
            // Coordinated here, not loaded yet: the client retries.
            return Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        }
        c.verify_partition(
            req.producer_id.0,
            req.producer_epoch,
            OFFSETS_TOPIC,
            partition,
        )
    });
    let verified = match verified {
        Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS) => verified,
        // Another broker coordinates the transaction (KIP-890): ask it.
        Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING | ErrorCode::NOT_COORDINATOR) => {
            crate::coordinators::verify_with_remote_coordinator(
                cluster,
                &req.transactional_id,
                req.producer_id.0,
                req.producer_epoch,
                OFFSETS_TOPIC,
                partition,
            )
            .await
            .map_err(|code| match code {
                // Retriable for TxnOffsetCommit: the coordinator is moving or unreachable.
                ErrorCode::NOT_ENOUGH_REPLICAS => ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                other => other,
            })
        }
        other => other,
    };
    if let Err(code) = verified {
        let code = match code {
            ErrorCode::INVALID_PRODUCER_EPOCH => ErrorCode::PRODUCER_FENCED,
            other => other,
        };
        return respond(all(code));
    }
    let fallback = all(ErrorCode::UNKNOWN_SERVER_ERROR);
    let producer_id = req.producer_id.0;
    let generation = req.generation_id;
    let member_id = req.member_id.to_string();
    let instance_id = req.group_instance_id.as_ref().map(|s| s.to_string());
    let reply = groups
        .call(&group_id, |c, now, token, out| {
            c.txn_commit_offsets(
                now,
                token,
                &group_id,
                producer_id,
                generation,
                &member_id,
                instance_id.as_deref(),
                topics,
                out,
            )
        })
        .await;
    match reply {
        Reply::Commit(rows) => respond(rows),
        Reply::Code(code) => respond(
            fallback
                .into_iter()
                .map(|(t, ps)| (t, ps.into_iter().map(|(p, _)| (p, code)).collect()))
                .collect(),
        ),
        _ => respond(fallback),
    }
}

/// Every partition of `topics` with `code`.
fn all_partitions(
    topics: &[(String, Vec<CommitPartition>)],
    code: ErrorCode,
) -> Vec<(String, Vec<(i32, ErrorCode)>)> {
    topics
        .iter()
        .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.0, code)).collect()))
        .collect()
}

/// WriteTxnMarkers: what a transaction coordinator elsewhere asks this broker to write.
pub async fn write_txn_markers(
    txns: &TxnService,
    ctx: &RequestContext,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    // Only the brokers' transaction coordinators (CLUSTER_ACTION) write markers; a client's
    // request changes nothing.
    let allowed = ctx.authorize_cluster(AclOperation::ClusterAction);
    let mut results = Vec::with_capacity(req.markers.len());
    for marker in &req.markers {
        if !allowed {
            results.push(
                WritableTxnMarkerResult::default()
                    .with_producer_id(marker.producer_id)
                    .with_topics(
                        marker
                            .topics
                            .iter()
                            .map(|t| {
                                WritableTxnMarkerTopicResult::default()
                                    .with_name(t.name.clone())
                                    .with_partitions(
                                        t.partition_indexes
                                            .iter()
                                            .map(|p| {
                                                WritableTxnMarkerPartitionResult::default()
                                                    .with_partition_index(*p)
                                                    .with_error_code(
                                                        ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
                                                    )
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    ),
            );
            continue;
        }
        let mut topics = Vec::new();
        for t in &marker.topics {
            let mut partitions = Vec::new();
            for p in &t.partition_indexes {
                // Written here only: the sender is the coordinator and routes markers to leaders.
                let one = Markers {
                    transactional_id: String::new(),
                    producer_id: marker.producer_id.0,
                    producer_epoch: marker.producer_epoch,
                    commit: marker.transaction_result,
                    partitions: vec![(t.name.to_string(), *p)],
                };
                let code = match txns
                    .write_local_marker(&one, &t.name, *p, marker.coordinator_epoch)
                    .await
                {
                    Ok(()) => ErrorCode::NONE,
                    Err(code) => code,
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(*p)
                        .with_error_code(code.0),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions),
            );
        }
        results.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(marker.producer_id)
                .with_topics(topics),
        );
    }
    WriteTxnMarkersResponse::default().with_markers(results)
}

pub async fn describe_transactions(
    txns: &TxnService,
    ctx: &RequestContext,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = req
        .transactional_ids
        .iter()
        .map(|id| {
            let described = DescribedTxn::default().with_transactional_id(id.clone());
            if !ctx.authorize_transactional_id(AclOperation::Describe, id) {
                return described
                    .with_error_code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1);
            }
            let mut described = txns.read_id(id, |c| match c.describe_transaction(id) {
                Err(code) => described
                    .with_error_code(code.0)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1),
                Ok(m) => {
                    let mut topics: Vec<TopicData> = Vec::new();
                    for (t, p) in &m.partitions {
                        match topics.last_mut() {
                            Some(d) if d.topic.as_str() == t => d.partitions.push(*p),
                            _ => topics.push(
                                TopicData::default()
                                    .with_topic(TopicName(sb(t)))
                                    .with_partitions(vec![*p]),
                            ),
                        }
                    }
                    described
                        .with_error_code(0)
                        .with_transaction_state(sb(m.state.name()))
                        .with_transaction_timeout_ms(m.timeout_ms)
                        .with_transaction_start_time_ms(m.start_ms)
                        .with_producer_id(ProducerId(m.producer_id))
                        .with_producer_epoch(m.producer_epoch)
                        .with_topics(topics)
                }
            });
            // Only the partitions of topics the principal may DESCRIBE, as in Kafka.
            described
                .topics
                .retain(|t| ctx.authorize_topic(AclOperation::Describe, &t.topic));
            described
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

pub async fn list_transactions(
    txns: &TxnService,
    ctx: &RequestContext,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let mut states = Vec::new();
    let mut unknown = Vec::new();
    for f in &req.state_filters {
        match TxnState::ALL.iter().find(|s| s.name() == f.as_str()) {
            Some(s) => states.push(*s),
            None => unknown.push(f.clone()),
        }
    }
    if !unknown.is_empty() && states.is_empty() {
        // Only unknown states asked for: nothing can match.
        return ListTransactionsResponse::default().with_unknown_state_filters(unknown);
    }
    let producer_ids: Vec<i64> = req.producer_id_filters.iter().map(|p| p.0).collect();
    let duration = if ctx.api_version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    let pattern = req.transactional_id_pattern.as_ref().map(|p| p.to_string());
    let now = crate::coordinators::now_ms();
    let mut listed: Vec<(String, ListedTxn)> = Vec::new();
    txns.read_each(|c| {
        for m in c.list(now, &states, &producer_ids, duration) {
            if pattern
                .as_deref()
                .is_none_or(|p| simple_match(p, &m.transactional_id))
            {
                listed.push((
                    m.transactional_id.clone(),
                    ListedTxn::default()
                        .with_transactional_id(TransactionalId(sb(&m.transactional_id)))
                        .with_producer_id(ProducerId(m.producer_id))
                        .with_transaction_state(sb(m.state.name())),
                ));
            }
        }
    });
    // Only the transactional ids the principal may DESCRIBE.
    listed.retain(|(id, _)| ctx.authorize_transactional_id(AclOperation::Describe, id));
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    let listed: Vec<ListedTxn> = listed.into_iter().map(|(_, t)| t).collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}

/// The transactional-id pattern of ListTransactions v2 is a Java regular expression; without a
/// regex engine here, `.*` wildcards and literal text are understood, which covers prefix,
/// suffix and exact matches.
fn simple_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split(".*").collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::simple_match;

    #[test]
    fn patterns_with_wildcards() {
        assert!(simple_match("txn-.*", "txn-1"));
        assert!(!simple_match("txn-.*", "other"));
        assert!(simple_match(".*-a", "x-a"));
        assert!(simple_match("a.*b.*c", "axxbyyc"));
        assert!(!simple_match("a.*b.*c", "axxcyyb"));
        assert!(simple_match("exact", "exact"));
        assert!(!simple_match("exact", "exactly"));
        assert!(simple_match(".*", "anything"));
    }
}
