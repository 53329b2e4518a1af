//! ListConfigResources (KIP-1142; v0 was KIP-714's ListClientMetricsResources): the resources
//! that have configs, by type. Needs DESCRIBE_CONFIGS on the cluster, as in Kafka.
//!
//! v1 names the types wanted (none: every type). Sluice lists topics (every topic in the
//! metadata) and brokers (every registered broker id); it has no broker loggers, client-metrics
//! subscriptions or group configs, so those types are accepted and list nothing. v0 asks for
//! client-metrics subscriptions only: an empty list.

use std::collections::BTreeSet;

use kafka_protocol::messages::list_config_resources_response::ConfigResource;
use kafka_protocol::messages::{ListConfigResourcesRequest, ListConfigResourcesResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::Cluster;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;
const CLIENT_METRICS: i8 = 16;
const GROUP: i8 = 32;
const SUPPORTED: &[i8] = &[TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP];

pub async fn handle(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: ListConfigResourcesRequest,
) -> ListConfigResourcesResponse {
    let response = ListConfigResourcesResponse::default();
    if !ctx.authorize_cluster(AclOperation::DescribeConfigs) {
        return response.with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0);
    }
    let wanted: BTreeSet<i8> = if ctx.api_version == 0 {
        BTreeSet::from([CLIENT_METRICS])
    } else if request.resource_types.is_empty() {
        SUPPORTED.iter().copied().collect()
    } else {
        request.resource_types.iter().copied().collect()
    };
    if wanted.iter().any(|t| !SUPPORTED.contains(t)) {
        return response.with_error_code(ErrorCode::UNSUPPORTED_VERSION.0);
    }
    let image = cluster.image();
    let mut resources = Vec::new();
    if wanted.contains(&TOPIC) {
        resources.extend(image.topics().keys().map(|name| {
            ConfigResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(StrBytes::from_string(name.clone()))
        }));
    }
    if wanted.contains(&BROKER) {
        resources.extend(image.brokers().keys().map(|id| {
            ConfigResource::default()
                .with_resource_type(BROKER)
                .with_resource_name(StrBytes::from_string(id.to_string()))
        }));
    }
    response.with_error_code(0).with_config_resources(resources)
}
