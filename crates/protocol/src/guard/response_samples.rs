//! Fully populated responses of every api key and version the guard has a response schema for:
//! non-empty arrays at every level, non-empty strings, unknown tagged fields on every struct in
//! flexible versions and the known tagged fields set. The tests prove the response schema tables
//! against `kafka-protocol`'s encoder with them. Compiled only for tests and with the
//! `test-encoders` feature.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::samples::{group, s, tags, topic, uuid, when};

/// Stands for "and later" in the version ranges below.
const LAST: i16 = i16::MAX;

/// The encoded body of a populated response; `Err` when the guard has no response schema for it
/// or kafka-protocol refuses to encode it.
pub fn encoded_body(api_key: i16, version: i16) -> Result<Bytes, String> {
    let (min, max) = super::response_versions(api_key).unwrap_or((1, 0));
    if version < min || version > max {
        return Err(format!(
            "no response schema for api key {api_key} version {version}"
        ));
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
        29 => super::acl_samples::describe_response(v).encode(&mut buf, v),
        30 => super::acl_samples::create_response(v).encode(&mut buf, v),
        31 => super::acl_samples::delete_response(v).encode(&mut buf, v),
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
        48 => super::client_quota_samples::describe_response(v).encode(&mut buf, v),
        49 => super::client_quota_samples::alter_response(v).encode(&mut buf, v),
        50 => super::scram_samples::describe_response(v).encode(&mut buf, v),
        51 => super::scram_samples::alter_response(v).encode(&mut buf, v),
        55 => describe_quorum(v).encode(&mut buf, v),
        57 => super::admin_samples::update_features_response(v).encode(&mut buf, v),
        60 => describe_cluster(v).encode(&mut buf, v),
        64 => super::admin_samples::unregister_broker_response(v).encode(&mut buf, v),
        75 => super::admin_samples::describe_topic_partitions_response(v).encode(&mut buf, v),
        61 => describe_producers(v).encode(&mut buf, v),
        65 => describe_transactions(v).encode(&mut buf, v),
        66 => list_transactions(v).encode(&mut buf, v),
        68 => consumer_group_heartbeat(v).encode(&mut buf, v),
        69 => consumer_group_describe(v).encode(&mut buf, v),
        74 => super::config_resource_samples::response(v).encode(&mut buf, v),
        _ => return Err(format!("no response sample for api key {api_key}")),
    };
    encoded
        .map(|()| buf.freeze())
        .map_err(|e| format!("api key {api_key} version {version}: {e}"))
}

/// Decodes `body` with kafka-protocol's response decoder for `api_key`/`version`, dropping the
/// result: `Err` carries the decoder's message.
pub fn decode_body(api_key: i16, version: i16, body: Bytes) -> Result<(), String> {
    fn run<T: Decodable>(mut body: Bytes, version: i16) -> Result<(), String> {
        T::decode(&mut body, version)
            .map(drop)
            .map_err(|e| e.to_string())
    }
    let v = version;
    match api_key {
        0 => run::<ProduceResponse>(body, v),
        1 => run::<FetchResponse>(body, v),
        2 => run::<ListOffsetsResponse>(body, v),
        3 => run::<MetadataResponse>(body, v),
        8 => run::<OffsetCommitResponse>(body, v),
        9 => run::<OffsetFetchResponse>(body, v),
        10 => run::<FindCoordinatorResponse>(body, v),
        11 => run::<JoinGroupResponse>(body, v),
        12 => run::<HeartbeatResponse>(body, v),
        13 => run::<LeaveGroupResponse>(body, v),
        14 => run::<SyncGroupResponse>(body, v),
        15 => run::<DescribeGroupsResponse>(body, v),
        16 => run::<ListGroupsResponse>(body, v),
        17 => run::<SaslHandshakeResponse>(body, v),
        18 => run::<ApiVersionsResponse>(body, v),
        19 => run::<CreateTopicsResponse>(body, v),
        20 => run::<DeleteTopicsResponse>(body, v),
        21 => run::<DeleteRecordsResponse>(body, v),
        22 => run::<InitProducerIdResponse>(body, v),
        23 => run::<OffsetForLeaderEpochResponse>(body, v),
        24 => run::<AddPartitionsToTxnResponse>(body, v),
        25 => run::<AddOffsetsToTxnResponse>(body, v),
        26 => run::<EndTxnResponse>(body, v),
        27 => run::<WriteTxnMarkersResponse>(body, v),
        28 => run::<TxnOffsetCommitResponse>(body, v),
        29 => run::<DescribeAclsResponse>(body, v),
        30 => run::<CreateAclsResponse>(body, v),
        31 => run::<DeleteAclsResponse>(body, v),
        32 => run::<DescribeConfigsResponse>(body, v),
        33 => run::<AlterConfigsResponse>(body, v),
        34 => run::<AlterReplicaLogDirsResponse>(body, v),
        35 => run::<DescribeLogDirsResponse>(body, v),
        36 => run::<SaslAuthenticateResponse>(body, v),
        37 => run::<CreatePartitionsResponse>(body, v),
        42 => run::<DeleteGroupsResponse>(body, v),
        43 => run::<ElectLeadersResponse>(body, v),
        44 => run::<IncrementalAlterConfigsResponse>(body, v),
        45 => run::<AlterPartitionReassignmentsResponse>(body, v),
        46 => run::<ListPartitionReassignmentsResponse>(body, v),
        47 => run::<OffsetDeleteResponse>(body, v),
        48 => run::<DescribeClientQuotasResponse>(body, v),
        49 => run::<AlterClientQuotasResponse>(body, v),
        50 => run::<DescribeUserScramCredentialsResponse>(body, v),
        51 => run::<AlterUserScramCredentialsResponse>(body, v),
        55 => run::<DescribeQuorumResponse>(body, v),
        57 => run::<UpdateFeaturesResponse>(body, v),
        60 => run::<DescribeClusterResponse>(body, v),
        64 => run::<UnregisterBrokerResponse>(body, v),
        75 => run::<DescribeTopicPartitionsResponse>(body, v),
        61 => run::<DescribeProducersResponse>(body, v),
        65 => run::<DescribeTransactionsResponse>(body, v),
        66 => run::<ListTransactionsResponse>(body, v),
        68 => run::<ConsumerGroupHeartbeatResponse>(body, v),
        69 => run::<ConsumerGroupDescribeResponse>(body, v),
        74 => run::<ListConfigResourcesResponse>(body, v),
        other => Err(format!("no response decoder wired for api key {other}")),
    }
}

fn produce(v: i16) -> ProduceResponse {
    use produce_response::*;
    let record_error = BatchIndexAndErrorMessage::default()
        .with_batch_index(2)
        .with_batch_index_error_message(Some(s("null key on a compacted topic")))
        .with_unknown_tagged_fields(tags(v, 9));
    let leader = LeaderIdAndEpoch::default()
        .with_leader_id(BrokerId(if v >= 10 { 2 } else { -1 }))
        .with_leader_epoch(if v >= 10 { 7 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 9));
    let partition = PartitionProduceResponse::default()
        .with_index(1)
        .with_error_code(87)
        .with_base_offset(100)
        .with_log_append_time_ms(1_700_000_000_000)
        .with_log_start_offset(10)
        .with_record_errors(when(v, 8, LAST, vec![record_error]))
        .with_error_message(when(v, 8, LAST, Some(s("invalid record"))))
        .with_current_leader(leader)
        .with_unknown_tagged_fields(tags(v, 9));
    let topic_response = TopicProduceResponse::default()
        .with_name(when(v, 0, 12, topic("orders")))
        .with_topic_id(when(v, 13, LAST, uuid()))
        .with_partition_responses(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 9));
    let endpoint = NodeEndpoint::default()
        .with_node_id(BrokerId(2))
        .with_host(s("broker-2"))
        .with_port(9092)
        .with_rack(Some(s("rack-b")))
        .with_unknown_tagged_fields(tags(v, 9));
    ProduceResponse::default()
        .with_responses(vec![topic_response])
        .with_throttle_time_ms(5)
        .with_node_endpoints(when(v, 10, LAST, vec![endpoint]))
        .with_unknown_tagged_fields(tags(v, 9))
}

fn fetch(v: i16) -> FetchResponse {
    use fetch_response::*;
    let aborted = AbortedTransaction::default()
        .with_producer_id(ProducerId(4000))
        .with_first_offset(17)
        .with_unknown_tagged_fields(tags(v, 12));
    let flexible = v >= 12;
    let diverging = EpochEndOffset::default()
        .with_epoch(if flexible { 3 } else { -1 })
        .with_end_offset(if flexible { 90 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 12));
    let leader = LeaderIdAndEpoch::default()
        .with_leader_id(BrokerId(if flexible { 2 } else { -1 }))
        .with_leader_epoch(if flexible { 4 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 12));
    let snapshot = SnapshotId::default()
        .with_end_offset(if flexible { 80 } else { -1 })
        .with_epoch(if flexible { 2 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 12));
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_error_code(0)
        .with_high_watermark(120)
        .with_last_stable_offset(110)
        .with_log_start_offset(5)
        .with_diverging_epoch(diverging)
        .with_current_leader(leader)
        .with_snapshot_id(snapshot)
        .with_aborted_transactions(Some(vec![aborted]))
        .with_preferred_read_replica(BrokerId(if v >= 11 { 3 } else { -1 }))
        .with_records(Some(Bytes::from_static(b"opaque record batch bytes")))
        .with_unknown_tagged_fields(tags(v, 12));
    let topic_response = FetchableTopicResponse::default()
        .with_topic(when(v, 0, 12, topic("orders")))
        .with_topic_id(when(v, 13, LAST, uuid()))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 12));
    let endpoint = NodeEndpoint::default()
        .with_node_id(BrokerId(2))
        .with_host(s("broker-2"))
        .with_port(9092)
        .with_rack(None)
        .with_unknown_tagged_fields(tags(v, 12));
    FetchResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(when(v, 7, LAST, 70))
        .with_session_id(when(v, 7, LAST, 12))
        .with_responses(vec![topic_response])
        .with_node_endpoints(when(v, 16, LAST, vec![endpoint]))
        .with_unknown_tagged_fields(tags(v, 12))
}

fn list_offsets(v: i16) -> ListOffsetsResponse {
    use list_offsets_response::*;
    let partition = ListOffsetsPartitionResponse::default()
        .with_partition_index(0)
        .with_error_code(0)
        .with_timestamp(1_700_000_000_000)
        .with_offset(42)
        .with_leader_epoch(if v >= 4 { 3 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 6));
    let topic_response = ListOffsetsTopicResponse::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 6));
    ListOffsetsResponse::default()
        .with_throttle_time_ms(when(v, 2, LAST, 3))
        .with_topics(vec![topic_response])
        .with_unknown_tagged_fields(tags(v, 6))
}

fn metadata(v: i16) -> MetadataResponse {
    use metadata_response::*;
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(1))
        .with_host(s("broker-1"))
        .with_port(9092)
        .with_rack(when(v, 1, LAST, Some(s("rack-a"))))
        .with_unknown_tagged_fields(tags(v, 9));
    let partition = MetadataResponsePartition::default()
        .with_error_code(0)
        .with_partition_index(2)
        .with_leader_id(BrokerId(1))
        .with_leader_epoch(if v >= 7 { 5 } else { -1 })
        .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
        .with_isr_nodes(vec![BrokerId(1)])
        .with_offline_replicas(when(v, 5, LAST, vec![BrokerId(2)]))
        .with_unknown_tagged_fields(tags(v, 9));
    let topic_metadata = MetadataResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(topic("orders")))
        .with_topic_id(when(v, 10, LAST, uuid()))
        .with_is_internal(when(v, 1, LAST, true))
        .with_partitions(vec![partition.clone(), partition])
        .with_topic_authorized_operations(if v >= 8 { 0x0f } else { i32::MIN })
        .with_unknown_tagged_fields(tags(v, 9));
    MetadataResponse::default()
        .with_throttle_time_ms(when(v, 3, LAST, 2))
        .with_brokers(vec![broker.clone(), broker])
        .with_cluster_id(when(v, 2, LAST, Some(s("cluster-1"))))
        .with_controller_id(BrokerId(when(v, 1, LAST, 1)))
        .with_topics(vec![topic_metadata])
        .with_cluster_authorized_operations(if (8..=10).contains(&v) {
            0x0f
        } else {
            i32::MIN
        })
        .with_error_code(when(v, 13, LAST, 0))
        .with_unknown_tagged_fields(tags(v, 9))
}

fn offset_commit(v: i16) -> OffsetCommitResponse {
    use offset_commit_response::*;
    let partition = OffsetCommitResponsePartition::default()
        .with_partition_index(3)
        .with_error_code(25)
        .with_unknown_tagged_fields(tags(v, 8));
    let topic_response = OffsetCommitResponseTopic::default()
        .with_name(when(v, 0, 9, topic("orders")))
        .with_topic_id(when(v, 10, LAST, uuid()))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 8));
    OffsetCommitResponse::default()
        .with_throttle_time_ms(when(v, 3, LAST, 2))
        .with_topics(vec![topic_response])
        .with_unknown_tagged_fields(tags(v, 8))
}

fn offset_fetch(v: i16) -> OffsetFetchResponse {
    use offset_fetch_response::*;
    let partition = OffsetFetchResponsePartition::default()
        .with_partition_index(1)
        .with_committed_offset(40)
        .with_committed_leader_epoch(if v >= 5 { 2 } else { -1 })
        .with_metadata(Some(s("meta")))
        .with_error_code(0)
        .with_unknown_tagged_fields(tags(v, 6));
    let old_topic = OffsetFetchResponseTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 6));
    let partitions = OffsetFetchResponsePartitions::default()
        .with_partition_index(1)
        .with_committed_offset(40)
        .with_committed_leader_epoch(2)
        .with_metadata(Some(s("meta")))
        .with_error_code(0)
        .with_unknown_tagged_fields(tags(v, 6));
    let topics = OffsetFetchResponseTopics::default()
        .with_name(when(v, 0, 9, topic("orders")))
        .with_topic_id(when(v, 10, LAST, uuid()))
        .with_partitions(vec![partitions])
        .with_unknown_tagged_fields(tags(v, 6));
    let response_group = OffsetFetchResponseGroup::default()
        .with_group_id(group("g1"))
        .with_topics(vec![topics])
        .with_error_code(0)
        .with_unknown_tagged_fields(tags(v, 6));
    OffsetFetchResponse::default()
        .with_throttle_time_ms(when(v, 3, LAST, 2))
        .with_topics(when(v, 0, 7, vec![old_topic]))
        .with_error_code(when(v, 2, 7, 14))
        .with_groups(when(v, 8, LAST, vec![response_group]))
        .with_unknown_tagged_fields(tags(v, 6))
}

fn find_coordinator(v: i16) -> FindCoordinatorResponse {
    use find_coordinator_response::*;
    let coordinator = Coordinator::default()
        .with_key(s("g1"))
        .with_node_id(BrokerId(2))
        .with_host(s("broker-2"))
        .with_port(9092)
        .with_error_code(0)
        .with_error_message(Some(s("ok")))
        .with_unknown_tagged_fields(tags(v, 3));
    FindCoordinatorResponse::default()
        .with_throttle_time_ms(when(v, 1, LAST, 1))
        .with_error_code(when(v, 0, 3, 15))
        .with_error_message(when(v, 1, 3, Some(s("loading"))))
        .with_node_id(BrokerId(when(v, 0, 3, 2)))
        .with_host(when(v, 0, 3, s("broker-2")))
        .with_port(when(v, 0, 3, 9092))
        .with_coordinators(when(v, 4, LAST, vec![coordinator.clone(), coordinator]))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn join_group(v: i16) -> JoinGroupResponse {
    use join_group_response::*;
    let member = JoinGroupResponseMember::default()
        .with_member_id(s("m-1"))
        .with_group_instance_id(when(v, 5, LAST, Some(s("host-a"))))
        .with_metadata(Bytes::from_static(b"subscription"))
        .with_unknown_tagged_fields(tags(v, 6));
    JoinGroupResponse::default()
        .with_throttle_time_ms(when(v, 2, LAST, 1))
        .with_error_code(0)
        .with_generation_id(3)
        .with_protocol_type(when(v, 7, LAST, Some(s("consumer"))))
        .with_protocol_name(Some(s("range")))
        .with_leader(s("m-1"))
        .with_skip_assignment(when(v, 9, LAST, true))
        .with_member_id(s("m-1"))
        .with_members(vec![member.clone(), member])
        .with_unknown_tagged_fields(tags(v, 6))
}

fn heartbeat(v: i16) -> HeartbeatResponse {
    HeartbeatResponse::default()
        .with_throttle_time_ms(when(v, 1, LAST, 1))
        .with_error_code(27)
        .with_unknown_tagged_fields(tags(v, 4))
}

fn leave_group(v: i16) -> LeaveGroupResponse {
    use leave_group_response::*;
    let member = MemberResponse::default()
        .with_member_id(s("m-1"))
        .with_group_instance_id(Some(s("host-a")))
        .with_error_code(25)
        .with_unknown_tagged_fields(tags(v, 4));
    LeaveGroupResponse::default()
        .with_throttle_time_ms(when(v, 1, LAST, 1))
        .with_error_code(0)
        .with_members(when(v, 3, LAST, vec![member.clone(), member]))
        .with_unknown_tagged_fields(tags(v, 4))
}

fn sync_group(v: i16) -> SyncGroupResponse {
    SyncGroupResponse::default()
        .with_throttle_time_ms(when(v, 1, LAST, 1))
        .with_error_code(0)
        .with_protocol_type(when(v, 5, LAST, Some(s("consumer"))))
        .with_protocol_name(when(v, 5, LAST, Some(s("range"))))
        .with_assignment(Bytes::from_static(b"assignment"))
        .with_unknown_tagged_fields(tags(v, 4))
}

fn describe_groups(v: i16) -> DescribeGroupsResponse {
    use describe_groups_response::*;
    let member = DescribedGroupMember::default()
        .with_member_id(s("m-1"))
        .with_group_instance_id(when(v, 4, LAST, Some(s("host-a"))))
        .with_client_id(s("app"))
        .with_client_host(s("/127.0.0.1"))
        .with_member_metadata(Bytes::from_static(b"meta"))
        .with_member_assignment(Bytes::from_static(b"assignment"))
        .with_unknown_tagged_fields(tags(v, 5));
    let described = DescribedGroup::default()
        .with_error_code(0)
        .with_error_message(when(v, 6, LAST, Some(s("none"))))
        .with_group_id(group("g1"))
        .with_group_state(s("Stable"))
        .with_protocol_type(s("consumer"))
        .with_protocol_data(s("range"))
        .with_members(vec![member.clone(), member])
        .with_authorized_operations(if v >= 3 { 0x0f } else { i32::MIN })
        .with_unknown_tagged_fields(tags(v, 5));
    DescribeGroupsResponse::default()
        .with_throttle_time_ms(when(v, 1, LAST, 1))
        .with_groups(vec![described])
        .with_unknown_tagged_fields(tags(v, 5))
}

fn list_groups(v: i16) -> ListGroupsResponse {
    use list_groups_response::*;
    let listed = ListedGroup::default()
        .with_group_id(group("g1"))
        .with_protocol_type(s("consumer"))
        .with_group_state(when(v, 4, LAST, s("Stable")))
        .with_group_type(when(v, 5, LAST, s("classic")))
        .with_unknown_tagged_fields(tags(v, 3));
    ListGroupsResponse::default()
        .with_throttle_time_ms(when(v, 1, LAST, 1))
        .with_error_code(0)
        .with_groups(vec![listed.clone(), listed])
        .with_unknown_tagged_fields(tags(v, 3))
}

fn sasl_handshake(_v: i16) -> SaslHandshakeResponse {
    SaslHandshakeResponse::default()
        .with_error_code(33)
        .with_mechanisms(vec![s("PLAIN"), s("SCRAM-SHA-256")])
}

fn api_versions(v: i16) -> ApiVersionsResponse {
    use api_versions_response::*;
    let api = ApiVersion::default()
        .with_api_key(3)
        .with_min_version(0)
        .with_max_version(13)
        .with_unknown_tagged_fields(tags(v, 3));
    let supported = SupportedFeatureKey::default()
        .with_name(s("metadata.version"))
        .with_min_version(1)
        .with_max_version(20)
        .with_unknown_tagged_fields(tags(v, 3));
    let finalized = FinalizedFeatureKey::default()
        .with_name(s("metadata.version"))
        .with_max_version_level(20)
        .with_min_version_level(20)
        .with_unknown_tagged_fields(tags(v, 3));
    ApiVersionsResponse::default()
        .with_error_code(0)
        .with_api_keys(vec![api.clone(), api])
        .with_throttle_time_ms(when(v, 1, LAST, 1))
        .with_supported_features(when(v, 3, LAST, vec![supported]))
        .with_finalized_features_epoch(if v >= 3 { 9 } else { -1 })
        .with_finalized_features(when(v, 3, LAST, vec![finalized]))
        .with_zk_migration_ready(when(v, 3, LAST, true))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn create_topics(v: i16) -> CreateTopicsResponse {
    use create_topics_response::*;
    let config = CreatableTopicConfigs::default()
        .with_name(s("retention.ms"))
        .with_value(Some(s("1000")))
        .with_read_only(true)
        .with_config_source(1)
        .with_is_sensitive(true)
        .with_unknown_tagged_fields(tags(v, 5));
    let result = CreatableTopicResult::default()
        .with_name(topic("orders"))
        .with_topic_id(when(v, 7, LAST, uuid()))
        .with_error_code(36)
        .with_error_message(Some(s("exists")))
        .with_topic_config_error_code(when(v, 5, LAST, 40))
        .with_num_partitions(if v >= 5 { 3 } else { -1 })
        .with_replication_factor(if v >= 5 { 1 } else { -1 })
        .with_configs(when(v, 5, LAST, Some(vec![config.clone(), config])))
        .with_unknown_tagged_fields(tags(v, 5));
    CreateTopicsResponse::default()
        .with_throttle_time_ms(1)
        .with_topics(vec![result])
        .with_unknown_tagged_fields(tags(v, 5))
}

fn delete_topics(v: i16) -> DeleteTopicsResponse {
    use delete_topics_response::*;
    let result = DeletableTopicResult::default()
        .with_name(Some(topic("orders")))
        .with_topic_id(when(v, 6, LAST, uuid()))
        .with_error_code(3)
        .with_error_message(when(v, 5, LAST, Some(s("unknown"))))
        .with_unknown_tagged_fields(tags(v, 4));
    DeleteTopicsResponse::default()
        .with_throttle_time_ms(1)
        .with_responses(vec![result.clone(), result])
        .with_unknown_tagged_fields(tags(v, 4))
}

fn delete_records(v: i16) -> DeleteRecordsResponse {
    use delete_records_response::*;
    let partition = DeleteRecordsPartitionResult::default()
        .with_partition_index(0)
        .with_low_watermark(50)
        .with_error_code(0)
        .with_unknown_tagged_fields(tags(v, 2));
    let result = DeleteRecordsTopicResult::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 2));
    DeleteRecordsResponse::default()
        .with_throttle_time_ms(1)
        .with_topics(vec![result])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn init_producer_id(v: i16) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_producer_id(ProducerId(4000))
        .with_producer_epoch(2)
        .with_ongoing_txn_producer_id(ProducerId(if v >= 6 { 3999 } else { -1 }))
        .with_ongoing_txn_producer_epoch(if v >= 6 { 1 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 2))
}

fn offset_for_leader_epoch(v: i16) -> OffsetForLeaderEpochResponse {
    use offset_for_leader_epoch_response::*;
    let partition = EpochEndOffset::default()
        .with_error_code(0)
        .with_partition(1)
        .with_leader_epoch(4)
        .with_end_offset(99)
        .with_unknown_tagged_fields(tags(v, 4));
    let result = OffsetForLeaderTopicResult::default()
        .with_topic(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 4));
    OffsetForLeaderEpochResponse::default()
        .with_throttle_time_ms(1)
        .with_topics(vec![result])
        .with_unknown_tagged_fields(tags(v, 4))
}

fn add_partitions_to_txn(v: i16) -> AddPartitionsToTxnResponse {
    use add_partitions_to_txn_response::*;
    let partition = AddPartitionsToTxnPartitionResult::default()
        .with_partition_index(0)
        .with_partition_error_code(48)
        .with_unknown_tagged_fields(tags(v, 3));
    let topic_result = AddPartitionsToTxnTopicResult::default()
        .with_name(topic("orders"))
        .with_results_by_partition(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 3));
    let transaction = AddPartitionsToTxnResult::default()
        .with_transactional_id(TransactionalId(s("txn")))
        .with_topic_results(vec![topic_result.clone()])
        .with_unknown_tagged_fields(tags(v, 3));
    AddPartitionsToTxnResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(when(v, 4, LAST, 0))
        .with_results_by_transaction(when(v, 4, LAST, vec![transaction]))
        .with_results_by_topic_v3_and_below(when(v, 0, 3, vec![topic_result]))
        .with_unknown_tagged_fields(tags(v, 3))
}

fn add_offsets_to_txn(v: i16) -> AddOffsetsToTxnResponse {
    AddOffsetsToTxnResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(51)
        .with_unknown_tagged_fields(tags(v, 3))
}

fn end_txn(v: i16) -> EndTxnResponse {
    EndTxnResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_producer_id(ProducerId(if v >= 5 { 4000 } else { -1 }))
        .with_producer_epoch(if v >= 5 { 3 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 3))
}

fn write_txn_markers(v: i16) -> WriteTxnMarkersResponse {
    use write_txn_markers_response::*;
    let partition = WritableTxnMarkerPartitionResult::default()
        .with_partition_index(0)
        .with_error_code(0)
        .with_unknown_tagged_fields(tags(v, 1));
    let topic_result = WritableTxnMarkerTopicResult::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 1));
    let marker = WritableTxnMarkerResult::default()
        .with_producer_id(ProducerId(4000))
        .with_topics(vec![topic_result])
        .with_unknown_tagged_fields(tags(v, 1));
    WriteTxnMarkersResponse::default()
        .with_markers(vec![marker])
        .with_unknown_tagged_fields(tags(v, 1))
}

fn txn_offset_commit(v: i16) -> TxnOffsetCommitResponse {
    use txn_offset_commit_response::*;
    let partition = TxnOffsetCommitResponsePartition::default()
        .with_partition_index(0)
        .with_error_code(0)
        .with_unknown_tagged_fields(tags(v, 3));
    let topic_response = TxnOffsetCommitResponseTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 3));
    TxnOffsetCommitResponse::default()
        .with_throttle_time_ms(1)
        .with_topics(vec![topic_response])
        .with_unknown_tagged_fields(tags(v, 3))
}

fn describe_configs(v: i16) -> DescribeConfigsResponse {
    use describe_configs_response::*;
    let synonym = DescribeConfigsSynonym::default()
        .with_name(s("log.retention.ms"))
        .with_value(Some(s("1000")))
        .with_source(4)
        .with_unknown_tagged_fields(tags(v, 4));
    let config = DescribeConfigsResourceResult::default()
        .with_name(s("retention.ms"))
        .with_value(Some(s("1000")))
        .with_read_only(false)
        .with_config_source(1)
        .with_is_sensitive(false)
        .with_synonyms(vec![synonym])
        .with_config_type(when(v, 3, LAST, 5))
        .with_documentation(when(v, 3, LAST, Some(s("how long"))))
        .with_unknown_tagged_fields(tags(v, 4));
    let result = DescribeConfigsResult::default()
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_configs(vec![config.clone(), config])
        .with_unknown_tagged_fields(tags(v, 4));
    DescribeConfigsResponse::default()
        .with_throttle_time_ms(1)
        .with_results(vec![result])
        .with_unknown_tagged_fields(tags(v, 4))
}

fn alter_configs(v: i16) -> AlterConfigsResponse {
    use alter_configs_response::*;
    let response = AlterConfigsResourceResponse::default()
        .with_error_code(40)
        .with_error_message(Some(s("invalid value")))
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_unknown_tagged_fields(tags(v, 2));
    AlterConfigsResponse::default()
        .with_throttle_time_ms(1)
        .with_responses(vec![response.clone(), response])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn alter_replica_log_dirs(v: i16) -> AlterReplicaLogDirsResponse {
    use alter_replica_log_dirs_response::*;
    let partition = AlterReplicaLogDirPartitionResult::default()
        .with_partition_index(0)
        .with_error_code(57)
        .with_unknown_tagged_fields(tags(v, 2));
    AlterReplicaLogDirsResponse::default()
        .with_throttle_time_ms(1)
        .with_results(vec![AlterReplicaLogDirTopicResult::default()
            .with_topic_name(topic("orders"))
            .with_partitions(vec![partition.clone(), partition])
            .with_unknown_tagged_fields(tags(v, 2))])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn describe_log_dirs(v: i16) -> DescribeLogDirsResponse {
    use describe_log_dirs_response::*;
    let partition = DescribeLogDirsPartition::default()
        .with_partition_index(0)
        .with_partition_size(4096)
        .with_offset_lag(0)
        .with_is_future_key(false)
        .with_unknown_tagged_fields(tags(v, 2));
    let dir_topic = DescribeLogDirsTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 2));
    let result = DescribeLogDirsResult::default()
        .with_error_code(0)
        .with_log_dir(s("/var/lib/sluice"))
        .with_topics(vec![dir_topic])
        .with_total_bytes(if v >= 4 { 1 << 30 } else { -1 })
        .with_usable_bytes(if v >= 4 { 1 << 29 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 2));
    DescribeLogDirsResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(when(v, 3, LAST, 0))
        .with_results(vec![result])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn sasl_authenticate(v: i16) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse::default()
        .with_error_code(58)
        .with_error_message(Some(s("bad password")))
        .with_auth_bytes(Bytes::from_static(b"challenge"))
        .with_session_lifetime_ms(when(v, 1, LAST, 60_000))
        .with_unknown_tagged_fields(tags(v, 2))
}

fn create_partitions(v: i16) -> CreatePartitionsResponse {
    use create_partitions_response::*;
    let result = CreatePartitionsTopicResult::default()
        .with_name(topic("orders"))
        .with_error_code(37)
        .with_error_message(Some(s("cannot shrink")))
        .with_unknown_tagged_fields(tags(v, 2));
    CreatePartitionsResponse::default()
        .with_throttle_time_ms(1)
        .with_results(vec![result.clone(), result])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn delete_groups(v: i16) -> DeleteGroupsResponse {
    use delete_groups_response::*;
    let result = DeletableGroupResult::default()
        .with_group_id(group("g1"))
        .with_error_code(68)
        .with_unknown_tagged_fields(tags(v, 2));
    DeleteGroupsResponse::default()
        .with_throttle_time_ms(1)
        .with_results(vec![result.clone(), result])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn elect_leaders(v: i16) -> ElectLeadersResponse {
    use elect_leaders_response::*;
    let partition = PartitionResult::default()
        .with_partition_id(0)
        .with_error_code(84)
        .with_error_message(Some(s("not needed")))
        .with_unknown_tagged_fields(tags(v, 2));
    let result = ReplicaElectionResult::default()
        .with_topic(topic("orders"))
        .with_partition_result(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 2));
    ElectLeadersResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(when(v, 1, LAST, 0))
        .with_replica_election_results(vec![result])
        .with_unknown_tagged_fields(tags(v, 2))
}

fn incremental_alter_configs(v: i16) -> IncrementalAlterConfigsResponse {
    use incremental_alter_configs_response::*;
    let response = AlterConfigsResourceResponse::default()
        .with_error_code(40)
        .with_error_message(Some(s("invalid value")))
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_unknown_tagged_fields(tags(v, 1));
    IncrementalAlterConfigsResponse::default()
        .with_throttle_time_ms(1)
        .with_responses(vec![response.clone(), response])
        .with_unknown_tagged_fields(tags(v, 1))
}

fn alter_partition_reassignments(v: i16) -> AlterPartitionReassignmentsResponse {
    use alter_partition_reassignments_response::*;
    let partition = ReassignablePartitionResponse::default()
        .with_partition_index(0)
        .with_error_code(39)
        .with_error_message(Some(s("unknown broker")))
        .with_unknown_tagged_fields(tags(v, 0));
    let topic_response = ReassignableTopicResponse::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 0));
    AlterPartitionReassignmentsResponse::default()
        .with_throttle_time_ms(1)
        .with_allow_replication_factor_change(false)
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_responses(vec![topic_response])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn list_partition_reassignments(v: i16) -> ListPartitionReassignmentsResponse {
    use list_partition_reassignments_response::*;
    let partition = OngoingPartitionReassignment::default()
        .with_partition_index(0)
        .with_replicas(vec![BrokerId(1), BrokerId(2), BrokerId(3)])
        .with_adding_replicas(vec![BrokerId(3)])
        .with_removing_replicas(vec![BrokerId(1)])
        .with_unknown_tagged_fields(tags(v, 0));
    let ongoing = OngoingTopicReassignment::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition])
        .with_unknown_tagged_fields(tags(v, 0));
    ListPartitionReassignmentsResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_topics(vec![ongoing])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn offset_delete(_v: i16) -> OffsetDeleteResponse {
    use offset_delete_response::*;
    let partition = OffsetDeleteResponsePartition::default()
        .with_partition_index(0)
        .with_error_code(86);
    let topic_response = OffsetDeleteResponseTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition]);
    OffsetDeleteResponse::default()
        .with_error_code(0)
        .with_throttle_time_ms(1)
        .with_topics(vec![topic_response])
}

fn describe_quorum(v: i16) -> DescribeQuorumResponse {
    use describe_quorum_response::*;
    let voter = ReplicaState::default()
        .with_replica_id(BrokerId(1))
        .with_replica_directory_id(when(v, 2, LAST, uuid()))
        .with_log_end_offset(42)
        .with_last_fetch_timestamp(if v >= 1 { 1_700_000_000_000 } else { -1 })
        .with_last_caught_up_timestamp(if v >= 1 { 1_700_000_000_000 } else { -1 })
        .with_unknown_tagged_fields(tags(v, 0));
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_error_code(0)
        .with_error_message(when(v, 2, LAST, Some(s("none"))))
        .with_leader_id(BrokerId(1))
        .with_leader_epoch(3)
        .with_high_watermark(42)
        .with_current_voters(vec![voter.clone(), voter.clone()])
        .with_observers(vec![voter])
        .with_unknown_tagged_fields(tags(v, 0));
    let listener = Listener::default()
        .with_name(s("CONTROLLER"))
        .with_host(s("127.0.0.1"))
        .with_port(9093)
        .with_unknown_tagged_fields(tags(v, 0));
    let node = Node::default()
        .with_node_id(BrokerId(1))
        .with_listeners(vec![listener])
        .with_unknown_tagged_fields(tags(v, 0));
    DescribeQuorumResponse::default()
        .with_error_code(0)
        .with_error_message(when(v, 2, LAST, Some(s("none"))))
        .with_topics(vec![TopicData::default()
            .with_topic_name(topic("__cluster_metadata"))
            .with_partitions(vec![partition])
            .with_unknown_tagged_fields(tags(v, 0))])
        .with_nodes(when(v, 2, LAST, vec![node]))
        .with_unknown_tagged_fields(tags(v, 0))
}

fn describe_cluster(v: i16) -> DescribeClusterResponse {
    use describe_cluster_response::*;
    let broker = DescribeClusterBroker::default()
        .with_broker_id(BrokerId(1))
        .with_host(s("broker-1"))
        .with_port(9092)
        .with_rack(Some(s("rack-a")))
        .with_is_fenced(when(v, 2, LAST, true))
        .with_unknown_tagged_fields(tags(v, 0));
    DescribeClusterResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        // kafka-protocol's default endpoint_type is 1 (brokers).
        .with_endpoint_type(if v >= 1 { 2 } else { 1 })
        .with_cluster_id(s("cluster-1"))
        .with_controller_id(BrokerId(1))
        .with_brokers(vec![broker.clone(), broker])
        .with_cluster_authorized_operations(0x0f)
        .with_unknown_tagged_fields(tags(v, 0))
}

fn describe_producers(v: i16) -> DescribeProducersResponse {
    use describe_producers_response::*;
    let producer = ProducerState::default()
        .with_producer_id(ProducerId(4000))
        .with_producer_epoch(2)
        .with_last_sequence(41)
        .with_last_timestamp(1_700_000_000_000)
        .with_coordinator_epoch(1)
        .with_current_txn_start_offset(17)
        .with_unknown_tagged_fields(tags(v, 0));
    let partition = PartitionResponse::default()
        .with_partition_index(0)
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_active_producers(vec![producer.clone(), producer])
        .with_unknown_tagged_fields(tags(v, 0));
    let topic_response = TopicResponse::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition])
        .with_unknown_tagged_fields(tags(v, 0));
    DescribeProducersResponse::default()
        .with_throttle_time_ms(1)
        .with_topics(vec![topic_response])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn describe_transactions(v: i16) -> DescribeTransactionsResponse {
    use describe_transactions_response::*;
    let data = TopicData::default()
        .with_topic(topic("orders"))
        .with_partitions(vec![0, 1])
        .with_unknown_tagged_fields(tags(v, 0));
    let state = TransactionState::default()
        .with_error_code(0)
        .with_transactional_id(TransactionalId(s("txn")))
        .with_transaction_state(s("Ongoing"))
        .with_transaction_timeout_ms(60_000)
        .with_transaction_start_time_ms(1_700_000_000_000)
        .with_producer_id(ProducerId(4000))
        .with_producer_epoch(2)
        .with_topics(vec![data.clone(), data])
        .with_unknown_tagged_fields(tags(v, 0));
    DescribeTransactionsResponse::default()
        .with_throttle_time_ms(1)
        .with_transaction_states(vec![state])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn list_transactions(v: i16) -> ListTransactionsResponse {
    use list_transactions_response::*;
    let state = TransactionState::default()
        .with_transactional_id(TransactionalId(s("txn")))
        .with_producer_id(ProducerId(4000))
        .with_transaction_state(s("Ongoing"))
        .with_unknown_tagged_fields(tags(v, 0));
    ListTransactionsResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_unknown_state_filters(vec![s("Sleeping")])
        .with_transaction_states(vec![state.clone(), state])
        .with_unknown_tagged_fields(tags(v, 0))
}

fn consumer_group_heartbeat(v: i16) -> ConsumerGroupHeartbeatResponse {
    use consumer_group_heartbeat_response::*;
    let partitions = TopicPartitions::default()
        .with_topic_id(uuid())
        .with_partitions(vec![0, 1])
        .with_unknown_tagged_fields(tags(v, 0));
    let assignment = Assignment::default()
        .with_topic_partitions(vec![partitions.clone(), partitions])
        .with_unknown_tagged_fields(tags(v, 0));
    ConsumerGroupHeartbeatResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_member_id(Some(s("m-1")))
        .with_member_epoch(4)
        .with_heartbeat_interval_ms(5000)
        .with_assignment(Some(assignment))
        .with_unknown_tagged_fields(tags(v, 0))
}

fn consumer_group_describe(v: i16) -> ConsumerGroupDescribeResponse {
    use consumer_group_describe_response::*;
    let partitions = TopicPartitions::default()
        .with_topic_id(uuid())
        .with_topic_name(topic("orders"))
        .with_partitions(vec![0, 1])
        .with_unknown_tagged_fields(tags(v, 0));
    let assignment = Assignment::default()
        .with_topic_partitions(vec![partitions])
        .with_unknown_tagged_fields(tags(v, 0));
    let member = Member::default()
        .with_member_id(s("m-1"))
        .with_instance_id(Some(s("host-a")))
        .with_rack_id(Some(s("rack-a")))
        .with_member_epoch(4)
        .with_client_id(s("app"))
        .with_client_host(s("/127.0.0.1"))
        .with_subscribed_topic_names(vec![topic("orders")])
        .with_subscribed_topic_regex(Some(s("ord.*")))
        .with_assignment(assignment.clone())
        .with_target_assignment(assignment)
        .with_member_type(when(v, 1, LAST, 1))
        .with_unknown_tagged_fields(tags(v, 0));
    let described = DescribedGroup::default()
        .with_error_code(0)
        .with_error_message(Some(s("none")))
        .with_group_id(group("g1"))
        .with_group_state(s("Stable"))
        .with_group_epoch(4)
        .with_assignment_epoch(4)
        .with_assignor_name(s("uniform"))
        .with_members(vec![member.clone(), member])
        .with_authorized_operations(0x0f)
        .with_unknown_tagged_fields(tags(v, 0));
    ConsumerGroupDescribeResponse::default()
        .with_throttle_time_ms(1)
        .with_groups(vec![described])
        .with_unknown_tagged_fields(tags(v, 0))
}
