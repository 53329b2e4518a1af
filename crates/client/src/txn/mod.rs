//! `sluice txn list|describe` and `sluice producers describe`: the transaction admin APIs of
//! KIP-664, in the manner of kafka-transactions.
//!
//! Through the CLI's Kafka client (`crate::wire`, with the TLS and SASL settings of `-X`).
//! Which brokers to ask comes from Metadata:
//! - `txn list`: every broker, since each lists only the transactional ids it coordinates;
//! - `txn describe`: the coordinator of each id (FindCoordinator, key type 1);
//! - `producers describe`: the leader of each partition, which holds its producer state.
//!
//! Layout:
//! - `mod.rs`: the command lines, and the commands: where each request goes, retries, warnings,
//!   exit status.
//! - `list_transactions.rs`, `describe_transactions.rs`, `describe_producers.rs`: per API, the
//!   request, its response as plain data, and the output table.
//!
//! Output and exit status: a table on stdout for whatever could be described; anything that
//! could not (a broker down, an unknown id, a partition without a leader) makes one error line
//! on stderr and a non-zero exit, after the table.

pub mod describe_producers;
pub mod describe_transactions;
pub mod list_transactions;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest,
};

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::ConnectArgs;
use crate::topic_partitions::{chosen_partitions, topic_partitions};
use crate::wire::{ClusterClient, CoordinatorType, RequestError, Retry};
pub use describe_producers::ProducerState;
pub use describe_transactions::DescribedTransaction;
pub use list_transactions::ListedTransaction;

/// How long one command may spend on its requests in all, retries included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct TxnArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: TxnCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum TxnCommand {
    /// List transactional ids with their producer id and state, from every broker.
    List(TxnListArgs),
    /// Show the state, producer, timeout, start time and partitions of transactions.
    Describe {
        /// The transactional ids.
        #[arg(required = true, value_name = "ID")]
        transactional_ids: Vec<String>,
    },
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct TxnListArgs {
    /// Only transactions in this state (repeatable), e.g. Ongoing, CompleteCommit,
    /// CompleteAbort, PrepareCommit, PrepareAbort, Empty.
    #[arg(long = "state", value_name = "S")]
    pub states: Vec<String>,
    /// Only transactions of this producer id (repeatable).
    #[arg(long = "producer-id", value_name = "N",
          value_parser = clap::value_parser!(i64).range(0..))]
    pub producer_ids: Vec<i64>,
    /// Only transactions that have been open at least this long.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub min_duration_ms: Option<i64>,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ProducersArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: ProducersCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum ProducersCommand {
    /// Show the producers with state on a topic's partitions, asked of each partition's leader.
    Describe {
        /// The topic.
        topic: String,
        /// Only these partitions (repeatable or comma-separated; default: all).
        #[arg(long = "partition", value_name = "P", value_delimiter = ',')]
        partitions: Vec<u32>,
    },
}

pub async fn run_txn(args: TxnArgs) -> Result<()> {
    let mut client = admin_client(&args.connect)?;
    match args.command {
        TxnCommand::List(list) => list_transactions(&mut client, &list).await,
        TxnCommand::Describe { transactional_ids } => {
            describe_transactions(&mut client, &transactional_ids).await
        }
    }
}

pub async fn run_producers(args: ProducersArgs) -> Result<()> {
    let mut client = admin_client(&args.connect)?;
    match args.command {
        ProducersCommand::Describe { topic, partitions } => {
            describe_producers(&mut client, &topic, &partitions).await
        }
    }
}

/// The client of an admin command; the settings (security included) are checked before any
/// connection.
fn admin_client(connect: &ConnectArgs) -> Result<ClusterClient> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    Ok(ClusterClient::new(&settings))
}

async fn list_transactions(client: &mut ClusterClient, args: &TxnListArgs) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let found = list_all(
        client,
        &args.states,
        &args.producer_ids,
        args.min_duration_ms,
        deadline,
    )
    .await?;
    for state in &found.unknown_states {
        eprintln!(
            "warning: the broker does not know transaction state '{state}'; it matches no \
             transaction"
        );
    }
    print!("{}", list_transactions::render(&found.transactions));
    if !found.failures.is_empty() {
        bail!("cannot list transactions of {}", found.failures.join("; "));
    }
    Ok(())
}

/// What every broker listed.
#[derive(Debug, Clone, Default)]
pub struct AllTransactions {
    /// Sorted by transactional id.
    pub transactions: Vec<ListedTransaction>,
    /// State filters some broker did not know (they match nothing).
    pub unknown_states: BTreeSet<String>,
    /// `broker N (host:port): why`, for each broker that could not be asked.
    pub failures: Vec<String>,
}

/// ListTransactions of every broker (each lists the ids it coordinates), with the filters.
pub async fn list_all(
    client: &mut ClusterClient,
    states: &[String],
    producer_ids: &[i64],
    min_duration_ms: Option<i64>,
    deadline: Instant,
) -> Result<AllTransactions, RequestError> {
    let metadata = client.metadata(Some(&[]), false, deadline).await?;
    let mut brokers: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id).collect();
    brokers.sort_unstable();
    if brokers.is_empty() {
        return Err(RequestError::Unsupported(
            "the cluster metadata lists no broker".to_string(),
        ));
    }
    let retry = Retry::until(deadline);
    let mut all = AllTransactions::default();
    for id in brokers {
        let answer = loop {
            let outcome = client
                .send_to_broker::<ListTransactionsRequest>(
                    id,
                    list_transactions::VERSIONS,
                    |_| list_transactions::request(states, producer_ids, min_duration_ms),
                    deadline,
                )
                .await
                .and_then(|(response, _)| list_transactions::from_response(response));
            match outcome {
                Err(e) if retry.again(&e).await => continue,
                outcome => break outcome,
            }
        };
        match answer {
            Ok(list) => {
                all.unknown_states.extend(list.unknown_state_filters);
                all.transactions.extend(list.transactions);
            }
            Err(e) => {
                let address = client.broker_addr(id).unwrap_or("?");
                all.failures.push(format!("broker {id} ({address}): {e}"));
            }
        }
    }
    all.transactions
        .sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
    Ok(all)
}

/// DescribeTransactions of one id, asked of its coordinator (found again while it moves):
/// the coordinator's id and the transaction.
pub async fn describe_one(
    client: &mut ClusterClient,
    id: &str,
    deadline: Instant,
) -> Result<(i32, DescribedTransaction), RequestError> {
    let retry = Retry::until(deadline);
    loop {
        let outcome = async {
            let coordinator = client
                .find_coordinator(id, CoordinatorType::Transaction, deadline)
                .await?;
            let (response, _) = client
                .send_to_broker::<DescribeTransactionsRequest>(
                    coordinator,
                    describe_transactions::VERSIONS,
                    |_| describe_transactions::request(id),
                    deadline,
                )
                .await?;
            describe_transactions::from_response(response, id).map(|t| (coordinator, t))
        }
        .await;
        match outcome {
            Err(e) if retry.again(&e).await => continue,
            outcome => return outcome,
        }
    }
}

async fn describe_transactions(
    client: &mut ClusterClient,
    transactional_ids: &[String],
) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut described: Vec<(i32, DescribedTransaction)> = Vec::new();
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for id in transactional_ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
    {
        let answer = describe_one(client, id, deadline).await;
        match answer {
            Ok(row) => described.push(row),
            Err(e) if describe_transactions::is_not_found(&e) => failures.push(e.to_string()),
            Err(e) => failures.push(format!("transactional id '{id}': {e}")),
        }
    }
    if !described.is_empty() {
        print!("{}", describe_transactions::render(&described, now_ms()));
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

async fn describe_producers(client: &mut ClusterClient, topic: &str, wanted: &[u32]) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let names = [topic.to_string()];
    let metadata = client.metadata(Some(&names), false, deadline).await?;
    let partitions = chosen_partitions(topic, &topic_partitions(&metadata, topic)?, wanted)?;
    let leaders: BTreeMap<i32, i32> = metadata
        .topic(topic)
        .map(|t| {
            t.partitions
                .iter()
                .map(|p| (p.partition, p.leader_id))
                .collect()
        })
        .unwrap_or_default();
    let found = producers_of(client, topic, &partitions, &leaders, deadline).await;
    if found.described > 0 {
        print!("{}", describe_producers::render(&found.rows));
    }
    if !found.failures.is_empty() {
        let texts: Vec<String> = found.failures.into_values().collect();
        bail!("topic '{topic}': {}", texts.join("; "));
    }
    Ok(())
}

/// The producers of some partitions of a topic.
#[derive(Debug, Clone, Default)]
pub struct TopicProducers {
    /// (partition, producer), sorted by partition and producer id.
    pub rows: Vec<(i32, ProducerState)>,
    /// How many partitions were described.
    pub described: usize,
    /// Why a partition could not be described, by partition (one entry for a whole broker
    /// that failed, under its first partition).
    pub failures: BTreeMap<i32, String>,
}

/// DescribeProducers of `partitions` of `topic`, one request per leader (`leaders`: the
/// leader of each partition, from Metadata, -1 for none).
pub async fn producers_of(
    client: &mut ClusterClient,
    topic: &str,
    partitions: &[i32],
    leaders: &BTreeMap<i32, i32>,
    deadline: Instant,
) -> TopicProducers {
    // Partitions by their leader; those without one fail straight away.
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut found = TopicProducers::default();
    for &partition in partitions {
        match leaders.get(&partition).copied().filter(|id| *id >= 0) {
            Some(leader) => by_leader.entry(leader).or_default().push(partition),
            None => {
                found
                    .failures
                    .insert(partition, format!("partition {partition} has no leader"));
            }
        }
    }

    for (leader, asked) in &by_leader {
        let answer = client
            .send_to_broker::<DescribeProducersRequest>(
                *leader,
                describe_producers::VERSIONS,
                |_| describe_producers::request(topic, asked),
                deadline,
            )
            .await;
        let answered = match answer {
            Ok((response, _)) => describe_producers::from_response(response, topic),
            Err(e) => {
                // One failure for the broker rather than the same text per partition.
                let first = asked.first().copied().unwrap_or_default();
                found.failures.insert(first, e.to_string());
                continue;
            }
        };
        let mut missing: BTreeSet<i32> = asked.iter().copied().collect();
        for answer in answered {
            if !missing.remove(&answer.partition) {
                continue; // not asked of this broker, or answered twice
            }
            match answer.outcome {
                Ok(producers) => {
                    found.described += 1;
                    found
                        .rows
                        .extend(producers.into_iter().map(|p| (answer.partition, p)));
                }
                Err(e) => {
                    found.failures.insert(answer.partition, e.to_string());
                }
            }
        }
        let address = client.broker_addr(*leader).unwrap_or("?").to_string();
        for partition in missing {
            found.failures.insert(
                partition,
                format!("partition {partition} is missing from the answer of {address}"),
            );
        }
    }
    found
        .rows
        .sort_by_key(|(partition, p)| (*partition, p.producer_id));
    found
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
