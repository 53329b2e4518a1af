//! Idempotent and transactional produce against a real broker process, with raw requests: the
//! partition's producer state answers duplicates with their original offsets and refuses
//! gaps, old epochs and unknown producers with Kafka's codes, across a graceful restart and a
//! kill -9; read_committed fetches stop at the last stable offset and carry the aborted
//! transactions.

mod common;

use bytes::{Bytes, BytesMut};
use common::{batch_offsets, Client, TestBroker};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const NONE: i16 = 0;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const UNKNOWN_PRODUCER_ID: i16 = 59;
const TOPIC: &str = "idem";

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn create_topic(c: &mut Client, topic: &str) {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(1)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000);
    assert_eq!(c.send(&req, 7).topics[0].error_code, NONE);
}

/// A fresh idempotent producer id and epoch.
fn init_producer_id(c: &mut Client) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(-1)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let resp = c.send(&req, 4);
    assert_eq!(resp.error_code, NONE);
    (resp.producer_id.0, resp.producer_epoch)
}

/// A transactional producer: InitProducerId with a transactional id (transaction coordinator).
fn init_transactional_producer(c: &mut Client, transactional_id: &str) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_string(
            transactional_id.to_string(),
        ))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let resp = c.send(&req, 4);
    assert_eq!(resp.error_code, NONE);
    (resp.producer_id.0, resp.producer_epoch)
}

/// AddPartitionsToTxn (v3) of partition 0 of TOPIC: the error code.
fn add_partition_to_txn(c: &mut Client, transactional_id: &str, pid: i64, epoch: i16) -> i16 {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(
            transactional_id.to_string(),
        )))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(name(TOPIC))
            .with_partitions(vec![0])]);
    let resp = c.send(&req, 3);
    resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
}

/// One batch of `n` records from producer `pid`/`epoch` with sequences `seq..seq+n`.
fn pbatch(pid: i64, epoch: i16, seq: i32, n: usize, transactional: bool) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional,
            control: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq + i as i32,
            delete_horizon: false,
            timestamp: now,
            key: None,
            value: Some(Bytes::from(format!("{pid}/{epoch}/{}", seq + i as i32))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::Lz4,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// (error code, base offset) of an acks=all produce of `records`.
fn produce(c: &mut Client, records: Bytes) -> (i16, i64) {
    produce_as(c, None, records)
}

/// A produce request carrying `transactional_id`, as a transactional producer sends it.
fn produce_as(c: &mut Client, transactional_id: Option<&str>, records: Bytes) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_transactional_id(
            transactional_id.map(|t| TransactionalId(StrBytes::from_string(t.to_string()))),
        )
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(TOPIC))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let resp = c.send(&req, 9);
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

struct Fetched {
    high_watermark: i64,
    last_stable_offset: i64,
    batches: Vec<i64>,
    aborted: Option<Vec<(i64, i64)>>,
}

fn fetch(c: &mut Client, offset: i64, isolation_level: i8, max_wait_ms: i32) -> Fetched {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(10 << 20)
        .with_isolation_level(isolation_level)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(TOPIC))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)
                .with_current_leader_epoch(-1)
                .with_log_start_offset(-1)])]);
    let resp = c.send(&req, 12);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, NONE);
    Fetched {
        high_watermark: p.high_watermark,
        last_stable_offset: p.last_stable_offset,
        batches: batch_offsets(p.records.clone().unwrap_or_default()),
        aborted: p.aborted_transactions.as_ref().map(|list| {
            list.iter()
                .map(|t| (t.producer_id.0, t.first_offset))
                .collect()
        }),
    }
}

fn latest_offset(c: &mut Client, isolation_level: i8) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation_level)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(TOPIC))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)
                .with_current_leader_epoch(-1)])]);
    let resp = c.send(&req, 7);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, NONE);
    p.offset
}

/// (producer id, epoch, last sequence, current transaction start) per active producer.
fn describe_producers(c: &mut Client) -> Vec<(i64, i32, i32, i64)> {
    let req = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(name(TOPIC))
        .with_partition_indexes(vec![0])]);
    let resp = c.send(&req, 0);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, NONE);
    p.active_producers
        .iter()
        .map(|s| {
            (
                s.producer_id.0,
                s.producer_epoch,
                s.last_sequence,
                s.current_txn_start_offset,
            )
        })
        .collect()
}

fn write_marker(c: &mut Client, pid: i64, epoch: i16, commit: bool) {
    let req = WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_transaction_result(commit)
        .with_coordinator_epoch(0)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(name(TOPIC))
            .with_partition_indexes(vec![0])])]);
    let resp = c.send(&req, 1);
    assert_eq!(resp.markers[0].topics[0].partitions[0].error_code, NONE);
}

#[test]
fn duplicates_gaps_epochs_and_unknown_producers_across_restart_and_kill() {
    let data = tempfile::tempdir().expect("temp dir");
    let log_dirs = data.path().display().to_string();
    let settings = [("log.dirs", log_dirs.as_str())];

    let broker = TestBroker::start(&settings);
    let mut c = broker.connect();
    create_topic(&mut c, TOPIC);
    let (pid, epoch) = init_producer_id(&mut c);
    assert!(pid >= 0);

    // A batch sent twice: same base offset, stored once.
    let first = pbatch(pid, epoch, 0, 3, false);
    assert_eq!(produce(&mut c, first.clone()), (NONE, 0));
    assert_eq!(produce(&mut c, first.clone()), (NONE, 0));
    let second = pbatch(pid, epoch, 3, 2, false);
    assert_eq!(produce(&mut c, second.clone()), (NONE, 3));
    assert_eq!(produce(&mut c, first), (NONE, 0));
    assert_eq!(produce(&mut c, second.clone()), (NONE, 3));
    let f = fetch(&mut c, 0, 0, 0);
    assert_eq!((f.high_watermark, f.batches), (5, vec![0, 3]));

    // A gap, an unknown producer, then an old epoch once the producer moved to a new one.
    assert_eq!(
        produce(&mut c, pbatch(pid, epoch, 6, 1, false)).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(
        produce(&mut c, pbatch(pid + 1_000_000, 0, 5, 1, false)).0,
        UNKNOWN_PRODUCER_ID
    );
    let bumped = pbatch(pid, epoch + 1, 0, 2, false);
    assert_eq!(produce(&mut c, bumped.clone()), (NONE, 5));
    assert_eq!(
        produce(&mut c, pbatch(pid, epoch, 5, 1, false)).0,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        describe_producers(&mut c),
        vec![(pid, i32::from(epoch + 1), 1, -1)]
    );
    assert_eq!(fetch(&mut c, 0, 0, 0).high_watermark, 7);

    // Graceful restart: the retried batch is still a duplicate.
    drop(c);
    drop(broker);
    let mut broker = TestBroker::start(&settings);
    let mut c = broker.connect();
    assert_eq!(produce(&mut c, bumped.clone()), (NONE, 5));
    assert_eq!(fetch(&mut c, 0, 0, 0).high_watermark, 7);
    let third = pbatch(pid, epoch + 1, 2, 4, false);
    assert_eq!(produce(&mut c, third.clone()), (NONE, 7));

    // kill -9: no snapshot at close, the log is replayed.
    broker.kill();
    drop(c);
    let broker = TestBroker::start(&settings);
    let mut c = broker.connect();
    assert_eq!(produce(&mut c, third), (NONE, 7));
    assert_eq!(produce(&mut c, bumped), (NONE, 5));
    assert_eq!(
        produce(&mut c, pbatch(pid, epoch + 1, 7, 1, false)).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(
        produce(&mut c, pbatch(pid, epoch + 1, 6, 1, false)),
        (NONE, 11)
    );
    let f = fetch(&mut c, 0, 0, 0);
    assert_eq!((f.high_watermark, f.batches), (12, vec![0, 3, 5, 7, 11]));
}

#[test]
fn read_committed_stops_at_the_last_stable_offset() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, TOPIC);
    let (plain, _) = init_producer_id(&mut c);
    let (txn, epoch) = init_transactional_producer(&mut c, "idem-txn");

    assert_eq!(produce(&mut c, pbatch(plain, 0, 0, 2, false)).1, 0);
    // KIP-890: a transactional batch for a partition not added to the transaction is refused.
    assert_eq!(
        produce_as(&mut c, Some("idem-txn"), pbatch(txn, epoch, 0, 3, true)).0,
        INVALID_TXN_STATE
    );
    assert_eq!(add_partition_to_txn(&mut c, "idem-txn", txn, epoch), NONE);
    // A transaction opens at 2; more plain data follows it.
    assert_eq!(
        produce_as(&mut c, Some("idem-txn"), pbatch(txn, epoch, 0, 3, true)),
        (NONE, 2)
    );
    assert_eq!(produce(&mut c, pbatch(plain, 0, 2, 1, false)), (NONE, 5));
    assert_eq!(
        produce_as(&mut c, Some("idem-txn"), pbatch(txn, epoch, 3, 1, false)).0,
        INVALID_TXN_STATE
    );

    let uncommitted = fetch(&mut c, 0, 0, 0);
    assert_eq!(
        (uncommitted.high_watermark, uncommitted.last_stable_offset),
        (6, 2)
    );
    assert_eq!(uncommitted.batches, vec![0, 2, 5]);
    assert_eq!(uncommitted.aborted, None);
    let committed = fetch(&mut c, 0, 1, 0);
    assert_eq!(committed.last_stable_offset, 2);
    assert_eq!(committed.batches, vec![0]);
    assert_eq!(committed.aborted, Some(vec![]));
    assert_eq!(latest_offset(&mut c, 0), 6);
    assert_eq!(latest_offset(&mut c, 1), 2);
    assert_eq!(describe_producers(&mut c)[1], (txn, i32::from(epoch), 2, 2));

    // A read_committed long-poll at the LSO wakes when the abort marker moves it. It may wait
    // 30 s; the client's read timeout is 20 s, so only a wake-up answers it in time (as in
    // fetch.rs, the pause only makes it likely that the fetch is already waiting).
    let addr = broker.addr();
    let waiter = std::thread::spawn(move || fetch(&mut Client::connect(&addr), 2, 1, 30_000));
    std::thread::sleep(std::time::Duration::from_millis(200));
    write_marker(&mut c, txn, epoch, false);
    let woken = waiter.join().expect("fetch thread");
    assert_eq!(woken.last_stable_offset, 7);
    assert_eq!(woken.batches, vec![2, 5, 6]);
    assert_eq!(woken.aborted, Some(vec![(txn, 2)]));

    // Aborted data stays visible to read_uncommitted, without a list.
    let all = fetch(&mut c, 0, 0, 0);
    assert_eq!(all.batches, vec![0, 2, 5, 6]);
    assert_eq!(all.aborted, None);
    // Ranges that do not reach the aborted transaction do not list it.
    assert_eq!(fetch(&mut c, 7, 1, 0).batches, Vec::<i64>::new());
    assert_eq!(latest_offset(&mut c, 1), 7);

    // A committed transaction: its data becomes readable, with no aborted entry for it.
    assert_eq!(
        produce_as(&mut c, Some("idem-txn"), pbatch(txn, epoch, 3, 2, true)),
        (NONE, 7)
    );
    // A transactional batch in a request without a transactional id is refused.
    assert_eq!(
        produce(&mut c, pbatch(txn, epoch, 5, 1, true)).0,
        INVALID_TXN_STATE
    );
    assert_eq!(fetch(&mut c, 7, 1, 0).last_stable_offset, 7);
    write_marker(&mut c, txn, epoch, true);
    let after = fetch(&mut c, 7, 1, 0);
    assert_eq!((after.last_stable_offset, after.high_watermark), (10, 10));
    assert_eq!(after.batches, vec![7, 9]);
    assert_eq!(after.aborted, Some(vec![]));
}
