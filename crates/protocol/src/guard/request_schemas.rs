//! Request schemas, after Kafka's message JSON schemas (as generated into kafka-protocol 0.18,
//! i.e. Kafka 4.1). Field order is wire order; version ranges are inclusive. Nested struct types
//! are named after Kafka's struct names.

use super::schema::*;

pub(super) const REQUEST_SCHEMAS: &[Schema] = &[
    // api key, name, versions kafka-protocol decodes, first flexible version, body
    Schema::new(0, "ProduceRequest", 3..=13, 9, PRODUCE),
    Schema::new(1, "FetchRequest", 4..=18, 12, FETCH),
    Schema::new(2, "ListOffsetsRequest", 1..=10, 6, LIST_OFFSETS),
    Schema::new(3, "MetadataRequest", 0..=13, 9, METADATA),
    Schema::new(8, "OffsetCommitRequest", 2..=9, 8, OFFSET_COMMIT),
    Schema::new(9, "OffsetFetchRequest", 1..=9, 6, OFFSET_FETCH),
    Schema::new(10, "FindCoordinatorRequest", 0..=6, 3, FIND_COORDINATOR),
    Schema::new(11, "JoinGroupRequest", 0..=9, 6, JOIN_GROUP),
    Schema::new(12, "HeartbeatRequest", 0..=4, 4, HEARTBEAT),
    Schema::new(13, "LeaveGroupRequest", 0..=5, 4, LEAVE_GROUP),
    Schema::new(14, "SyncGroupRequest", 0..=5, 4, SYNC_GROUP),
    Schema::new(15, "DescribeGroupsRequest", 0..=6, 5, DESCRIBE_GROUPS),
    Schema::new(16, "ListGroupsRequest", 0..=5, 3, LIST_GROUPS),
    Schema::new(17, "SaslHandshakeRequest", 0..=1, NEVER, SASL_HANDSHAKE),
    Schema::new(18, "ApiVersionsRequest", 0..=4, 3, API_VERSIONS),
    Schema::new(19, "CreateTopicsRequest", 2..=7, 5, CREATE_TOPICS),
    Schema::new(20, "DeleteTopicsRequest", 1..=6, 4, DELETE_TOPICS),
    Schema::new(21, "DeleteRecordsRequest", 0..=2, 2, DELETE_RECORDS),
    Schema::new(22, "InitProducerIdRequest", 0..=5, 2, INIT_PRODUCER_ID),
    Schema::new(
        23,
        "OffsetForLeaderEpochRequest",
        2..=4,
        4,
        OFFSET_FOR_LEADER_EPOCH,
    ),
    Schema::new(
        24,
        "AddPartitionsToTxnRequest",
        0..=5,
        3,
        ADD_PARTITIONS_TO_TXN,
    ),
    Schema::new(25, "AddOffsetsToTxnRequest", 0..=4, 3, ADD_OFFSETS_TO_TXN),
    Schema::new(26, "EndTxnRequest", 0..=5, 3, END_TXN),
    Schema::new(27, "WriteTxnMarkersRequest", 1..=1, 1, WRITE_TXN_MARKERS),
    Schema::new(28, "TxnOffsetCommitRequest", 0..=5, 3, TXN_OFFSET_COMMIT),
    Schema::new(29, "DescribeAclsRequest", 1..=3, 2, DESCRIBE_ACLS),
    Schema::new(30, "CreateAclsRequest", 1..=3, 2, CREATE_ACLS),
    Schema::new(31, "DeleteAclsRequest", 1..=3, 2, DELETE_ACLS),
    Schema::new(32, "DescribeConfigsRequest", 1..=4, 4, DESCRIBE_CONFIGS),
    Schema::new(33, "AlterConfigsRequest", 0..=2, 2, ALTER_CONFIGS),
    Schema::new(
        34,
        "AlterReplicaLogDirsRequest",
        1..=2,
        2,
        ALTER_REPLICA_LOG_DIRS,
    ),
    Schema::new(35, "DescribeLogDirsRequest", 1..=4, 2, DESCRIBE_LOG_DIRS),
    Schema::new(36, "SaslAuthenticateRequest", 0..=2, 2, SASL_AUTHENTICATE),
    Schema::new(37, "CreatePartitionsRequest", 0..=3, 2, CREATE_PARTITIONS),
    Schema::new(42, "DeleteGroupsRequest", 0..=2, 2, DELETE_GROUPS),
    Schema::new(43, "ElectLeadersRequest", 0..=2, 2, ELECT_LEADERS),
    Schema::new(
        44,
        "IncrementalAlterConfigsRequest",
        0..=1,
        1,
        INCREMENTAL_ALTER_CONFIGS,
    ),
    Schema::new(
        45,
        "AlterPartitionReassignmentsRequest",
        0..=1,
        0,
        ALTER_PARTITION_REASSIGNMENTS,
    ),
    Schema::new(
        46,
        "ListPartitionReassignmentsRequest",
        0..=0,
        0,
        LIST_PARTITION_REASSIGNMENTS,
    ),
    Schema::new(47, "OffsetDeleteRequest", 0..=0, NEVER, OFFSET_DELETE),
    Schema::new(
        48,
        "DescribeClientQuotasRequest",
        0..=1,
        1,
        DESCRIBE_CLIENT_QUOTAS,
    ),
    Schema::new(
        49,
        "AlterClientQuotasRequest",
        0..=1,
        1,
        ALTER_CLIENT_QUOTAS,
    ),
    Schema::new(
        50,
        "DescribeUserScramCredentialsRequest",
        0..=0,
        0,
        DESCRIBE_USER_SCRAM_CREDENTIALS,
    ),
    Schema::new(
        51,
        "AlterUserScramCredentialsRequest",
        0..=0,
        0,
        ALTER_USER_SCRAM_CREDENTIALS,
    ),
    Schema::new(55, "DescribeQuorumRequest", 0..=2, 0, DESCRIBE_QUORUM),
    Schema::new(57, "UpdateFeaturesRequest", 0..=2, 0, UPDATE_FEATURES),
    Schema::new(60, "DescribeClusterRequest", 0..=2, 0, DESCRIBE_CLUSTER),
    Schema::new(61, "DescribeProducersRequest", 0..=0, 0, DESCRIBE_PRODUCERS),
    Schema::new(64, "UnregisterBrokerRequest", 0..=0, 0, UNREGISTER_BROKER),
    Schema::new(
        65,
        "DescribeTransactionsRequest",
        0..=0,
        0,
        DESCRIBE_TRANSACTIONS,
    ),
    Schema::new(66, "ListTransactionsRequest", 0..=2, 0, LIST_TRANSACTIONS),
    Schema::new(
        68,
        "ConsumerGroupHeartbeatRequest",
        0..=1,
        0,
        CONSUMER_GROUP_HEARTBEAT,
    ),
    Schema::new(
        69,
        "ConsumerGroupDescribeRequest",
        0..=1,
        0,
        CONSUMER_GROUP_DESCRIBE,
    ),
    Schema::new(
        74,
        "ListConfigResourcesRequest",
        0..=1,
        0,
        LIST_CONFIG_RESOURCES,
    ),
    Schema::new(
        75,
        "DescribeTopicPartitionsRequest",
        0..=0,
        0,
        DESCRIBE_TOPIC_PARTITIONS,
    ),
];

// Produce (0)
const PRODUCE: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("acks", INT16),
    Field::all("timeout_ms", INT32),
    Field::all("topic_data", Ty::Array(&TOPIC_PRODUCE_DATA)),
];
const TOPIC_PRODUCE_DATA: Ty = Ty::Struct(&[
    Field::new("name", STRING, 0, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::all("partition_data", Ty::Array(&PARTITION_PRODUCE_DATA)),
]);
const PARTITION_PRODUCE_DATA: Ty =
    Ty::Struct(&[Field::all("index", INT32), Field::all("records", RECORDS)]);

// Fetch (1)
const FETCH: &[Field] = &[
    Field::new("cluster_id", STRING, 12, LAST).tagged(0),
    Field::new("replica_id", INT32, 0, 14),
    Field::new("replica_state", REPLICA_STATE, 15, LAST).tagged(1),
    Field::all("max_wait_ms", INT32),
    Field::all("min_bytes", INT32),
    Field::new("max_bytes", INT32, 3, LAST),
    Field::new("isolation_level", INT8, 4, LAST),
    Field::new("session_id", INT32, 7, LAST),
    Field::new("session_epoch", INT32, 7, LAST),
    Field::all("topics", Ty::Array(&FETCH_TOPIC)),
    Field::new(
        "forgotten_topics_data",
        Ty::Array(&FORGOTTEN_TOPIC),
        7,
        LAST,
    ),
    Field::new("rack_id", STRING, 11, LAST),
];
const REPLICA_STATE: Ty = Ty::Struct(&[
    Field::new("replica_id", INT32, 15, LAST),
    Field::new("replica_epoch", INT64, 15, LAST),
]);
const FETCH_TOPIC: Ty = Ty::Struct(&[
    Field::new("topic", STRING, 0, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::all("partitions", Ty::Array(&FETCH_PARTITION)),
]);
const FETCH_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition", INT32),
    Field::new("current_leader_epoch", INT32, 9, LAST),
    Field::all("fetch_offset", INT64),
    Field::new("last_fetched_epoch", INT32, 12, LAST),
    Field::new("log_start_offset", INT64, 5, LAST),
    Field::all("partition_max_bytes", INT32),
    Field::new("replica_directory_id", UUID, 17, LAST).tagged(0),
    Field::new("high_watermark", INT64, 18, LAST).tagged(1),
]);
const FORGOTTEN_TOPIC: Ty = Ty::Struct(&[
    Field::new("topic", STRING, 7, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::new("partitions", ARRAY_INT32, 7, LAST),
]);

// ListOffsets (2)
const LIST_OFFSETS: &[Field] = &[
    Field::all("replica_id", INT32),
    Field::new("isolation_level", INT8, 2, LAST),
    Field::all("topics", Ty::Array(&LIST_OFFSETS_TOPIC)),
    Field::new("timeout_ms", INT32, 10, LAST),
];
const LIST_OFFSETS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&LIST_OFFSETS_PARTITION)),
]);
const LIST_OFFSETS_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::new("current_leader_epoch", INT32, 4, LAST),
    Field::all("timestamp", INT64),
]);

// Metadata (3)
const METADATA: &[Field] = &[
    Field::all("topics", Ty::Array(&METADATA_REQUEST_TOPIC)),
    Field::new("allow_auto_topic_creation", BOOL, 4, LAST),
    Field::new("include_cluster_authorized_operations", BOOL, 8, 10),
    Field::new("include_topic_authorized_operations", BOOL, 8, LAST),
];
const METADATA_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::new("topic_id", UUID, 10, LAST),
    Field::all("name", STRING),
]);

// OffsetCommit (8)
const OFFSET_COMMIT: &[Field] = &[
    Field::all("group_id", STRING),
    Field::new("generation_id_or_member_epoch", INT32, 1, LAST),
    Field::new("member_id", STRING, 1, LAST),
    Field::new("group_instance_id", STRING, 7, LAST),
    Field::new("retention_time_ms", INT64, 2, 4),
    Field::all("topics", Ty::Array(&OFFSET_COMMIT_REQUEST_TOPIC)),
];
const OFFSET_COMMIT_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&OFFSET_COMMIT_REQUEST_PARTITION)),
]);
const OFFSET_COMMIT_REQUEST_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("committed_offset", INT64),
    Field::new("committed_leader_epoch", INT32, 6, LAST),
    Field::all("committed_metadata", STRING),
]);

// OffsetFetch (9)
const OFFSET_FETCH: &[Field] = &[
    Field::new("group_id", STRING, 0, 7),
    Field::new("topics", Ty::Array(&OFFSET_FETCH_REQUEST_TOPIC), 0, 7),
    Field::new("groups", Ty::Array(&OFFSET_FETCH_REQUEST_GROUP), 8, LAST),
    Field::new("require_stable", BOOL, 7, LAST),
];
const OFFSET_FETCH_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::new("name", STRING, 0, 7),
    Field::new("partition_indexes", ARRAY_INT32, 0, 7),
]);
const OFFSET_FETCH_REQUEST_GROUP: Ty = Ty::Struct(&[
    Field::new("group_id", STRING, 8, LAST),
    Field::new("member_id", STRING, 9, LAST),
    Field::new("member_epoch", INT32, 9, LAST),
    Field::new("topics", Ty::Array(&OFFSET_FETCH_REQUEST_TOPICS), 8, LAST),
]);
const OFFSET_FETCH_REQUEST_TOPICS: Ty = Ty::Struct(&[
    Field::new("name", STRING, 8, LAST),
    Field::new("partition_indexes", ARRAY_INT32, 8, LAST),
]);

// FindCoordinator (10)
const FIND_COORDINATOR: &[Field] = &[
    Field::new("key", STRING, 0, 3),
    Field::new("key_type", INT8, 1, LAST),
    Field::new("coordinator_keys", ARRAY_STRING, 4, LAST),
];

// JoinGroup (11)
const JOIN_GROUP: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("session_timeout_ms", INT32),
    Field::new("rebalance_timeout_ms", INT32, 1, LAST),
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 5, LAST),
    Field::all("protocol_type", STRING),
    Field::all("protocols", Ty::Array(&JOIN_GROUP_REQUEST_PROTOCOL)),
    Field::new("reason", STRING, 8, LAST),
];
const JOIN_GROUP_REQUEST_PROTOCOL: Ty =
    Ty::Struct(&[Field::all("name", STRING), Field::all("metadata", BYTES)]);

// Heartbeat (12)
const HEARTBEAT: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("generation_id", INT32),
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 3, LAST),
];

// LeaveGroup (13)
const LEAVE_GROUP: &[Field] = &[
    Field::all("group_id", STRING),
    Field::new("member_id", STRING, 0, 2),
    Field::new("members", Ty::Array(&MEMBER_IDENTITY), 3, LAST),
];
const MEMBER_IDENTITY: Ty = Ty::Struct(&[
    Field::new("member_id", STRING, 3, LAST),
    Field::new("group_instance_id", STRING, 3, LAST),
    Field::new("reason", STRING, 5, LAST),
]);

// SyncGroup (14)
const SYNC_GROUP: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("generation_id", INT32),
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 3, LAST),
    Field::new("protocol_type", STRING, 5, LAST),
    Field::new("protocol_name", STRING, 5, LAST),
    Field::all("assignments", Ty::Array(&SYNC_GROUP_REQUEST_ASSIGNMENT)),
];
const SYNC_GROUP_REQUEST_ASSIGNMENT: Ty = Ty::Struct(&[
    Field::all("member_id", STRING),
    Field::all("assignment", BYTES),
]);

// DescribeGroups (15)
const DESCRIBE_GROUPS: &[Field] = &[
    Field::all("groups", ARRAY_STRING),
    Field::new("include_authorized_operations", BOOL, 3, LAST),
];

// ListGroups (16)
const LIST_GROUPS: &[Field] = &[
    Field::new("states_filter", ARRAY_STRING, 4, LAST),
    Field::new("types_filter", ARRAY_STRING, 5, LAST),
];

// SaslHandshake (17)
const SASL_HANDSHAKE: &[Field] = &[Field::all("mechanism", STRING)];

// ApiVersions (18)
const API_VERSIONS: &[Field] = &[
    Field::new("client_software_name", STRING, 3, LAST),
    Field::new("client_software_version", STRING, 3, LAST),
];

// CreateTopics (19)
const CREATE_TOPICS: &[Field] = &[
    Field::all("topics", Ty::Array(&CREATABLE_TOPIC)),
    Field::all("timeout_ms", INT32),
    Field::new("validate_only", BOOL, 1, LAST),
];
const CREATABLE_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("num_partitions", INT32),
    Field::all("replication_factor", INT16),
    Field::all("assignments", Ty::Array(&CREATABLE_REPLICA_ASSIGNMENT)),
    Field::all("configs", Ty::Array(&CREATABLE_TOPIC_CONFIG)),
]);
const CREATABLE_REPLICA_ASSIGNMENT: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("broker_ids", ARRAY_INT32),
]);
const CREATABLE_TOPIC_CONFIG: Ty =
    Ty::Struct(&[Field::all("name", STRING), Field::all("value", STRING)]);

// DeleteTopics (20)
const DELETE_TOPICS: &[Field] = &[
    Field::new("topics", Ty::Array(&DELETE_TOPIC_STATE), 6, LAST),
    Field::new("topic_names", ARRAY_STRING, 0, 5),
    Field::all("timeout_ms", INT32),
];
const DELETE_TOPIC_STATE: Ty = Ty::Struct(&[
    Field::new("name", STRING, 6, LAST),
    Field::new("topic_id", UUID, 6, LAST),
]);

// DeleteRecords (21)
const DELETE_RECORDS: &[Field] = &[
    Field::all("topics", Ty::Array(&DELETE_RECORDS_TOPIC)),
    Field::all("timeout_ms", INT32),
];
const DELETE_RECORDS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&DELETE_RECORDS_PARTITION)),
]);
const DELETE_RECORDS_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("offset", INT64),
]);

// InitProducerId (22)
const INIT_PRODUCER_ID: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("transaction_timeout_ms", INT32),
    Field::new("producer_id", INT64, 3, LAST),
    Field::new("producer_epoch", INT16, 3, LAST),
];

// OffsetForLeaderEpoch (23)
const OFFSET_FOR_LEADER_EPOCH: &[Field] = &[
    Field::new("replica_id", INT32, 3, LAST),
    Field::all("topics", Ty::Array(&OFFSET_FOR_LEADER_TOPIC)),
];
const OFFSET_FOR_LEADER_TOPIC: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", Ty::Array(&OFFSET_FOR_LEADER_PARTITION)),
]);
const OFFSET_FOR_LEADER_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition", INT32),
    Field::new("current_leader_epoch", INT32, 2, LAST),
    Field::all("leader_epoch", INT32),
]);

// AddPartitionsToTxn (24)
const ADD_PARTITIONS_TO_TXN: &[Field] = &[
    Field::new(
        "transactions",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_TRANSACTION),
        4,
        LAST,
    ),
    Field::new("v3_and_below_transactional_id", STRING, 0, 3),
    Field::new("v3_and_below_producer_id", INT64, 0, 3),
    Field::new("v3_and_below_producer_epoch", INT16, 0, 3),
    Field::new(
        "v3_and_below_topics",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_TOPIC),
        0,
        3,
    ),
];
const ADD_PARTITIONS_TO_TXN_TRANSACTION: Ty = Ty::Struct(&[
    Field::all("transactional_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("verify_only", BOOL),
    Field::all("topics", Ty::Array(&ADD_PARTITIONS_TO_TXN_TOPIC)),
]);
const ADD_PARTITIONS_TO_TXN_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// AddOffsetsToTxn (25)
const ADD_OFFSETS_TO_TXN: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("group_id", STRING),
];

// EndTxn (26)
const END_TXN: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("committed", BOOL),
];

// WriteTxnMarkers (27)
const WRITE_TXN_MARKERS: &[Field] = &[Field::all("markers", Ty::Array(&WRITABLE_TXN_MARKER))];
const WRITABLE_TXN_MARKER: Ty = Ty::Struct(&[
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("transaction_result", BOOL),
    Field::all("topics", Ty::Array(&WRITABLE_TXN_MARKER_TOPIC)),
    Field::all("coordinator_epoch", INT32),
]);
const WRITABLE_TXN_MARKER_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partition_indexes", ARRAY_INT32),
]);

// TxnOffsetCommit (28)
const TXN_OFFSET_COMMIT: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("group_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::new("generation_id", INT32, 3, LAST),
    Field::new("member_id", STRING, 3, LAST),
    Field::new("group_instance_id", STRING, 3, LAST),
    Field::all("topics", Ty::Array(&TXN_OFFSET_COMMIT_TOPIC)),
];
const TXN_OFFSET_COMMIT_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&TXN_OFFSET_COMMIT_PARTITION)),
]);
const TXN_OFFSET_COMMIT_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("committed_offset", INT64),
    Field::new("committed_leader_epoch", INT32, 2, LAST),
    Field::all("committed_metadata", STRING),
]);

// DescribeProducers (61)
const DESCRIBE_PRODUCERS: &[Field] = &[Field::all("topics", Ty::Array(&DESCRIBE_PRODUCERS_TOPIC))];
const DESCRIBE_PRODUCERS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partition_indexes", ARRAY_INT32),
]);

// DescribeTransactions (65)
const DESCRIBE_TRANSACTIONS: &[Field] = &[Field::all("transactional_ids", ARRAY_STRING)];

// ListTransactions (66)
const LIST_TRANSACTIONS: &[Field] = &[
    Field::all("state_filters", ARRAY_STRING),
    Field::all("producer_id_filters", Ty::Array(&INT64)),
    Field::new("duration_filter", INT64, 1, LAST),
    Field::new("transactional_id_pattern", STRING, 2, LAST),
];

// DescribeAcls (29). A null name, principal or host filter matches any.
const DESCRIBE_ACLS: &[Field] = &[
    Field::all("resource_type_filter", INT8),
    Field::all("resource_name_filter", STRING),
    Field::all("pattern_type_filter", INT8),
    Field::all("principal_filter", STRING),
    Field::all("host_filter", STRING),
    Field::all("operation", INT8),
    Field::all("permission_type", INT8),
];

// CreateAcls (30)
const CREATE_ACLS: &[Field] = &[Field::all("creations", Ty::Array(&ACL_CREATION))];
const ACL_CREATION: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("resource_pattern_type", INT8),
    Field::all("principal", STRING),
    Field::all("host", STRING),
    Field::all("operation", INT8),
    Field::all("permission_type", INT8),
]);

// DeleteAcls (31). A filter has the fields of a DescribeAcls request, in the same order.
const DELETE_ACLS: &[Field] = &[Field::all("filters", Ty::Array(&DELETE_ACLS_FILTER))];
const DELETE_ACLS_FILTER: Ty = Ty::Struct(DESCRIBE_ACLS);

// DescribeConfigs (32)
const DESCRIBE_CONFIGS: &[Field] = &[
    Field::all("resources", Ty::Array(&DESCRIBE_CONFIGS_RESOURCE)),
    Field::new("include_synonyms", BOOL, 1, LAST),
    Field::new("include_documentation", BOOL, 3, LAST),
];
const DESCRIBE_CONFIGS_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("configuration_keys", ARRAY_STRING),
]);

// AlterConfigs (33)
const ALTER_CONFIGS: &[Field] = &[
    Field::all("resources", Ty::Array(&ALTER_CONFIGS_RESOURCE)),
    Field::all("validate_only", BOOL),
];
const ALTER_CONFIGS_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("configs", Ty::Array(&ALTERABLE_CONFIG)),
]);
const ALTERABLE_CONFIG: Ty = Ty::Struct(&[Field::all("name", STRING), Field::all("value", STRING)]);

// SaslAuthenticate (36)
const SASL_AUTHENTICATE: &[Field] = &[Field::all("auth_bytes", BYTES)];

// CreatePartitions (37)
const CREATE_PARTITIONS: &[Field] = &[
    Field::all("topics", Ty::Array(&CREATE_PARTITIONS_TOPIC)),
    Field::all("timeout_ms", INT32),
    Field::all("validate_only", BOOL),
];
const CREATE_PARTITIONS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("count", INT32),
    Field::all("assignments", Ty::Array(&CREATE_PARTITIONS_ASSIGNMENT)),
]);
const CREATE_PARTITIONS_ASSIGNMENT: Ty = Ty::Struct(&[Field::all("broker_ids", ARRAY_INT32)]);

// AlterReplicaLogDirs (34)
const ALTER_REPLICA_LOG_DIRS: &[Field] = &[Field::all("dirs", Ty::Array(&ALTER_REPLICA_LOG_DIR))];
const ALTER_REPLICA_LOG_DIR: Ty = Ty::Struct(&[
    Field::all("path", STRING),
    Field::all("topics", Ty::Array(&ALTER_REPLICA_LOG_DIR_TOPIC)),
]);
const ALTER_REPLICA_LOG_DIR_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// DescribeLogDirs (35)
const DESCRIBE_LOG_DIRS: &[Field] = &[Field::all("topics", Ty::Array(&DESCRIBABLE_LOG_DIR_TOPIC))];
const DESCRIBABLE_LOG_DIR_TOPIC: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// DeleteGroups (42)
const DELETE_GROUPS: &[Field] = &[Field::all("groups_names", ARRAY_STRING)];

// ElectLeaders (43)
const ELECT_LEADERS: &[Field] = &[
    Field::new("election_type", INT8, 1, LAST),
    Field::all(
        "topic_partitions",
        Ty::Array(&ELECT_LEADERS_TOPIC_PARTITIONS),
    ),
    Field::all("timeout_ms", INT32),
];
const ELECT_LEADERS_TOPIC_PARTITIONS: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// IncrementalAlterConfigs (44)
const INCREMENTAL_ALTER_CONFIGS: &[Field] = &[
    Field::all("resources", Ty::Array(&INCREMENTAL_ALTER_CONFIGS_RESOURCE)),
    Field::all("validate_only", BOOL),
];
const INCREMENTAL_ALTER_CONFIGS_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("configs", Ty::Array(&INCREMENTAL_ALTERABLE_CONFIG)),
]);
const INCREMENTAL_ALTERABLE_CONFIG: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("config_operation", INT8),
    Field::all("value", STRING),
]);

// AlterPartitionReassignments (45)
const ALTER_PARTITION_REASSIGNMENTS: &[Field] = &[
    Field::all("timeout_ms", INT32),
    Field::new("allow_replication_factor_change", BOOL, 1, LAST),
    Field::all("topics", Ty::Array(&REASSIGNABLE_TOPIC)),
];
const REASSIGNABLE_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&REASSIGNABLE_PARTITION)),
]);
const REASSIGNABLE_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("replicas", ARRAY_INT32),
]);

// ListPartitionReassignments (46)
const LIST_PARTITION_REASSIGNMENTS: &[Field] = &[
    Field::all("timeout_ms", INT32),
    Field::all("topics", Ty::Array(&LIST_PARTITION_REASSIGNMENTS_TOPIC)),
];
const LIST_PARTITION_REASSIGNMENTS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partition_indexes", ARRAY_INT32),
]);

// OffsetDelete (47)
const OFFSET_DELETE: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("topics", Ty::Array(&OFFSET_DELETE_REQUEST_TOPIC)),
];
const OFFSET_DELETE_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&OFFSET_DELETE_REQUEST_PARTITION)),
]);
const OFFSET_DELETE_REQUEST_PARTITION: Ty = Ty::Struct(&[Field::all("partition_index", INT32)]);

// DescribeClientQuotas (48). A component's `match` is null for match types DEFAULT and ANY.
const DESCRIBE_CLIENT_QUOTAS: &[Field] = &[
    Field::all("components", Ty::Array(&COMPONENT_DATA)),
    Field::all("strict", BOOL),
];
const COMPONENT_DATA: Ty = Ty::Struct(&[
    Field::all("entity_type", STRING),
    Field::all("match_type", INT8),
    Field::all("match", STRING),
]);

// AlterClientQuotas (49). A null `entity_name` names the default entity of its type.
const ALTER_CLIENT_QUOTAS: &[Field] = &[
    Field::all("entries", Ty::Array(&ENTRY_DATA)),
    Field::all("validate_only", BOOL),
];
const ENTRY_DATA: Ty = Ty::Struct(&[
    Field::all("entity", Ty::Array(&ENTITY_DATA)),
    Field::all("ops", Ty::Array(&OP_DATA)),
]);
const ENTITY_DATA: Ty = Ty::Struct(&[
    Field::all("entity_type", STRING),
    Field::all("entity_name", STRING),
]);
const OP_DATA: Ty = Ty::Struct(&[
    Field::all("key", STRING),
    Field::all("value", FLOAT64),
    Field::all("remove", BOOL),
]);

// DescribeUserScramCredentials (50): a null or empty user list describes every user.
const DESCRIBE_USER_SCRAM_CREDENTIALS: &[Field] = &[Field::all("users", Ty::Array(&USER_NAME))];
const USER_NAME: Ty = Ty::Struct(&[Field::all("name", STRING)]);

// AlterUserScramCredentials (51)
const ALTER_USER_SCRAM_CREDENTIALS: &[Field] = &[
    Field::all("deletions", Ty::Array(&SCRAM_CREDENTIAL_DELETION)),
    Field::all("upsertions", Ty::Array(&SCRAM_CREDENTIAL_UPSERTION)),
];
const SCRAM_CREDENTIAL_DELETION: Ty =
    Ty::Struct(&[Field::all("name", STRING), Field::all("mechanism", INT8)]);
const SCRAM_CREDENTIAL_UPSERTION: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("mechanism", INT8),
    Field::all("iterations", INT32),
    Field::all("salt", BYTES),
    Field::all("salted_password", BYTES),
]);

// DescribeQuorum (55)
const DESCRIBE_QUORUM: &[Field] = &[Field::all("topics", Ty::Array(&DESCRIBE_QUORUM_TOPIC))];
const DESCRIBE_QUORUM_TOPIC: Ty = Ty::Struct(&[
    Field::all("topic_name", STRING),
    Field::all("partitions", Ty::Array(&DESCRIBE_QUORUM_PARTITION)),
]);
const DESCRIBE_QUORUM_PARTITION: Ty = Ty::Struct(&[Field::all("partition_index", INT32)]);

// UpdateFeatures (57)
const UPDATE_FEATURES: &[Field] = &[
    Field::all("timeout_ms", INT32),
    Field::all("feature_updates", Ty::Array(&FEATURE_UPDATE_KEY)),
    Field::new("validate_only", BOOL, 1, LAST),
];
const FEATURE_UPDATE_KEY: Ty = Ty::Struct(&[
    Field::all("feature", STRING),
    Field::all("max_version_level", INT16),
    Field::new("allow_downgrade", BOOL, 0, 0),
    Field::new("upgrade_type", INT8, 1, LAST),
]);

// UnregisterBroker (64)
const UNREGISTER_BROKER: &[Field] = &[Field::all("broker_id", INT32)];

// DescribeTopicPartitions (75): a null cursor starts at the first topic.
const DESCRIBE_TOPIC_PARTITIONS: &[Field] = &[
    Field::all("topics", Ty::Array(&DESCRIBE_TOPIC_PARTITIONS_TOPIC)),
    Field::all("response_partition_limit", INT32),
    Field::all("cursor", Ty::OptionStruct(DESCRIBE_TOPIC_PARTITIONS_CURSOR)),
];
const DESCRIBE_TOPIC_PARTITIONS_TOPIC: Ty = Ty::Struct(&[Field::all("name", STRING)]);
const DESCRIBE_TOPIC_PARTITIONS_CURSOR: &[Field] = &[
    Field::all("topic_name", STRING),
    Field::all("partition_index", INT32),
];

// DescribeCluster (60)
const DESCRIBE_CLUSTER: &[Field] = &[
    Field::all("include_cluster_authorized_operations", BOOL),
    Field::new("endpoint_type", INT8, 1, LAST),
    Field::new("include_fenced_brokers", BOOL, 2, LAST),
];

// ConsumerGroupHeartbeat (68)
const CONSUMER_GROUP_HEARTBEAT: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("member_id", STRING),
    Field::all("member_epoch", INT32),
    Field::all("instance_id", STRING),
    Field::all("rack_id", STRING),
    Field::all("rebalance_timeout_ms", INT32),
    Field::all("subscribed_topic_names", ARRAY_STRING),
    Field::new("subscribed_topic_regex", STRING, 1, LAST),
    Field::all("server_assignor", STRING),
    Field::all("topic_partitions", Ty::Array(&TOPIC_PARTITIONS)),
];
const TOPIC_PARTITIONS: Ty = Ty::Struct(&[
    Field::all("topic_id", UUID),
    Field::all("partitions", ARRAY_INT32),
]);

// ConsumerGroupDescribe (69)
const CONSUMER_GROUP_DESCRIBE: &[Field] = &[
    Field::all("group_ids", ARRAY_STRING),
    Field::all("include_authorized_operations", BOOL),
];

// ListConfigResources (74): v0 (ListClientMetricsResources) has no fields.
const LIST_CONFIG_RESOURCES: &[Field] = &[Field::new("resource_types", Ty::Array(&INT8), 1, LAST)];
