//! `sluice-bench rebalance` and `sluice-bench commit`: how fast a group forms and re-forms, and
//! how many offset commits a coordinator takes.
//!
//! rebalance: N consumers subscribe to one topic at once; the clock runs until every partition
//! is owned by exactly one member and every member owns at least one (when there are enough
//! partitions). Then one more member joins and the clock runs again until the same holds for
//! N+1 members. Each member polls on its own thread and publishes what it owns.
//!
//! commit: `--clients` consumers outside any generation (assign mode, as tools commit), each for
//! its own group, commit offsets of `--partitions` partitions, `--commits` times in all, each
//! waiting for its commit before the next: one client gives the round trip, several the
//! coordinator's throughput.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::latency::{latency_histogram, round3, LatencySummary};
use crate::librdkafka::{describe_error, ClientConfigExt};
use crate::report::Report;
use sluice_client::ConnectArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup with a client-side assignor.
    Classic,
    /// KIP-848 ConsumerGroupHeartbeat with a server-side assignor.
    Consumer,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchRebalanceArgs {
    /// Topic the members subscribe to (created when missing).
    #[arg(long, default_value = "sluice-bench-rebalance")]
    pub topic: String,
    /// Partitions of the topic when it is created.
    #[arg(long, default_value_t = 30)]
    pub partitions: u32,
    /// Members that join at once.
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Group protocol.
    #[arg(long, value_enum, default_value_t = GroupProtocol::Classic)]
    pub protocol: GroupProtocol,
    /// Classic protocol: partition.assignment.strategy.
    #[arg(long, default_value = "range")]
    pub assignor: String,
    /// Give up after this many milliseconds per phase.
    #[arg(long, default_value_t = 120_000)]
    pub timeout_ms: u64,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchCommitArgs {
    /// Topic named in the commits (created with `--partitions` partitions when missing).
    #[arg(long, default_value = "sluice-bench-commit")]
    pub topic: String,
    /// Group id the offsets are committed for.
    #[arg(long, default_value = "sluice-bench-commit")]
    pub group: String,
    /// Commit requests to send.
    #[arg(long, default_value_t = 20_000)]
    pub commits: u64,
    /// Partitions (offsets) per commit.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Clients committing at once, each for its own group and waiting for each commit.
    #[arg(long, default_value_t = 1)]
    pub clients: u64,
}

/// What each member thread publishes: the partitions it owns.
type Owned = Arc<Mutex<Vec<Vec<i32>>>>;

fn spawn_member(
    connect: &ConnectArgs,
    args: &BenchRebalanceArgs,
    group: &str,
    slot: usize,
    owned: Owned,
    stop: Arc<AtomicBool>,
) -> Result<thread::JoinHandle<()>> {
    let mut defaults: Vec<(&str, &str)> = vec![
        ("group.id", group),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "latest"),
    ];
    match args.protocol {
        GroupProtocol::Classic => {
            defaults.push(("partition.assignment.strategy", args.assignor.as_str()));
            defaults.push(("session.timeout.ms", "10000"));
            defaults.push(("heartbeat.interval.ms", "500"));
        }
        GroupProtocol::Consumer => defaults.push(("group.protocol", "consumer")),
    }
    let mut config = connect.client_config(&defaults)?;
    config.set_log_level(RDKafkaLogLevel::Error);
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| anyhow!("creating consumer: {}", describe_error(&e)))?;
    consumer
        .subscribe(&[args.topic.as_str()])
        .map_err(|e| anyhow!("subscribing: {}", describe_error(&e)))?;
    Ok(thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let _ = consumer.poll(Duration::from_millis(20));
            if let Ok(assignment) = consumer.assignment() {
                let mut parts: Vec<i32> = assignment
                    .elements()
                    .iter()
                    .map(|e| e.partition())
                    .collect();
                parts.sort_unstable();
                if let Ok(mut o) = owned.lock() {
                    o[slot] = parts;
                }
            }
        }
        consumer.unsubscribe();
        drop(consumer);
    }))
}

/// Every partition owned exactly once, and every member owns one when there are enough.
fn balanced(owned: &[Vec<i32>], partitions: u32) -> bool {
    let mut seen = vec![false; partitions as usize];
    for parts in owned {
        for p in parts {
            let Some(s) = seen.get_mut(*p as usize) else {
                return false;
            };
            if *s {
                return false;
            }
            *s = true;
        }
    }
    let all_members_busy =
        owned.len() > partitions as usize || owned.iter().all(|parts| !parts.is_empty());
    seen.iter().all(|s| *s) && all_members_busy
}

/// Waits until the group is balanced; returns the time since `start`.
fn wait_balanced(
    owned: &Owned,
    partitions: u32,
    start: Instant,
    timeout: Duration,
) -> Result<Duration> {
    loop {
        if let Ok(o) = owned.lock() {
            if balanced(&o, partitions) {
                return Ok(start.elapsed());
            }
        }
        if start.elapsed() > timeout {
            let state = owned.lock().map(|o| format!("{o:?}")).unwrap_or_default();
            bail!("the group did not settle within {timeout:?}; members own {state}");
        }
        thread::sleep(Duration::from_millis(2));
    }
}

pub fn run_rebalance(connect: &ConnectArgs, args: &BenchRebalanceArgs) -> Result<()> {
    if args.members == 0 {
        bail!("--members must be at least 1");
    }
    let group = format!(
        "sluice-bench-rebalance-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let timeout = Duration::from_millis(args.timeout_ms);
    let owned: Owned = Arc::new(Mutex::new(vec![Vec::new(); args.members]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let start = Instant::now();
    for slot in 0..args.members {
        threads.push(spawn_member(
            connect,
            args,
            &group,
            slot,
            owned.clone(),
            stop.clone(),
        )?);
    }
    let result = (|| {
        let formed = wait_balanced(&owned, args.partitions, start, timeout)?;
        eprintln!(
            "{} members formed the group in {:.1} ms",
            args.members,
            formed.as_secs_f64() * 1000.0
        );
        if let Ok(mut o) = owned.lock() {
            o.push(Vec::new());
        }
        let joined_at = Instant::now();
        threads.push(spawn_member(
            connect,
            args,
            &group,
            args.members,
            owned.clone(),
            stop.clone(),
        )?);
        let rejoined = wait_balanced(&owned, args.partitions, joined_at, timeout)?;
        eprintln!(
            "one more member: the group settled again in {:.1} ms",
            rejoined.as_secs_f64() * 1000.0
        );
        let mut report = Report::new("rebalance");
        report.push("protocol", format!("{:?}", args.protocol).to_lowercase());
        report.push("members", args.members as u64);
        report.push("partitions", u64::from(args.partitions));
        report.push("form_ms", round3(formed.as_secs_f64() * 1000.0));
        report.push("join_one_more_ms", round3(rejoined.as_secs_f64() * 1000.0));
        println!("{}", report.to_json());
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    result
}

fn commit_client(connect: &ConnectArgs, group: &str) -> Result<BaseConsumer> {
    let mut config =
        connect.client_config(&[("group.id", group), ("enable.auto.commit", "false")])?;
    config.set_log_level(RDKafkaLogLevel::Error);
    config
        .create()
        .map_err(|e| anyhow!("creating consumer: {}", describe_error(&e)))
}

fn offsets(topic: &str, partitions: i32, n: u64) -> Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(n as i64))
            .map_err(|e| anyhow!("building commit: {e}"))?;
    }
    Ok(tpl)
}

pub fn run_commit(connect: &ConnectArgs, args: &BenchCommitArgs) -> Result<()> {
    if args.partitions < 1 || args.clients < 1 || args.commits < 1 {
        bail!("--partitions, --clients and --commits must be at least 1");
    }
    // Each client commits for its own group, as many consumers of different groups do.
    let mut consumers = Vec::new();
    for c in 0..args.clients {
        let group = format!("{}-{c}", args.group);
        let consumer = commit_client(connect, &group)?;
        // One commit first: finds the coordinator and warms the connection.
        consumer
            .commit(&offsets(&args.topic, args.partitions, 0)?, CommitMode::Sync)
            .map_err(|e| anyhow!("first commit failed: {}", describe_error(&e)))?;
        consumers.push(consumer);
    }
    let per_client = args.commits.div_ceil(args.clients);
    let start = Instant::now();
    let mut threads = Vec::new();
    for consumer in consumers {
        let topic = args.topic.clone();
        let partitions = args.partitions;
        threads.push(thread::spawn(move || -> Result<Histogram<u64>> {
            let mut histogram = latency_histogram()?;
            for n in 1..=per_client {
                let tpl = offsets(&topic, partitions, n)?;
                let t = Instant::now();
                consumer
                    .commit(&tpl, CommitMode::Sync)
                    .map_err(|e| anyhow!("commit {n} failed: {}", describe_error(&e)))?;
                let _ = histogram.record(t.elapsed().as_micros().max(1) as u64);
            }
            Ok(histogram)
        }));
    }
    let mut histogram = latency_histogram()?;
    for t in threads {
        let h = t
            .join()
            .map_err(|_| anyhow!("a commit thread panicked"))??;
        histogram
            .add(&h)
            .map_err(|e| anyhow!("merging histograms: {e}"))?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let total = per_client * args.clients;
    let commits_per_sec = total as f64 / elapsed;
    eprintln!(
        "{total} commits of {} offset(s) from {} client(s) in {elapsed:.2} s: {commits_per_sec:.0} commits/s, {:.0} offsets/s",
        args.partitions,
        args.clients,
        commits_per_sec * f64::from(args.partitions)
    );
    let mut report = Report::new("commit");
    report.push("commits", total);
    report.push("partitions_per_commit", args.partitions as u64);
    report.push("clients", args.clients);
    report.push("commits_per_sec", round3(commits_per_sec));
    report.push(
        "offsets_per_sec",
        round3(commits_per_sec * f64::from(args.partitions)),
    );
    LatencySummary::from_micros(&histogram).add_to(&mut report);
    println!("{}", report.to_json());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::balanced;

    #[test]
    fn balanced_needs_each_partition_once_and_busy_members() {
        assert!(balanced(&[vec![0, 1], vec![2]], 3));
        assert!(!balanced(&[vec![0, 1], vec![1, 2]], 3), "1 twice");
        assert!(!balanced(&[vec![0], vec![2]], 3), "1 missing");
        assert!(!balanced(&[vec![0, 1, 2], vec![]], 3), "idle member");
        assert!(
            balanced(&[vec![0], vec![1], vec![]], 2),
            "more members than partitions"
        );
        assert!(!balanced(&[vec![5]], 3), "out of range");
    }
}
