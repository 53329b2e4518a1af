//! The commands against librdkafka's in-process mock cluster (Produce, Fetch, ListOffsets,
//! Metadata, and whatever `cluster status` finds of DescribeCluster; it has no admin APIs, so topics are created through the mock's own API). The
//! end-to-end tests against a real Sluice broker live elsewhere.

use clap::Parser;
use rdkafka::mocking::MockCluster;

use crate::bench::{self, BenchArgs};
use crate::cluster::{fetch_status, ClusterArgs};
use crate::consume::{consume_into, ConsumeArgs};
use crate::produce::{produce_lines, ProduceArgs};

/// Parses a command line of one client command into its argument struct.
fn parse<T: clap::Args + clap::FromArgMatches>(args: &[&str]) -> T {
    #[derive(Parser)]
    struct Wrapper<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    Wrapper::<T>::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))
        .map(|w| w.inner)
        .unwrap_or_else(|e| panic!("bad test arguments {args:?}: {e}"))
}

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

fn consume_text(bootstrap: &str, args: &[&str]) -> String {
    let mut full = vec!["-b", bootstrap];
    full.extend_from_slice(args);
    let args: ConsumeArgs = parse(&full);
    let mut out = Vec::new();
    consume_into(&args, &mut out).expect("consume succeeds");
    String::from_utf8(out).expect("utf-8 output")
}

#[test]
fn produce_then_consume_round_trip() {
    let cluster = cluster_with_topic("t", 2);
    let bootstrap = cluster.bootstrap_servers();
    let args: ProduceArgs = parse(&[
        "-b",
        &bootstrap,
        "t",
        "--key-separator",
        ":",
        "--header",
        "h=v",
        "--partition",
        "1",
        "--compression",
        "lz4",
    ]);
    let input: &[u8] = b"a:1\nb:2:x\r\nplain\n\n";
    assert_eq!(produce_lines(&args, input).expect("produce succeeds"), 4);

    let text = consume_text(
        &bootstrap,
        &[
            "t",
            "--from-beginning",
            "--exit-at-end",
            "--format",
            "%T %p %o [%k] [%v] %h\\n",
        ],
    );
    assert_eq!(
        text,
        "t 1 0 [a] [1] h=v\nt 1 1 [b] [2:x] h=v\nt 1 2 [] [plain] h=v\nt 1 3 [] [] h=v\n"
    );

    // Positioning: an explicit offset, a count, the default end position with an idle timeout.
    let text = consume_text(
        &bootstrap,
        &["t", "--partition", "1", "--offset", "2", "--exit-at-end"],
    );
    assert_eq!(text, "plain\n\n");
    let text = consume_text(&bootstrap, &["t", "--from-beginning", "-n", "2"]);
    assert_eq!(text, "1\n2:x\n");
    let text = consume_text(&bootstrap, &["t", "--timeout-ms", "300"]);
    assert_eq!(text, "");
}

/// The mock answers every ListOffsets-by-time with "no such record" (-1), which must start the
/// partition at its end (the real lookup is covered by the tests against the broker).
#[test]
fn consume_by_timestamp_without_a_match_starts_at_the_end() {
    let cluster = cluster_with_topic("ts", 1);
    let bootstrap = cluster.bootstrap_servers();
    let args: ProduceArgs = parse(&["-b", &bootstrap, "ts"]);
    assert_eq!(produce_lines(&args, &b"x\ny\n"[..]).expect("produce"), 2);
    let text = consume_text(
        &bootstrap,
        &["ts", "--timestamp", "0", "--exit-at-end", "--format", "%v,"],
    );
    assert_eq!(text, "");
}

#[test]
fn missing_topic_and_partition_are_clear_errors() {
    let cluster = cluster_with_topic("t", 1);
    let bootstrap = cluster.bootstrap_servers();
    let args: ConsumeArgs = parse(&["-b", &bootstrap, "t", "--partition", "5"]);
    let err = consume_into(&args, &mut Vec::new()).expect_err("no partition 5");
    assert_eq!(err.to_string(), "topic 't' has no partition 5 (it has 1)");
}

#[test]
fn bad_input_file_is_a_clear_error() {
    let args: ProduceArgs = parse(&["t", "--file", "/nonexistent/sluice-input"]);
    let err = crate::produce::produce(&args).expect_err("file is missing");
    assert!(
        format!("{err:#}").starts_with("opening /nonexistent/sluice-input: "),
        "{err:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmarks_run_end_to_end() {
    let cluster = cluster_with_topic("perf", 3);
    let bootstrap = cluster.bootstrap_servers();
    let run = |args: &[&str]| {
        let mut full = vec!["-b", bootstrap.as_str()];
        full.extend_from_slice(args);
        let args: BenchArgs = parse(&full);
        bench::run(args)
    };
    run(&[
        "produce",
        "--topic",
        "perf",
        "--records",
        "20000",
        "--record-size",
        "64",
        "--acks",
        "1",
    ])
    .await
    .expect("bench produce");
    run(&[
        "produce",
        "--topic",
        "perf",
        "--records",
        "500",
        "--rate",
        "5000",
    ])
    .await
    .expect("bench produce with a rate");
    run(&["consume", "--topic", "perf"])
        .await
        .expect("bench consume reads everything");
    run(&["consume", "--topic", "perf", "--records", "1000"])
        .await
        .expect("bench consume reads a count");
    run(&[
        "e2e",
        "--topic",
        "perf",
        "--records",
        "300",
        "--rate",
        "1000",
    ])
    .await
    .expect("bench e2e");
}

/// A rough check that the benchmark client is fast; run by hand with
/// `cargo test -p sluice-client --release -- --ignored --nocapture`. The mock broker shares the
/// process, so the number is a floor, not a measurement of any broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a manual throughput check"]
async fn bench_produce_throughput_against_the_mock() {
    let cluster = cluster_with_topic("fast", 4);
    let bootstrap = cluster.bootstrap_servers();
    let args: BenchArgs = parse(&[
        "-b",
        &bootstrap,
        "produce",
        "--topic",
        "fast",
        "--records",
        "3000000",
        "--acks",
        "1",
    ]);
    bench::run(args).await.expect("bench produce");
}

#[test]
fn cluster_status_against_the_mock() {
    let cluster = MockCluster::new(3).expect("mock cluster starts");
    cluster
        .create_topic("replicated", 4, 3)
        .expect("mock topic is created");
    let bootstrap = cluster.bootstrap_servers();
    let args: ClusterArgs = parse(&["-b", &bootstrap, "status"]);
    let (status, warnings) = fetch_status(&args.connect).expect("status");
    // The mock has no DescribeCluster: brokers, cluster id and controller come from Metadata.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("does not support DescribeCluster"));
    let ids: Vec<i32> = status.brokers.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert!(status.brokers.iter().all(|b| b.fenced.is_none()));
    assert!(status
        .cluster_id
        .as_deref()
        .is_some_and(|id| id.starts_with("mockCluster")));
    // The mock names a controller id of its own (0), not one of its brokers.
    assert!(status.controller_id.is_some());
    assert_eq!(status.topic_count, 1);
    assert_eq!(status.partition_count, 4);
    assert_eq!(status.offline_partition_count, 0);
    assert_eq!(status.under_replicated_partition_count, 0);
    assert_eq!(status.brokers.iter().map(|b| b.leaders).sum::<usize>(), 4);
}

#[test]
fn cluster_status_without_a_reachable_server_is_one_clear_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let args: ClusterArgs = parse(&["-b", &address, "status"]);
    let err = fetch_status(&args.connect).expect_err("nothing listens");
    let text = format!("{err:#}");
    assert!(
        text.starts_with(&format!(
            "cannot get the cluster status from {address}: cannot connect"
        )),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
}
