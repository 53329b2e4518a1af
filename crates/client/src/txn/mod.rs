//! `sluice txn list|describe` and `sluice producers describe`: the transaction admin APIs of
//! KIP-664, in the manner of kafka-transactions.
//!
//! Through the CLI's Kafka client (`crate::wire`, PLAINTEXT only). Which brokers to ask comes
//! from Metadata:
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

mod describe_producers;
mod describe_transactions;
mod list_transactions;

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
use crate::wire::{ClusterClient, CoordinatorType, Retry};
use describe_producers::ProducerState;
use describe_transactions::DescribedTransaction;
use list_transactions::ListedTransaction;

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

/// The client of an admin command; the settings are checked (PLAINTEXT only) before any
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
    let metadata = client.metadata(Some(&[]), false, deadline).await?;
    let mut brokers: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id).collect();
    brokers.sort_unstable();
    if brokers.is_empty() {
        bail!("the cluster metadata lists no broker");
    }
    let retry = Retry::until(deadline);
    let mut listed: Vec<ListedTransaction> = Vec::new();
    let mut unknown_states = BTreeSet::new();
    let mut failures = Vec::new();
    for id in brokers {
        let answer = loop {
            let outcome = client
                .send_to_broker::<ListTransactionsRequest>(
                    id,
                    list_transactions::VERSIONS,
                    |_| {
                        list_transactions::request(
                            &args.states,
                            &args.producer_ids,
                            args.min_duration_ms,
                        )
                    },
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
                unknown_states.extend(list.unknown_state_filters);
                listed.extend(list.transactions);
            }
            Err(e) => {
                let address = client.broker_addr(id).unwrap_or("?");
                failures.push(format!("broker {id} ({address}): {e}"));
            }
        }
    }
    for state in unknown_states {
        eprintln!(
            "warning: the broker does not know transaction state '{state}'; it matches no \
             transaction"
        );
    }
    listed.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
    print!("{}", list_transactions::render(&listed));
    if !failures.is_empty() {
        bail!("cannot list transactions of {}", failures.join("; "));
    }
    Ok(())
}

async fn describe_transactions(
    client: &mut ClusterClient,
    transactional_ids: &[String],
) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let retry = Retry::until(deadline);
    let mut described: Vec<(i32, DescribedTransaction)> = Vec::new();
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for id in transactional_ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
    {
        let answer = loop {
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
                outcome => break outcome,
            }
        };
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

    // Partitions by their leader; those without one fail straight away.
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut failures: BTreeMap<i32, String> = BTreeMap::new();
    for &partition in &partitions {
        match leaders.get(&partition).copied().filter(|id| *id >= 0) {
            Some(leader) => by_leader.entry(leader).or_default().push(partition),
            None => {
                failures.insert(partition, format!("partition {partition} has no leader"));
            }
        }
    }

    let mut rows: Vec<(i32, ProducerState)> = Vec::new();
    let mut described = 0usize;
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
                failures.insert(first, e.to_string());
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
                    described += 1;
                    rows.extend(producers.into_iter().map(|p| (answer.partition, p)));
                }
                Err(e) => {
                    failures.insert(answer.partition, e.to_string());
                }
            }
        }
        let address = client.broker_addr(*leader).unwrap_or("?").to_string();
        for partition in missing {
            failures.insert(
                partition,
                format!("partition {partition} is missing from the answer of {address}"),
            );
        }
    }

    rows.sort_by_key(|(partition, p)| (*partition, p.producer_id));
    if described > 0 {
        print!("{}", describe_producers::render(&rows));
    }
    if !failures.is_empty() {
        let texts: Vec<String> = failures.into_values().collect();
        bail!("topic '{topic}': {}", texts.join("; "));
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
