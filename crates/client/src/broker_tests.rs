//! The commands against a real Sluice broker in the test process (ephemeral loopback port,
//! temporary directory): produce and consume with every codec, keys, headers and positions,
//! partitioning as Kafka's Java client does it, cluster status, topic administration, and the
//! errors a person sees for bad input.

use std::time::{Duration, Instant};

use crate::cluster::{fetch_status, ClusterArgs};
use crate::consume::{consume_into, ConsumeArgs};
use crate::partitioner::murmur2;
use crate::produce::{produce_lines, ProduceArgs};
use crate::test_broker::parse;
use crate::topic::{self, TopicArgs};
use crate::wire::ClusterClient;
use sluice_testkit::TestBroker;

async fn create_topic(addr: &str, topic: &str, partitions: &str, extra: &[&str]) {
    let mut args = vec!["-b", addr, "create", topic, "--partitions", partitions];
    args.extend_from_slice(extra);
    topic::run(parse::<TopicArgs>(&args))
        .await
        .expect("topic created");
}

async fn produce(addr: &str, args: &[&str], input: &'static [u8]) -> anyhow::Result<u64> {
    let mut full = vec!["-b", addr];
    full.extend_from_slice(args);
    let args: ProduceArgs = parse(&full);
    produce_lines(&args, Box::new(input)).await
}

async fn consume_text(addr: &str, args: &[&str]) -> String {
    let mut full = vec!["-b", addr];
    full.extend_from_slice(args);
    let args: ConsumeArgs = parse(&full);
    let mut out = Vec::new();
    consume_into(&args, &mut out)
        .await
        .expect("consume succeeds");
    String::from_utf8(out).expect("utf-8 output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_round_trip() {
    let broker = TestBroker::start(&[]);
    let addr = broker.addr();
    let addr = addr.as_str();
    create_topic(addr, "t", "2", &[]).await;
    let produced = produce(
        addr,
        &[
            "t",
            "--key-separator",
            ":",
            "--header",
            "h=v",
            "--partition",
            "1",
            "--compression",
            "lz4",
        ],
        b"a:1\nb:2:x\r\nplain\n\n",
    )
    .await
    .expect("produce succeeds");
    assert_eq!(produced, 4);
    let text = consume_text(
        addr,
        &[
            "t",
            "--from-beginning",
            "--exit-at-end",
            "--format",
            "%T %p %o [%k] [%v] %h\\n",
        ],
    )
    .await;
    assert_eq!(
        text,
        "t 1 0 [a] [1] h=v\nt 1 1 [b] [2:x] h=v\nt 1 2 [] [plain] h=v\nt 1 3 [] [] h=v\n"
    );

    // Positioning: an explicit offset, a count, the default end position with an idle timeout.
    let text = consume_text(
        addr,
        &["t", "--partition", "1", "--offset", "2", "--exit-at-end"],
    )
    .await;
    assert_eq!(text, "plain\n\n");
    let text = consume_text(addr, &["t", "--from-beginning", "-n", "2"]).await;
    assert_eq!(text, "1\n2:x\n");
    let text = consume_text(addr, &["t", "--timeout-ms", "300"]).await;
    assert_eq!(text, "");
    // acks=0: nothing is awaited, and the records are there all the same.
    produce(
        addr,
        &["t", "--partition", "0", "--acks", "0"],
        b"fire\nforget\n",
    )
    .await
    .expect("produce with acks=0");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = consume_text(
            addr,
            &["t", "--partition", "0", "--from-beginning", "--exit-at-end"],
        )
        .await;
        if text == "fire\nforget\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "acks=0 records never showed: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_and_timestamps_position_the_consumer() {
    let broker = TestBroker::start(&[]);
    let addr = broker.addr();
    let addr = addr.as_str();
    create_topic(addr, "codecs", "1", &[]).await;
    let mut expected = String::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input: &'static [u8] = match codec {
            "none" => b"none-1\nnone-2\n",
            "gzip" => b"gzip-1\ngzip-2\n",
            "snappy" => b"snappy-1\nsnappy-2\n",
            "lz4" => b"lz4-1\nlz4-2\n",
            _ => b"zstd-1\nzstd-2\n",
        };
        produce(addr, &["codecs", "--compression", codec], input)
            .await
            .unwrap_or_else(|e| panic!("produce {codec}: {e:#}"));
        expected.push_str(std::str::from_utf8(input).expect("ascii"));
    }
    let text = consume_text(addr, &["codecs", "--from-beginning", "--exit-at-end"]).await;
    assert_eq!(text, expected);
    // -X compression.type overrides --compression, as -X overrides every flag.
    produce(
        addr,
        &[
            "codecs",
            "--compression",
            "none",
            "-X",
            "compression.type=gzip",
        ],
        b"last\n",
    )
    .await
    .expect("produce");
    // Every record has a timestamp; one far in the future matches none: start at the end.
    let text = consume_text(
        addr,
        &[
            "codecs",
            "--timestamp",
            "4102444800000",
            "--exit-at-end",
            "--format",
            "%v,",
        ],
    )
    .await;
    assert_eq!(text, "");
    let text = consume_text(
        addr,
        &["codecs", "--timestamp", "0", "-n", "1", "--format", "%v %t"],
    )
    .await;
    assert!(text.starts_with("none-1 1"), "{text}");
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_where_the_java_client_puts_them() {
    let broker = TestBroker::start(&[]);
    let addr = broker.addr();
    let addr = addr.as_str();
    create_topic(addr, "keyed", "5", &[]).await;
    let input: &'static [u8] =
        b"user-1:a\nuser-2:b\nuser-3:c\nuser-1:d\norder-17:e\norder-18:f\nuser-2:g\n";
    produce(addr, &["keyed", "--key-separator", ":"], input)
        .await
        .expect("produce");
    let text = consume_text(
        addr,
        &[
            "keyed",
            "--from-beginning",
            "--exit-at-end",
            "--format",
            "%p %k %v\\n",
        ],
    )
    .await;
    let mut seen = 0;
    for line in text.lines() {
        let mut cells = line.split(' ');
        let (Some(partition), Some(key)) = (cells.next(), cells.next()) else {
            panic!("bad line {line:?}");
        };
        let expected = (murmur2(key.as_bytes()) & 0x7fff_ffff) % 5;
        assert_eq!(partition, expected.to_string(), "{line}");
        seen += 1;
    }
    assert_eq!(seen, 7, "{text}");
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_one_clear_error_line() {
    let broker = TestBroker::start(&[("auto.create.topics.enable", "false")]);
    let addr = broker.addr();
    let addr = addr.as_str();
    create_topic(addr, "t", "2", &[]).await;
    let args: ConsumeArgs = parse(&["-b", addr, "t", "--partition", "5"]);
    let err = consume_into(&args, &mut Vec::new())
        .await
        .expect_err("no partition 5");
    assert_eq!(err.to_string(), "topic 't' has no partition 5 (it has 2)");
    let args: ConsumeArgs = parse(&["-b", addr, "missing", "--from-beginning"]);
    let err = consume_into(&args, &mut Vec::new())
        .await
        .expect_err("no topic");
    assert_eq!(
        err.to_string(),
        "topic 'missing' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
    );
    let err = produce(addr, &["t", "--partition", "9"], b"x\n")
        .await
        .expect_err("no partition 9");
    assert_eq!(err.to_string(), "topic 't' has no partition 9 (it has 2)");
    let err = produce(addr, &["missing", "-X", "message.timeout.ms=500"], b"x\n")
        .await
        .expect_err("no topic");
    assert_eq!(
        err.to_string(),
        "topic 'missing' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
    );
    let err = produce(addr, &["t", "-X", "lingr.ms=5"], b"x\n")
        .await
        .expect_err("typo");
    assert!(
        err.to_string()
            .starts_with("unknown client property 'lingr.ms'"),
        "{err}"
    );
    let err = produce(addr, &["t", "-X", "security.protocol=SASL_SSL"], b"x\n")
        .await
        .expect_err("TLS");
    assert_eq!(
        err.to_string(),
        "TLS needs ssl.truststore.location (or ssl.ca.location): a PEM file of the CA \
         certificates to trust"
    );
    let args: ProduceArgs = parse(&["-b", addr, "t", "--file", "/nonexistent/sluice-input"]);
    let err = crate::produce::run(args)
        .await
        .expect_err("file is missing");
    assert!(
        format!("{err:#}").starts_with("opening /nonexistent/sluice-input: "),
        "{err:#}"
    );
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_status_of_a_single_node() {
    let broker = TestBroker::start(&[]);
    let addr = broker.addr();
    let addr = addr.as_str();
    create_topic(addr, "status", "4", &[]).await;
    let args: ClusterArgs = parse(&["-b", addr, "status"]);
    let (status, warnings) = fetch_status(&args.connect).await.expect("status");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(status.brokers.len(), 1);
    assert_eq!(status.brokers[0].fenced, Some(false));
    assert!(status.controller_id.is_some());
    assert!(status.cluster_id.is_some());
    assert!(status.topic_count >= 1);
    assert_eq!(status.offline_partition_count, 0);
    assert_eq!(status.under_replicated_partition_count, 0);
    assert!(status.brokers[0].leaders >= 4);
    drop(broker);
}

#[tokio::test]
async fn cluster_status_without_a_reachable_server_is_one_clear_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let args: ClusterArgs = parse(&["-b", &address, "status"]);
    let err = fetch_status(&args.connect)
        .await
        .expect_err("nothing listens");
    let text = format!("{err:#}");
    assert!(
        text.starts_with(&format!(
            "cannot get the cluster status from {address}: cannot connect"
        )),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_altered_and_deleted() {
    let broker = TestBroker::start(&[]);
    let addr = broker.addr();
    let addr = addr.as_str();
    let run = |args: Vec<&'static str>| {
        let mut full = vec!["-b", addr];
        full.extend(args);
        topic::run(parse::<TopicArgs>(&full))
    };
    run(vec![
        "create",
        "admin",
        "--partitions",
        "2",
        "--config",
        "retention.ms=60000",
    ])
    .await
    .expect("created");
    let err = run(vec!["create", "admin"]).await.expect_err("exists");
    assert_eq!(
        err.to_string(),
        "topic 'admin' already exists (TOPIC_ALREADY_EXISTS)"
    );
    run(vec!["list"]).await.expect("listed");
    run(vec!["describe", "admin"]).await.expect("described");
    run(vec![
        "alter",
        "admin",
        "--partitions",
        "3",
        "--config",
        "segment.bytes=1048576",
        "--delete-config",
        "retention.ms",
    ])
    .await
    .expect("altered");
    let err = run(vec!["alter", "admin", "--delete-config", "retention.ms"])
        .await
        .expect_err("not set");
    assert_eq!(
        err.to_string(),
        "altering configs of 'admin': config 'retention.ms' is not set on the topic"
    );
    let err = run(vec!["alter", "admin", "--config", "no.such.config=1"])
        .await
        .expect_err("unknown key");
    assert!(err.to_string().contains("INVALID_CONFIG"), "{err}");

    let settings = crate::client_settings::ClientSettings::from_args(
        &parse::<crate::ConnectArgs>(&["-b", addr]),
        crate::client_settings::Role::Admin,
    )
    .expect("settings");
    let mut client = ClusterClient::new(&settings);
    let deadline = Instant::now() + Duration::from_secs(10);
    let names = ["admin".to_string()];
    let metadata = client
        .metadata(Some(&names), false, deadline)
        .await
        .expect("metadata");
    assert_eq!(metadata.topic("admin").map(|t| t.partitions.len()), Some(3));

    run(vec!["delete", "admin"]).await.expect("deleted");
    let err = run(vec!["describe", "admin"]).await.expect_err("gone");
    assert_eq!(
        err.to_string(),
        "topic 'admin' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
    );
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_records_fail_one_by_one_with_the_reason() {
    let broker = TestBroker::start(&[]);
    let addr = broker.addr();
    let addr = addr.as_str();
    // One replica can never satisfy min.insync.replicas=2: acks=all is refused with the
    // retriable NOT_ENOUGH_REPLICAS until the delivery timeout.
    create_topic(addr, "strict", "1", &["--config", "min.insync.replicas=2"]).await;
    let err = produce(
        addr,
        &["strict", "--acks", "all", "-X", "message.timeout.ms=800"],
        b"a\nb\n",
    )
    .await
    .expect_err("never enough replicas");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "record on line 1: not delivered within message.timeout.ms (800 ms); last error: "
        ),
        "{text}"
    );
    assert!(text.contains("NOT_ENOUGH_REPLICAS"), "{text}");
    assert!(
        text.ends_with("(0 of 2 records delivered, 2 failed)"),
        "{text}"
    );
    // acks=1 does not wait for the ISR: the same topic takes the records.
    produce(addr, &["strict", "--acks", "1"], b"c\n")
        .await
        .expect("acks=1");
    // A record larger than a request may be fails alone, before anything is sent.
    let err = produce(
        addr,
        &["strict", "--acks", "1", "-X", "message.max.bytes=1000"],
        Box::leak(
            format!("small\n{}\n", "x".repeat(2000))
                .into_bytes()
                .into_boxed_slice(),
        ),
    )
    .await
    .expect_err("too large");
    let text = err.to_string();
    assert!(text.starts_with("record on line 2: "), "{text}");
    assert!(text.contains("(MSG_SIZE_TOO_LARGE)"), "{text}");
    assert!(
        text.ends_with("(1 of 2 records delivered, 1 failed)"),
        "{text}"
    );
    drop(broker);
}
