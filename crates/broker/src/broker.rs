//! [`Broker`]: a running broker's parts, as the server wired them (tests reach into them), and
//! what the admin listener asks of it: readiness and the scrape-time metrics.

use std::sync::Arc;
use std::time::Duration;

use crate::apis::KafkaApis;
use crate::cluster::Cluster;
use crate::config::BrokerSettings;
use crate::coordinators::ConsumerLag;
use crate::metrics::BrokerMetrics;
use crate::replicas::ReplicaManager;

pub struct Broker {
    pub node_id: i32,
    /// Host and port clients are told to connect to (Metadata, DescribeCluster).
    pub advertised_host: String,
    pub advertised_port: u16,
    pub settings: Arc<BrokerSettings>,
    pub replicas: Arc<ReplicaManager>,
    /// Membership of the cluster: controller, registration, metadata image.
    pub cluster: Arc<Cluster>,
    /// The handles the request handlers are given.
    pub apis: Arc<KafkaApis>,
    /// The node's metrics registry (also reachable as `replicas.metrics()`).
    pub metrics: Arc<BrokerMetrics>,
    pub(crate) consumer_lag: Arc<ConsumerLag>,
    /// The schema registry's state on this broker (its writer when it leads `_schemas-0`).
    pub schemas: Arc<crate::coordinators::SchemaService>,
}

impl Broker {
    pub fn cluster_id(&self) -> &str {
        &self.cluster.cluster_id
    }

    /// Whether the broker should get traffic (`/readyz`): registered (it is running, so it
    /// registered), unfenced, in touch with the controller quorum (a heartbeat answered within
    /// `broker.session.timeout.ms`) and caught up with the metadata log: the metadata it applied
    /// reaches the committed offset the controller told it (see
    /// [`crate::cluster::MetadataCatchUp`]). `Err`: why not.
    pub fn readiness(&self) -> Result<(), String> {
        let session = Duration::from_millis(self.settings.broker_session_timeout_ms);
        match self.cluster.since_last_heartbeat() {
            None => return Err("no heartbeat answered by the controller quorum yet".into()),
            Some(age) if age > session => {
                return Err(format!(
                    "cannot reach the controller quorum: the last heartbeat was answered {} ms \
                     ago (broker.session.timeout.ms={})",
                    age.as_millis(),
                    session.as_millis()
                ))
            }
            Some(_) => {}
        }
        if self.cluster.is_fenced() {
            return Err("the controller fences this broker".into());
        }
        self.cluster
            .caught_up_with_metadata(self.replicas.applied_offset())
    }

    /// Work a scrape needs before the registry is encoded: other brokers' end offsets for the
    /// consumer lag of the groups this broker coordinates.
    pub async fn prepare_scrape(&self) {
        self.consumer_lag.refresh().await;
    }
}
