//! The benchmarks end to end against librdkafka's in-process mock cluster (it has no admin
//! APIs, so the topic is created through the mock's own API).

use clap::Parser;
use rdkafka::mocking::MockCluster;

use crate::bench_command;
use crate::Cli;

fn cluster_with_topic(
    topic: &str,
    partitions: i32,
) -> MockCluster<'static, impl rdkafka::ClientContext> {
    let cluster = MockCluster::new(1).expect("mock cluster starts");
    cluster
        .create_topic(topic, partitions, 1)
        .expect("mock topic is created");
    cluster
}

async fn run(bootstrap: &str, args: &[&str]) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from(
        ["sluice-bench", "-b", bootstrap]
            .into_iter()
            .chain(args.iter().copied()),
    )
    .unwrap_or_else(|e| panic!("bad test arguments {args:?}: {e}"));
    bench_command::run(cli.bench).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmarks_run_end_to_end() {
    let cluster = cluster_with_topic("perf", 3);
    let bootstrap = cluster.bootstrap_servers();
    run(
        &bootstrap,
        &[
            "produce",
            "--topic",
            "perf",
            "--records",
            "20000",
            "--record-size",
            "64",
            "--acks",
            "1",
        ],
    )
    .await
    .expect("bench produce");
    run(
        &bootstrap,
        &[
            "produce",
            "--topic",
            "perf",
            "--records",
            "500",
            "--rate",
            "5000",
        ],
    )
    .await
    .expect("bench produce with a rate");
    run(&bootstrap, &["consume", "--topic", "perf"])
        .await
        .expect("bench consume reads everything");
    run(
        &bootstrap,
        &["consume", "--topic", "perf", "--records", "1000"],
    )
    .await
    .expect("bench consume reads a count");
    run(
        &bootstrap,
        &[
            "e2e",
            "--topic",
            "perf",
            "--records",
            "300",
            "--rate",
            "1000",
        ],
    )
    .await
    .expect("bench e2e");
}

/// A rough check that the benchmark client is fast; run by hand with
/// `cargo test -p sluice-bench --release -- --ignored --nocapture`. The mock broker shares the
/// process, so the number is a floor, not a measurement of any broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a manual throughput check"]
async fn produce_throughput_against_the_mock() {
    let cluster = cluster_with_topic("fast", 4);
    let bootstrap = cluster.bootstrap_servers();
    run(
        &bootstrap,
        &[
            "produce",
            "--topic",
            "fast",
            "--records",
            "3000000",
            "--acks",
            "1",
        ],
    )
    .await
    .expect("bench produce");
}
