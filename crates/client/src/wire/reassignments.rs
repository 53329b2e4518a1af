//! AlterPartitionReassignments v0-v1 and ListPartitionReassignments v0 (KIP-455; v1 of Alter
//! adds KIP-860's `allow_replication_factor_change`). Every version is flexible: STRING and
//! ARRAY are their COMPACT_ forms, and every struct ends with TAGGED_FIELDS.

use std::ops::RangeInclusive;

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::RequestError;

pub const ALTER_VERSIONS: RangeInclusive<i16> = 0..=1;
pub const LIST_VERSIONS: RangeInclusive<i16> = 0..=0;

/// One partition to move: `replicas` is the target (the first is the preferred leader), or
/// `None` to cancel its ongoing reassignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub topic: String,
    pub partition: i32,
    pub replicas: Option<Vec<i32>>,
}

/// The broker's answer for one partition of an AlterPartitionReassignments request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveResult {
    pub topic: String,
    pub partition: i32,
    /// 0 when the reassignment (or its cancellation) was accepted.
    pub error_code: i16,
    pub error_message: Option<String>,
}

/// A reassignment in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ongoing {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

/// AlterPartitionReassignments for `moves`, in the order given. In v1 the replication factor
/// may change only with `allow_rf_change`; v0 always allows it.
pub fn alter_request(
    version: i16,
    moves: &[Move],
    allow_rf_change: bool,
    timeout_ms: i32,
) -> AlterPartitionReassignmentsRequest {
    let mut topics: Vec<ReassignableTopic> = Vec::new();
    for m in moves {
        let partition = ReassignablePartition::default()
            .with_partition_index(m.partition)
            .with_replicas(
                m.replicas
                    .as_ref()
                    .map(|r| r.iter().map(|b| BrokerId(*b)).collect()),
            );
        match topics.iter_mut().find(|t| t.name.as_str() == m.topic) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(
                ReassignableTopic::default()
                    .with_name(TopicName(StrBytes::from_string(m.topic.clone())))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    let request = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(topics);
    if version >= 1 {
        request.with_allow_replication_factor_change(allow_rf_change)
    } else {
        request
    }
}

pub fn alter_results(
    response: AlterPartitionReassignmentsResponse,
) -> Result<Vec<MoveResult>, RequestError> {
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            "AlterPartitionReassignments",
            response.error_message.as_deref(),
        ));
    }
    let mut results = Vec::new();
    for topic in response.responses {
        for p in topic.partitions {
            results.push(MoveResult {
                topic: topic.name.0.to_string(),
                partition: p.partition_index,
                error_code: p.error_code,
                error_message: p.error_message.map(|m| m.to_string()),
            });
        }
    }
    Ok(results)
}

/// ListPartitionReassignments for `topics` (`(topic, partitions)`), or every partition of
/// every topic (`None`).
pub fn list_request(
    topics: Option<&[(String, Vec<i32>)]>,
    timeout_ms: i32,
) -> ListPartitionReassignmentsRequest {
    ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(topics.map(|topics| {
            topics
                .iter()
                .map(|(name, partitions)| {
                    ListPartitionReassignmentsTopics::default()
                        .with_name(TopicName(StrBytes::from_string(name.clone())))
                        .with_partition_indexes(partitions.clone())
                })
                .collect()
        }))
}

pub fn ongoing(response: ListPartitionReassignmentsResponse) -> Result<Vec<Ongoing>, RequestError> {
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            "ListPartitionReassignments",
            response.error_message.as_deref(),
        ));
    }
    let ids = |v: Vec<BrokerId>| v.into_iter().map(|id| id.0).collect();
    let mut ongoing = Vec::new();
    for topic in response.topics {
        for p in topic.partitions {
            ongoing.push(Ongoing {
                topic: topic.name.0.to_string(),
                partition: p.partition_index,
                replicas: ids(p.replicas),
                adding: ids(p.adding_replicas),
                removing: ids(p.removing_replicas),
            });
        }
    }
    Ok(ongoing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::alter_partition_reassignments_response::{
        ReassignablePartitionResponse, ReassignableTopicResponse,
    };
    use kafka_protocol::messages::list_partition_reassignments_response::{
        OngoingPartitionReassignment, OngoingTopicReassignment,
    };
    use kafka_protocol::messages::{
        AlterPartitionReassignmentsResponse, ListPartitionReassignmentsResponse,
    };
    use kafka_protocol::protocol::{Decodable, Encodable};

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, version).expect("encodes");
        buf
    }

    fn ids(v: &[i32]) -> Vec<BrokerId> {
        v.iter().map(|b| BrokerId(*b)).collect()
    }

    #[test]
    fn alter_requests_group_partitions_by_topic_and_cancel_with_null() {
        let moves = vec![
            Move {
                topic: "a".into(),
                partition: 0,
                replicas: Some(vec![2, 3, 4]),
            },
            Move {
                topic: "b".into(),
                partition: 1,
                replicas: None,
            },
            Move {
                topic: "a".into(),
                partition: 2,
                replicas: Some(vec![4]),
            },
        ];
        for version in [0, 1] {
            let bytes = encode(&alter_request(version, &moves, false, 30_000), version);
            let back =
                AlterPartitionReassignmentsRequest::decode(&mut bytes::Bytes::from(bytes), version)
                    .expect("decodes");
            assert_eq!(back.timeout_ms, 30_000);
            assert_eq!(back.allow_replication_factor_change, version == 0);
            let names: Vec<&str> = back.topics.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(names, ["a", "b"]);
            assert_eq!(back.topics[0].partitions.len(), 2);
            assert_eq!(back.topics[0].partitions[1].replicas, Some(ids(&[4])));
            assert_eq!(back.topics[1].partitions[0].replicas, None);
        }
    }

    #[test]
    fn alter_answers_are_read_per_partition() {
        let response = AlterPartitionReassignmentsResponse::default().with_responses(vec![
            ReassignableTopicResponse::default()
                .with_name(TopicName(s("a")))
                .with_partitions(vec![
                    ReassignablePartitionResponse::default().with_partition_index(0),
                    ReassignablePartitionResponse::default()
                        .with_partition_index(2)
                        .with_error_code(39)
                        .with_error_message(Some(s("broker 9 is not registered"))),
                ]),
        ]);
        {
            let results = alter_results(response).expect("valid");
            assert_eq!(results.len(), 2);
            assert_eq!((results[0].partition, results[0].error_code), (0, 0));
            assert_eq!(
                results[1].error_message.as_deref(),
                Some("broker 9 is not registered")
            );
        }
        let refused = AlterPartitionReassignmentsResponse::default()
            .with_error_code(31)
            .with_error_message(Some(s("not allowed")));
        assert!(matches!(
            alter_results(refused),
            Err(RequestError::Broker { code: 31, .. })
        ));
    }

    #[test]
    fn list_answers_are_read_per_partition() {
        let response = ListPartitionReassignmentsResponse::default().with_topics(vec![
            OngoingTopicReassignment::default()
                .with_name(TopicName(s("a")))
                .with_partitions(vec![OngoingPartitionReassignment::default()
                    .with_partition_index(0)
                    .with_replicas(ids(&[2, 3, 4, 1]))
                    .with_adding_replicas(ids(&[4]))
                    .with_removing_replicas(ids(&[1]))]),
        ]);
        assert_eq!(
            ongoing(response).expect("valid"),
            vec![Ongoing {
                topic: "a".into(),
                partition: 0,
                replicas: vec![2, 3, 4, 1],
                adding: vec![4],
                removing: vec![1],
            }]
        );
        let refused = ListPartitionReassignmentsResponse::default().with_error_code(31);
        assert!(matches!(
            ongoing(refused),
            Err(RequestError::Broker { code: 31, .. })
        ));
    }

    #[test]
    fn list_requests_are_null_for_everything() {
        let bytes = encode(&list_request(None, 5), 0);
        assert_eq!(bytes, vec![0, 0, 0, 5, 0, 0]);
        let topics = vec![("a".to_string(), vec![0, 1])];
        let bytes = encode(&list_request(Some(&topics), 5), 0);
        let back = ListPartitionReassignmentsRequest::decode(&mut bytes::Bytes::from(bytes), 0)
            .expect("decodes");
        assert_eq!(back.topics.unwrap()[0].partition_indexes, vec![0, 1]);
    }
}
