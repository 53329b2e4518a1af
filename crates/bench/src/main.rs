//! `sluice-bench`: load generators in the spirit of Kafka's kafka-producer-perf-test,
//! kafka-consumer-perf-test and EndToEndLatency, on librdkafka (the `rdkafka` crate) because
//! measuring what a real client gets from a broker is the point. Works against any
//! Kafka-compatible cluster. Built apart from the `sluice` binary, which needs no C client
//! library; `scripts/bench` builds it and installs what librdkafka's build needs.
//!
//! Each benchmark prints progress and a human summary on stderr and one JSON object on stdout
//! as its last line, so scripts can read the result with `tail -n1 | jq`.
//!
//! Layout:
//! - `main.rs`: the command line and the runtime.
//! - `bench_command.rs`: the subcommands, creating the topic before a run, the payload.
//! - `produce.rs`, `consume.rs`, `e2e.rs`: one benchmark each; `group.rs` the consumer-group
//!   ones (rebalance, commit).
//! - `producer.rs`: the callback-driven producer both produce and e2e use.
//! - `batch_queue.rs`: batched reads from librdkafka's consumer queue (the one module with
//!   unsafe code, which says why).
//! - `latency.rs`: histograms and summaries; `report.rs`: the JSON result line; `pacer.rs`:
//!   the fixed-rate throttle.
//! - `librdkafka.rs`: client configuration from the connection flags, error messages,
//!   metadata, and the helpers the benchmarks share.

mod batch_queue;
mod bench_command;
mod consume;
mod e2e;
mod group;
mod latency;
mod librdkafka;
mod pacer;
mod produce;
mod producer;
mod report;

use std::process::ExitCode;

use clap::Parser;

use bench_command::BenchArgs;

#[derive(Parser, Debug)]
#[command(
    name = "sluice-bench",
    version,
    about = "Producer, consumer and end-to-end benchmarks on librdkafka, against any \
             Kafka-compatible cluster"
)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench_command::run(cli.bench)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod cli_tests;
#[cfg(test)]
mod mock_cluster_tests;
