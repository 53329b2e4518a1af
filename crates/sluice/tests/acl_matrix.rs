//! ACLs against every API the broker advertises (issue 13): a broker with Kafka's
//! StandardAuthorizer, its PLAINTEXT listener as `User:ANONYMOUS` in `super.users` (the admin
//! connection that creates topics, groups and ACLs), and a SASL_PLAINTEXT listener where
//! `User:alice` logs in with PLAIN.
//!
//! For each API alice sends a representative request without any ACL and gets the exact Kafka
//! error code (per partition, per resource or at the top, as the API has it), then the ACLs
//! Kafka requires are granted one at a time until no authorization error is left (another,
//! non-authorization error may remain: UNKNOWN_MEMBER_ID, INVALID_PRODUCER_ID_MAPPING, ...);
//! the same request from the super user is never refused. Metadata hides topics from a full
//! listing and refuses them by name, existing or not; ListGroups and ListTransactions filter.
//! Then DENY over ALLOW, a PREFIXED binding, the wildcard principal `User:*`, and a
//! DescribeAcls/DeleteAcls round trip. The test fails when the broker advertises an API the
//! matrix does not cover.
//!
//! ACL changes reach the broker's authorizer once its metadata image has them, and alice's
//! decisions are cached per ACL generation. Every change therefore carries a canary: an ALLOW
//! of DESCRIBE on a topic of its own, written in the same metadata command (or removed by the
//! same deletion). Once alice sees the canary appear (or disappear) through Metadata, the
//! authorizer holds the whole change, and the next request is decided on it once: the
//! request under test is never retried, only the canary is polled, with a deadline.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{batch, Client, TestBroker};
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyAlterResource, AlterableConfig as LegacyAlterableConfig,
};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialDeletion;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions as ElectPartitions;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

// Kafka error codes.
const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const GROUP_AUTHORIZATION_FAILED: i16 = 30;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
const UNKNOWN_TOPIC_ID: i16 = 100;
/// The codes that mean "not authorized" for the resources these APIs touch.
const AUTHORIZATION_FAILURES: [i16; 4] = [
    TOPIC_AUTHORIZATION_FAILED,
    GROUP_AUTHORIZATION_FAILED,
    CLUSTER_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
];

// ACL wire codes (Kafka's ResourceType, PatternType, AclOperation, AclPermissionType).
const ANY: i8 = 1;
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TRANSACTIONAL_ID: i8 = 5;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const READ: i8 = 3;
const WRITE: i8 = 4;
const CREATE: i8 = 5;
const DELETE: i8 = 6;
const ALTER: i8 = 7;
const DESCRIBE: i8 = 8;
const CLUSTER_ACTION: i8 = 9;
const DESCRIBE_CONFIGS: i8 = 10;
const ALTER_CONFIGS: i8 = 11;
const IDEMPOTENT_WRITE: i8 = 12;
const DENY: i8 = 2;
const ALLOW: i8 = 3;

const ALICE: &str = "User:alice";
const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
    username=\"admin\" password=\"admin-secret\" \
    user_admin=\"admin-secret\" user_alice=\"alice-secret\";";

/// The topic most requests name (one partition, one record).
const MATRIX: &str = "matrix";
/// Deleted by DeleteTopics (by name, then by id).
const DOOMED: &str = "matrix-doomed";
const DOOMED_BY_ID: &str = "matrix-doomed-by-id";
/// For the PREFIXED binding on `orders-`.
const ORDERS_EU: &str = "orders-eu";
const PAYMENTS: &str = "payments";
/// A replica id that is no replica of anything: a fetch "from" it changes no follower state.
const STRANGER_REPLICA: i32 = 1000;
/// How long an ACL change may take to reach the authorizer.
const ACL_DEADLINE: Duration = Duration::from_secs(20);

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn topic_name(s: &str) -> TopicName {
    TopicName(sb(s))
}

fn group_id(s: &str) -> GroupId {
    GroupId(sb(s))
}

fn txn_id(s: &str) -> TransactionalId {
    TransactionalId(sb(s))
}

/// One ACL binding, as CreateAcls carries it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Acl {
    resource_type: i8,
    name: String,
    pattern: i8,
    principal: String,
    operation: i8,
    permission: i8,
}

/// A resource: its type, name and pattern type.
type Resource = (i8, String, i8);

fn topic(name: &str) -> Resource {
    (TOPIC, name.to_string(), LITERAL)
}

fn group(name: &str) -> Resource {
    (GROUP, name.to_string(), LITERAL)
}

fn txn(name: &str) -> Resource {
    (TRANSACTIONAL_ID, name.to_string(), LITERAL)
}

fn cluster() -> Resource {
    (CLUSTER, "kafka-cluster".to_string(), LITERAL)
}

fn binding(principal: &str, permission: i8, operation: i8, resource: Resource) -> Acl {
    let (resource_type, name, pattern) = resource;
    Acl {
        resource_type,
        name,
        pattern,
        principal: principal.to_string(),
        operation,
        permission,
    }
}

/// ALLOW alice `operation` on `resource`.
fn allow(operation: i8, resource: Resource) -> Acl {
    binding(ALICE, ALLOW, operation, resource)
}

/// What alice must get after a grant.
enum Expect {
    /// Exactly these codes.
    Codes(Vec<i16>),
    /// No authorization failure among the codes (another error may remain).
    Authorized,
}

/// Sends a case's request and returns every error code of the response, in response order.
type Send = Box<dyn Fn(&mut Client) -> Vec<i16>>;

/// One row of the matrix: a request, what alice gets without ACLs, and the ACLs granted one
/// after the other with what she gets after each.
struct Case {
    api: ApiKey,
    what: &'static str,
    send: Send,
    refused: Vec<i16>,
    grants: Vec<(Vec<Acl>, Expect)>,
}

impl Case {
    fn new(
        api: ApiKey,
        what: &'static str,
        send: impl Fn(&mut Client) -> Vec<i16> + 'static,
        refused: Vec<i16>,
    ) -> Case {
        Case {
            api,
            what,
            send: Box::new(send),
            refused,
            grants: Vec::new(),
        }
    }

    /// Grants `acls` (on top of the earlier grants) and expects `expect`.
    fn then(mut self, acls: Vec<Acl>, expect: Expect) -> Case {
        self.grants.push((acls, expect));
        self
    }
}

fn authorization_failures(codes: &[i16]) -> Vec<i16> {
    codes
        .iter()
        .copied()
        .filter(|c| AUTHORIZATION_FAILURES.contains(c))
        .collect()
}

/// The broker, its two connections and the canaries of the ACL changes so far.
struct Harness {
    broker: TestBroker,
    /// PLAINTEXT: `User:ANONYMOUS`, a super user.
    admin: Client,
    /// SASL_PLAINTEXT: `User:alice`.
    alice: Client,
    /// Canaries created so far (each change has its own topic name).
    canaries: u32,
    /// The canary of the ACLs in force, if any were granted since the last revocation.
    canary: Option<String>,
    /// The api keys a case or section covered.
    covered: BTreeSet<i16>,
}

impl Harness {
    fn start() -> Harness {
        let broker = TestBroker::start(&[
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            ),
            ("listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS),
            (
                "authorizer.class.name",
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            ),
            ("super.users", "User:ANONYMOUS"),
            ("group.initial.rebalance.delay.ms", "0"),
            ("offsets.topic.num.partitions", "1"),
            ("transaction.state.log.num.partitions", "1"),
        ]);
        let admin = broker.connect();
        let sasl = broker
            .listener_addr("SASL_PLAINTEXT")
            .expect("the SASL_PLAINTEXT listener is bound");
        let mut alice = Client::connect(&sasl);
        alice
            .login_plain("alice", "alice-secret")
            .expect("alice logs in with PLAIN");
        Harness {
            broker,
            admin,
            alice,
            canaries: 0,
            canary: None,
            covered: BTreeSet::new(),
        }
    }

    /// Whether alice may DESCRIBE `topic`, which does not exist: Metadata names it, without
    /// auto-creation.
    fn alice_describes(&mut self, topic: &str) -> bool {
        let code = metadata_named(&mut self.alice, &[topic], false)[0];
        assert!(
            code == TOPIC_AUTHORIZATION_FAILED || code == UNKNOWN_TOPIC_OR_PARTITION,
            "canary {topic}: code {code}"
        );
        code == UNKNOWN_TOPIC_OR_PARTITION
    }

    /// Polls until alice does (or does not) see `canary`.
    fn await_canary(&mut self, canary: &str, visible: bool) {
        let deadline = Instant::now() + ACL_DEADLINE;
        while self.alice_describes(canary) != visible {
            assert!(
                Instant::now() < deadline,
                "the authorizer did not {} canary {canary} within {ACL_DEADLINE:?}",
                if visible { "apply" } else { "drop" }
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Creates `acls` (through the super user) and waits until the authorizer enforces them;
    /// DescribeAcls then lists each of them.
    fn grant(&mut self, acls: &[Acl]) {
        self.canaries += 1;
        let canary = format!("canary-{}", self.canaries);
        let mut creations: Vec<Acl> = acls.to_vec();
        creations.push(allow(DESCRIBE, topic(&canary)));
        let request = CreateAclsRequest::default().with_creations(
            creations
                .iter()
                .map(|a| {
                    AclCreation::default()
                        .with_resource_type(a.resource_type)
                        .with_resource_name(sb(&a.name))
                        .with_resource_pattern_type(a.pattern)
                        .with_principal(sb(&a.principal))
                        .with_host(sb("*"))
                        .with_operation(a.operation)
                        .with_permission_type(a.permission)
                })
                .collect(),
        );
        let response = self.admin.send(&request, 3);
        let codes: Vec<i16> = response.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![NONE; creations.len()], "CreateAcls {acls:?}");
        self.await_canary(&canary, true);
        self.canary = Some(canary);
        for acl in acls {
            assert_eq!(
                describe_acls(&mut self.admin, acl),
                vec![acl.clone()],
                "DescribeAcls lists {acl:?}"
            );
        }
    }

    /// Deletes every ACL and waits until the authorizer enforces none.
    fn revoke_all(&mut self) {
        let everything = DeleteAclsFilter::default()
            .with_resource_type_filter(ANY)
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_pattern_type_filter(ANY)
            .with_operation(ANY)
            .with_permission_type(ANY);
        let response = self.admin.send(
            &DeleteAclsRequest::default().with_filters(vec![everything]),
            3,
        );
        assert_eq!(response.filter_results[0].error_code, NONE, "DeleteAcls");
        if let Some(canary) = self.canary.take() {
            self.await_canary(&canary, false);
        }
    }

    /// Runs one row of the matrix from no ACLs at all.
    fn run(&mut self, case: Case) {
        let label = format!("{:?} ({})", case.api, case.what);
        self.revoke_all();
        assert_eq!(
            (case.send)(&mut self.alice),
            case.refused,
            "{label}: alice without ACLs"
        );
        for (acls, expect) in &case.grants {
            self.grant(acls);
            let got = (case.send)(&mut self.alice);
            match expect {
                Expect::Codes(codes) => {
                    assert_eq!(&got, codes, "{label}: alice after granting {acls:?}")
                }
                Expect::Authorized => assert_eq!(
                    authorization_failures(&got),
                    Vec::<i16>::new(),
                    "{label}: alice after granting {acls:?} got {got:?}"
                ),
            }
        }
        let as_super_user = (case.send)(&mut self.admin);
        assert_eq!(
            authorization_failures(&as_super_user),
            Vec::<i16>::new(),
            "{label}: the super user got {as_super_user:?}"
        );
        self.covered.insert(case.api as i16);
    }
}

/// The bindings DescribeAcls lists for exactly `acl`'s resource, principal and operation.
fn describe_acls(c: &mut Client, acl: &Acl) -> Vec<Acl> {
    let request = DescribeAclsRequest::default()
        .with_resource_type_filter(acl.resource_type)
        .with_resource_name_filter(Some(sb(&acl.name)))
        .with_pattern_type_filter(acl.pattern)
        .with_principal_filter(Some(sb(&acl.principal)))
        .with_host_filter(Some(sb("*")))
        .with_operation(acl.operation)
        .with_permission_type(acl.permission);
    described(c, &request)
}

fn described(c: &mut Client, request: &DescribeAclsRequest) -> Vec<Acl> {
    let response = c.send(request, 3);
    assert_eq!(response.error_code, NONE, "DescribeAcls");
    let mut out: Vec<Acl> = response
        .resources
        .iter()
        .flat_map(|r| {
            r.acls.iter().map(|d| Acl {
                resource_type: r.resource_type,
                name: r.resource_name.to_string(),
                pattern: r.pattern_type,
                principal: d.principal.to_string(),
                operation: d.operation,
                permission: d.permission_type,
            })
        })
        .collect();
    out.sort();
    out
}

// ---- Requests: each sends one request and returns the codes of its response. ----

fn metadata_named(c: &mut Client, topics: &[&str], auto_create: bool) -> Vec<i16> {
    let request = MetadataRequest::default()
        .with_topics(Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                .collect(),
        ))
        .with_allow_auto_topic_creation(auto_create);
    c.send(&request, 12)
        .topics
        .iter()
        .map(|t| t.error_code)
        .collect()
}

fn metadata_all(c: &mut Client) -> Vec<String> {
    let response = c.send(&MetadataRequest::default().with_topics(None), 12);
    response
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect()
}

fn produce_to(c: &mut Client, name: &str) -> Vec<i16> {
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(name))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(&[b"v"], Compression::None)))])]);
    let response = c.send(&request, 9);
    response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
        .collect()
}

fn produce_by_id(c: &mut Client, id: uuid::Uuid) -> Vec<i16> {
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_topic_id(id)
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(&[b"v"], Compression::None)))])]);
    let response = c.send(&request, 13);
    response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
        .collect()
}

/// A consumer's fetch (v12, by name) or a follower's (with `replica_id`).
fn fetch(c: &mut Client, replica_id: i32) -> Vec<i16> {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(MATRIX))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let response = c.send(&request, 12);
    let mut codes = vec![response.error_code];
    codes.extend(
        response
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
    );
    codes
}

/// A consumer's fetch by topic id (v16) of `partitions`.
fn fetch_by_id(c: &mut Client, id: uuid::Uuid, partitions: &[i32]) -> Vec<i16> {
    let request = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(id)
            .with_partitions(
                partitions
                    .iter()
                    .map(|p| {
                        FetchPartition::default()
                            .with_partition(*p)
                            .with_fetch_offset(0)
                            .with_partition_max_bytes(1 << 20)
                    })
                    .collect(),
            )]);
    let response = c.send(&request, 16);
    let mut codes = vec![response.error_code];
    codes.extend(
        response
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
    );
    codes
}

fn list_offsets(c: &mut Client) -> Vec<i16> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    c.send(&request, 7)
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// CreateTopics v7 of `name`: the topic's code, then its topic-config code.
fn create_topic_as(c: &mut Client, name: &str) -> Vec<i16> {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    c.send(&request, 7)
        .topics
        .iter()
        .flat_map(|t| [t.error_code, t.topic_config_error_code])
        .collect()
}

fn delete_topic_named(c: &mut Client, name: &str) -> Vec<i16> {
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic_name(name)))
        ]);
    c.send(&request, 6)
        .responses
        .iter()
        .map(|r| r.error_code)
        .collect()
}

fn delete_records(c: &mut Client) -> Vec<i16> {
    let request = DeleteRecordsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(-1)])]);
    c.send(&request, 2)
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// Kafka's ConfigResource types.
const CONFIG_TOPIC: i8 = 2;
const CONFIG_BROKER: i8 = 4;

fn describe_configs(c: &mut Client, resource_type: i8, name: &str) -> Vec<i16> {
    let request =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(sb(name))]);
    c.send(&request, 4)
        .results
        .iter()
        .map(|r| r.error_code)
        .collect()
}

fn alter_configs(c: &mut Client, resource_type: i8, name: &str, key: &str) -> Vec<i16> {
    let request = AlterConfigsRequest::default()
        .with_validate_only(true)
        .with_resources(vec![LegacyAlterResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(sb(name))
            .with_configs(vec![LegacyAlterableConfig::default()
                .with_name(sb(key))
                .with_value(Some(sb("3600000")))])]);
    c.send(&request, 2)
        .responses
        .iter()
        .map(|r| r.error_code)
        .collect()
}

fn incremental_alter_configs(c: &mut Client, resource_type: i8, name: &str, key: &str) -> Vec<i16> {
    let request = IncrementalAlterConfigsRequest::default()
        .with_validate_only(true)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(sb(name))
            .with_configs(vec![AlterableConfig::default()
                .with_name(sb(key))
                .with_config_operation(0)
                .with_value(Some(sb("3600000")))])]);
    c.send(&request, 1)
        .responses
        .iter()
        .map(|r| r.error_code)
        .collect()
}

fn create_partitions(c: &mut Client) -> Vec<i16> {
    let request = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_validate_only(true)
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(topic_name(MATRIX))
            .with_count(2)]);
    c.send(&request, 3)
        .results
        .iter()
        .map(|r| r.error_code)
        .collect()
}

fn describe_cluster(c: &mut Client) -> Vec<i16> {
    vec![c.send(&DescribeClusterRequest::default(), 1).error_code]
}

fn describe_quorum(c: &mut Client) -> Vec<i16> {
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(topic_name("__cluster_metadata"))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let response = c.send(&request, 2);
    let mut codes = vec![response.error_code];
    codes.extend(
        response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
    );
    codes
}

fn init_producer_id(c: &mut Client, transactional_id: Option<&str>) -> Vec<i16> {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(transactional_id.map(txn_id))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    vec![c.send(&request, 5).error_code]
}

/// Kafka's FindCoordinator key types.
const KEY_GROUP: i8 = 0;
const KEY_TRANSACTION: i8 = 1;

fn find_coordinator(c: &mut Client, key_type: i8, key: &str, version: i16) -> Vec<i16> {
    let request = FindCoordinatorRequest::default().with_key_type(key_type);
    let request = if version >= 4 {
        request.with_coordinator_keys(vec![sb(key)])
    } else {
        request.with_key(sb(key))
    };
    let response = c.send(&request, version);
    if version >= 4 {
        response.coordinators.iter().map(|k| k.error_code).collect()
    } else {
        vec![response.error_code]
    }
}

fn join_group(c: &mut Client) -> Vec<i16> {
    let request = JoinGroupRequest::default()
        .with_group_id(group_id("g-join"))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(60_000)
        .with_member_id(sb(""))
        .with_protocol_type(sb("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(sb("range"))
            .with_metadata(bytes::Bytes::new())]);
    vec![c.send(&request, 9).error_code]
}

fn sync_group(c: &mut Client) -> Vec<i16> {
    let request = SyncGroupRequest::default()
        .with_group_id(group_id("g-sync"))
        .with_generation_id(1)
        .with_member_id(sb("m"))
        .with_protocol_type(Some(sb("consumer")))
        .with_protocol_name(Some(sb("range")));
    vec![c.send(&request, 5).error_code]
}

fn heartbeat(c: &mut Client) -> Vec<i16> {
    let request = HeartbeatRequest::default()
        .with_group_id(group_id("g-heartbeat"))
        .with_generation_id(1)
        .with_member_id(sb("m"));
    vec![c.send(&request, 4).error_code]
}

fn leave_group(c: &mut Client) -> Vec<i16> {
    let request = LeaveGroupRequest::default()
        .with_group_id(group_id("g-leave"))
        .with_members(vec![MemberIdentity::default().with_member_id(sb("m"))]);
    let response = c.send(&request, 5);
    let mut codes = vec![response.error_code];
    codes.extend(response.members.iter().map(|m| m.error_code));
    codes
}

fn offset_commit(c: &mut Client, group: &str) -> Vec<i16> {
    let request = OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(sb(""))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(0)])]);
    c.send(&request, 8)
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// OffsetFetch v8 of MATRIX's partition 0: the group's code, then the partition's.
fn offset_fetch_v8(c: &mut Client) -> Vec<i16> {
    let request =
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id("g-commit"))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(topic_name(MATRIX))
                .with_partition_indexes(vec![0])]))]);
    c.send(&request, 8)
        .groups
        .iter()
        .flat_map(|g| {
            std::iter::once(g.error_code).chain(
                g.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            )
        })
        .collect()
}

/// OffsetFetch v1 (no top-level error code): the partition's code.
fn offset_fetch_v1(c: &mut Client) -> Vec<i16> {
    let request = OffsetFetchRequest::default()
        .with_group_id(group_id("g-commit"))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partition_indexes(vec![0])]));
    c.send(&request, 1)
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

fn describe_groups(c: &mut Client) -> Vec<i16> {
    let request = DescribeGroupsRequest::default().with_groups(vec![group_id("g-describe")]);
    c.send(&request, 5)
        .groups
        .iter()
        .map(|g| g.error_code)
        .collect()
}

fn list_groups(c: &mut Client) -> Vec<String> {
    let response = c.send(&ListGroupsRequest::default(), 4);
    assert_eq!(response.error_code, NONE, "ListGroups");
    response
        .groups
        .iter()
        .map(|g| g.group_id.to_string())
        .collect()
}

fn delete_groups(c: &mut Client) -> Vec<i16> {
    let request = DeleteGroupsRequest::default().with_groups_names(vec![group_id("g-delete")]);
    c.send(&request, 2)
        .results
        .iter()
        .map(|r| r.error_code)
        .collect()
}

/// OffsetDelete of MATRIX's partition 0: the group's code, then the partition's.
fn offset_delete(c: &mut Client) -> Vec<i16> {
    let request = OffsetDeleteRequest::default()
        .with_group_id(group_id("g-offset-delete"))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partitions(vec![
                OffsetDeleteRequestPartition::default().with_partition_index(0)
            ])]);
    let response = c.send(&request, 0);
    let mut codes = vec![response.error_code];
    codes.extend(
        response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
    );
    codes
}

/// A KIP-848 member joining `group` subscribed to MATRIX.
fn consumer_group_heartbeat(c: &mut Client, group: &str, member: &str) -> Vec<i16> {
    let request = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(group_id(group))
        .with_member_id(sb(member))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(60_000)
        .with_subscribed_topic_names(Some(vec![topic_name(MATRIX)]))
        .with_topic_partitions(Some(Vec::new()));
    vec![c.send(&request, 1).error_code]
}

fn consumer_group_describe(c: &mut Client) -> Vec<i16> {
    let request =
        ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id("g-described")]);
    c.send(&request, 0)
        .groups
        .iter()
        .map(|g| g.error_code)
        .collect()
}

/// AddPartitionsToTxn of MATRIX's partition 0, v3 (a client's) or v4 (a broker's batch).
fn add_partitions_to_txn(c: &mut Client, version: i16) -> Vec<i16> {
    let topics = vec![AddPartitionsToTxnTopic::default()
        .with_name(topic_name(MATRIX))
        .with_partitions(vec![0])];
    if version <= 3 {
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(txn_id("txn-add"))
            .with_v3_and_below_producer_id(ProducerId(4242))
            .with_v3_and_below_producer_epoch(0)
            .with_v3_and_below_topics(topics);
        return c
            .send(&request, version)
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| {
                t.results_by_partition
                    .iter()
                    .map(|p| p.partition_error_code)
            })
            .collect();
    }
    let request = AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(txn_id("txn-add"))
            .with_producer_id(ProducerId(4242))
            .with_producer_epoch(0)
            .with_topics(topics),
    ]);
    let response = c.send(&request, version);
    let mut codes = vec![response.error_code];
    codes.extend(response.results_by_transaction.iter().flat_map(|r| {
        r.topic_results.iter().flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
    }));
    codes
}

fn add_offsets_to_txn(c: &mut Client) -> Vec<i16> {
    let request = AddOffsetsToTxnRequest::default()
        .with_transactional_id(txn_id("txn-offsets"))
        .with_producer_id(ProducerId(4242))
        .with_producer_epoch(0)
        .with_group_id(group_id("g-txn"));
    vec![c.send(&request, 3).error_code]
}

fn end_txn(c: &mut Client) -> Vec<i16> {
    let request = EndTxnRequest::default()
        .with_transactional_id(txn_id("txn-end"))
        .with_producer_id(ProducerId(4242))
        .with_producer_epoch(0)
        .with_committed(false);
    vec![c.send(&request, 3).error_code]
}

/// A marker for a topic that does not exist: nothing is written even when allowed.
fn write_txn_markers(c: &mut Client) -> Vec<i16> {
    let request =
        WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
            .with_producer_id(ProducerId(4242))
            .with_producer_epoch(0)
            .with_transaction_result(false)
            .with_coordinator_epoch(0)
            .with_topics(vec![WritableTxnMarkerTopic::default()
                .with_name(topic_name("no-such-topic"))
                .with_partition_indexes(vec![0])])]);
    c.send(&request, 1)
        .markers
        .iter()
        .flat_map(|m| {
            m.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        })
        .collect()
}

fn txn_offset_commit(c: &mut Client) -> Vec<i16> {
    let request = TxnOffsetCommitRequest::default()
        .with_transactional_id(txn_id("txn-commit"))
        .with_group_id(group_id("g-txn"))
        .with_producer_id(ProducerId(4242))
        .with_producer_epoch(0)
        .with_generation_id(-1)
        .with_member_id(sb(""))
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(0)])]);
    c.send(&request, 3)
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

fn describe_all_acls(c: &mut Client) -> Vec<i16> {
    let request = DescribeAclsRequest::default()
        .with_resource_type_filter(ANY)
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_pattern_type_filter(ANY)
        .with_operation(ANY)
        .with_permission_type(ANY);
    vec![c.send(&request, 3).error_code]
}

/// A harmless binding for alice herself (the next revocation deletes it).
fn harmless_acl() -> Acl {
    allow(READ, topic("harmless"))
}

fn create_acls(c: &mut Client) -> Vec<i16> {
    let a = harmless_acl();
    let request = CreateAclsRequest::default().with_creations(vec![AclCreation::default()
        .with_resource_type(a.resource_type)
        .with_resource_name(sb(&a.name))
        .with_resource_pattern_type(a.pattern)
        .with_principal(sb(&a.principal))
        .with_host(sb("*"))
        .with_operation(a.operation)
        .with_permission_type(a.permission)]);
    c.send(&request, 3)
        .results
        .iter()
        .map(|r| r.error_code)
        .collect()
}

fn delete_acls(c: &mut Client) -> Vec<i16> {
    let a = harmless_acl();
    let request = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
        .with_resource_type_filter(a.resource_type)
        .with_resource_name_filter(Some(sb(&a.name)))
        .with_pattern_type_filter(a.pattern)
        .with_principal_filter(Some(sb(&a.principal)))
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY)]);
    c.send(&request, 3)
        .filter_results
        .iter()
        .map(|r| r.error_code)
        .collect()
}

fn describe_transactions(c: &mut Client, id: &str) -> DescribeTransactionsResponse {
    let request = DescribeTransactionsRequest::default().with_transactional_ids(vec![txn_id(id)]);
    c.send(&request, 0)
}

fn list_transactions(c: &mut Client) -> Vec<String> {
    let response = c.send(
        &ListTransactionsRequest::default().with_duration_filter(-1),
        1,
    );
    assert_eq!(response.error_code, NONE, "ListTransactions");
    response
        .transaction_states
        .iter()
        .map(|t| t.transactional_id.to_string())
        .collect()
}

fn describe_producers(c: &mut Client) -> Vec<i16> {
    let request = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(topic_name(MATRIX))
        .with_partition_indexes(vec![0])]);
    c.send(&request, 0)
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

fn offset_for_leader_epoch(c: &mut Client, replica_id: i32) -> Vec<i16> {
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(topic_name(MATRIX))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(-1)
                .with_leader_epoch(0)])]);
    c.send(&request, 4)
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// ElectLeaders of MATRIX's partition 0: the top-level code (v1+), then the partition's.
fn elect_leaders(c: &mut Client, version: i16) -> Vec<i16> {
    let request = ElectLeadersRequest::default()
        .with_election_type(0)
        .with_timeout_ms(10_000)
        .with_topic_partitions(Some(vec![ElectPartitions::default()
            .with_topic(topic_name(MATRIX))
            .with_partitions(vec![0])]));
    let response = c.send(&request, version);
    let top = (version >= 1).then_some(response.error_code);
    top.into_iter()
        .chain(
            response
                .replica_election_results
                .iter()
                .flat_map(|r| r.partition_result.iter().map(|p| p.error_code)),
        )
        .collect()
}

/// UpdateFeatures v1, validate only, group.version to its level: the top-level code, then the
/// feature's.
fn update_features(c: &mut Client) -> Vec<i16> {
    use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
    let request = UpdateFeaturesRequest::default()
        .with_timeout_ms(10_000)
        .with_validate_only(true)
        .with_feature_updates(vec![FeatureUpdateKey::default()
            .with_feature(sb("group.version"))
            .with_max_version_level(1)
            .with_upgrade_type(1)]);
    let response = c.send(&request, 1);
    let mut codes = vec![response.error_code];
    codes.extend(response.results.iter().map(|r| r.error_code));
    codes
}

/// UnregisterBroker of a broker id nobody registered.
fn unregister_broker(c: &mut Client) -> Vec<i16> {
    let request = UnregisterBrokerRequest::default().with_broker_id(BrokerId(4242));
    vec![c.send(&request, 0).error_code]
}

/// DescribeTopicPartitions of MATRIX: the topic's code, then its partitions'.
fn describe_topic_partitions(c: &mut Client) -> Vec<i16> {
    use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
    let request = DescribeTopicPartitionsRequest::default()
        .with_response_partition_limit(100)
        .with_topics(vec![TopicRequest::default().with_name(topic_name(MATRIX))]);
    let response = c.send(&request, 0);
    response
        .topics
        .iter()
        .flat_map(|t| {
            std::iter::once(t.error_code).chain(t.partitions.iter().map(|p| p.error_code))
        })
        .collect()
}

fn describe_log_dirs(c: &mut Client) -> Vec<i16> {
    let response = c.send(&DescribeLogDirsRequest::default().with_topics(None), 4);
    let mut codes = vec![response.error_code];
    codes.extend(response.results.iter().map(|r| r.error_code));
    codes
}

/// Moves MATRIX's partition 0 to a directory the broker does not have (LOG_DIR_NOT_FOUND once
/// authorized).
fn alter_replica_log_dirs(c: &mut Client) -> Vec<i16> {
    use kafka_protocol::messages::alter_replica_log_dirs_request::{
        AlterReplicaLogDir, AlterReplicaLogDirTopic,
    };
    let request =
        AlterReplicaLogDirsRequest::default().with_dirs(vec![AlterReplicaLogDir::default()
            .with_path(StrBytes::from_static_str("/nonexistent/sluice-dir"))
            .with_topics(vec![AlterReplicaLogDirTopic::default()
                .with_name(topic_name(MATRIX))
                .with_partitions(vec![0])])]);
    let response = c.send(&request, 2);
    response
        .results
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// Cancels a reassignment of MATRIX's partition 0 (there is none).
fn alter_partition_reassignments(c: &mut Client) -> Vec<i16> {
    let request = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partitions(vec![ReassignablePartition::default()
                .with_partition_index(0)
                .with_replicas(None)])]);
    let response = c.send(&request, 0);
    let mut codes = vec![response.error_code];
    codes.extend(
        response
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
    );
    codes
}

fn list_partition_reassignments(c: &mut Client) -> Vec<i16> {
    vec![
        c.send(
            &ListPartitionReassignmentsRequest::default().with_topics(None),
            0,
        )
        .error_code,
    ]
}

fn describe_user_scram_credentials(c: &mut Client) -> Vec<i16> {
    let request = DescribeUserScramCredentialsRequest::default()
        .with_users(Some(vec![UserName::default().with_name(sb("alice"))]));
    let response = c.send(&request, 0);
    let mut codes = vec![response.error_code];
    codes.extend(response.results.iter().map(|r| r.error_code));
    codes
}

/// Deletes a SCRAM credential nobody has (nothing changes even when allowed).
fn alter_user_scram_credentials(c: &mut Client) -> Vec<i16> {
    let request = AlterUserScramCredentialsRequest::default().with_deletions(vec![
        ScramCredentialDeletion::default()
            .with_name(sb("nobody"))
            .with_mechanism(1),
    ]);
    c.send(&request, 0)
        .results
        .iter()
        .map(|r| r.error_code)
        .collect()
}

/// Lists the config resources of every type.
fn list_config_resources(c: &mut Client) -> Vec<i16> {
    vec![
        c.send(
            &kafka_protocol::messages::ListConfigResourcesRequest::default(),
            1,
        )
        .error_code,
    ]
}

/// Describes every client-id quota.
fn describe_client_quotas(c: &mut Client) -> Vec<i16> {
    let request = DescribeClientQuotasRequest::default().with_components(vec![
        kafka_protocol::messages::describe_client_quotas_request::ComponentData::default()
            .with_entity_type(sb("client-id"))
            .with_match_type(2)
            .with_match(None),
    ]);
    vec![c.send(&request, 1).error_code]
}

/// Sets a quota for one client id, validate only (nothing changes even when allowed).
fn alter_client_quotas(c: &mut Client) -> Vec<i16> {
    use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
    let request = AlterClientQuotasRequest::default()
        .with_entries(vec![EntryData::default()
            .with_entity(vec![EntityData::default()
                .with_entity_type(sb("client-id"))
                .with_entity_name(Some(sb("matrix")))])
            .with_ops(vec![OpData::default()
                .with_key(sb("producer_byte_rate"))
                .with_value(1024.0)])])
        .with_validate_only(true);
    c.send(&request, 1)
        .entries
        .iter()
        .map(|e| e.error_code)
        .collect()
}

// ---- Setup through the super user. ----

fn create_topic(admin: &mut Client, name: &str) {
    assert_eq!(
        create_topic_as(admin, name),
        vec![NONE, NONE],
        "create {name}"
    );
}

fn topic_id(admin: &mut Client, name: &str) -> uuid::Uuid {
    let response = admin.send(
        &MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic_name(name)))
        ])),
        12,
    );
    assert_eq!(response.topics[0].error_code, NONE, "{name} exists");
    response.topics[0].topic_id
}

/// A transaction of `id` with MATRIX's partition 0 in it.
fn open_transaction(admin: &mut Client, id: &str) {
    let response = admin.send(
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(txn_id(id)))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
        5,
    );
    assert_eq!(response.error_code, NONE, "InitProducerId {id}");
    let request = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(txn_id(id))
        .with_v3_and_below_producer_id(response.producer_id)
        .with_v3_and_below_producer_epoch(response.producer_epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(topic_name(MATRIX))
            .with_partitions(vec![0])]);
    let added = admin.send(&request, 3);
    let codes: Vec<i16> = added
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| p.partition_error_code)
        })
        .collect();
    assert_eq!(codes, vec![NONE], "AddPartitionsToTxn {id}");
}

fn setup(h: &mut Harness) {
    for name in [MATRIX, DOOMED, DOOMED_BY_ID, ORDERS_EU, PAYMENTS] {
        create_topic(&mut h.admin, name);
    }
    assert_eq!(
        produce_to(&mut h.admin, MATRIX),
        vec![NONE],
        "a first record"
    );
    // Groups that exist: one with a committed offset, one KIP-848 group with an assignment.
    for g in ["g-listed", "g-offset-delete"] {
        assert_eq!(offset_commit(&mut h.admin, g), vec![NONE], "commit for {g}");
    }
    assert_eq!(
        consumer_group_heartbeat(&mut h.admin, "g-described", "admin-member"),
        vec![NONE],
        "the super user joins g-described"
    );
    open_transaction(&mut h.admin, "txn-listed");
}

// ---- The matrix. ----

fn matrix(matrix_id: uuid::Uuid, broker_id: i32) -> Vec<Case> {
    use Expect::{Authorized, Codes};
    let node = broker_id.to_string();
    vec![
        Case::new(
            ApiKey::Produce,
            "v9, by name",
            |c| produce_to(c, MATRIX),
            vec![29],
        )
        .then(vec![allow(WRITE, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::Produce,
            "v13, by topic id",
            move |c| produce_by_id(c, matrix_id),
            vec![29],
        )
        .then(vec![allow(WRITE, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::Produce,
            "v13, an unknown topic id",
            |c| produce_by_id(c, uuid::Uuid::from_u128(7)),
            vec![UNKNOWN_TOPIC_ID],
        ),
        Case::new(
            ApiKey::Fetch,
            "v12, a consumer",
            |c| fetch(c, -1),
            vec![0, 29],
        )
        .then(vec![allow(READ, topic(MATRIX))], Codes(vec![NONE, NONE])),
        Case::new(
            ApiKey::Fetch,
            "v16 by topic id, partitions 0 and 9 (there is no 9)",
            move |c| fetch_by_id(c, matrix_id, &[0, 9]),
            vec![0, 29, 29],
        )
        .then(
            vec![allow(READ, topic(MATRIX))],
            Codes(vec![NONE, NONE, UNKNOWN_TOPIC_OR_PARTITION]),
        ),
        Case::new(
            ApiKey::Fetch,
            "v16, an unknown topic id",
            |c| fetch_by_id(c, uuid::Uuid::from_u128(7), &[0]),
            vec![0, UNKNOWN_TOPIC_ID],
        ),
        Case::new(
            ApiKey::Fetch,
            "v12, a follower's (replica id set)",
            |c| fetch(c, STRANGER_REPLICA),
            vec![0, 29],
        )
        .then(vec![allow(CLUSTER_ACTION, cluster())], Authorized),
        Case::new(ApiKey::ListOffsets, "v7", list_offsets, vec![29])
            .then(vec![allow(DESCRIBE, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::CreateTopics,
            "v7, CREATE on the topic",
            |c| create_topic_as(c, "created-1"),
            vec![29, 0],
        )
        // The configs of the new topic are shown only with DESCRIBE_CONFIGS on it.
        .then(vec![allow(CREATE, topic("created-1"))], Codes(vec![0, 29])),
        Case::new(
            ApiKey::CreateTopics,
            "v7, CREATE on the cluster",
            |c| create_topic_as(c, "created-2"),
            vec![29, 0],
        )
        .then(
            vec![
                allow(CREATE, cluster()),
                allow(DESCRIBE_CONFIGS, topic("created-2")),
            ],
            Codes(vec![NONE, NONE]),
        ),
        Case::new(
            ApiKey::DeleteTopics,
            "v6, by name",
            |c| delete_topic_named(c, DOOMED),
            vec![29],
        )
        .then(vec![allow(DELETE, topic(DOOMED))], Codes(vec![NONE])),
        Case::new(ApiKey::DeleteRecords, "v2", delete_records, vec![29])
            .then(vec![allow(DELETE, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::DescribeConfigs,
            "v4, a topic",
            |c| describe_configs(c, CONFIG_TOPIC, MATRIX),
            vec![29],
        )
        .then(
            vec![allow(DESCRIBE_CONFIGS, topic(MATRIX))],
            Codes(vec![NONE]),
        ),
        Case::new(
            ApiKey::DescribeConfigs,
            "v4, the broker",
            {
                let node = node.clone();
                move |c| describe_configs(c, CONFIG_BROKER, &node)
            },
            vec![31],
        )
        .then(vec![allow(DESCRIBE_CONFIGS, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::AlterConfigs,
            "v2, a topic",
            |c| alter_configs(c, CONFIG_TOPIC, MATRIX, "retention.ms"),
            vec![29],
        )
        .then(vec![allow(ALTER_CONFIGS, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::AlterConfigs,
            "v2, the broker",
            {
                let node = node.clone();
                move |c| alter_configs(c, CONFIG_BROKER, &node, "log.retention.ms")
            },
            vec![31],
        )
        .then(vec![allow(ALTER_CONFIGS, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::IncrementalAlterConfigs,
            "v1, a topic",
            |c| incremental_alter_configs(c, CONFIG_TOPIC, MATRIX, "retention.ms"),
            vec![29],
        )
        .then(vec![allow(ALTER_CONFIGS, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::IncrementalAlterConfigs,
            "v1, the broker",
            move |c| incremental_alter_configs(c, CONFIG_BROKER, &node, "log.retention.ms"),
            vec![31],
        )
        .then(vec![allow(ALTER_CONFIGS, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::IncrementalAlterConfigs,
            "v1, the broker default",
            |c| incremental_alter_configs(c, CONFIG_BROKER, "", "log.retention.ms"),
            vec![31],
        )
        .then(vec![allow(ALTER_CONFIGS, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::DescribeConfigs,
            "v4, the broker default",
            |c| describe_configs(c, CONFIG_BROKER, ""),
            vec![31],
        )
        .then(vec![allow(DESCRIBE_CONFIGS, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::ListConfigResources,
            "v1, every type",
            list_config_resources,
            vec![31],
        )
        .then(vec![allow(DESCRIBE_CONFIGS, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::CreatePartitions,
            "v3, validate only",
            create_partitions,
            vec![29],
        )
        .then(vec![allow(ALTER, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(ApiKey::DescribeCluster, "v1", describe_cluster, vec![31])
            .then(vec![allow(DESCRIBE, cluster())], Codes(vec![NONE])),
        Case::new(ApiKey::DescribeQuorum, "v2", describe_quorum, vec![31])
            .then(vec![allow(DESCRIBE, cluster())], Codes(vec![NONE, NONE])),
        Case::new(
            ApiKey::InitProducerId,
            "v5, idempotent",
            |c| init_producer_id(c, None),
            vec![31],
        )
        .then(vec![allow(IDEMPOTENT_WRITE, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::InitProducerId,
            "v5, idempotent with WRITE on a topic (KIP-679)",
            |c| init_producer_id(c, None),
            vec![31],
        )
        .then(vec![allow(WRITE, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::InitProducerId,
            "v5, transactional",
            |c| init_producer_id(c, Some("txn-init")),
            vec![53],
        )
        .then(vec![allow(WRITE, txn("txn-init"))], Codes(vec![NONE])),
        Case::new(
            ApiKey::FindCoordinator,
            "v4, a group",
            |c| find_coordinator(c, KEY_GROUP, "g-find", 4),
            vec![30],
        )
        .then(vec![allow(DESCRIBE, group("g-find"))], Codes(vec![NONE])),
        Case::new(
            ApiKey::FindCoordinator,
            "v3, a group",
            |c| find_coordinator(c, KEY_GROUP, "g-find", 3),
            vec![30],
        )
        .then(vec![allow(DESCRIBE, group("g-find"))], Codes(vec![NONE])),
        Case::new(
            ApiKey::FindCoordinator,
            "v4, a transactional id",
            |c| find_coordinator(c, KEY_TRANSACTION, "txn-find", 4),
            vec![53],
        )
        .then(vec![allow(DESCRIBE, txn("txn-find"))], Codes(vec![NONE])),
        Case::new(ApiKey::JoinGroup, "v9", join_group, vec![30])
            .then(vec![allow(READ, group("g-join"))], Authorized),
        Case::new(ApiKey::SyncGroup, "v5", sync_group, vec![30])
            .then(vec![allow(READ, group("g-sync"))], Authorized),
        Case::new(ApiKey::Heartbeat, "v4", heartbeat, vec![30])
            .then(vec![allow(READ, group("g-heartbeat"))], Authorized),
        Case::new(ApiKey::LeaveGroup, "v5", leave_group, vec![30])
            .then(vec![allow(READ, group("g-leave"))], Authorized),
        Case::new(
            ApiKey::OffsetCommit,
            "v8",
            |c| offset_commit(c, "g-commit"),
            vec![30],
        )
        .then(vec![allow(READ, group("g-commit"))], Codes(vec![29]))
        .then(vec![allow(READ, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(ApiKey::OffsetFetch, "v8", offset_fetch_v8, vec![30])
            .then(
                vec![allow(DESCRIBE, group("g-commit"))],
                Codes(vec![NONE, 29]),
            )
            .then(
                vec![allow(DESCRIBE, topic(MATRIX))],
                Codes(vec![NONE, NONE]),
            ),
        // v1 has no top-level error code: the refusal is on the partition.
        Case::new(ApiKey::OffsetFetch, "v1", offset_fetch_v1, vec![30])
            .then(vec![allow(DESCRIBE, group("g-commit"))], Codes(vec![29]))
            .then(vec![allow(DESCRIBE, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(ApiKey::DescribeGroups, "v5", describe_groups, vec![30]).then(
            vec![allow(DESCRIBE, group("g-describe"))],
            Codes(vec![NONE]),
        ),
        Case::new(ApiKey::DeleteGroups, "v2", delete_groups, vec![30])
            .then(vec![allow(DELETE, group("g-delete"))], Authorized),
        Case::new(ApiKey::OffsetDelete, "v0", offset_delete, vec![30])
            .then(
                vec![allow(DELETE, group("g-offset-delete"))],
                Codes(vec![NONE, 29]),
            )
            .then(vec![allow(READ, topic(MATRIX))], Codes(vec![NONE, NONE])),
        Case::new(
            ApiKey::ConsumerGroupHeartbeat,
            "v1, subscribed to a topic",
            |c| consumer_group_heartbeat(c, "g-consumer", "alice-member"),
            vec![30],
        )
        .then(vec![allow(READ, group("g-consumer"))], Codes(vec![29]))
        .then(vec![allow(DESCRIBE, topic(MATRIX))], Codes(vec![NONE])),
        // g-described has a member with MATRIX in its assignment.
        Case::new(
            ApiKey::ConsumerGroupDescribe,
            "v0",
            consumer_group_describe,
            vec![30],
        )
        .then(vec![allow(DESCRIBE, group("g-described"))], Codes(vec![29]))
        .then(vec![allow(DESCRIBE, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::AddPartitionsToTxn,
            "v3, a client's",
            |c| add_partitions_to_txn(c, 3),
            vec![53],
        )
        .then(vec![allow(WRITE, txn("txn-add"))], Codes(vec![29]))
        .then(vec![allow(WRITE, topic(MATRIX))], Authorized),
        Case::new(
            ApiKey::AddPartitionsToTxn,
            "v4, a broker's batch",
            |c| add_partitions_to_txn(c, 4),
            vec![31],
        )
        .then(vec![allow(CLUSTER_ACTION, cluster())], Authorized),
        Case::new(ApiKey::AddOffsetsToTxn, "v3", add_offsets_to_txn, vec![53])
            .then(vec![allow(WRITE, txn("txn-offsets"))], Codes(vec![30]))
            .then(vec![allow(READ, group("g-txn"))], Authorized),
        Case::new(ApiKey::EndTxn, "v3", end_txn, vec![53])
            .then(vec![allow(WRITE, txn("txn-end"))], Authorized),
        Case::new(ApiKey::WriteTxnMarkers, "v1", write_txn_markers, vec![31])
            .then(vec![allow(CLUSTER_ACTION, cluster())], Authorized),
        Case::new(ApiKey::TxnOffsetCommit, "v3", txn_offset_commit, vec![53])
            .then(vec![allow(WRITE, txn("txn-commit"))], Codes(vec![30]))
            .then(vec![allow(READ, group("g-txn"))], Codes(vec![29]))
            .then(vec![allow(READ, topic(MATRIX))], Authorized),
        Case::new(ApiKey::DescribeAcls, "v3", describe_all_acls, vec![31])
            .then(vec![allow(DESCRIBE, cluster())], Codes(vec![NONE])),
        Case::new(ApiKey::CreateAcls, "v3", create_acls, vec![31])
            .then(vec![allow(ALTER, cluster())], Codes(vec![NONE])),
        Case::new(ApiKey::DeleteAcls, "v3", delete_acls, vec![31])
            .then(vec![allow(ALTER, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::DescribeTransactions,
            "v0",
            |c| {
                describe_transactions(c, "txn-describe")
                    .transaction_states
                    .iter()
                    .map(|t| t.error_code)
                    .collect()
            },
            vec![53],
        )
        .then(vec![allow(DESCRIBE, txn("txn-describe"))], Authorized),
        Case::new(
            ApiKey::DescribeProducers,
            "v0",
            describe_producers,
            vec![29],
        )
        .then(vec![allow(READ, topic(MATRIX))], Codes(vec![NONE])),
        Case::new(
            ApiKey::OffsetForLeaderEpoch,
            "v4, a consumer",
            |c| offset_for_leader_epoch(c, -1),
            vec![29],
        )
        .then(vec![allow(DESCRIBE, topic(MATRIX))], Codes(vec![NONE])),
        // Kafka accepts CLUSTER_ACTION or DESCRIBE on the topic, whoever asks.
        Case::new(
            ApiKey::OffsetForLeaderEpoch,
            "v4, a consumer with CLUSTER_ACTION",
            |c| offset_for_leader_epoch(c, -1),
            vec![29],
        )
        .then(vec![allow(CLUSTER_ACTION, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::OffsetForLeaderEpoch,
            "v4, a follower's (replica id set)",
            |c| offset_for_leader_epoch(c, STRANGER_REPLICA),
            vec![29],
        )
        .then(vec![allow(CLUSTER_ACTION, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::ElectLeaders,
            "v2",
            |c| elect_leaders(c, 2),
            vec![31, 31],
        )
        .then(vec![allow(ALTER, cluster())], Authorized),
        // v0 has no top-level error code: the refusal is on the partition.
        Case::new(
            ApiKey::ElectLeaders,
            "v0",
            |c| elect_leaders(c, 0),
            vec![31],
        )
        .then(vec![allow(ALTER, cluster())], Authorized),
        Case::new(ApiKey::UpdateFeatures, "v1", update_features, vec![31, 31])
            .then(vec![allow(ALTER, cluster())], Codes(vec![NONE, NONE])),
        // Authorized, the broker id is still not registered.
        Case::new(ApiKey::UnregisterBroker, "v0", unregister_broker, vec![31])
            .then(vec![allow(ALTER, cluster())], Codes(vec![102])),
        Case::new(
            ApiKey::DescribeTopicPartitions,
            "v0",
            describe_topic_partitions,
            vec![29],
        )
        .then(vec![allow(DESCRIBE, topic(MATRIX))], Authorized),
        Case::new(ApiKey::DescribeLogDirs, "v4", describe_log_dirs, vec![31])
            .then(vec![allow(DESCRIBE, cluster())], Authorized),
        Case::new(
            ApiKey::AlterReplicaLogDirs,
            "v2",
            alter_replica_log_dirs,
            vec![31],
        )
        .then(vec![allow(ALTER, cluster())], Codes(vec![57])),
        Case::new(
            ApiKey::AlterPartitionReassignments,
            "v0, a cancel",
            alter_partition_reassignments,
            vec![31, 31],
        )
        .then(vec![allow(ALTER, cluster())], Authorized),
        Case::new(
            ApiKey::ListPartitionReassignments,
            "v0",
            list_partition_reassignments,
            vec![31],
        )
        .then(vec![allow(DESCRIBE, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::DescribeUserScramCredentials,
            "v0",
            describe_user_scram_credentials,
            vec![31, 31],
        )
        .then(vec![allow(DESCRIBE, cluster())], Authorized),
        Case::new(
            ApiKey::AlterUserScramCredentials,
            "v0, a deletion",
            alter_user_scram_credentials,
            vec![31],
        )
        .then(vec![allow(ALTER, cluster())], Authorized),
        Case::new(
            ApiKey::DescribeClientQuotas,
            "v1",
            describe_client_quotas,
            vec![31],
        )
        .then(vec![allow(DESCRIBE_CONFIGS, cluster())], Codes(vec![NONE])),
        Case::new(
            ApiKey::AlterClientQuotas,
            "v1, validate only",
            alter_client_quotas,
            vec![31],
        )
        .then(vec![allow(ALTER_CONFIGS, cluster())], Codes(vec![NONE])),
    ]
}

// ---- Sections with answers of their own shape. ----

/// Metadata: a topic alice may not DESCRIBE is left out of a full listing and refused by
/// name, as is a name that does not exist; auto-creation needs CREATE as well.
fn metadata(h: &mut Harness) {
    h.revoke_all();
    assert!(
        !metadata_all(&mut h.alice).contains(&MATRIX.to_string()),
        "Metadata lists {MATRIX} to alice without ACLs"
    );
    assert_eq!(
        metadata_named(&mut h.alice, &[MATRIX, "no-such-topic"], false),
        vec![29, 29],
        "Metadata by name without ACLs"
    );
    assert!(metadata_all(&mut h.admin).contains(&MATRIX.to_string()));
    assert_eq!(
        metadata_named(&mut h.admin, &[MATRIX, "no-such-topic"], false),
        vec![NONE, UNKNOWN_TOPIC_OR_PARTITION],
        "Metadata by name for the super user"
    );
    h.grant(&[allow(DESCRIBE, topic(MATRIX))]);
    assert!(
        metadata_all(&mut h.alice).contains(&MATRIX.to_string()),
        "Metadata lists {MATRIX} with DESCRIBE"
    );
    assert_eq!(
        metadata_named(&mut h.alice, &[MATRIX, "no-such-topic"], false),
        vec![NONE, 29],
        "Metadata by name with DESCRIBE on {MATRIX}"
    );
    // Auto-creation: DESCRIBE alone is not enough, CREATE is needed too.
    h.grant(&[allow(DESCRIBE, topic("auto-created"))]);
    assert_eq!(
        metadata_named(&mut h.alice, &["auto-created"], true),
        vec![29],
        "auto-creation without CREATE"
    );
    h.grant(&[allow(CREATE, topic("auto-created"))]);
    assert_eq!(
        metadata_named(&mut h.alice, &["auto-created"], true),
        vec![NONE],
        "auto-creation with CREATE"
    );
    h.covered.insert(ApiKey::Metadata as i16);
}

/// DeleteTopics by id: without DESCRIBE the answer does not name the topic.
fn delete_topics_by_id(h: &mut Harness, id: uuid::Uuid) {
    let delete = |c: &mut Client| {
        let request = DeleteTopicsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(vec![DeleteTopicState::default().with_topic_id(id)]);
        let response = c.send(&request, 6);
        let r = &response.responses[0];
        (r.error_code, r.name.as_ref().map(|n| n.to_string()))
    };
    h.revoke_all();
    assert_eq!(
        delete(&mut h.alice),
        (29, None),
        "DeleteTopics by id, no ACLs"
    );
    h.grant(&[allow(DESCRIBE, topic(DOOMED_BY_ID))]);
    assert_eq!(
        delete(&mut h.alice),
        (29, Some(DOOMED_BY_ID.to_string())),
        "DeleteTopics by id with DESCRIBE only"
    );
    h.grant(&[allow(DELETE, topic(DOOMED_BY_ID))]);
    assert_eq!(
        delete(&mut h.alice),
        (NONE, Some(DOOMED_BY_ID.to_string())),
        "DeleteTopics by id with DELETE"
    );
    h.covered.insert(ApiKey::DeleteTopics as i16);
}

/// ListGroups lists what alice may DESCRIBE, or everything with DESCRIBE on the cluster.
fn list_groups_filtered(h: &mut Harness) {
    let listed = |c: &mut Client| list_groups(c).contains(&"g-listed".to_string());
    h.revoke_all();
    assert!(!listed(&mut h.alice), "ListGroups shows g-listed to alice");
    assert!(
        listed(&mut h.admin),
        "ListGroups shows g-listed to the super user"
    );
    h.grant(&[allow(DESCRIBE, group("g-listed"))]);
    assert!(listed(&mut h.alice), "ListGroups with DESCRIBE on g-listed");
    h.revoke_all();
    h.grant(&[allow(DESCRIBE, cluster())]);
    assert!(
        listed(&mut h.alice),
        "ListGroups with DESCRIBE on the cluster"
    );
    h.covered.insert(ApiKey::ListGroups as i16);
}

/// ListTransactions lists the transactional ids alice may DESCRIBE; DescribeTransactions
/// shows only the topics she may DESCRIBE.
fn transactions_filtered(h: &mut Harness) {
    let listed = |c: &mut Client| list_transactions(c).contains(&"txn-listed".to_string());
    h.revoke_all();
    assert!(
        !listed(&mut h.alice),
        "ListTransactions shows txn-listed to alice"
    );
    assert!(
        listed(&mut h.admin),
        "ListTransactions shows txn-listed to the super user"
    );
    h.grant(&[allow(DESCRIBE, txn("txn-listed"))]);
    assert!(
        listed(&mut h.alice),
        "ListTransactions with DESCRIBE on txn-listed"
    );
    let topics = |c: &mut Client| {
        let response = describe_transactions(c, "txn-listed");
        let state = &response.transaction_states[0];
        assert_eq!(state.error_code, NONE, "DescribeTransactions txn-listed");
        state
            .topics
            .iter()
            .map(|t| t.topic.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        topics(&mut h.alice),
        Vec::<String>::new(),
        "DescribeTransactions hides {MATRIX} without DESCRIBE on it"
    );
    h.grant(&[allow(DESCRIBE, topic(MATRIX))]);
    assert_eq!(topics(&mut h.alice), vec![MATRIX.to_string()]);
    h.covered.insert(ApiKey::ListTransactions as i16);
}

/// TxnOffsetCommit with READ on one of its two topics: the other's partition is refused and
/// the readable one goes on to the group (not OPERATION_NOT_ATTEMPTED), as in Kafka.
fn txn_offset_commit_partly_authorized(h: &mut Harness) {
    const OPERATION_NOT_ATTEMPTED: i16 = 55;
    let commit = |c: &mut Client| {
        let topic = |name: &str| {
            TxnOffsetCommitRequestTopic::default()
                .with_name(topic_name(name))
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(0)])
        };
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(txn_id("txn-commit"))
            .with_group_id(group_id("g-txn"))
            .with_producer_id(ProducerId(4242))
            .with_producer_epoch(0)
            .with_generation_id(-1)
            .with_member_id(sb(""))
            .with_topics(vec![topic(MATRIX), topic(PAYMENTS)]);
        let response = c.send(&request, 3);
        response
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.error_code))
            })
            .collect::<Vec<_>>()
    };
    h.revoke_all();
    h.grant(&[
        allow(WRITE, txn("txn-commit")),
        allow(READ, group("g-txn")),
        allow(READ, topic(MATRIX)),
    ]);
    let codes = commit(&mut h.alice);
    let code_of = |name: &str| {
        codes
            .iter()
            .find(|(t, _)| t == name)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("TxnOffsetCommit answers {name}: {codes:?}"))
    };
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert_eq!(code_of(PAYMENTS), TOPIC_AUTHORIZATION_FAILED, "{codes:?}");
    let readable = code_of(MATRIX);
    assert!(
        readable != OPERATION_NOT_ATTEMPTED && !AUTHORIZATION_FAILURES.contains(&readable),
        "the readable topic is committed (or fails on its own): {codes:?}"
    );
}

/// A refused ConsumerGroupDescribe names the group and nothing else of it.
fn consumer_group_describe_refusal_reveals_nothing(h: &mut Harness) {
    h.revoke_all();
    let request =
        ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id("g-described")]);
    let response = h.alice.send(&request, 0);
    let refused = &response.groups[0];
    assert_eq!(refused.error_code, GROUP_AUTHORIZATION_FAILED);
    assert_eq!(refused.group_id.as_str(), "g-described");
    assert_eq!(
        (
            refused.group_state.as_str(),
            refused.group_epoch,
            refused.assignment_epoch,
            refused.assignor_name.as_str(),
            refused.members.len()
        ),
        ("", 0, 0, "", 0),
        "a refused group's state"
    );
    let seen = h.admin.send(&request, 0);
    assert_ne!(
        seen.groups[0].group_state.as_str(),
        "",
        "the super user sees it"
    );
}

/// A DENY wins over an ALLOW of the same operation on the same resource.
fn deny_beats_allow(h: &mut Harness) {
    h.revoke_all();
    h.grant(&[allow(WRITE, topic(MATRIX))]);
    assert_eq!(produce_to(&mut h.alice, MATRIX), vec![NONE], "ALLOW alone");
    h.grant(&[binding(ALICE, DENY, WRITE, topic(MATRIX))]);
    assert_eq!(
        produce_to(&mut h.alice, MATRIX),
        vec![29],
        "an ALLOW and a DENY of WRITE"
    );
}

/// A PREFIXED binding covers the names that start with its prefix, and no others.
fn prefixed_binding(h: &mut Harness) {
    h.revoke_all();
    h.grant(&[allow(WRITE, (TOPIC, "orders-".to_string(), PREFIXED))]);
    assert_eq!(
        produce_to(&mut h.alice, ORDERS_EU),
        vec![NONE],
        "{ORDERS_EU}"
    );
    assert_eq!(produce_to(&mut h.alice, PAYMENTS), vec![29], "{PAYMENTS}");
}

/// A binding for `User:*` applies to alice.
fn wildcard_principal(h: &mut Harness) {
    h.revoke_all();
    h.grant(&[binding("User:*", ALLOW, WRITE, topic(MATRIX))]);
    assert_eq!(produce_to(&mut h.alice, MATRIX), vec![NONE], "ALLOW User:*");
}

/// DescribeAcls lists what CreateAcls created, field by field; DeleteAcls answers what it
/// removed, and then the ACLs no longer apply.
fn acl_round_trip(h: &mut Harness) {
    h.revoke_all();
    let created = vec![
        allow(READ, topic(MATRIX)),
        binding(ALICE, DENY, WRITE, topic(MATRIX)),
    ];
    h.grant(&created);
    let filter = DescribeAclsRequest::default()
        .with_resource_type_filter(TOPIC)
        .with_resource_name_filter(Some(sb(MATRIX)))
        .with_pattern_type_filter(LITERAL)
        .with_principal_filter(Some(sb(ALICE)))
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY);
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(described(&mut h.admin, &filter), expected, "DescribeAcls");
    assert_eq!(
        list_offsets(&mut h.alice),
        vec![NONE],
        "READ (with DESCRIBE) applies"
    );

    let request = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
        .with_resource_type_filter(TOPIC)
        .with_resource_name_filter(Some(sb(MATRIX)))
        .with_pattern_type_filter(LITERAL)
        .with_principal_filter(Some(sb(ALICE)))
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY)]);
    let response = h.admin.send(&request, 3);
    let result = &response.filter_results[0];
    assert_eq!(result.error_code, NONE, "DeleteAcls");
    let mut removed: Vec<Acl> = result
        .matching_acls
        .iter()
        .map(|m| {
            assert_eq!(m.error_code, NONE);
            assert_eq!(m.host.as_str(), "*");
            Acl {
                resource_type: m.resource_type,
                name: m.resource_name.to_string(),
                pattern: m.pattern_type,
                principal: m.principal.to_string(),
                operation: m.operation,
                permission: m.permission_type,
            }
        })
        .collect();
    removed.sort();
    assert_eq!(removed, expected, "DeleteAcls answers what it removed");
    // A fresh canary: once it applies, so does the deletion before it.
    h.grant(&[]);
    assert_eq!(described(&mut h.admin, &filter), Vec::<Acl>::new());
    assert_eq!(list_offsets(&mut h.alice), vec![29], "READ removed");
}

#[test]
fn every_advertised_api_with_and_without_its_acl() {
    let mut h = Harness::start();
    setup(&mut h);
    let matrix_id = topic_id(&mut h.admin, MATRIX);
    let doomed_id = topic_id(&mut h.admin, DOOMED_BY_ID);
    let broker_id = h.broker.broker().node_id;

    metadata(&mut h);
    for case in matrix(matrix_id, broker_id) {
        h.run(case);
    }
    delete_topics_by_id(&mut h, doomed_id);
    txn_offset_commit_partly_authorized(&mut h);
    consumer_group_describe_refusal_reveals_nothing(&mut h);
    list_groups_filtered(&mut h);
    transactions_filtered(&mut h);
    deny_beats_allow(&mut h);
    prefixed_binding(&mut h);
    wildcard_principal(&mut h);
    acl_round_trip(&mut h);

    // Every API the broker advertises (on alice's listener) is in the matrix, but those that
    // come before authorization.
    let advertised = h.alice.send(&ApiVersionsRequest::default(), 3);
    let not_authorized = [
        ApiKey::ApiVersions as i16,
        ApiKey::SaslHandshake as i16,
        ApiKey::SaslAuthenticate as i16,
    ];
    let missing: Vec<String> = advertised
        .api_keys
        .iter()
        .map(|k| k.api_key)
        .filter(|k| !not_authorized.contains(k) && !h.covered.contains(k))
        .map(|k| match ApiKey::try_from(k) {
            Ok(api) => format!("{api:?}"),
            Err(_) => format!("api key {k}"),
        })
        .collect();
    assert!(
        missing.is_empty(),
        "advertised APIs the ACL matrix does not cover: {missing:?}"
    );
}
