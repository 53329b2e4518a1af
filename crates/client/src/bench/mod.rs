//! `sluice bench produce|consume|e2e|rebalance|commit`: load generators in the spirit of Kafka's
//! kafka-producer-perf-test, kafka-consumer-perf-test and EndToEndLatency.
//!
//! Each prints progress and a human summary on stderr and one JSON object on stdout as its last
//! line, so scripts can read the result with `tail -n1 | jq`.
//!
//! Layout: `produce.rs`, `consume.rs`, `e2e.rs` hold one benchmark each, `group.rs` the
//! consumer-group ones (rebalance, commit); `producer.rs` the
//! callback-driven producer both produce and e2e use; `latency.rs` histograms and summaries; `report.rs` the JSON result line;
//! `pacer.rs` the fixed-rate throttle.

mod batch_queue;
mod consume;
mod e2e;
mod group;
mod latency;
mod pacer;
mod produce;
mod producer;
mod report;

use std::time::{Duration, Instant};

use crate::connection::ConnectArgs;
use crate::topic::Admin;
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};

pub use consume::BenchConsumeArgs;
pub use e2e::BenchE2eArgs;
pub use group::{BenchCommitArgs, BenchRebalanceArgs};
pub use produce::BenchProduceArgs;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum BenchCommand {
    /// Producer throughput and delivery latency (like kafka-producer-perf-test).
    Produce(BenchProduceArgs),
    /// Consumer throughput reading from the beginning (like kafka-consumer-perf-test).
    Consume(BenchConsumeArgs),
    /// End-to-end latency, produce to consume, at a fixed rate (like EndToEndLatency).
    E2e(BenchE2eArgs),
    /// Time for a consumer group to form, and to settle again after one more member joins.
    Rebalance(BenchRebalanceArgs),
    /// Offset commits per second through the group coordinator.
    Commit(BenchCommitArgs),
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let connect = args.connect;
    match args.command {
        BenchCommand::Produce(bench) => {
            ensure_topic(&connect, &bench.topic, bench.partitions).await?;
            blocking(move || produce::run(&connect, &bench)).await
        }
        BenchCommand::Consume(bench) => blocking(move || consume::run(&connect, &bench)).await,
        BenchCommand::E2e(bench) => {
            ensure_topic(&connect, &bench.topic, bench.partitions).await?;
            blocking(move || e2e::run(&connect, &bench)).await
        }
        BenchCommand::Rebalance(bench) => {
            ensure_topic(&connect, &bench.topic, Some(bench.partitions)).await?;
            blocking(move || group::run_rebalance(&connect, &bench)).await
        }
        BenchCommand::Commit(bench) => {
            ensure_topic(&connect, &bench.topic, Some(bench.partitions.max(1) as u32)).await?;
            blocking(move || group::run_commit(&connect, &bench)).await
        }
    }
}

async fn blocking(work: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow!("benchmark task failed: {e}"))?
}

/// Creates the topic when it is missing (with `partitions`, or the broker's default) and waits
/// until every partition has a leader, so the run does not time its creation.
async fn ensure_topic(connect: &ConnectArgs, topic: &str, partitions: Option<u32>) -> Result<()> {
    let admin = Admin::connect(connect)?;
    let metadata = admin.metadata(Some(topic))?;
    let existing = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len());
    match (existing, partitions) {
        (Some(count), Some(wanted)) if count != wanted as usize => {
            eprintln!("warning: topic '{topic}' exists with {count} partitions, not {wanted}");
            return Ok(());
        }
        (Some(_), _) => return Ok(()),
        (None, _) => admin.create(topic, partitions, None, &[]).await?,
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata = admin.metadata(Some(topic))?;
        let ready = metadata.topics().iter().any(|t| {
            t.name() == topic
                && t.error().is_none()
                && !t.partitions().is_empty()
                && t.partitions()
                    .iter()
                    .all(|p| p.leader() >= 0 && p.error().is_none())
        });
        if ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("topic '{topic}' was created but has no leader for every partition after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A payload of `size` pseudo-random uppercase letters, built once and sent for every record as
/// kafka-producer-perf-test does.
fn payload(size: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            // xorshift64: cheap, deterministic, not compressible to nothing.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'A' + (state % 26) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_size_and_letters() {
        let p = payload(100);
        assert_eq!(p.len(), 100);
        assert!(p.iter().all(u8::is_ascii_uppercase));
        assert!(payload(0).is_empty());
    }
}
