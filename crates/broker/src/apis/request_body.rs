//! [`RequestBody`]: a request body decoded into the type of its API, one variant per API this
//! broker serves ([`super::SUPPORTED_APIS`]).

use bytes::Bytes;
use kafka_protocol::messages::*;

use super::request::{decode, Unparseable};

macro_rules! request_bodies {
    ($($api:ident => $request:ident,)*) => {
        /// A decoded request body.
        #[derive(Debug)]
        pub enum RequestBody {
            $($api($request),)*
        }

        impl RequestBody {
            /// Decodes the body of an `api` request at `version` (after the guard checked its
            /// sizes).
            pub fn decode(
                api: ApiKey,
                body: &mut Bytes,
                version: i16,
            ) -> Result<RequestBody, Unparseable> {
                match api {
                    $(ApiKey::$api => decode(body, version).map(RequestBody::$api),)*
                    other => Err(Unparseable(format!("api {other:?} is not supported"))),
                }
            }

            /// The API of this request.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(RequestBody::$api(_) => ApiKey::$api,)*
                }
            }
        }
    };
}

request_bodies! {
    Produce => ProduceRequest,
    Fetch => FetchRequest,
    ListOffsets => ListOffsetsRequest,
    Metadata => MetadataRequest,
    ApiVersions => ApiVersionsRequest,
    CreateTopics => CreateTopicsRequest,
    DeleteTopics => DeleteTopicsRequest,
    DeleteRecords => DeleteRecordsRequest,
    DescribeConfigs => DescribeConfigsRequest,
    AlterConfigs => AlterConfigsRequest,
    CreatePartitions => CreatePartitionsRequest,
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
    DescribeCluster => DescribeClusterRequest,
    DescribeQuorum => DescribeQuorumRequest,
    UpdateFeatures => UpdateFeaturesRequest,
    UnregisterBroker => UnregisterBrokerRequest,
    DescribeTopicPartitions => DescribeTopicPartitionsRequest,
    InitProducerId => InitProducerIdRequest,
    FindCoordinator => FindCoordinatorRequest,
    JoinGroup => JoinGroupRequest,
    SyncGroup => SyncGroupRequest,
    Heartbeat => HeartbeatRequest,
    LeaveGroup => LeaveGroupRequest,
    OffsetCommit => OffsetCommitRequest,
    OffsetFetch => OffsetFetchRequest,
    DescribeGroups => DescribeGroupsRequest,
    ListGroups => ListGroupsRequest,
    DeleteGroups => DeleteGroupsRequest,
    OffsetDelete => OffsetDeleteRequest,
    ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest,
    ConsumerGroupDescribe => ConsumerGroupDescribeRequest,
    AddPartitionsToTxn => AddPartitionsToTxnRequest,
    AddOffsetsToTxn => AddOffsetsToTxnRequest,
    EndTxn => EndTxnRequest,
    WriteTxnMarkers => WriteTxnMarkersRequest,
    TxnOffsetCommit => TxnOffsetCommitRequest,
    DescribeAcls => DescribeAclsRequest,
    CreateAcls => CreateAclsRequest,
    DeleteAcls => DeleteAclsRequest,
    DescribeTransactions => DescribeTransactionsRequest,
    ListTransactions => ListTransactionsRequest,
    DescribeProducers => DescribeProducersRequest,
    OffsetForLeaderEpoch => OffsetForLeaderEpochRequest,
    ElectLeaders => ElectLeadersRequest,
    AlterReplicaLogDirs => AlterReplicaLogDirsRequest,
    DescribeLogDirs => DescribeLogDirsRequest,
    AlterPartitionReassignments => AlterPartitionReassignmentsRequest,
    ListPartitionReassignments => ListPartitionReassignmentsRequest,
    SaslHandshake => SaslHandshakeRequest,
    SaslAuthenticate => SaslAuthenticateRequest,
    DescribeClientQuotas => DescribeClientQuotasRequest,
    AlterClientQuotas => AlterClientQuotasRequest,
    DescribeUserScramCredentials => DescribeUserScramCredentialsRequest,
    AlterUserScramCredentials => AlterUserScramCredentialsRequest,
    ListConfigResources => ListConfigResourcesRequest,
}
