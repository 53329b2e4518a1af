//! sluice-client: the client-side commands of the `sluice` CLI (`topic`, `group`, `txn`,
//! `producers`, `cluster`, `partition`, `user`, `acl`, `quota`, `config`, `logdirs`,
//! `produce`, `consume`), which work against any Kafka-compatible cluster. They speak Kafka
//! through Sluice's own guarded wire
//! client (`sluice_protocol::client`): pure Rust, on PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL
//! listeners. The benchmarks, which measure a broker with librdkafka, are the separate
//! `sluice-bench` binary (crates/bench).
//!
//! Layout:
//! - `connect_args.rs`: `-b/--bootstrap-server`, `--command-config FILE` and `-X key=value`,
//!   shared by every command; `properties_file.rs`: the command config's Java properties
//!   syntax; `client_settings.rs`: the keys read into typed settings (librdkafka's names);
//!   `client_security.rs`: `security.protocol`, `sasl.*` and `ssl.*` read into the wire
//!   client's TLS and SASL settings.
//! - `wire/`: routing requests to brokers (bootstrap, Metadata, leaders, coordinators, the
//!   controller), retries with a deadline, and the admin APIs' answers as plain data.
//! - `error_codes.rs`: Kafka's error codes as the commands print them.
//! - `topic.rs`: `topic create|list|describe|alter|delete`.
//! - `group/`: `group list|describe|reset-offsets|delete` (consumer groups and their offsets).
//! - `txn/`: `txn list|describe` and `producers describe` (transactions and producer state).
//! - `cluster.rs`: `cluster status` (cluster id, controller, brokers, partition health);
//!   `cluster_health.rs`: `cluster health` (the same plus the metadata quorum, judged, with
//!   a non-zero exit when unhealthy).
//! - `partition.rs`: `partition elect`; `reassign.rs`: `partition reassign`.
//! - `user.rs`: `user create|list|delete` (SCRAM credentials, KIP-554).
//! - `acl.rs`: `acl create|list|delete` (ACL bindings, kafka-acls' flags; the binding and
//!   filter types are `sluice_security::acl`'s).
//! - `config.rs`: `config describe|alter` (dynamic broker configs, per broker and the cluster
//!   default, and topic configs; kafka-configs' flags).
//! - `quota.rs`: `quota describe|alter` (client quotas of users and client ids, KIP-546; the
//!   entity and key types and checks are `sluice_security::quota`'s).
//! - `logdirs.rs`: `logdirs describe|move` (brokers' log directories, KIP-113).
//! - `produce.rs`: `produce`, one record per input line; `producer.rs`: batching, sending to
//!   leaders, retries and delivery accounting; `partitioner.rs`: which partition a record
//!   goes to.
//! - `consume.rs`: `consume` from explicit start positions; `fetcher.rs`: the fetch loop;
//!   `format.rs`: the `--format` template.
//! - `topic_partitions.rs`: which partitions of a topic a command works on.
//! - `producer_options.rs`: `--acks` and `--compression` values.
//! - `table.rs`: aligned text tables for command output; `OutputFormat` (`--output
//!   table|json`) is in `cluster.rs`.
//!
//! Every command returns one `anyhow` error whose message is a single line.

pub mod acl;
mod client_security;
pub mod client_settings;
pub mod cluster;
mod cluster_health;
pub mod config;
mod connect_args;
mod consume;
mod error_codes;
pub mod fetcher;
mod format;
pub mod group;
pub mod logdirs;
mod partition;
pub mod partitioner;
mod produce;
pub mod producer;
mod producer_options;
mod properties_file;
pub mod quota;
mod reassign;
mod table;
pub mod topic;
mod topic_partitions;
pub mod txn;
pub mod user;
pub mod wire;

use anyhow::bail;
use clap::{Args, Subcommand};

pub use acl::{
    AclArgs, AclCommand, AclCreateArgs, AclDeleteArgs, AclFilterArgs, AclListArgs, ResourceArgs,
};

pub use cluster::{ClusterArgs, ClusterCommand, OutputFormat};
pub use config::{
    ConfigAlterArgs, ConfigArgs, ConfigCommand, ConfigDescribeArgs, ConfigEntityArgs, EntityType,
};
pub use connect_args::{parse_key_value, ConnectArgs};
pub use consume::ConsumeArgs;
pub use error_codes::upper_snake_case;
pub use group::{GroupArgs, GroupCommand, ResetOffsetsArgs};
pub use logdirs::{LogDirsArgs, LogDirsCommand, LogDirsDescribeArgs, LogDirsMoveArgs};
pub use partition::{ElectArgs, ElectionKind, PartitionArgs, PartitionCommand};
pub use produce::ProduceArgs;
pub use producer_options::{Acks, Compression};
pub use quota::{EntityArgs, QuotaAlterArgs, QuotaArgs, QuotaCommand, QuotaDescribeArgs};
pub use reassign::ReassignArgs;
pub use topic::{TopicArgs, TopicCommand};
pub use txn::{ProducersArgs, ProducersCommand, TxnArgs, TxnCommand, TxnListArgs};
pub use user::{CreateArgs, Password, UserArgs, UserCommand};

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
    /// Create, list and delete SCRAM users (their credentials live in the cluster metadata).
    User(UserArgs),
    /// Create, list and delete ACLs (the cluster needs an authorizer: authorizer.class.name).
    Acl(AclArgs),
    /// Describe and alter client quotas of users and client ids.
    Quota(QuotaArgs),
    /// Describe and alter the configs of brokers (dynamic broker configs) and topics.
    Config(ConfigArgs),
    /// Show brokers' log directories, and move a replica between the directories of its broker.
    Logdirs(LogDirsArgs),
    /// Produce records read line by line from stdin or a file.
    Produce(ProduceArgs),
    /// Print records of a topic.
    Consume(ConsumeArgs),
    /// Moved to the `sluice-bench` binary (says so and exits).
    #[command(hide = true)]
    Bench(MovedBenchArgs),
}

/// Whatever followed `sluice bench`, accepted so the message below is what the user sees.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct MovedBenchArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

pub async fn run(cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Topic(args) => topic::run(args).await,
        ClientCommand::Group(args) => group::run(args).await,
        ClientCommand::Txn(args) => txn::run_txn(args).await,
        ClientCommand::Producers(args) => txn::run_producers(args).await,
        ClientCommand::Cluster(args) => cluster::run(args).await,
        ClientCommand::Partition(args) => partition::run(args).await,
        ClientCommand::User(args) => user::run(args).await,
        ClientCommand::Acl(args) => acl::run(args).await,
        ClientCommand::Quota(args) => quota::run(args).await,
        ClientCommand::Config(args) => config::run(args).await,
        ClientCommand::Logdirs(args) => logdirs::run(args).await,
        ClientCommand::Produce(args) => produce::run(args).await,
        ClientCommand::Consume(args) => consume::run(args).await,
        ClientCommand::Bench(_) => bail!(
            "the benchmarks are the sluice-bench binary now (they run on librdkafka): \
             `cargo run --release -p sluice-bench -- {{produce|consume|e2e|rebalance|commit}} \
             ...`, or ./scripts/bench"
        ),
    }
}

#[cfg(test)]
mod broker_tests;
#[cfg(test)]
mod cli_tests;
#[cfg(test)]
mod leader_move_tests;
#[cfg(test)]
mod test_broker;
