//! The replicas this broker hosts, above `config` and below everything else: imports only
//! `crate::config`.
//!
//! - `replica_manager`: [`ReplicaManager`], the cluster's topics as this broker sees them and
//!   the replicas it hosts, made to match each metadata image it is given
//!   ([`ReplicaManager::apply_image`]), and the periodic log work (retention, cleaning,
//!   flushes, high watermark checkpoints).
//! - `topic`: [`Topic`] and its hosted [`Partitions`].
//! - `partition`: [`Partition`], one replica: the only door to its log, its high watermark,
//!   leader epoch, ISR and (as leader) its followers' progress.
//! - `fetch_session`: the KIP-227 incremental fetch session cache.
//! - `topic_name`: Kafka's topic-name rules; `topic_id`: ids as Kafka prints them.
//! - `high_watermark_checkpoint`, `partition_metadata`: the files Kafka keeps beside the logs.
//! - `log_dir`: [`LogDirs`], the directories of `log.dirs` (JBOD), online or failed, their
//!   `meta.properties`, and the choice of directory for a new replica.
//! - `replica_move`: the file side of moving a replica between log directories.
//! - `replication_throttle`: replication throttles (KIP-73), which replicas and how fast.
//! - `admin_error`: [`AdminError`], a failure with Kafka's code and message.

mod admin_error;
mod fetch_session;
mod high_watermark_checkpoint;
mod log_dir;
mod partition;
mod partition_metadata;
mod replica_manager;
mod replica_move;
mod replication_throttle;
mod topic;
mod topic_id;
mod topic_name;

pub use admin_error::AdminError;
pub use fetch_session::{CachedPartition, FetchSessionCache, PartKey, Reported};
pub use log_dir::{format_meta_properties, read_meta_properties, LogDir, LogDirs, META_PROPERTIES};
pub use partition::{FutureReplica, Partition};
pub use replica_manager::{is_internal_topic, ImageChanges, ReplicaManager};
pub use replication_throttle::{ReplicationQuota, ThrottledPartitions, TopicThrottles};
pub use topic::{Partitions, Topic};
pub use topic_id::{decode_topic_id, encode_topic_id};
pub use topic_name::validate_topic_name;
