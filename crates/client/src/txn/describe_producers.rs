//! DescribeProducers v0 (KIP-664): the producers with state on some partitions, asked of the
//! partitions' leader.

use std::ops::RangeInclusive;

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::table::Table;
use crate::wire::RequestError;

pub const VERSIONS: RangeInclusive<i16> = 0..=0;

/// One producer's state on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    pub producer_id: i64,
    pub producer_epoch: i32,
    pub last_sequence: i32,
    /// Timestamp of the producer's last batch, ms since the epoch; -1 if unknown.
    pub last_timestamp_ms: i64,
    /// Epoch of the coordinator that wrote the producer's last marker; -1 if none.
    pub coordinator_epoch: i32,
    /// First offset of the producer's open transaction; -1 if none is open.
    pub txn_start_offset: i64,
}

/// One partition of the answer: its producers, or why it could not be described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionProducers {
    pub partition: i32,
    pub outcome: Result<Vec<ProducerState>, RequestError>,
}

pub fn request(topic: &str, partitions: &[i32]) -> DescribeProducersRequest {
    DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
        .with_partition_indexes(partitions.to_vec())])
}

/// The partitions of `topic` in a response (those of other topics are skipped).
pub fn from_response(response: DescribeProducersResponse, topic: &str) -> Vec<PartitionProducers> {
    let mut partitions = Vec::new();
    for t in response
        .topics
        .into_iter()
        .filter(|t| t.name.as_str() == topic)
    {
        for p in t.partitions {
            let outcome = if p.error_code == 0 {
                Ok(p.active_producers
                    .into_iter()
                    .map(|state| ProducerState {
                        producer_id: state.producer_id.0,
                        producer_epoch: state.producer_epoch,
                        last_sequence: state.last_sequence,
                        last_timestamp_ms: state.last_timestamp,
                        coordinator_epoch: state.coordinator_epoch,
                        txn_start_offset: state.current_txn_start_offset,
                    })
                    .collect())
            } else {
                Err(RequestError::broker(
                    p.error_code,
                    &format!("partition {}", p.partition_index),
                    p.error_message.as_deref(),
                ))
            };
            partitions.push(PartitionProducers {
                partition: p.partition_index,
                outcome,
            });
        }
    }
    partitions
}

/// The `producers describe` table, one row per (partition, producer), in the order given.
pub fn render(rows: &[(i32, ProducerState)]) -> String {
    let mut table = Table::new(&[
        "PARTITION",
        "PRODUCER-ID",
        "EPOCH",
        "LAST-SEQUENCE",
        "LAST-TIMESTAMP",
        "COORDINATOR-EPOCH",
        "TXN-START-OFFSET",
    ]);
    for (partition, p) in rows {
        table.push(vec![
            partition.to_string(),
            p.producer_id.to_string(),
            p.producer_epoch.to_string(),
            p.last_sequence.to_string(),
            or_dash(p.last_timestamp_ms),
            or_dash(i64::from(p.coordinator_epoch)),
            or_dash(p.txn_start_offset),
        ]);
    }
    table.render()
}

/// A value whose -1 means "none".
fn or_dash(value: i64) -> String {
    if value < 0 {
        "-".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_producers_response::{
        PartitionResponse, ProducerState as WireProducerState, TopicResponse,
    };
    use kafka_protocol::messages::{DescribeProducersResponse, ProducerId};
    use kafka_protocol::protocol::Encodable;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, 0).expect("encodes");
        buf
    }

    fn state(producer_id: i64, txn_start_offset: i64) -> ProducerState {
        ProducerState {
            producer_id,
            producer_epoch: 3,
            last_sequence: 41,
            last_timestamp_ms: 1_764_496_800_250,
            coordinator_epoch: if txn_start_offset < 0 { 0 } else { -1 },
            txn_start_offset,
        }
    }

    fn wire_state(p: &ProducerState) -> WireProducerState {
        WireProducerState::default()
            .with_producer_id(ProducerId(p.producer_id))
            .with_producer_epoch(p.producer_epoch)
            .with_last_sequence(p.last_sequence)
            .with_last_timestamp(p.last_timestamp_ms)
            .with_coordinator_epoch(p.coordinator_epoch)
            .with_current_txn_start_offset(p.txn_start_offset)
    }

    fn response() -> DescribeProducersResponse {
        DescribeProducersResponse::default().with_topics(vec![
            TopicResponse::default()
                .with_name(TopicName(s("other")))
                .with_partitions(vec![PartitionResponse::default().with_partition_index(9)]),
            TopicResponse::default()
                .with_name(TopicName(s("orders")))
                .with_partitions(vec![
                    PartitionResponse::default()
                        .with_partition_index(0)
                        .with_active_producers(vec![
                            wire_state(&state(1000, -1)),
                            wire_state(&state(1001, 17)),
                        ]),
                    PartitionResponse::default()
                        .with_partition_index(1)
                        .with_error_code(6)
                        .with_error_message(Some(s("leader moved"))),
                ]),
        ])
    }

    #[test]
    fn the_request_names_the_topic_and_partitions() {
        let mut expected = vec![2, 7];
        expected.extend_from_slice(b"orders");
        expected.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]);
        assert_eq!(encode(&request("orders", &[0, 2])), expected);
    }

    #[test]
    fn producers_and_partition_errors_are_read_per_partition() {
        let partitions = from_response(response(), "orders");
        assert_eq!(partitions.len(), 2);
        assert_eq!(partitions[0].partition, 0);
        assert_eq!(
            partitions[0].outcome,
            Ok(vec![state(1000, -1), state(1001, 17)])
        );
        assert_eq!(partitions[1].partition, 1);
        let err = partitions[1].outcome.clone().expect_err("failed");
        assert_eq!(
            err.to_string(),
            "partition 1: Broker: Not leader for partition (NOT_LEADER_OR_FOLLOWER): leader moved"
        );
    }

    #[test]
    fn the_table_shows_none_as_a_dash() {
        let rows = vec![(0, state(1000, -1)), (0, state(1001, 17))];
        assert_eq!(
            render(&rows),
            "PARTITION  PRODUCER-ID  EPOCH  LAST-SEQUENCE  LAST-TIMESTAMP  COORDINATOR-EPOCH  \
             TXN-START-OFFSET\n\
             0          1000         3      41             1764496800250   0                  -\n\
             0          1001         3      41             1764496800250   -                  \
             17\n"
        );
    }
}
