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
//! - `admin_error`: [`AdminError`], a failure with Kafka's code and message.

mod admin_error;
mod fetch_session;
mod high_watermark_checkpoint;
mod partition;
mod partition_metadata;
mod replica_manager;
mod topic;
mod topic_id;
mod topic_name;

pub use admin_error::AdminError;
pub use fetch_session::{CachedPartition, FetchSessionCache, PartKey, Reported};
pub use partition::Partition;
pub use replica_manager::{is_internal_topic, ImageChanges, ReplicaManager};
pub use topic::{Partitions, Topic};
pub use topic_id::{decode_topic_id, encode_topic_id};
pub use topic_name::validate_topic_name;
