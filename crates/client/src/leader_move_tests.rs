//! `consume` and `produce` when a partition's leader moves: two scripted brokers on loopback.
//! Broker 2 leads the partition, but Metadata names broker 1 until broker 1 has refused a
//! request with NOT_LEADER_OR_FOLLOWER (as a leader that just lost the partition does). The
//! commands must ask Metadata again and go on with the new leader.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FetchResponse, ListOffsetsResponse, MetadataResponse,
    ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::consume::{consume_into, ConsumeArgs};
use crate::produce::{produce_lines, ProduceArgs};
use crate::test_broker::parse;

/// What both fake brokers share: their ports, whether the leader has moved to broker 2, and
/// how many requests broker 1 refused.
struct Script {
    ports: [u16; 2],
    moved: AtomicBool,
    refused: AtomicUsize,
    /// Records broker 2 took (Produce), as values.
    produced: std::sync::Mutex<Vec<String>>,
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn one_record_batch() -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        sequence: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        timestamp: 1_000,
        key: None,
        value: Some(Bytes::from_static(b"from the new leader")),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encodes");
    buf.freeze()
}

/// The answer of broker `id` (1 or 2) to one request, as (response header version, body).
fn answer(script: &Script, id: i32, header: &RequestHeader, body: &mut Bytes) -> BytesMut {
    let version = header.request_api_version;
    let mut out = BytesMut::new();
    let leader = if script.moved.load(Ordering::SeqCst) {
        2
    } else {
        1
    };
    // Metadata names `leader`; the real leader is broker 2.
    let not_leader = id != 2;
    let encoded = match ApiKey::try_from(header.request_api_key) {
        Ok(ApiKey::ApiVersions) => versions().encode(&mut out, version),
        Ok(ApiKey::Metadata) => metadata(script, leader).encode(&mut out, version),
        Ok(ApiKey::ListOffsets) => ListOffsetsResponse::default()
            .with_topics(vec![ListOffsetsTopicResponse::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![ListOffsetsPartitionResponse::default()
                    .with_offset(0)
                    .with_error_code(if not_leader { 6 } else { 0 })])])
            .encode(&mut out, version),
        Ok(ApiKey::Fetch) => {
            if not_leader {
                script.refused.fetch_add(1, Ordering::SeqCst);
                // From now on Metadata names broker 2.
                script.moved.store(true, Ordering::SeqCst);
            }
            let partition = if not_leader {
                PartitionData::default().with_error_code(6)
            } else {
                PartitionData::default()
                    .with_high_watermark(1)
                    .with_last_stable_offset(1)
                    .with_records(Some(one_record_batch()))
            };
            FetchResponse::default()
                .with_responses(vec![FetchableTopicResponse::default()
                    .with_topic(TopicName(s("t")))
                    .with_partitions(vec![partition])])
                .encode(&mut out, version)
        }
        Ok(ApiKey::Produce) => {
            let request = ProduceRequest::decode(body, version).expect("produce request");
            if not_leader {
                script.refused.fetch_add(1, Ordering::SeqCst);
                script.moved.store(true, Ordering::SeqCst);
            } else {
                let mut records = request.topic_data[0].partition_data[0]
                    .records
                    .clone()
                    .expect("records");
                for set in kafka_protocol::records::RecordBatchDecoder::decode_all(&mut records)
                    .expect("batch")
                {
                    for record in set.records {
                        let value = record.value.expect("value");
                        script
                            .produced
                            .lock()
                            .expect("not poisoned")
                            .push(String::from_utf8_lossy(&value).into_owned());
                    }
                }
            }
            ProduceResponse::default()
                .with_responses(vec![TopicProduceResponse::default()
                    .with_name(TopicName(s("t")))
                    .with_partition_responses(vec![PartitionProduceResponse::default()
                        .with_error_code(if not_leader { 6 } else { 0 })])])
                .encode(&mut out, version)
        }
        other => panic!("the fake broker does not expect {other:?}"),
    };
    encoded.expect("answer encodes");
    out
}

fn versions() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        [(0, 3, 9), (1, 4, 12), (2, 1, 7), (3, 1, 12), (18, 0, 3)]
            .iter()
            .map(|&(key, min, max)| {
                ApiVersion::default()
                    .with_api_key(key)
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect(),
    )
}

fn metadata(script: &Script, leader: i32) -> MetadataResponse {
    MetadataResponse::default()
        .with_brokers(
            [1, 2]
                .iter()
                .map(|&id| {
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(id))
                        .with_host(s("127.0.0.1"))
                        .with_port(i32::from(script.ports[id as usize - 1]))
                })
                .collect(),
        )
        .with_controller_id(BrokerId(1))
        .with_topics(vec![MetadataResponseTopic::default()
            .with_name(Some(TopicName(s("t"))))
            .with_partitions(vec![MetadataResponsePartition::default()
                .with_partition_index(0)
                .with_leader_id(BrokerId(leader))
                .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
                .with_isr_nodes(vec![BrokerId(1), BrokerId(2)])])])
}

async fn serve_connection(script: Arc<Script>, id: i32, mut socket: TcpStream) {
    loop {
        let Ok(size) = socket.read_i32().await else {
            return;
        };
        let mut frame = vec![0u8; usize::try_from(size).expect("size")];
        if socket.read_exact(&mut frame).await.is_err() {
            return;
        }
        let mut body = Bytes::from(frame);
        let key = ApiKey::try_from(body.clone().get_i16()).expect("api key");
        let version = body.clone().slice(2..).get_i16();
        let header =
            RequestHeader::decode(&mut body, key.request_header_version(version)).expect("header");
        let answered = answer(&script, id, &header, &mut body);
        let mut out = BytesMut::new();
        out.put_i32(0);
        ResponseHeader::default()
            .with_correlation_id(header.correlation_id)
            .encode(&mut out, key.response_header_version(version))
            .expect("header encodes");
        out.extend_from_slice(&answered);
        let len = (out.len() - 4) as i32;
        out[..4].copy_from_slice(&len.to_be_bytes());
        if socket.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Two fake brokers (see the module doc).
async fn fake_cluster() -> (Arc<Script>, Vec<tokio::task::JoinHandle<()>>) {
    let first = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let second = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let ports = [
        first.local_addr().expect("address").port(),
        second.local_addr().expect("address").port(),
    ];
    let script = Arc::new(Script {
        ports,
        moved: AtomicBool::new(false),
        refused: AtomicUsize::new(0),
        produced: std::sync::Mutex::new(Vec::new()),
    });
    let mut tasks = Vec::new();
    for (id, listener) in [(1, first), (2, second)] {
        let script = Arc::clone(&script);
        tasks.push(tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve_connection(Arc::clone(&script), id, socket));
            }
        }));
    }
    (script, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_follows_the_leader_to_another_broker() {
    let (script, tasks) = fake_cluster().await;
    let bootstrap = format!("127.0.0.1:{}", script.ports[0]);
    let args: ConsumeArgs = parse(&["-b", &bootstrap, "t", "--offset", "0", "-n", "1"]);
    let mut out = Vec::new();
    let consumed = consume_into(&args, &mut out).await.expect("consumed");
    assert_eq!(consumed, 1);
    assert_eq!(out, b"from the new leader\n");
    assert!(script.refused.load(Ordering::SeqCst) >= 1);
    for task in tasks {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_follows_the_leader_to_another_broker() {
    let (script, tasks) = fake_cluster().await;
    let bootstrap = format!("127.0.0.1:{}", script.ports[0]);
    let args: ProduceArgs = parse(&["-b", &bootstrap, "t", "--acks", "1"]);
    let sent = produce_lines(&args, Box::new(&b"one\ntwo\n"[..]))
        .await
        .expect("delivered");
    assert_eq!(sent, 2);
    assert!(script.refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        *script.produced.lock().expect("not poisoned"),
        vec!["one".to_string(), "two".to_string()]
    );
    for task in tasks {
        task.abort();
    }
}
