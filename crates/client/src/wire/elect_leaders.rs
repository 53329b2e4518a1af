//! ElectLeaders v0-v2 (KIP-183; v1 adds the election type of KIP-460, v2 is flexible): elect
//! the preferred replica as leader, or (unclean) any live replica of a leaderless partition.
//!
//! Asked for every partition (null), a broker leaves out the partitions whose election was not
//! needed.

use std::ops::RangeInclusive;

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::RequestError;

pub const VERSIONS: RangeInclusive<i16> = 0..=2;
/// The first version with an election type; v0 elects preferred leaders only.
pub const ELECTION_TYPE_VERSION: i16 = 1;

/// Kafka's error code for a partition that already has the leader the election would give it.
pub const ELECTION_NOT_NEEDED: i16 = 84;

/// Kafka's `ElectionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

impl ElectionType {
    fn wire(self) -> i8 {
        match self {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        }
    }
}

/// The outcome of one partition's election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionElection {
    pub topic: String,
    pub partition: i32,
    /// 0 when a new leader was elected.
    pub error_code: i16,
    pub error_message: Option<String>,
}

/// ElectLeaders for `topics` (`(topic, partitions)`; `None` = every partition of every topic).
/// `version` must be at least [`ELECTION_TYPE_VERSION`] for an unclean election.
pub fn request(
    version: i16,
    election: ElectionType,
    topics: Option<&[(String, Vec<i32>)]>,
    timeout_ms: i32,
) -> ElectLeadersRequest {
    let topic_partitions = topics.map(|topics| {
        topics
            .iter()
            .map(|(topic, partitions)| {
                TopicPartitions::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partitions(partitions.clone())
            })
            .collect()
    });
    // v0 has no election type, and the encoder insists on its default there.
    let election_type = if version >= ELECTION_TYPE_VERSION {
        election.wire()
    } else {
        0
    };
    ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_topic_partitions(topic_partitions)
        .with_timeout_ms(timeout_ms)
}

pub fn from_response(
    response: ElectLeadersResponse,
) -> Result<Vec<PartitionElection>, RequestError> {
    if response.error_code != 0 {
        // The partitions carry the same error; the request as a whole failed.
        return Err(RequestError::broker(
            response.error_code,
            "ElectLeaders",
            None,
        ));
    }
    let mut elections = Vec::new();
    for topic in response.replica_election_results {
        for p in topic.partition_result {
            elections.push(PartitionElection {
                topic: topic.topic.0.to_string(),
                partition: p.partition_id,
                error_code: p.error_code,
                error_message: p.error_message.map(|m| m.to_string()),
            });
        }
    }
    Ok(elections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::elect_leaders_response::{
        PartitionResult, ReplicaElectionResult,
    };
    use kafka_protocol::protocol::Encodable;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, version).expect("encodes");
        buf
    }

    fn answer() -> ElectLeadersResponse {
        ElectLeadersResponse::default().with_replica_election_results(vec![
            ReplicaElectionResult::default()
                .with_topic(TopicName(s("orders")))
                .with_partition_result(vec![
                    PartitionResult::default()
                        .with_partition_id(0)
                        .with_error_message(None),
                    PartitionResult::default()
                        .with_partition_id(1)
                        .with_error_code(80)
                        .with_error_message(Some(s("preferred replica 2 is not in the ISR"))),
                ]),
            ReplicaElectionResult::default()
                .with_topic(TopicName(s("audit")))
                .with_partition_result(vec![PartitionResult::default()
                    .with_partition_id(3)
                    .with_error_code(ELECTION_NOT_NEEDED)
                    .with_error_message(None)]),
        ])
    }

    #[test]
    fn the_request_names_the_type_and_partitions() {
        let topics = vec![("orders".to_string(), vec![0, 2])];
        // v2: type 1, one topic "orders" with partitions 0 and 2, timeout, no tagged fields.
        let mut expected = vec![1, 2, 7];
        expected.extend_from_slice(b"orders");
        expected.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
        expected.extend_from_slice(&30_000i32.to_be_bytes());
        expected.push(0);
        assert_eq!(
            encode(&request(2, ElectionType::Unclean, Some(&topics), 30_000), 2),
            expected
        );
        // Every partition: a null array. v0 has no type byte.
        assert_eq!(
            encode(&request(0, ElectionType::Preferred, None, 5), 0),
            vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5]
        );
        assert_eq!(
            encode(&request(1, ElectionType::Preferred, None, 5), 1),
            vec![0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5]
        );
    }

    #[test]
    fn answers_are_read_per_partition() {
        let elections = from_response(answer()).expect("valid");
        assert_eq!(
            elections,
            vec![
                PartitionElection {
                    topic: "orders".into(),
                    partition: 0,
                    error_code: 0,
                    error_message: None,
                },
                PartitionElection {
                    topic: "orders".into(),
                    partition: 1,
                    error_code: 80,
                    error_message: Some("preferred replica 2 is not in the ISR".into()),
                },
                PartitionElection {
                    topic: "audit".into(),
                    partition: 3,
                    error_code: ELECTION_NOT_NEEDED,
                    error_message: None,
                },
            ]
        );
    }

    #[test]
    fn a_request_level_error_is_the_error() {
        let failed = answer().with_error_code(42);
        let err = from_response(failed).expect_err("INVALID_REQUEST");
        assert!(
            matches!(&err, RequestError::Broker { code: 42, text }
                if text.starts_with("ElectLeaders: ")),
            "{err:?}"
        );
    }
}
