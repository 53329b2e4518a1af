//! `sluice logdirs describe|move`: the log directories of brokers (DescribeLogDirs, v1-4) and
//! moving a replica between the directories of its broker (AlterReplicaLogDirs, v1-2), what
//! `kafka-log-dirs.sh --describe` and `kafka-reassign-partitions.sh` with `log_dirs` do.
//!
//! - `describe` asks every broker of the cluster (or those `--broker` names) for its
//!   directories: path, error, total and usable bytes, and per replica its size, offset lag and
//!   whether it is a copy still moving there (`future`). `--topic` keeps those topics.
//! - `move` asks broker `--broker` to move its replica of `--topic`/`--partition` to `--dir`
//!   (one of its `log.dirs`, as `describe` prints it), then waits until DescribeLogDirs shows
//!   the replica there and no copy left (`--no-wait`: returns once the move started).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::{
    AlterReplicaLogDirsRequest, DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use crate::client_settings::{ClientSettings, Role};
use crate::cluster::OutputFormat;
use crate::connect_args::ConnectArgs;
use crate::error_codes::{code_name, code_text};
use crate::table::Table;
use crate::wire::{ClusterClient, RequestError};

/// How long `describe` may take, and `move` to start its move.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DESCRIBE_VERSIONS: std::ops::RangeInclusive<i16> = 1..=4;
const ALTER_VERSIONS: std::ops::RangeInclusive<i16> = 1..=2;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct LogDirsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: LogDirsCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum LogDirsCommand {
    /// Show each broker's log directories and the replicas in them.
    Describe(LogDirsDescribeArgs),
    /// Move a replica to another log directory of its broker, online.
    Move(LogDirsMoveArgs),
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct LogDirsDescribeArgs {
    /// Only this broker (repeatable); every broker of the cluster without it.
    #[arg(long = "broker", value_name = "ID")]
    pub brokers: Vec<i32>,
    /// Only the replicas of this topic (repeatable).
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct LogDirsMoveArgs {
    #[arg(long, value_name = "TOPIC")]
    pub topic: String,
    #[arg(long, value_name = "PARTITION")]
    pub partition: i32,
    /// The broker whose replica moves.
    #[arg(long, value_name = "ID")]
    pub broker: i32,
    /// The destination: one of the broker's log.dirs, as `logdirs describe` prints it.
    #[arg(long, value_name = "PATH")]
    pub dir: String,
    /// Return once the move started, without waiting for it to finish.
    #[arg(long = "no-wait")]
    pub no_wait: bool,
    /// How long to wait for the move to finish.
    #[arg(long = "timeout-ms", value_name = "MS", default_value_t = 120_000)]
    pub timeout_ms: u64,
}

/// One replica in one directory, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaInDir {
    pub topic: String,
    pub partition: i32,
    pub size_bytes: i64,
    pub offset_lag: i64,
    pub future: bool,
}

/// One log directory of one broker, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogDirReport {
    pub broker: i32,
    pub path: String,
    /// Kafka's error name (`NONE`, `KAFKA_STORAGE_ERROR`, ...).
    pub error: String,
    /// -1 when the broker does not say.
    pub total_bytes: i64,
    pub usable_bytes: i64,
    pub replicas: Vec<ReplicaInDir>,
}

pub async fn run(args: LogDirsArgs) -> Result<()> {
    match args.command {
        LogDirsCommand::Describe(describe) => {
            let deadline = Instant::now() + REQUEST_TIMEOUT;
            let mut client = connect(&args.connect)?;
            let reports =
                describe_dirs(&mut client, &describe.brokers, &describe.topics, deadline).await?;
            match describe.output {
                OutputFormat::Text => print!("{}", render_text(&reports)),
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string(&reports).context("cannot write JSON")?
                ),
            }
            Ok(())
        }
        LogDirsCommand::Move(m) => {
            if m.partition < 0 {
                bail!("--partition must be 0 or more, not {}", m.partition);
            }
            if m.dir.trim().is_empty() {
                bail!("--dir must name a log directory");
            }
            let mut client = connect(&args.connect)?;
            let deadline = Instant::now() + REQUEST_TIMEOUT;
            start_move(&mut client, &m, deadline).await?;
            let name = format!("{}-{}", m.topic, m.partition);
            if m.no_wait {
                println!("moving {name} on broker {} to {}", m.broker, m.dir);
                return Ok(());
            }
            let deadline = Instant::now() + Duration::from_millis(m.timeout_ms);
            wait_for_move(&mut client, &m, deadline).await?;
            println!("moved {name} on broker {} to {}", m.broker, m.dir);
            Ok(())
        }
    }
}

fn connect(connect: &ConnectArgs) -> Result<ClusterClient> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    Ok(ClusterClient::new(&settings))
}

/// The directories of `brokers` (every broker when empty), keeping the replicas of `topics`
/// (all when empty).
pub async fn describe_dirs(
    client: &mut ClusterClient,
    brokers: &[i32],
    topics: &[String],
    deadline: Instant,
) -> Result<Vec<LogDirReport>> {
    let metadata = client
        .metadata(
            if topics.is_empty() {
                Some(&[])
            } else {
                Some(topics)
            },
            false,
            deadline,
        )
        .await
        .map_err(|e| anyhow!("reading the cluster metadata: {e}"))?;
    // None: every replica; otherwise each named topic with all its partitions.
    let filter: Option<Vec<DescribableLogDirTopic>> = if topics.is_empty() {
        None
    } else {
        let mut filter = Vec::new();
        for name in topics {
            let topic = metadata
                .topic(name)
                .filter(|t| t.error_code == 0)
                .ok_or_else(|| anyhow!("topic {name} does not exist"))?;
            filter.push(
                DescribableLogDirTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(name.clone())))
                    .with_partitions(topic.partitions.iter().map(|p| p.partition).collect()),
            );
        }
        Some(filter)
    };
    let targets: Vec<i32> = if brokers.is_empty() {
        metadata.brokers.iter().map(|b| b.node_id).collect()
    } else {
        for id in brokers {
            if !metadata.brokers.iter().any(|b| b.node_id == *id) {
                bail!("broker {id} is not in the cluster");
            }
        }
        brokers.to_vec()
    };
    let mut reports = Vec::new();
    for broker in targets {
        let (response, _) = client
            .send_to_broker::<DescribeLogDirsRequest>(
                broker,
                DESCRIBE_VERSIONS,
                |_| DescribeLogDirsRequest::default().with_topics(filter.clone()),
                deadline,
            )
            .await
            .map_err(|e| anyhow!("describing the log directories of broker {broker}: {e}"))?;
        reports.extend(reports_of(broker, response).map_err(|e| anyhow!("{e}"))?);
    }
    Ok(reports)
}

/// The directories of `broker`'s DescribeLogDirs answer, or the error it answered (v3+).
pub fn reports_of(
    broker: i32,
    response: DescribeLogDirsResponse,
) -> Result<Vec<LogDirReport>, RequestError> {
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            &format!("broker {broker} refused DescribeLogDirs"),
            None,
        ));
    }
    Ok(response
        .results
        .into_iter()
        .map(|dir| {
            let mut replicas: Vec<ReplicaInDir> = dir
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| ReplicaInDir {
                        topic: t.name.to_string(),
                        partition: p.partition_index,
                        size_bytes: p.partition_size,
                        offset_lag: p.offset_lag,
                        future: p.is_future_key,
                    })
                })
                .collect();
            replicas.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            LogDirReport {
                broker,
                path: dir.log_dir.to_string(),
                error: code_name(dir.error_code).unwrap_or_else(|| dir.error_code.to_string()),
                total_bytes: dir.total_bytes,
                usable_bytes: dir.usable_bytes,
                replicas,
            }
        })
        .collect())
}

/// One table: a row per replica, and a row for a directory without replicas.
pub fn render_text(reports: &[LogDirReport]) -> String {
    let bytes = |b: i64| {
        if b < 0 {
            "-".to_string()
        } else {
            b.to_string()
        }
    };
    let mut table = Table::new(&[
        "BROKER",
        "DIR",
        "ERROR",
        "TOTAL_BYTES",
        "USABLE_BYTES",
        "TOPIC",
        "PARTITION",
        "SIZE",
        "OFFSET_LAG",
        "FUTURE",
    ]);
    for dir in reports {
        let head = vec![
            dir.broker.to_string(),
            dir.path.clone(),
            dir.error.clone(),
            bytes(dir.total_bytes),
            bytes(dir.usable_bytes),
        ];
        if dir.replicas.is_empty() {
            let mut row = head.clone();
            row.extend(["-", "-", "-", "-", "-"].map(String::from));
            table.push(row);
        }
        for r in &dir.replicas {
            let mut row = head.clone();
            row.extend([
                r.topic.clone(),
                r.partition.to_string(),
                r.size_bytes.to_string(),
                r.offset_lag.to_string(),
                r.future.to_string(),
            ]);
            table.push(row);
        }
    }
    table.render()
}

async fn start_move(
    client: &mut ClusterClient,
    m: &LogDirsMoveArgs,
    deadline: Instant,
) -> Result<()> {
    let request =
        AlterReplicaLogDirsRequest::default().with_dirs(vec![AlterReplicaLogDir::default()
            .with_path(StrBytes::from_string(m.dir.clone()))
            .with_topics(vec![AlterReplicaLogDirTopic::default()
                .with_name(TopicName(StrBytes::from_string(m.topic.clone())))
                .with_partitions(vec![m.partition])])]);
    let (response, _) = client
        .send_to_broker::<AlterReplicaLogDirsRequest>(
            m.broker,
            ALTER_VERSIONS,
            |_| request.clone(),
            deadline,
        )
        .await
        .map_err(|e| anyhow!("asking broker {} to move the replica: {e}", m.broker))?;
    let code = response
        .results
        .iter()
        .flat_map(|t| t.partitions.iter())
        .find(|p| p.partition_index == m.partition)
        .map(|p| p.error_code)
        .ok_or_else(|| anyhow!("broker {} did not answer for the partition", m.broker))?;
    if code != 0 {
        bail!(
            "broker {} cannot move {}-{} to {}: {}",
            m.broker,
            m.topic,
            m.partition,
            m.dir,
            code_text(code)
        );
    }
    Ok(())
}

/// Polls the broker's directories until the replica is in `m.dir` with no copy left.
async fn wait_for_move(
    client: &mut ClusterClient,
    m: &LogDirsMoveArgs,
    deadline: Instant,
) -> Result<()> {
    let wanted = std::path::absolute(&m.dir)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| m.dir.clone());
    loop {
        let reports = describe_dirs(
            client,
            &[m.broker],
            std::slice::from_ref(&m.topic),
            deadline,
        )
        .await?;
        let placed = |future: bool| {
            reports.iter().filter_map(move |d| {
                d.replicas
                    .iter()
                    .any(|r| r.partition == m.partition && r.future == future)
                    .then_some(d.path.as_str())
            })
        };
        let current: Vec<&str> = placed(false).collect();
        let moving = placed(true).next().is_some();
        if !moving && current.iter().any(|p| *p == m.dir || *p == wanted) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{}-{} on broker {} is not in {} yet (it is in {})",
                m.topic,
                m.partition,
                m.broker,
                m.dir,
                current.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_log_dirs_response::{
        DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
    };

    #[test]
    fn reports_list_every_directory_and_its_replicas() {
        let partition = |index, future| {
            DescribeLogDirsPartition::default()
                .with_partition_index(index)
                .with_partition_size(10)
                .with_offset_lag(0)
                .with_is_future_key(future)
        };
        let response = DescribeLogDirsResponse::default().with_results(vec![
            DescribeLogDirsResult::default()
                .with_log_dir(StrBytes::from_static_str("/a"))
                .with_total_bytes(100)
                .with_usable_bytes(50)
                .with_topics(vec![DescribeLogDirsTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(vec![partition(1, false), partition(0, true)])]),
            DescribeLogDirsResult::default()
                .with_log_dir(StrBytes::from_static_str("/b"))
                .with_error_code(56),
        ]);
        let reports = reports_of(3, response).expect("reports");
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].replicas[0].partition, 0, "sorted");
        assert!(reports[0].replicas[0].future);
        assert_eq!(reports[1].error, "KAFKA_STORAGE_ERROR");
        let text = render_text(&reports);
        assert!(text.contains("KAFKA_STORAGE_ERROR"), "{text}");
        assert_eq!(text.lines().count(), 4, "{text}");
        let refused = DescribeLogDirsResponse::default().with_error_code(31);
        assert!(reports_of(1, refused)
            .unwrap_err()
            .to_string()
            .contains("CLUSTER_AUTHORIZATION_FAILED"));
    }
}
