//! The request-time quota in the response (KIP-124, KIP-219): [`ThrottleTime`] sets a response's
//! `throttle_time_ms`, for the responses that have one, so that a client over its
//! `request_percentage` learns how long it is held back, whatever it asked.

use kafka_protocol::messages::*;

/// A response that can say how long the client is throttled.
pub trait ThrottleTime: Sized {
    /// A copy saying at least `ms` (`None`: the response has no such field).
    fn with_throttle(&self, ms: i32) -> Option<Self>;
}

macro_rules! throttled {
    ($($response:ty),* $(,)?) => {
        $(impl ThrottleTime for $response {
            fn with_throttle(&self, ms: i32) -> Option<Self> {
                let mut throttled = self.clone();
                throttled.throttle_time_ms = throttled.throttle_time_ms.max(ms);
                Some(throttled)
            }
        })*
    };
}

macro_rules! unthrottled {
    ($($response:ty),* $(,)?) => {
        $(impl ThrottleTime for $response {
            fn with_throttle(&self, _ms: i32) -> Option<Self> {
                None
            }
        })*
    };
}

throttled!(
    ProduceResponse,
    ListOffsetsResponse,
    MetadataResponse,
    ApiVersionsResponse,
    CreateTopicsResponse,
    DeleteTopicsResponse,
    DeleteRecordsResponse,
    DescribeConfigsResponse,
    AlterConfigsResponse,
    CreatePartitionsResponse,
    IncrementalAlterConfigsResponse,
    DescribeClusterResponse,
    InitProducerIdResponse,
    FindCoordinatorResponse,
    JoinGroupResponse,
    SyncGroupResponse,
    HeartbeatResponse,
    LeaveGroupResponse,
    OffsetCommitResponse,
    OffsetFetchResponse,
    DescribeGroupsResponse,
    ListGroupsResponse,
    DeleteGroupsResponse,
    OffsetDeleteResponse,
    ConsumerGroupHeartbeatResponse,
    ConsumerGroupDescribeResponse,
    AddPartitionsToTxnResponse,
    AddOffsetsToTxnResponse,
    EndTxnResponse,
    TxnOffsetCommitResponse,
    DescribeTransactionsResponse,
    ListTransactionsResponse,
    DescribeProducersResponse,
    OffsetForLeaderEpochResponse,
    ElectLeadersResponse,
    DescribeLogDirsResponse,
    AlterReplicaLogDirsResponse,
    AlterPartitionReassignmentsResponse,
    ListPartitionReassignmentsResponse,
    DescribeAclsResponse,
    CreateAclsResponse,
    DeleteAclsResponse,
    DescribeClientQuotasResponse,
    AlterClientQuotasResponse,
    DescribeUserScramCredentialsResponse,
    AlterUserScramCredentialsResponse,
    ListConfigResourcesResponse,
    UpdateFeaturesResponse,
    UnregisterBrokerResponse,
    DescribeTopicPartitionsResponse,
);

unthrottled!(
    DescribeQuorumResponse,
    WriteTxnMarkersResponse,
    SaslHandshakeResponse,
    SaslAuthenticateResponse,
);
