//! The openraft type configuration of the controller quorum, and short names for its types.

use std::io::Cursor;

use crate::command::CommandResult;
use crate::proposers::Proposal;

openraft::declare_raft_types!(
    /// Raft entries carry [`Proposal`]s (a `MetadataCommand` and who proposed it); applying one
    /// yields a [`CommandResult`]. Node ids are Kafka `node.id`s; a node's `addr` is its
    /// controller listener. Snapshots are the serialized [`MetadataImage`](crate::MetadataImage)
    /// and proposer table, held in memory.
    pub TypeConfig:
        D = Proposal,
        R = CommandResult,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type NodeId = u64;
pub type Node = openraft::BasicNode;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Node>;
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
pub type Raft = openraft::Raft<TypeConfig>;
