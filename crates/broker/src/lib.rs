//! sluice-broker: the Kafka-protocol server.
//!
//! # Layout
//! - `server`: binds the listener, accepts connections, runs retention, cleaner and flush tasks, shuts
//!   down in order.
//! - `connection`: one client connection: framing, pipelining, responses in request order.
//! - `apis`: dispatch by api key, then one module per API (`apis/produce.rs`, `apis/fetch.rs`,
//!   ...), each turning a decoded request into a response.
//! - `broker`: the state handlers share ([`Broker`]).
//! - `replica_manager`: the cluster's topics as this broker sees them and the replicas it hosts,
//!   kept in line with the controller's metadata image.
//! - `partition`: one partition replica: its log, high watermark, leader epoch, ISR and (as
//!   leader) its followers' progress.
//! - `replication`: follower fetchers, ISR expansion and shrinking through the controller;
//!   `peer`: the Kafka-protocol client one broker uses to talk to another.
//! - `fetch_session`: the KIP-227 incremental fetch session cache.
//! - `coordinator`: the coordinator runtime: one shard per internal-topic partition this broker
//!   leads; writes appended, then answered and made visible once committed, undone when they
//!   fail; reads of committed state; loading and unloading with leadership.
//! - `group_coordinator`: the `sluice_group` state machine (consumer groups, committed
//!   offsets) on the runtime, and its timers.
//! - `txn_coordinator`: the `sluice_txn` state machine (transactions) on the runtime, the
//!   transactions' markers, and its timer.
//! - `internal_topic`: creating the coordinators' internal topics.
//! - `producer_id_manager`: durable producer id allocation (InitProducerId).
//! - `cluster`: the controller quorum member, broker registration and heartbeats, and the task
//!   applying metadata images; `admin`: topic changes proposed to the controller.
//! - `config`: the key tables (broker and topic keys, with defaults), the keys set
//!   ([`BrokerConfig`]) and the typed settings built from them once ([`BrokerSettings`]).
//! - `request`: request header decoding and response framing.
//! - `topic_name`: Kafka's topic-name rules.
#![forbid(unsafe_code)]

pub mod apis;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod coordinators;
pub mod replicas;
#[cfg(test)]
mod request_order_tests;
pub mod server;
#[cfg(test)]
mod test_support;

pub use broker::Broker;
pub use config::{BrokerConfig, BrokerSettings, ConfigError};
pub use server::{start, start_with_listeners, Listeners, ServerError, ServerHandle};
