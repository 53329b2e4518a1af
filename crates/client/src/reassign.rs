//! `sluice partition reassign`: move partitions to other brokers, in the manner of
//! `kafka-reassign-partitions`, through AlterPartitionReassignments and
//! ListPartitionReassignments (KIP-455) on the CLI's Kafka client (`crate::wire`), sent to the
//! first bootstrap server that answers.
//!
//! - `--topic T --partition P --replicas 2,3,4` moves one partition; `--plan FILE` moves every
//!   partition of a plan in Kafka's reassignment JSON
//!   (`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3,4]}]}`).
//!   The brokers copy the data to the new replicas first; the old ones are dropped once every
//!   target replica is in sync. With `--wait` the command returns only then.
//! - `--cancel` with `--topic/--partition` or `--plan` stops those partitions' reassignments,
//!   going back to the replicas they had.
//! - `--list` shows the reassignments in progress (of `--topic` only, if given).
//! - `--throttle BYTES_PER_SEC` throttles the copy (KIP-73, as Kafka's tool does: the brokers'
//!   throttled rates and the topics' throttled replicas); `--wait` removes the throttle when
//!   the moves complete, `--clear-throttle` at any time.
//!
//! Output: one row per partition with its result. Exit status: non-zero when any partition was
//! refused (one error line after the table), when `--wait` runs out of time, or when no
//! bootstrap server answers.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, IncrementalAlterConfigsRequest,
    ListPartitionReassignmentsRequest,
};
use kafka_protocol::protocol::Request;
use serde::Deserialize;

use crate::client_settings::{ClientSettings, Role};
use crate::config::{alter_outcome, alter_request, Entity};
use crate::connect_args::ConnectArgs;
use crate::error_codes::code_text;
use crate::table::Table;
use crate::wire::reassignments::{self, Move, MoveResult, Ongoing};
use crate::wire::{ClusterClient, RequestError};

/// The time each request gives the cluster (Kafka's admin default is 60 s) and the command's
/// deadline for it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT_MS: i32 = 50_000;
/// How often `--wait` asks whether the reassignments are done.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ReassignArgs {
    /// The topic of the partition to move (with --partition).
    #[arg(long, value_name = "T")]
    pub topic: Option<String>,
    /// The partition to move (with --topic).
    #[arg(long, value_name = "P", requires = "topic")]
    pub partition: Option<u32>,
    /// The broker ids the partition moves to, comma-separated; the first is the preferred
    /// leader.
    #[arg(
        long,
        value_name = "IDS",
        value_delimiter = ',',
        requires = "partition"
    )]
    pub replicas: Vec<i32>,
    /// A reassignment plan in Kafka's JSON format (as kafka-reassign-partitions reads).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["topic", "list"])]
    pub plan: Option<PathBuf>,
    /// Cancel the reassignments of the partitions named by --topic/--partition or --plan.
    #[arg(long, conflicts_with_all = ["replicas", "list"])]
    pub cancel: bool,
    /// List the reassignments in progress (only those of --topic, if given).
    #[arg(long, conflicts_with_all = ["partition", "replicas", "wait"])]
    pub list: bool,
    /// Return once the reassignments have completed (data copied, old replicas dropped).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub wait_timeout: u64,
    /// Copy the moved replicas at most this fast, in bytes per second (Kafka's --throttle):
    /// sets `leader.replication.throttled.rate` and `follower.replication.throttled.rate` on
    /// every broker of the moves, and the topics' `leader.replication.throttled.replicas`
    /// (the current replicas) and `follower.replication.throttled.replicas` (the new ones).
    /// --wait removes them once the moves complete; otherwise --clear-throttle does.
    #[arg(long, value_name = "BYTES_PER_SEC", conflicts_with_all = ["cancel", "list"])]
    pub throttle: Option<u64>,
    /// Remove the replication throttles: the throttled replicas of the topics named (--topic
    /// or --plan) and the throttled rates of every broker. Moves nothing.
    #[arg(long, conflicts_with_all = ["throttle", "cancel", "list", "replicas", "wait"])]
    pub clear_throttle: bool,
}

/// Kafka's reassignment JSON.
#[derive(Deserialize)]
struct Plan {
    version: i32,
    partitions: Vec<PlanPartition>,
}

#[derive(Deserialize)]
struct PlanPartition {
    topic: String,
    partition: i32,
    /// Absent when the plan is used to cancel.
    #[serde(default)]
    replicas: Option<Vec<i32>>,
}

pub async fn run(connect: &ConnectArgs, args: &ReassignArgs) -> Result<()> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    let mut client = ClusterClient::new(&settings);
    let servers = &settings.bootstrap;
    if args.list {
        let topics = args.topic.as_ref().map(|t| vec![t.clone()]);
        let ongoing = list(&mut client, servers, topics.as_deref(), None).await?;
        print!("{}", render_ongoing(&ongoing));
        return Ok(());
    }
    if args.clear_throttle {
        let topics = throttled_topics(args)?;
        let brokers = client
            .metadata(Some(&[]), false, Instant::now() + REQUEST_TIMEOUT)
            .await
            .map_err(|e| anyhow!("reading the cluster's brokers: {e}"))?
            .brokers
            .iter()
            .map(|b| b.node_id)
            .collect::<Vec<_>>();
        clear_throttles(&mut client, &topics, &brokers).await?;
        return Ok(());
    }
    let moves = moves(args)?;
    let throttled = match args.throttle {
        Some(rate) => Some(set_throttles(&mut client, &moves, rate).await?),
        None => None,
    };
    let results = alter(&mut client, servers, &moves).await?;
    print!("{}", render_results(&moves, &results));
    let refused: Vec<&MoveResult> = results.iter().filter(|r| r.error_code != 0).collect();
    if !refused.is_empty() {
        let list = refused
            .iter()
            .map(|r| format!("{}-{}", r.topic, r.partition))
            .collect::<Vec<_>>()
            .join(", ");
        bail!(
            "the cluster refused {} of {} reassignment(s): {list}",
            refused.len(),
            results.len()
        );
    }
    if args.wait && !args.cancel {
        wait_for(
            &mut client,
            servers,
            &moves,
            Duration::from_secs(args.wait_timeout),
        )
        .await?;
        if let Some(throttles) = &throttled {
            clear_throttles(&mut client, &throttles.topics(), &throttles.brokers).await?;
        }
    } else if throttled.is_some() {
        println!(
            "The throttle stays until removed: sluice partition reassign --clear-throttle \
             (with the same --topic or --plan)."
        );
    }
    Ok(())
}

/// The replication throttles of a set of moves (see [`throttles_for`]).
#[derive(Debug, PartialEq, Eq)]
struct Throttles {
    /// Every broker holding or getting a replica of a moved partition.
    brokers: Vec<i32>,
    /// By topic: its `leader.replication.throttled.replicas` (the moved partitions' current
    /// replicas) and `follower.replication.throttled.replicas` (their new replicas).
    by_topic: Vec<(String, String, String)>,
}

impl Throttles {
    fn topics(&self) -> Vec<String> {
        self.by_topic.iter().map(|(t, _, _)| t.clone()).collect()
    }
}

/// Kafka's reassignment throttles for `moves`, given each moved partition's current replicas
/// (`current(topic, partition)`): the leader side throttles the replicas that may lead while
/// the data is copied, the follower side the replicas being added.
fn throttles_for(
    moves: &[Move],
    current: impl Fn(&str, i32) -> Option<Vec<i32>>,
) -> Result<Throttles> {
    let mut brokers: Vec<i32> = Vec::new();
    let mut by_topic: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for m in moves {
        let Some(target) = &m.replicas else { continue };
        let now = current(&m.topic, m.partition)
            .ok_or_else(|| anyhow!("{}-{} does not exist", m.topic, m.partition))?;
        let (leader, follower) = match by_topic.iter_mut().find(|(t, _, _)| *t == m.topic) {
            Some((_, l, f)) => (l, f),
            None => {
                by_topic.push((m.topic.clone(), Vec::new(), Vec::new()));
                let (_, l, f) = by_topic.last_mut().expect("just pushed");
                (l, f)
            }
        };
        leader.extend(now.iter().map(|b| format!("{}:{b}", m.partition)));
        follower.extend(
            target
                .iter()
                .filter(|b| !now.contains(b))
                .map(|b| format!("{}:{b}", m.partition)),
        );
        brokers.extend(now.iter().chain(target));
    }
    brokers.sort_unstable();
    brokers.dedup();
    Ok(Throttles {
        brokers,
        by_topic: by_topic
            .into_iter()
            .map(|(t, l, f)| (t, l.join(","), f.join(",")))
            .collect(),
    })
}

/// Sets the replication throttles of `moves` at `rate` bytes per second (before the moves
/// start, so the copy is throttled from its first byte).
async fn set_throttles(client: &mut ClusterClient, moves: &[Move], rate: u64) -> Result<Throttles> {
    let topics: Vec<String> = moves.iter().map(|m| m.topic.clone()).collect();
    let metadata = client
        .metadata(Some(&topics), false, Instant::now() + REQUEST_TIMEOUT)
        .await
        .map_err(|e| anyhow!("reading the moved partitions' replicas: {e}"))?;
    let throttles = throttles_for(moves, |topic, partition| {
        metadata
            .topic(topic)
            .filter(|t| t.error_code == 0)
            .and_then(|t| t.partitions.iter().find(|p| p.partition == partition))
            .map(|p| p.replicas.clone())
    })?;
    let rate = rate.to_string();
    for broker in &throttles.brokers {
        alter_configs(
            client,
            &Entity::Broker(*broker),
            &[
                ("leader.replication.throttled.rate", Some(rate.as_str())),
                ("follower.replication.throttled.rate", Some(rate.as_str())),
            ],
        )
        .await?;
    }
    for (topic, leader, follower) in &throttles.by_topic {
        alter_configs(
            client,
            &Entity::Topic(topic.clone()),
            &[
                (
                    "leader.replication.throttled.replicas",
                    Some(leader.as_str()),
                ),
                (
                    "follower.replication.throttled.replicas",
                    Some(follower.as_str()),
                ),
            ],
        )
        .await?;
        println!(
            "Throttled topic '{topic}': leader.replication.throttled.replicas={leader}, \
             follower.replication.throttled.replicas={follower}"
        );
    }
    println!(
        "Throttled brokers {} to {rate} B/s (leader.replication.throttled.rate, \
         follower.replication.throttled.rate)",
        ids(&throttles.brokers)
    );
    Ok(throttles)
}

/// Removes the throttled replicas of `topics` and the throttled rates of `brokers`.
async fn clear_throttles(
    client: &mut ClusterClient,
    topics: &[String],
    brokers: &[i32],
) -> Result<()> {
    for topic in topics {
        alter_configs(
            client,
            &Entity::Topic(topic.clone()),
            &[
                ("leader.replication.throttled.replicas", None),
                ("follower.replication.throttled.replicas", None),
            ],
        )
        .await?;
    }
    for broker in brokers {
        alter_configs(
            client,
            &Entity::Broker(*broker),
            &[
                ("leader.replication.throttled.rate", None),
                ("follower.replication.throttled.rate", None),
            ],
        )
        .await?;
    }
    println!(
        "Throttles removed: topics {}; brokers {}",
        topics.join(","),
        ids(brokers)
    );
    Ok(())
}

/// IncrementalAlterConfigs of one resource: each key set (`Some`) or deleted (`None`).
async fn alter_configs(
    client: &mut ClusterClient,
    entity: &Entity,
    ops: &[(&str, Option<&str>)],
) -> Result<()> {
    let ops: Vec<(String, Option<String>)> = ops
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
    let request = alter_request(entity, &ops, false);
    let (response, _) = client
        .send_to_any::<IncrementalAlterConfigsRequest>(
            0..=1,
            |_| request.clone(),
            Instant::now() + REQUEST_TIMEOUT,
        )
        .await
        .map_err(|e| anyhow!("altering the configs of {entity}: {e}"))?;
    alter_outcome(entity, &response).map_err(|e| anyhow!(e))
}

/// The topics --clear-throttle names: --topic, or the plan's.
fn throttled_topics(args: &ReassignArgs) -> Result<Vec<String>> {
    if let Some(path) = &args.plan {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the plan {}", path.display()))?;
        let mut topics: Vec<String> = moves_from_plan(&text, true)
            .with_context(|| format!("invalid reassignment plan {}", path.display()))?
            .into_iter()
            .map(|m| m.topic)
            .collect();
        topics.sort();
        topics.dedup();
        return Ok(topics);
    }
    match &args.topic {
        Some(topic) => Ok(vec![topic.clone()]),
        None => bail!("name the throttled topics with --topic or --plan"),
    }
}

/// The partitions to move (or cancel) from the arguments.
fn moves(args: &ReassignArgs) -> Result<Vec<Move>> {
    if let Some(path) = &args.plan {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the plan {}", path.display()))?;
        return moves_from_plan(&text, args.cancel)
            .with_context(|| format!("invalid reassignment plan {}", path.display()));
    }
    let (Some(topic), Some(partition)) = (&args.topic, args.partition) else {
        bail!("name the partition with --topic and --partition, or give a --plan (or --list)");
    };
    let partition =
        i32::try_from(partition).map_err(|_| anyhow!("partition {partition} is out of range"))?;
    let replicas = if args.cancel {
        None
    } else if args.replicas.is_empty() {
        bail!("--replicas is required to move a partition (or --cancel to stop a move)");
    } else {
        Some(args.replicas.clone())
    };
    Ok(vec![Move {
        topic: topic.clone(),
        partition,
        replicas,
    }])
}

fn moves_from_plan(text: &str, cancel: bool) -> Result<Vec<Move>> {
    let plan: Plan = serde_json::from_str(text)?;
    if plan.version != 1 {
        bail!("version {} is not supported (only 1)", plan.version);
    }
    if plan.partitions.is_empty() {
        bail!("the plan names no partition");
    }
    let mut moves: Vec<Move> = Vec::new();
    for p in plan.partitions {
        if moves
            .iter()
            .any(|m| m.topic == p.topic && m.partition == p.partition)
        {
            bail!("{}-{} is named twice", p.topic, p.partition);
        }
        let replicas = match (cancel, p.replicas) {
            (true, _) => None,
            (false, Some(r)) => Some(r),
            (false, None) => bail!("{}-{} has no \"replicas\"", p.topic, p.partition),
        };
        moves.push(Move {
            topic: p.topic,
            partition: p.partition,
            replicas,
        });
    }
    Ok(moves)
}

/// Sends to the first bootstrap server that can be reached. A broker's own answer (an error
/// code, a missing API) is final.
async fn on_first_server<R: Request>(
    client: &mut ClusterClient,
    servers: &[String],
    versions: RangeInclusive<i16>,
    build: impl Fn(i16) -> R,
) -> Result<(R::Response, i16)> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut failures = Vec::new();
    for server in servers {
        match client
            .send_to_addr(server, versions.clone(), &build, deadline)
            .await
        {
            Ok(answer) => return Ok(answer),
            Err(RequestError::Transport(e)) => failures.push(format!("{server}: {e}")),
            Err(e) => return Err(anyhow!(e)),
        }
    }
    bail!("cannot reach the cluster: {}", failures.join("; "))
}

async fn alter(
    client: &mut ClusterClient,
    servers: &[String],
    moves: &[Move],
) -> Result<Vec<MoveResult>> {
    // Not retried: a retry after a lost answer would report the first attempt's cancel as
    // NO_REASSIGNMENT_IN_PROGRESS.
    let (response, _) = on_first_server::<AlterPartitionReassignmentsRequest>(
        client,
        servers,
        reassignments::ALTER_VERSIONS,
        |version| reassignments::alter_request(version, moves, true, REQUEST_TIMEOUT_MS),
    )
    .await?;
    Ok(reassignments::alter_results(response)?)
}

/// The reassignments in progress: of `topics` (every partition), of the `partitions` named, or
/// of everything.
async fn list(
    client: &mut ClusterClient,
    servers: &[String],
    topics: Option<&[String]>,
    partitions: Option<&[(String, Vec<i32>)]>,
) -> Result<Vec<Ongoing>> {
    let (response, _) = on_first_server::<ListPartitionReassignmentsRequest>(
        client,
        servers,
        reassignments::LIST_VERSIONS,
        |_| reassignments::list_request(partitions, REQUEST_TIMEOUT_MS),
    )
    .await?;
    let mut ongoing = reassignments::ongoing(response)?;
    if let Some(topics) = topics {
        ongoing.retain(|o| topics.contains(&o.topic));
    }
    Ok(ongoing)
}

/// Waits until none of `moves` is in progress.
async fn wait_for(
    client: &mut ClusterClient,
    servers: &[String],
    moves: &[Move],
    timeout: Duration,
) -> Result<()> {
    let mut by_topic: Vec<(String, Vec<i32>)> = Vec::new();
    for m in moves {
        match by_topic.iter_mut().find(|(t, _)| *t == m.topic) {
            Some((_, ps)) => ps.push(m.partition),
            None => by_topic.push((m.topic.clone(), vec![m.partition])),
        }
    }
    let deadline = Instant::now() + timeout;
    loop {
        let ongoing = list(client, servers, None, Some(&by_topic)).await?;
        if ongoing.is_empty() {
            println!("Reassignment of {} partition(s) complete.", moves.len());
            return Ok(());
        }
        if Instant::now() >= deadline {
            let left = ongoing
                .iter()
                .map(|o| format!("{}-{} (adding {:?})", o.topic, o.partition, o.adding))
                .collect::<Vec<_>>()
                .join(", ");
            bail!("still in progress after {} s: {left}", timeout.as_secs());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn render_results(moves: &[Move], results: &[MoveResult]) -> String {
    let mut table = Table::new(&["TOPIC-PARTITION", "TARGET", "RESULT"]);
    for r in results {
        let target = moves
            .iter()
            .find(|m| m.topic == r.topic && m.partition == r.partition)
            .and_then(|m| m.replicas.as_deref());
        let result = match (r.error_code, target) {
            (0, Some(_)) => "accepted".to_string(),
            (0, None) => "cancelled".to_string(),
            (code, _) => match r.error_message.as_deref().filter(|m| !m.is_empty()) {
                Some(message) => format!("{}: {message}", code_text(code)),
                None => code_text(code),
            },
        };
        table.push(vec![
            format!("{}-{}", r.topic, r.partition),
            target.map_or_else(|| "-".to_string(), ids),
            result,
        ]);
    }
    table.render()
}

fn render_ongoing(ongoing: &[Ongoing]) -> String {
    if ongoing.is_empty() {
        return "No reassignment is in progress.\n".to_string();
    }
    let mut table = Table::new(&["TOPIC-PARTITION", "REPLICAS", "ADDING", "REMOVING"]);
    for o in ongoing {
        table.push(vec![
            format!("{}-{}", o.topic, o.partition),
            ids(&o.replicas),
            ids(&o.adding),
            ids(&o.removing),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_kafkas_json() {
        let text = r#"{"version":1,"partitions":[
            {"topic":"a","partition":0,"replicas":[2,3,4],"log_dirs":["any","any","any"]},
            {"topic":"b","partition":3,"replicas":[1]}]}"#;
        let moves = moves_from_plan(text, false).unwrap();
        assert_eq!(moves.len(), 2);
        assert_eq!(moves[0].replicas, Some(vec![2, 3, 4]));
        assert_eq!(moves_from_plan(text, true).unwrap()[1].replicas, None);
    }

    #[test]
    fn bad_plans_say_why() {
        for (text, why) in [
            (r#"{"version":2,"partitions":[]}"#, "version 2"),
            (r#"{"version":1,"partitions":[]}"#, "no partition"),
            (
                r#"{"version":1,"partitions":[{"topic":"a","partition":0}]}"#,
                "no \"replicas\"",
            ),
            (
                r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},
                   {"topic":"a","partition":0,"replicas":[2]}]}"#,
                "named twice",
            ),
            ("not json", "expected"),
        ] {
            let e = moves_from_plan(text, false).unwrap_err();
            assert!(format!("{e:#}").contains(why), "{text}: {e:#}");
        }
    }

    #[test]
    fn throttles_name_current_replicas_as_leaders_and_new_ones_as_followers() {
        let moves = vec![
            Move {
                topic: "a".into(),
                partition: 0,
                replicas: Some(vec![1, 2, 4]),
            },
            Move {
                topic: "a".into(),
                partition: 1,
                replicas: Some(vec![3, 5]),
            },
            Move {
                topic: "b".into(),
                partition: 2,
                replicas: Some(vec![2]),
            },
        ];
        let current = |topic: &str, partition: i32| match (topic, partition) {
            ("a", 0) => Some(vec![1, 2, 3]),
            ("a", 1) => Some(vec![3]),
            ("b", 2) => Some(vec![1]),
            _ => None,
        };
        let t = throttles_for(&moves, current).unwrap();
        assert_eq!(t.brokers, vec![1, 2, 3, 4, 5]);
        assert_eq!(
            t.by_topic,
            vec![
                (
                    "a".to_string(),
                    "0:1,0:2,0:3,1:3".to_string(),
                    "0:4,1:5".to_string()
                ),
                ("b".to_string(), "2:1".to_string(), "2:2".to_string()),
            ]
        );
        let unknown = vec![Move {
            topic: "c".into(),
            partition: 0,
            replicas: Some(vec![1]),
        }];
        let e = throttles_for(&unknown, current).unwrap_err();
        assert_eq!(e.to_string(), "c-0 does not exist");
    }

    #[test]
    fn results_and_progress_are_tables() {
        let moves = vec![
            Move {
                topic: "a".into(),
                partition: 0,
                replicas: Some(vec![2, 3, 4]),
            },
            Move {
                topic: "a".into(),
                partition: 1,
                replicas: Some(vec![9]),
            },
        ];
        let results = vec![
            MoveResult {
                topic: "a".into(),
                partition: 0,
                error_code: 0,
                error_message: None,
            },
            MoveResult {
                topic: "a".into(),
                partition: 1,
                error_code: 39,
                error_message: Some("broker 9 in the target is not registered".into()),
            },
        ];
        let text = render_results(&moves, &results);
        assert!(
            text.starts_with("TOPIC-PARTITION  TARGET  RESULT\n"),
            "{text}"
        );
        assert!(
            text.contains("a-0              2,3,4   accepted\n"),
            "{text}"
        );
        assert!(
            text.contains("(INVALID_REPLICA_ASSIGNMENT): broker 9"),
            "{text}"
        );
        assert_eq!(render_ongoing(&[]), "No reassignment is in progress.\n");
        let text = render_ongoing(&[Ongoing {
            topic: "a".into(),
            partition: 0,
            replicas: vec![2, 3, 4, 1],
            adding: vec![4],
            removing: vec![1],
        }]);
        assert!(
            text.contains("a-0              2,3,4,1   4       1\n"),
            "{text}"
        );
    }
}
