//! Response schemas, after Kafka's message JSON schemas (as generated into kafka-protocol 0.18,
//! i.e. Kafka 4.1): every response Sluice decodes, in the CLI, in inter-broker calls and in the
//! test harness. Field order is wire order; version ranges are inclusive. Nested struct types are
//! named after Kafka's struct names.
//!
//! The version range of a response is the one `kafka-protocol` decodes for the response message,
//! which may differ from its request's (OffsetCommit responses go to v10, requests to v9).

use super::schema::*;

pub(super) const RESPONSE_SCHEMAS: &[Schema] = &[
    // api key, name, versions kafka-protocol decodes, first flexible version, body
    Schema::new(0, "ProduceResponse", 3..=13, 9, PRODUCE),
    Schema::new(1, "FetchResponse", 4..=18, 12, FETCH),
    Schema::new(2, "ListOffsetsResponse", 1..=10, 6, LIST_OFFSETS),
    Schema::new(3, "MetadataResponse", 0..=13, 9, METADATA),
    Schema::new(8, "OffsetCommitResponse", 2..=10, 8, OFFSET_COMMIT),
    Schema::new(9, "OffsetFetchResponse", 1..=10, 6, OFFSET_FETCH),
    Schema::new(10, "FindCoordinatorResponse", 0..=6, 3, FIND_COORDINATOR),
    Schema::new(11, "JoinGroupResponse", 0..=9, 6, JOIN_GROUP),
    Schema::new(12, "HeartbeatResponse", 0..=4, 4, HEARTBEAT),
    Schema::new(13, "LeaveGroupResponse", 0..=5, 4, LEAVE_GROUP),
    Schema::new(14, "SyncGroupResponse", 0..=5, 4, SYNC_GROUP),
    Schema::new(15, "DescribeGroupsResponse", 0..=6, 5, DESCRIBE_GROUPS),
    Schema::new(16, "ListGroupsResponse", 0..=5, 3, LIST_GROUPS),
    Schema::new(17, "SaslHandshakeResponse", 0..=1, NEVER, SASL_HANDSHAKE),
    Schema::new(18, "ApiVersionsResponse", 0..=4, 3, API_VERSIONS),
    Schema::new(19, "CreateTopicsResponse", 2..=7, 5, CREATE_TOPICS),
    Schema::new(20, "DeleteTopicsResponse", 1..=6, 4, DELETE_TOPICS),
    Schema::new(21, "DeleteRecordsResponse", 0..=2, 2, DELETE_RECORDS),
    Schema::new(22, "InitProducerIdResponse", 0..=6, 2, INIT_PRODUCER_ID),
    Schema::new(
        23,
        "OffsetForLeaderEpochResponse",
        2..=4,
        4,
        OFFSET_FOR_LEADER_EPOCH,
    ),
    Schema::new(
        24,
        "AddPartitionsToTxnResponse",
        0..=5,
        3,
        ADD_PARTITIONS_TO_TXN,
    ),
    Schema::new(25, "AddOffsetsToTxnResponse", 0..=4, 3, ADD_OFFSETS_TO_TXN),
    Schema::new(26, "EndTxnResponse", 0..=5, 3, END_TXN),
    Schema::new(27, "WriteTxnMarkersResponse", 1..=1, 1, WRITE_TXN_MARKERS),
    Schema::new(28, "TxnOffsetCommitResponse", 0..=5, 3, TXN_OFFSET_COMMIT),
    Schema::new(29, "DescribeAclsResponse", 1..=3, 2, DESCRIBE_ACLS),
    Schema::new(30, "CreateAclsResponse", 1..=3, 2, CREATE_ACLS),
    Schema::new(31, "DeleteAclsResponse", 1..=3, 2, DELETE_ACLS),
    Schema::new(32, "DescribeConfigsResponse", 1..=4, 4, DESCRIBE_CONFIGS),
    Schema::new(33, "AlterConfigsResponse", 0..=2, 2, ALTER_CONFIGS),
    Schema::new(
        34,
        "AlterReplicaLogDirsResponse",
        1..=2,
        2,
        ALTER_REPLICA_LOG_DIRS,
    ),
    Schema::new(35, "DescribeLogDirsResponse", 1..=4, 2, DESCRIBE_LOG_DIRS),
    Schema::new(36, "SaslAuthenticateResponse", 0..=2, 2, SASL_AUTHENTICATE),
    Schema::new(37, "CreatePartitionsResponse", 0..=3, 2, CREATE_PARTITIONS),
    Schema::new(42, "DeleteGroupsResponse", 0..=2, 2, DELETE_GROUPS),
    Schema::new(43, "ElectLeadersResponse", 0..=2, 2, ELECT_LEADERS),
    Schema::new(
        44,
        "IncrementalAlterConfigsResponse",
        0..=1,
        1,
        INCREMENTAL_ALTER_CONFIGS,
    ),
    Schema::new(
        45,
        "AlterPartitionReassignmentsResponse",
        0..=1,
        0,
        ALTER_PARTITION_REASSIGNMENTS,
    ),
    Schema::new(
        46,
        "ListPartitionReassignmentsResponse",
        0..=0,
        0,
        LIST_PARTITION_REASSIGNMENTS,
    ),
    Schema::new(47, "OffsetDeleteResponse", 0..=0, NEVER, OFFSET_DELETE),
    Schema::new(
        48,
        "DescribeClientQuotasResponse",
        0..=1,
        1,
        DESCRIBE_CLIENT_QUOTAS,
    ),
    Schema::new(
        49,
        "AlterClientQuotasResponse",
        0..=1,
        1,
        ALTER_CLIENT_QUOTAS,
    ),
    Schema::new(
        50,
        "DescribeUserScramCredentialsResponse",
        0..=0,
        0,
        DESCRIBE_USER_SCRAM_CREDENTIALS,
    ),
    Schema::new(
        51,
        "AlterUserScramCredentialsResponse",
        0..=0,
        0,
        ALTER_USER_SCRAM_CREDENTIALS,
    ),
    Schema::new(55, "DescribeQuorumResponse", 0..=2, 0, DESCRIBE_QUORUM),
    Schema::new(57, "UpdateFeaturesResponse", 0..=2, 0, UPDATE_FEATURES),
    Schema::new(64, "UnregisterBrokerResponse", 0..=0, 0, UNREGISTER_BROKER),
    Schema::new(
        75,
        "DescribeTopicPartitionsResponse",
        0..=0,
        0,
        DESCRIBE_TOPIC_PARTITIONS,
    ),
    Schema::new(60, "DescribeClusterResponse", 0..=2, 0, DESCRIBE_CLUSTER),
    Schema::new(
        61,
        "DescribeProducersResponse",
        0..=0,
        0,
        DESCRIBE_PRODUCERS,
    ),
    Schema::new(
        65,
        "DescribeTransactionsResponse",
        0..=0,
        0,
        DESCRIBE_TRANSACTIONS,
    ),
    Schema::new(66, "ListTransactionsResponse", 0..=2, 0, LIST_TRANSACTIONS),
    Schema::new(
        68,
        "ConsumerGroupHeartbeatResponse",
        0..=1,
        0,
        CONSUMER_GROUP_HEARTBEAT,
    ),
    Schema::new(
        69,
        "ConsumerGroupDescribeResponse",
        0..=1,
        0,
        CONSUMER_GROUP_DESCRIBE,
    ),
    Schema::new(
        74,
        "ListConfigResourcesResponse",
        0..=1,
        0,
        LIST_CONFIG_RESOURCES,
    ),
];

// Shared by Produce (v10+) and Fetch (v16+): the endpoints of brokers named as new leaders.
const NODE_ENDPOINT: Ty = Ty::Struct(&[
    Field::all("node_id", INT32),
    Field::all("host", STRING),
    Field::all("port", INT32),
    Field::all("rack", STRING),
]);
const LEADER_ID_AND_EPOCH: Ty = Ty::Struct(&[
    Field::all("leader_id", INT32),
    Field::all("leader_epoch", INT32),
]);

// Produce (0)
const PRODUCE: &[Field] = &[
    Field::all("responses", Ty::Array(&TOPIC_PRODUCE_RESPONSE)),
    Field::all("throttle_time_ms", INT32),
    Field::new("node_endpoints", Ty::Array(&NODE_ENDPOINT), 10, LAST).tagged(0),
];
const TOPIC_PRODUCE_RESPONSE: Ty = Ty::Struct(&[
    Field::new("name", STRING, 0, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::all(
        "partition_responses",
        Ty::Array(&PARTITION_PRODUCE_RESPONSE),
    ),
]);
const PARTITION_PRODUCE_RESPONSE: Ty = Ty::Struct(&[
    Field::all("index", INT32),
    Field::all("error_code", INT16),
    Field::all("base_offset", INT64),
    Field::all("log_append_time_ms", INT64),
    Field::new("log_start_offset", INT64, 5, LAST),
    Field::new(
        "record_errors",
        Ty::Array(&BATCH_INDEX_AND_ERROR_MESSAGE),
        8,
        LAST,
    ),
    Field::new("error_message", STRING, 8, LAST),
    Field::new("current_leader", LEADER_ID_AND_EPOCH, 10, LAST).tagged(0),
]);
const BATCH_INDEX_AND_ERROR_MESSAGE: Ty = Ty::Struct(&[
    Field::all("batch_index", INT32),
    Field::all("batch_index_error_message", STRING),
]);

// Fetch (1)
const FETCH: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::new("error_code", INT16, 7, LAST),
    Field::new("session_id", INT32, 7, LAST),
    Field::all("responses", Ty::Array(&FETCHABLE_TOPIC_RESPONSE)),
    Field::new("node_endpoints", Ty::Array(&NODE_ENDPOINT), 16, LAST).tagged(0),
];
const FETCHABLE_TOPIC_RESPONSE: Ty = Ty::Struct(&[
    Field::new("topic", STRING, 0, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::all("partitions", Ty::Array(&FETCH_PARTITION_DATA)),
]);
const FETCH_PARTITION_DATA: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("error_code", INT16),
    Field::all("high_watermark", INT64),
    Field::all("last_stable_offset", INT64),
    Field::new("log_start_offset", INT64, 5, LAST),
    Field::new("diverging_epoch", EPOCH_END_OFFSET, 12, LAST).tagged(0),
    Field::new("current_leader", LEADER_ID_AND_EPOCH, 12, LAST).tagged(1),
    Field::new("snapshot_id", SNAPSHOT_ID, 12, LAST).tagged(2),
    Field::all("aborted_transactions", Ty::Array(&ABORTED_TRANSACTION)),
    Field::new("preferred_read_replica", INT32, 11, LAST),
    Field::all("records", RECORDS),
]);
const EPOCH_END_OFFSET: Ty =
    Ty::Struct(&[Field::all("epoch", INT32), Field::all("end_offset", INT64)]);
const SNAPSHOT_ID: Ty = Ty::Struct(&[Field::all("end_offset", INT64), Field::all("epoch", INT32)]);
const ABORTED_TRANSACTION: Ty = Ty::Struct(&[
    Field::all("producer_id", INT64),
    Field::all("first_offset", INT64),
]);

// ListOffsets (2)
const LIST_OFFSETS: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 2, LAST),
    Field::all("topics", Ty::Array(&LIST_OFFSETS_TOPIC_RESPONSE)),
];
const LIST_OFFSETS_TOPIC_RESPONSE: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&LIST_OFFSETS_PARTITION_RESPONSE)),
]);
const LIST_OFFSETS_PARTITION_RESPONSE: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("error_code", INT16),
    Field::all("timestamp", INT64),
    Field::all("offset", INT64),
    Field::new("leader_epoch", INT32, 4, LAST),
]);

// Metadata (3)
const METADATA: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 3, LAST),
    Field::all("brokers", Ty::Array(&METADATA_RESPONSE_BROKER)),
    Field::new("cluster_id", STRING, 2, LAST),
    Field::new("controller_id", INT32, 1, LAST),
    Field::all("topics", Ty::Array(&METADATA_RESPONSE_TOPIC)),
    Field::new("cluster_authorized_operations", INT32, 8, 10),
    Field::new("error_code", INT16, 13, LAST),
];
const METADATA_RESPONSE_BROKER: Ty = Ty::Struct(&[
    Field::all("node_id", INT32),
    Field::all("host", STRING),
    Field::all("port", INT32),
    Field::new("rack", STRING, 1, LAST),
]);
const METADATA_RESPONSE_TOPIC: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("name", STRING),
    Field::new("topic_id", UUID, 10, LAST),
    Field::new("is_internal", BOOL, 1, LAST),
    Field::all("partitions", Ty::Array(&METADATA_RESPONSE_PARTITION)),
    Field::new("topic_authorized_operations", INT32, 8, LAST),
]);
const METADATA_RESPONSE_PARTITION: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("partition_index", INT32),
    Field::all("leader_id", INT32),
    Field::new("leader_epoch", INT32, 7, LAST),
    Field::all("replica_nodes", ARRAY_INT32),
    Field::all("isr_nodes", ARRAY_INT32),
    Field::new("offline_replicas", ARRAY_INT32, 5, LAST),
]);

// OffsetCommit (8)
const OFFSET_COMMIT: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 3, LAST),
    Field::all("topics", Ty::Array(&OFFSET_COMMIT_RESPONSE_TOPIC)),
];
const OFFSET_COMMIT_RESPONSE_TOPIC: Ty = Ty::Struct(&[
    Field::new("name", STRING, 0, 9),
    Field::new("topic_id", UUID, 10, LAST),
    Field::all("partitions", Ty::Array(&PARTITION_ERROR)),
]);
/// `partition_index`, `error_code`: the partition results of OffsetCommit, TxnOffsetCommit,
/// OffsetDelete and WriteTxnMarkers.
const PARTITION_ERROR: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("error_code", INT16),
]);

// OffsetFetch (9)
const OFFSET_FETCH: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 3, LAST),
    Field::new("topics", Ty::Array(&OFFSET_FETCH_RESPONSE_TOPIC), 0, 7),
    Field::new("error_code", INT16, 2, 7),
    Field::new("groups", Ty::Array(&OFFSET_FETCH_RESPONSE_GROUP), 8, LAST),
];
const OFFSET_FETCH_RESPONSE_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&OFFSET_FETCH_RESPONSE_PARTITION)),
]);
const OFFSET_FETCH_RESPONSE_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("committed_offset", INT64),
    Field::new("committed_leader_epoch", INT32, 5, LAST),
    Field::all("metadata", STRING),
    Field::all("error_code", INT16),
]);
const OFFSET_FETCH_RESPONSE_GROUP: Ty = Ty::Struct(&[
    Field::all("group_id", STRING),
    Field::all("topics", Ty::Array(&OFFSET_FETCH_RESPONSE_TOPICS)),
    Field::all("error_code", INT16),
]);
const OFFSET_FETCH_RESPONSE_TOPICS: Ty = Ty::Struct(&[
    Field::new("name", STRING, 0, 9),
    Field::new("topic_id", UUID, 10, LAST),
    Field::all("partitions", Ty::Array(&OFFSET_FETCH_RESPONSE_PARTITIONS)),
]);
const OFFSET_FETCH_RESPONSE_PARTITIONS: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("committed_offset", INT64),
    Field::all("committed_leader_epoch", INT32),
    Field::all("metadata", STRING),
    Field::all("error_code", INT16),
]);

// FindCoordinator (10)
const FIND_COORDINATOR: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 1, LAST),
    Field::new("error_code", INT16, 0, 3),
    Field::new("error_message", STRING, 1, 3),
    Field::new("node_id", INT32, 0, 3),
    Field::new("host", STRING, 0, 3),
    Field::new("port", INT32, 0, 3),
    Field::new("coordinators", Ty::Array(&COORDINATOR), 4, LAST),
];
const COORDINATOR: Ty = Ty::Struct(&[
    Field::all("key", STRING),
    Field::all("node_id", INT32),
    Field::all("host", STRING),
    Field::all("port", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
]);

// JoinGroup (11)
const JOIN_GROUP: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 2, LAST),
    Field::all("error_code", INT16),
    Field::all("generation_id", INT32),
    Field::new("protocol_type", STRING, 7, LAST),
    Field::all("protocol_name", STRING),
    Field::all("leader", STRING),
    Field::new("skip_assignment", BOOL, 9, LAST),
    Field::all("member_id", STRING),
    Field::all("members", Ty::Array(&JOIN_GROUP_RESPONSE_MEMBER)),
];
const JOIN_GROUP_RESPONSE_MEMBER: Ty = Ty::Struct(&[
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 5, LAST),
    Field::all("metadata", BYTES),
]);

// Heartbeat (12)
const HEARTBEAT: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 1, LAST),
    Field::all("error_code", INT16),
];

// LeaveGroup (13)
const LEAVE_GROUP: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 1, LAST),
    Field::all("error_code", INT16),
    Field::new("members", Ty::Array(&MEMBER_RESPONSE), 3, LAST),
];
const MEMBER_RESPONSE: Ty = Ty::Struct(&[
    Field::all("member_id", STRING),
    Field::all("group_instance_id", STRING),
    Field::all("error_code", INT16),
]);

// SyncGroup (14)
const SYNC_GROUP: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 1, LAST),
    Field::all("error_code", INT16),
    Field::new("protocol_type", STRING, 5, LAST),
    Field::new("protocol_name", STRING, 5, LAST),
    Field::all("assignment", BYTES),
];

// DescribeGroups (15)
const DESCRIBE_GROUPS: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 1, LAST),
    Field::all("groups", Ty::Array(&DESCRIBED_GROUP)),
];
const DESCRIBED_GROUP: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::new("error_message", STRING, 6, LAST),
    Field::all("group_id", STRING),
    Field::all("group_state", STRING),
    Field::all("protocol_type", STRING),
    Field::all("protocol_data", STRING),
    Field::all("members", Ty::Array(&DESCRIBED_GROUP_MEMBER)),
    Field::new("authorized_operations", INT32, 3, LAST),
]);
const DESCRIBED_GROUP_MEMBER: Ty = Ty::Struct(&[
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 4, LAST),
    Field::all("client_id", STRING),
    Field::all("client_host", STRING),
    Field::all("member_metadata", BYTES),
    Field::all("member_assignment", BYTES),
]);

// ListGroups (16)
const LIST_GROUPS: &[Field] = &[
    Field::new("throttle_time_ms", INT32, 1, LAST),
    Field::all("error_code", INT16),
    Field::all("groups", Ty::Array(&LISTED_GROUP)),
];
const LISTED_GROUP: Ty = Ty::Struct(&[
    Field::all("group_id", STRING),
    Field::all("protocol_type", STRING),
    Field::new("group_state", STRING, 4, LAST),
    Field::new("group_type", STRING, 5, LAST),
]);

// SaslHandshake (17)
const SASL_HANDSHAKE: &[Field] = &[
    Field::all("error_code", INT16),
    Field::all("mechanisms", ARRAY_STRING),
];

// ApiVersions (18). Its response header is always v0, even where the body is flexible.
const API_VERSIONS: &[Field] = &[
    Field::all("error_code", INT16),
    Field::all("api_keys", Ty::Array(&API_VERSION)),
    Field::new("throttle_time_ms", INT32, 1, LAST),
    Field::new(
        "supported_features",
        Ty::Array(&SUPPORTED_FEATURE_KEY),
        3,
        LAST,
    )
    .tagged(0),
    Field::new("finalized_features_epoch", INT64, 3, LAST).tagged(1),
    Field::new(
        "finalized_features",
        Ty::Array(&FINALIZED_FEATURE_KEY),
        3,
        LAST,
    )
    .tagged(2),
    Field::new("zk_migration_ready", BOOL, 3, LAST).tagged(3),
];
const API_VERSION: Ty = Ty::Struct(&[
    Field::all("api_key", INT16),
    Field::all("min_version", INT16),
    Field::all("max_version", INT16),
]);
const SUPPORTED_FEATURE_KEY: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("min_version", INT16),
    Field::all("max_version", INT16),
]);
const FINALIZED_FEATURE_KEY: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("max_version_level", INT16),
    Field::all("min_version_level", INT16),
]);

// CreateTopics (19)
const CREATE_TOPICS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("topics", Ty::Array(&CREATABLE_TOPIC_RESULT)),
];
const CREATABLE_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::new("topic_id", UUID, 7, LAST),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::new("topic_config_error_code", INT16, 5, LAST).tagged(0),
    Field::new("num_partitions", INT32, 5, LAST),
    Field::new("replication_factor", INT16, 5, LAST),
    Field::new("configs", Ty::Array(&CREATABLE_TOPIC_CONFIGS), 5, LAST),
]);
const CREATABLE_TOPIC_CONFIGS: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("value", STRING),
    Field::all("read_only", BOOL),
    Field::all("config_source", INT8),
    Field::all("is_sensitive", BOOL),
]);

// DeleteTopics (20)
const DELETE_TOPICS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("responses", Ty::Array(&DELETABLE_TOPIC_RESULT)),
];
const DELETABLE_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::new("topic_id", UUID, 6, LAST),
    Field::all("error_code", INT16),
    Field::new("error_message", STRING, 5, LAST),
]);

// DeleteRecords (21)
const DELETE_RECORDS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("topics", Ty::Array(&DELETE_RECORDS_TOPIC_RESULT)),
];
const DELETE_RECORDS_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&DELETE_RECORDS_PARTITION_RESULT)),
]);
const DELETE_RECORDS_PARTITION_RESULT: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("low_watermark", INT64),
    Field::all("error_code", INT16),
]);

// InitProducerId (22)
const INIT_PRODUCER_ID: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::new("ongoing_txn_producer_id", INT64, 6, LAST),
    Field::new("ongoing_txn_producer_epoch", INT16, 6, LAST),
];

// OffsetForLeaderEpoch (23)
const OFFSET_FOR_LEADER_EPOCH: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("topics", Ty::Array(&OFFSET_FOR_LEADER_TOPIC_RESULT)),
];
const OFFSET_FOR_LEADER_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", Ty::Array(&EPOCH_END_OFFSET_RESULT)),
]);
const EPOCH_END_OFFSET_RESULT: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("partition", INT32),
    Field::all("leader_epoch", INT32),
    Field::all("end_offset", INT64),
]);

// AddPartitionsToTxn (24): v4+ answers per transaction (batched and verify-only requests),
// v0-3 per topic of the one transaction.
const ADD_PARTITIONS_TO_TXN: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::new("error_code", INT16, 4, LAST),
    Field::new(
        "results_by_transaction",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_RESULT),
        4,
        LAST,
    ),
    Field::new(
        "results_by_topic_v3_and_below",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_TOPIC_RESULT),
        0,
        3,
    ),
];
const ADD_PARTITIONS_TO_TXN_RESULT: Ty = Ty::Struct(&[
    Field::all("transactional_id", STRING),
    Field::all(
        "topic_results",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_TOPIC_RESULT),
    ),
]);
const ADD_PARTITIONS_TO_TXN_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all(
        "results_by_partition",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_PARTITION_RESULT),
    ),
]);
const ADD_PARTITIONS_TO_TXN_PARTITION_RESULT: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("partition_error_code", INT16),
]);

// AddOffsetsToTxn (25)
const ADD_OFFSETS_TO_TXN: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
];

// EndTxn (26)
const END_TXN: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::new("producer_id", INT64, 5, LAST),
    Field::new("producer_epoch", INT16, 5, LAST),
];

// WriteTxnMarkers (27)
const WRITE_TXN_MARKERS: &[Field] = &[Field::all(
    "markers",
    Ty::Array(&WRITABLE_TXN_MARKER_RESULT),
)];
const WRITABLE_TXN_MARKER_RESULT: Ty = Ty::Struct(&[
    Field::all("producer_id", INT64),
    Field::all("topics", Ty::Array(&WRITABLE_TXN_MARKER_TOPIC_RESULT)),
]);
const WRITABLE_TXN_MARKER_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&PARTITION_ERROR)),
]);

// TxnOffsetCommit (28)
const TXN_OFFSET_COMMIT: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("topics", Ty::Array(&TXN_OFFSET_COMMIT_RESPONSE_TOPIC)),
];
const TXN_OFFSET_COMMIT_RESPONSE_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&PARTITION_ERROR)),
]);

// DescribeAcls (29)
const DESCRIBE_ACLS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("resources", Ty::Array(&DESCRIBE_ACLS_RESOURCE)),
];
const DESCRIBE_ACLS_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("pattern_type", INT8),
    Field::all("acls", Ty::Array(&ACL_DESCRIPTION)),
]);
const ACL_DESCRIPTION: Ty = Ty::Struct(&[
    Field::all("principal", STRING),
    Field::all("host", STRING),
    Field::all("operation", INT8),
    Field::all("permission_type", INT8),
]);

// CreateAcls (30): one result per creation, in request order.
const CREATE_ACLS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("results", Ty::Array(&ACL_CREATION_RESULT)),
];
const ACL_CREATION_RESULT: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
]);

// DeleteAcls (31): one result per filter, in request order.
const DELETE_ACLS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("filter_results", Ty::Array(&DELETE_ACLS_FILTER_RESULT)),
];
const DELETE_ACLS_FILTER_RESULT: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("matching_acls", Ty::Array(&DELETE_ACLS_MATCHING_ACL)),
]);
const DELETE_ACLS_MATCHING_ACL: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("pattern_type", INT8),
    Field::all("principal", STRING),
    Field::all("host", STRING),
    Field::all("operation", INT8),
    Field::all("permission_type", INT8),
]);

// DescribeConfigs (32)
const DESCRIBE_CONFIGS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("results", Ty::Array(&DESCRIBE_CONFIGS_RESULT)),
];
const DESCRIBE_CONFIGS_RESULT: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("configs", Ty::Array(&DESCRIBE_CONFIGS_RESOURCE_RESULT)),
]);
const DESCRIBE_CONFIGS_RESOURCE_RESULT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("value", STRING),
    Field::all("read_only", BOOL),
    Field::all("config_source", INT8),
    Field::all("is_sensitive", BOOL),
    Field::all("synonyms", Ty::Array(&DESCRIBE_CONFIGS_SYNONYM)),
    Field::new("config_type", INT8, 3, LAST),
    Field::new("documentation", STRING, 3, LAST),
]);
const DESCRIBE_CONFIGS_SYNONYM: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("value", STRING),
    Field::all("source", INT8),
]);

// AlterConfigs (33) and IncrementalAlterConfigs (44) answer alike.
const ALTER_CONFIGS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("responses", Ty::Array(&ALTER_CONFIGS_RESOURCE_RESPONSE)),
];
const ALTER_CONFIGS_RESOURCE_RESPONSE: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
]);
const INCREMENTAL_ALTER_CONFIGS: &[Field] = ALTER_CONFIGS;

// AlterReplicaLogDirs (34)
const ALTER_REPLICA_LOG_DIRS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("results", Ty::Array(&ALTER_REPLICA_LOG_DIR_TOPIC_RESULT)),
];
const ALTER_REPLICA_LOG_DIR_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("topic_name", STRING),
    Field::all(
        "partitions",
        Ty::Array(&ALTER_REPLICA_LOG_DIR_PARTITION_RESULT),
    ),
]);
const ALTER_REPLICA_LOG_DIR_PARTITION_RESULT: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("error_code", INT16),
]);

// DescribeLogDirs (35)
const DESCRIBE_LOG_DIRS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::new("error_code", INT16, 3, LAST),
    Field::all("results", Ty::Array(&DESCRIBE_LOG_DIRS_RESULT)),
];
const DESCRIBE_LOG_DIRS_RESULT: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("log_dir", STRING),
    Field::all("topics", Ty::Array(&DESCRIBE_LOG_DIRS_TOPIC)),
    Field::new("total_bytes", INT64, 4, LAST),
    Field::new("usable_bytes", INT64, 4, LAST),
]);
const DESCRIBE_LOG_DIRS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&DESCRIBE_LOG_DIRS_PARTITION)),
]);
const DESCRIBE_LOG_DIRS_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("partition_size", INT64),
    Field::all("offset_lag", INT64),
    Field::all("is_future_key", BOOL),
]);

// SaslAuthenticate (36)
const SASL_AUTHENTICATE: &[Field] = &[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("auth_bytes", BYTES),
    Field::new("session_lifetime_ms", INT64, 1, LAST),
];

// CreatePartitions (37)
const CREATE_PARTITIONS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("results", Ty::Array(&CREATE_PARTITIONS_TOPIC_RESULT)),
];
const CREATE_PARTITIONS_TOPIC_RESULT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
]);

// DeleteGroups (42)
const DELETE_GROUPS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("results", Ty::Array(&DELETABLE_GROUP_RESULT)),
];
const DELETABLE_GROUP_RESULT: Ty = Ty::Struct(&[
    Field::all("group_id", STRING),
    Field::all("error_code", INT16),
]);

// ElectLeaders (43)
const ELECT_LEADERS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::new("error_code", INT16, 1, LAST),
    Field::all(
        "replica_election_results",
        Ty::Array(&REPLICA_ELECTION_RESULT),
    ),
];
const REPLICA_ELECTION_RESULT: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partition_result", Ty::Array(&PARTITION_RESULT)),
]);
const PARTITION_RESULT: Ty = Ty::Struct(&[
    Field::all("partition_id", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
]);

// AlterPartitionReassignments (45)
const ALTER_PARTITION_REASSIGNMENTS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::new("allow_replication_factor_change", BOOL, 1, LAST),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("responses", Ty::Array(&REASSIGNABLE_TOPIC_RESPONSE)),
];
const REASSIGNABLE_TOPIC_RESPONSE: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&REASSIGNABLE_PARTITION_RESPONSE)),
]);
const REASSIGNABLE_PARTITION_RESPONSE: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
]);

// ListPartitionReassignments (46)
const LIST_PARTITION_REASSIGNMENTS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("topics", Ty::Array(&ONGOING_TOPIC_REASSIGNMENT)),
];
const ONGOING_TOPIC_REASSIGNMENT: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&ONGOING_PARTITION_REASSIGNMENT)),
]);
const ONGOING_PARTITION_REASSIGNMENT: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("replicas", ARRAY_INT32),
    Field::all("adding_replicas", ARRAY_INT32),
    Field::all("removing_replicas", ARRAY_INT32),
]);

// OffsetDelete (47)
const OFFSET_DELETE: &[Field] = &[
    Field::all("error_code", INT16),
    Field::all("throttle_time_ms", INT32),
    Field::all("topics", Ty::Array(&OFFSET_DELETE_RESPONSE_TOPIC)),
];
const OFFSET_DELETE_RESPONSE_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&PARTITION_ERROR)),
]);

// Shared by DescribeClientQuotas (48) and AlterClientQuotas (49): one component of a quota
// entity; a null `entity_name` names the default entity of its type.
const ENTITY_DATA: Ty = Ty::Struct(&[
    Field::all("entity_type", STRING),
    Field::all("entity_name", STRING),
]);

// DescribeClientQuotas (48). `entries` is a nullable array.
const DESCRIBE_CLIENT_QUOTAS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("entries", Ty::Array(&DESCRIBE_CLIENT_QUOTAS_ENTRY_DATA)),
];
const DESCRIBE_CLIENT_QUOTAS_ENTRY_DATA: Ty = Ty::Struct(&[
    Field::all("entity", Ty::Array(&ENTITY_DATA)),
    Field::all("values", Ty::Array(&VALUE_DATA)),
]);
const VALUE_DATA: Ty = Ty::Struct(&[Field::all("key", STRING), Field::all("value", FLOAT64)]);

// AlterClientQuotas (49): one entry per request entry.
const ALTER_CLIENT_QUOTAS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("entries", Ty::Array(&ALTER_CLIENT_QUOTAS_ENTRY_DATA)),
];
const ALTER_CLIENT_QUOTAS_ENTRY_DATA: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("entity", Ty::Array(&ENTITY_DATA)),
]);

// DescribeUserScramCredentials (50)
const DESCRIBE_USER_SCRAM_CREDENTIALS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all(
        "results",
        Ty::Array(&DESCRIBE_USER_SCRAM_CREDENTIALS_RESULT),
    ),
];
const DESCRIBE_USER_SCRAM_CREDENTIALS_RESULT: Ty = Ty::Struct(&[
    Field::all("user", STRING),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("credential_infos", Ty::Array(&CREDENTIAL_INFO)),
]);
const CREDENTIAL_INFO: Ty = Ty::Struct(&[
    Field::all("mechanism", INT8),
    Field::all("iterations", INT32),
]);

// AlterUserScramCredentials (51)
const ALTER_USER_SCRAM_CREDENTIALS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("results", Ty::Array(&ALTER_USER_SCRAM_CREDENTIALS_RESULT)),
];
const ALTER_USER_SCRAM_CREDENTIALS_RESULT: Ty = Ty::Struct(&[
    Field::all("user", STRING),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
]);

// DescribeQuorum (55)
const DESCRIBE_QUORUM: &[Field] = &[
    Field::all("error_code", INT16),
    Field::new("error_message", STRING, 2, LAST),
    Field::all("topics", Ty::Array(&DESCRIBE_QUORUM_TOPIC_DATA)),
    Field::new("nodes", Ty::Array(&DESCRIBE_QUORUM_NODE), 2, LAST),
];
const DESCRIBE_QUORUM_TOPIC_DATA: Ty = Ty::Struct(&[
    Field::all("topic_name", STRING),
    Field::all("partitions", Ty::Array(&DESCRIBE_QUORUM_PARTITION_DATA)),
]);
const DESCRIBE_QUORUM_PARTITION_DATA: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("error_code", INT16),
    Field::new("error_message", STRING, 2, LAST),
    Field::all("leader_id", INT32),
    Field::all("leader_epoch", INT32),
    Field::all("high_watermark", INT64),
    Field::all("current_voters", Ty::Array(&REPLICA_STATE)),
    Field::all("observers", Ty::Array(&REPLICA_STATE)),
]);
const REPLICA_STATE: Ty = Ty::Struct(&[
    Field::all("replica_id", INT32),
    Field::new("replica_directory_id", UUID, 2, LAST),
    Field::all("log_end_offset", INT64),
    Field::new("last_fetch_timestamp", INT64, 1, LAST),
    Field::new("last_caught_up_timestamp", INT64, 1, LAST),
]);
const DESCRIBE_QUORUM_NODE: Ty = Ty::Struct(&[
    Field::all("node_id", INT32),
    Field::all("listeners", Ty::Array(&DESCRIBE_QUORUM_LISTENER)),
]);
const DESCRIBE_QUORUM_LISTENER: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("host", STRING),
    // A uint16: two bytes, as an int16.
    Field::all("port", INT16),
]);

// UpdateFeatures (57)
const UPDATE_FEATURES: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::new("results", Ty::Array(&UPDATABLE_FEATURE_RESULT), 0, 1),
];
const UPDATABLE_FEATURE_RESULT: Ty = Ty::Struct(&[
    Field::all("feature", STRING),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
]);

// UnregisterBroker (64)
const UNREGISTER_BROKER: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
];

// DescribeTopicPartitions (75)
const DESCRIBE_TOPIC_PARTITIONS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("topics", Ty::Array(&DESCRIBE_TOPIC_PARTITIONS_TOPIC)),
    Field::all(
        "next_cursor",
        Ty::OptionStruct(DESCRIBE_TOPIC_PARTITIONS_CURSOR),
    ),
];
const DESCRIBE_TOPIC_PARTITIONS_TOPIC: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("name", STRING),
    Field::all("topic_id", UUID),
    Field::all("is_internal", BOOL),
    Field::all(
        "partitions",
        Ty::Array(&DESCRIBE_TOPIC_PARTITIONS_PARTITION),
    ),
    Field::all("topic_authorized_operations", INT32),
]);
const DESCRIBE_TOPIC_PARTITIONS_PARTITION: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("partition_index", INT32),
    Field::all("leader_id", INT32),
    Field::all("leader_epoch", INT32),
    Field::all("replica_nodes", ARRAY_INT32),
    Field::all("isr_nodes", ARRAY_INT32),
    Field::all("eligible_leader_replicas", ARRAY_INT32),
    Field::all("last_known_elr", ARRAY_INT32),
    Field::all("offline_replicas", ARRAY_INT32),
]);
const DESCRIBE_TOPIC_PARTITIONS_CURSOR: &[Field] = &[
    Field::all("topic_name", STRING),
    Field::all("partition_index", INT32),
];

// DescribeCluster (60)
const DESCRIBE_CLUSTER: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::new("endpoint_type", INT8, 1, LAST),
    Field::all("cluster_id", STRING),
    Field::all("controller_id", INT32),
    Field::all("brokers", Ty::Array(&DESCRIBE_CLUSTER_BROKER)),
    Field::all("cluster_authorized_operations", INT32),
];
const DESCRIBE_CLUSTER_BROKER: Ty = Ty::Struct(&[
    Field::all("broker_id", INT32),
    Field::all("host", STRING),
    Field::all("port", INT32),
    Field::all("rack", STRING),
    Field::new("is_fenced", BOOL, 2, LAST),
]);

// DescribeProducers (61)
const DESCRIBE_PRODUCERS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("topics", Ty::Array(&DESCRIBE_PRODUCERS_TOPIC_RESPONSE)),
];
const DESCRIBE_PRODUCERS_TOPIC_RESPONSE: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all(
        "partitions",
        Ty::Array(&DESCRIBE_PRODUCERS_PARTITION_RESPONSE),
    ),
]);
const DESCRIBE_PRODUCERS_PARTITION_RESPONSE: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("active_producers", Ty::Array(&PRODUCER_STATE)),
]);
const PRODUCER_STATE: Ty = Ty::Struct(&[
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT32),
    Field::all("last_sequence", INT32),
    Field::all("last_timestamp", INT64),
    Field::all("coordinator_epoch", INT32),
    Field::all("current_txn_start_offset", INT64),
]);

// DescribeTransactions (65)
const DESCRIBE_TRANSACTIONS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all(
        "transaction_states",
        Ty::Array(&DESCRIBED_TRANSACTION_STATE),
    ),
];
const DESCRIBED_TRANSACTION_STATE: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("transactional_id", STRING),
    Field::all("transaction_state", STRING),
    Field::all("transaction_timeout_ms", INT32),
    Field::all("transaction_start_time_ms", INT64),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("topics", Ty::Array(&TOPIC_DATA)),
]);
const TOPIC_DATA: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// ListTransactions (66)
const LIST_TRANSACTIONS: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("unknown_state_filters", ARRAY_STRING),
    Field::all("transaction_states", Ty::Array(&LISTED_TRANSACTION_STATE)),
];
const LISTED_TRANSACTION_STATE: Ty = Ty::Struct(&[
    Field::all("transactional_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("transaction_state", STRING),
]);

// ConsumerGroupHeartbeat (68)
const CONSUMER_GROUP_HEARTBEAT: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("member_id", STRING),
    Field::all("member_epoch", INT32),
    Field::all("heartbeat_interval_ms", INT32),
    Field::all("assignment", Ty::OptionStruct(HEARTBEAT_ASSIGNMENT)),
];
const HEARTBEAT_ASSIGNMENT: &[Field] = &[Field::all(
    "topic_partitions",
    Ty::Array(&HEARTBEAT_TOPIC_PARTITIONS),
)];
const HEARTBEAT_TOPIC_PARTITIONS: Ty = Ty::Struct(&[
    Field::all("topic_id", UUID),
    Field::all("partitions", ARRAY_INT32),
]);

// ConsumerGroupDescribe (69)
const CONSUMER_GROUP_DESCRIBE: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("groups", Ty::Array(&CONSUMER_GROUP_DESCRIBED_GROUP)),
];
const CONSUMER_GROUP_DESCRIBED_GROUP: Ty = Ty::Struct(&[
    Field::all("error_code", INT16),
    Field::all("error_message", STRING),
    Field::all("group_id", STRING),
    Field::all("group_state", STRING),
    Field::all("group_epoch", INT32),
    Field::all("assignment_epoch", INT32),
    Field::all("assignor_name", STRING),
    Field::all("members", Ty::Array(&CONSUMER_GROUP_MEMBER)),
    Field::all("authorized_operations", INT32),
]);
const CONSUMER_GROUP_MEMBER: Ty = Ty::Struct(&[
    Field::all("member_id", STRING),
    Field::all("instance_id", STRING),
    Field::all("rack_id", STRING),
    Field::all("member_epoch", INT32),
    Field::all("client_id", STRING),
    Field::all("client_host", STRING),
    Field::all("subscribed_topic_names", ARRAY_STRING),
    Field::all("subscribed_topic_regex", STRING),
    Field::all("assignment", DESCRIBED_ASSIGNMENT),
    Field::all("target_assignment", DESCRIBED_ASSIGNMENT),
    Field::new("member_type", INT8, 1, LAST),
]);
const DESCRIBED_ASSIGNMENT: Ty = Ty::Struct(&[Field::all(
    "topic_partitions",
    Ty::Array(&DESCRIBED_TOPIC_PARTITIONS),
)]);
const DESCRIBED_TOPIC_PARTITIONS: Ty = Ty::Struct(&[
    Field::all("topic_id", UUID),
    Field::all("topic_name", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// ListConfigResources (74)
const LIST_CONFIG_RESOURCES: &[Field] = &[
    Field::all("throttle_time_ms", INT32),
    Field::all("error_code", INT16),
    Field::all("config_resources", Ty::Array(&LISTED_CONFIG_RESOURCE)),
];
const LISTED_CONFIG_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_name", STRING),
    Field::new("resource_type", INT8, 1, LAST),
]);
