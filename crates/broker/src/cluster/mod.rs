//! The broker's place in the cluster, above `replicas`: imports `crate::config` and
//! `crate::replicas` only.
//!
//! - `membership`: [`Cluster`], the controller quorum member this process runs, the metadata
//!   image it keeps, this broker's registration, heartbeats and controlled shutdown;
//!   `cluster_id`: the cluster id, `meta.properties` and formatting storage;
//!   `controller_config`: the quorum member's settings; `metadata_catch_up`:
//!   [`MetadataCatchUp`], whether the broker has applied the metadata log far enough.
//! - `metadata_publisher`: [`MetadataPublisher`], the one place that applies metadata images
//!   to the replicas and reports leadership changes; everyone else asks it.
//! - `topic_admin`: [`TopicAdmin`], topic changes proposed to the controller.
//! - `replication`: [`Replication`], follower fetchers and ISR changes.
//! - `producer_id_manager`: [`ProducerIdManager`], producer id blocks from the controller.
//! - `peer`: [`PeerConnection`], the Kafka-protocol client one broker uses to talk to another.
//! - `authorization`: [`Authorization`], the ACLs of the newest image as an authorizer.
//! - `client_quotas`: [`ClientQuotas`], the client quotas of the newest image and the
//!   sensors that measure connections against them.

mod authorization;
mod client_quotas;
mod cluster_id;
mod controller_config;
mod membership;
mod metadata_catch_up;
mod metadata_publisher;
mod peer;
mod producer_id_manager;
mod replication;
mod topic_admin;

pub use authorization::Authorization;
pub use client_quotas::ClientQuotas;
pub use cluster_id::{cluster_id, format_storage, random_cluster_id, Formatted};
pub use controller_config::controller_config;
pub use membership::{command_error, controller_error, run_heartbeats, Cluster};
pub use metadata_catch_up::MetadataCatchUp;
pub use metadata_publisher::MetadataPublisher;
pub use peer::{PeerConnection, PeerError};
pub use producer_id_manager::{ProducerIdManager, PRODUCER_IDS_FILE};
pub use replication::{Replication, REPLICA_FETCH_VERSION};
pub use topic_admin::{NewTopic, TopicAdmin};
