//! The topics of the cluster as this broker sees them, and the partition replicas it hosts.
//!
//! The controller's metadata image is the truth: [`ReplicaManager::apply_image`] makes the
//! local state match it (opening the logs of replicas assigned to this broker, deleting those of
//! deleted topics, applying config changes, taking or giving up leadership). Admin requests
//! (CreateTopics, DeleteTopics, ...) propose commands to the controller (the cluster layer) and
//! then apply the image that holds them.
//!
//! Reads take a snapshot of the topic map (an `Arc<Topic>` per topic) under a short read lock;
//! applying images is serialised by `apply`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use sluice_controller::MetadataImage;
use sluice_log::{Clock, Log, SystemClock};
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

use super::admin_error::AdminError;
use super::high_watermark_checkpoint::{
    format_hw_checkpoint, read_hw_checkpoint, write_file_atomically, HW_CHECKPOINT_FILE,
};
use super::partition::Partition;
use super::partition_metadata::{
    parse_partition_metadata, write_partition_metadata, PARTITION_METADATA_FILE,
};
use super::topic::{Partitions, Topic};
use super::topic_name::{collision_key, validate_topic_name};
use crate::config::{
    log_config, produce_settings, validate_topic_config, BrokerSettings, DynamicBrokerConfigs,
    LiveBrokerConfig, TopicDefaults,
};
use crate::metrics::BrokerMetrics;

/// Suffix of a partition directory whose topic was deleted and that awaits removal.
const DELETE_SUFFIX: &str = "-delete";
/// Partition directories the metadata does not know are kept under this suffix.
const STRAY_SUFFIX: &str = "-stray";
/// Kafka's metadata log partition (`__cluster_metadata-0`); Sluice's is elsewhere.
const KAFKA_METADATA_TOPIC: &str = "__cluster_metadata";

/// Topics the brokers own (group offsets, transaction state): clients may read but not delete
/// or repartition them.
pub fn is_internal_topic(name: &str) -> bool {
    sluice_coordinator::topics::is_internal(name)
}

#[derive(Default)]
struct Topics {
    by_name: BTreeMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

/// What applying one image changed for this broker, for the coordinators and the log line.
#[derive(Clone, Debug, Default)]
pub struct ImageChanges {
    /// (topic, partition) replicas this broker became leader of.
    pub became_leader: Vec<(String, i32)>,
    /// (topic, partition) replicas this broker stopped leading (now follower or gone).
    pub resigned: Vec<(String, i32)>,
}

pub struct ReplicaManager {
    settings: Arc<BrokerSettings>,
    node_id: i32,
    log_dir: PathBuf,
    clock: Arc<dyn Clock>,
    topics: RwLock<Topics>,
    /// Serialises image application; holds the offset of the last image applied (None before
    /// the first, which also removes partition directories the image does not assign here).
    apply: Mutex<Option<u64>>,
    /// High watermarks read from `replication-offset-checkpoint` at start, taken by each
    /// partition as it opens.
    checkpointed_hws: Mutex<HashMap<(String, i32), i64>>,
    /// The node's metrics: each partition records into its topic's counters.
    metrics: Arc<BrokerMetrics>,
    /// The values of the dynamic broker configs this broker runs with, rebuilt when an image
    /// changes the dynamic configs (see [`ReplicaManager::apply_image`]).
    live: RwLock<Arc<LiveBrokerConfig>>,
}

impl ReplicaManager {
    /// A manager hosting nothing yet: the first [`ReplicaManager::apply_image`] opens the logs
    /// (recovering them if needed).
    pub fn new(settings: Arc<BrokerSettings>) -> Result<ReplicaManager, AdminError> {
        Self::with_metrics(settings, Arc::new(BrokerMetrics::new()))
    }

    /// [`ReplicaManager::new`] recording into the node's `metrics`.
    pub fn with_metrics(
        settings: Arc<BrokerSettings>,
        metrics: Arc<BrokerMetrics>,
    ) -> Result<ReplicaManager, AdminError> {
        let log_dir = settings.log_dir.clone();
        std::fs::create_dir_all(&log_dir)?;
        remove_deleted_dirs(&log_dir);
        let checkpointed = read_hw_checkpoint(&log_dir);
        Ok(ReplicaManager {
            node_id: settings.node_id,
            log_dir,
            clock: Arc::new(SystemClock),
            topics: RwLock::new(Topics::default()),
            apply: Mutex::new(None),
            checkpointed_hws: Mutex::new(checkpointed),
            metrics,
            live: RwLock::new(Arc::new(LiveBrokerConfig::new(
                &settings,
                DynamicBrokerConfigs::default(),
            ))),
            settings,
        })
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Arc<BrokerMetrics> {
        &self.metrics
    }

    /// Offset of the last metadata image applied (0 before the first).
    pub fn applied_offset(&self) -> u64 {
        self.apply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(0)
    }

    /// The values of the dynamic broker configs this broker runs with now.
    pub fn live_config(&self) -> Arc<LiveBrokerConfig> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The broker-level defaults of topic configs now (static, under the dynamic ones).
    pub fn topic_defaults(&self) -> TopicDefaults {
        self.live_config().topic_defaults.clone()
    }

    fn read_topics(&self) -> std::sync::RwLockReadGuard<'_, Topics> {
        // A poisoned lock means a panic while swapping in a new map; the map itself is whole.
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_topics(&self) -> std::sync::RwLockWriteGuard<'_, Topics> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
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

    /// Hosted replicas that follow broker `leader` (for its replica fetcher).
    pub fn followed_partitions(&self, leader: i32) -> Vec<Arc<Partition>> {
        self.read_topics()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| !p.is_leader() && p.leader_id() == Some(leader))
            .cloned()
            .collect()
    }

    /// Brokers that lead a partition this broker follows.
    pub fn followed_leaders(&self) -> std::collections::BTreeSet<i32> {
        self.read_topics()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| !p.is_leader())
            .filter_map(|p| p.leader_id())
            .filter(|l| *l != self.node_id)
            .collect()
    }

    /// Hosted replicas this broker leads.
    pub fn led_partitions(&self) -> Vec<Arc<Partition>> {
        self.read_topics()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.is_leader())
            .cloned()
            .collect()
    }

    /// The hosted replica of `topic`-`index`, leader or not.
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

    /// Opens (creating if need be) the log of `topic`-`index`. A directory left by an older
    /// topic of the same name (another topic id in its `partition.metadata`) is removed first.
    fn open_partition(
        &self,
        topic: &Arc<str>,
        id: Uuid,
        index: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Partition>, AdminError> {
        let dir = self.partition_dir(topic, index);
        let meta = dir.join(PARTITION_METADATA_FILE);
        match std::fs::read_to_string(&meta) {
            Ok(text) if parse_partition_metadata(&text) != Some(id) => {
                self.set_aside_as_stray(&dir, &format!("it holds another topic id than {topic}"));
            }
            _ => {}
        }
        let log = Log::open(
            &dir,
            log_config(&self.live_config().topic_defaults, configs),
            self.clock.clone(),
        )?;
        if !meta.exists() {
            write_partition_metadata(&dir, id)?;
        }
        let partition = Partition::new(topic.clone(), id, index, Arc::new(log), self.node_id)
            .with_metrics(self.metrics.topics.topic(topic));
        let checkpointed = self
            .checkpointed_hws
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(topic.to_string(), index));
        if let Some(hw) = checkpointed {
            partition.restore_high_watermark(hw);
        }
        Ok(Arc::new(partition))
    }

    /// Renames a partition directory out of the way, then removes it (readers holding the log
    /// keep their open files).
    fn remove_partition_dir(&self, dir: &Path, topic: &str, index: i32) {
        let doomed = self.log_dir.join(format!(
            "{topic}-{index}.{}{DELETE_SUFFIX}",
            Uuid::new_v4().simple()
        ));
        if let Err(e) = std::fs::rename(dir, &doomed) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("could not rename {} for deletion: {e}", dir.display());
            }
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&doomed) {
            tracing::warn!("could not remove {}: {e}", doomed.display());
        }
    }

    /// Checks a new topic's name, partition count, replication factor and configs against
    /// Kafka's rules and the topics in `image` (CreateTopics, also with validate_only). Whether
    /// enough brokers exist for the replication factor is the placement's check.
    pub fn check_new_topic(
        &self,
        image: &MetadataImage,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        validate_topic_name(name)
            .map_err(|m| AdminError::new(ErrorCode::INVALID_TOPIC_EXCEPTION, m))?;
        if image.topic(name).is_some() {
            return Err(AdminError::new(
                ErrorCode::TOPIC_ALREADY_EXISTS,
                format!("Topic '{name}' already exists."),
            ));
        }
        let key = collision_key(name);
        if let Some(other) = image.topics().keys().find(|t| collision_key(t) == key) {
            return Err(AdminError::new(
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                format!("Topic '{name}' collides with existing topic: {other}"),
            ));
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
        for (k, v) in configs {
            validate_topic_config(k, v)
                .map_err(|m| AdminError::new(ErrorCode::INVALID_CONFIG, m))?;
        }
        Ok(())
    }

    /// Makes the local state match `image`: topics appear, change configs and partition counts
    /// and disappear as the image says; replicas assigned to this broker are opened (or
    /// deleted when no longer assigned); each hosted replica leads exactly when the image names
    /// this broker its leader, with the image's leader epoch. Images older than the last one
    /// applied are ignored. Returns the leadership changes.
    pub fn apply_image(&self, image: &MetadataImage) -> Result<ImageChanges, AdminError> {
        let mut applied = self.apply.lock().unwrap_or_else(|p| p.into_inner());
        if applied.is_some_and(|offset| offset > image.offset()) {
            return Ok(ImageChanges::default());
        }
        let first = applied.is_none();
        let mut changes = ImageChanges::default();
        // Dynamic broker configs first: a topic without its own value of a key takes the new
        // broker-level default at once (e.g. retention), as in Kafka.
        let dynamic = DynamicBrokerConfigs {
            cluster: image.cluster_configs().clone(),
            broker: image.broker_configs(self.node_id).clone(),
        };
        let defaults_changed = self.live_config().dynamic != dynamic;
        if defaults_changed {
            describe_dynamic_change(&self.live_config().dynamic, &dynamic);
            let live = Arc::new(LiveBrokerConfig::new(&self.settings, dynamic));
            *self.live.write().unwrap_or_else(|p| p.into_inner()) = live;
        }
        let live = self.live_config();
        let current: Vec<Arc<Topic>> = self.read_topics().by_id.values().cloned().collect();

        // Deleted topics first: a topic re-created under the same name reuses directory names.
        for topic in &current {
            if image.topic_by_id(&topic.id).is_none() {
                self.delete_local(topic, &mut changes);
            }
        }
        if first {
            self.sort_out_unassigned_dirs(image);
        }

        let mut next = Topics::default();
        for (name, desired) in image.topics() {
            let existing = self.read_topics().by_id.get(&desired.topic_id).cloned();
            let name_arc: Arc<str> = existing
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_else(|| name.as_str().into());
            let own_configs_changed = existing
                .as_ref()
                .is_some_and(|t| t.configs != desired.configs);
            let configs_changed = own_configs_changed || (defaults_changed && existing.is_some());
            if configs_changed {
                let log_cfg = log_config(&live.topic_defaults, &desired.configs);
                for p in existing.iter().flat_map(|t| t.partitions.iter()) {
                    p.update_config(log_cfg.clone());
                }
            }
            if own_configs_changed {
                tracing::info!(
                    "configs of topic {name}: {}",
                    describe_overrides(&desired.configs)
                );
            }
            let mut slots = Vec::with_capacity(desired.partitions.len());
            for (index, state) in desired.partitions.iter().enumerate() {
                let index = index as i32;
                let had = existing
                    .as_ref()
                    .and_then(|t| t.partitions.get(index as usize))
                    .cloned();
                let assigned = state.replicas.contains(&self.node_id);
                let slot = match (had, assigned) {
                    (Some(p), true) => Some(p),
                    (None, true) => Some(self.open_partition(
                        &name_arc,
                        desired.topic_id,
                        index,
                        &desired.configs,
                    )?),
                    (Some(p), false) => {
                        if p.is_leader() {
                            changes.resigned.push((name.clone(), index));
                        }
                        p.set_leadership(false, state.leader_epoch);
                        if let Err(e) = p.close() {
                            tracing::warn!("closing {name}-{index} failed: {e}");
                        }
                        self.remove_partition_dir(p.dir(), name, index);
                        None
                    }
                    (None, false) => None,
                };
                if let Some(p) = &slot {
                    let was = p.is_leader();
                    let leads = p.update_from_image(state);
                    if leads && !was {
                        changes.became_leader.push((name.clone(), index));
                    } else if was && !leads {
                        changes.resigned.push((name.clone(), index));
                    }
                }
                slots.push(slot);
            }
            let topic =
                match &existing {
                    Some(t)
                        if !configs_changed
                            && t.partitions.slots.len() == slots.len()
                            && t.partitions.slots.iter().zip(&slots).all(|(a, b)| {
                                match (a, b) {
                                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                                    (None, None) => true,
                                    _ => false,
                                }
                            }) =>
                    {
                        t.clone()
                    }
                    _ => {
                        if existing.is_none() {
                            tracing::info!(
                                "topic {name} ({} partition(s)) is in the cluster",
                                desired.partitions.len()
                            );
                        }
                        Arc::new(Topic {
                            name: name_arc.clone(),
                            id: desired.topic_id,
                            produce: produce_settings(&live.topic_defaults, &desired.configs),
                            configs: desired.configs.clone(),
                            partitions: Partitions { slots },
                        })
                    }
                };
            next.by_id.insert(topic.id, topic.clone());
            next.by_name.insert(name.clone(), topic);
        }
        *self.write_topics() = next;
        *applied = Some(image.offset());
        Ok(changes)
    }

    /// Forgets a deleted topic and removes the directories of its hosted replicas.
    fn delete_local(&self, topic: &Topic, changes: &mut ImageChanges) {
        for p in &topic.partitions {
            if p.is_leader() {
                changes.resigned.push((topic.name.to_string(), p.index));
            }
            p.set_leadership(false, p.leader_epoch());
            self.remove_partition_dir(p.dir(), &topic.name, p.index);
        }
        self.metrics.topics.remove_topic(&topic.name);
        tracing::info!("deleted topic {}", topic.name);
    }

    /// At start: sorts out partition directories (`<topic>-<n>`) the image does not assign to
    /// this broker. One whose topic id (`partition.metadata`) the image knows was moved away
    /// while this broker was down: Sluice's metadata owns it, so it is removed. Any other
    /// (an unknown topic id: a topic deleted while this broker was down, or data Sluice did not
    /// write) is renamed `<dir>-stray` and kept until an operator removes it, as Kafka does.
    /// Kafka's own metadata log (`__cluster_metadata-0`) is never touched.
    fn sort_out_unassigned_dirs(&self, image: &MetadataImage) {
        let Ok(entries) = std::fs::read_dir(&self.log_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(dir_name) = file_name.to_str() else {
                continue;
            };
            if !entry.path().is_dir() {
                continue;
            }
            let Some((topic, index)) = dir_name.rsplit_once('-') else {
                continue;
            };
            let Ok(index) = index.parse::<i32>() else {
                continue;
            };
            if validate_topic_name(topic).is_err() || topic == KAFKA_METADATA_TOPIC {
                continue;
            }
            let assigned = image
                .topic(topic)
                .and_then(|t| t.partition(index))
                .is_some_and(|p| p.replicas.contains(&self.node_id));
            if assigned {
                continue;
            }
            let topic_id = std::fs::read_to_string(entry.path().join(PARTITION_METADATA_FILE))
                .ok()
                .and_then(|text| parse_partition_metadata(&text));
            if topic_id.is_some_and(|id| image.topic_by_id(&id).is_some()) {
                tracing::warn!(
                    "removing {}: the cluster metadata moved this replica to other brokers",
                    entry.path().display()
                );
                self.remove_partition_dir(&entry.path(), topic, index);
            } else {
                self.set_aside_as_stray(&entry.path(), "the cluster metadata does not know it");
            }
        }
    }

    /// Renames a partition directory Sluice's metadata does not own to `<dir>-stray` (or
    /// `<dir>.<random>-stray` if that exists), so that nothing reads or deletes it.
    fn set_aside_as_stray(&self, dir: &Path, why: &str) {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let mut stray = self.log_dir.join(format!("{name}{STRAY_SUFFIX}"));
        if stray.exists() {
            stray = self
                .log_dir
                .join(format!("{name}.{}{STRAY_SUFFIX}", Uuid::new_v4().simple()));
        }
        match std::fs::rename(dir, &stray) {
            Ok(()) => tracing::warn!(
                "kept {} as {}: {why}; remove it once it is not needed",
                dir.display(),
                stray.display()
            ),
            Err(e) => tracing::error!(
                "could not set {} aside as stray ({why}): {e}",
                dir.display()
            ),
        }
    }

    /// One pass of time- and size-based retention over every partition, which also forgets
    /// producers idle for `producer.id.expiration.ms` (Kafka runs both on the same schedule).
    pub fn apply_retention(&self) {
        let now = self.clock.now_ms();
        let producer_max_age_ms = self.live_config().producer_id_expiration_ms;
        for topic in self.topics() {
            for p in &topic.partitions {
                if let Err(e) = p.apply_retention() {
                    tracing::warn!("retention of {}-{} failed: {e}", topic.name, p.index);
                }
                let expired = p.expire_producers(now, producer_max_age_ms);
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
                if !p.is_compacted() {
                    continue;
                }
                match p.clean() {
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
                if let Err(e) = p.flush_if_due() {
                    tracing::warn!("flush of {}-{} failed: {e}", topic.name, p.index);
                }
            }
        }
    }

    /// Writes every hosted partition's high watermark to `replication-offset-checkpoint` in
    /// the log directory (Kafka's file and format), durably: a restarted replica starts from
    /// there instead of its log start.
    pub fn checkpoint_high_watermarks(&self) {
        let mut entries = Vec::new();
        for topic in self.topics() {
            for p in &topic.partitions {
                entries.push((topic.name.to_string(), p.index, p.high_watermark()));
            }
        }
        let text = format_hw_checkpoint(&entries);
        if let Err(e) = write_file_atomically(&self.log_dir, HW_CHECKPOINT_FILE, text.as_bytes()) {
            tracing::warn!("writing {HW_CHECKPOINT_FILE} failed: {e}");
        }
    }

    /// Flushes and closes every log (clean shutdown).
    pub fn close(&self) {
        self.checkpoint_high_watermarks();
        for topic in self.topics() {
            for p in &topic.partitions {
                if let Err(e) = p.close() {
                    tracing::warn!("closing {}-{} failed: {e}", topic.name, p.index);
                }
            }
        }
    }
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

/// Logs what changed in the dynamic broker configs that apply to this broker.
fn describe_dynamic_change(before: &DynamicBrokerConfigs, after: &DynamicBrokerConfigs) {
    for (level, old, new) in [
        ("cluster-wide default", &before.cluster, &after.cluster),
        ("this broker's", &before.broker, &after.broker),
    ] {
        if old != new {
            tracing::info!(
                "dynamic broker configs, {level}: {}",
                describe_overrides(new)
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_controller::MetadataCommand;

    use crate::config::BrokerConfig;

    use crate::test_support::{batch, ImageBuilder};

    /// Brokers 1 and 2, topic `t` with one partition on [2, 1] led by broker 2.
    fn image() -> MetadataImage {
        let mut b = ImageBuilder::default();
        b.live_broker(1, None).live_broker(2, None);
        b.apply(MetadataCommand::CreateTopic {
            name: "t".into(),
            topic_id: Uuid::from_u128(7),
            assignments: vec![vec![2, 1]],
            configs: BTreeMap::new(),
        });
        b.image
    }

    /// A replica manager of broker 1 on `dir` that applied [`image`].
    fn open(dir: &Path) -> ReplicaManager {
        let dir = dir.to_str().expect("utf-8 path");
        let config = BrokerConfig::from_pairs(&[("log.dir", dir), ("node.id", "1")]).expect("cfg");
        let settings = BrokerSettings::new(&config).expect("settings");
        let manager = ReplicaManager::new(Arc::new(settings)).expect("manager");
        manager.apply_image(&image()).expect("applies");
        manager
    }

    #[test]
    fn high_watermarks_survive_a_restart_through_the_checkpoint() {
        let dir = tempfile::tempdir().expect("dir");
        let manager = open(dir.path());
        let follower = manager.partition("t", 0).expect("hosted");
        follower.append_from_leader(&batch(5)).expect("append");
        follower.set_follower_high_watermark(3);
        manager.close();
        drop((manager, follower));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(HW_CHECKPOINT_FILE)).expect("file"),
            "0\n1\nt 0 3\n"
        );

        // Without the checkpoint the follower would start again from its log start (0).
        let manager = open(dir.path());
        assert_eq!(
            manager.partition("t", 0).expect("hosted").high_watermark(),
            3
        );
        manager.close();
        drop(manager);

        // A checkpoint past the recovered log end is capped there; a corrupt one is ignored.
        std::fs::write(dir.path().join(HW_CHECKPOINT_FILE), "0\n1\nt 0 99\n").expect("write");
        let manager = open(dir.path());
        assert_eq!(
            manager.partition("t", 0).expect("hosted").high_watermark(),
            5
        );
        drop(manager);
        std::fs::write(dir.path().join(HW_CHECKPOINT_FILE), "0\n2\nt 0 4\n").expect("write");
        let manager = open(dir.path());
        assert_eq!(
            manager.partition("t", 0).expect("hosted").high_watermark(),
            0
        );
    }

    #[test]
    fn partition_dirs_the_metadata_does_not_own_are_kept_as_strays() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        let make = |name: &str, topic_id: Option<Uuid>| {
            let d = root.join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join("00000000000000000000.log"), b"data").expect("write");
            if let Some(id) = topic_id {
                write_partition_metadata(&d, id).expect("partition.metadata");
            }
        };
        // Another cluster's partition (no partition.metadata, as an old Kafka or a copy).
        make("orders-0", None);
        // A topic id the metadata does not know (deleted while this broker was down).
        make("gone-3", Some(Uuid::from_u128(99)));
        // Kafka's own metadata log partition: never touched.
        make("__cluster_metadata-0", None);
        // A known topic's partition this broker no longer hosts (partition 1 does not exist,
        // but the topic id is Sluice's): Sluice owns it, so it goes.
        make("t-1", Some(Uuid::from_u128(7)));
        // The hosted replica `t-0` left by an older topic of the same name.
        make("t-0", Some(Uuid::from_u128(8)));
        let manager = open(root);
        let names = |root: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(root)
                .expect("read dir")
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            names(root),
            [
                "__cluster_metadata-0",
                "gone-3-stray",
                "orders-0-stray",
                "t-0",
                "t-0-stray"
            ]
        );
        for kept in ["gone-3-stray", "orders-0-stray", "t-0-stray"] {
            assert_eq!(
                std::fs::read(root.join(kept).join("00000000000000000000.log")).expect("kept"),
                b"data"
            );
        }
        // A restart leaves the strays alone; a second stray of the same name gets its own.
        manager.close();
        drop(manager);
        make("orders-0", None);
        let manager = open(root);
        let after = names(root);
        assert_eq!(after.len(), 6, "{after:?}");
        assert!(after
            .iter()
            .any(|n| n.starts_with("orders-0.") && n.ends_with("-stray")));
        drop(manager);
    }
}
