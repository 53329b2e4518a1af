//! The Kafka APIs, above the coordinators: imports every layer below (config, replicas,
//! cluster, coordinators) and never the server.
//!
//! Every frame goes through the same steps: the front door ([`front_door::admit`]) checks and
//! decodes the header, answers an ApiVersions newer than ours in v0 shape (KIP-511), refuses
//! (closing the connection, as Kafka does) any other version we do not implement, checks the
//! body against the sizes it claims ([`sluice_protocol::guard`]) and decodes it into its type
//! ([`RequestBody`]); [`KafkaApis::dispatch`] hands it to its API's handler with the handles
//! that handler uses; the response is framed with the request's correlation id.
//!
//! - `connection`: one client connection: framing, pipelining, responses in request order;
//!   `request`: the request context, response framing.
//! - `front_door`, `request_body`: the door and the decoded bodies; `kafka_apis`: the handles
//!   and the dispatch.
//! - one module per API or family (`produce`, `fetch` and `replica_fetch`, `metadata`,
//!   `groups`, `txn`, `configs`, `scram_credentials`, ...), each turning a decoded request into
//!   a response.

mod acls;
mod alter_replica_log_dirs;
mod api_versions;
mod authorize;
mod client_quotas;
mod configs;
pub mod connection;
mod create_partitions;
mod create_topics;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_log_dirs;
mod describe_producers;
mod describe_quorum;
mod describe_topic_partitions;
mod elect_leaders;
mod fetch;
pub mod front_door;
mod groups;
mod kafka_apis;
mod leader_hint;
mod list_config_resources;
mod list_offsets;
mod metadata;
mod mutation_quota;
mod offset_for_leader_epoch;
mod produce;
mod reassignments;
mod replica_fetch;
pub mod request;
mod request_body;
mod sasl;
mod scram_credentials;
pub mod session;
mod throttle;
mod txn;
mod unregister_broker;
mod update_features;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use tracing::Instrument;

use crate::metrics::{ApiRequestMetrics, RequestMetrics};

pub use front_door::{admit, Admitted, DecodedRequest};
pub use kafka_apis::KafkaApis;
pub use request::{OrderGate, RequestContext, ResponseFrame, Unparseable};
pub use request_body::RequestBody;
pub use session::{ListenerContext, SaslAuthenticator, Session};

/// The APIs Sluice implements and the versions it advertises in ApiVersions. Every range lies
/// inside what the `kafka-protocol` crate can decode and encode.
pub const SUPPORTED_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 13),
    (ApiKey::Fetch, 4, 18),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::DescribeQuorum, 0, 2),
    (ApiKey::UpdateFeatures, 0, 2),
    (ApiKey::UnregisterBroker, 0, 0),
    (ApiKey::DescribeTopicPartitions, 0, 0),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::AddPartitionsToTxn, 0, 5),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 4),
    (ApiKey::WriteTxnMarkers, 1, 1),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 2),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::AlterReplicaLogDirs, 1, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::AlterPartitionReassignments, 0, 1),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::ListConfigResources, 0, 1),
];

pub fn supported_versions(api: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED_APIS
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// Handles one request frame: the front door, then the API's handler. `Ok(None)` means the
/// request gets no response (acks=0 produce). The next request of the connection starts once
/// `order` opens: when the handler says its effects are done
/// ([`RequestContext::effects_done`]) or when this returns.
pub async fn handle(
    apis: &KafkaApis,
    frame: Bytes,
    session: &std::sync::Arc<Session>,
    order: OrderGate,
    received: std::time::Instant,
) -> Result<Option<ResponseFrame>, Unparseable> {
    if session.expects_raw_message() {
        return sasl::raw_message(&apis.cluster, session, &frame).await;
    }
    let api = frame
        .get(..2)
        .and_then(|key| ApiKey::try_from(i16::from_be_bytes([key[0], key[1]])).ok());
    // Kafka counts every request it reads, however it ends: one that the door answers or
    // refuses counts too, as its API (its time all spent before any handler).
    let counted_at_door = || {
        let requests = &apis.replicas.metrics().requests;
        if let Some(metrics) = api.and_then(|api| door_metrics(requests, api)) {
            let waited = received.elapsed();
            metrics.record(waited, waited);
        }
    };
    if let Some(api) = api {
        // Checked before the body is decoded: nothing but SASL is parsed before authentication.
        if let Some(why) = session.refusal(api) {
            counted_at_door();
            return Err(Unparseable(format!("closing the connection: {why}")));
        }
    }
    let request = match admit(&frame) {
        Ok(Admitted::Request(request)) => request,
        Ok(Admitted::Answered(response)) => {
            counted_at_door();
            return Ok(Some(ResponseFrame::One(response)));
        }
        Err(refused) => {
            counted_at_door();
            return Err(refused);
        }
    };
    let DecodedRequest {
        api_key: api,
        header,
        body,
    } = *request;
    let ctx = RequestContext::from_header(api, &header, session.clone()).with_order_gate(order);
    // Kafka names a fetch's request metrics after who sends it.
    let requests = &apis.replicas.metrics().requests;
    let metrics = match &body {
        RequestBody::Fetch(r) => {
            Some(requests.fetch(fetch::replica_id(ctx.api_version, r).is_some()))
        }
        _ => requests.api(api as i16, || format!("{api:?}")),
    };
    // Every line logged while the request is handled carries these (inside the connection's
    // span: peer, listener, principal). One span per request: a few hundred nanoseconds.
    let span = tracing::info_span!(
        "request",
        api = ?api,
        version = ctx.api_version,
        correlation_id = ctx.correlation_id,
        client_id = ctx.client_id.as_deref().unwrap_or(""),
    );
    let started = std::time::Instant::now();
    let response = busy_timed(apis.dispatch(&ctx, body), &ctx.busy)
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    if let Some(m) = metrics {
        m.record(started.duration_since(received), received.elapsed());
    }
    let _entered = span.enter();
    tracing::debug!(
        principal = %ctx.principal(),
        listener = ctx.listener(),
        micros = elapsed.as_micros() as u64,
        response_bytes = match &response {
            Ok(Some(ResponseFrame::One(b))) => b.len(),
            Ok(Some(ResponseFrame::Chunks(c))) => c.iter().map(Bytes::len).sum(),
            _ => 0,
        },
        "request"
    );
    if apis
        .settings
        .request_slow_log_threshold
        .is_some_and(|threshold| elapsed >= threshold)
    {
        tracing::warn!(
            principal = %ctx.principal(),
            client_id = ctx.client_id.as_deref().unwrap_or(""),
            total_ms = elapsed.as_secs_f64() * 1000.0,
            busy_ms = ctx.busy_nanos() as f64 / 1e6,
            "slow request: {api:?} v{} took {:.1} ms",
            ctx.api_version,
            elapsed.as_secs_f64() * 1000.0,
        );
    }
    response
}

/// The request metrics of a request of `api` that the front door answered or refused (a
/// fetch's body, which says who sent it, may not have been read: `FetchConsumer`); `None` for
/// an API Sluice does not serve, which the door does not take for a request.
fn door_metrics(requests: &RequestMetrics, api: ApiKey) -> Option<&ApiRequestMetrics> {
    supported_versions(api)?;
    match api {
        ApiKey::Fetch => Some(requests.fetch(false)),
        _ => requests.api(api as i16, || format!("{api:?}")),
    }
}

/// Runs `future` with its polls timed on `clock`: a request's thread time, the unit of the
/// request-time quota, as opposed to its wall-clock time.
async fn busy_timed<F: std::future::Future>(future: F, clock: &request::BusyClock) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        clock.poll_started();
        let poll = future.as_mut().poll(cx);
        clock.poll_ended();
        poll
    })
    .await
}

/// Kafka's authorized-operations bitfields (KIP-430): with no authorizer every operation that
/// applies to the resource is allowed. `INT32_MIN` means "not requested".
pub const AUTHORIZED_OPS_NOT_REQUESTED: i32 = i32::MIN;
/// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const TOPIC_OPS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE,
/// CREATE_TOKENS, DESCRIBE_TOKENS.
pub const CLUSTER_OPS_ALL: i32 = (1 << 5)
    | (1 << 7)
    | (1 << 8)
    | (1 << 9)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
    | (1 << 13)
    | (1 << 14);

/// The operations [`TOPIC_OPS_ALL`] stands for, for an authorizer's bitfield.
pub const TOPIC_OPERATIONS: &[sluice_security::acl::AclOperation] = {
    use sluice_security::acl::AclOperation::*;
    &[
        Read,
        Write,
        Create,
        Delete,
        Alter,
        Describe,
        DescribeConfigs,
        AlterConfigs,
    ]
};
/// The operations [`CLUSTER_OPS_ALL`] stands for.
pub const CLUSTER_OPERATIONS: &[sluice_security::acl::AclOperation] = {
    use sluice_security::acl::AclOperation::*;
    &[
        Create,
        Alter,
        Describe,
        ClusterAction,
        DescribeConfigs,
        AlterConfigs,
        IdempotentWrite,
        CreateTokens,
        DescribeTokens,
    ]
};

#[cfg(test)]
mod tests {
    use sluice_protocol::guard;

    use super::*;

    #[test]
    fn every_advertised_version_is_guarded() {
        for (api, min, max) in SUPPORTED_APIS {
            let (lo, hi) = guard::supported_versions(*api as i16)
                .unwrap_or_else(|| panic!("{api:?} has no guard schema"));
            assert!(
                lo <= *min && *max <= hi,
                "{api:?} v{min}-v{max} not within guarded v{lo}-v{hi}"
            );
        }
    }
}
