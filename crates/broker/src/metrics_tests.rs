//! Metrics of a running node that no smaller part can show: requests the front door answers or
//! refuses count in the request metrics (Kafka counts every request it reads), and replicas in
//! a failed log directory count as offline.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::BrokerConfig;
use crate::metrics::BrokerMetrics;
use crate::test_support::{read_response, write_request};
use crate::ServerHandle;

/// A single node on `log_dirs` (comma-separated) with a client listener on an ephemeral port.
async fn start(log_dirs: &str) -> ServerHandle {
    let config = BrokerConfig::from_pairs(&[
        ("listeners", "PLAINTEXT://127.0.0.1:0"),
        ("log.dirs", log_dirs),
        ("offsets.topic.num.partitions", "1"),
        ("transaction.state.log.num.partitions", "1"),
    ])
    .expect("config");
    crate::server::start(config).await.expect("server starts")
}

/// The value of the series `series` (name and labels as exposed), if it is exported.
fn sample(metrics: &BrokerMetrics, series: &str) -> Option<f64> {
    let mut text = String::new();
    metrics
        .with_registry(|r| prometheus_client::encoding::prometheus_text::encode(&mut text, r))
        .expect("encodes");
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn requests(metrics: &BrokerMetrics, request: &str) -> f64 {
    let series = format!("kafka_network_requestmetrics_requests_total{{request=\"{request}\"}}");
    sample(metrics, &series).unwrap_or(0.0)
}

/// A request frame of the header's fixed fields only: api key, version, correlation id.
async fn write_bare_header(stream: &mut TcpStream, api: ApiKey, version: i16, correlation_id: i32) {
    let mut buf = BytesMut::new();
    buf.put_i32(8);
    buf.put_i16(api as i16);
    buf.put_i16(version);
    buf.put_i32(correlation_id);
    stream.write_all(&buf).await.expect("request written");
}

/// Waits (at most 10 s) until the broker closes `stream` without answering.
async fn closed_unanswered(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
        .await
        .expect("closed within 10 s");
    // A reset is a close too.
    assert!(matches!(read, Ok(0) | Err(_)), "answered: {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_answered_or_refused_at_the_front_door_are_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(&dir.path().display().to_string()).await;
    let metrics = server.metrics.clone();
    let api_versions = requests(&metrics, "ApiVersions");
    let mut stream = TcpStream::connect(server.local_addr)
        .await
        .expect("connects");

    // An ApiVersions newer than ours: UNSUPPORTED_VERSION from the door (KIP-511).
    write_bare_header(&mut stream, ApiKey::ApiVersions, 99, 1).await;
    let (correlation_id, answer): (_, ApiVersionsResponse) =
        read_response(&mut stream, ApiKey::ApiVersions, 0).await;
    assert_eq!((correlation_id, answer.error_code), (1, 35));
    assert_eq!(requests(&metrics, "ApiVersions"), api_versions + 1.0);
    // One its handler answers counts once.
    let request = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("unit-test"))
        .with_client_software_version(StrBytes::from_static_str("1"));
    write_request(&mut stream, ApiKey::ApiVersions, 3, 2, &request).await;
    let (_, answer): (_, ApiVersionsResponse) =
        read_response(&mut stream, ApiKey::ApiVersions, 3).await;
    assert_eq!(answer.error_code, 0);
    assert_eq!(requests(&metrics, "ApiVersions"), api_versions + 2.0);

    // A version below the supported ones: the door closes the connection, after counting.
    write_bare_header(&mut stream, ApiKey::Produce, 0, 3).await;
    closed_unanswered(&mut stream).await;
    assert_eq!(requests(&metrics, "Produce"), 1.0);
    // A fetch whose body was never read counts as a consumer's.
    let mut stream = TcpStream::connect(server.local_addr)
        .await
        .expect("connects");
    write_bare_header(&mut stream, ApiKey::Fetch, 1, 4).await;
    closed_unanswered(&mut stream).await;
    assert_eq!(requests(&metrics, "FetchConsumer"), 1.0);
    assert_eq!(requests(&metrics, "FetchFollower"), 0.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_in_a_failed_log_directory_are_counted_offline() {
    let root = tempfile::tempdir().expect("temp dir");
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let server = start(&format!("{},{}", a.display(), b.display())).await;
    let broker = server.broker.clone().expect("a broker node");
    let offline = "kafka_server_replicamanager_offlinereplicacount";
    assert_eq!(sample(&server.metrics, offline), Some(0.0), "exported at 0");

    let mut stream = TcpStream::connect(server.local_addr)
        .await
        .expect("connects");
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("spread")))
            .with_num_partitions(4)
            .with_replication_factor(1)]);
    write_request(&mut stream, ApiKey::CreateTopics, 5, 1, &create).await;
    let (_, created): (_, CreateTopicsResponse) =
        read_response(&mut stream, ApiKey::CreateTopics, 5).await;
    assert_eq!(created.topics[0].error_code, 0);

    // New replicas go to the directory holding fewer: b holds some.
    let in_b = broker
        .replicas
        .topics()
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter(|p| p.dir_index() == 1)
        .count();
    assert!(in_b >= 1, "no replica in {}", b.display());
    // What an I/O error in b does (see `Partition::check_io`).
    broker.replicas.log_dirs().fail(1, &"test: an I/O error");
    assert_eq!(sample(&server.metrics, offline), Some(in_b as f64));
    server.shutdown().await;
}
