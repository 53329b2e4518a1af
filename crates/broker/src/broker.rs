//! [`Broker`]: a running broker's parts, as the server wired them (tests reach into them).

use std::sync::Arc;

use crate::apis::KafkaApis;
use crate::cluster::Cluster;
use crate::config::BrokerSettings;
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
}

impl Broker {
    pub fn cluster_id(&self) -> &str {
        &self.cluster.cluster_id
    }
}
