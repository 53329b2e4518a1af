//! Argument parsing of every benchmark, through clap as the binary uses it.

use clap::{CommandFactory, Parser};
use sluice_client::{Acks, Compression};

use crate::bench_command::BenchCommand;
use crate::Cli;

fn parse(args: &[&str]) -> Result<BenchCommand, clap::Error> {
    Cli::try_parse_from(std::iter::once("sluice-bench").chain(args.iter().copied()))
        .map(|c| c.bench.command)
}

#[test]
fn command_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn produce_flags() {
    let cli = Cli::try_parse_from([
        "sluice-bench",
        "produce",
        "--topic",
        "perf",
        "--records",
        "5000000",
        "--record-size",
        "100",
        "--acks",
        "1",
        "--compression",
        "lz4",
        "--linger-ms",
        "10",
        "--batch-size",
        "262144",
        "--partitions",
        "8",
        "--rate",
        "100000",
        "--producers",
        "2",
        "-X",
        "queue.buffering.max.kbytes=2097151",
    ])
    .expect("valid");
    assert_eq!(
        cli.bench.connect.properties,
        vec![(
            "queue.buffering.max.kbytes".to_string(),
            "2097151".to_string()
        )]
    );
    let BenchCommand::Produce(bench) = cli.bench.command else {
        panic!("not produce");
    };
    assert_eq!(bench.topic, "perf");
    assert_eq!(bench.records, 5_000_000);
    assert_eq!(bench.acks, Acks::Leader);
    assert_eq!(bench.compression, Some(Compression::Lz4));
    assert_eq!(bench.linger_ms, Some(10));
    assert_eq!(bench.batch_size, Some(262_144));
    assert_eq!(bench.partitions, Some(8));
    assert_eq!(bench.rate, 100_000);
    assert_eq!(bench.producers, 2);
    assert!(parse(&["produce", "--topic", "t", "--producers", "0"]).is_err());
}

#[test]
fn defaults_and_bad_values() {
    let Ok(BenchCommand::E2e(bench)) = parse(&["e2e", "--topic", "lat"]) else {
        panic!("not e2e");
    };
    assert_eq!(
        (bench.records, bench.rate, bench.record_size),
        (10_000, 10_000, 100)
    );
    assert!(parse(&["e2e", "--topic", "x", "--record-size", "8"]).is_err());
    assert!(parse(&["e2e", "--topic", "x", "--rate", "0"]).is_err());
    let Ok(BenchCommand::Consume(bench)) = parse(&["consume", "--topic", "t", "-b", "h:1"]) else {
        panic!("not consume");
    };
    assert_eq!((bench.records, bench.timeout_ms), (None, 10_000));
    assert!(parse(&["produce"]).is_err(), "--topic is required");
}

#[test]
fn produce_in_transactions() {
    let produce = |args: &[&str]| match parse(args) {
        Ok(BenchCommand::Produce(produce)) => produce,
        other => panic!("not produce: {other:?}"),
    };
    let plain = produce(&["produce", "--topic", "t"]);
    assert_eq!(plain.transactional_id, None);
    assert_eq!(plain.commit_interval_ms, 100);
    let txn = produce(&[
        "produce",
        "--topic",
        "t",
        "--transactional-id",
        "bench-txn",
        "--commit-interval-ms",
        "10",
    ]);
    assert_eq!(txn.transactional_id.as_deref(), Some("bench-txn"));
    assert_eq!(txn.commit_interval_ms, 10);
    assert!(parse(&[
        "produce",
        "--topic",
        "t",
        "--transactional-id",
        "x",
        "--commit-interval-ms",
        "0"
    ])
    .is_err());
}
