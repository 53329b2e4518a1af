//! sluice-broker: the Kafka-protocol server.
//!
//! # Layout
//! The crate is six layers; a module imports only the layers below its own, never one above
//! (`tests/layers.rs` checks it, and that submodules import each other without cycles). Each
//! layer's `mod.rs` says what lives where inside it.
//!
//! ```text
//! server        server, broker           wiring: start, tasks, shutdown
//!   ^
//! apis          apis/                    connections, the front door, one handler per API
//!   ^
//! coordinators  coordinators/            coordinator runtime, group and transaction services
//!   ^
//! cluster       cluster/                 membership, metadata images, admin, replication
//!   ^
//! replicas      replicas/                replica manager, partitions, fetch sessions
//!   ^
//! config        config/, metrics/        key tables, BrokerConfig, BrokerSettings; metric handles
//! ```
//!
//! - `config` (a leaf): every broker and topic key with Kafka's name, type, check and default in
//!   one table; [`BrokerConfig`], the keys the file and `--set` set; [`BrokerSettings`], every
//!   setting typed, built once at startup and read by every component; a topic's effective
//!   config.
//! - `metrics` (a leaf beside `config`): the node's Prometheus registry and the handles the
//!   hot paths record into (per-topic throughput, per-API request times, connections, ISR
//!   changes); gauges derived from state are collected at scrape time by the server's
//!   collectors (`server/metrics_collector.rs`, `coordinators/consumer_lag.rs`).
//! - `replicas`: the [`replicas::ReplicaManager`] (the cluster's topics as this broker sees them
//!   and the replicas it hosts, made to match each metadata image it is given; retention,
//!   cleaning, flushes, checkpoints), each [`replicas::Partition`] (the only door to its log,
//!   its high watermark, leader epoch and ISR), the KIP-227 fetch session cache, topic names
//!   and ids.
//! - `cluster`: the controller quorum member and this broker's registration, heartbeats and
//!   controlled shutdown ([`cluster::Cluster`]); the [`cluster::MetadataPublisher`], the one
//!   place that applies metadata images to the replicas and reports leadership changes; topic
//!   changes proposed to the controller ([`cluster::TopicAdmin`]); follower fetchers and ISR
//!   changes ([`cluster::Replication`]); producer id blocks; the client one broker uses to talk
//!   to another.
//! - `coordinators`: the coordinator runtime (one shard per internal-topic partition this
//!   broker leads; writes answered and made visible once committed, undone when they fail);
//!   the group and transaction services on it, each given the handles it uses (no access to the
//!   whole broker); transaction markers; the internal topics; following leadership.
//! - `apis`: one connection's requests in order; the front door every frame passes
//!   ([`apis::admit`]: header checks, guards, decoding; the fuzz target calls it too); the
//!   dispatch ([`apis::KafkaApis`]) to one module per API, each handler taking only the handles
//!   it uses.
//! - `server` and `broker`: build every part from the settings, start the background tasks
//!   (metadata publisher, heartbeats, fetchers, coordinator timers, log maintenance), accept
//!   connections, shut down in order; [`Broker`] holds a running broker's parts.
//! - `test_support` (tests only): record batches, metadata images and raw requests for unit
//!   tests; `request_order_tests` and `metrics_tests` run a whole node.
#![forbid(unsafe_code)]

pub mod apis;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod coordinators;
pub mod metrics;
#[cfg(test)]
mod metrics_tests;
pub mod replicas;
#[cfg(test)]
mod request_order_tests;
pub mod server;
#[cfg(test)]
mod test_support;

pub use broker::Broker;
pub use config::{BrokerConfig, BrokerSettings, ConfigError};
pub use server::{start, start_with_listeners, Listeners, OwnListener, ServerError, ServerHandle};
