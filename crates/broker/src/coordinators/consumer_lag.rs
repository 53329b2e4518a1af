//! Consumer-group lag under kafka_exporter's names: `kafka_consumergroup_current_offset` and
//! `kafka_consumergroup_lag` `{consumergroup, topic, partition}`, and their per-topic sum
//! `kafka_consumergroup_lag_sum {consumergroup, topic}`. Only a group's coordinator exports it
//! (the groups of the `__consumer_offsets` partitions this broker leads), so each
//! group/topic/partition appears once across the cluster and a `sum` over nodes is the true
//! lag; a caught-up partition stays at 0 rather than disappearing.
//!
//! Computed at scrape time: lag is the partition's high watermark (what a read_uncommitted
//! consumer can reach, as kafka_exporter's ListOffsets latest) minus the committed offset. A
//! partition this broker hosts a replica of reads its high watermark locally; for the others
//! [`ConsumerLag::refresh`] asks each leader with one ListOffsets before the registry is
//! encoded. A partition whose end offset could not be learned has no lag series that scrape.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::GroupService;
use crate::cluster::{Cluster, PeerConnection};
use crate::metrics::{encode_gauges, Labels};
use crate::replicas::ReplicaManager;

/// How long one scrape waits for another broker's end offsets.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(2);
/// ListOffsets v7: latest offsets by topic name, isolation level in the request.
const LIST_OFFSETS_VERSION: i16 = 7;

pub struct ConsumerLag {
    pub replicas: Weak<ReplicaManager>,
    pub cluster: Weak<Cluster>,
    pub groups: Weak<GroupService>,
    /// End offsets learned from other brokers at the last refresh, by (topic, partition).
    remote_ends: Mutex<HashMap<(String, i32), i64>>,
}

impl std::fmt::Debug for ConsumerLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsumerLag")
    }
}

impl ConsumerLag {
    pub fn new(
        replicas: Weak<ReplicaManager>,
        cluster: Weak<Cluster>,
        groups: Weak<GroupService>,
    ) -> ConsumerLag {
        ConsumerLag {
            replicas,
            cluster,
            groups,
            remote_ends: Mutex::new(HashMap::new()),
        }
    }

    /// Committed offsets of the groups this broker coordinates.
    fn committed(&self) -> Vec<(String, String, i32, i64)> {
        let mut out = Vec::new();
        if let Some(groups) = self.groups.upgrade() {
            groups.read_each(|c| out.extend(c.committed_offsets()));
        }
        out
    }

    /// Asks the leaders of the partitions with committed offsets that this broker hosts no
    /// replica of for their end offsets (one ListOffsets per leader, concurrently, bounded by
    /// [`REMOTE_TIMEOUT`]).
    pub async fn refresh(&self) {
        let (Some(replicas), Some(cluster)) = (self.replicas.upgrade(), self.cluster.upgrade())
        else {
            return;
        };
        let image = cluster.image();
        // Leader -> topic -> partitions.
        let mut wanted: BTreeMap<i32, BTreeMap<String, Vec<i32>>> = BTreeMap::new();
        for (_, topic, partition, _) in self.committed() {
            if replicas.partition(&topic, partition).is_some() {
                continue;
            }
            let leader = image
                .topics()
                .get(&topic)
                .and_then(|t| t.partition(partition))
                .and_then(|p| p.leader);
            if let Some(leader) = leader {
                let parts = wanted.entry(leader).or_default().entry(topic).or_default();
                if !parts.contains(&partition) {
                    parts.push(partition);
                }
            }
        }
        let asks = wanted.into_iter().filter_map(|(leader, topics)| {
            let broker = image.broker(leader)?.clone();
            let cluster = cluster.clone();
            Some(async move {
                let request = ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(
                        topics
                            .into_iter()
                            .map(|(name, parts)| {
                                ListOffsetsTopic::default()
                                    .with_name(TopicName(StrBytes::from_string(name)))
                                    .with_partitions(
                                        parts
                                            .into_iter()
                                            .map(|p| {
                                                ListOffsetsPartition::default()
                                                    .with_partition_index(p)
                                                    .with_current_leader_epoch(-1)
                                                    .with_timestamp(-1)
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    );
                let mut connection = PeerConnection::connect(
                    &broker.host,
                    broker.port,
                    &cluster.peer_security,
                    &format!("sluice-metrics-{}", cluster.node_id),
                    16 << 20,
                    REMOTE_TIMEOUT,
                )
                .await
                .ok()?;
                connection
                    .send(&request, LIST_OFFSETS_VERSION, REMOTE_TIMEOUT)
                    .await
                    .ok()
            })
        });
        let answers = futures::future::join_all(asks).await;
        let mut ends = HashMap::new();
        for response in answers.into_iter().flatten() {
            for t in response.topics {
                for p in t.partitions {
                    if p.error_code == 0 && p.offset >= 0 {
                        ends.insert((t.name.to_string(), p.partition_index), p.offset);
                    }
                }
            }
        }
        *self.remote_ends.lock().unwrap_or_else(|p| p.into_inner()) = ends;
    }
}

impl Collector for ConsumerLag {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let committed = self.committed();
        let replicas = self.replicas.upgrade();
        let remote = self
            .remote_ends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let end_of = |topic: &str, partition: i32| -> Option<i64> {
            match replicas
                .as_ref()
                .and_then(|r| r.partition(topic, partition))
            {
                Some(p) => Some(p.high_watermark()),
                None => remote.get(&(topic.to_string(), partition)).copied(),
            }
        };
        let labels = |g: &str, t: &str, p: i32| -> Labels {
            vec![
                ("consumergroup", g.to_string()),
                ("topic", t.to_string()),
                ("partition", p.to_string()),
            ]
        };
        let mut current = Vec::with_capacity(committed.len());
        let mut lag = Vec::with_capacity(committed.len());
        let mut lag_sum: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (group, topic, partition, offset) in &committed {
            current.push((labels(group, topic, *partition), *offset));
            if let Some(end) = end_of(topic, *partition) {
                // A committed offset past the end (the log was truncated) is no lag.
                let l = (end - offset).max(0);
                lag.push((labels(group, topic, *partition), l));
                *lag_sum.entry((group.clone(), topic.clone())).or_default() += l;
            }
        }
        encode_gauges(
            &mut encoder,
            "kafka_consumergroup_current_offset",
            "Committed offset of a consumer group in a partition (exported by its coordinator)",
            current,
        )?;
        encode_gauges(
            &mut encoder,
            "kafka_consumergroup_lag",
            "High watermark minus the committed offset of a consumer group in a partition",
            lag,
        )?;
        encode_gauges(
            &mut encoder,
            "kafka_consumergroup_lag_sum",
            "Consumer group lag summed over a topic's partitions",
            lag_sum
                .into_iter()
                .map(|((g, t), l)| (vec![("consumergroup", g), ("topic", t)], l)),
        )
    }
}
