//! `sluice partition elect`: leader elections, in the manner of `kafka-leader-election`
//! (`sluice partition reassign` is in `reassign.rs`).
//!
//! One ElectLeaders request (KIP-183, KIP-460) through the CLI's Kafka client (`crate::wire`,
//! PLAINTEXT only), sent to the first bootstrap server that answers: a KRaft broker forwards it
//! to the controller quorum, a Sluice broker proposes it there itself.
//!
//! - `--type preferred` (the default) moves leadership back to each partition's first replica
//!   when that replica is in sync; `--type unclean` gives a partition without a leader one, even
//!   a replica that may lack records (ElectLeaders v1+).
//! - Without `--topic`, every partition of every topic; the broker then leaves out those that
//!   needed no election. With `--topic` alone, every partition of that topic (read from
//!   Metadata, so an unknown topic is one error line); with `--partition`, those partitions.
//!
//! Output: one row per partition with its result, or a line saying no partition needed an
//! election. Exit status: non-zero when a partition failed for any reason other than
//! ELECTION_NOT_NEEDED (its leader already is the one the election would choose), with one
//! error line on stderr after the table; also when no bootstrap server answers.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::messages::{ElectLeadersRequest, MetadataRequest};

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::ConnectArgs;
use crate::error_codes::{code_name as kafka_code_name, code_text};
use crate::reassign::ReassignArgs;
use crate::table::Table;
use crate::wire::elect_leaders::{self, ElectionType, PartitionElection, ELECTION_NOT_NEEDED};
use crate::wire::metadata;
use crate::wire::{ClusterClient, RequestError, Retry};

/// How long the command may spend on its requests in all, retries included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The time the request gives the cluster for the elections (Kafka's admin default is 60 s);
/// a little less than the command's own deadline so the answer can still arrive.
const ELECTION_TIMEOUT_MS: i32 = 50_000;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct PartitionArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: PartitionCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum PartitionCommand {
    /// Elect partition leaders: the preferred replicas, or (unclean) any live replica of a
    /// partition without a leader.
    Elect(ElectArgs),
    /// Move partitions to other brokers (data copied first), cancel moves, or list them.
    Reassign(ReassignArgs),
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ElectArgs {
    /// Which election: the preferred (first) replica, or any live replica of a leaderless
    /// partition (may lose records).
    #[arg(long = "type", value_enum, default_value_t = ElectionKind::Preferred)]
    pub election: ElectionKind,
    /// Only this topic (default: every partition of every topic).
    #[arg(long, value_name = "T")]
    pub topic: Option<String>,
    /// Only these partitions of --topic (repeatable or comma-separated; default: all).
    #[arg(
        long = "partition",
        value_name = "P",
        value_delimiter = ',',
        requires = "topic"
    )]
    pub partitions: Vec<u32>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionKind {
    Preferred,
    Unclean,
}

impl ElectionKind {
    fn election_type(self) -> ElectionType {
        match self {
            ElectionKind::Preferred => ElectionType::Preferred,
            ElectionKind::Unclean => ElectionType::Unclean,
        }
    }
}

pub async fn run(args: PartitionArgs) -> Result<()> {
    match args.command {
        PartitionCommand::Elect(elect) => run_election(&args.connect, &elect).await,
        PartitionCommand::Reassign(reassign) => {
            crate::reassign::run(&args.connect, &reassign).await
        }
    }
}

async fn run_election(connect: &ConnectArgs, args: &ElectArgs) -> Result<()> {
    let elections = elect(connect, args).await?;
    let everything = args.topic.is_none();
    print!("{}", render(&elections, everything));
    let failed: Vec<&PartitionElection> = elections
        .iter()
        .filter(|e| e.error_code != 0 && e.error_code != ELECTION_NOT_NEEDED)
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let list = failed
        .iter()
        .map(|e| format!("{}-{} ({})", e.topic, e.partition, code_name(e.error_code)))
        .collect::<Vec<_>>()
        .join(", ");
    bail!(
        "leader election failed for {} of {} partition(s): {list}",
        failed.len(),
        elections.len()
    )
}

/// The elections' outcomes from the first bootstrap server that answers.
async fn elect(connect: &ConnectArgs, args: &ElectArgs) -> Result<Vec<PartitionElection>> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    let mut client = ClusterClient::new(&settings);
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut failures = Vec::new();
    for server in &settings.bootstrap {
        match ask(&mut client, server, args, deadline).await {
            Ok(elections) => return Ok(elections),
            // The broker's own answer (an unknown topic, a refused request) is the answer.
            Err(AskError::Final(e)) => return Err(e),
            Err(AskError::Unreachable(e)) => failures.push(format!("{server}: {e}")),
        }
    }
    bail!("cannot elect leaders through {}", failures.join("; "))
}

enum AskError {
    /// This server could not be asked: try the next one.
    Unreachable(RequestError),
    /// The cluster answered, and the answer is an error.
    Final(anyhow::Error),
}

impl From<RequestError> for AskError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Transport(_) => AskError::Unreachable(e),
            _ => AskError::Final(anyhow!(e)),
        }
    }
}

async fn ask(
    client: &mut ClusterClient,
    server: &str,
    args: &ElectArgs,
    deadline: Instant,
) -> Result<Vec<PartitionElection>, AskError> {
    let election = args.election.election_type();
    let topics = match &args.topic {
        None => None,
        Some(topic) if !args.partitions.is_empty() => {
            let partitions = args
                .partitions
                .iter()
                .map(|p| i32::try_from(*p))
                .collect::<Result<Vec<i32>, _>>()
                .map_err(|_| AskError::Final(anyhow!("a partition id is out of range")))?;
            Some(vec![(topic.clone(), partitions)])
        }
        Some(topic) => Some(vec![(
            topic.clone(),
            partitions_of(client, server, topic, deadline).await?,
        )]),
    };
    let unsupported = |e| match e {
        RequestError::Unsupported(_) => {
            AskError::Final(anyhow!("{server} does not support ElectLeaders"))
        }
        e => AskError::from(e),
    };
    let version = client
        .negotiate::<ElectLeadersRequest>(server, elect_leaders::VERSIONS, deadline)
        .await
        .map_err(unsupported)?;
    if election == ElectionType::Unclean && version < elect_leaders::ELECTION_TYPE_VERSION {
        return Err(AskError::Final(anyhow!(
            "{server} supports only preferred elections (ElectLeaders v0)"
        )));
    }
    // Not retried: a retry after a lost answer would report "not needed" for what the first
    // attempt elected.
    let (response, _) = client
        .send_to_addr::<ElectLeadersRequest>(
            server,
            version..=version,
            |version| {
                elect_leaders::request(version, election, topics.as_deref(), ELECTION_TIMEOUT_MS)
            },
            deadline,
        )
        .await
        .map_err(unsupported)?;
    Ok(elect_leaders::from_response(response)?)
}

/// Every partition id of `topic`, from Metadata.
async fn partitions_of(
    client: &mut ClusterClient,
    server: &str,
    topic: &str,
    deadline: Instant,
) -> Result<Vec<i32>, AskError> {
    let retry = Retry::until(deadline);
    let names = [topic.to_string()];
    let cluster = loop {
        let outcome = match client
            .send_to_addr::<MetadataRequest>(
                server,
                metadata::VERSIONS,
                |version| metadata::request(Some(&names), false, version),
                deadline,
            )
            .await
        {
            Ok((response, version)) => metadata::from_response(response, version),
            Err(e) => Err(e),
        };
        match outcome {
            Err(e) if retry.again(&e).await => continue,
            outcome => break outcome?,
        }
    };
    let Some(found) = cluster.topic(topic) else {
        return Err(AskError::Final(anyhow!(
            "topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        )));
    };
    if found.error_code == 3 {
        return Err(AskError::Final(anyhow!(
            "topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        )));
    }
    if found.error_code != 0 {
        return Err(AskError::Final(anyhow!(
            "topic '{topic}': {}",
            code_text(found.error_code)
        )));
    }
    let mut ids: Vec<i32> = found.partitions.iter().map(|p| p.partition).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// One row per partition, in the order of the answer; `everything` when every partition was
/// asked for, where an empty answer means none needed an election.
fn render(elections: &[PartitionElection], everything: bool) -> String {
    if elections.is_empty() {
        return if everything {
            "No partition needed an election.\n".to_string()
        } else {
            "No partition was named.\n".to_string()
        };
    }
    let mut table = Table::new(&["TOPIC-PARTITION", "RESULT"]);
    for e in elections {
        let result = match e.error_code {
            0 => "elected".to_string(),
            ELECTION_NOT_NEEDED => "not needed: the leader is already the one elected".to_string(),
            code => match e.error_message.as_deref().filter(|m| !m.is_empty()) {
                Some(message) => format!("{}: {message}", code_text(code)),
                None => code_text(code),
            },
        };
        table.push(vec![format!("{}-{}", e.topic, e.partition), result]);
    }
    table.render()
}

/// Kafka's name for an error code (`PREFERRED_LEADER_NOT_AVAILABLE`), or the number.
fn code_name(code: i16) -> String {
    kafka_code_name(code).unwrap_or_else(|| format!("error code {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn election(
        topic: &str,
        partition: i32,
        code: i16,
        message: Option<&str>,
    ) -> PartitionElection {
        PartitionElection {
            topic: topic.into(),
            partition,
            error_code: code,
            error_message: message.map(str::to_string),
        }
    }

    #[test]
    fn each_partition_gets_one_row() {
        let text = render(
            &[
                election("orders", 0, 0, None),
                election("orders", 1, ELECTION_NOT_NEEDED, None),
                election(
                    "orders",
                    2,
                    80,
                    Some("preferred replica 2 is not in the ISR [1, 3]"),
                ),
            ],
            false,
        );
        assert_eq!(
            text,
            "TOPIC-PARTITION  RESULT\n\
             orders-0         elected\n\
             orders-1         not needed: the leader is already the one elected\n\
             orders-2         Broker: Preferred leader was not available \
             (PREFERRED_LEADER_NOT_AVAILABLE): preferred replica 2 is not in the ISR [1, 3]\n"
        );
    }

    #[test]
    fn an_empty_answer_for_everything_means_nothing_to_do() {
        assert_eq!(render(&[], true), "No partition needed an election.\n");
    }

    #[test]
    fn codes_have_kafkas_names() {
        assert_eq!(code_name(80), "PREFERRED_LEADER_NOT_AVAILABLE");
        assert_eq!(code_name(83), "ELIGIBLE_LEADERS_NOT_AVAILABLE");
        assert_eq!(code_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(code_name(9999), "error code 9999");
    }
}
