//! The metadata image: the cluster state that the committed metadata log describes (KRaft's
//! `MetadataImage`), and the rules by which a [`MetadataCommand`] changes it.
//!
//! Applying is deterministic and free of I/O: no clock (time comes inside commands), no
//! randomness (topic ids come inside commands), no iteration over hash maps. Every controller
//! applies the same commands in the same order and reaches the same image and the same result
//! for each command. A command is validated completely before anything changes, so a rejected
//! command leaves the image as it was (except [`MetadataImage::offset`], which counts every
//! applied log entry).
//!
//! - `brokers`: registration, heartbeats, fencing, broker configs.
//! - `topics`: topic creation and deletion, partitions added, topic configs.
//! - `partitions`: leader and ISR changes (AlterPartition, elections).
//! - `credentials`: SCRAM credentials per user and mechanism.
//! - `acls`: ACL bindings (CreateAcls, DeleteAcls).
//! - `quotas`: client quotas (AlterClientQuotas).
//! - `features`: finalized feature levels (UpdateFeatures, KIP-584).

mod acls;
mod brokers;
mod credentials;
mod features;
mod partitions;
mod quotas;
mod topics;

pub use credentials::StoredScramCredential;
pub use features::{
    FeatureUpdate, FeatureUpgradeType, SupportedFeature, GROUP_VERSION, METADATA_VERSION,
    SUPPORTED_FEATURES, TRANSACTION_VERSION,
};

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use serde::Deserialize;
use serde::Serialize;
use sluice_security::acl::AclBinding;
use sluice_security::quota::QuotaStore;
use uuid::Uuid;

use crate::command::CommandError;
use crate::command::CommandOutput;
use crate::command::CommandResult;
use crate::command::ConfigOp;
use crate::command::MetadataCommand;

/// A registered broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub broker_id: i32,
    pub incarnation_id: Uuid,
    /// Where other brokers reach it (its advertised inter-broker listener).
    pub host: String,
    pub port: u16,
    /// Every advertised listener, by name; clients are answered with the one they connected
    /// through. Empty in registrations written before listeners were recorded.
    #[serde(default)]
    pub listeners: Vec<ListenerEndpoint>,
    /// The HTTP services it serves other nodes forward to, by name (`schema-registry`): their
    /// URLs.
    #[serde(default)]
    pub http_endpoints: BTreeMap<String, String>,
    pub rack: Option<String>,
    /// Log index of the registration; requests carrying an older epoch are stale.
    pub broker_epoch: i64,
    /// A fenced broker leads nothing and joins no ISR.
    pub fenced: bool,
    /// Time of the last heartbeat (or of the registration), from the proposer's clock.
    pub last_heartbeat_ms: i64,
    /// Log directories the broker reported offline since it registered (KIP-858).
    #[serde(default)]
    pub offline_log_dirs: Vec<Uuid>,
    /// Its replicas (topic id, partition) in those directories: they may not lead nor join an
    /// ISR until the broker registers again (with the directory back).
    #[serde(default)]
    pub offline_replicas: std::collections::BTreeSet<(Uuid, i32)>,
}

/// One advertised listener of a broker (Kafka's registration endpoint).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerEndpoint {
    /// Upper case, as `listeners` names it.
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Kafka's numbering: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL.
    pub security_protocol: i16,
}

impl BrokerRegistration {
    /// Where a client that connected through listener `name` reaches this broker: that
    /// listener's endpoint; `None` when the broker has no such listener. A registration without
    /// listeners (older) has its one endpoint under every name.
    pub fn endpoint(&self, name: &str) -> Option<(&str, u16)> {
        if self.listeners.is_empty() {
            return Some((self.host.as_str(), self.port));
        }
        self.listeners
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .map(|l| (l.host.as_str(), l.port))
    }
}

/// One partition of a topic. Its id is its position in [`TopicImage::partitions`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Assigned replicas; the first is the preferred leader. Never empty, no duplicates.
    pub replicas: Vec<i32>,
    /// In-sync replicas. invariant: a subset of `replicas` without duplicates, holding `leader`
    /// when there is one.
    pub isr: Vec<i32>,
    /// `None` when no replica can lead (Kafka's leader -1).
    pub leader: Option<i32>,
    /// Bumped whenever the leader changes.
    pub leader_epoch: i32,
    /// Bumped on every change of this state (KRaft's partition epoch).
    pub partition_epoch: i32,
    /// Replicas an ongoing reassignment adds (KIP-455): in `replicas`, not yet all in sync.
    /// Empty when no reassignment is in progress.
    #[serde(default)]
    pub adding_replicas: Vec<i32>,
    /// Replicas an ongoing reassignment drops once every target replica is in sync.
    #[serde(default)]
    pub removing_replicas: Vec<i32>,
}

impl PartitionState {
    /// Whether a reassignment is in progress.
    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }

    /// The replicas the partition ends with: `replicas` without those being removed.
    pub fn target_replicas(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.removing_replicas.contains(r))
            .collect()
    }

    /// The replicas the partition had before the ongoing reassignment (what a cancel reverts
    /// to): `replicas` without those being added.
    pub fn original_replicas(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.adding_replicas.contains(r))
            .collect()
    }
}

/// A topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub topic_id: Uuid,
    /// Indexed by partition id. Never empty.
    pub partitions: Vec<PartitionState>,
    /// Topic-level config overrides (Kafka's names, values as given).
    pub configs: BTreeMap<String, String>,
}

impl TopicImage {
    pub fn partition(&self, partition: i32) -> Option<&PartitionState> {
        usize::try_from(partition)
            .ok()
            .and_then(|p| self.partitions.get(p))
    }
}

/// The whole cluster metadata as of log index [`MetadataImage::offset`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredImage")]
pub struct MetadataImage {
    /// Log index of the last entry applied; 0 before any.
    offset: u64,
    brokers: BTreeMap<i32, BrokerRegistration>,
    topics: BTreeMap<String, TopicImage>,
    /// invariant: maps exactly the id of every topic in `topics` to its name. Not serialized:
    /// rebuilt from `topics` on deserialization (see `StoredImage`).
    #[serde(skip)]
    topic_names_by_id: BTreeMap<Uuid, String>,
    /// Per-broker dynamic configs; a broker id maps to a non-empty map.
    broker_configs: BTreeMap<i32, BTreeMap<String, String>>,
    /// Cluster-wide default broker configs.
    cluster_configs: BTreeMap<String, String>,
    /// The first producer id not allocated yet (AllocateProducerIds).
    #[serde(default)]
    next_producer_id: i64,
    /// SCRAM credentials by user, then mechanism type number.
    #[serde(default)]
    scram_credentials: BTreeMap<String, BTreeMap<i8, StoredScramCredential>>,
    /// Whether a [`MetadataCommand::Bootstrap`] was applied (later ones are no-ops).
    #[serde(default)]
    bootstrapped: bool,
    /// The ACL bindings (CreateAcls, DeleteAcls).
    #[serde(default)]
    acls: BTreeSet<AclBinding>,
    /// Log index of the last command that changed `acls` (0: never), so that brokers rebuild
    /// their authorizer only when the bindings changed.
    #[serde(default)]
    acls_offset: u64,
    /// Client quotas (AlterClientQuotas).
    #[serde(default)]
    quotas: QuotaStore,
    /// Log index of the last change to `quotas` (0: never).
    #[serde(default)]
    quotas_offset: u64,
    /// Finalized feature levels that were set (UpdateFeatures); a feature not here is at its
    /// default level (see `features`).
    #[serde(default)]
    feature_levels: BTreeMap<String, i16>,
    /// Log index of the last change to `feature_levels` (0: never): the finalized-features
    /// epoch.
    #[serde(default)]
    features_offset: u64,
}

/// The serialized fields of [`MetadataImage`]; deserializing goes through it so that the
/// indexes are always rebuilt.
#[derive(Deserialize)]
struct StoredImage {
    offset: u64,
    brokers: BTreeMap<i32, BrokerRegistration>,
    topics: BTreeMap<String, TopicImage>,
    broker_configs: BTreeMap<i32, BTreeMap<String, String>>,
    cluster_configs: BTreeMap<String, String>,
    /// Absent in snapshots written before producer ids were allocated here.
    #[serde(default)]
    next_producer_id: i64,
    /// Absent in snapshots written before SCRAM credentials.
    #[serde(default)]
    scram_credentials: BTreeMap<String, BTreeMap<i8, StoredScramCredential>>,
    /// Absent in snapshots written before bootstrap metadata.
    #[serde(default)]
    bootstrapped: bool,
    /// Absent in snapshots written before ACLs.
    #[serde(default)]
    acls: BTreeSet<AclBinding>,
    #[serde(default)]
    acls_offset: u64,
    /// Absent in snapshots written before client quotas.
    #[serde(default)]
    quotas: QuotaStore,
    #[serde(default)]
    quotas_offset: u64,
    /// Absent in snapshots written before feature levels.
    #[serde(default)]
    feature_levels: BTreeMap<String, i16>,
    #[serde(default)]
    features_offset: u64,
}

impl From<StoredImage> for MetadataImage {
    fn from(stored: StoredImage) -> Self {
        let topic_names_by_id = stored
            .topics
            .values()
            .map(|t| (t.topic_id, t.name.clone()))
            .collect();
        MetadataImage {
            offset: stored.offset,
            brokers: stored.brokers,
            topics: stored.topics,
            topic_names_by_id,
            broker_configs: stored.broker_configs,
            cluster_configs: stored.cluster_configs,
            next_producer_id: stored.next_producer_id,
            scram_credentials: stored.scram_credentials,
            bootstrapped: stored.bootstrapped,
            acls: stored.acls,
            acls_offset: stored.acls_offset,
            quotas: stored.quotas,
            quotas_offset: stored.quotas_offset,
            feature_levels: stored.feature_levels,
            features_offset: stored.features_offset,
        }
    }
}

impl MetadataImage {
    /// Log index of the last entry applied (KRaft's metadata offset); 0 before any.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn brokers(&self) -> &BTreeMap<i32, BrokerRegistration> {
        &self.brokers
    }

    pub fn broker(&self, broker_id: i32) -> Option<&BrokerRegistration> {
        self.brokers.get(&broker_id)
    }

    /// Topics by name.
    pub fn topics(&self) -> &BTreeMap<String, TopicImage> {
        &self.topics
    }

    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    pub fn topic_by_id(&self, topic_id: &Uuid) -> Option<&TopicImage> {
        self.topic_names_by_id
            .get(topic_id)
            .and_then(|name| self.topics.get(name))
    }

    /// Dynamic configs of one broker (empty when it has none).
    pub fn broker_configs(&self, broker_id: i32) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.broker_configs.get(&broker_id).unwrap_or(&EMPTY)
    }

    /// Cluster-wide default broker configs.
    pub fn cluster_configs(&self) -> &BTreeMap<String, String> {
        &self.cluster_configs
    }

    /// Applies the command of the log entry at `offset`. Deterministic; on `Err` nothing but the
    /// offset changed.
    pub fn apply(&mut self, offset: u64, command: &MetadataCommand) -> CommandResult {
        self.advance_offset(offset);
        match command {
            MetadataCommand::RegisterBroker {
                broker_id,
                incarnation_id,
                host,
                port,
                listeners,
                http_endpoints,
                rack,
                timestamp_ms,
            } => self.register_broker(
                *broker_id,
                *incarnation_id,
                (host, *port),
                (listeners, http_endpoints),
                rack.as_deref(),
                *timestamp_ms,
            ),
            MetadataCommand::UnregisterBroker { broker_id } => self.unregister_broker(*broker_id),
            MetadataCommand::BrokerHeartbeat {
                broker_id,
                broker_epoch,
                timestamp_ms,
            } => self.broker_heartbeat(*broker_id, *broker_epoch, *timestamp_ms),
            MetadataCommand::FenceBroker {
                broker_id,
                broker_epoch,
            } => self.set_fenced(*broker_id, *broker_epoch, true),
            MetadataCommand::UnfenceBroker {
                broker_id,
                broker_epoch,
            } => self.set_fenced(*broker_id, *broker_epoch, false),
            MetadataCommand::CreateTopic {
                name,
                topic_id,
                assignments,
                configs,
            } => self.create_topic(name, *topic_id, assignments, configs),
            MetadataCommand::DeleteTopic { topic_id } => self.delete_topic(*topic_id),
            MetadataCommand::CreatePartitions { topic, assignments } => {
                self.create_partitions(topic, assignments)
            }
            MetadataCommand::AlterTopicConfig { topic, ops } => self.alter_topic_config(topic, ops),
            MetadataCommand::AlterBrokerConfig { broker_id, ops } => {
                self.alter_broker_config(*broker_id, ops)
            }
            MetadataCommand::ChangePartition {
                topic_id,
                partition,
                expected_leader_epoch,
                expected_partition_epoch,
                leader,
                isr,
            } => self.change_partition(
                *topic_id,
                *partition,
                *expected_leader_epoch,
                *expected_partition_epoch,
                *leader,
                isr,
            ),
            MetadataCommand::Batch(commands) => self.apply_batch(offset, commands),
            MetadataCommand::AllocateProducerIds {
                broker_id,
                broker_epoch,
                count,
                min_first_id,
            } => self.allocate_producer_ids(*broker_id, *broker_epoch, *count, *min_first_id),
            MetadataCommand::ReassignPartition {
                topic_id,
                partition,
                target,
            } => self.reassign_partition(*topic_id, *partition, target.as_deref()),
            MetadataCommand::UpsertScramCredential {
                user,
                mechanism,
                credential,
            } => self.upsert_scram_credential(user, *mechanism, credential),
            MetadataCommand::DeleteScramCredential { user, mechanism } => {
                self.delete_scram_credential(user, *mechanism)
            }
            MetadataCommand::CreateAcls { bindings } => {
                let output = self.create_acls(bindings)?;
                self.acls_offset = offset;
                Ok(output)
            }
            MetadataCommand::DeleteAcls { filters } => {
                let output = self.delete_acls(filters);
                self.acls_offset = offset;
                Ok(output)
            }
            MetadataCommand::AlterClientQuota { entity, ops } => {
                let ops: Vec<(&str, Option<f64>)> = ops
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.map(|v| v.0)))
                    .collect();
                self.quotas
                    .alter_entity(entity, &ops)
                    .map_err(|e| CommandError::InvalidRequest(e.to_string()))?;
                self.quotas_offset = offset;
                done()
            }
            MetadataCommand::MarkReplicasOffline {
                broker_id,
                broker_epoch,
                log_dirs,
                replicas,
            } => self.mark_replicas_offline(*broker_id, *broker_epoch, log_dirs, replicas),
            MetadataCommand::UpdateFeatures { updates } => self.update_features(updates),
            MetadataCommand::Bootstrap { commands } => {
                if self.bootstrapped {
                    return done();
                }
                let output = self.apply_batch(offset, commands)?;
                self.bootstrapped = true;
                Ok(output)
            }
        }
    }

    /// The first producer id not allocated yet.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    fn allocate_producer_ids(
        &mut self,
        broker_id: i32,
        broker_epoch: i64,
        count: i64,
        min_first_id: i64,
    ) -> CommandResult {
        let broker = self
            .brokers
            .get(&broker_id)
            .ok_or(CommandError::BrokerIdNotRegistered(broker_id))?;
        if broker.broker_epoch != broker_epoch {
            return Err(CommandError::StaleBrokerEpoch {
                broker_id,
                current: broker.broker_epoch,
                requested: broker_epoch,
            });
        }
        if !(1..=1_000_000).contains(&count) {
            return Err(CommandError::InvalidRequest(format!(
                "a producer id block of {count} ids (1 to 1000000)"
            )));
        }
        let first_id = self.next_producer_id.max(min_first_id).max(0);
        let next = first_id
            .checked_add(count)
            .ok_or_else(|| CommandError::InvalidRequest("producer ids exhausted".into()))?;
        self.next_producer_id = next;
        Ok(CommandOutput::ProducerIds { first_id, count })
    }

    /// All or nothing: the commands apply to a copy, which replaces the image only when every
    /// one of them succeeded. They share the batch's offset (two registrations in one batch get
    /// the same broker epoch).
    fn apply_batch(&mut self, offset: u64, commands: &[MetadataCommand]) -> CommandResult {
        let mut next = self.clone();
        let mut outputs = Vec::with_capacity(commands.len());
        for (index, command) in commands.iter().enumerate() {
            let result = match command {
                MetadataCommand::Batch(_) | MetadataCommand::Bootstrap { .. } => Err(
                    CommandError::InvalidRequest("a batch inside a batch".into()),
                ),
                command => next.apply(offset, command),
            };
            match result {
                Ok(output) => outputs.push(output),
                Err(error) => {
                    return Err(CommandError::BatchFailed {
                        index,
                        error: Box::new(error),
                    })
                }
            }
        }
        *self = next;
        Ok(CommandOutput::Batch(outputs))
    }

    /// Records that the log entry at `offset` was applied (also for Raft's own entries, which
    /// carry no command).
    pub fn advance_offset(&mut self, offset: u64) {
        debug_assert!(offset >= self.offset, "log entries are applied in order");
        self.offset = offset;
    }

    /// The image as snapshot bytes (JSON).
    pub fn to_snapshot_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Reads an image written by [`MetadataImage::to_snapshot_bytes`].
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    fn is_live_broker(&self, broker_id: i32) -> bool {
        self.brokers.get(&broker_id).is_some_and(|b| !b.fenced)
    }
}

/// Checks every op first, then applies them in order to `configs`.
fn apply_config_ops(
    configs: &mut BTreeMap<String, String>,
    ops: &[ConfigOp],
) -> Result<(), CommandError> {
    for op in ops {
        let name = match op {
            ConfigOp::Set { name, .. } | ConfigOp::Delete { name } => name,
        };
        if name.is_empty() {
            return Err(CommandError::InvalidConfig("empty config name".into()));
        }
    }
    for op in ops {
        match op {
            ConfigOp::Set { name, value } => {
                configs.insert(name.clone(), value.clone());
            }
            ConfigOp::Delete { name } => {
                configs.remove(name);
            }
        }
    }
    Ok(())
}

fn done() -> CommandResult {
    Ok(CommandOutput::Done)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// An image with brokers `ids` registered (epoch = 10 + id) and unfenced.
    pub(crate) fn image_with_brokers(ids: &[i32]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for &id in ids {
            let offset = 10 + id as u64;
            let r = image.apply(
                offset,
                &MetadataCommand::RegisterBroker {
                    broker_id: id,
                    incarnation_id: Uuid::from_u128(id as u128 + 1),
                    host: "127.0.0.1".into(),
                    port: 9092,
                    listeners: Vec::new(),
                    http_endpoints: Default::default(),
                    rack: None,
                    timestamp_ms: 0,
                },
            );
            assert_eq!(
                r,
                Ok(CommandOutput::BrokerRegistered {
                    broker_epoch: offset as i64
                })
            );
            unfence(&mut image, id);
        }
        image
    }

    pub(crate) fn unfence(image: &mut MetadataImage, id: i32) {
        let epoch = image.broker(id).unwrap().broker_epoch;
        let offset = image.offset() + 1;
        image
            .apply(
                offset,
                &MetadataCommand::UnfenceBroker {
                    broker_id: id,
                    broker_epoch: epoch,
                },
            )
            .unwrap();
    }

    pub(crate) fn fence(image: &mut MetadataImage, id: i32) {
        let epoch = image.broker(id).unwrap().broker_epoch;
        let offset = image.offset() + 1;
        image
            .apply(
                offset,
                &MetadataCommand::FenceBroker {
                    broker_id: id,
                    broker_epoch: epoch,
                },
            )
            .unwrap();
    }

    /// Applies at the next offset.
    pub(crate) fn apply(image: &mut MetadataImage, command: MetadataCommand) -> CommandResult {
        let offset = image.offset() + 1;
        image.apply(offset, &command)
    }

    pub(crate) fn create_topic(
        image: &mut MetadataImage,
        name: &str,
        id: u128,
        assignments: Vec<Vec<i32>>,
    ) -> CommandResult {
        apply(
            image,
            MetadataCommand::CreateTopic {
                name: name.into(),
                topic_id: Uuid::from_u128(id),
                assignments,
                configs: BTreeMap::new(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn snapshot_bytes_round_trip_and_rebuild_the_id_index() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "a", 1, vec![vec![1, 2], vec![2, 3]]).unwrap();
        create_topic(&mut image, "b", 2, vec![vec![3]]).unwrap();
        apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: Some(2),
                ops: vec![ConfigOp::Set {
                    name: "log.retention.ms".into(),
                    value: "5".into(),
                }],
            },
        )
        .unwrap();
        let bytes = image.to_snapshot_bytes().unwrap();
        let back = MetadataImage::from_snapshot_bytes(&bytes).unwrap();
        assert_eq!(back, image);
        assert_eq!(back.topic_by_id(&Uuid::from_u128(2)).unwrap().name, "b");
        assert_eq!(back.broker_configs(2).get("log.retention.ms").unwrap(), "5");
        assert!(back.broker_configs(1).is_empty());
    }

    #[test]
    fn producer_id_blocks_never_overlap_and_survive_snapshots() {
        let mut image = image_with_brokers(&[1, 2]);
        let epoch = |image: &MetadataImage, id| image.broker(id).unwrap().broker_epoch;
        let alloc =
            |broker_id, broker_epoch, count, min_first_id| MetadataCommand::AllocateProducerIds {
                broker_id,
                broker_epoch,
                count,
                min_first_id,
            };
        let e1 = epoch(&image, 1);
        let e2 = epoch(&image, 2);
        assert_eq!(
            apply(&mut image, alloc(1, e1, 1000, 0)),
            Ok(CommandOutput::ProducerIds {
                first_id: 0,
                count: 1000
            })
        );
        assert_eq!(
            apply(&mut image, alloc(2, e2, 1000, 0)),
            Ok(CommandOutput::ProducerIds {
                first_id: 1000,
                count: 1000
            })
        );
        // A broker that handed out ids on its own before starts the next block above them.
        assert_eq!(
            apply(&mut image, alloc(1, e1, 10, 5000)),
            Ok(CommandOutput::ProducerIds {
                first_id: 5000,
                count: 10
            })
        );
        assert_eq!(image.next_producer_id(), 5010);
        // Bad requests change nothing.
        assert!(matches!(
            apply(&mut image, alloc(1, e1 + 7, 10, 0)),
            Err(CommandError::StaleBrokerEpoch { .. })
        ));
        assert!(matches!(
            apply(&mut image, alloc(9, 1, 10, 0)),
            Err(CommandError::BrokerIdNotRegistered(9))
        ));
        assert!(matches!(
            apply(&mut image, alloc(1, e1, 0, 0)),
            Err(CommandError::InvalidRequest(_))
        ));
        assert!(matches!(
            apply(&mut image, alloc(1, e1, 10, i64::MAX - 5)),
            Err(CommandError::InvalidRequest(_))
        ));
        assert_eq!(image.next_producer_id(), 5010);
        let back = MetadataImage::from_snapshot_bytes(&image.to_snapshot_bytes().unwrap()).unwrap();
        assert_eq!(back.next_producer_id(), 5010);
        // A snapshot from before this field existed reads as 0.
        let mut old: serde_json::Value =
            serde_json::from_slice(&image.to_snapshot_bytes().unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("next_producer_id");
        let old = MetadataImage::from_snapshot_bytes(&serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(old.next_producer_id(), 0);
    }

    #[test]
    fn a_rejected_command_changes_nothing_but_the_offset() {
        let mut image = image_with_brokers(&[1]);
        create_topic(&mut image, "a", 1, vec![vec![1]]).unwrap();
        let before = image.clone();
        let r = create_topic(&mut image, "a", 2, vec![vec![1]]);
        assert_eq!(r, Err(CommandError::TopicAlreadyExists("a".into())));
        assert_eq!(image.offset(), before.offset() + 1);
        let mut rewound = image.clone();
        rewound.offset = before.offset;
        assert_eq!(rewound, before);
    }

    fn fence_1_and_elect(leader: i32, isr: Vec<i32>, epoch: i64) -> MetadataCommand {
        MetadataCommand::Batch(vec![
            MetadataCommand::FenceBroker {
                broker_id: 1,
                broker_epoch: epoch,
            },
            MetadataCommand::ChangePartition {
                topic_id: Uuid::from_u128(1),
                partition: 0,
                expected_leader_epoch: 0,
                expected_partition_epoch: 0,
                leader: Some(leader),
                isr,
            },
        ])
    }

    #[test]
    fn a_batch_applies_in_order_against_the_evolving_image() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "a", 1, vec![vec![1, 2, 3]]).unwrap();
        let epoch = image.broker(1).unwrap().broker_epoch;
        let r = apply(&mut image, fence_1_and_elect(2, vec![2, 3], epoch));
        assert_eq!(
            r,
            Ok(CommandOutput::Batch(vec![
                CommandOutput::Done,
                CommandOutput::PartitionChanged {
                    leader: Some(2),
                    leader_epoch: 1,
                    partition_epoch: 1
                },
            ]))
        );
        assert!(image.broker(1).unwrap().fenced);
        assert_eq!(image.topic("a").unwrap().partitions[0].leader, Some(2));
    }

    #[test]
    fn a_failing_batch_changes_nothing_and_names_the_failing_command() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "a", 1, vec![vec![1, 2, 3]]).unwrap();
        let epoch = image.broker(1).unwrap().broker_epoch;
        let before = image.clone();
        let create_b = |id| MetadataCommand::CreateTopic {
            name: "b".into(),
            topic_id: Uuid::from_u128(id),
            assignments: vec![vec![2]],
            configs: BTreeMap::new(),
        };
        // The third command sees the topic the second created: the batch fails as a whole.
        let batch = MetadataCommand::Batch(vec![
            MetadataCommand::FenceBroker {
                broker_id: 1,
                broker_epoch: epoch,
            },
            create_b(2),
            create_b(3),
        ]);
        let r = apply(&mut image, batch);
        assert_eq!(
            r,
            Err(CommandError::BatchFailed {
                index: 2,
                error: Box::new(CommandError::TopicAlreadyExists("b".into())),
            })
        );
        assert_eq!(r.unwrap_err().error_code(), 36);
        let mut rewound = image.clone();
        rewound.offset = before.offset;
        assert_eq!(rewound, before, "nothing but the offset changed");
        assert!(!image.broker(1).unwrap().fenced);

        // Nested batches are refused, also all or nothing.
        let nested = MetadataCommand::Batch(vec![
            MetadataCommand::UnregisterBroker { broker_id: 3 },
            MetadataCommand::Batch(vec![]),
        ]);
        let r = apply(&mut image, nested);
        assert!(
            matches!(r, Err(CommandError::BatchFailed { index: 1, .. })),
            "{r:?}"
        );
        assert!(image.broker(3).is_some());
        assert_eq!(
            apply(&mut image, MetadataCommand::Batch(vec![])),
            Ok(CommandOutput::Batch(vec![]))
        );
    }

    #[test]
    fn same_commands_same_image() {
        let build = || {
            let mut image = image_with_brokers(&[1, 2, 3]);
            create_topic(&mut image, "x", 9, vec![vec![3, 1], vec![1, 2], vec![2, 3]]).unwrap();
            fence(&mut image, 3);
            image
        };
        assert_eq!(
            build().to_snapshot_bytes().unwrap(),
            build().to_snapshot_bytes().unwrap()
        );
    }
}
