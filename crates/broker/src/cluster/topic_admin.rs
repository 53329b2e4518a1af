//! [`TopicAdmin`]: topic administration through the controller quorum. CreateTopics,
//! DeleteTopics, CreatePartitions and topic config changes (and dynamic broker config changes)
//! are checked against the current metadata image, proposed as metadata commands, and answered
//! once this broker applied the image that holds them (so a client that creates a topic and
//! then produces to this broker finds it).

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_controller::{place_replicas, ConfigOp, MetadataCommand, MetadataImage};
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

use super::cluster_id::LEGACY_TOPICS_FILE;
use super::membership::{command_error, Cluster};
use super::metadata_publisher::MetadataPublisher;
use crate::config::{validate_topic_config, BrokerSettings};
use crate::replicas::{is_internal_topic, AdminError, ReplicaManager, Topic};

/// A new topic's request.
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    /// Explicit replica assignment (index = partition id), instead of placement.
    pub assignments: Option<Vec<Vec<i32>>>,
    pub configs: BTreeMap<String, String>,
}

/// Topic changes, proposed to the controller and applied here before they are answered.
pub struct TopicAdmin {
    cluster: Arc<Cluster>,
    replicas: Arc<ReplicaManager>,
    publisher: Arc<MetadataPublisher>,
    settings: Arc<BrokerSettings>,
}

fn assignments_for(image: &MetadataImage, topic: &NewTopic) -> Result<Vec<Vec<i32>>, AdminError> {
    if let Some(assignments) = &topic.assignments {
        check_assignments(image, assignments, None)?;
        return Ok(assignments.clone());
    }
    place_replicas(
        image,
        topic.partitions as usize,
        topic.replication_factor as usize,
        rand_seed(),
    )
    .map_err(|e| command_error(&e))
}

/// Checks an explicit replica assignment: every partition lists the same number of distinct,
/// registered brokers (`expected_rf` when the topic already has one).
fn check_assignments(
    image: &MetadataImage,
    assignments: &[Vec<i32>],
    expected_rf: Option<usize>,
) -> Result<(), AdminError> {
    let bad = |m: String| Err(AdminError::new(ErrorCode::INVALID_REPLICA_ASSIGNMENT, m));
    let rf = expected_rf.unwrap_or_else(|| assignments.first().map_or(0, Vec::len));
    for (i, replicas) in assignments.iter().enumerate() {
        if replicas.is_empty() {
            return bad(format!("Partition {i} has an empty replica list."));
        }
        if replicas.len() != rf {
            return bad(format!(
                "Partition {i} has {} replica(s), the others {rf}: all partitions need the same replication factor.",
                replicas.len()
            ));
        }
        let mut seen = replicas.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != replicas.len() {
            return bad(format!("Partition {i} lists a broker twice: {replicas:?}."));
        }
        if let Some(b) = replicas.iter().find(|b| image.broker(**b).is_none()) {
            return bad(format!(
                "Partition {i} names broker {b}, which is not registered."
            ));
        }
    }
    Ok(())
}

fn rand_seed() -> u64 {
    let bytes = Uuid::new_v4().into_bytes();
    u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]))
}

impl TopicAdmin {
    pub fn new(
        cluster: Arc<Cluster>,
        replicas: Arc<ReplicaManager>,
        publisher: Arc<MetadataPublisher>,
        settings: Arc<BrokerSettings>,
    ) -> TopicAdmin {
        TopicAdmin {
            cluster,
            replicas,
            publisher,
            settings,
        }
    }

    /// CreateTopics for one topic: returns the new topic's id (nil when `validate_only`).
    pub async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<Uuid, AdminError> {
        let image = self.cluster.image();
        self.replicas.check_new_topic(
            &image,
            &topic.name,
            topic.partitions,
            topic.replication_factor,
            &topic.configs,
        )?;
        let assignments = assignments_for(&image, &topic)?;
        if validate_only {
            return Ok(Uuid::nil());
        }
        let topic_id = Uuid::new_v4();
        self.cluster
            .propose(MetadataCommand::CreateTopic {
                name: topic.name.clone(),
                topic_id,
                assignments,
                configs: topic.configs,
            })
            .await?;
        self.publisher.publish_latest().await;
        tracing::info!(
            "created topic {} with {} partition(s)",
            topic.name,
            topic.partitions
        );
        Ok(topic_id)
    }

    /// The topic `name` as this broker sees it, created with `partitions` partitions,
    /// `replication_factor` replicas and `configs` if the cluster has none of that name
    /// (auto-creation, internal topics). A concurrent creation by another request counts as
    /// success.
    pub async fn ensure_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, AdminError> {
        if let Some(t) = self.replicas.topic(name) {
            return Ok(t);
        }
        let new = NewTopic {
            name: name.to_string(),
            partitions,
            replication_factor,
            assignments: None,
            configs,
        };
        match self.create_topic(new, false).await {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::TOPIC_ALREADY_EXISTS => {
                self.publisher.publish_latest().await;
            }
            Err(e) => return Err(e),
        }
        self.replicas.topic(name).ok_or_else(|| {
            AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic {name} vanished after its creation"),
            )
        })
    }

    /// DeleteTopics for one topic: returns its id.
    pub async fn delete_topic(&self, name: &str) -> Result<Uuid, AdminError> {
        if !self.settings.delete_topic_enable {
            return Err(AdminError::new(
                ErrorCode::TOPIC_DELETION_DISABLED,
                "Topic deletion is disabled (delete.topic.enable=false).",
            ));
        }
        if is_internal_topic(name) {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                format!("{name} is an internal topic and cannot be deleted or repartitioned"),
            ));
        }
        let image = self.cluster.image();
        let Some(topic) = image.topic(name) else {
            return Err(AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                "This server does not host this topic-partition.",
            ));
        };
        let topic_id = topic.topic_id;
        self.cluster
            .propose(MetadataCommand::DeleteTopic { topic_id })
            .await?;
        self.publisher.publish_latest().await;
        Ok(topic_id)
    }

    /// CreatePartitions: grows topic `name` to `total` partitions, placed by the controller's rules
    /// or as `assignments` (one replica list per new partition) say.
    pub async fn create_partitions(
        &self,
        name: &str,
        total: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        if is_internal_topic(name) {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                format!("{name} is an internal topic and cannot be deleted or repartitioned"),
            ));
        }
        let image = self.cluster.image();
        let Some(topic) = image.topic(name) else {
            return Err(AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("The topic '{name}' does not exist."),
            ));
        };
        let current = topic.partitions.len() as i32;
        if total < current {
            return Err(AdminError::new(
                ErrorCode::INVALID_PARTITIONS,
                format!(
                    "Topic currently has {current} partitions, which is higher than the requested {total}."
                ),
            ));
        }
        if total == current {
            return Err(AdminError::new(
                ErrorCode::INVALID_PARTITIONS,
                format!("Topic already has {current} partitions."),
            ));
        }
        if total > 100_000 {
            return Err(AdminError::new(
                ErrorCode::INVALID_PARTITIONS,
                "Too many partitions (limit 100000).",
            ));
        }
        let added = (total - current) as usize;
        let rf = topic.partitions[0].replicas.len();
        let new_assignments = match assignments {
            Some(a) => {
                if a.len() != added {
                    return Err(AdminError::new(
                        ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        format!(
                            "Increasing the number of partitions by {added} but {} assignments provided.",
                            a.len()
                        ),
                    ));
                }
                check_assignments(&image, &a, Some(rf))?;
                a
            }
            None => {
                place_replicas(&image, added, rf, rand_seed()).map_err(|e| command_error(&e))?
            }
        };
        if validate_only {
            return Ok(());
        }
        self.cluster
            .propose(MetadataCommand::CreatePartitions {
                topic: name.to_string(),
                assignments: new_assignments,
            })
            .await?;
        self.publisher.publish_latest().await;
        tracing::info!("topic {name} now has {total} partitions");
        Ok(())
    }

    /// Replaces topic `name`'s config overrides with `configs` (AlterConfigs and
    /// IncrementalAlterConfigs, after the caller computed the new full set).
    pub async fn set_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        for (k, v) in &configs {
            validate_topic_config(k, v)
                .map_err(|m| AdminError::new(ErrorCode::INVALID_CONFIG, m))?;
        }
        let image = self.cluster.image();
        let Some(topic) = image.topic(name) else {
            return Err(AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("Topic {name} does not exist."),
            ));
        };
        if validate_only {
            return Ok(());
        }
        let mut ops: Vec<ConfigOp> = topic
            .configs
            .keys()
            .filter(|k| !configs.contains_key(*k))
            .map(|k| ConfigOp::Delete { name: k.clone() })
            .collect();
        ops.extend(
            configs
                .iter()
                .filter(|(k, v)| topic.configs.get(*k) != Some(*v))
                .map(|(k, v)| ConfigOp::Set {
                    name: k.clone(),
                    value: v.clone(),
                }),
        );
        if ops.is_empty() {
            return Ok(());
        }
        self.cluster
            .propose(MetadataCommand::AlterTopicConfig {
                topic: name.to_string(),
                ops,
            })
            .await?;
        self.publisher.publish_latest().await;
        Ok(())
    }

    /// The broker-level defaults of topic configs this broker runs with now.
    pub fn topic_defaults(&self) -> crate::config::TopicDefaults {
        self.replicas.topic_defaults()
    }

    /// The dynamic configs of a broker resource in the newest image: broker `Some(id)`'s own,
    /// or the cluster-wide defaults (`None`).
    pub fn broker_configs(&self, broker_id: Option<i32>) -> BTreeMap<String, String> {
        let image = self.cluster.image();
        match broker_id {
            Some(id) => image.broker_configs(id).clone(),
            None => image.cluster_configs().clone(),
        }
    }

    /// Replaces the dynamic configs of a broker resource (broker `Some(id)`, or the
    /// cluster-wide defaults) with `configs`, which the caller checked (AlterConfigs and
    /// IncrementalAlterConfigs on a broker resource). Any broker stores the configs of any
    /// broker id: they go to the metadata log, which every broker follows.
    pub async fn set_broker_configs(
        &self,
        broker_id: Option<i32>,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        if validate_only {
            return Ok(());
        }
        let current = self.broker_configs(broker_id);
        let mut ops: Vec<ConfigOp> = current
            .keys()
            .filter(|k| !configs.contains_key(*k))
            .map(|k| ConfigOp::Delete { name: k.clone() })
            .collect();
        ops.extend(
            configs
                .iter()
                .filter(|(k, v)| current.get(*k) != Some(*v))
                .map(|(k, v)| ConfigOp::Set {
                    name: k.clone(),
                    value: v.clone(),
                }),
        );
        if ops.is_empty() {
            return Ok(());
        }
        self.cluster
            .propose(MetadataCommand::AlterBrokerConfig { broker_id, ops })
            .await?;
        self.publisher.publish_latest().await;
        match broker_id {
            Some(id) => tracing::info!("dynamic configs of broker {id} changed"),
            None => tracing::info!("cluster-wide dynamic broker configs changed"),
        }
        Ok(())
    }

    /// Migrates the topic registry of Sluice versions before the controller quorum
    /// (`__sluice_topics.json`): each topic becomes a CreateTopic command with its old id and
    /// configs, its partitions on this broker; the file is then renamed `.migrated`.
    pub async fn migrate_legacy_topics(&self) -> Result<(), AdminError> {
        #[derive(serde::Deserialize)]
        struct Record {
            name: String,
            id: String,
            partitions: i32,
            #[serde(default)]
            configs: BTreeMap<String, String>,
        }
        #[derive(serde::Deserialize)]
        struct File {
            topics: Vec<Record>,
        }
        let path = self.settings.log_dir.join(LEGACY_TOPICS_FILE);
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(());
        };
        let file: File = serde_json::from_slice(&bytes).map_err(|e| {
            AdminError::new(
                ErrorCode::KAFKA_STORAGE_ERROR,
                format!("{} is not a valid topic registry: {e}", path.display()),
            )
        })?;
        for record in file.topics {
            if self.cluster.image().topic(&record.name).is_some() {
                continue;
            }
            let topic_id = Uuid::parse_str(&record.id).map_err(|_| {
                AdminError::new(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                    format!("topic {} has a malformed id '{}'", record.name, record.id),
                )
            })?;
            let assignments = vec![vec![self.cluster.node_id]; record.partitions.max(1) as usize];
            self.cluster
                .propose(MetadataCommand::CreateTopic {
                    name: record.name.clone(),
                    topic_id,
                    assignments,
                    configs: record.configs,
                })
                .await?;
            tracing::info!("migrated topic {} into the cluster metadata", record.name);
        }
        std::fs::rename(&path, path.with_extension("json.migrated"))?;
        self.publisher.publish_latest().await;
        Ok(())
    }
}
