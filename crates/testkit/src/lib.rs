//! sluice-testkit: real Sluice brokers and clusters inside the test process, for the
//! workspace's tests (a dev-dependency only).
//!
//! # Layout
//! - `node`: one node on a thread and tokio runtime of its own: start, graceful stop, crash.
//! - `broker`: [`TestBroker`], a single-node cluster in a temporary directory, restartable on
//!   its data and port.
//! - `cluster`: [`TestCluster`], several nodes forming one cluster over loopback, their ports
//!   bound before any node starts.
//! - `client`: [`Client`], a blocking Kafka-protocol client on Sluice's guarded codec, with raw
//!   frame access for malformed-input tests and a SASL/PLAIN login for SASL listeners.
//! - `batches`: v2 record batches as clients build them.
//!
//! Processes still have their place: tests of the `sluice` binary itself (its command line,
//! signals, `dev-cluster`) and the end-to-end tests with real clients (`tests/`) spawn it.
#![forbid(unsafe_code)]

mod batches;
mod broker;
mod client;
mod cluster;
mod node;

pub use batches::{batch, batch_offsets};
pub use broker::TestBroker;
pub use client::Client;
pub use cluster::{ClusterNode, TestCluster, CLUSTER_ID};
pub use node::Node;
