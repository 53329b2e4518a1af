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
//!
//! Log directories (JBOD, `log.dirs`): a replica lives in one of them, found there at start
//! (its `<topic>-<partition>` directory) or, when new, placed in the online directory holding
//! the fewest replicas (Kafka's rule). Each directory keeps its own
//! `replication-offset-checkpoint`. A directory that fails takes only its replicas offline;
//! the broker reports it in its heartbeats (see `cluster::membership`). When a directory is
//! offline at start, assigned replicas found in no online directory may live in it: they are
//! not opened elsewhere (an empty replica there could be elected and lose the data) but
//! reported offline until a restart with the directory back.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sluice_controller::MetadataImage;
use sluice_log::{Clock, Log, SystemClock};
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

use super::admin_error::AdminError;
use super::high_watermark_checkpoint::{
    format_hw_checkpoint, read_hw_checkpoint, write_file_atomically, HW_CHECKPOINT_FILE,
};
use super::log_dir::{least_loaded, LogDirs};
use super::partition::Partition;
use super::partition_metadata::{
    parse_partition_metadata, write_partition_metadata, PARTITION_METADATA_FILE,
};
use super::replica_move::recover_future_dirs;
use super::replication_throttle::{ReplicationQuota, TopicThrottles};
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
    /// The directories of `log.dirs`, in order.
    dirs: Arc<LogDirs>,
    /// Partition directories found at start, by (topic, partition): the index of the log
    /// directory holding each; taken as the replicas open.
    found: Mutex<HashMap<(String, i32), usize>>,
    /// Replicas assigned here that may live in a directory offline since start (see the
    /// module doc): reported offline, never opened.
    unplaced_offline: Mutex<BTreeSet<(Uuid, i32)>>,
    /// Moves between log directories under way; `closing` stops them (shutdown).
    moves: AtomicUsize,
    /// Moves a restart interrupted (topic, partition, destination), started again by
    /// [`ReplicaManager::resume_interrupted_moves`] once the first image is applied.
    interrupted_moves: Mutex<Vec<(String, i32, PathBuf)>>,
    closing: AtomicBool,
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
    /// Bumped each time `live` changes (see [`ReplicaManager::watch_live_config`]).
    live_changes: tokio::sync::watch::Sender<u64>,
    /// The byte rates of the throttled replicas this broker leads and follows.
    leader_throttle: ReplicationQuota,
    follower_throttle: ReplicationQuota,
    /// The byte rate of the moves between log directories
    /// (`replica.alter.log.dirs.io.max.bytes.per.second`).
    alter_log_dirs_throttle: ReplicationQuota,
}

impl ReplicaManager {
    /// A manager hosting nothing yet: the first [`ReplicaManager::apply_image`] opens the logs
    /// (recovering them if needed).
    /// Every directory of `log.dirs` is opened: moves a restart interrupted are finished or
    /// dropped, deleted replicas' leftovers removed, high watermark checkpoints read and the
    /// partition directories found. A directory that cannot be read is offline; a partition
    /// found in two directories, or no usable directory, stops the start.
    pub fn new(settings: Arc<BrokerSettings>) -> Result<ReplicaManager, AdminError> {
        Self::with_metrics(settings, Arc::new(BrokerMetrics::new()))
    }

    /// [`ReplicaManager::new`] recording into the node's `metrics`.
    pub fn with_metrics(
        settings: Arc<BrokerSettings>,
        metrics: Arc<BrokerMetrics>,
    ) -> Result<ReplicaManager, AdminError> {
        let dirs = Arc::new(LogDirs::open(&settings.log_dirs));
        let online: Vec<&Path> = dirs
            .iter()
            .filter(|d| !d.is_offline())
            .map(|d| d.path.as_path())
            .collect();
        if online.is_empty() {
            return Err(AdminError::new(
                ErrorCode::KAFKA_STORAGE_ERROR,
                "no log directory of log.dirs can be used",
            ));
        }
        let interrupted_moves = recover_future_dirs(&online).interrupted;
        let mut checkpointed = HashMap::new();
        let mut found = HashMap::new();
        for (index, dir) in dirs.iter().enumerate() {
            if dir.is_offline() {
                continue;
            }
            remove_deleted_dirs(&dir.path);
            checkpointed.extend(read_hw_checkpoint(&dir.path));
            for (topic, partition) in partition_dirs(&dir.path) {
                if let Some(other) = found.insert((topic.clone(), partition), index) {
                    let other = dirs.get(other).map(|d| d.path.display().to_string());
                    return Err(AdminError::new(
                        ErrorCode::KAFKA_STORAGE_ERROR,
                        format!(
                            "partition {topic}-{partition} is in two log directories, {} and \
                             {}: remove the one that is not current",
                            other.unwrap_or_default(),
                            dir.path.display()
                        ),
                    ));
                }
            }
        }
        Ok(ReplicaManager {
            node_id: settings.node_id,
            dirs,
            found: Mutex::new(found),
            unplaced_offline: Mutex::new(BTreeSet::new()),
            moves: AtomicUsize::new(0),
            interrupted_moves: Mutex::new(interrupted_moves),
            closing: AtomicBool::new(false),
            clock: Arc::new(SystemClock),
            topics: RwLock::new(Topics::default()),
            apply: Mutex::new(None),
            checkpointed_hws: Mutex::new(checkpointed),
            metrics,
            live: RwLock::new(Arc::new(LiveBrokerConfig::new(
                &settings,
                DynamicBrokerConfigs::default(),
            ))),
            live_changes: tokio::sync::watch::Sender::new(0),
            leader_throttle: ReplicationQuota::new(settings.replication.throttle_window),
            follower_throttle: ReplicationQuota::new(settings.replication.throttle_window),
            alter_log_dirs_throttle: ReplicationQuota::new(
                settings.replication.alter_log_dirs_throttle_window,
            ),
            settings,
        })
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Arc<BrokerMetrics> {
        &self.metrics
    }

    /// The leader side's replication throttle (`leader.replication.throttled.rate`).
    pub fn leader_throttle(&self) -> &ReplicationQuota {
        &self.leader_throttle
    }

    /// The follower side's replication throttle (`follower.replication.throttled.rate`).
    pub fn follower_throttle(&self) -> &ReplicationQuota {
        &self.follower_throttle
    }

    /// The throttle of moves between log directories
    /// (`replica.alter.log.dirs.io.max.bytes.per.second`).
    pub fn alter_log_dirs_throttle(&self) -> &ReplicationQuota {
        &self.alter_log_dirs_throttle
    }

    /// Offset of the last metadata image applied (0 before the first).
    pub fn applied_offset(&self) -> u64 {
        self.apply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(0)
    }

    /// Changes each time the broker's live config does (its dynamic configs changed).
    pub fn watch_live_config(&self) -> tokio::sync::watch::Receiver<u64> {
        self.live_changes.subscribe()
    }

    /// The settings the broker started with.
    pub fn settings(&self) -> &Arc<BrokerSettings> {
        &self.settings
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

    /// Hosted replicas that follow broker `leader` (for its replica fetcher); offline ones
    /// follow nobody.
    pub fn followed_partitions(&self, leader: i32) -> Vec<Arc<Partition>> {
        self.read_topics()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| !p.is_leader() && !p.is_offline() && p.leader_id() == Some(leader))
            .cloned()
            .collect()
    }

    /// Brokers that lead a partition this broker follows.
    pub fn followed_leaders(&self) -> std::collections::BTreeSet<i32> {
        self.read_topics()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| !p.is_leader() && !p.is_offline())
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

    /// The broker's log directories.
    pub fn log_dirs(&self) -> &Arc<LogDirs> {
        &self.dirs
    }

    /// Hosted replicas whose log directory is offline (topic id, partition), for the
    /// controller.
    pub fn offline_replicas(&self) -> Vec<(Uuid, i32)> {
        let mut offline: BTreeSet<(Uuid, i32)> = self
            .read_topics()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.is_offline())
            .map(|p| (p.topic_id, p.index))
            .collect();
        offline.extend(
            self.unplaced_offline
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .copied(),
        );
        offline.into_iter().collect()
    }

    /// AlterReplicaLogDirs for one replica (Kafka's answers): starts moving `topic`-`index` to
    /// the log directory at `path` in the background (DescribeLogDirs shows the copy as a
    /// future replica until it is swapped in). LOG_DIR_NOT_FOUND for a directory not in
    /// `log.dirs`, KAFKA_STORAGE_ERROR when it or the replica is offline,
    /// REPLICA_NOT_AVAILABLE when this broker does not host the replica (the directory is
    /// then remembered for the replica, should it come here).
    pub fn alter_replica_log_dir(
        self: &Arc<Self>,
        topic: &str,
        index: i32,
        path: &Path,
    ) -> Result<(), ErrorCode> {
        let dest = self
            .dirs
            .index_of(path)
            .ok_or(ErrorCode::LOG_DIR_NOT_FOUND)?;
        if self.dirs.get(dest).is_none_or(|d| d.is_offline()) {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        let Some(partition) = self.partition(topic, index) else {
            self.found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((topic.to_string(), index), dest);
            return Err(ErrorCode::REPLICA_NOT_AVAILABLE);
        };
        if partition.is_offline() {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        let moving_there = partition.future_replica().map(|f| f.dir_index);
        if moving_there == Some(dest) || (moving_there.is_none() && partition.dir_index() == dest) {
            return Ok(());
        }
        self.moves.fetch_add(1, Ordering::AcqRel);
        let manager = self.clone();
        tokio::task::spawn_blocking(move || {
            let stop = || manager.closing.load(Ordering::Acquire);
            // `replica.alter.log.dirs.io.max.bytes.per.second`: the copy waits while the
            // moves' byte rate is over it (checked again as the dynamic value changes).
            let pace = |bytes: u64| {
                let quota = &manager.alter_log_dirs_throttle;
                quota.record(bytes as usize);
                while !stop()
                    && quota.is_exceeded(manager.live_config().replication_throttle.alter_log_dirs)
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            };
            let name = format!("{}-{}", partition.topic, partition.index);
            let to = manager.dirs.get(dest).map(|d| d.path.display().to_string());
            match partition.move_to_dir(dest, manager.clock.clone(), &stop, &pace) {
                Ok(()) => {
                    tracing::info!("moved {name} to log directory {}", to.unwrap_or_default())
                }
                Err(e) => tracing::warn!(
                    "moving {name} to log directory {} failed: {e}",
                    to.unwrap_or_default()
                ),
            }
            manager.moves.fetch_sub(1, Ordering::AcqRel);
        });
        Ok(())
    }

    /// Starts again the moves between log directories a restart interrupted (Kafka resumes
    /// its future replicas): once, after the first metadata image is applied, for each replica
    /// this broker still hosts. Needs the tokio runtime (the copies run on its blocking pool).
    pub fn resume_interrupted_moves(self: &Arc<Self>) {
        if self
            .apply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            return;
        }
        let pending = std::mem::take(
            &mut *self
                .interrupted_moves
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for (topic, index, dest) in pending {
            if self.partition(&topic, index).is_none() {
                continue;
            }
            match self.alter_replica_log_dir(&topic, index, &dest) {
                Ok(()) => tracing::info!(
                    "moving {topic}-{index} to log directory {} again (a restart interrupted it)",
                    dest.display()
                ),
                Err(e) => tracing::warn!(
                    "the interrupted move of {topic}-{index} to {} cannot start again: {e:?}",
                    dest.display()
                ),
            }
        }
    }

    /// How many hosted replicas each log directory holds.
    fn replica_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.dirs.len()];
        for p in self
            .read_topics()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
        {
            if let Some(c) = counts.get_mut(p.dir_index()) {
                *c += 1;
            }
        }
        counts
    }

    /// Where the replica `topic`-`index` lives: the directory it was found in at start, else
    /// (a new replica) the online directory with the fewest replicas. `None`: nowhere to put
    /// it (every directory offline).
    fn place(&self, topic: &str, index: i32, counts: &mut [usize]) -> Option<usize> {
        let found = self
            .found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(topic.to_string(), index));
        let chosen = found.or_else(|| least_loaded(&self.dirs, counts))?;
        if let Some(c) = counts.get_mut(chosen) {
            *c += 1;
        }
        Some(chosen)
    }

    /// Opens (creating if need be) the log of `topic`-`index` in log directory `dir_index`.
    /// A directory left by an older topic of the same name (another topic id in its
    /// `partition.metadata`) is set aside first.
    fn open_partition(
        &self,
        topic: &Arc<str>,
        id: Uuid,
        index: i32,
        configs: &BTreeMap<String, String>,
        dir_index: usize,
    ) -> Result<Arc<Partition>, AdminError> {
        let Some(log_dir) = self.dirs.get(dir_index) else {
            return Err(AdminError::new(
                ErrorCode::KAFKA_STORAGE_ERROR,
                format!("no log directory {dir_index}"),
            ));
        };
        let dir = log_dir.path.join(format!("{topic}-{index}"));
        let meta = dir.join(PARTITION_METADATA_FILE);
        match std::fs::read_to_string(&meta) {
            Ok(text) if parse_partition_metadata(&text) != Some(id) => {
                self.set_aside_as_stray(&dir, &format!("it holds another topic id than {topic}"));
            }
            _ => {}
        }
        let opened = Log::open(
            &dir,
            log_config(&self.live_config().topic_defaults, configs),
            self.clock.clone(),
        )
        .map_err(AdminError::from)
        .and_then(|log| {
            if !meta.exists() {
                write_partition_metadata(&dir, id)?;
            }
            Ok(log)
        });
        let log = match opened {
            Ok(log) => log,
            Err(e) => {
                // Kafka takes the directory offline when a log cannot be opened in it.
                self.dirs.fail(dir_index, &e.message);
                return Err(e);
            }
        };
        let partition = Partition::in_dir(
            topic.clone(),
            id,
            index,
            Arc::new(log),
            self.node_id,
            self.dirs.clone(),
            dir_index,
        )
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
        let Some(parent) = dir.parent() else {
            return;
        };
        let doomed = parent.join(format!(
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
            self.live_changes.send_modify(|n| *n += 1);
        }
        let live = self.live_config();
        let mut counts = self.replica_counts();
        // At the first image: whether replicas found nowhere may be in an offline directory.
        let some_dir_offline = first && self.dirs.iter().any(|d| d.is_offline());
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
                let key = (desired.topic_id, index);
                let unplaced = {
                    let mut unplaced = self
                        .unplaced_offline
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    if !assigned {
                        unplaced.remove(&key);
                    } else if had.is_none()
                        && some_dir_offline
                        && !self
                            .found
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .contains_key(&(name.clone(), index))
                    {
                        tracing::error!(
                            "{name}-{index} is in no online log directory: offline until the \
                             offline directory is back"
                        );
                        unplaced.insert(key);
                    }
                    unplaced.contains(&key)
                };
                let slot = match (had, assigned) {
                    (Some(p), true) => Some(p),
                    (None, true) if unplaced => None,
                    (None, true) => {
                        let Some(dir_index) = self.place(name, index, &mut counts) else {
                            return Err(AdminError::new(
                                ErrorCode::KAFKA_STORAGE_ERROR,
                                format!("no online log directory for {name}-{index}"),
                            ));
                        };
                        match self.open_partition(
                            &name_arc,
                            desired.topic_id,
                            index,
                            &desired.configs,
                            dir_index,
                        ) {
                            Ok(p) => Some(p),
                            // Its directory is offline now; the replica is reported offline
                            // (the other replicas go on).
                            Err(e) if e.code == ErrorCode::KAFKA_STORAGE_ERROR => {
                                tracing::error!("{name}-{index}: {}", e.message);
                                self.unplaced_offline
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .insert(key);
                                None
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    (Some(p), false) => {
                        if p.is_leader() {
                            changes.resigned.push((name.clone(), index));
                        }
                        p.set_leadership(false, state.leader_epoch);
                        if let Err(e) = p.close() {
                            tracing::warn!("closing {name}-{index} failed: {e}");
                        }
                        self.remove_partition_dir(&p.dir(), name, index);
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
                            throttles: TopicThrottles::from_configs(&desired.configs, self.node_id),
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
            self.remove_partition_dir(&p.dir(), &topic.name, p.index);
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
        for dir in self.dirs.iter().filter(|d| !d.is_offline()) {
            self.sort_out_unassigned_dirs_in(&dir.path, image);
        }
    }

    fn sort_out_unassigned_dirs_in(&self, log_dir: &Path, image: &MetadataImage) {
        let Ok(entries) = std::fs::read_dir(log_dir) else {
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
            self.found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(topic.to_string(), index));
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
        let (Some(name), Some(parent)) = (dir.file_name().and_then(|n| n.to_str()), dir.parent())
        else {
            return;
        };
        let mut stray = parent.join(format!("{name}{STRAY_SUFFIX}"));
        if stray.exists() {
            stray = parent.join(format!("{name}.{}{STRAY_SUFFIX}", Uuid::new_v4().simple()));
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
            for p in topic.partitions.iter().filter(|p| !p.is_offline()) {
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
            for p in topic.partitions.iter().filter(|p| !p.is_offline()) {
                if !p.is_compacted() || self.closing.load(Ordering::Acquire) {
                    continue;
                }
                match p.clean() {
                    Ok(r) if r.cleaned_segments > 0 => {
                        tracing::info!(
                            "cleaned {}-{}: {} segment(s), {} -> {} bytes, {} record(s) removed",
                            topic.name,
                            p.index,
                            r.cleaned_segments,
                            r.bytes_before,
                            r.bytes_after,
                            r.records_removed
                        );
                        self.cleaner_io_pause(r.bytes_before + r.bytes_after);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("cleaning {}-{} failed: {e}", topic.name, p.index),
                }
            }
        }
    }

    /// Keeps the cleaner within `log.cleaner.io.max.bytes.per.second`: after a cleaning that
    /// read and wrote `bytes`, waits as long as that budget takes to cover them (in steps, so a
    /// shutdown does not wait for it).
    fn cleaner_io_pause(&self, bytes: u64) {
        let rate = self.live_config().log_cleaner_io_max_bytes_per_second;
        let mut left = cleaner_pause(bytes, rate);
        let step = std::time::Duration::from_millis(100);
        while !left.is_zero() && !self.closing.load(Ordering::Acquire) {
            let now = left.min(step);
            std::thread::sleep(now);
            left -= now;
        }
    }

    /// Flushes partitions whose `flush.ms` has passed (the log decides whether one is due).
    pub fn flush_due(&self) {
        for topic in self.topics() {
            for p in topic.partitions.iter().filter(|p| !p.is_offline()) {
                if let Err(e) = p.flush_if_due() {
                    tracing::warn!("flush of {}-{} failed: {e}", topic.name, p.index);
                }
            }
        }
    }

    /// Writes each hosted partition's high watermark to `replication-offset-checkpoint` in
    /// its log directory (Kafka's file and format, one per directory), durably: a restarted
    /// replica starts from there instead of its log start. A directory where the file cannot
    /// be written has failed and goes offline (as in Kafka).
    pub fn checkpoint_high_watermarks(&self) {
        let mut entries: Vec<Vec<(String, i32, i64)>> = vec![Vec::new(); self.dirs.len()];
        for topic in self.topics() {
            for p in &topic.partitions {
                if let Some(e) = entries.get_mut(p.dir_index()) {
                    e.push((topic.name.to_string(), p.index, p.high_watermark()));
                }
            }
        }
        for (index, (dir, entries)) in self.dirs.iter().zip(entries).enumerate() {
            if dir.is_offline() {
                continue;
            }
            let text = format_hw_checkpoint(&entries);
            if let Err(e) = write_file_atomically(&dir.path, HW_CHECKPOINT_FILE, text.as_bytes()) {
                self.dirs
                    .fail(index, &format!("writing {HW_CHECKPOINT_FILE} failed: {e}"));
            }
        }
    }

    /// Flushes and closes every log (clean shutdown), after moves between directories stop.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.moves.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.checkpoint_high_watermarks();
        for topic in self.topics() {
            for p in topic.partitions.iter().filter(|p| !p.is_offline()) {
                if let Err(e) = p.close() {
                    tracing::warn!("closing {}-{} failed: {e}", topic.name, p.index);
                }
            }
        }
    }
}

/// The `<topic>-<partition>` directories in `log_dir` (Kafka's own metadata log aside).
fn partition_dirs(log_dir: &Path) -> Vec<(String, i32)> {
    let Ok(entries) = std::fs::read_dir(log_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let (topic, index) = name.rsplit_once('-')?;
            let index = index.parse::<i32>().ok()?;
            (validate_topic_name(topic).is_ok() && topic != KAFKA_METADATA_TOPIC)
                .then(|| (topic.to_string(), index))
        })
        .collect()
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
/// How long cleaning `bytes` takes at `rate` bytes per second (none for an unlimited rate).
fn cleaner_pause(bytes: u64, rate: f64) -> std::time::Duration {
    if rate.is_nan() || rate <= 0.0 || rate >= f64::MAX / 2.0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::try_from_secs_f64(bytes as f64 / rate).unwrap_or(std::time::Duration::MAX)
}

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
        .map(|(k, v)| {
            // Secrets (a key store's key, a key password) are never logged.
            if crate::config::is_sensitive(k) {
                format!("{k}=[hidden]")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    use sluice_controller::MetadataCommand;

    use crate::config::BrokerConfig;

    use crate::test_support::{batch, ImageBuilder};

    #[test]
    fn the_cleaner_keeps_to_its_io_budget() {
        use std::time::Duration;
        assert_eq!(cleaner_pause(1 << 20, f64::MAX), Duration::ZERO);
        assert_eq!(
            cleaner_pause(1_000_000, 2_000_000.0),
            Duration::from_millis(500)
        );
        assert_eq!(cleaner_pause(0, 10.0), Duration::ZERO);
        assert_eq!(cleaner_pause(5, 0.0), Duration::ZERO);
    }

    #[test]
    fn logged_dynamic_configs_hide_secrets() {
        let configs: BTreeMap<String, String> = [
            ("listener.name.ssl.ssl.key.password", "hush"),
            (
                "listener.name.ssl.ssl.keystore.key",
                "-----BEGIN PRIVATE KEY-----",
            ),
            ("max.connections", "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let logged = describe_overrides(&configs);
        assert!(
            !logged.contains("hush") && !logged.contains("PRIVATE"),
            "{logged}"
        );
        assert!(
            logged.contains("listener.name.ssl.ssl.key.password=[hidden]"),
            "{logged}"
        );
        assert!(logged.contains("max.connections=5"), "{logged}");
    }

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
        format_dir(dir);
        let dir = dir.to_str().expect("utf-8 path");
        let config = BrokerConfig::from_pairs(&[("log.dir", dir), ("node.id", "1")]).expect("cfg");
        let settings = BrokerSettings::new(&config).expect("settings");
        let manager = ReplicaManager::new(Arc::new(settings)).expect("manager");
        manager.apply_image(&image()).expect("applies");
        manager
    }

    /// Gives `dir` the `meta.properties` the cluster-id check writes at start, if it has none.
    fn format_dir(dir: &Path) {
        // A test may have put a file in the directory's place: left as it is.
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let path = dir.join(crate::replicas::META_PROPERTIES);
        if !path.exists() {
            let text = crate::replicas::format_meta_properties("test", "c", 1, Uuid::new_v4());
            std::fs::write(path, text).expect("meta.properties");
        }
    }

    /// A replica manager of broker 1 on the directories `dirs` that applied `image`.
    fn open_dirs(dirs: &[&Path], image: &MetadataImage) -> Result<ReplicaManager, AdminError> {
        for dir in dirs {
            format_dir(dir);
        }
        let joined = dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let config =
            BrokerConfig::from_pairs(&[("log.dirs", &joined), ("node.id", "1")]).expect("cfg");
        let settings = BrokerSettings::new(&config).expect("settings");
        let manager = ReplicaManager::new(Arc::new(settings))?;
        manager.apply_image(image)?;
        Ok(manager)
    }

    /// Brokers 1 and 2, topic `t` with `n` partitions on [1, 2] led by broker 1.
    fn image_of(n: usize) -> MetadataImage {
        let mut b = ImageBuilder::default();
        b.live_broker(1, None).live_broker(2, None);
        b.apply(MetadataCommand::CreateTopic {
            name: "t".into(),
            topic_id: Uuid::from_u128(7),
            assignments: vec![vec![1, 2]; n],
            configs: BTreeMap::new(),
        });
        b.image
    }

    #[test]
    fn replicas_spread_over_log_dirs_and_are_found_again() {
        let root = tempfile::tempdir().expect("dir");
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        let manager = open_dirs(&[&a, &b], &image_of(4)).expect("opens");
        let placed: Vec<usize> = (0..4)
            .map(|i| manager.partition("t", i).expect("hosted").dir_index())
            .collect();
        assert_eq!(
            placed,
            [0, 1, 0, 1],
            "the fewest partitions, ties to the first"
        );
        manager
            .partition("t", 1)
            .expect("hosted")
            .append_from_leader(&batch(3))
            .expect("append");
        manager.checkpoint_high_watermarks();
        // Each directory has its own high watermark checkpoint, of its own replicas.
        let checkpoint =
            |d: &Path| std::fs::read_to_string(d.join(HW_CHECKPOINT_FILE)).expect("file");
        assert_eq!(checkpoint(&a), "0\n2\nt 0 0\nt 2 0\n");
        assert!(checkpoint(&b).contains("t 1 "), "{}", checkpoint(&b));
        manager.close();
        drop(manager);

        // Found where they were, whatever the counts say now; a new partition goes to the
        // directory with fewer.
        std::fs::remove_dir_all(a.join("t-0")).expect("rm");
        std::fs::remove_dir_all(a.join("t-2")).expect("rm");
        let manager = open_dirs(&[&a, &b], &image_of(4)).expect("opens");
        let placed: Vec<usize> = (0..4)
            .map(|i| manager.partition("t", i).expect("hosted").dir_index())
            .collect();
        assert_eq!(placed, [0, 1, 0, 1]);
        assert_eq!(
            manager.partition("t", 1).expect("hosted").log_end_offset(),
            3
        );
        manager.close();
        drop(manager);

        // A partition in both directories stops the start.
        std::fs::create_dir_all(a.join("t-1")).expect("mkdir");
        let Err(err) = open_dirs(&[&a, &b], &image_of(4)) else {
            panic!("a partition in two directories was accepted");
        };
        assert!(
            err.message.contains("in two log directories"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_directory_offline_at_start_keeps_its_replicas_offline() {
        let root = tempfile::tempdir().expect("dir");
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        let manager = open_dirs(&[&a, &b], &image_of(2)).expect("opens");
        manager.close();
        drop(manager);
        // b is gone (a regular file in its place): t-1 lived there.
        std::fs::remove_dir_all(&b).expect("rm");
        std::fs::write(&b, b"file").expect("file");
        let manager = open_dirs(&[&a, &b], &image_of(2)).expect("a opens");
        assert!(manager.partition("t", 0).expect("hosted").is_leader());
        assert!(
            manager.partition("t", 1).is_none(),
            "not re-created elsewhere"
        );
        assert_eq!(manager.offline_replicas(), [(Uuid::from_u128(7), 1)]);
        assert_eq!(manager.log_dirs().offline_ids().len(), 1);
        // Every directory gone: no start.
        std::fs::remove_dir_all(&a).expect("rm");
        std::fs::write(&a, b"file").expect("file");
        assert!(open_dirs(&[&a, &b], &image_of(2)).is_err());
    }

    #[test]
    fn an_io_failure_takes_the_directory_and_only_its_replicas_offline() {
        let root = tempfile::tempdir().expect("dir");
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        let manager = open_dirs(&[&a, &b], &image_of(2)).expect("opens");
        let (p0, p1) = (
            manager.partition("t", 0).expect("hosted"),
            manager.partition("t", 1).expect("hosted"),
        );
        assert_eq!((p0.dir_index(), p1.dir_index()), (0, 1));
        // b becomes a file: its checkpoint cannot be written.
        std::fs::rename(&b, root.path().join("b.gone")).expect("rename");
        std::fs::write(&b, b"file").expect("file");
        manager.checkpoint_high_watermarks();
        assert!(p1.is_offline() && !p1.is_leader());
        assert!(!p0.is_offline() && p0.is_leader());
        assert_eq!(manager.offline_replicas(), [(Uuid::from_u128(7), 1)]);
        let topic = manager.topic("t").expect("topic");
        assert_eq!(topic.leader(1).err(), Some(ErrorCode::KAFKA_STORAGE_ERROR));
        assert!(topic.leader(0).is_ok());
        // An image that still names it leader does not make it lead.
        manager.apply_image(&image_of(2)).expect("applies");
        assert!(!p1.is_leader());
        assert!(manager.followed_partitions(2).is_empty());
        p0.append_from_client(&batch(2))
            .expect("the other directory serves");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_moves_to_another_directory_and_keeps_serving() {
        let root = tempfile::tempdir().expect("dir");
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        let manager = Arc::new(open_dirs(&[&a, &b], &image_of(1)).expect("opens"));
        let p = manager.partition("t", 0).expect("hosted");
        p.append_from_client(&batch(5)).expect("append");
        assert_eq!(
            manager.alter_replica_log_dir("t", 0, &root.path().join("c")),
            Err(ErrorCode::LOG_DIR_NOT_FOUND)
        );
        assert_eq!(
            manager.alter_replica_log_dir("t", 3, &b),
            Err(ErrorCode::REPLICA_NOT_AVAILABLE)
        );
        assert_eq!(
            manager.alter_replica_log_dir("t", 0, &a),
            Ok(()),
            "already there"
        );
        assert_eq!(manager.alter_replica_log_dir("t", 0, &b), Ok(()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while p.dir_index() != 1 || p.future_replica().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the move did not finish"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(b.join("t-0").is_dir());
        assert!(!a.join("t-0").exists());
        // The same partition object serves from the new log: reads and appends.
        assert_eq!(p.log_end_offset(), 5);
        p.append_from_client(&batch(2))
            .expect("append after the move");
        assert_eq!(p.log_end_offset(), 7);
        let read = p.read(0, 1 << 20, 7, true).expect("read");
        assert!(!read.records.is_empty());
        manager.checkpoint_high_watermarks();
        assert!(std::fs::read_to_string(b.join(HW_CHECKPOINT_FILE))
            .expect("file")
            .contains("t 0 "));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_move_interrupted_by_a_restart_starts_again() {
        let root = tempfile::tempdir().expect("dir");
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        {
            let manager = open_dirs(&[&a, &b], &image_of(1)).expect("opens");
            let p = manager.partition("t", 0).expect("hosted");
            p.append_from_client(&batch(5)).expect("append");
            assert_eq!(p.dir_index(), 0);
            manager.checkpoint_high_watermarks();
        }
        // The broker stopped while t-0 was being copied to b.
        let unfinished = b.join(crate::replicas::replica_move::future_dir_name("t", 0));
        std::fs::create_dir_all(&unfinished).expect("mkdir");
        std::fs::write(unfinished.join("00000000000000000000.log"), b"par").expect("write");
        let manager = Arc::new(open_dirs(&[&a, &b], &image_of(1)).expect("reopens"));
        assert!(!unfinished.exists(), "the partial copy is removed");
        let p = manager.partition("t", 0).expect("hosted");
        manager.resume_interrupted_moves();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while p.dir_index() != 1 || p.future_replica().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the move did not start again and finish"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(b.join("t-0").is_dir() && !a.join("t-0").exists());
        assert_eq!(p.log_end_offset(), 5);
        // Once only.
        manager.resume_interrupted_moves();
        assert!(manager.interrupted_moves.lock().unwrap().is_empty());
    }

    #[test]
    fn dynamic_broker_configs_reach_topics_without_their_own_value() {
        let dir = tempfile::tempdir().expect("dir");
        let manager = open(dir.path());
        let compacted = |m: &ReplicaManager| {
            let topic = m.topic("t").expect("topic");
            (
                m.partition("t", 0).expect("hosted").is_compacted(),
                topic.produce.compacted,
                topic.produce.max_message_bytes,
            )
        };
        assert_eq!(compacted(&manager), (false, false, 1048588));

        let mut b = ImageBuilder::default();
        b.live_broker(1, None).live_broker(2, None);
        b.apply(MetadataCommand::CreateTopic {
            name: "t".into(),
            topic_id: Uuid::from_u128(7),
            assignments: vec![vec![2, 1]],
            configs: BTreeMap::new(),
        });
        let set = |name: &str, value: &str| sluice_controller::ConfigOp::Set {
            name: name.into(),
            value: value.into(),
        };
        // The cluster-wide default, then broker 2's own value (not this broker's).
        b.apply(MetadataCommand::AlterBrokerConfig {
            broker_id: None,
            ops: vec![
                set("log.cleanup.policy", "compact"),
                set("message.max.bytes", "500"),
            ],
        });
        b.apply(MetadataCommand::AlterBrokerConfig {
            broker_id: Some(2),
            ops: vec![set("message.max.bytes", "9")],
        });
        manager.apply_image(&b.image).expect("applies");
        assert_eq!(compacted(&manager), (true, true, 500));
        assert_eq!(
            manager.live_config().dynamic.cluster.len(),
            2,
            "the cluster-wide defaults"
        );
        assert!(manager.live_config().dynamic.broker.is_empty());

        // This broker's own value wins over the default.
        b.apply(MetadataCommand::AlterBrokerConfig {
            broker_id: Some(1),
            ops: vec![set("message.max.bytes", "700")],
        });
        manager.apply_image(&b.image).expect("applies");
        assert_eq!(compacted(&manager), (true, true, 700));

        // Removing them brings the static values (here Kafka's defaults) back.
        b.apply(MetadataCommand::AlterBrokerConfig {
            broker_id: None,
            ops: vec![
                sluice_controller::ConfigOp::Delete {
                    name: "log.cleanup.policy".into(),
                },
                sluice_controller::ConfigOp::Delete {
                    name: "message.max.bytes".into(),
                },
            ],
        });
        b.apply(MetadataCommand::AlterBrokerConfig {
            broker_id: Some(1),
            ops: vec![sluice_controller::ConfigOp::Delete {
                name: "message.max.bytes".into(),
            }],
        });
        manager.apply_image(&b.image).expect("applies");
        assert_eq!(compacted(&manager), (false, false, 1048588));
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
