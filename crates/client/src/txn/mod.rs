//! `sluice txn list|describe` and `sluice producers describe`: the transaction admin APIs of
//! KIP-664, in the manner of kafka-transactions.
//!
//! librdkafka 2.12 implements none of ListTransactions, DescribeTransactions and
//! DescribeProducers, so they go through the crate's own Kafka-protocol client (`crate::wire`,
//! PLAINTEXT only). Which brokers to ask comes from librdkafka's Metadata:
//! - `txn list`: every broker, since each lists only the transactional ids it coordinates;
//! - `txn describe`: the coordinator of each id (FindCoordinator, key type 1);
//! - `producers describe`: the leader of each partition, which holds its producer state.
//!
//! Layout:
//! - `mod.rs`: the command lines, and the commands: where each request goes, retries, warnings,
//!   exit status.
//! - `list_transactions.rs`, `describe_transactions.rs`, `describe_producers.rs`: per API, the
//!   request, the bounded reading of its response, and the output table.
//!
//! Output and exit status: a table on stdout for whatever could be described; anything that
//! could not (a broker down, an unknown id, a partition without a leader) makes one error line
//! on stderr and a non-zero exit, after the table.

mod describe_producers;
mod describe_transactions;
mod list_transactions;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Subcommand};

use crate::connection::{chosen_partitions, topic_partitions, ConnectArgs};
use crate::topic::Admin;
use crate::wire::{
    host_port, require_plaintext, retry_until, Bootstrap, BrokerConnection, CoordinatorType,
    RequestError,
};
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
    let connect = args.connect;
    match args.command {
        TxnCommand::List(list) => blocking(move || list_transactions(&connect, &list)).await,
        TxnCommand::Describe { transactional_ids } => {
            blocking(move || describe_transactions(&connect, &transactional_ids)).await
        }
    }
}

pub async fn run_producers(args: ProducersArgs) -> Result<()> {
    let connect = args.connect;
    match args.command {
        ProducersCommand::Describe { topic, partitions } => {
            blocking(move || describe_producers(&connect, &topic, &partitions)).await
        }
    }
}

async fn blocking<F>(work: F) -> Result<()>
where
    F: FnOnce() -> Result<()> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .context("transaction command task failed")?
}

fn list_transactions(connect: &ConnectArgs, args: &TxnListArgs) -> Result<()> {
    require_plaintext(connect).map_err(|e| anyhow!(e))?;
    let metadata = Admin::connect(connect)?.metadata(None)?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut brokers: Vec<(i32, String)> = metadata
        .brokers()
        .iter()
        .map(|b| (b.id(), host_port(b.host(), b.port())))
        .collect();
    brokers.sort();
    if brokers.is_empty() {
        bail!("the cluster metadata lists no broker");
    }
    let request =
        list_transactions::request(&args.states, &args.producer_ids, args.min_duration_ms);
    let mut listed: Vec<ListedTransaction> = Vec::new();
    let mut unknown_states = BTreeSet::new();
    let mut failures = Vec::new();
    for (id, address) in &brokers {
        let answer = BrokerConnection::open(address, deadline)
            .map_err(RequestError::from)
            .and_then(|mut connection| {
                retry_until(deadline, || {
                    let body = connection.send(&request, list_transactions::VERSION)?;
                    list_transactions::parse(&body)
                })
            });
        match answer {
            Ok(list) => {
                unknown_states.extend(list.unknown_state_filters);
                listed.extend(list.transactions);
            }
            Err(e) => failures.push(format!("broker {id} ({address}): {e}")),
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

fn describe_transactions(connect: &ConnectArgs, transactional_ids: &[String]) -> Result<()> {
    require_plaintext(connect).map_err(|e| anyhow!(e))?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut bootstrap = Bootstrap::connect(connect, deadline).map_err(|e| anyhow!(e))?;
    // Connections to coordinators by address, shared by the ids they coordinate.
    let mut coordinators: HashMap<String, BrokerConnection> = HashMap::new();
    let mut described: Vec<(i32, DescribedTransaction)> = Vec::new();
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for id in transactional_ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
    {
        let answer = retry_until(deadline, || {
            let coordinator = bootstrap.find_coordinator(id, CoordinatorType::Transaction)?;
            let connection = match coordinators.entry(coordinator.address.clone()) {
                Entry::Occupied(open) => open.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(BrokerConnection::open(&coordinator.address, deadline)?)
                }
            };
            let body = connection.send(
                &describe_transactions::request(id),
                describe_transactions::VERSION,
            )?;
            describe_transactions::parse(&body, id).map(|t| (coordinator.node_id, t))
        });
        match answer {
            Ok(row) => described.push(row),
            Err(e) if describe_transactions::is_not_found(&e) => failures.push(e.to_string()),
            Err(e) => {
                if let RequestError::Transport(_) = e {
                    // A connection may be left mid-response; later ids get fresh ones.
                    coordinators.clear();
                }
                failures.push(format!("transactional id '{id}': {e}"));
            }
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

fn describe_producers(connect: &ConnectArgs, topic: &str, wanted: &[u32]) -> Result<()> {
    require_plaintext(connect).map_err(|e| anyhow!(e))?;
    let metadata = Admin::connect(connect)?.metadata(Some(topic))?;
    let partitions = chosen_partitions(topic, &topic_partitions(&metadata, topic)?, wanted)?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let brokers: HashMap<i32, String> = metadata
        .brokers()
        .iter()
        .map(|b| (b.id(), host_port(b.host(), b.port())))
        .collect();
    let leaders: HashMap<i32, i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| (p.id(), p.leader())))
        .collect();

    // Partitions by the address of their leader; those without one fail straight away.
    let mut by_leader: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    let mut failures: BTreeMap<i32, String> = BTreeMap::new();
    for &partition in &partitions {
        let leader = leaders.get(&partition).copied().unwrap_or(-1);
        match brokers.get(&leader) {
            Some(address) => by_leader
                .entry(address.clone())
                .or_default()
                .push(partition),
            None => {
                failures.insert(partition, format!("partition {partition} has no leader"));
            }
        }
    }

    let mut rows: Vec<(i32, ProducerState)> = Vec::new();
    let mut described = 0usize;
    for (address, asked) in &by_leader {
        let answer = BrokerConnection::open(address, deadline).and_then(|mut connection| {
            let body = connection.send(
                &describe_producers::request(topic, asked),
                describe_producers::VERSION,
            )?;
            describe_producers::parse(&body, topic)
        });
        let answered = match answer {
            Ok(answered) => answered,
            Err(e) => {
                // One failure for the broker rather than the same text per partition.
                let first = asked.first().copied().unwrap_or_default();
                failures.insert(first, e);
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
