//! [`InternalTopics`]: the compacted topics coordinators keep their state in
//! (`__consumer_offsets`, `__transaction_state`), and their creation. Replay and appends are the
//! coordinator runtime's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sluice_coordinator::{OFFSETS_TOPIC, TXN_STATE_TOPIC};
use tokio::sync::watch;

use crate::cluster::{Cluster, TopicAdmin};
use crate::config::BrokerSettings;
use crate::replicas::{AdminError, ReplicaManager, Topic};

/// Creates the internal topics through the controller once enough brokers are live.
pub struct InternalTopics {
    cluster: Arc<Cluster>,
    replicas: Arc<ReplicaManager>,
    admin: Arc<TopicAdmin>,
    settings: Arc<BrokerSettings>,
}

impl InternalTopics {
    pub fn new(
        cluster: Arc<Cluster>,
        replicas: Arc<ReplicaManager>,
        admin: Arc<TopicAdmin>,
        settings: Arc<BrokerSettings>,
    ) -> InternalTopics {
        InternalTopics {
            cluster,
            replicas,
            admin,
            settings,
        }
    }

    /// `__consumer_offsets`, created once enough brokers are live (None until then).
    pub async fn ensure_offsets_topic(&self) -> Result<Option<Arc<Topic>>, AdminError> {
        let group = &self.settings.group;
        self.ensure(
            OFFSETS_TOPIC,
            group.coordinator.num_partitions,
            group.offsets_topic_replication_factor,
            group.offsets_topic_segment_bytes,
        )
        .await
    }

    /// `__transaction_state`, created once enough brokers are live (None until then).
    pub async fn ensure_txn_state_topic(&self) -> Result<Option<Arc<Topic>>, AdminError> {
        let txn = &self.settings.txn;
        self.ensure(
            TXN_STATE_TOPIC,
            txn.coordinator.num_partitions,
            txn.state_log_replication_factor,
            txn.state_log_segment_bytes,
        )
        .await
    }

    /// `_schemas`, the schema registry's topic (one partition, compacted, the offsets topic's
    /// replication factor as Confluent's `kafkastore.topic.replication.factor` defaults to 3),
    /// created once enough brokers are live (None until then).
    pub async fn ensure_schemas_topic(&self) -> Result<Option<Arc<Topic>>, AdminError> {
        let group = &self.settings.group;
        self.ensure(
            sluice_schema::SCHEMAS_TOPIC,
            1,
            group.offsets_topic_replication_factor,
            group.offsets_topic_segment_bytes,
        )
        .await
    }

    /// Whether either internal topic is still to be created.
    pub fn missing(&self) -> bool {
        self.replicas.topic(OFFSETS_TOPIC).is_none()
            || self.replicas.topic(TXN_STATE_TOPIC).is_none()
    }

    /// Creates the internal topics once enough brokers are live for their replication factor
    /// (checked every 500 ms); the coordinators start serving their partitions as this broker
    /// comes to lead them.
    pub async fn create_when_possible(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let offsets = self.ensure_offsets_topic().await;
            let txn_state = self.ensure_txn_state_topic().await;
            match (offsets, txn_state) {
                (Ok(Some(_)), Ok(Some(_))) => return,
                (Err(e), _) | (_, Err(e)) => {
                    tracing::debug!("internal topics not created yet: {}", e.message)
                }
                _ => {}
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// The replication factor an internal topic gets: the configured one, capped at the
    /// brokers the cluster is expected to have (the registered ones, or the controller voters
    /// when more: in a combined cluster every voter is a broker). A standalone node thus needs
    /// no setting.
    fn replication_factor(&self, configured: i16) -> usize {
        let voters = self.settings.quorum_voters.as_ref().map_or(1, |v| v.len());
        let image = self.cluster.image();
        let expected = image.brokers().len().max(voters).max(1);
        (configured.max(1) as usize).min(expected)
    }

    /// The topic `name` if it exists, else created compacted with `partitions` partitions
    /// through the controller once enough brokers are live for its replication factor (see
    /// [`InternalTopics::replication_factor`]); `None` while they are not (Kafka likewise
    /// answers COORDINATOR_NOT_AVAILABLE until the internal topics can be created). An existing
    /// topic keeps its partition count, as in Kafka.
    async fn ensure(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        segment_bytes: i64,
    ) -> Result<Option<Arc<Topic>>, AdminError> {
        if let Some(t) = self.replicas.topic(name) {
            return Ok(Some(t));
        }
        let rf = self.replication_factor(replication_factor);
        let live = self
            .cluster
            .image()
            .brokers()
            .values()
            .filter(|b| !b.fenced)
            .count();
        if live < rf {
            return Ok(None);
        }
        let mut configs = BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        configs.insert("segment.bytes".to_string(), segment_bytes.to_string());
        configs.insert("compression.type".to_string(), "producer".to_string());
        self.admin
            .ensure_topic(name, partitions, rf as i16, configs)
            .await
            .map(Some)
    }
}
