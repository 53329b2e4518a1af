//! The benchmark commands and what they share: the command line, creating the topic before a
//! run, the payload.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use sluice_client::ConnectArgs;

use crate::consume::{self, BenchConsumeArgs};
use crate::e2e::{self, BenchE2eArgs};
use crate::group::{self, BenchCommitArgs, BenchRebalanceArgs};
use crate::librdkafka::{describe_code, describe_error, fetch_metadata, ClientConfigExt};
use crate::produce::{self, BenchProduceArgs};

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
    // Producers ask the broker to auto-create topics they request metadata for; the existence
    // check must not.
    let admin: AdminClient<DefaultClientContext> = connect
        .client_config(&[("allow.auto.create.topics", "false")])?
        .create()
        .map_err(|e| anyhow!("creating admin client: {}", describe_error(&e)))?;
    let bootstrap = connect.bootstrap_server.as_str();
    let metadata = fetch_metadata(admin.inner(), Some(topic), bootstrap)?;
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
        (None, _) => {
            // -1 asks the broker for its defaults (CreateTopics v4+, KIP-464).
            let count = partitions.map_or(Ok(-1), i32::try_from)?;
            let new_topic = NewTopic::new(topic, count, TopicReplication::Fixed(-1));
            let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
            let results = admin
                .create_topics([&new_topic], &options)
                .await
                .map_err(|e| anyhow!("creating topic '{topic}': {}", describe_error(&e)))?;
            for result in results {
                if let Err((_, code)) = result {
                    bail!("creating topic '{topic}': {}", describe_code(code));
                }
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata = fetch_metadata(admin.inner(), Some(topic), bootstrap)?;
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
pub fn payload(size: usize) -> Vec<u8> {
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
