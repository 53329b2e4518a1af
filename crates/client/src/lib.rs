//! sluice-client: the client-side commands of the `sluice` CLI (`topic`, `group`, `txn`,
//! `producers`, `cluster`, `partition`, `produce`, `consume`, `bench`), built on librdkafka
//! through the `rdkafka` crate, so they work against any Kafka-compatible cluster, not only
//! Sluice.
//!
//! Layout:
//! - `connection.rs`: `-b/--bootstrap-server` and `-X key=value` shared by every command, client
//!   configuration, Kafka error names for messages.
//! - `topic.rs`: `topic create|list|describe|alter|delete` (admin API).
//! - `group/`: `group list|describe|reset-offsets|delete` (consumer groups and their offsets).
//! - `txn/`: `txn list|describe` and `producers describe` (transactions and producer state).
//! - `cluster.rs`: `cluster status` (cluster id, controller, brokers, partition health).
//! - `partition.rs`: `partition elect` (preferred and unclean leader elections).
//! - `reassign.rs`: `partition reassign` (move partitions between brokers, cancel, list).
//! - `produce.rs`: `produce`, one record per input line.
//! - `consume.rs`: `consume` with assign + explicit start positions.
//! - `format.rs`: the `consume --format` template.
//! - `producer_options.rs`: `--acks` and `--compression` values.
//! - `table.rs`: aligned text tables for command output.
//! - `bench/`: `bench produce|consume|e2e`.
//! - `wire/`: a small Kafka-protocol client for the admin requests librdkafka does not expose.
//!
//! Every command runs its blocking librdkafka work on tokio's blocking pool and returns one
//! `anyhow` error whose message is a single line.

mod bench;
mod cluster;
mod connection;
mod consume;
mod format;
mod group;
mod partition;
mod produce;
mod producer_options;
mod reassign;
mod table;
mod topic;
mod txn;
mod wire;

use clap::Subcommand;

pub use bench::{BenchArgs, BenchCommand, BenchConsumeArgs, BenchE2eArgs, BenchProduceArgs};
pub use cluster::{ClusterArgs, ClusterCommand, OutputFormat};
pub use connection::ConnectArgs;
pub use consume::ConsumeArgs;
pub use group::{GroupArgs, GroupCommand, ResetOffsetsArgs};
pub use partition::{ElectArgs, ElectionKind, PartitionArgs, PartitionCommand};
pub use produce::ProduceArgs;
pub use producer_options::{Acks, Compression};
pub use reassign::ReassignArgs;
pub use topic::{TopicArgs, TopicCommand};
pub use txn::{ProducersArgs, ProducersCommand, TxnArgs, TxnCommand, TxnListArgs};

/// The client commands; the binary flattens these into its own command enum.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// Create, list, describe, alter and delete topics.
    Topic(TopicArgs),
    /// List, describe, reset the offsets of, and delete consumer groups.
    Group(GroupArgs),
    /// List and describe transactions.
    Txn(TxnArgs),
    /// Describe the producers with state on a topic's partitions.
    Producers(ProducersArgs),
    /// Show the cluster id, the controller, the brokers and the health of the partitions.
    Cluster(ClusterArgs),
    /// Elect partition leaders (preferred or unclean), or move partitions between brokers.
    Partition(PartitionArgs),
    /// Produce records read line by line from stdin or a file.
    Produce(ProduceArgs),
    /// Print records of a topic.
    Consume(ConsumeArgs),
    /// Measure producer, consumer and end-to-end performance.
    Bench(BenchArgs),
}

pub async fn run(cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Topic(args) => topic::run(args).await,
        ClientCommand::Group(args) => group::run(args).await,
        ClientCommand::Txn(args) => txn::run_txn(args).await,
        ClientCommand::Producers(args) => txn::run_producers(args).await,
        ClientCommand::Cluster(args) => cluster::run(args).await,
        ClientCommand::Partition(args) => partition::run(args).await,
        ClientCommand::Produce(args) => produce::run(args).await,
        ClientCommand::Consume(args) => consume::run(args).await,
        ClientCommand::Bench(args) => bench::run(args).await,
    }
}

#[cfg(test)]
mod cli_tests;
#[cfg(test)]
mod mock_cluster_tests;
