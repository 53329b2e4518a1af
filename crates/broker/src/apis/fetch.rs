//! Fetch: read whole batches from each partition up to its high watermark, long-polling until
//! `min_bytes` are available or `max_wait_ms` passes (woken by appends, not by a timer loop).
//!
//! Size limits: the response holds at most `max_bytes` (and the broker's `fetch.max.bytes`),
//! each partition at most its `partition_max_bytes`, except that the first batch with data is
//! always returned whole so that a consumer can make progress past a large batch (KIP-74).
//!
//! Isolation: every response carries the last stable offset (LSO). read_committed fetches
//! (isolation_level 1) return only batches below it, with the aborted transactions overlapping
//! the returned range so the consumer can drop their records; a read_committed long-poll is
//! woken by the appends (markers included) that move the LSO.
//!
//! From v16 a partition refused with NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names the
//! current leader, and the response lists the leaders' endpoints (KIP-951, see `leader_hint`).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::BrokerRegistration;
use sluice_log::LogError;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::leader_hint::{wants_hint, CurrentLeader, LeaderHints, TopicRef};
use super::request::RequestContext;
use crate::cluster::Cluster;
use crate::replicas::{
    CachedPartition, FetchSessionCache, PartKey, Partition, ReplicaManager, Reported,
};
use tokio::sync::watch;

/// Sessionless full fetch.
const FINAL_EPOCH: i32 = -1;
/// Opens a new session with a full fetch.
const INITIAL_EPOCH: i32 = 0;
/// KIP-951: the first version whose responses carry leader hints. `CurrentLeader` exists from
/// v12, but Kafka fills it (and `NodeEndpoints` exists) only from v16.
const HINTS_MIN_VERSION: i16 = 16;

struct Outcome {
    key: PartKey,
    data: PartitionData,
    /// Send this partition in an incremental response.
    changed: bool,
}

/// The replica id of a follower's fetch (Kafka: in the body before v15, in `replica_state`
/// after); `None` for a consumer's.
pub fn replica_id(version: i16, request: &FetchRequest) -> Option<i32> {
    let replica_id = if version >= 15 {
        request.replica_state.replica_id.0
    } else {
        request.replica_id.0
    };
    (replica_id >= 0).then_some(replica_id)
}

/// A consumer's fetch (a follower's is `super::replica_fetch`'s).
pub async fn handle(
    replicas: &ReplicaManager,
    cluster: &Cluster,
    sessions: &FetchSessionCache,
    fetch_max_bytes: usize,
    mut shutdown: watch::Receiver<bool>,
    ctx: &RequestContext,
    request: FetchRequest,
) -> FetchResponse {
    let v = ctx.api_version;
    let by_id = v >= 13;
    let read_committed = request.isolation_level == 1;
    let mut requested: Vec<(PartKey, CachedPartition)> = Vec::new();
    for topic in &request.topics {
        for p in &topic.partitions {
            let key = PartKey {
                topic: if by_id {
                    String::new()
                } else {
                    topic.topic.to_string()
                },
                topic_id: topic.topic_id,
                partition: p.partition,
            };
            requested.push((
                key,
                CachedPartition::new(
                    p.fetch_offset,
                    p.partition_max_bytes,
                    p.current_leader_epoch,
                ),
            ));
        }
    }
    let forgotten: Vec<PartKey> = request
        .forgotten_topics_data
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| PartKey {
                topic: if by_id {
                    String::new()
                } else {
                    t.topic.to_string()
                },
                topic_id: t.topic_id,
                partition: *p,
            })
        })
        .collect();

    // Decide which partitions this fetch covers and whether it is incremental.
    let (session_id, incremental, partitions) = if v < 7 || request.session_epoch == FINAL_EPOCH {
        if v >= 7 && request.session_id != 0 {
            sessions.remove(request.session_id);
        }
        (0, false, requested.into_iter().collect::<IndexMap<_, _>>())
    } else if request.session_epoch == INITIAL_EPOCH {
        if request.session_id != 0 {
            sessions.remove(request.session_id);
        }
        let parts: IndexMap<_, _> = requested.into_iter().collect();
        let id = sessions.create(parts.clone());
        (id, false, parts)
    } else {
        match sessions.update(
            request.session_id,
            request.session_epoch,
            requested,
            &forgotten,
        ) {
            Ok(parts) => (request.session_id, true, parts),
            Err(code) => {
                return FetchResponse::default()
                    .with_error_code(code.0)
                    .with_session_id(0);
            }
        }
    };

    let max_bytes = (request.max_bytes.max(0) as usize).min(fetch_max_bytes);
    let min_bytes = request.min_bytes.max(0) as usize;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    // READ on each topic (TOPIC_AUTHORIZATION_FAILED per partition, known topic or not), by
    // its name also when the request names it by id; an id this broker does not know names no
    // topic to check: UNKNOWN_TOPIC_ID, as in Kafka.
    let resolved: Vec<Result<Arc<Partition>, ErrorCode>> = partitions
        .iter()
        .map(|(k, cached)| {
            let r = resolve(replicas, k, cached.current_leader_epoch, by_id);
            if !ctx.authorizer_enabled() {
                return r;
            }
            let name = if by_id {
                match replicas.topic_by_id(&k.topic_id) {
                    Some(t) => t.name.to_string(),
                    None => return r,
                }
            } else {
                k.topic.clone()
            };
            if ctx.authorize_topic(AclOperation::Read, &name) {
                r
            } else {
                Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            }
        })
        .collect();

    let outcomes = loop {
        // Register for wake-ups before reading, so an append in between is not missed.
        let mut waiters: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = resolved
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|p| Box::pin(p.appended()))
            .collect();
        for w in &mut waiters {
            w.as_mut().enable();
        }
        let (outcomes, bytes, any_error) = read_all(
            &partitions,
            &resolved,
            max_bytes,
            read_committed,
            incremental,
        );
        let done = bytes >= min_bytes
            || any_error
            || waiters.is_empty()
            || tokio::time::Instant::now() >= deadline
            || *shutdown.borrow();
        if done {
            break outcomes;
        }
        tokio::select! {
            _ = futures::future::select_all(waiters) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => {}
        }
    };

    // Bytes out: what this response returns (one outcome per partition, in order).
    for (o, p) in outcomes.iter().zip(&resolved) {
        if let (Ok(p), Some(records)) = (p, &o.data.records) {
            p.metrics().record_fetch(records.len() as u64);
        }
    }

    if session_id != 0 {
        let reported = outcomes
            .iter()
            .map(|o| Reported {
                key: o.key.clone(),
                high_watermark: o.data.high_watermark,
                last_stable_offset: o.data.last_stable_offset,
                log_start_offset: o.data.log_start_offset,
            })
            .collect();
        sessions.complete(session_id, reported);
    }

    // Group partitions by topic, keeping request order.
    let mut responses: Vec<FetchableTopicResponse> = Vec::new();
    // Taken at the first refused partition.
    let mut hints: Option<LeaderHints> = None;
    for mut o in outcomes {
        if incremental && !o.changed {
            continue;
        }
        if v >= HINTS_MIN_VERSION && wants_hint(o.data.error_code) {
            let topic_ref = if by_id {
                TopicRef::Id(&o.key.topic_id)
            } else {
                TopicRef::Name(&o.key.topic)
            };
            let leader = hints
                .get_or_insert_with(|| LeaderHints::new(cluster.image()))
                .leader(topic_ref, o.key.partition);
            o.data.current_leader = current_leader(leader);
        }
        let same_topic = responses.last().is_some_and(|t| {
            if by_id {
                t.topic_id == o.key.topic_id
            } else {
                t.topic.as_str() == o.key.topic
            }
        });
        if !same_topic {
            responses.push(
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_string(o.key.topic.clone())))
                    .with_topic_id(o.key.topic_id),
            );
        }
        if let Some(t) = responses.last_mut() {
            t.partitions.push(o.data);
        }
    }
    let node_endpoints = hints.map_or_else(Vec::new, |h| {
        h.endpoints()
            .filter_map(|b| node_endpoint(b, ctx.listener()))
            .collect()
    });
    FetchResponse::default()
        .with_error_code(0)
        .with_session_id(session_id)
        .with_responses(responses)
        .with_node_endpoints(node_endpoints)
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

fn resolve(
    replicas: &ReplicaManager,
    key: &PartKey,
    current_leader_epoch: i32,
    by_id: bool,
) -> Result<Arc<Partition>, ErrorCode> {
    let topic = if by_id {
        replicas
            .topic_by_id(&key.topic_id)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_ID)?
    } else {
        replicas
            .topic(&key.topic)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?
    };
    topic
        .leader_at_epoch(key.partition, current_leader_epoch)
        .cloned()
}

/// Reads every partition once; returns the outcomes, the record bytes gathered and whether any
/// partition failed.
fn read_all(
    partitions: &IndexMap<PartKey, CachedPartition>,
    resolved: &[Result<Arc<Partition>, ErrorCode>],
    max_bytes: usize,
    read_committed: bool,
    incremental: bool,
) -> (Vec<Outcome>, usize, bool) {
    let mut outcomes = Vec::with_capacity(partitions.len());
    let mut total = 0usize;
    let mut any_error = false;
    for ((key, cached), partition) in partitions.iter().zip(resolved) {
        let base = PartitionData::default()
            .with_partition_index(key.partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_preferred_read_replica(BrokerId(-1))
            .with_records(Some(Bytes::new()));
        let partition = match partition {
            Ok(p) => p,
            Err(code) => {
                any_error = true;
                outcomes.push(Outcome {
                    key: key.clone(),
                    data: base.with_error_code(code.0),
                    changed: true,
                });
                continue;
            }
        };
        let hw = partition.high_watermark();
        // The high watermark may have moved since `hw` was read; the pair must stay ordered.
        let lso = partition.last_stable_offset().min(hw);
        let log_start = partition.log_start_offset();
        let data = base
            .with_high_watermark(hw)
            .with_last_stable_offset(lso)
            .with_log_start_offset(log_start)
            .with_aborted_transactions(if read_committed {
                Some(Vec::new())
            } else {
                None
            });
        let epoch = partition.leader_epoch();
        let leader_epoch_error = match cached.current_leader_epoch {
            -1 => None,
            e if e > epoch => Some(ErrorCode::UNKNOWN_LEADER_EPOCH),
            e if e < epoch => Some(ErrorCode::FENCED_LEADER_EPOCH),
            _ => None,
        };
        if let Some(code) = leader_epoch_error {
            any_error = true;
            outcomes.push(Outcome {
                key: key.clone(),
                data: data.with_error_code(code.0),
                changed: true,
            });
            continue;
        }
        let upper = if read_committed { lso } else { hw };
        let room = max_bytes.saturating_sub(total);
        let limit = room.min(cached.partition_max_bytes.max(0) as usize);
        let min_one_batch = total == 0;
        let result = if limit == 0 && !min_one_batch {
            Ok(Bytes::new())
        } else {
            partition
                .read(cached.fetch_offset, limit, upper, min_one_batch)
                .map(|r| r.records)
        };
        let changed_meta = !incremental
            || hw != cached.high_watermark
            || lso != cached.last_stable_offset
            || log_start != cached.log_start_offset;
        match result {
            Ok(records) => {
                total += records.len();
                let changed = changed_meta || !records.is_empty();
                let data = if read_committed && !records.is_empty() {
                    data.with_aborted_transactions(Some(aborted_transactions(
                        partition,
                        cached.fetch_offset,
                        &records,
                    )))
                } else {
                    data
                };
                outcomes.push(Outcome {
                    key: key.clone(),
                    data: data.with_error_code(0).with_records(Some(records)),
                    changed,
                });
            }
            Err(e) => {
                any_error = true;
                let code = match e {
                    LogError::OffsetOutOfRange { .. } => ErrorCode::OFFSET_OUT_OF_RANGE,
                    _ => ErrorCode::KAFKA_STORAGE_ERROR,
                };
                outcomes.push(Outcome {
                    key: key.clone(),
                    data: data.with_error_code(code.0),
                    changed: true,
                });
            }
        }
    }
    (outcomes, total, any_error)
}

/// The aborted transactions a read_committed consumer needs to filter `records` (read from
/// `fetch_offset`): those overlapping the returned range, up to the last returned offset.
fn aborted_transactions(
    partition: &Partition,
    fetch_offset: i64,
    records: &Bytes,
) -> Vec<AbortedTransaction> {
    let end = sluice_protocol::batch::batches(records)
        .map_while(Result::ok)
        .last()
        .map_or(fetch_offset, |(_, h)| h.last_offset() + 1);
    partition
        .aborted_transactions(fetch_offset, end)
        .into_iter()
        .map(|(producer_id, first_offset)| {
            AbortedTransaction::default()
                .with_producer_id(ProducerId(producer_id))
                .with_first_offset(first_offset)
        })
        .collect()
}
