//! Fetch from a follower (replica id >= 0): the leader side of replication.
//!
//! A follower reads up to the leader's log end (not the high watermark), names the epoch of its
//! last batch so the leader can tell it where their logs diverged (KIP-595's
//! `diverging_epoch`), and by the offset it fetches from says how much it holds: the leader
//! records that, advances the high watermark, and proposes the follower into the ISR once it
//! caught up. The long-poll wakes on the leader's appends. Followers fetch without sessions.
//! A replica out of the ISR that the topic's `leader.replication.throttled.replicas` names
//! gets no records while the leader's replication throttle is exceeded (KIP-73).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_response::{
    EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::Replication;
use crate::replicas::{Partition, ReplicaManager};
use tokio::sync::watch;

struct Wanted {
    topic: String,
    topic_id: uuid::Uuid,
    partition: i32,
    fetch_offset: i64,
    current_leader_epoch: i32,
    last_fetched_epoch: i32,
    max_bytes: usize,
}

pub async fn handle(
    replicas: &ReplicaManager,
    replication: &Arc<Replication>,
    fetch_max_bytes: usize,
    mut shutdown: watch::Receiver<bool>,
    ctx: &RequestContext,
    request: FetchRequest,
    replica_id: i32,
) -> FetchResponse {
    let by_id = ctx.api_version >= 13;
    let mut wanted = Vec::new();
    for t in &request.topics {
        for p in &t.partitions {
            wanted.push(Wanted {
                topic: t.topic.to_string(),
                topic_id: t.topic_id,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: if ctx.api_version >= 12 {
                    p.last_fetched_epoch
                } else {
                    -1
                },
                max_bytes: p.partition_max_bytes.max(0) as usize,
            });
        }
    }
    // A follower's fetch needs CLUSTER_ACTION (a client posing as a replica gets
    // TOPIC_AUTHORIZATION_FAILED for every partition, and nothing else happens).
    let cluster_action = ctx.authorize_cluster(AclOperation::ClusterAction);
    // Each partition, and whether the leader's replication throttle holds it (the topic names
    // it in `leader.replication.throttled.replicas` for this broker, and the follower is out
    // of the ISR).
    let resolved: Vec<Result<(Arc<Partition>, bool), ErrorCode>> = wanted
        .iter()
        .map(|w| {
            if !cluster_action {
                return Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
            }
            let topic = if by_id {
                replicas.topic_by_id(&w.topic_id)
            } else {
                replicas.topic(&w.topic)
            };
            let topic = topic.ok_or(if by_id {
                ErrorCode::UNKNOWN_TOPIC_ID
            } else {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            })?;
            let p = topic.leader(w.partition)?;
            if !p.replicas().contains(&replica_id) {
                return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
            }
            let throttled =
                topic.throttles.leader.contains(p.index) && !p.isr().contains(&replica_id);
            Ok((p.clone(), throttled))
        })
        .collect();
    let throttled: Vec<bool> = resolved
        .iter()
        .map(|r| r.as_ref().is_ok_and(|(_, t)| *t))
        .collect();
    let resolved: Vec<Result<Arc<Partition>, ErrorCode>> =
        resolved.into_iter().map(|r| r.map(|(p, _)| p)).collect();
    // The leader side's rate, read only when the throttle holds a partition of the request.
    let throttle_rate = throttled
        .iter()
        .any(|t| *t)
        .then(|| replicas.live_config().replication_throttle.leader);
    let max_bytes = (request.max_bytes.max(0) as usize).min(fetch_max_bytes);
    let min_bytes = request.min_bytes.max(0) as usize;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let mut first = true;
    let datas = loop {
        let mut waiters: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = resolved
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|p| Box::pin(p.log_end_moved()))
            .collect();
        for w in &mut waiters {
            w.as_mut().enable();
        }
        let mut total = 0usize;
        let mut interesting = false;
        let mut datas = Vec::with_capacity(wanted.len());
        // Over the throttle: throttled partitions are answered without records (and, as in
        // Kafka, what they would have had does not end the long-poll).
        let held = throttle_rate.is_some_and(|rate| replicas.leader_throttle().is_exceeded(rate));
        for ((w, p), throttled) in wanted.iter().zip(&resolved).zip(&throttled) {
            let budget = if held && *throttled {
                0
            } else {
                max_bytes.saturating_sub(total)
            };
            let data = read_one(replication, w, p, replica_id, budget, first);
            total += data.records.as_ref().map_or(0, |r| r.len());
            interesting |= data.error_code != 0 || data.diverging_epoch.epoch >= 0;
            datas.push(data);
        }
        first = false;
        if total >= min_bytes
            || interesting
            || waiters.is_empty()
            || tokio::time::Instant::now() >= deadline
            || *shutdown.borrow()
        {
            break datas;
        }
        tokio::select! {
            _ = futures::future::select_all(waiters) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => {}
        }
    };
    // What the throttled partitions take counts against the leader's throttle.
    let throttled_bytes: usize = datas
        .iter()
        .zip(&throttled)
        .filter(|(_, t)| **t)
        .map(|(d, _)| d.records.as_ref().map_or(0, |r| r.len()))
        .sum();
    replicas.leader_throttle().record(throttled_bytes);
    let mut responses: Vec<FetchableTopicResponse> = Vec::new();
    for (w, data) in wanted.iter().zip(datas) {
        let same = responses.last().is_some_and(|t| {
            if by_id {
                t.topic_id == w.topic_id
            } else {
                t.topic.as_str() == w.topic
            }
        });
        if !same {
            responses.push(
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_string(w.topic.clone())))
                    .with_topic_id(w.topic_id),
            );
        }
        if let Some(t) = responses.last_mut() {
            t.partitions.push(data);
        }
    }
    FetchResponse::default()
        .with_error_code(0)
        .with_session_id(0)
        .with_responses(responses)
}

/// One partition of a follower's fetch. `record` is true on the first pass of a long-poll
/// (the follower's progress is recorded once per request).
fn read_one(
    replication: &Arc<Replication>,
    w: &Wanted,
    p: &Result<Arc<Partition>, ErrorCode>,
    replica_id: i32,
    budget: usize,
    record: bool,
) -> PartitionData {
    let base = PartitionData::default()
        .with_partition_index(w.partition)
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
        .with_diverging_epoch(EpochEndOffset::default().with_epoch(-1).with_end_offset(-1));
    let p = match p {
        Ok(p) => p,
        Err(code) => return base.with_error_code(code.0),
    };
    let epoch = p.leader_epoch();
    if w.current_leader_epoch >= 0 && w.current_leader_epoch != epoch {
        let code = if w.current_leader_epoch < epoch {
            ErrorCode::FENCED_LEADER_EPOCH
        } else {
            ErrorCode::UNKNOWN_LEADER_EPOCH
        };
        return base.with_error_code(code.0);
    }
    let with_offsets = |d: PartitionData| {
        d.with_high_watermark(p.high_watermark())
            .with_last_stable_offset(p.last_stable_offset())
            .with_log_start_offset(p.log_start_offset())
    };
    // Divergence: the follower's last epoch ends earlier here (or does not exist here).
    if w.last_fetched_epoch >= 0 {
        if let Some((leader_epoch, end)) = p.end_offset_for_epoch(w.last_fetched_epoch) {
            if leader_epoch != w.last_fetched_epoch || end < w.fetch_offset {
                return with_offsets(
                    base.with_error_code(0).with_diverging_epoch(
                        EpochEndOffset::default()
                            .with_epoch(leader_epoch)
                            .with_end_offset(end),
                    ),
                );
            }
        }
    }
    if w.fetch_offset < p.log_start_offset() || w.fetch_offset > p.log_end_offset() {
        return with_offsets(base.with_error_code(ErrorCode::OFFSET_OUT_OF_RANGE.0));
    }
    if record {
        if let Some(isr) = p.record_follower_fetch(replica_id, w.fetch_offset) {
            tracing::info!(
                "{}-{}: follower {replica_id} caught up; expanding the ISR to {isr:?}",
                p.topic,
                p.index
            );
            replication.propose_isr(p, isr);
        }
    }
    let limit = w.max_bytes.min(budget);
    let records = if limit == 0 {
        bytes::Bytes::new()
    } else {
        match p.read(w.fetch_offset, limit, p.log_end_offset(), true) {
            Ok(r) => r.records,
            Err(e) => {
                return with_offsets(base.with_error_code(e.error_code().0));
            }
        }
    };
    with_offsets(base.with_error_code(0).with_records(Some(records)))
}
