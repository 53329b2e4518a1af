//! DescribeCluster: this broker, the cluster id and the controller.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use super::{AUTHORIZED_OPS_NOT_REQUESTED, CLUSTER_OPS_ALL};
use crate::cluster::Cluster;

/// DescribeCluster endpoint types (KIP-919): brokers, or controllers.
const ENDPOINT_BROKERS: i8 = 1;

pub async fn handle(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let base = DescribeClusterResponse::default()
        .with_endpoint_type(request.endpoint_type)
        .with_cluster_id(StrBytes::from_string(cluster.cluster_id.to_string()))
        .with_controller_id(BrokerId(cluster.controller_id_for_clients()))
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            CLUSTER_OPS_ALL
        } else {
            AUTHORIZED_OPS_NOT_REQUESTED
        });
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return base
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0)
            .with_error_message(Some(StrBytes::from_static_str(
                "Cluster authorization failed.",
            )));
    }
    let base = if request.include_cluster_authorized_operations && ctx.authorizer_enabled() {
        base.with_cluster_authorized_operations(ctx.authorized_operations(
            sluice_security::acl::ResourceType::Cluster,
            sluice_security::acl::CLUSTER_RESOURCE_NAME,
            super::CLUSTER_OPERATIONS,
        ))
    } else {
        base
    };
    if request.endpoint_type != ENDPOINT_BROKERS {
        return base
            .with_error_code(ErrorCode::UNSUPPORTED_ENDPOINT_TYPE.0)
            .with_error_message(Some(StrBytes::from_static_str(
                "Only broker endpoints (1) can be described.",
            )));
    }
    // Fenced brokers are listed only on request (v2+, KIP-1073), as Kafka does.
    let with_fenced = ctx.api_version >= 2 && request.include_fenced_brokers;
    let brokers = cluster
        .image()
        .brokers()
        .values()
        .filter(|b| with_fenced || !b.fenced)
        .filter_map(|b| {
            let (host, port) = b.endpoint(ctx.listener())?;
            let entry = DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.broker_id))
                .with_host(StrBytes::from_string(host.to_string()))
                .with_port(i32::from(port))
                .with_rack(b.rack.clone().map(StrBytes::from_string));
            Some(if ctx.api_version >= 2 {
                entry.with_is_fenced(b.fenced)
            } else {
                entry
            })
        })
        .collect();
    base.with_error_code(0).with_brokers(brokers)
}
