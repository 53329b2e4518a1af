//! The gauges computed from state at scrape time (nothing on the hot path keeps them):
//! [`BrokerCollector`] (the replica manager's partition, leader, under-replicated and offline
//! replica counts, each hosted log's size and offsets, the controller's view of the cluster)
//! and [`QuorumCollector`] (the controller quorum as this node sees it, on every node).
//! Collectors hold weak handles: the registry must not keep a stopped broker alive.

use std::sync::Weak;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use sluice_controller::{Controller, ControllerRole, ControllerStatus};

use crate::cluster::Cluster;
use crate::metrics::{encode_gauges, Labels};
use crate::replicas::ReplicaManager;

fn none() -> Labels {
    Vec::new()
}

pub struct BrokerCollector {
    pub replicas: Weak<ReplicaManager>,
    pub cluster: Weak<Cluster>,
}

impl std::fmt::Debug for BrokerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerCollector")
    }
}

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (Some(replicas), Some(cluster)) = (self.replicas.upgrade(), self.cluster.upgrade())
        else {
            return Ok(());
        };
        let topics = replicas.topics();
        let hosted: Vec<_> = topics
            .iter()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect();
        let led: Vec<_> = hosted.iter().filter(|p| p.is_leader()).collect();
        let under_replicated = led
            .iter()
            .filter(|p| p.isr().len() < p.replicas().len())
            .count();
        let gauge = |encoder: &mut DescriptorEncoder, name: &str, help: &str, v: usize| {
            encode_gauges(encoder, name, help, [(none(), v as i64)])
        };
        gauge(
            &mut encoder,
            "kafka_server_replicamanager_partitioncount",
            "Partitions this broker hosts a replica of",
            hosted.len(),
        )?;
        gauge(
            &mut encoder,
            "kafka_server_replicamanager_leadercount",
            "Partitions this broker leads",
            led.len(),
        )?;
        gauge(
            &mut encoder,
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Partitions this broker leads whose ISR is smaller than their replica set",
            under_replicated,
        )?;
        gauge(
            &mut encoder,
            "kafka_server_replicamanager_offlinereplicacount",
            "Replicas this broker hosts that are offline: their log directory failed (offline \
             until the broker restarts with it back)",
            replicas.offline_replicas().len(),
        )?;
        // Kafka's `kafka.server:type=LeaderReplication` / `FollowerReplication` `byte-rate`:
        // what the throttled replicas copy, per second, over the replication quota window.
        for (name, help, quota) in [
            (
                "kafka_server_leaderreplication_byte_rate",
                "Bytes per second the throttled replicas this broker leads sent \
                 (leader.replication.throttled.rate bounds it)",
                replicas.leader_throttle(),
            ),
            (
                "kafka_server_followerreplication_byte_rate",
                "Bytes per second the throttled replicas this broker follows fetched \
                 (follower.replication.throttled.rate bounds it)",
                replicas.follower_throttle(),
            ),
            (
                "kafka_server_alterlogdirs_byte_rate",
                "Bytes per second the moves between this broker's log directories copied \
                 (replica.alter.log.dirs.io.max.bytes.per.second bounds it)",
                replicas.alter_log_dirs_throttle(),
            ),
        ] {
            encode_gauges(&mut encoder, name, help, [(none(), quota.rate() as i64)])?;
        }
        let labels = |p: &crate::replicas::Partition| -> Labels {
            vec![
                ("topic", p.topic.to_string()),
                ("partition", p.index.to_string()),
            ]
        };
        encode_gauges(
            &mut encoder,
            "kafka_log_log_size",
            "Bytes of each hosted log on disk",
            hosted
                .iter()
                .map(|p| (labels(p), i64::try_from(p.size_bytes()).unwrap_or(i64::MAX))),
        )?;
        encode_gauges(
            &mut encoder,
            "kafka_log_log_logstartoffset",
            "Log start offset of each hosted log",
            hosted.iter().map(|p| (labels(p), p.log_start_offset())),
        )?;
        encode_gauges(
            &mut encoder,
            "kafka_log_log_logendoffset",
            "Log end offset of each hosted log",
            hosted.iter().map(|p| (labels(p), p.log_end_offset())),
        )?;
        encode_controller(&mut encoder, &cluster.controller)
    }
}

/// `kafka.controller:type=KafkaController`: the active controller reports the cluster's
/// counts, every other node 0 (as in Kafka), so that a `sum` over all nodes is the cluster's.
fn encode_controller(
    encoder: &mut DescriptorEncoder,
    controller: &Controller,
) -> Result<(), std::fmt::Error> {
    let active = controller.status().role == ControllerRole::Leader;
    let image = controller.image().borrow().clone();
    let (mut topics, mut partitions, mut offline) = (0i64, 0i64, 0i64);
    if active {
        for t in image.topics().values() {
            topics += 1;
            for p in &t.partitions {
                partitions += 1;
                if p.leader.is_none() {
                    offline += 1;
                }
            }
        }
    }
    for (name, help, value) in [
        (
            "kafka_controller_kafkacontroller_activecontrollercount",
            "1 on the node that is the active controller (the quorum leader), else 0",
            i64::from(active),
        ),
        (
            "kafka_controller_kafkacontroller_globaltopiccount",
            "Topics in the cluster (on the active controller)",
            topics,
        ),
        (
            "kafka_controller_kafkacontroller_globalpartitioncount",
            "Partitions in the cluster (on the active controller)",
            partitions,
        ),
        (
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            "Partitions without a leader (on the active controller)",
            offline,
        ),
    ] {
        encode_gauges(encoder, name, help, [(none(), value)])?;
    }
    Ok(())
}

/// Kafka's `kafka.server:type=raft-metrics` as the Strimzi rules name them.
pub struct QuorumCollector {
    pub controller: Controller,
    /// Set on a controller-only node, which has no [`BrokerCollector`] to report the
    /// controller's counts.
    pub controller_counts: bool,
}

impl std::fmt::Debug for QuorumCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuorumCollector")
    }
}

impl Collector for QuorumCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, value) in raft_gauges(&self.controller.status()) {
            encode_gauges(&mut encoder, name, help, [(none(), value)])?;
        }
        if self.controller_counts {
            encode_controller(&mut encoder, &self.controller)?;
        }
        Ok(())
    }
}

/// The raft-metrics gauges of `status`, with Kafka's meanings: offsets are Raft log indexes,
/// and an end offset or high watermark is one past the last entry it covers.
fn raft_gauges(status: &ControllerStatus) -> [(&'static str, &'static str, i64); 4] {
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let one_past = |index: Option<u64>| index.map(|i| int(i).saturating_add(1));
    [
        (
            "kafka_server_raftmetrics_current_epoch",
            "The controller quorum's current term (Kafka's epoch of __cluster_metadata)",
            int(status.term),
        ),
        (
            "kafka_server_raftmetrics_current_leader",
            "Node id of the quorum leader this node knows of, -1 if none",
            status.leader.map_or(-1, |l| i64::try_from(l).unwrap_or(-1)),
        ),
        (
            "kafka_server_raftmetrics_high_watermark",
            "One past the last metadata log entry this node knows committed (the leader's \
             commit index, as last heard on a follower), -1 if unknown",
            one_past(status.committed_index).unwrap_or(-1),
        ),
        (
            "kafka_server_raftmetrics_log_end_offset",
            "One past the last entry of this node's metadata log",
            one_past(status.last_log_index).unwrap_or(0),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use sluice_controller::{ControllerRole, ControllerStatus};

    use super::raft_gauges;

    fn status() -> ControllerStatus {
        ControllerStatus {
            node_id: 2,
            role: ControllerRole::Follower,
            leader: Some(1),
            term: 4,
            last_log_index: Some(20),
            committed_index: Some(17),
            last_applied_index: Some(15),
            snapshot_index: None,
            purged_index: None,
            voters: vec![1, 2, 3],
            learners: Vec::new(),
        }
    }

    fn value(status: &ControllerStatus, name: &str) -> i64 {
        raft_gauges(status)
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
            .expect("gauge exported")
    }

    #[test]
    fn the_high_watermark_is_one_past_the_commit_index_not_the_last_applied_entry() {
        let status = status();
        assert_eq!(
            value(&status, "kafka_server_raftmetrics_high_watermark"),
            18
        );
        assert_eq!(
            value(&status, "kafka_server_raftmetrics_log_end_offset"),
            21
        );
        assert_eq!(value(&status, "kafka_server_raftmetrics_current_epoch"), 4);
        assert_eq!(value(&status, "kafka_server_raftmetrics_current_leader"), 1);
    }

    #[test]
    fn unknown_values_are_kafkas() {
        let status = ControllerStatus {
            leader: None,
            last_log_index: None,
            committed_index: None,
            last_applied_index: None,
            ..status()
        };
        assert_eq!(
            value(&status, "kafka_server_raftmetrics_high_watermark"),
            -1
        );
        assert_eq!(value(&status, "kafka_server_raftmetrics_log_end_offset"), 0);
        assert_eq!(
            value(&status, "kafka_server_raftmetrics_current_leader"),
            -1
        );
    }
}
