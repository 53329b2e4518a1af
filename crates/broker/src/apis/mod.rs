//! Request dispatch: the request header picks the API, each API has its own handler module.
//!
//! Every frame goes through the same steps: the header is checked and decoded; ApiVersions with
//! a version we do not know is answered in v0 shape (KIP-511); any other request whose version
//! we do not implement closes the connection as Kafka does; the body is checked against the
//! claimed sizes ([`sluice_protocol::guard`]) before `kafka-protocol` decodes it; the handler
//! returns a response body which is framed with the request's correlation id.

mod api_versions;
mod configs;
mod create_partitions;
mod create_topics;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_log_dirs;
mod describe_producers;
mod describe_quorum;
mod elect_leaders;
mod fetch;
mod groups;
mod leader_hint;
mod list_offsets;
mod metadata;
mod offset_for_leader_epoch;
mod produce;
mod reassignments;
mod replica_fetch;
mod txn;

use std::sync::Arc;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use sluice_protocol::fetch_response::encode_fetch_response;
use sluice_protocol::guard;

use crate::broker::Broker;
use crate::request::{decode, encode_response, OrderGate, RequestContext, Unparseable};

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
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 2),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::AlterPartitionReassignments, 0, 1),
    (ApiKey::ListPartitionReassignments, 0, 0),
];

pub fn supported_versions(api: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED_APIS
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// A response ready to write: one buffer, or several (record data kept in its own buffers).
pub enum ResponseFrame {
    One(Bytes),
    Chunks(Vec<Bytes>),
}

/// Handles one request frame. `Ok(None)` means the request gets no response (acks=0 produce).
/// The next request of the connection starts once `order` opens: when the handler says its
/// effects are done ([`RequestContext::effects_done`]) or when this returns.
pub async fn handle(
    broker: Arc<Broker>,
    frame: Bytes,
    peer: std::net::SocketAddr,
    order: OrderGate,
) -> Result<Option<ResponseFrame>, Unparseable> {
    if frame.len() < 8 {
        return Err(Unparseable(format!(
            "request of {} bytes is too short for a header",
            frame.len()
        )));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api =
        ApiKey::try_from(raw_key).map_err(|_| Unparseable(format!("unknown api key {raw_key}")))?;
    let Some((min, max)) = supported_versions(api) else {
        return Err(Unparseable(format!(
            "api {api:?} (key {raw_key}) is not supported"
        )));
    };
    if api == ApiKey::ApiVersions && version > max {
        // KIP-511: answer a newer ApiVersions in v0 shape so the client can downgrade.
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        return api_versions::unsupported_version(correlation_id)
            .map(|b| Some(ResponseFrame::One(b)));
    }
    if version < min || version > max {
        return Err(Unparseable(format!(
            "{api:?} v{version} is not supported (supported: v{min}-v{max})"
        )));
    }
    let header_len = guard::check_request_header(&frame)
        .map_err(|e| Unparseable(format!("bad request header: {e}")))?;
    let mut body = frame.clone();
    let header = RequestHeader::decode(&mut body, api.request_header_version(version))
        .map_err(|e| Unparseable(format!("bad request header: {e}")))?;
    debug_assert_eq!(frame.len() - body.len(), header_len);
    guard::check_request(raw_key, version, body.chunk())
        .map_err(|e| Unparseable(format!("{api:?} v{version}: {e}")))?;
    let ctx = RequestContext::from_header(api, &header, peer).with_order_gate(order);
    let started = std::time::Instant::now();
    let response = dispatch(&broker, &ctx, body).await;
    tracing::debug!(
        api = ?api,
        version,
        correlation_id = ctx.correlation_id,
        micros = started.elapsed().as_micros() as u64,
        response_bytes = match &response {
            Ok(Some(ResponseFrame::One(b))) => b.len(),
            Ok(Some(ResponseFrame::Chunks(c))) => c.iter().map(Bytes::len).sum(),
            _ => 0,
        },
        "request"
    );
    response
}

async fn dispatch(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    mut body: Bytes,
) -> Result<Option<ResponseFrame>, Unparseable> {
    let v = ctx.api_version;
    macro_rules! run {
        ($handler:path) => {{
            let request = decode(&mut body, v)?;
            let response = $handler(broker, ctx, request).await;
            respond(ctx, &response).map(Some)
        }};
    }
    match ctx.api_key {
        ApiKey::ApiVersions => run!(api_versions::handle),
        ApiKey::Metadata => run!(metadata::handle),
        ApiKey::Produce => {
            let request = decode(&mut body, v)?;
            match produce::handle(broker, ctx, request).await {
                Some(response) => respond(ctx, &response).map(Some),
                None => Ok(None),
            }
        }
        ApiKey::Fetch => {
            let request = decode(&mut body, v)?;
            let response = fetch::handle(broker, ctx, request).await;
            encode_fetch_response(ctx.correlation_id, v, &response)
                .map(|chunks| Some(ResponseFrame::Chunks(chunks)))
                .map_err(|e| Unparseable(e.to_string()))
        }
        ApiKey::ListOffsets => run!(list_offsets::handle),
        ApiKey::CreateTopics => run!(create_topics::handle),
        ApiKey::DeleteTopics => run!(delete_topics::handle),
        ApiKey::CreatePartitions => run!(create_partitions::handle),
        ApiKey::DeleteRecords => run!(delete_records::handle),
        ApiKey::DescribeConfigs => run!(configs::describe),
        ApiKey::AlterConfigs => run!(configs::alter),
        ApiKey::IncrementalAlterConfigs => run!(configs::incremental_alter),
        ApiKey::DescribeCluster => run!(describe_cluster::handle),
        ApiKey::DescribeQuorum => run!(describe_quorum::handle),
        ApiKey::InitProducerId => run!(txn::init_producer_id),
        ApiKey::AddPartitionsToTxn => run!(txn::add_partitions_to_txn),
        ApiKey::AddOffsetsToTxn => run!(txn::add_offsets_to_txn),
        ApiKey::EndTxn => run!(txn::end_txn),
        ApiKey::WriteTxnMarkers => run!(txn::write_txn_markers),
        ApiKey::TxnOffsetCommit => run!(txn::txn_offset_commit),
        ApiKey::DescribeTransactions => run!(txn::describe_transactions),
        ApiKey::ListTransactions => run!(txn::list_transactions),
        ApiKey::DescribeProducers => run!(describe_producers::handle),
        ApiKey::OffsetForLeaderEpoch => run!(offset_for_leader_epoch::handle),
        ApiKey::ElectLeaders => run!(elect_leaders::handle),
        ApiKey::DescribeLogDirs => run!(describe_log_dirs::handle),
        ApiKey::AlterPartitionReassignments => run!(reassignments::alter),
        ApiKey::ListPartitionReassignments => run!(reassignments::list),
        ApiKey::FindCoordinator => run!(groups::find_coordinator),
        ApiKey::JoinGroup => run!(groups::join_group),
        ApiKey::SyncGroup => run!(groups::sync_group),
        ApiKey::Heartbeat => run!(groups::heartbeat),
        ApiKey::LeaveGroup => run!(groups::leave_group),
        ApiKey::OffsetCommit => run!(groups::offset_commit),
        ApiKey::OffsetFetch => run!(groups::offset_fetch),
        ApiKey::DescribeGroups => run!(groups::describe_groups),
        ApiKey::ListGroups => run!(groups::list_groups),
        ApiKey::DeleteGroups => run!(groups::delete_groups),
        ApiKey::OffsetDelete => run!(groups::offset_delete),
        ApiKey::ConsumerGroupHeartbeat => run!(groups::consumer_group_heartbeat),
        ApiKey::ConsumerGroupDescribe => run!(groups::consumer_group_describe),
        other => Err(Unparseable(format!("api {other:?} is not supported"))),
    }
}

fn respond<R: Encodable>(ctx: &RequestContext, response: &R) -> Result<ResponseFrame, Unparseable> {
    encode_response(ctx.correlation_id, ctx.api_key, ctx.api_version, response)
        .map(ResponseFrame::One)
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

#[cfg(test)]
mod tests {
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
