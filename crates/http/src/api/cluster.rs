//! `GET /api/v1/cluster` (DescribeCluster, Metadata of every topic the caller may describe,
//! DescribeQuorum), `GET /api/v1/cluster/throughput` (this node's history, below) and
//! `GET /api/v1/reassignments` (ListPartitionReassignments, asked of the controller).
//!
//! # Throughput
//! [`run_sampler`] runs beside the admin listener and every [`SAMPLE_INTERVAL`] reads **this
//! node's** all-topics counters (`kafka_server_brokertopicmetrics_*` without a topic label):
//! records and bytes produced to partitions it leads, and record bytes its consumers fetched.
//! A point is the rate since the previous sample; an hour of points is kept. The numbers are
//! the node's own, not the cluster's: the sampler has no credentials to ask the other brokers
//! with (on a SASL cluster the API only ever acts as its caller), so a cluster-wide figure is
//! the sum of every node's `/api/v1/cluster/throughput`, or Prometheus' sum of the counters.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::Json;
use kafka_protocol::messages::{DescribeQuorumRequest, ListPartitionReassignmentsRequest};
use serde::Serialize;
use serde_json::{json, Value};
use sluice_broker::metrics::ThroughputTotals;
use sluice_client::wire::describe_quorum::{self, DescribedQuorum, QuorumReplica};
use sluice_client::wire::{reassignments, ClusterClient, RequestError};
use tokio::sync::watch;

use super::access::Caller;
use super::brokers::{broker_rows, cluster_state};
use super::{deadline, ApiError};
use crate::AdminState;

/// How often the throughput sampler reads the counters.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(10);
/// Points kept: one hour.
const KEPT_POINTS: usize = 360;
/// The time ListPartitionReassignments gives the controller.
const LIST_TIMEOUT_MS: i32 = 10_000;

pub async fn cluster(mut caller: Caller) -> Result<Json<Value>, ApiError> {
    let result = cluster_view(&mut caller).await;
    caller.check(result).map(Json)
}

async fn cluster_view(client: &mut ClusterClient) -> Result<Value, ApiError> {
    let deadline = deadline();
    let (described, metadata) = cluster_state(client, deadline).await?;
    let partitions = metadata.topics.iter().flat_map(|t| &t.partitions);
    let under_replicated = partitions
        .clone()
        .filter(|p| p.isr.len() < p.replicas.len())
        .count();
    let offline = partitions.clone().filter(|p| p.leader_id < 0).count();
    let quorum = match client
        .send_to_any::<DescribeQuorumRequest>(
            describe_quorum::VERSIONS,
            describe_quorum::request,
            deadline,
        )
        .await
        .and_then(|(response, _)| describe_quorum::from_response(response))
    {
        Ok(quorum) => Some(quorum_json(&quorum)),
        // DescribeQuorum needs DESCRIBE on the cluster: a caller without it sees the rest.
        Err(RequestError::Broker { code: 31, .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let (cluster_id, controller_id) = match &described {
        Some(d) => (Some(d.cluster_id.clone()), d.controller_id),
        None => (metadata.cluster_id.clone(), metadata.controller_id),
    };
    Ok(json!({
        "cluster_id": cluster_id,
        "controller_id": (controller_id >= 0).then_some(controller_id),
        "brokers": broker_rows(described.as_ref(), &metadata),
        "topic_count": metadata.topics.len(),
        "partition_count": partitions.count(),
        "under_replicated_partitions": under_replicated,
        "offline_partitions": offline,
        "quorum": quorum,
    }))
}

/// The quorum as documented; a replica's `lag` is behind the leader's log end offset.
fn quorum_json(quorum: &DescribedQuorum) -> Value {
    let leader_end = quorum
        .voters
        .iter()
        .find(|v| v.replica_id == quorum.leader_id)
        .map_or(quorum.high_watermark, |v| v.log_end_offset);
    let replica = |r: &QuorumReplica| {
        json!({
            "id": r.replica_id,
            "log_end_offset": r.log_end_offset,
            "lag": (leader_end - r.log_end_offset).max(0),
            "last_caught_up_ms": (r.last_caught_up_timestamp >= 0)
                .then_some(r.last_caught_up_timestamp),
        })
    };
    json!({
        "leader_id": quorum.leader_id,
        "leader_epoch": quorum.leader_epoch,
        "high_watermark": quorum.high_watermark,
        "voters": quorum.voters.iter().map(replica).collect::<Vec<_>>(),
        "observers": quorum.observers.iter().map(replica).collect::<Vec<_>>(),
    })
}

pub async fn reassignments(mut caller: Caller) -> Result<Json<Value>, ApiError> {
    let result = async {
        let (response, _) = caller
            .send_to_controller::<ListPartitionReassignmentsRequest>(
                reassignments::LIST_VERSIONS,
                |_| reassignments::list_request(None, LIST_TIMEOUT_MS),
                deadline(),
            )
            .await?;
        let mut ongoing = reassignments::ongoing(response)?;
        ongoing.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        let rows: Vec<Value> = ongoing
            .iter()
            .map(|r| {
                json!({
                    "topic": r.topic,
                    "partition": r.partition,
                    "replicas": r.replicas,
                    "adding": r.adding,
                    "removing": r.removing,
                })
            })
            .collect();
        Ok::<_, ApiError>(json!({ "reassignments": rows }))
    }
    .await;
    caller.check(result).map(Json)
}

pub async fn throughput(
    mut caller: Caller,
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Value>, ApiError> {
    // The history is the node's, but only for callers the cluster lets in: one Metadata
    // request (no topics) checks the login.
    let login = caller.metadata(Some(&[]), false, deadline()).await;
    caller.check(login.map_err(ApiError::from))?;
    Ok(Json(json!({
        "interval_ms": SAMPLE_INTERVAL.as_millis() as u64,
        "points": state.throughput.points(),
    })))
}

/// One point of the throughput history: rates over the interval ending at `time_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThroughputPoint {
    pub time_ms: i64,
    pub records_in_per_sec: f64,
    pub bytes_in_per_sec: f64,
    pub bytes_out_per_sec: f64,
}

/// The last hour of this node's throughput.
#[derive(Default)]
pub struct ThroughputHistory {
    inner: Mutex<History>,
}

#[derive(Default)]
struct History {
    /// The previous sample: when, and the counters then.
    last: Option<(Instant, ThroughputTotals)>,
    points: VecDeque<ThroughputPoint>,
}

impl ThroughputHistory {
    /// Records the counters `totals` read at `at` (`time_ms` since the epoch): a point with the
    /// rates since the previous sample, the first sample being only the base.
    pub fn sample(&self, at: Instant, time_ms: i64, totals: ThroughputTotals) {
        let mut history = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((then, before)) = history.last {
            let seconds = at.saturating_duration_since(then).as_secs_f64();
            if seconds > 0.0 {
                // Counters only grow; a smaller value (never expected) counts as none.
                let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / seconds;
                let point = ThroughputPoint {
                    time_ms,
                    records_in_per_sec: rate(totals.messages_in, before.messages_in),
                    bytes_in_per_sec: rate(totals.bytes_in, before.bytes_in),
                    bytes_out_per_sec: rate(totals.bytes_out, before.bytes_out),
                };
                history.points.push_back(point);
                while history.points.len() > KEPT_POINTS {
                    history.points.pop_front();
                }
            }
        }
        history.last = Some((at, totals));
    }

    /// The points, oldest first.
    pub fn points(&self) -> Vec<ThroughputPoint> {
        let history = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        history.points.iter().copied().collect()
    }
}

/// Samples this node's counters into `state.throughput` every [`SAMPLE_INTERVAL`] (once the
/// node runs) until `shutdown` turns true.
pub async fn run_sampler(state: Arc<AdminState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let Some(node) = state.node() else { continue };
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        state
            .throughput
            .sample(Instant::now(), time_ms, node.metrics.topics.totals());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(messages_in: u64, bytes_in: u64, bytes_out: u64) -> ThroughputTotals {
        ThroughputTotals {
            bytes_in,
            messages_in,
            bytes_out,
        }
    }

    #[test]
    fn points_are_rates_since_the_previous_sample_and_an_hour_is_kept() {
        let history = ThroughputHistory::default();
        let start = Instant::now();
        history.sample(start, 1_000, totals(0, 0, 0));
        assert!(history.points().is_empty(), "the first sample is the base");
        history.sample(
            start + Duration::from_secs(10),
            11_000,
            totals(100, 5_000, 20_000),
        );
        assert_eq!(
            history.points(),
            vec![ThroughputPoint {
                time_ms: 11_000,
                records_in_per_sec: 10.0,
                bytes_in_per_sec: 500.0,
                bytes_out_per_sec: 2_000.0,
            }]
        );
        for i in 2..=(KEPT_POINTS as u64 + 5) {
            history.sample(
                start + Duration::from_secs(10 * i),
                1_000 + 10_000 * i as i64,
                totals(100 * i, 5_000 * i, 20_000 * i),
            );
        }
        let points = history.points();
        assert_eq!(points.len(), KEPT_POINTS);
        assert_eq!(
            points.last().map(|p| p.time_ms),
            Some(1_000 + 10_000 * (KEPT_POINTS as i64 + 5))
        );
        assert!(points.iter().all(|p| p.records_in_per_sec == 10.0));
    }

    #[test]
    fn a_sample_at_the_same_instant_adds_no_point() {
        let history = ThroughputHistory::default();
        let start = Instant::now();
        history.sample(start, 0, totals(0, 0, 0));
        history.sample(start, 0, totals(5, 5, 5));
        assert!(history.points().is_empty());
    }
}
