//! sluice-controller: the controller quorum. Cluster metadata (brokers, topics, partitions,
//! replica assignments, leaders, ISRs, configs) is a log of [`MetadataCommand`]s replicated with
//! openraft (the analogue of KRaft's `__cluster_metadata`); every controller applies the
//! committed commands to a [`MetadataImage`] and publishes it. Controllers talk to each other on
//! their own listener (Kafka's `controller.listener.names`).
//!
//! # Layout
//! - `controller`: [`Controller`] (start, propose from any node, broker registration and
//!   heartbeats, image, leader, shutdown), [`ControllerStatus`]; bootstrap of the quorum
//!   membership; non-voters joining as learners.
//! - `bootstrap`: the metadata a node's storage was formatted with
//!   ([`write_bootstrap_metadata`]), proposed once as the cluster's bootstrap.
//! - `config`: [`ControllerConfig`], [`ClusterManagerConfig`] and their defaults.
//! - `command`: [`MetadataCommand`], [`CommandResult`] = [`CommandOutput`] or [`CommandError`]
//!   (with its Kafka error code).
//! - `image`: [`MetadataImage`] and the rules that apply commands to it (sans I/O; submodules
//!   `brokers`, `topics`, `partitions`, `features`).
//! - `lifecycle`: the broker lifecycle (registration, heartbeats, fencing, controlled shutdown,
//!   unclean restart) as sans-I/O decisions, [`BrokerRegistrationRequest`],
//!   [`BrokerHeartbeatRequest`], [`BrokerHeartbeatReply`]; the leader's broker sessions.
//! - `elections`: partition leader elections (clean, unclean, preferred), sans I/O, and
//!   [`elect_leader`] ([`ElectionType`], [`ElectionError`]) for the ElectLeaders API.
//! - `pre_vote`: Pre-Vote (KIP-996) for the controller quorum: a voter campaigns only when a
//!   majority would vote for it (decisions sans I/O, and the task that asks the voters).
//! - `cluster_manager`: the leader's task and request handlers that run the two above.
//! - `placement`: [`place_replicas`], replica assignments for new partitions.
//! - `voters`: [`parse_quorum_voters`] for `controller.quorum.voters`.
//! - `raft_types`: the openraft type configuration.
//! - `log_store`: the durable Raft log and vote (openraft `RaftLogStorage`).
//! - `proposers`: proposal identities (proposer, sequence) and the table that makes a retried
//!   proposal apply once.
//! - `state_machine`: the image and the proposer table as openraft's state machine, snapshots
//!   on disk.
//! - `record_file`: CRC-32C framed records and atomic file replacement, for all files above.
//! - `rpc`: controller RPC messages and frames; `network`: the client side (openraft
//!   `RaftNetwork`); `server`: the controller listener.
//! - `transport`: [`ControllerTransport`], how a connection is set up before its first frame
//!   (TLS and SASL come from the server); [`PlaintextTransport`].
//! - `error`: [`ControllerError`].
//!
//! # Data directory
//! ```text
//! raft-log          Raft log entries (see log_store)
//! raft-vote         current term and vote
//! raft-committed    last committed log id known
//! raft-snapshot     newest snapshot: metadata + serialized image (see state_machine)
//! bootstrap.json    commands from `sluice storage format`, until applied (see bootstrap)
//! ```
#![forbid(unsafe_code)]

mod bootstrap;
mod cluster_manager;
mod command;
mod config;
mod controller;
mod elections;
mod error;
mod image;
mod lifecycle;
mod log_store;
mod network;
mod placement;
mod pre_vote;
mod proposers;
mod quorum;
mod raft_types;
mod record_file;
mod rpc;
mod server;
mod state_machine;
#[cfg(test)]
mod storage_suite_tests;
mod transport;
mod voters;

pub use bootstrap::write_bootstrap_metadata;
pub use bootstrap::BOOTSTRAP_FILE;
pub use command::CommandError;
pub use command::CommandOutput;
pub use command::CommandResult;
pub use command::ConfigOp;
pub use command::MetadataCommand;
pub use command::QuotaValue;
pub use config::ClusterManagerConfig;
pub use config::ControllerConfig;
pub use controller::Controller;
pub use controller::ControllerRole;
pub use controller::ControllerStatus;
pub use elections::elect_leader;
pub use elections::ElectionError;
pub use elections::ElectionType;
pub use error::ControllerError;
pub use image::BrokerRegistration;
pub use image::FeatureUpdate;
pub use image::FeatureUpgradeType;
pub use image::ListenerEndpoint;
pub use image::MetadataImage;
pub use image::PartitionState;
pub use image::StoredScramCredential;
pub use image::SupportedFeature;
pub use image::TopicImage;
pub use image::GROUP_VERSION;
pub use image::METADATA_VERSION;
pub use image::SUPPORTED_FEATURES;
pub use image::TRANSACTION_VERSION;
pub use lifecycle::unregister_command;
pub use lifecycle::BrokerHeartbeatReply;
pub use lifecycle::BrokerHeartbeatRequest;
pub use lifecycle::BrokerRegistrationRequest;
pub use placement::place_replicas;
pub use quorum::QuorumDescription;
pub use quorum::QuorumMember;
pub use transport::Accepted;
pub use transport::BoxedStream;
pub use transport::ControllerTransport;
pub use transport::PlaintextTransport;
pub use transport::RpcStream;
pub use transport::TransportFuture;
pub use voters::parse_quorum_voters;
