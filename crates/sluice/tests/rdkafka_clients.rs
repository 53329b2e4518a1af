//! The `rdkafka` crate (librdkafka) against a real broker: every codec, keys, headers, null
//! keys and values, and 1 MiB records, produced and consumed back with assign/seek.

mod common;

use std::time::Duration;

use common::TestBroker;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const MIB: usize = 1 << 20;

fn create_topic(broker: &TestBroker, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .create()
        .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let new =
        NewTopic::new(topic, 2, TopicReplication::Fixed(1)).set("max.message.bytes", "3145728");
    let results = rt
        .block_on(admin.create_topics(
            [&new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create_topics");
    for r in results {
        r.expect("topic created");
    }
}

/// Offset, key, value and the `hk` header of a consumed record.
type Received = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>);

struct Sent {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    header: Vec<u8>,
}

fn round_trip(broker: &TestBroker, codec: &str) {
    let topic = format!("rdkafka-{codec}");
    create_topic(broker, &topic);
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .set("compression.codec", codec)
        .set("message.max.bytes", "3000000")
        .set("acks", "all")
        .create()
        .expect("producer");
    let mut sent = Vec::new();
    for i in 0..200usize {
        let key = if i % 7 == 0 {
            None
        } else {
            Some(format!("key-{i}").into_bytes())
        };
        let value = match i {
            _ if i % 11 == 0 => None,
            50 | 150 => Some(vec![(i % 251) as u8; MIB]),
            _ => Some(format!("value-{i}-{codec}").repeat(i % 5 + 1).into_bytes()),
        };
        let header = format!("h{i}").into_bytes();
        let headers = OwnedHeaders::new().insert(Header {
            key: "hk",
            value: Some(&header),
        });
        let mut record: BaseRecord<'_, Vec<u8>, Vec<u8>> = BaseRecord::to(&topic)
            .partition((i % 2) as i32)
            .headers(headers);
        if let Some(k) = &key {
            record = record.key(k);
        }
        if let Some(v) = &value {
            record = record.payload(v);
        }
        producer.send(record).map_err(|(e, _)| e).expect("enqueue");
        sent.push(Sent { key, value, header });
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("all records delivered");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .set("group.id", "unused-assign-only")
        .set("enable.auto.commit", "false")
        .set("check.crcs", "true")
        .set("fetch.message.max.bytes", "3000000")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning)
        .expect("tpl");
    tpl.add_partition_offset(&topic, 1, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut got: Vec<Vec<Received>> = vec![Vec::new(), Vec::new()];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while got[0].len() + got[1].len() < sent.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out consuming {codec}"
        );
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg.expect("consume without error");
        let header = msg
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == "hk")
                    .and_then(|h| h.value.map(<[u8]>::to_vec))
            })
            .expect("header present");
        got[msg.partition() as usize].push((
            msg.offset(),
            msg.key().map(<[u8]>::to_vec),
            msg.payload().map(<[u8]>::to_vec),
            header,
        ));
    }
    for (partition, received) in got.iter().enumerate() {
        let expected: Vec<&Sent> = sent.iter().skip(partition).step_by(2).collect();
        assert_eq!(
            received.len(),
            expected.len(),
            "{codec} partition {partition}"
        );
        for (i, ((offset, key, value, header), want)) in received.iter().zip(expected).enumerate() {
            assert_eq!(*offset, i as i64, "{codec}: offsets are contiguous");
            assert_eq!(key, &want.key, "{codec}: key at {i}");
            assert_eq!(
                value.as_ref().map(Vec::len),
                want.value.as_ref().map(Vec::len),
                "{codec}: value length at {i}"
            );
            assert_eq!(value, &want.value, "{codec}: value at {i}");
            assert_eq!(header, &want.header, "{codec}: header at {i}");
        }
    }
}

#[test]
fn every_codec_round_trips_through_librdkafka() {
    let broker = TestBroker::start(&[("message.max.bytes", "3145728")]);
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        round_trip(&broker, codec);
    }
}
