//! [`ControllerConfig`]: what a controller needs to start, with Kafka's names where Kafka has
//! one, and its validation; [`ClusterManagerConfig`]: how the active controller manages brokers
//! and partition leaders.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ControllerError;
use crate::network::ClientSettings;
use crate::raft_types::NodeId;
use crate::transport::ControllerTransport;
use crate::transport::PlaintextTransport;

/// Settings of the active controller's cluster management (broker sessions, fencing, leader
/// elections; see `cluster_manager`). Kafka's names are given per field.
#[derive(Clone, Debug)]
pub struct ClusterManagerConfig {
    /// A broker that sends no heartbeat for this long is fenced (`broker.session.timeout.ms`).
    pub session_timeout_ms: u64,
    /// How often the leader looks for expired sessions and partitions to elect a leader for.
    pub check_interval_ms: u64,
    /// Static default of `unclean.leader.election.enable`: when no replica of the ISR can lead,
    /// elect another replica and accept losing what only the ISR had. Overridden by the
    /// dynamic cluster-wide broker config of the same name, and per topic by the topic config.
    pub unclean_leader_election: bool,
    /// Move leadership back to preferred replicas (`auto.leader.rebalance.enable`).
    pub auto_leader_rebalance: bool,
    /// Period of the preferred leader elections (`leader.imbalance.check.interval.seconds`,
    /// in milliseconds here).
    pub leader_imbalance_check_interval_ms: u64,
    /// This cluster's id (the controller's `meta.properties`): brokers registering with another
    /// one are refused. Empty: not checked.
    pub cluster_id: String,
}

impl Default for ClusterManagerConfig {
    fn default() -> Self {
        ClusterManagerConfig {
            session_timeout_ms: 9000,
            check_interval_ms: 250,
            unclean_leader_election: false,
            auto_leader_rebalance: true,
            leader_imbalance_check_interval_ms: 300_000,
            cluster_id: String::new(),
        }
    }
}

/// Configuration of one controller. [`ControllerConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// This node's id (Kafka's `node.id`).
    pub node_id: NodeId,
    /// Every voter of the quorum and its controller address (`controller.quorum.voters`, see
    /// [`parse_quorum_voters`](crate::parse_quorum_voters)). Contains `node_id` exactly when
    /// `voter` is set.
    pub voters: BTreeMap<NodeId, SocketAddr>,
    /// True for a controller (Kafka's `process.roles` with `controller`), the default. False
    /// for a broker-only node (`process.roles=broker`): it joins as a non-voting member (an
    /// openraft learner) that receives the log and applies the image, and forwards its
    /// proposals to the leader.
    pub voter: bool,
    /// Address the controller listener binds (used by
    /// [`Controller::start`](crate::Controller::start)). A non-voter gives its bound address to
    /// the leader, which replicates to it there: it must be reachable from the voters (not a
    /// wildcard address).
    pub listen: SocketAddr,
    /// Directory of the Raft log, vote and snapshot (created if missing).
    pub data_dir: PathBuf,
    /// Period of leader heartbeats. openraft also uses it as the AppendEntries timeout, so it
    /// must exceed a follower's fsync plus a round trip.
    pub heartbeat_interval_ms: u64,
    /// A follower that hears no leader for a random time in [this, 2 x this) starts an election
    /// (Kafka's `controller.quorum.election.timeout.ms`).
    pub election_timeout_ms: u64,
    /// Bound of one [`Controller::propose`](crate::Controller::propose) (finding the leader,
    /// forwarding, committing) and of each InstallSnapshot chunk and server-side frame read.
    pub request_timeout_ms: u64,
    /// A snapshot is taken after this many log entries since the last one.
    pub snapshot_interval_entries: u64,
    /// Entries kept in the log behind a snapshot, so that a briefly lagging follower catches
    /// up from the log instead of a snapshot.
    pub log_entries_kept_after_snapshot: u64,
    /// Largest controller RPC frame sent or accepted. Commands are limited to half of it.
    pub frame_bytes_max: usize,
    /// Snapshot bytes per InstallSnapshot RPC.
    pub snapshot_chunk_bytes: usize,
    /// Connections the controller listener serves at once.
    pub max_connections: usize,
    /// Broker lifecycle management by the leader.
    pub cluster: ClusterManagerConfig,
    /// How controller connections are set up on both ends: TCP as it is by default; the
    /// server passes TLS and SASL when the controller listener's security protocol asks for
    /// them.
    pub transport: Arc<dyn ControllerTransport>,
    /// Test hook: every proposal is sent a second time with the same proposer and sequence
    /// after it applied, as a retry after a lost answer would; the second result is returned.
    #[doc(hidden)]
    pub resend_every_proposal: bool,
}

impl ControllerConfig {
    pub fn new(
        node_id: NodeId,
        voters: BTreeMap<NodeId, SocketAddr>,
        listen: SocketAddr,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        ControllerConfig {
            node_id,
            voters,
            voter: true,
            listen,
            data_dir: data_dir.into(),
            heartbeat_interval_ms: 150,
            election_timeout_ms: 1000,
            request_timeout_ms: 5000,
            snapshot_interval_entries: 10_000,
            log_entries_kept_after_snapshot: 1000,
            frame_bytes_max: 32 << 20,
            snapshot_chunk_bytes: 1 << 20,
            max_connections: 64,
            cluster: ClusterManagerConfig::default(),
            transport: Arc::new(PlaintextTransport),
            resend_every_proposal: false,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ControllerError> {
        let fail = |why: String| Err(ControllerError::Config(why));
        let voter_ids = self.voters.keys().collect::<Vec<_>>();
        if self.voter && !self.voters.contains_key(&self.node_id) {
            return fail(format!(
                "node.id {} is not one of the controller.quorum.voters {voter_ids:?}",
                self.node_id,
            ));
        }
        if !self.voter && (self.voters.is_empty() || self.voters.contains_key(&self.node_id)) {
            return fail(format!(
                "a non-voting node.id {} must not be one of the controller.quorum.voters \
                 {voter_ids:?}, which must not be empty",
                self.node_id,
            ));
        }
        if self.heartbeat_interval_ms == 0 || self.election_timeout_ms <= self.heartbeat_interval_ms
        {
            return fail(format!(
                "the election timeout ({} ms) must exceed the heartbeat interval ({} ms), which \
                 must not be 0",
                self.election_timeout_ms, self.heartbeat_interval_ms
            ));
        }
        if self.request_timeout_ms == 0 || self.snapshot_interval_entries == 0 {
            return fail("request timeout and snapshot interval must not be 0".into());
        }
        if self.max_connections == 0 {
            return fail("max connections must not be 0".into());
        }
        let cluster = &self.cluster;
        if cluster.session_timeout_ms == 0
            || cluster.check_interval_ms == 0
            || cluster.leader_imbalance_check_interval_ms == 0
        {
            return fail(format!(
                "broker.session.timeout.ms ({}), the cluster check interval ({} ms) and \
                 leader.imbalance.check.interval ({} ms) must not be 0",
                cluster.session_timeout_ms,
                cluster.check_interval_ms,
                cluster.leader_imbalance_check_interval_ms
            ));
        }
        // Room for a chunk's metadata (membership, ids) beside its data.
        if self.snapshot_chunk_bytes == 0
            || self.snapshot_chunk_bytes.saturating_add(64 << 10) > self.frame_bytes_max
        {
            return fail(format!(
                "snapshot chunks of {} bytes do not fit frames of {} bytes",
                self.snapshot_chunk_bytes, self.frame_bytes_max
            ));
        }
        Ok(())
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub(crate) fn command_bytes_max(&self) -> usize {
        self.frame_bytes_max / 2
    }

    pub(crate) fn client_settings(&self) -> ClientSettings {
        ClientSettings {
            frame_bytes_max: self.frame_bytes_max,
            connect_timeout: self.request_timeout(),
            transport: self.transport.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ControllerConfig {
        let voters = BTreeMap::from([(1, "127.0.0.1:1".parse().unwrap())]);
        ControllerConfig::new(1, voters, "127.0.0.1:0".parse().unwrap(), "/nonexistent")
    }

    #[test]
    fn defaults_are_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn invalid_configs() {
        let mut c = config();
        c.node_id = 2;
        assert!(c.validate().is_err());
        let mut c = config();
        c.election_timeout_ms = c.heartbeat_interval_ms;
        assert!(c.validate().is_err());
        let mut c = config();
        c.snapshot_chunk_bytes = c.frame_bytes_max;
        assert!(c.validate().is_err());
        let mut c = config();
        c.max_connections = 0;
        assert!(c.validate().is_err());
        let mut c = config();
        c.cluster.session_timeout_ms = 0;
        assert!(c.validate().is_err());
        let mut c = config();
        c.cluster.check_interval_ms = 0;
        assert!(c.validate().is_err());
        let mut c = config();
        c.voter = false;
        assert!(c.validate().is_err(), "a non-voter listed as a voter");
        c.node_id = 2;
        c.validate().unwrap();
        c.voters.clear();
        assert!(c.validate().is_err(), "a non-voter without voters");
    }
}
