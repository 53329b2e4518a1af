//! Bad input against a real broker process: each is answered with Kafka's error code, or (only
//! for frames that cannot be parsed) the connection is closed; the broker keeps serving other
//! connections and earlier data is intact.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{batch, batch_offsets, Client, TestBroker};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const INVALID_REQUIRED_ACKS: i16 = 21;
const UNSUPPORTED_VERSION: i16 = 35;
const INVALID_PARTITIONS: i16 = 37;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create_topic(c: &mut Client, topic: &str, partitions: i32) -> i16 {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000);
    c.send(&req, 7).topics[0].error_code
}

fn produce(c: &mut Client, topic: &str, partition: i32, acks: i16, records: Bytes) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let resp = c.send(&req, 9);
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn fetch(c: &mut Client, topic: &str, offset: i64) -> (i16, i64, Bytes) {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(10 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)
                .with_current_leader_epoch(-1)
                .with_log_start_offset(-1)])]);
    let resp = c.send(&req, 12);
    let p = &resp.responses[0].partitions[0];
    (
        p.error_code,
        p.high_watermark,
        p.records.clone().unwrap_or_default(),
    )
}

/// The broker still answers a fresh connection and still holds the first two batches.
fn assert_healthy(broker: &mut TestBroker, topic: &str) {
    assert!(broker.alive(), "broker process died");
    let mut c = broker.connect();
    let (err, hw, records) = fetch(&mut c, topic, 0);
    assert_eq!(err, 0);
    assert!(hw >= 4, "earlier data intact: high watermark {hw}");
    assert_eq!(&batch_offsets(records)[..2], &[0, 2]);
}

fn setup(settings: &[(&str, &str)]) -> (TestBroker, &'static str) {
    let broker = TestBroker::start(settings);
    let mut c = broker.connect();
    assert_eq!(create_topic(&mut c, "intact", 1), 0);
    assert_eq!(
        produce(
            &mut c,
            "intact",
            0,
            1,
            batch(&[b"a", b"b"], Compression::None)
        ),
        (0, 0)
    );
    assert_eq!(
        produce(
            &mut c,
            "intact",
            0,
            -1,
            batch(&[b"c", b"d"], Compression::Lz4)
        ),
        (0, 2)
    );
    (broker, "intact")
}

#[test]
fn unparseable_frames_close_only_their_connection() {
    let (mut broker, topic) = setup(&[("socket.request.max.bytes", "1048576")]);
    let mut bystander = broker.connect();

    // Garbage: an HTTP request parses as a 1.2 GB frame size.
    let mut c = broker.connect();
    c.write_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(c.closed_by_peer(), "garbage closes the connection");

    // A frame one byte over socket.request.max.bytes.
    let mut c = broker.connect();
    c.write_raw(&(1_048_577i32).to_be_bytes()).unwrap();
    assert!(c.closed_by_peer(), "oversized frame closes the connection");

    // A negative frame size.
    let mut c = broker.connect();
    c.write_raw(&(-5i32).to_be_bytes()).unwrap();
    assert!(c.closed_by_peer());

    // A truncated Metadata v1 request: header fine, topic array claims 3 topics, one present.
    let mut c = broker.connect();
    let mut body = BytesMut::new();
    body.put_i16(3); // Metadata
    body.put_i16(1);
    body.put_i32(7);
    body.put_i16(-1); // null client id
    body.put_i32(3);
    body.put_i16(1);
    body.put_slice(b"x");
    c.send_raw_frame(&body).unwrap();
    assert!(
        c.closed_by_peer(),
        "truncated request closes the connection"
    );

    // An array count far beyond the frame (the allocation guard).
    let mut c = broker.connect();
    let mut body = BytesMut::new();
    body.put_i16(3);
    body.put_i16(1);
    body.put_i32(8);
    body.put_i16(-1);
    body.put_i32(i32::MAX);
    c.send_raw_frame(&body).unwrap();
    assert!(
        c.closed_by_peer(),
        "impossible array count closes the connection"
    );

    // An unknown api key.
    let mut c = broker.connect();
    let mut body = BytesMut::new();
    body.put_i16(9999);
    body.put_i16(0);
    body.put_i32(9);
    body.put_i16(-1);
    c.send_raw_frame(&body).unwrap();
    assert!(c.closed_by_peer(), "unknown api key closes the connection");

    // The bystander connection was never disturbed.
    let md = bystander.send(&MetadataRequest::default().with_topics(None), 12);
    assert!(md
        .topics
        .iter()
        .any(|t| t.name.as_deref().map(|n| n.as_str()) == Some(topic)));
    assert_healthy(&mut broker, topic);
}

#[test]
fn unsupported_versions() {
    let (mut broker, topic) = setup(&[]);
    // ApiVersions newer than ours: UNSUPPORTED_VERSION in the v0 layout, connection stays up.
    let mut c = broker.connect();
    let mut body = BytesMut::new();
    body.put_i16(18);
    body.put_i16(127);
    body.put_i32(42);
    body.put_i16(-1);
    c.send_raw_frame(&body).unwrap();
    let mut frame = c.read_frame().unwrap();
    use bytes::Buf;
    assert_eq!(frame.get_i32(), 42, "correlation id");
    let resp = <ApiVersionsResponse as kafka_protocol::protocol::Decodable>::decode(&mut frame, 0)
        .unwrap();
    assert_eq!(resp.error_code, UNSUPPORTED_VERSION);
    let av = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == 18)
        .expect("ApiVersions listed");
    assert_eq!((av.min_version, av.max_version), (0, 4));
    // The same connection then works with a supported version.
    let ok = c.send(&ApiVersionsRequest::default(), 3);
    assert_eq!(ok.error_code, 0);
    assert!(ok
        .api_keys
        .iter()
        .any(|k| k.api_key == 0 && k.max_version >= 9));

    // Produce v2 is below Kafka 4's floor: not parseable by us, the connection is closed.
    let mut c = broker.connect();
    let mut body = BytesMut::new();
    body.put_i16(0);
    body.put_i16(2);
    body.put_i32(1);
    body.put_i16(-1);
    body.put_i16(1);
    body.put_i32(1000);
    body.put_i32(0);
    c.send_raw_frame(&body).unwrap();
    assert!(c.closed_by_peer());
    assert_healthy(&mut broker, topic);
}

#[test]
fn bad_produce_requests_get_error_codes() {
    let (mut broker, topic) = setup(&[("message.max.bytes", "10000")]);
    let mut c = broker.connect();

    // Wrong CRC: flip a byte in the records area.
    let mut bad = BytesMut::from(&batch(&[b"hello"], Compression::None)[..]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(
        produce(&mut c, topic, 0, 1, bad.freeze()).0,
        CORRUPT_MESSAGE
    );

    // A truncated batch inside an otherwise valid request.
    let whole = batch(&[b"hello"], Compression::None);
    assert_eq!(
        produce(&mut c, topic, 0, 1, whole.slice(..whole.len() - 3)).0,
        CORRUPT_MESSAGE
    );

    // A record over max.message.bytes.
    let big = vec![7u8; 20_000];
    assert_eq!(
        produce(&mut c, topic, 0, 1, batch(&[&big], Compression::None)).0,
        MESSAGE_TOO_LARGE
    );

    // A partition that does not exist, and a topic that does not exist.
    let ok = batch(&[b"x"], Compression::None);
    assert_eq!(
        produce(&mut c, topic, 7, 1, ok.clone()).0,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        produce(&mut c, "no-such-topic", 0, 1, ok.clone()).0,
        UNKNOWN_TOPIC_OR_PARTITION
    );

    // acks=2.
    assert_eq!(produce(&mut c, topic, 0, 2, ok).0, INVALID_REQUIRED_ACKS);

    // None of these appended anything.
    let (_, hw, _) = fetch(&mut c, topic, 0);
    assert_eq!(hw, 4);
    assert_healthy(&mut broker, topic);
}

#[test]
fn bad_topic_and_fetch_requests_get_error_codes() {
    let (mut broker, topic) = setup(&[]);
    let mut c = broker.connect();
    assert_eq!(
        create_topic(&mut c, "bad name!", 1),
        INVALID_TOPIC_EXCEPTION
    );
    assert_eq!(
        create_topic(&mut c, &"a".repeat(250), 1),
        INVALID_TOPIC_EXCEPTION
    );
    assert_eq!(create_topic(&mut c, "..", 1), INVALID_TOPIC_EXCEPTION);
    assert_eq!(create_topic(&mut c, "zero", 0), INVALID_PARTITIONS);
    assert_eq!(create_topic(&mut c, "negative", -5), INVALID_PARTITIONS);
    assert_eq!(create_topic(&mut c, topic, 1), 36, "TOPIC_ALREADY_EXISTS");

    // Metadata for an invalid name does not auto-create it.
    let md = c.send(
        &MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(name("bad/name")))
            ]))
            .with_allow_auto_topic_creation(true),
        12,
    );
    assert_eq!(md.topics[0].error_code, INVALID_TOPIC_EXCEPTION);

    // ListOffsets for a partition and a topic that do not exist, beside a good lookup.
    let lo = c.send(
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![
                        ListOffsetsPartition::default()
                            .with_partition_index(7)
                            .with_timestamp(-1),
                        ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(-1),
                    ]),
                ListOffsetsTopic::default()
                    .with_name(name("missing-topic"))
                    .with_partitions(vec![ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(-2)]),
            ]),
        4,
    );
    assert_eq!(
        lo.topics[0].partitions[0].error_code,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        (
            lo.topics[0].partitions[1].error_code,
            lo.topics[0].partitions[1].offset
        ),
        (0, 4)
    );
    assert_eq!(
        lo.topics[1].partitions[0].error_code,
        UNKNOWN_TOPIC_OR_PARTITION
    );

    // A fetch past the end.
    let (err, hw, records) = fetch(&mut c, topic, 1000);
    assert_eq!(err, OFFSET_OUT_OF_RANGE);
    assert_eq!(hw, 4);
    assert!(records.is_empty());
    // A fetch at the end is fine and empty.
    let (err, _, records) = fetch(&mut c, topic, 4);
    assert_eq!(err, 0);
    assert!(records.is_empty());
    assert_healthy(&mut broker, topic);
}
