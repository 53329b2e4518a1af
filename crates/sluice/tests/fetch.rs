//! Fetch behaviour at the protocol level: long-poll woken by appends, KIP-74 size rules and
//! KIP-227 fetch sessions.

mod common;

use common::{batch, batch_offsets, Client, TestBroker};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
const INVALID_FETCH_SESSION_EPOCH: i16 = 71;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create(c: &mut Client, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    assert_eq!(c.send(&req, 7).topics[0].error_code, 0);
}

fn produce(c: &mut Client, topic: &str, partition: i32, values: &[&[u8]]) -> i64 {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch(values, Compression::None)))])]);
    let resp = c.send(&req, 9);
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    p.base_offset
}

fn part(p: i32, offset: i64, max: i32) -> FetchPartition {
    FetchPartition::default()
        .with_partition(p)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(max)
}

fn fetch_req(topic: &str, parts: Vec<FetchPartition>) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_session_epoch(-1)
        .with_topics(if parts.is_empty() {
            vec![]
        } else {
            vec![FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(parts)]
        })
}

#[test]
fn a_waiting_fetch_is_woken_by_an_append() {
    let broker = TestBroker::start(&[]);
    let mut admin = broker.connect();
    create(&mut admin, "wake", 1);
    let addr = broker.addr();
    // The fetch waits up to 30 s; the client's read timeout is 20 s, so only a wake-up by the
    // append can make this return in time.
    let waiter = std::thread::spawn(move || {
        let mut c = Client::connect(&addr);
        let req = fetch_req("wake", vec![part(0, 0, 1 << 20)]).with_max_wait_ms(30_000);
        c.send(&req, 12)
    });
    // Produce once the fetch is (very likely) parked; a produce before it is fine too.
    std::thread::sleep(std::time::Duration::from_millis(200));
    produce(&mut admin, "wake", 0, &[b"ping"]);
    let resp = waiter.join().expect("fetch thread");
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(
        batch_offsets(p.records.clone().unwrap_or_default()),
        vec![0]
    );
}

#[test]
fn min_bytes_holds_the_fetch_until_enough_data() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create(&mut c, "minbytes", 1);
    produce(&mut c, "minbytes", 0, &[b"small"]);
    // With max_wait 0 a fetch answers at once even below min_bytes.
    let req = fetch_req("minbytes", vec![part(0, 0, 1 << 20)]).with_min_bytes(1 << 20);
    let resp = c.send(&req, 12);
    assert_eq!(
        batch_offsets(
            resp.responses[0].partitions[0]
                .records
                .clone()
                .unwrap_or_default()
        ),
        vec![0]
    );
}

#[test]
fn kip74_first_batch_is_returned_whole_and_limits_apply_after_it() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create(&mut c, "sizes", 2);
    let big = vec![1u8; 5000];
    produce(&mut c, "sizes", 0, &[&big]);
    produce(&mut c, "sizes", 0, &[&big]);
    produce(&mut c, "sizes", 1, &[&big]);
    // partition_max_bytes 100 is smaller than one batch: the first batch still comes whole.
    let resp = c.send(
        &fetch_req("sizes", vec![part(0, 0, 100), part(1, 0, 100)]),
        12,
    );
    let p0 = resp.responses[0].partitions[0]
        .records
        .clone()
        .unwrap_or_default();
    let p1 = resp.responses[0].partitions[1]
        .records
        .clone()
        .unwrap_or_default();
    assert_eq!(batch_offsets(p0), vec![0], "exactly the first whole batch");
    assert!(
        p1.is_empty(),
        "after the first batch the partition limit applies"
    );
    // The response limit: max_bytes smaller than two batches stops after the first.
    let resp = c.send(
        &fetch_req("sizes", vec![part(0, 0, 1 << 20), part(1, 0, 1 << 20)]).with_max_bytes(6000),
        12,
    );
    let p0 = resp.responses[0].partitions[0]
        .records
        .clone()
        .unwrap_or_default();
    let p1 = resp.responses[0].partitions[1]
        .records
        .clone()
        .unwrap_or_default();
    assert_eq!(batch_offsets(p0), vec![0]);
    assert!(p1.is_empty());
}

#[test]
fn incremental_fetch_sessions() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create(&mut c, "sess", 2);
    produce(&mut c, "sess", 0, &[b"a"]);
    produce(&mut c, "sess", 1, &[b"b"]);

    // Epoch 0 opens a session with a full fetch.
    let full = fetch_req("sess", vec![part(0, 0, 1 << 20), part(1, 0, 1 << 20)])
        .with_session_id(0)
        .with_session_epoch(0);
    let resp = c.send(&full, 12);
    let session = resp.session_id;
    assert_ne!(session, 0);
    assert_eq!(resp.responses[0].partitions.len(), 2);

    // Epoch 1: the client moves both partitions past what it read; nothing changed on either,
    // so the incremental response is empty.
    let inc = fetch_req("sess", vec![part(0, 1, 1 << 20), part(1, 1, 1 << 20)])
        .with_session_id(session)
        .with_session_epoch(1);
    let resp = c.send(&inc, 12);
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.session_id, session);
    assert!(
        resp.responses.is_empty(),
        "nothing new: {:?}",
        resp.responses
    );

    // New data on partition 1 only: only partition 1 is in the response.
    produce(&mut c, "sess", 1, &[b"c"]);
    let resp = c.send(
        &fetch_req("sess", vec![])
            .with_session_id(session)
            .with_session_epoch(2),
        12,
    );
    assert_eq!(resp.responses.len(), 1);
    let parts: Vec<i32> = resp.responses[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    assert_eq!(parts, vec![1]);

    // Forgetting partition 1 removes it from the session.
    produce(&mut c, "sess", 1, &[b"d"]);
    let forget = fetch_req("sess", vec![])
        .with_session_id(session)
        .with_session_epoch(3)
        .with_forgotten_topics_data(vec![ForgottenTopic::default()
            .with_topic(name("sess"))
            .with_partitions(vec![1])]);
    let resp = c.send(&forget, 12);
    assert!(resp.responses.is_empty());

    // A wrong epoch and an unknown session id are refused.
    let resp = c.send(
        &fetch_req("sess", vec![])
            .with_session_id(session)
            .with_session_epoch(9),
        12,
    );
    assert_eq!(resp.error_code, INVALID_FETCH_SESSION_EPOCH);
    let resp = c.send(
        &fetch_req("sess", vec![])
            .with_session_id(session + 1000)
            .with_session_epoch(1),
        12,
    );
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND);

    // Epoch -1 closes the session with a sessionless full fetch.
    let resp = c.send(
        &fetch_req("sess", vec![part(0, 0, 1 << 20)])
            .with_session_id(session)
            .with_session_epoch(-1),
        12,
    );
    assert_eq!(resp.session_id, 0);
    let resp = c.send(
        &fetch_req("sess", vec![])
            .with_session_id(session)
            .with_session_epoch(4),
        12,
    );
    assert_eq!(resp.error_code, FETCH_SESSION_ID_NOT_FOUND);
}
