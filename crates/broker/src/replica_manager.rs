//! The partitions this broker hosts, by topic: creating, deleting and reconfiguring topics,
//! opening their logs at startup, and the periodic retention and flush work.
//!
//! Reads take a snapshot of the topic map (an `Arc<Topic>` per topic) under a short read lock;
//! topic changes are serialised by `admin` and written to the [`TopicStore`] before they become
//! visible.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use sluice_log::{Clock, Log, LogError, SystemClock};
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::partition::Partition;
use crate::topic_config::{log_config, produce_settings, validate_topic_config, ProduceSettings};
use crate::topic_name::{collision_key, validate_topic_name};
use crate::topic_store::{TopicRecord, TopicStore};

/// Suffix of a partition directory whose topic was deleted and that awaits removal.
const DELETE_SUFFIX: &str = "-delete";

/// Topics the brokers own (group offsets, transaction state): clients may read but not delete
/// or repartition them.
pub fn is_internal_topic(name: &str) -> bool {
    name == "__consumer_offsets" || name == "__transaction_state"
}

pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    pub configs: BTreeMap<String, String>,
    /// Parsed from `configs` (and the broker's defaults) whenever they change.
    pub produce: ProduceSettings,
    pub partitions: Vec<Arc<Partition>>,
}

#[derive(Default)]
struct Topics {
    by_name: BTreeMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

/// An admin operation that failed, with Kafka's code and message.
#[derive(Debug, Clone)]
pub struct AdminError {
    pub code: ErrorCode,
    pub message: String,
}

impl AdminError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AdminError {
        AdminError {
            code,
            message: message.into(),
        }
    }
}

impl From<std::io::Error> for AdminError {
    fn from(e: std::io::Error) -> AdminError {
        AdminError::new(ErrorCode::KAFKA_STORAGE_ERROR, e.to_string())
    }
}

impl From<LogError> for AdminError {
    fn from(e: LogError) -> AdminError {
        AdminError::new(ErrorCode::KAFKA_STORAGE_ERROR, e.to_string())
    }
}

pub struct ReplicaManager {
    config: BrokerConfig,
    log_dir: PathBuf,
    store: TopicStore,
    clock: Arc<dyn Clock>,
    topics: RwLock<Topics>,
    /// Serialises topic changes (create, delete, partitions, configs).
    admin: Mutex<()>,
}

impl ReplicaManager {
    /// Opens every partition log found in the topic registry, recovering them if needed.
    pub fn open(config: BrokerConfig) -> Result<ReplicaManager, AdminError> {
        let log_dir = config.log_dir();
        let (store, records) = TopicStore::open(&log_dir, config.cluster_id())?;
        remove_deleted_dirs(&log_dir);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let manager = ReplicaManager {
            config,
            log_dir,
            store,
            clock,
            topics: RwLock::new(Topics::default()),
            admin: Mutex::new(()),
        };
        let mut topics = Topics::default();
        for record in records {
            let id = parse_uuid(&record.id).ok_or_else(|| {
                AdminError::new(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                    format!("topic {} has a malformed id '{}'", record.name, record.id),
                )
            })?;
            let topic = Arc::new(manager.open_topic(
                &record.name,
                id,
                record.partitions,
                record.configs,
            )?);
            topics.by_id.insert(id, topic.clone());
            topics.by_name.insert(record.name, topic);
        }
        *manager.write_topics() = topics;
        Ok(manager)
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn cluster_id(&self) -> &str {
        self.store.cluster_id()
    }

    fn read_topics(&self) -> std::sync::RwLockReadGuard<'_, Topics> {
        // A poisoned lock means a panic while swapping in a new map; the map itself is whole.
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_topics(&self) -> std::sync::RwLockWriteGuard<'_, Topics> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_admin(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admin.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.read_topics().by_name.get(name).cloned()
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.read_topics().by_id.get(id).cloned()
    }

    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.read_topics().by_name.values().cloned().collect()
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let topics = self.read_topics();
        let t = topics.by_name.get(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i))
            .cloned()
    }

    fn partition_dir(&self, topic: &str, index: i32) -> PathBuf {
        self.log_dir.join(format!("{topic}-{index}"))
    }

    fn open_partition(
        &self,
        topic: &Arc<str>,
        index: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Partition>, AdminError> {
        let dir = self.partition_dir(topic, index);
        let log = Log::open(&dir, log_config(&self.config, configs), self.clock.clone())?;
        Ok(Arc::new(Partition::new(
            topic.clone(),
            index,
            Arc::new(log),
            0,
        )))
    }

    fn open_topic(
        &self,
        name: &str,
        id: Uuid,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Topic, AdminError> {
        let name: Arc<str> = name.into();
        let parts = (0..partitions)
            .map(|i| self.open_partition(&name, i, &configs))
            .collect::<Result<Vec<_>, _>>()?;
        let produce = produce_settings(&self.config, &configs);
        Ok(Topic {
            name,
            id,
            configs,
            produce,
            partitions: parts,
        })
    }

    fn records(&self) -> Vec<TopicRecord> {
        self.read_topics()
            .by_name
            .values()
            .map(|t| TopicRecord {
                name: t.name.to_string(),
                id: t.id.simple().to_string(),
                partitions: t.partitions.len() as i32,
                configs: t.configs.clone(),
            })
            .collect()
    }

    fn save_with(&self, change: impl FnOnce(&mut Vec<TopicRecord>)) -> Result<(), AdminError> {
        let mut records = self.records();
        change(&mut records);
        self.store.save(&records)?;
        Ok(())
    }

    /// Checks a CreateTopics request without creating anything (also used for validate_only).
    pub fn check_new_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        validate_topic_name(name)
            .map_err(|m| AdminError::new(ErrorCode::INVALID_TOPIC_EXCEPTION, m))?;
        {
            let topics = self.read_topics();
            if topics.by_name.contains_key(name) {
                return Err(AdminError::new(
                    ErrorCode::TOPIC_ALREADY_EXISTS,
                    format!("Topic '{name}' already exists."),
                ));
            }
            let key = collision_key(name);
            if let Some(other) = topics.by_name.keys().find(|t| collision_key(t) == key) {
                return Err(AdminError::new(
                    ErrorCode::INVALID_TOPIC_EXCEPTION,
                    format!("Topic '{name}' collides with existing topic: {other}"),
                ));
            }
        }
        if partitions <= 0 {
            return Err(AdminError::new(
                ErrorCode::INVALID_PARTITIONS,
                format!(
                    "Number of partitions was set to an invalid non-positive value: {partitions}"
                ),
            ));
        }
        if partitions > 100_000 {
            return Err(AdminError::new(
                ErrorCode::INVALID_PARTITIONS,
                format!(
                    "Number of partitions {partitions} is more than this broker allows (100000)"
                ),
            ));
        }
        if replication_factor <= 0 {
            return Err(AdminError::new(
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!("Replication factor must be larger than 0, was {replication_factor}"),
            ));
        }
        if replication_factor > 1 {
            return Err(AdminError::new(
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!(
                    "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only 1 broker(s) are registered."
                ),
            ));
        }
        for (k, v) in configs {
            validate_topic_config(k, v)
                .map_err(|m| AdminError::new(ErrorCode::INVALID_CONFIG, m))?;
        }
        Ok(())
    }

    /// Creates a topic durably; returns it.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, AdminError> {
        let _admin = self.lock_admin();
        self.check_new_topic(name, partitions, replication_factor, &configs)?;
        let id = Uuid::new_v4();
        let topic = Arc::new(self.open_topic(name, id, partitions, configs)?);
        let record = TopicRecord {
            name: name.to_string(),
            id: id.simple().to_string(),
            partitions,
            configs: topic.configs.clone(),
        };
        self.save_with(|r| r.push(record))?;
        let mut topics = self.write_topics();
        topics.by_id.insert(id, topic.clone());
        topics.by_name.insert(name.to_string(), topic.clone());
        tracing::info!("created topic {name} with {partitions} partition(s)");
        Ok(topic)
    }

    /// Auto-creation on a Metadata request (`auto.create.topics.enable`).
    pub fn auto_create(&self, name: &str) -> Result<Arc<Topic>, AdminError> {
        match self.create_topic(
            name,
            self.config.num_partitions(),
            self.config.default_replication_factor().min(1),
            BTreeMap::new(),
        ) {
            Err(e) if e.code == ErrorCode::TOPIC_ALREADY_EXISTS => {
                self.topic(name).ok_or_else(|| {
                    AdminError::new(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "topic vanished")
                })
            }
            other => other,
        }
    }

    pub fn delete_topic(&self, name: &str) -> Result<Uuid, AdminError> {
        if !self.config.delete_topic_enable() {
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
        let _admin = self.lock_admin();
        let Some(topic) = self.topic(name) else {
            return Err(AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                "This server does not host this topic-partition.",
            ));
        };
        self.save_with(|r| r.retain(|t| t.name != name))?;
        {
            let mut topics = self.write_topics();
            topics.by_name.remove(name);
            topics.by_id.remove(&topic.id);
        }
        for p in &topic.partitions {
            let dir = self.partition_dir(name, p.index);
            let doomed = self.log_dir.join(format!(
                "{name}-{}.{}{DELETE_SUFFIX}",
                p.index,
                topic.id.simple()
            ));
            if let Err(e) = std::fs::rename(&dir, &doomed) {
                tracing::warn!("could not rename {} for deletion: {e}", dir.display());
                continue;
            }
            // Readers holding the log keep their open files; the directory goes away now.
            if let Err(e) = std::fs::remove_dir_all(&doomed) {
                tracing::warn!("could not remove {}: {e}", doomed.display());
            }
        }
        tracing::info!("deleted topic {name}");
        Ok(topic.id)
    }

    /// CreatePartitions: grows a topic to `total` partitions.
    pub fn create_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        if is_internal_topic(name) {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                format!("{name} is an internal topic and cannot be deleted or repartitioned"),
            ));
        }
        let _admin = self.lock_admin();
        let Some(topic) = self.topic(name) else {
            return Err(AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("The topic '{name}' does not exist."),
            ));
        };
        let current = topic.partitions.len() as i32;
        if total < current {
            return Err(AdminError::new(
                ErrorCode::INVALID_PARTITIONS,
                format!("Topic currently has {current} partitions, which is higher than the requested {total}."),
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
        if validate_only {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        for i in current..total {
            partitions.push(self.open_partition(&topic.name, i, &topic.configs)?);
        }
        let grown = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            configs: topic.configs.clone(),
            produce: topic.produce,
            partitions,
        });
        self.save_with(|r| {
            if let Some(t) = r.iter_mut().find(|t| t.name == name) {
                t.partitions = total;
            }
        })?;
        let mut topics = self.write_topics();
        topics.by_id.insert(grown.id, grown.clone());
        topics.by_name.insert(name.to_string(), grown);
        tracing::info!("topic {name} now has {total} partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides (AlterConfigs / IncrementalAlterConfigs, after the
    /// caller computed the new full set).
    pub fn set_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        for (k, v) in &configs {
            validate_topic_config(k, v)
                .map_err(|m| AdminError::new(ErrorCode::INVALID_CONFIG, m))?;
        }
        let _admin = self.lock_admin();
        let Some(topic) = self.topic(name) else {
            return Err(AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("Topic {name} does not exist."),
            ));
        };
        if validate_only {
            return Ok(());
        }
        self.save_with(|r| {
            if let Some(t) = r.iter_mut().find(|t| t.name == name) {
                t.configs = configs.clone();
            }
        })?;
        let described = describe_overrides(&configs);
        let log_cfg = log_config(&self.config, &configs);
        for p in &topic.partitions {
            p.log.update_config(log_cfg.clone());
        }
        let updated = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            produce: produce_settings(&self.config, &configs),
            configs,
            partitions: topic.partitions.clone(),
        });
        let mut topics = self.write_topics();
        topics.by_id.insert(updated.id, updated.clone());
        topics.by_name.insert(name.to_string(), updated);
        tracing::info!("updated configs of topic {name}: {}", described);
        Ok(())
    }

    /// One pass of time- and size-based retention over every partition, which also forgets
    /// producers idle for `producer.id.expiration.ms` (Kafka runs both on the same schedule).
    pub fn apply_retention(&self) {
        let now = self.clock.now_ms();
        let producer_max_age_ms = self.config.producer_id_expiration_ms();
        for topic in self.topics() {
            for p in &topic.partitions {
                if let Err(e) = p.log.apply_retention(p.high_watermark()) {
                    tracing::warn!("retention of {}-{} failed: {e}", topic.name, p.index);
                }
                let expired = p.log.expire_producers(now, producer_max_age_ms);
                if expired > 0 {
                    tracing::debug!(
                        "{}-{}: forgot {expired} idle producer(s)",
                        topic.name,
                        p.index
                    );
                }
            }
        }
    }

    /// One cleaning pass over every partition of a compacted topic (`cleanup.policy` contains
    /// `compact`); the log decides from its dirty ratio and lag settings whether to clean.
    pub fn clean_compacted(&self) {
        for topic in self.topics() {
            for p in &topic.partitions {
                if !p.log.config().compact {
                    continue;
                }
                match p.log.clean(p.high_watermark()) {
                    Ok(r) if r.cleaned_segments > 0 => tracing::info!(
                        "cleaned {}-{}: {} segment(s), {} -> {} bytes, {} record(s) removed",
                        topic.name,
                        p.index,
                        r.cleaned_segments,
                        r.bytes_before,
                        r.bytes_after,
                        r.records_removed
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("cleaning {}-{} failed: {e}", topic.name, p.index),
                }
            }
        }
    }

    /// Flushes partitions whose `flush.ms` has passed (the log decides whether one is due).
    pub fn flush_due(&self) {
        for topic in self.topics() {
            for p in &topic.partitions {
                if let Err(e) = p.log.flush_if_due() {
                    tracing::warn!("flush of {}-{} failed: {e}", topic.name, p.index);
                }
            }
        }
    }

    /// Flushes and closes every log (clean shutdown).
    pub fn close(&self) {
        for topic in self.topics() {
            for p in &topic.partitions {
                if let Err(e) = p.log.close() {
                    tracing::warn!("closing {}-{} failed: {e}", topic.name, p.index);
                }
            }
        }
    }
}

fn parse_uuid(hex: &str) -> Option<Uuid> {
    Uuid::parse_str(hex).ok()
}

fn remove_deleted_dirs(log_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(log_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(DELETE_SUFFIX) {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!("could not remove {}: {e}", entry.path().display());
            }
        }
    }
}

fn describe_overrides(configs: &BTreeMap<String, String>) -> String {
    if configs.is_empty() {
        return "no overrides".to_string();
    }
    configs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
