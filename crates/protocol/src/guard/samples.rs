//! Fully populated requests of every api key and version the guard has a schema for: non-empty
//! arrays at every level, non-empty strings, unknown tagged fields on every struct in flexible
//! versions and the known tagged fields set. The tests use them to prove the schema tables
//! against `kafka-protocol`'s encoder, and the fuzz target uses them as seeds. Compiled only for
//! tests and with the `test-encoders` feature: the product has no use for them.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// The encoded body of a populated request; `Err` when the guard has no schema for it or
/// kafka-protocol refuses to encode it.
pub fn encoded_body(api_key: i16, version: i16) -> Result<Bytes, String> {
    let (min, max) = super::supported_versions(api_key).unwrap_or((1, 0));
    if version < min || version > max {
        return Err(format!("no schema for api key {api_key} version {version}"));
    }
    let mut buf = BytesMut::new();
    let v = version;
    let encoded = match api_key {
        0 => produce(v).encode(&mut buf, v),
        1 => fetch(v).encode(&mut buf, v),
        2 => list_offsets(v).encode(&mut buf, v),
        3 => metadata(v).encode(&mut buf, v),
        8 => offset_commit(v).encode(&mut buf, v),
        9 => offset_fetch(v).encode(&mut buf, v),
        10 => find_coordinator(v).encode(&mut buf, v),
        11 => join_group(v).encode(&mut buf, v),
        12 => heartbeat(v).encode(&mut buf, v),
        13 => leave_group(v).encode(&mut buf, v),
        14 => sync_group(v).encode(&mut buf, v),
        15 => describe_groups(v).encode(&mut buf, v),
        16 => list_groups(v).encode(&mut buf, v),
        17 => sasl_handshake(v).encode(&mut buf, v),
        18 => api_versions(v).encode(&mut buf, v),
        19 => create_topics(v).encode(&mut buf, v),
        20 => delete_topics(v).encode(&mut buf, v),
        21 => delete_records(v).encode(&mut buf, v),
        22 => init_producer_id(v).encode(&mut buf, v),
        23 => offset_for_leader_epoch(v).encode(&mut buf, v),
        24 => add_partitions_to_txn(v).encode(&mut buf, v),
        25 => add_offsets_to_txn(v).encode(&mut buf, v),
        26 => end_txn(v).encode(&mut buf, v),
        27 => write_txn_markers(v).encode(&mut buf, v),
        28 => txn_offset_commit(v).encode(&mut buf, v),
        29 => super::acl_samples::describe_request(v).encode(&mut buf, v),
        30 => super::acl_samples::create_request(v).encode(&mut buf, v),
        31 => super::acl_samples::delete_request(v).encode(&mut buf, v),
        61 => describe_producers(v).encode(&mut buf, v),
        65 => describe_transactions(v).encode(&mut buf, v),
        66 => list_transactions(v).encode(&mut buf, v),
        32 => describe_configs(v).encode(&mut buf, v),
        33 => alter_configs(v).encode(&mut buf, v),
        34 => alter_replica_log_dirs(v).encode(&mut buf, v),
        35 => describe_log_dirs(v).encode(&mut buf, v),
        36 => sasl_authenticate(v).encode(&mut buf, v),
        37 => create_partitions(v).encode(&mut buf, v),
        42 => delete_groups(v).encode(&mut buf, v),
        43 => elect_leaders(v).encode(&mut buf, v),
        44 => incremental_alter_configs(v).encode(&mut buf, v),
        45 => alter_partition_reassignments(v).encode(&mut buf, v),
        46 => list_partition_reassignments(v).encode(&mut buf, v),
        47 => offset_delete(v).encode(&mut buf, v),
        48 => super::client_quota_samples::describe_request(v).encode(&mut buf, v),
        49 => super::client_quota_samples::alter_request(v).encode(&mut buf, v),
        50 => super::scram_samples::describe_request(v).encode(&mut buf, v),
        51 => super::scram_samples::alter_request(v).encode(&mut buf, v),
        55 => describe_quorum(v).encode(&mut buf, v),
        57 => super::admin_samples::update_features_request(v).encode(&mut buf, v),
        60 => describe_cluster(v).encode(&mut buf, v),
        64 => super::admin_samples::unregister_broker_request(v).encode(&mut buf, v),
        75 => super::admin_samples::describe_topic_partitions_request(v).encode(&mut buf, v),
        68 => consumer_group_heartbeat(v).encode(&mut buf, v),
        69 => consumer_group_describe(v).encode(&mut buf, v),
        74 => super::config_resource_samples::request(v).encode(&mut buf, v),
        _ => return Err(format!("no sample for api key {api_key}")),
    };
    encoded
        .map(|()| buf.freeze())
        .map_err(|e| format!("api key {api_key} version {version}: {e}"))
}

/// Decodes `body` with kafka-protocol's decoder for `api_key`/`version`, dropping the result:
/// `Err` carries the decoder's message. (`RequestKind` needs kafka-protocol's
/// `messages_enums` feature, which the workspace does not enable.)
pub fn decode_body(api_key: i16, version: i16, body: Bytes) -> Result<(), String> {
    fn run<T: Decodable>(mut body: Bytes, version: i16) -> Result<(), String> {
        T::decode(&mut body, version)
            .map(drop)
            .map_err(|e| e.to_string())
    }
    let v = version;
    match api_key {
        0 => run::<ProduceRequest>(body, v),
        1 => run::<FetchRequest>(body, v),
        2 => run::<ListOffsetsRequest>(body, v),
        3 => run::<MetadataRequest>(body, v),
        8 => run::<OffsetCommitRequest>(body, v),
        9 => run::<OffsetFetchRequest>(body, v),
        10 => run::<FindCoordinatorRequest>(body, v),
        11 => run::<JoinGroupRequest>(body, v),
        12 => run::<HeartbeatRequest>(body, v),
        13 => run::<LeaveGroupRequest>(body, v),
        14 => run::<SyncGroupRequest>(body, v),
        15 => run::<DescribeGroupsRequest>(body, v),
        16 => run::<ListGroupsRequest>(body, v),
        17 => run::<SaslHandshakeRequest>(body, v),
        18 => run::<ApiVersionsRequest>(body, v),
        19 => run::<CreateTopicsRequest>(body, v),
        20 => run::<DeleteTopicsRequest>(body, v),
        21 => run::<DeleteRecordsRequest>(body, v),
        22 => run::<InitProducerIdRequest>(body, v),
        23 => run::<OffsetForLeaderEpochRequest>(body, v),
        24 => run::<AddPartitionsToTxnRequest>(body, v),
        25 => run::<AddOffsetsToTxnRequest>(body, v),
        26 => run::<EndTxnRequest>(body, v),
        27 => run::<WriteTxnMarkersRequest>(body, v),
        28 => run::<TxnOffsetCommitRequest>(body, v),
        29 => run::<DescribeAclsRequest>(body, v),
        30 => run::<CreateAclsRequest>(body, v),
        31 => run::<DeleteAclsRequest>(body, v),
        61 => run::<DescribeProducersRequest>(body, v),
        65 => run::<DescribeTransactionsRequest>(body, v),
        66 => run::<ListTransactionsRequest>(body, v),
        32 => run::<DescribeConfigsRequest>(body, v),
        33 => run::<AlterConfigsRequest>(body, v),
        34 => run::<AlterReplicaLogDirsRequest>(body, v),
        35 => run::<DescribeLogDirsRequest>(body, v),
        36 => run::<SaslAuthenticateRequest>(body, v),
        37 => run::<CreatePartitionsRequest>(body, v),
        42 => run::<DeleteGroupsRequest>(body, v),
        43 => run::<ElectLeadersRequest>(body, v),
        44 => run::<IncrementalAlterConfigsRequest>(body, v),
        45 => run::<AlterPartitionReassignmentsRequest>(body, v),
        46 => run::<ListPartitionReassignmentsRequest>(body, v),
        47 => run::<OffsetDeleteRequest>(body, v),
        48 => run::<DescribeClientQuotasRequest>(body, v),
        49 => run::<AlterClientQuotasRequest>(body, v),
        50 => run::<DescribeUserScramCredentialsRequest>(body, v),
        51 => run::<AlterUserScramCredentialsRequest>(body, v),
        55 => run::<DescribeQuorumRequest>(body, v),
        57 => run::<UpdateFeaturesRequest>(body, v),
        60 => run::<DescribeClusterRequest>(body, v),
        64 => run::<UnregisterBrokerRequest>(body, v),
        75 => run::<DescribeTopicPartitionsRequest>(body, v),
        68 => run::<ConsumerGroupHeartbeatRequest>(body, v),
        69 => run::<ConsumerGroupDescribeRequest>(body, v),
        74 => run::<ListConfigResourcesRequest>(body, v),
        other => Err(format!("no decoder wired for api key {other}")),
    }
}

/// A full request frame (header then body, without the size prefix) for a populated request.
pub fn encoded_frame(api_key: i16, version: i16) -> Result<Bytes, String> {
    let body = encoded_body(api_key, version)?;
    let header_version = ApiKey::try_from(api_key)
        .map_err(|()| format!("unknown api key {api_key}"))?
        .request_header_version(version);
    let header = RequestHeader::default()
        .with_request_api_key(api_key)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(s("fuzz-client")))
        .with_unknown_tagged_fields(tags(header_version, 2));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, header_version.max(1))
        .map_err(|e| e.to_string())?;
    if header_version == 0 {
        // Header v0 has no client_id; kafka-protocol only encodes v1 and v2.
        buf.truncate(8);
    }
    buf.extend_from_slice(&body);
    Ok(buf.freeze())
}

pub(super) fn s(text: &'static str) -> StrBytes {
    StrBytes::from_static_str(text)
}

pub(super) fn topic(text: &'static str) -> TopicName {
    TopicName(s(text))
}

pub(super) fn group(text: &'static str) -> GroupId {
    GroupId(s(text))
}

/// An unknown tagged field, where the version is flexible.
pub(super) fn tags(version: i16, flexible_since: i16) -> BTreeMap<i32, Bytes> {
    let mut tags = BTreeMap::new();
    if version >= flexible_since {
        tags.insert(4242, Bytes::from_static(b"unknown"));
    }
    tags
}

/// `value` where `version` is in `min..=max`, else `T::default()`. kafka-protocol refuses to
/// encode a field outside its versions unless it holds the message's default, so fields whose
/// default is not `T::default()` (often -1) spell it out with an `if` instead.
pub(super) fn when<T: Default>(version: i16, min: i16, max: i16, value: T) -> T {
    if (min..=max).contains(&version) {
        value
    } else {
        T::default()
    }
}

/// A non-nil uuid without naming the uuid crate's type.
pub(super) fn uuid<T: std::str::FromStr + Default>() -> T {
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
        .parse()
        .unwrap_or_default()
}

fn produce(v: i16) -> ProduceRequest {
    use produce_request::*;
    let partition = PartitionProduceData::default()
        .with_index(3)
        .with_records(Some(Bytes::from_static(b"opaque record batch bytes")))
        .with_unknown_tagged_fields(tags(v, 9));
    let topic_data = TopicProduceData::default()
        .with_name(when(v, 0, 12, topic("orders")))
        .with_topic_id(when(v, 13, i16::MAX, uuid()))
        .with_partition_data(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 9));
    ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s("txn"))))
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![topic_data])
        .with_unknown_tagged_fields(tags(v, 9))
}

fn fetch(v: i16) -> FetchRequest {
    use fetch_request::*;
    let partition = FetchPartition::default()
        .with_partition(1)
        .with_current_leader_epoch(if v >= 9 { 5 } else { -1 })
        .with_fetch_offset(100)
        .with_last_fetched_epoch(if v >= 12 { 4 } else { -1 })
        .with_log_start_offset(if v >= 5 { 10 } else { -1 })
        .with_partition_max_bytes(1 << 20)
        .with_replica_directory_id(when(v, 17, i16::MAX, uuid()))
        // kafka-protocol's default for high_watermark is i64::MAX ("not set").
        .with_high_watermark(if v >= 18 { 99 } else { i64::MAX })
        .with_unknown_tagged_fields(tags(v, 12));
    let fetch_topic = FetchTopic::default()
        .with_topic(when(v, 0, 12, topic("orders")))
        .with_topic_id(when(v, 13, i16::MAX, uuid()))
        .with_partitions(vec![partition])
        .with_unknown_tagged_fields(tags(v, 12));
    let forgotten = ForgottenTopic::default()
        .with_topic(when(v, 7, 12, topic("old")))
        .with_topic_id(when(v, 13, i16::MAX, uuid()))
        .with_partitions(vec![0, 1, 2])
        .with_unknown_tagged_fields(tags(v, 12));
    let replica_state = ReplicaState::default()
        .with_replica_id(BrokerId(2))
        .with_replica_epoch(8)
        .with_unknown_tagged_fields(tags(v, 12));
    FetchRequest::default()
        .with_cluster_id(when(v, 12, i16::MAX, Some(s("cluster-1"))))
        .with_replica_id(BrokerId(if v <= 14 { 1 } else { -1 }))
        .with_replica_state(when(v, 15, i16::MAX, replica_state))
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_isolation_level(1)
        .with_session_id(when(v, 7, i16::MAX, 12))
        .with_session_epoch(if v >= 7 { 3 } else { -1 })
        .with_topics(vec![fetch_topic])
        .with_forgotten_topics_data(when(v, 7, i16::MAX, vec![forgotten]))
        .with_rack_id(when(v, 11, i16::MAX, s("rack-a")))
        .with_unknown_tagged_fields(tags(v, 12))
}

fn list_offsets(v: i16) -> ListOffsetsRequest {
    use list_offsets_request::*;
    let partition = ListOffsetsPartition::default()
        .with_partition_index(0)
        .with_current_leader_epoch(if v >= 4 { 3 } else { -1 })
        .with_timestamp(-1)
        .with_unknown_tagged_fields(tags(v, 6));
    let topic_entry = ListOffsetsTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition])
        .with_unknown_tagged_fields(tags(v, 6));
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(when(v, 2, i16::MAX, 1))
        .with_topics(vec![topic_entry])
        .with_timeout_ms(when(v, 10, i16::MAX, 1000))
        .with_unknown_tagged_fields(tags(v, 6))
}

fn metadata(v: i16) -> MetadataRequest {
    use metadata_request::*;
    let topic_entry = MetadataRequestTopic::default()
        .with_topic_id(when(v, 10, i16::MAX, uuid()))
        .with_name(Some(topic("orders")))
        .with_unknown_tagged_fields(tags(v, 9));
    MetadataRequest::default()
        .with_topics(Some(vec![topic_entry.clone(), topic_entry]))
        // Before v4 the field is absent and must keep its default, true.
        .with_allow_auto_topic_creation(v < 4)
        .with_include_cluster_authorized_operations(when(v, 8, 10, true))
        .with_include_topic_authorized_operations(when(v, 8, i16::MAX, true))
        .with_unknown_tagged_fields(tags(v, 9))
}

fn offset_commit(v: i16) -> OffsetCommitRequest {
    use offset_commit_request::*;
    let partition = OffsetCommitRequestPartition::default()
        .with_partition_index(2)
        .with_committed_offset(77)
        .with_committed_leader_epoch(if v >= 6 { 4 } else { -1 })
        .with_committed_metadata(Some(s("meta")))
        .with_unknown_tagged_fields(tags(v, 8));
    let topic_entry = OffsetCommitRequestTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition])
        .with_unknown_tagged_fields(tags(v, 8));
    OffsetCommitRequest::default()
        .with_group_id(group("g"))
        .with_generation_id_or_member_epoch(3)
        .with_member_id(s("member-1"))
        .with_group_instance_id(when(v, 7, i16::MAX, Some(s("instance"))))
        .with_retention_time_ms(if v <= 4 { 1000 } else { -1 })
        .with_topics(vec![topic_entry])
        .with_unknown_tagged_fields(tags(v, 8))
}

fn offset_fetch(v: i16) -> OffsetFetchRequest {
    use offset_fetch_request::*;
    let old_topic = OffsetFetchRequestTopic::default()
        .with_name(topic("orders"))
        .with_partition_indexes(vec![0, 1])
        .with_unknown_tagged_fields(tags(v, 6));
    let new_topic = OffsetFetchRequestTopics::default()
        .with_name(topic("orders"))
        .with_partition_indexes(vec![0, 1])
        .with_unknown_tagged_fields(tags(v, 6));
    let group_entry = OffsetFetchRequestGroup::default()
        .with_group_id(group("g"))
        .with_member_id(when(v, 9, i16::MAX, Some(s("member-1"))))
        .with_member_epoch(if v >= 9 { 5 } else { -1 })
        .with_topics(Some(vec![new_topic]))
        .with_unknown_tagged_fields(tags(v, 6));
    if v <= 7 {
        OffsetFetchRequest::default()
            .with_group_id(group("g"))
            .with_topics(Some(vec![old_topic]))
            .with_require_stable(v >= 7)
            .with_unknown_tagged_fields(tags(v, 6))
    } else {
        OffsetFetchRequest::default()
            .with_groups(vec![group_entry])
            .with_require_stable(true)
            .with_unknown_tagged_fields(tags(v, 6))
    }
}

fn find_coordinator(v: i16) -> FindCoordinatorRequest {
    FindCoordinatorRequest::default()
        .with_key(when(v, 0, 3, s("g")))
        .with_key_type(when(v, 1, i16::MAX, 1))
        .with_coordinator_keys(when(v, 4, i16::MAX, vec![s("g1"), s("g2")]))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn join_group(v: i16) -> JoinGroupRequest {
    use join_group_request::*;
    let protocol = JoinGroupRequestProtocol::default()
        .with_name(s("range"))
        .with_metadata(Bytes::from_static(b"subscription"))
        .with_unknown_tagged_fields(tags(v, 6));
    JoinGroupRequest::default()
        .with_group_id(group("g"))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(if v >= 1 { 30_000 } else { -1 })
        .with_member_id(s("member-1"))
        .with_group_instance_id(when(v, 5, i16::MAX, Some(s("instance"))))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![protocol])
        .with_reason(when(v, 8, i16::MAX, Some(s("rejoin"))))
        .with_unknown_tagged_fields(tags(v, 6))
}

fn heartbeat(v: i16) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(group("g"))
        .with_generation_id(3)
        .with_member_id(s("member-1"))
        .with_group_instance_id(when(v, 3, i16::MAX, Some(s("instance"))))
        .with_unknown_tagged_fields(tags(v, 4))
}

fn leave_group(v: i16) -> LeaveGroupRequest {
    use leave_group_request::*;
    let member = MemberIdentity::default()
        .with_member_id(s("member-1"))
        .with_group_instance_id(Some(s("instance")))
        .with_reason(when(v, 5, i16::MAX, Some(s("bye"))))
        .with_unknown_tagged_fields(tags(v, 4));
    LeaveGroupRequest::default()
        .with_group_id(group("g"))
        .with_member_id(when(v, 0, 2, s("member-1")))
        .with_members(when(v, 3, i16::MAX, vec![member]))
        .with_unknown_tagged_fields(tags(v, 4))
}

fn sync_group(v: i16) -> SyncGroupRequest {
    use sync_group_request::*;
    let assignment = SyncGroupRequestAssignment::default()
        .with_member_id(s("member-1"))
        .with_assignment(Bytes::from_static(b"assignment"))
        .with_unknown_tagged_fields(tags(v, 4));
    SyncGroupRequest::default()
        .with_group_id(group("g"))
        .with_generation_id(3)
        .with_member_id(s("member-1"))
        .with_group_instance_id(when(v, 3, i16::MAX, Some(s("instance"))))
        .with_protocol_type(when(v, 5, i16::MAX, Some(s("consumer"))))
        .with_protocol_name(when(v, 5, i16::MAX, Some(s("range"))))
        .with_assignments(vec![assignment])
        .with_unknown_tagged_fields(tags(v, 4))
}

fn describe_groups(v: i16) -> DescribeGroupsRequest {
    DescribeGroupsRequest::default()
        .with_groups(vec![group("g1"), group("g2")])
        .with_include_authorized_operations(when(v, 3, i16::MAX, true))
        .with_unknown_tagged_fields(tags(v, 5))
}

fn list_groups(v: i16) -> ListGroupsRequest {
    ListGroupsRequest::default()
        .with_states_filter(when(v, 4, i16::MAX, vec![s("Stable")]))
        .with_types_filter(when(v, 5, i16::MAX, vec![s("classic"), s("consumer")]))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn sasl_handshake(_v: i16) -> SaslHandshakeRequest {
    SaslHandshakeRequest::default().with_mechanism(s("PLAIN"))
}

fn api_versions(v: i16) -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(when(v, 3, i16::MAX, s("sluice-test")))
        .with_client_software_version(when(v, 3, i16::MAX, s("1.0")))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn create_topics(v: i16) -> CreateTopicsRequest {
    use create_topics_request::*;
    let assignment = CreatableReplicaAssignment::default()
        .with_partition_index(0)
        .with_broker_ids(vec![BrokerId(1), BrokerId(2)])
        .with_unknown_tagged_fields(tags(v, 5));
    let config = CreatableTopicConfig::default()
        .with_name(s("retention.ms"))
        .with_value(Some(s("1000")))
        .with_unknown_tagged_fields(tags(v, 5));
    let creatable = CreatableTopic::default()
        .with_name(topic("orders"))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![assignment])
        .with_configs(vec![config])
        .with_unknown_tagged_fields(tags(v, 5));
    CreateTopicsRequest::default()
        .with_topics(vec![creatable])
        .with_timeout_ms(1000)
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags(v, 5))
}

fn delete_topics(v: i16) -> DeleteTopicsRequest {
    use delete_topics_request::*;
    let state = DeleteTopicState::default()
        .with_name(Some(topic("orders")))
        .with_topic_id(uuid())
        .with_unknown_tagged_fields(tags(v, 4));
    DeleteTopicsRequest::default()
        .with_topics(when(v, 6, i16::MAX, vec![state]))
        .with_topic_names(when(v, 0, 5, vec![topic("a"), topic("b")]))
        .with_timeout_ms(1000)
        .with_unknown_tagged_fields(tags(v, 4))
}

fn delete_records(v: i16) -> DeleteRecordsRequest {
    use delete_records_request::*;
    let partition = DeleteRecordsPartition::default()
        .with_partition_index(0)
        .with_offset(42)
        .with_unknown_tagged_fields(tags(v, 2));
    let topic_entry = DeleteRecordsTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition])
        .with_unknown_tagged_fields(tags(v, 2));
    DeleteRecordsRequest::default()
        .with_topics(vec![topic_entry])
        .with_timeout_ms(1000)
        .with_unknown_tagged_fields(tags(v, 2))
}

fn init_producer_id(v: i16) -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s("txn"))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(if v >= 3 { 12 } else { -1 }))
        .with_producer_epoch(if v >= 3 { 2 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 2))
}

fn offset_for_leader_epoch(v: i16) -> OffsetForLeaderEpochRequest {
    use offset_for_leader_epoch_request::*;
    let partition = OffsetForLeaderPartition::default()
        .with_partition(2)
        .with_current_leader_epoch(5)
        .with_leader_epoch(4)
        .with_unknown_tagged_fields(tags(v, 4));
    let topic_entry = OffsetForLeaderTopic::default()
        .with_topic(topic("orders"))
        .with_partitions(vec![partition])
        .with_unknown_tagged_fields(tags(v, 4));
    OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(if v >= 3 { 1 } else { -2 }))
        .with_topics(vec![topic_entry])
        .with_unknown_tagged_fields(tags(v, 4))
}

fn add_partitions_to_txn(v: i16) -> AddPartitionsToTxnRequest {
    use add_partitions_to_txn_request::*;
    let topic_entry = AddPartitionsToTxnTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![0, 3])
        .with_unknown_tagged_fields(tags(v, 3));
    let txn = AddPartitionsToTxnTransaction::default()
        .with_transactional_id(TransactionalId(s("txn")))
        .with_producer_id(ProducerId(12))
        .with_producer_epoch(2)
        .with_verify_only(true)
        .with_topics(vec![topic_entry.clone()])
        .with_unknown_tagged_fields(tags(v, 3));
    AddPartitionsToTxnRequest::default()
        .with_transactions(when(v, 4, i16::MAX, vec![txn]))
        .with_v3_and_below_transactional_id(when(v, 0, 3, TransactionalId(s("txn"))))
        .with_v3_and_below_producer_id(when(v, 0, 3, ProducerId(12)))
        .with_v3_and_below_producer_epoch(when(v, 0, 3, 2))
        .with_v3_and_below_topics(when(v, 0, 3, vec![topic_entry]))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn add_offsets_to_txn(v: i16) -> AddOffsetsToTxnRequest {
    AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s("txn")))
        .with_producer_id(ProducerId(12))
        .with_producer_epoch(2)
        .with_group_id(group("g"))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn end_txn(v: i16) -> EndTxnRequest {
    EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s("txn")))
        .with_producer_id(ProducerId(12))
        .with_producer_epoch(2)
        .with_committed(true)
        .with_unknown_tagged_fields(tags(v, 3))
}

fn write_txn_markers(v: i16) -> WriteTxnMarkersRequest {
    use write_txn_markers_request::*;
    let topic_entry = WritableTxnMarkerTopic::default()
        .with_name(topic("orders"))
        .with_partition_indexes(vec![1, 2])
        .with_unknown_tagged_fields(tags(v, 1));
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(12))
        .with_producer_epoch(2)
        .with_transaction_result(true)
        .with_topics(vec![topic_entry])
        .with_coordinator_epoch(5)
        .with_unknown_tagged_fields(tags(v, 1));
    WriteTxnMarkersRequest::default()
        .with_markers(vec![marker])
        .with_unknown_tagged_fields(tags(v, 1))
}

fn txn_offset_commit(v: i16) -> TxnOffsetCommitRequest {
    use txn_offset_commit_request::*;
    let partition = TxnOffsetCommitRequestPartition::default()
        .with_partition_index(2)
        .with_committed_offset(77)
        .with_committed_leader_epoch(if v >= 2 { 4 } else { -1 })
        .with_committed_metadata(Some(s("meta")))
        .with_unknown_tagged_fields(tags(v, 3));
    let topic_entry = TxnOffsetCommitRequestTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition])
        .with_unknown_tagged_fields(tags(v, 3));
    TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("txn")))
        .with_group_id(group("g"))
        .with_producer_id(ProducerId(12))
        .with_producer_epoch(2)
        .with_generation_id(if v >= 3 { 7 } else { -1 })
        .with_member_id(if v >= 3 { s("member-1") } else { s("") })
        .with_group_instance_id(when(v, 3, i16::MAX, Some(s("instance"))))
        .with_topics(vec![topic_entry])
        .with_unknown_tagged_fields(tags(v, 3))
}

fn describe_producers(v: i16) -> DescribeProducersRequest {
    use describe_producers_request::*;
    DescribeProducersRequest::default()
        .with_topics(vec![TopicRequest::default()
            .with_name(topic("orders"))
            .with_partition_indexes(vec![0, 2])
            .with_unknown_tagged_fields(tags(v, 0))])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn describe_transactions(v: i16) -> DescribeTransactionsRequest {
    DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(s("t1")), TransactionalId(s("t2"))])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn list_transactions(v: i16) -> ListTransactionsRequest {
    ListTransactionsRequest::default()
        .with_state_filters(vec![s("Ongoing")])
        .with_producer_id_filters(vec![ProducerId(12), ProducerId(13)])
        .with_duration_filter(if v >= 1 { 60_000 } else { -1 })
        .with_transactional_id_pattern(when(v, 2, i16::MAX, Some(s("txn-.*"))))
        .with_unknown_tagged_fields(tags(v, 0))
}

fn describe_configs(v: i16) -> DescribeConfigsRequest {
    use describe_configs_request::*;
    let resource = DescribeConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_configuration_keys(Some(vec![s("retention.ms"), s("cleanup.policy")]))
        .with_unknown_tagged_fields(tags(v, 4));
    DescribeConfigsRequest::default()
        .with_resources(vec![resource])
        .with_include_synonyms(true)
        .with_include_documentation(when(v, 3, i16::MAX, true))
        .with_unknown_tagged_fields(tags(v, 4))
}

fn alter_configs(v: i16) -> AlterConfigsRequest {
    use alter_configs_request::*;
    let config = AlterableConfig::default()
        .with_name(s("retention.ms"))
        .with_value(Some(s("1000")))
        .with_unknown_tagged_fields(tags(v, 2));
    let resource = AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_configs(vec![config])
        .with_unknown_tagged_fields(tags(v, 2));
    AlterConfigsRequest::default()
        .with_resources(vec![resource])
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags(v, 2))
}

fn sasl_authenticate(v: i16) -> SaslAuthenticateRequest {
    SaslAuthenticateRequest::default()
        .with_auth_bytes(Bytes::from_static(b"\0user\0secret"))
        .with_unknown_tagged_fields(tags(v, 2))
}

fn create_partitions(v: i16) -> CreatePartitionsRequest {
    use create_partitions_request::*;
    let assignment = CreatePartitionsAssignment::default()
        .with_broker_ids(vec![BrokerId(1), BrokerId(2)])
        .with_unknown_tagged_fields(tags(v, 2));
    let topic_entry = CreatePartitionsTopic::default()
        .with_name(topic("orders"))
        .with_count(4)
        .with_assignments(Some(vec![assignment]))
        .with_unknown_tagged_fields(tags(v, 2));
    CreatePartitionsRequest::default()
        .with_topics(vec![topic_entry])
        .with_timeout_ms(1000)
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags(v, 2))
}

fn alter_replica_log_dirs(v: i16) -> AlterReplicaLogDirsRequest {
    use alter_replica_log_dirs_request::*;
    AlterReplicaLogDirsRequest::default()
        .with_dirs(vec![AlterReplicaLogDir::default()
            .with_path(s("/var/lib/sluice/b"))
            .with_topics(vec![AlterReplicaLogDirTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![0, 2])
                .with_unknown_tagged_fields(tags(v, 2))])
            .with_unknown_tagged_fields(tags(v, 2))])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn describe_log_dirs(v: i16) -> DescribeLogDirsRequest {
    use describe_log_dirs_request::*;
    DescribeLogDirsRequest::default()
        .with_topics(Some(vec![DescribableLogDirTopic::default()
            .with_topic(topic("orders"))
            .with_partitions(vec![0, 2])
            .with_unknown_tagged_fields(tags(v, 2))]))
        .with_unknown_tagged_fields(tags(v, 2))
}

fn elect_leaders(v: i16) -> ElectLeadersRequest {
    use elect_leaders_request::*;
    ElectLeadersRequest::default()
        .with_election_type(when(v, 1, i16::MAX, 1))
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic(topic("orders"))
            .with_partitions(vec![0, 2])
            .with_unknown_tagged_fields(tags(v, 2))]))
        .with_timeout_ms(30_000)
        .with_unknown_tagged_fields(tags(v, 2))
}

fn alter_partition_reassignments(v: i16) -> AlterPartitionReassignmentsRequest {
    use alter_partition_reassignments_request::*;
    AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        // Its default (outside v1) is true.
        .with_allow_replication_factor_change(v < 1)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![
                ReassignablePartition::default()
                    .with_partition_index(0)
                    .with_replicas(Some(vec![BrokerId(2), BrokerId(3)]))
                    .with_unknown_tagged_fields(tags(v, 0)),
                ReassignablePartition::default()
                    .with_partition_index(1)
                    .with_replicas(None)
                    .with_unknown_tagged_fields(tags(v, 0)),
            ])
            .with_unknown_tagged_fields(tags(v, 0))])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn list_partition_reassignments(v: i16) -> ListPartitionReassignmentsRequest {
    use list_partition_reassignments_request::*;
    ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(Some(vec![ListPartitionReassignmentsTopics::default()
            .with_name(topic("orders"))
            .with_partition_indexes(vec![0, 2])
            .with_unknown_tagged_fields(tags(v, 0))]))
        .with_unknown_tagged_fields(tags(v, 0))
}

fn delete_groups(v: i16) -> DeleteGroupsRequest {
    DeleteGroupsRequest::default()
        .with_groups_names(vec![group("g1"), group("g2")])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn incremental_alter_configs(v: i16) -> IncrementalAlterConfigsRequest {
    use incremental_alter_configs_request::*;
    let config = AlterableConfig::default()
        .with_name(s("retention.ms"))
        .with_config_operation(0)
        .with_value(Some(s("1000")))
        .with_unknown_tagged_fields(tags(v, 1));
    let resource = AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_configs(vec![config])
        .with_unknown_tagged_fields(tags(v, 1));
    IncrementalAlterConfigsRequest::default()
        .with_resources(vec![resource])
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags(v, 1))
}

fn offset_delete(_v: i16) -> OffsetDeleteRequest {
    use offset_delete_request::*;
    let partition = OffsetDeleteRequestPartition::default().with_partition_index(1);
    let topic_entry = OffsetDeleteRequestTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition]);
    OffsetDeleteRequest::default()
        .with_group_id(group("g"))
        .with_topics(vec![topic_entry])
}

fn describe_quorum(v: i16) -> DescribeQuorumRequest {
    use describe_quorum_request::*;
    DescribeQuorumRequest::default()
        .with_topics(vec![TopicData::default()
            .with_topic_name(topic("__cluster_metadata"))
            .with_partitions(vec![PartitionData::default()
                .with_partition_index(0)
                .with_unknown_tagged_fields(tags(v, 0))])
            .with_unknown_tagged_fields(tags(v, 0))])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn describe_cluster(v: i16) -> DescribeClusterRequest {
    DescribeClusterRequest::default()
        .with_include_cluster_authorized_operations(true)
        .with_endpoint_type(if v >= 1 { 2 } else { 1 })
        .with_include_fenced_brokers(when(v, 2, i16::MAX, true))
        .with_unknown_tagged_fields(tags(v, 0))
}

fn consumer_group_heartbeat(v: i16) -> ConsumerGroupHeartbeatRequest {
    use consumer_group_heartbeat_request::*;
    let partitions = TopicPartitions::default()
        .with_topic_id(uuid())
        .with_partitions(vec![0, 1])
        .with_unknown_tagged_fields(tags(v, 0));
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(group("g"))
        .with_member_id(s("member-1"))
        .with_member_epoch(0)
        .with_instance_id(Some(s("instance")))
        .with_rack_id(Some(s("rack-a")))
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic("orders")]))
        .with_subscribed_topic_regex(when(v, 1, i16::MAX, Some(s("ord.*"))))
        .with_server_assignor(Some(s("uniform")))
        .with_topic_partitions(Some(vec![partitions]))
        .with_unknown_tagged_fields(tags(v, 0))
}

fn consumer_group_describe(v: i16) -> ConsumerGroupDescribeRequest {
    ConsumerGroupDescribeRequest::default()
        .with_group_ids(vec![group("g1"), group("g2")])
        .with_include_authorized_operations(true)
        .with_unknown_tagged_fields(tags(v, 0))
}
