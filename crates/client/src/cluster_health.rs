//! `sluice cluster health`: `cluster status` (brokers, offline and under-replicated
//! partitions) plus the metadata quorum (DescribeQuorum: leader, epoch, each voter's log end
//! offset and lag), judged: the command exits non-zero when anything needs an operator.
//!
//! Unhealthy, one problem line each:
//! - a broker that is fenced (DescribeCluster v2 lists fenced brokers);
//! - an offline partition (no leader) or an under-replicated one (ISR smaller than replicas);
//! - a metadata quorum without a leader, a voter more than `--max-quorum-lag` entries behind
//!   the leader's log end offset, or a quorum that cannot be described (no API, no
//!   authorization);
//! - topics whose metadata came back with an error.
//!
//! Everything comes from the Kafka APIs (DescribeCluster, Metadata, DescribeQuorum) of the
//! first bootstrap server that answers, so it works through any listener the CLI can reach.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use kafka_protocol::messages::DescribeQuorumRequest;
use serde::Serialize;

use crate::client_settings::{ClientSettings, Role};
use crate::cluster::{fetch_status, ClusterStatus, OutputFormat};
use crate::connect_args::ConnectArgs;
use crate::table::Table;
use crate::wire::describe_quorum::{self, DescribedQuorum};
use crate::wire::{ClusterClient, RequestError, Retry};

/// How long the quorum request may take, retries included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What `cluster health` shows; serialized as declared for `--output json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterHealth {
    pub healthy: bool,
    /// One line per problem; empty when healthy.
    pub problems: Vec<String>,
    pub status: ClusterStatus,
    /// `None` when the quorum could not be described (see `problems`).
    pub quorum: Option<QuorumHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuorumHealth {
    /// `None` while the quorum has no leader.
    pub leader_id: Option<i32>,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<VoterHealth>,
    pub observers: Vec<VoterHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoterHealth {
    pub id: i32,
    pub log_end_offset: i64,
    /// Entries behind the leader's log end offset (as `kafka-metadata-quorum describe
    /// --replication` counts it).
    pub lag: i64,
}

pub async fn health(
    connect: &ConnectArgs,
    output: OutputFormat,
    max_quorum_lag: i64,
) -> Result<()> {
    let (status, warnings) = fetch_status(connect).await?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let quorum = fetch_quorum(connect).await;
    let health = ClusterHealth::judge(status, quorum, max_quorum_lag);
    match output {
        OutputFormat::Text => print!("{}", health.render_text()),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&health).context("cannot write the health as JSON")?
        ),
    }
    if !health.healthy {
        bail!(
            "the cluster is unhealthy: {} problem{}",
            health.problems.len(),
            if health.problems.len() == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// DescribeQuorum from the first bootstrap server that answers it.
async fn fetch_quorum(connect: &ConnectArgs) -> Result<DescribedQuorum, String> {
    let settings = ClientSettings::from_args(connect, Role::Admin).map_err(|e| e.to_string())?;
    let mut client = ClusterClient::new(&settings);
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut failures = Vec::new();
    for server in &settings.bootstrap {
        let retry = Retry::until(deadline);
        let outcome = loop {
            let attempt = client
                .send_to_addr::<DescribeQuorumRequest>(
                    server,
                    describe_quorum::VERSIONS,
                    describe_quorum::request,
                    deadline,
                )
                .await;
            let outcome =
                attempt.and_then(|(response, _)| describe_quorum::from_response(response));
            match outcome {
                Err(e) if retry.again(&e).await => continue,
                outcome => break outcome,
            }
        };
        match outcome {
            Ok(quorum) => return Ok(quorum),
            // Another server would answer the same.
            Err(e @ (RequestError::Broker { .. } | RequestError::Unsupported(_))) => {
                return Err(e.to_string())
            }
            Err(e) => failures.push(format!("{server}: {e}")),
        }
    }
    Err(failures.join("; "))
}

impl ClusterHealth {
    /// The verdict on `status` and the quorum (or why it could not be described).
    pub fn judge(
        status: ClusterStatus,
        quorum: Result<DescribedQuorum, String>,
        max_quorum_lag: i64,
    ) -> ClusterHealth {
        let mut problems = Vec::new();
        for b in &status.brokers {
            if b.fenced == Some(true) {
                problems.push(format!("broker {} is fenced", b.id));
            }
        }
        if status.brokers.iter().all(|b| b.fenced == Some(true)) {
            problems.push("no broker is alive".to_string());
        }
        for p in &status.offline_partitions {
            problems.push(format!(
                "partition {}-{} is offline (no leader)",
                p.topic, p.partition
            ));
        }
        for p in &status.under_replicated_partitions {
            if p.leader.is_some() {
                problems.push(format!(
                    "partition {}-{} is under-replicated (ISR {:?} of replicas {:?})",
                    p.topic, p.partition, p.isr, p.replicas
                ));
            }
        }
        for e in &status.topic_errors {
            problems.push(format!("topic '{}': {}", e.topic, e.error));
        }
        let quorum = match quorum {
            Ok(q) => {
                let health = QuorumHealth::new(&q);
                match health.leader_id {
                    None => problems.push("the metadata quorum has no leader".to_string()),
                    Some(_) => {
                        for v in health.voters.iter().filter(|v| v.lag > max_quorum_lag) {
                            problems.push(format!(
                                "controller {} is {} entries behind the quorum leader",
                                v.id, v.lag
                            ));
                        }
                    }
                }
                Some(health)
            }
            Err(e) => {
                problems.push(format!("cannot describe the metadata quorum: {e}"));
                None
            }
        };
        ClusterHealth {
            healthy: problems.is_empty(),
            problems,
            status,
            quorum,
        }
    }

    pub fn render_text(&self) -> String {
        let mut out = format!(
            "Health:         {}\n",
            if self.healthy {
                "HEALTHY".to_string()
            } else {
                format!("UNHEALTHY ({} problems)", self.problems.len())
            }
        );
        out.push_str(&self.status.render_text());
        out.push('\n');
        match &self.quorum {
            Some(q) => {
                out.push_str(&format!(
                    "Metadata quorum: leader {}, epoch {}, high watermark {}\n",
                    q.leader_id
                        .map_or_else(|| "none".to_string(), |id| id.to_string()),
                    q.leader_epoch,
                    q.high_watermark
                ));
                let mut table = Table::new(&["CONTROLLER", "ROLE", "LOG END OFFSET", "LAG"]);
                for (v, role) in q
                    .voters
                    .iter()
                    .map(|v| (v, "voter"))
                    .chain(q.observers.iter().map(|v| (v, "observer")))
                {
                    let role = if Some(v.id) == q.leader_id {
                        "leader"
                    } else {
                        role
                    };
                    table.push(vec![
                        v.id.to_string(),
                        role.to_string(),
                        v.log_end_offset.to_string(),
                        v.lag.to_string(),
                    ]);
                }
                out.push_str(&table.render());
            }
            None => out.push_str("Metadata quorum: unknown\n"),
        }
        if !self.problems.is_empty() {
            out.push_str("\nProblems:\n");
            for p in &self.problems {
                out.push_str(&format!("- {p}\n"));
            }
        }
        out
    }
}

impl QuorumHealth {
    fn new(q: &DescribedQuorum) -> QuorumHealth {
        let leader_id = (q.leader_id >= 0).then_some(q.leader_id);
        let leader_end = q
            .voters
            .iter()
            .find(|v| Some(v.replica_id) == leader_id)
            .map_or(q.high_watermark, |v| v.log_end_offset);
        let progress = |r: &describe_quorum::QuorumReplica| VoterHealth {
            id: r.replica_id,
            log_end_offset: r.log_end_offset,
            lag: (leader_end - r.log_end_offset).max(0),
        };
        QuorumHealth {
            leader_id,
            leader_epoch: q.leader_epoch,
            high_watermark: q.high_watermark,
            voters: q.voters.iter().map(progress).collect(),
            observers: q.observers.iter().map(progress).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{BrokerStatus, PartitionState};
    use crate::wire::describe_quorum::QuorumReplica;

    fn status(fenced: bool, under_replicated: bool) -> ClusterStatus {
        let broker = |id, fenced| BrokerStatus {
            id,
            host: Some("127.0.0.1".into()),
            port: Some(9092),
            rack: None,
            fenced: Some(fenced),
            leaders: 1,
        };
        let partition = PartitionState {
            topic: "orders".into(),
            partition: 0,
            leader: Some(1),
            replicas: vec![1, 2],
            isr: vec![1],
        };
        ClusterStatus {
            cluster_id: Some("c".into()),
            controller_id: Some(1),
            brokers: vec![broker(1, false), broker(2, fenced)],
            topic_count: 1,
            partition_count: 1,
            offline_partition_count: 0,
            under_replicated_partition_count: usize::from(under_replicated),
            offline_partitions: Vec::new(),
            under_replicated_partitions: if under_replicated {
                vec![partition]
            } else {
                Vec::new()
            },
            topic_errors: Vec::new(),
        }
    }

    fn quorum(leader: i32, ends: &[(i32, i64)]) -> DescribedQuorum {
        DescribedQuorum {
            leader_id: leader,
            leader_epoch: 2,
            high_watermark: 100,
            voters: ends
                .iter()
                .map(|&(id, end)| QuorumReplica {
                    replica_id: id,
                    log_end_offset: end,
                    last_caught_up_timestamp: -1,
                })
                .collect(),
            observers: Vec::new(),
        }
    }

    #[test]
    fn a_healthy_cluster_has_no_problems_and_lags_are_against_the_leader() {
        let health = ClusterHealth::judge(
            status(false, false),
            Ok(quorum(1, &[(1, 120), (2, 115)])),
            10,
        );
        assert!(health.healthy, "{:?}", health.problems);
        let lags: Vec<(i32, i64)> = health
            .quorum
            .as_ref()
            .unwrap()
            .voters
            .iter()
            .map(|v| (v.id, v.lag))
            .collect();
        assert_eq!(lags, vec![(1, 0), (2, 5)]);
        assert!(health
            .render_text()
            .starts_with("Health:         HEALTHY\n"));
    }

    #[test]
    fn fenced_brokers_lagging_voters_and_under_replication_are_problems() {
        let health =
            ClusterHealth::judge(status(true, true), Ok(quorum(1, &[(1, 120), (2, 20)])), 10);
        assert!(!health.healthy);
        assert_eq!(
            health.problems,
            vec![
                "broker 2 is fenced".to_string(),
                "partition orders-0 is under-replicated (ISR [1] of replicas [1, 2])".to_string(),
                "controller 2 is 100 entries behind the quorum leader".to_string(),
            ]
        );
        let text = health.render_text();
        assert!(text.contains("UNHEALTHY (3 problems)"), "{text}");
        assert!(text.contains("- broker 2 is fenced"), "{text}");
    }

    #[test]
    fn no_quorum_leader_or_no_answer_is_unhealthy() {
        let leaderless = ClusterHealth::judge(status(false, false), Ok(quorum(-1, &[(1, 5)])), 10);
        assert_eq!(
            leaderless.problems,
            vec!["the metadata quorum has no leader"]
        );
        let unknown = ClusterHealth::judge(status(false, false), Err("no API".into()), 10);
        assert_eq!(
            unknown.problems,
            vec!["cannot describe the metadata quorum: no API"]
        );
        assert!(unknown.render_text().contains("Metadata quorum: unknown"));
    }
}
