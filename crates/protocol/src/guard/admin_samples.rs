//! Populated UpdateFeatures (57), UnregisterBroker (64) and DescribeTopicPartitions (75)
//! requests and responses, for `samples.rs` and `response_samples.rs` (tests and the
//! `test-encoders` feature only). All three are flexible in every version.

use kafka_protocol::messages::*;

use super::samples::{s, tags, topic, uuid, when};

pub(super) fn update_features_request(v: i16) -> UpdateFeaturesRequest {
    use update_features_request::*;
    let update = FeatureUpdateKey::default()
        .with_feature(s("group.version"))
        .with_max_version_level(1)
        .with_allow_downgrade(when(v, 0, 0, true))
        // 1 (upgrade) is the default, the only value v0 can carry.
        .with_upgrade_type(if v >= 1 { 2 } else { 1 })
        .with_unknown_tagged_fields(tags(v, 0));
    UpdateFeaturesRequest::default()
        .with_timeout_ms(60_000)
        .with_feature_updates(vec![
            update.clone(),
            update.with_feature(s("metadata.version")),
        ])
        .with_validate_only(when(v, 1, i16::MAX, true))
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn update_features_response(v: i16) -> UpdateFeaturesResponse {
    use update_features_response::*;
    let result = UpdatableFeatureResult::default()
        .with_feature(s("group.version"))
        .with_error_code(95)
        .with_error_message(Some(s("invalid update version")))
        .with_unknown_tagged_fields(tags(v, 0));
    UpdateFeaturesResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(95)
        .with_error_message(Some(s("invalid update version")))
        .with_results(when(v, 0, 1, vec![result.clone(), result]))
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn unregister_broker_request(v: i16) -> UnregisterBrokerRequest {
    UnregisterBrokerRequest::default()
        .with_broker_id(BrokerId(3))
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn unregister_broker_response(v: i16) -> UnregisterBrokerResponse {
    UnregisterBrokerResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(102)
        .with_error_message(Some(s("broker 3 is not registered")))
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn describe_topic_partitions_request(v: i16) -> DescribeTopicPartitionsRequest {
    use describe_topic_partitions_request::*;
    let name = |n| {
        TopicRequest::default()
            .with_name(topic(n))
            .with_unknown_tagged_fields(tags(v, 0))
    };
    DescribeTopicPartitionsRequest::default()
        .with_topics(vec![name("orders"), name("payments")])
        .with_response_partition_limit(100)
        .with_cursor(Some(
            Cursor::default()
                .with_topic_name(topic("orders"))
                .with_partition_index(3)
                .with_unknown_tagged_fields(tags(v, 0)),
        ))
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn describe_topic_partitions_response(v: i16) -> DescribeTopicPartitionsResponse {
    use describe_topic_partitions_response::*;
    let partition = DescribeTopicPartitionsResponsePartition::default()
        .with_error_code(0)
        .with_partition_index(1)
        .with_leader_id(BrokerId(2))
        .with_leader_epoch(4)
        .with_replica_nodes(vec![BrokerId(2), BrokerId(3)])
        .with_isr_nodes(vec![BrokerId(2)])
        .with_eligible_leader_replicas(Some(vec![BrokerId(3)]))
        .with_last_known_elr(Some(vec![BrokerId(3)]))
        .with_offline_replicas(vec![BrokerId(3)])
        .with_unknown_tagged_fields(tags(v, 0));
    let t = DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(topic("orders")))
        .with_topic_id(uuid())
        .with_is_internal(false)
        .with_partitions(vec![partition.clone(), partition])
        .with_topic_authorized_operations(0x5f8)
        .with_unknown_tagged_fields(tags(v, 0));
    DescribeTopicPartitionsResponse::default()
        .with_throttle_time_ms(1)
        .with_topics(vec![t])
        .with_next_cursor(Some(
            Cursor::default()
                .with_topic_name(topic("payments"))
                .with_partition_index(0)
                .with_unknown_tagged_fields(tags(v, 0)),
        ))
        .with_unknown_tagged_fields(tags(v, 0))
}
