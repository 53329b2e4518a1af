//! The state every request handler sees: configuration, identity, hosted partitions and the
//! fetch-session cache.

use std::sync::Arc;

use crate::cluster::{Cluster, MetadataPublisher, ProducerIdManager, Replication, TopicAdmin};
use crate::config::BrokerSettings;
use crate::coordinators::{GroupService, TxnService};
use crate::replicas::{FetchSessionCache, ReplicaManager};

pub struct Broker {
    pub settings: Arc<BrokerSettings>,
    pub node_id: i32,
    /// Host and port clients are told to connect to (Metadata, DescribeCluster).
    pub advertised_host: String,
    pub advertised_port: u16,
    pub replicas: Arc<ReplicaManager>,
    /// Membership of the cluster: controller, registration, metadata image.
    pub cluster: Arc<Cluster>,
    /// Applies metadata images to the replicas.
    pub publisher: Arc<MetadataPublisher>,
    /// Topic changes through the controller.
    pub admin: Arc<TopicAdmin>,
    /// Follower fetchers and ISR changes.
    pub replication: Arc<Replication>,
    pub fetch_sessions: FetchSessionCache,
    pub producer_ids: ProducerIdManager,
    pub groups: Arc<GroupService>,
    pub txns: Arc<TxnService>,
    /// Resolves when the server is shutting down: long-polling fetches return at once.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Broker {
    pub fn cluster_id(&self) -> &str {
        &self.cluster.cluster_id
    }
}
