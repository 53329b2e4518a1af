//! The state every request handler sees: configuration, identity, hosted partitions and the
//! fetch-session cache.

use crate::config::BrokerSettings;
use crate::producer_id_manager::ProducerIdManager;
use crate::replicas::FetchSessionCache;
use crate::replicas::ReplicaManager;

pub struct Broker {
    pub settings: std::sync::Arc<BrokerSettings>,
    pub node_id: i32,
    /// Host and port clients are told to connect to (Metadata, DescribeCluster).
    pub advertised_host: String,
    pub advertised_port: u16,
    pub replicas: std::sync::Arc<ReplicaManager>,
    /// Membership of the cluster: controller, registration, metadata image.
    pub cluster: std::sync::Arc<crate::cluster::Cluster>,
    /// Follower fetchers and ISR changes.
    pub replication: std::sync::Arc<crate::replication::Replication>,
    pub fetch_sessions: FetchSessionCache,
    pub producer_ids: ProducerIdManager,
    pub groups: std::sync::Arc<crate::group_coordinator::GroupService>,
    pub txns: crate::txn_coordinator::TxnService,
    /// Resolves when the server is shutting down: long-polling fetches return at once.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Broker {
    pub fn cluster_id(&self) -> &str {
        &self.cluster.cluster_id
    }
}
