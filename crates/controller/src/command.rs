//! The commands of the metadata log (the analogue of KRaft's metadata records) and their typed
//! results.
//!
//! A command is what a proposer asks for; it becomes a Raft log entry, and every node applies it
//! to its [`MetadataImage`](crate::MetadataImage) with the same outcome. Commands carry every
//! input that is not already in the image (timestamps, topic ids, broker incarnation ids), so
//! that applying them needs no clock and no randomness.
//!
//! Compatibility: commands are stored in the Raft log (JSON, see `log_store`) and sent between
//! controllers (postcard, see `rpc`). New variants go at the end of [`MetadataCommand`]; fields
//! are not removed or reordered once released.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;
use sluice_security::acl::AclBinding;
use sluice_security::acl::AclBindingFilter;
use sluice_security::quota::QuotaEntity;
use uuid::Uuid;

use crate::image::FeatureUpdate;
use crate::image::ListenerEndpoint;
use crate::image::StoredScramCredential;

/// Result of applying one command: what changed, or why nothing did.
pub type CommandResult = Result<CommandOutput, CommandError>;

/// One change to a topic's or broker's dynamic configuration: IncrementalAlterConfigs' SET and
/// DELETE. APPEND and SUBTRACT on list configs are resolved by the proposer against the image it
/// read, into a SET.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigOp {
    Set { name: String, value: String },
    Delete { name: String },
}

/// A change to the cluster metadata. Broker ids, partition ids, epochs and replica ids use
/// Kafka's integer types so that they go into Kafka responses unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataCommand {
    /// BrokerRegistration: a broker (re)joins. The broker epoch it gets is the log index of this
    /// command (as in KRaft). A new registration starts fenced; the broker is unfenced once it has
    /// caught up with the metadata log.
    RegisterBroker {
        broker_id: i32,
        /// Random id the broker process picks at start: a retry of the same registration has the
        /// same one, a restarted process has a new one.
        incarnation_id: Uuid,
        host: String,
        port: u16,
        /// Every advertised listener (absent in commands written before they were recorded).
        #[serde(default)]
        listeners: Vec<ListenerEndpoint>,
        /// Its HTTP services' URLs, by name (absent in older commands).
        #[serde(default)]
        http_endpoints: std::collections::BTreeMap<String, String>,
        rack: Option<String>,
        timestamp_ms: i64,
    },
    /// UnregisterBroker: forget a broker (decommissioning).
    UnregisterBroker { broker_id: i32 },
    /// BrokerHeartbeat: record that the broker is alive at `timestamp_ms`.
    BrokerHeartbeat {
        broker_id: i32,
        broker_epoch: i64,
        timestamp_ms: i64,
    },
    /// Fence a broker: its heartbeats stopped or it shut down. Moving leadership and ISR
    /// membership away from it are separate [`MetadataCommand::ChangePartition`]s.
    FenceBroker { broker_id: i32, broker_epoch: i64 },
    /// Unfence a broker: it caught up and may lead and join ISRs again.
    UnfenceBroker { broker_id: i32, broker_epoch: i64 },
    /// CreateTopics with the replica assignment already chosen (index = partition id; the first
    /// replica of each list is the preferred leader).
    CreateTopic {
        name: String,
        topic_id: Uuid,
        assignments: Vec<Vec<i32>>,
        configs: BTreeMap<String, String>,
    },
    /// DeleteTopics, by id so that a delete cannot hit a topic re-created under the same name.
    DeleteTopic { topic_id: Uuid },
    /// CreatePartitions: the replica assignments of the partitions to add, in partition order.
    CreatePartitions {
        topic: String,
        assignments: Vec<Vec<i32>>,
    },
    /// IncrementalAlterConfigs on a topic.
    AlterTopicConfig { topic: String, ops: Vec<ConfigOp> },
    /// IncrementalAlterConfigs on a broker; `broker_id: None` is the cluster-wide default (Kafka's
    /// broker resource with an empty name).
    AlterBrokerConfig {
        broker_id: Option<i32>,
        ops: Vec<ConfigOp>,
    },
    /// A new leader and ISR for one partition: the result of an AlterPartition request or of a
    /// leader election. The expected epochs are those of the partition state the proposer based
    /// the change on (optimistic concurrency, as AlterPartition's leaderEpoch/partitionEpoch).
    ChangePartition {
        topic_id: Uuid,
        partition: i32,
        expected_leader_epoch: i32,
        expected_partition_epoch: i32,
        leader: Option<i32>,
        isr: Vec<i32>,
    },
    /// Several commands applied atomically, in order, as one log entry: each is validated
    /// against the image as the earlier ones left it, and either all apply or none does (the
    /// result is then [`CommandError::BatchFailed`] naming the first one rejected). For changes
    /// that must commit together, e.g. fencing a broker and the leader elections it causes.
    /// Batches do not nest.
    Batch(Vec<MetadataCommand>),
    /// AllocateProducerIds (KIP-730): a block of `count` producer ids for a broker's
    /// InitProducerId answers, unique in the cluster. The block starts at the next unallocated
    /// id, or at `min_first_id` if that is higher (ids a broker handed out before the cluster
    /// allocated them).
    AllocateProducerIds {
        broker_id: i32,
        broker_epoch: i64,
        count: i64,
        min_first_id: i64,
    },
    /// AlterPartitionReassignments (KIP-455) for one partition: move it to the `target`
    /// replicas (the first is the preferred leader), or cancel the ongoing reassignment
    /// (`None`). New replicas are added to the partition's replicas at once and followed; the
    /// reassignment completes, dropping the replicas not in the target, when every target
    /// replica is in the ISR.
    ReassignPartition {
        topic_id: Uuid,
        partition: i32,
        target: Option<Vec<i32>>,
    },
    /// AlterUserScramCredentials (KIP-554) upsertion: `user`'s credential for `mechanism`
    /// (Kafka's type number: 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512), replacing any it had.
    UpsertScramCredential {
        user: String,
        mechanism: i8,
        credential: StoredScramCredential,
    },
    /// AlterUserScramCredentials deletion.
    DeleteScramCredential { user: String, mechanism: i8 },
    /// The bootstrap metadata a node's storage was formatted with (`sluice storage format`):
    /// applied atomically like a [`MetadataCommand::Batch`] by the first bootstrap of the
    /// cluster, a no-op for any later one (see `bootstrap`). Does not nest.
    Bootstrap { commands: Vec<MetadataCommand> },
    /// CreateAcls: add `bindings` (validated by the proposer; one already present stays, as
    /// Kafka answers success for it).
    CreateAcls { bindings: Vec<AclBinding> },
    /// DeleteAcls: remove every binding each filter matches.
    DeleteAcls { filters: Vec<AclBindingFilter> },
    /// AlterClientQuotas for one entity: set (`Some`) or remove (`None`) each key, all or
    /// none (validated again when applied).
    AlterClientQuota {
        entity: QuotaEntity,
        ops: Vec<(String, Option<QuotaValue>)>,
    },
    /// A broker's log directories failed (KIP-858): `log_dirs` are offline, and with them its
    /// replicas `replicas` (topic id, partition), which may no longer lead nor join the ISR
    /// until the broker registers again. Added to what the registration already records.
    /// Taking the replicas out of ISRs and leaderships are separate
    /// [`MetadataCommand::ChangePartition`]s in the same batch.
    MarkReplicasOffline {
        broker_id: i32,
        broker_epoch: i64,
        log_dirs: Vec<Uuid>,
        replicas: Vec<(Uuid, i32)>,
    },
    /// UpdateFeatures (KIP-584, KIP-778): new finalized feature levels, all or none
    /// (validated again when applied).
    UpdateFeatures { updates: Vec<FeatureUpdate> },
}

/// A quota value in a command: finite and positive once validated, so equality is total.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaValue(pub f64);

impl Eq for QuotaValue {}

/// What an applied command did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandOutput {
    /// Applied; nothing to report (also the result of Raft's own blank and membership entries).
    Done,
    /// The broker is registered with this epoch (a retried registration gets the same epoch).
    BrokerRegistered { broker_epoch: i64 },
    /// The partition's state after the change (unchanged when the change was a no-op).
    PartitionChanged {
        leader: Option<i32>,
        leader_epoch: i32,
        partition_epoch: i32,
    },
    /// A [`MetadataCommand::Batch`] applied: the output of each of its commands, in order.
    Batch(Vec<CommandOutput>),
    /// Producer ids `[first_id, first_id + count)` are the proposer's.
    ProducerIds { first_id: i64, count: i64 },
    /// A [`MetadataCommand::DeleteAcls`] applied: per filter, in order, the bindings it removed
    /// (a binding two filters match is reported under the first).
    AclsDeleted(Vec<Vec<AclBinding>>),
}

/// Why a command was rejected. A rejected command changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CommandError {
    #[error("topic '{0}' already exists")]
    TopicAlreadyExists(String),
    #[error("invalid topic: {0}")]
    InvalidTopic(String),
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),
    #[error("unknown topic id {0}")]
    UnknownTopicId(Uuid),
    #[error("topic id {topic_id} has no partition {partition}")]
    UnknownPartition { topic_id: Uuid, partition: i32 },
    #[error("invalid partitions: {0}")]
    InvalidPartitions(String),
    #[error("invalid replication factor: {0}")]
    InvalidReplicationFactor(String),
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("broker {0} is not registered")]
    BrokerIdNotRegistered(i32),
    #[error("broker {0} is registered by another live process")]
    DuplicateBrokerRegistration(i32),
    #[error("broker {broker_id} has epoch {current}, the request has {requested}")]
    StaleBrokerEpoch {
        broker_id: i32,
        current: i64,
        requested: i64,
    },
    #[error("partition leader epoch is {current}, the request has {requested}")]
    FencedLeaderEpoch { current: i32, requested: i32 },
    #[error("partition epoch is {current}, the request has {requested}")]
    InvalidUpdateVersion { current: i32, requested: i32 },
    #[error("ineligible replica: {0}")]
    IneligibleReplica(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The command at `index` of a [`MetadataCommand::Batch`] was rejected, so none applied.
    #[error("command {index} of the batch failed, none applied: {error}")]
    BatchFailed {
        index: usize,
        error: Box<CommandError>,
    },
    /// A proposal older than the last one applied for its proposer: an attempt its proposer
    /// gave up on (see `proposers`); not applied.
    #[error("proposal {sequence} is older than the last one applied ({last_applied})")]
    StaleProposal { sequence: u64, last_applied: u64 },
    #[error("no reassignment of {topic}-{partition} is in progress")]
    NoReassignmentInProgress { topic: String, partition: i32 },
    #[error(
        "broker {broker_id} belongs to cluster {broker_cluster_id} (its meta.properties), but the controller quorum is cluster {cluster_id}"
    )]
    InconsistentClusterId {
        broker_id: i32,
        broker_cluster_id: String,
        cluster_id: String,
    },
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("unsupported SASL mechanism {0}")]
    UnsupportedSaslMechanism(i8),
    /// A feature level that is not supported, or a downgrade without a downgrade type.
    #[error("{0}")]
    InvalidFeatureUpdate(String),
}

/// Kafka error codes (`org.apache.kafka.common.protocol.Errors`).
pub(crate) mod kafka_error {
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const STALE_BROKER_EPOCH: i16 = 77;
    pub const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
    pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
    pub const ELECTION_NOT_NEEDED: i16 = 84;
    pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;
    pub const INVALID_UPDATE_VERSION: i16 = 95;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const DUPLICATE_BROKER_REGISTRATION: i16 = 101;
    pub const BROKER_ID_NOT_REGISTERED: i16 = 102;
    pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
    pub const RESOURCE_NOT_FOUND: i16 = 91;
    pub const INCONSISTENT_CLUSTER_ID: i16 = 104;
    pub const INELIGIBLE_REPLICA: i16 = 107;
}

impl CommandError {
    /// The Kafka error code that a request handler answers with.
    pub fn error_code(&self) -> i16 {
        use kafka_error::*;
        match self {
            CommandError::UnknownTopic(_) | CommandError::UnknownPartition { .. } => {
                UNKNOWN_TOPIC_OR_PARTITION
            }
            CommandError::InvalidTopic(_) => INVALID_TOPIC_EXCEPTION,
            CommandError::TopicAlreadyExists(_) => TOPIC_ALREADY_EXISTS,
            CommandError::InvalidPartitions(_) => INVALID_PARTITIONS,
            CommandError::InvalidReplicationFactor(_) => INVALID_REPLICATION_FACTOR,
            CommandError::InvalidReplicaAssignment(_) => INVALID_REPLICA_ASSIGNMENT,
            CommandError::InvalidConfig(_) => INVALID_CONFIG,
            CommandError::InvalidRequest(_) => INVALID_REQUEST,
            CommandError::FencedLeaderEpoch { .. } => FENCED_LEADER_EPOCH,
            CommandError::StaleBrokerEpoch { .. } => STALE_BROKER_EPOCH,
            CommandError::InvalidUpdateVersion { .. } | CommandError::InvalidFeatureUpdate(_) => {
                INVALID_UPDATE_VERSION
            }
            CommandError::UnknownTopicId(_) => UNKNOWN_TOPIC_ID,
            CommandError::DuplicateBrokerRegistration(_) => DUPLICATE_BROKER_REGISTRATION,
            CommandError::BrokerIdNotRegistered(_) => BROKER_ID_NOT_REGISTERED,
            CommandError::IneligibleReplica(_) => INELIGIBLE_REPLICA,
            CommandError::BatchFailed { error, .. } => error.error_code(),
            CommandError::StaleProposal { .. } => OUT_OF_ORDER_SEQUENCE_NUMBER,
            CommandError::NoReassignmentInProgress { .. } => NO_REASSIGNMENT_IN_PROGRESS,
            CommandError::InconsistentClusterId { .. } => INCONSISTENT_CLUSTER_ID,
            CommandError::ResourceNotFound(_) => RESOURCE_NOT_FOUND,
            CommandError::UnsupportedSaslMechanism(_) => UNSUPPORTED_SASL_MECHANISM,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_kafkas() {
        assert_eq!(
            CommandError::TopicAlreadyExists("t".into()).error_code(),
            36
        );
        assert_eq!(CommandError::UnknownTopicId(Uuid::nil()).error_code(), 100);
        assert_eq!(
            CommandError::InvalidUpdateVersion {
                current: 1,
                requested: 0
            }
            .error_code(),
            95
        );
        assert_eq!(
            CommandError::IneligibleReplica(String::new()).error_code(),
            107
        );
        let failed = CommandError::BatchFailed {
            index: 1,
            error: Box::new(CommandError::UnknownTopicId(Uuid::nil())),
        };
        assert_eq!(failed.error_code(), 100);
    }

    #[test]
    fn commands_round_trip_through_json_and_postcard() {
        let cmd = MetadataCommand::CreateTopic {
            name: "orders".into(),
            topic_id: Uuid::from_u128(7),
            assignments: vec![vec![1, 2], vec![2, 1]],
            configs: BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]),
        };
        let json = serde_json::to_vec(&cmd).unwrap();
        assert_eq!(
            serde_json::from_slice::<MetadataCommand>(&json).unwrap(),
            cmd
        );
        let bin = postcard::to_stdvec(&cmd).unwrap();
        assert_eq!(postcard::from_bytes::<MetadataCommand>(&bin).unwrap(), cmd);
        let offline = MetadataCommand::MarkReplicasOffline {
            broker_id: 2,
            broker_epoch: 9,
            log_dirs: vec![Uuid::from_u128(3)],
            replicas: vec![(Uuid::from_u128(7), 1)],
        };
        let json = serde_json::to_vec(&offline).unwrap();
        assert_eq!(
            serde_json::from_slice::<MetadataCommand>(&json).unwrap(),
            offline
        );
        let bin = postcard::to_stdvec(&offline).unwrap();
        assert_eq!(
            postcard::from_bytes::<MetadataCommand>(&bin).unwrap(),
            offline
        );
    }
}
