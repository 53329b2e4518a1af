//! Appends from one connection happen in request order on every partition, even when a request
//! waits at one of its partitions (here: a test hold in front of the append; in production a
//! transaction check with a coordinator on another broker, or a slow disk).

use std::time::Duration;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

use crate::config::BrokerConfig;
use crate::test_support::{batch, read_response, write_request};

const TOPIC: &str = "ordered";

fn produce_to(partitions: &[i32]) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partition_data(
                partitions
                    .iter()
                    .map(|p| {
                        PartitionProduceData::default()
                            .with_index(*p)
                            .with_records(Some(batch(1)))
                    })
                    .collect(),
            )])
}

fn base_offset(response: &ProduceResponse, partition: i32) -> i64 {
    let p = response.responses[0]
        .partition_responses
        .iter()
        .find(|p| p.index == partition)
        .expect("partition answered");
    assert_eq!(p.error_code, 0, "partition {partition} refused");
    p.base_offset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_request_never_appends_before_an_earlier_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_dirs = dir.path().display().to_string();
    let config = BrokerConfig::from_pairs(&[
        ("listeners", "PLAINTEXT://127.0.0.1:0"),
        ("log.dirs", log_dirs.as_str()),
        ("offsets.topic.num.partitions", "1"),
        ("transaction.state.log.num.partitions", "1"),
    ])
    .expect("config");
    let server = crate::server::start(config).await.expect("server starts");
    let broker = server.broker.clone().expect("a broker node");
    let mut stream = TcpStream::connect(server.local_addr)
        .await
        .expect("connects");

    let create = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_num_partitions(2)
            .with_replication_factor(1)]);
    write_request(&mut stream, ApiKey::CreateTopics, 5, 1, &create).await;
    let (_, created): (_, CreateTopicsResponse) =
        read_response(&mut stream, ApiKey::CreateTopics, 5).await;
    assert_eq!(created.topics[0].error_code, 0);

    let topic = broker.replicas.topic(TOPIC).expect("topic hosted");
    let held = topic.leader(0).expect("leads partition 0").clone();
    let (entered, release) = held.hold_next_client_append();

    // Request 2 appends to partitions 1 and 0 and waits at partition 0; request 3, pipelined
    // behind it on the same connection, appends to partition 0 only.
    write_request(&mut stream, ApiKey::Produce, 9, 2, &produce_to(&[1, 0])).await;
    write_request(&mut stream, ApiKey::Produce, 9, 3, &produce_to(&[0])).await;
    tokio::time::timeout(Duration::from_secs(10), entered)
        .await
        .expect("request 2 reaches partition 0 within 10 s")
        .expect("hold entered");
    // Give request 3 every chance to overtake: release when it has appended to partition 0 (the
    // bug) or after a second in which it did not.
    let overtaken = async {
        while held.log_end_offset() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), overtaken).await;
    let _ = release.send(());

    let (c2, first): (_, ProduceResponse) = read_response(&mut stream, ApiKey::Produce, 9).await;
    let (c3, second): (_, ProduceResponse) = read_response(&mut stream, ApiKey::Produce, 9).await;
    assert_eq!((c2, c3), (2, 3), "responses in request order");
    assert_eq!(base_offset(&first, 1), 0);
    assert_eq!(
        (base_offset(&first, 0), base_offset(&second, 0)),
        (0, 1),
        "request 2's batch precedes request 3's on partition 0"
    );
    drop(stream);
    server.shutdown().await;
}
