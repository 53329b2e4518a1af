//! The controller quorum member's settings, from the broker's.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use sluice_controller::{ClusterManagerConfig, ControllerConfig};

use crate::config::BrokerSettings;

/// The controller's settings from the broker config. A node without `controller.quorum.voters`
/// is a standalone quorum of one whose controller listener is `listen`.
pub fn controller_config(
    settings: &BrokerSettings,
    listen: SocketAddr,
    cluster_id: &str,
) -> ControllerConfig {
    let node_id = settings.node_id as u64;
    let voters = settings
        .quorum_voters
        .clone()
        .unwrap_or_else(|| BTreeMap::from([(node_id, listen)]));
    let mut c = ControllerConfig::new(node_id, voters, listen, settings.metadata_log_dir.clone());
    c.voter = settings.process_roles.is_controller();
    c.election_timeout_ms = settings.controller_quorum_election_timeout_ms;
    c.heartbeat_interval_ms = (c.election_timeout_ms / 5).max(1);
    c.request_timeout_ms = settings.controller_quorum_request_timeout_ms;
    c.cluster = ClusterManagerConfig {
        session_timeout_ms: settings.broker_session_timeout_ms,
        unclean_leader_election: settings.unclean_leader_election_enable,
        auto_leader_rebalance: settings.auto_leader_rebalance_enable,
        leader_imbalance_check_interval_ms: settings.leader_imbalance_check_interval_ms,
        cluster_id: cluster_id.to_string(),
        ..ClusterManagerConfig::default()
    };
    c
}
