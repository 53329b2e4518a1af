//! The controller quorum as its leader sees it: who leads, in which term, how far the metadata
//! log is committed and how far each member has replicated it (Kafka's DescribeQuorum, KIP-595
//! and KIP-836, which `kafka-metadata-quorum describe --status|--replication` print).
//!
//! Only the leader knows the members' progress, so a node that does not lead forwards the
//! question there (see [`crate::Controller::describe_quorum`]).
//!
//! Offsets are Kafka's: the metadata log's offset of an entry is its Raft log index, and a log
//! end offset or high watermark is one past the last entry it covers (0: nothing).

use std::net::SocketAddr;
use std::time::SystemTime;

use serde::Deserialize;
use serde::Serialize;

use crate::log_store::LogStore;
use crate::raft_types::NodeId;
use crate::raft_types::Raft;
use crate::rpc::LeaderReply;

/// The quorum's state as its leader reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumDescription {
    pub leader_id: NodeId,
    /// The leader's Raft term (Kafka's leader epoch of `__cluster_metadata`).
    pub leader_epoch: u64,
    /// One past the last committed entry.
    pub high_watermark: i64,
    pub voters: Vec<QuorumMember>,
    /// Non-voting members (brokers that are not controllers follow the log as learners).
    pub observers: Vec<QuorumMember>,
}

/// One member's replication progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumMember {
    pub node_id: NodeId,
    /// One past the last entry the leader knows this member holds; -1 while unknown.
    pub log_end_offset: i64,
    /// When the member was last known to hold everything the leader had (milliseconds since the
    /// Unix epoch); -1 while unknown. Only the leader's own entry has one: openraft reports the
    /// leader's last quorum acknowledgement, not each follower's.
    pub last_caught_up_timestamp_ms: i64,
    /// Its controller listener, as the membership records it.
    pub address: Option<SocketAddr>,
}

/// The index of the last metadata log entry this node knows to be committed (`None`: none):
/// what openraft last saved as committed in `log`, or `last_applied` if that is further (only
/// committed entries apply, and a snapshot installed from the leader moves the applied index
/// without a save). On the leader it is the quorum's commit index; elsewhere the leader's as
/// last heard. Not the last applied entry alone: applying trails committing.
pub(crate) fn committed_index(log: &LogStore, last_applied: Option<u64>) -> Option<u64> {
    log.committed().map(|c| c.index).max(last_applied)
}

/// What this node answers if it leads; otherwise who it thinks leads.
pub(crate) fn describe_local(raft: &Raft, log: &LogStore) -> LeaderReply<QuorumDescription> {
    let metrics = raft.metrics().borrow().clone();
    if metrics.current_leader != Some(metrics.id) {
        return LeaderReply::NotLeader {
            leader: metrics.current_leader,
        };
    }
    let membership = metrics.membership_config.membership();
    let end_of = |index: Option<u64>| index.map_or(0, |i| i as i64 + 1);
    let leader_end = end_of(metrics.last_log_index);
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(-1, |d| d.as_millis() as i64);
    let member = |id: NodeId| {
        let log_end_offset = if id == metrics.id {
            leader_end
        } else {
            metrics
                .replication
                .as_ref()
                .and_then(|r| r.get(&id))
                .map_or(-1, |matched| end_of(matched.map(|l| l.index)))
        };
        QuorumMember {
            node_id: id,
            log_end_offset,
            last_caught_up_timestamp_ms: if id == metrics.id { now_ms } else { -1 },
            address: membership.get_node(&id).and_then(|n| n.addr.parse().ok()),
        }
    };
    let voters: Vec<NodeId> = membership.voter_ids().collect();
    let observers = membership
        .nodes()
        .map(|(id, _)| *id)
        .filter(|id| !voters.contains(id))
        .map(member)
        .collect();
    LeaderReply::Answered {
        result: Ok(QuorumDescription {
            leader_id: metrics.id,
            leader_epoch: metrics.current_term,
            high_watermark: end_of(committed_index(log, metrics.last_applied.map(|l| l.index))),
            voters: voters.into_iter().map(member).collect(),
            observers,
        }),
        log_index: None,
    }
}
