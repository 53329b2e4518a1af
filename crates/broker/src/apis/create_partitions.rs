//! CreatePartitions: grow a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use sluice_security::acl::AclOperation;

use super::mutation_quota::MutationThrottle;
use super::request::RequestContext;
use crate::cluster::{ClientQuotas, TopicAdmin};
use crate::replicas::ReplicaManager;

pub async fn handle(
    admin: &TopicAdmin,
    replicas: &ReplicaManager,
    quotas: &ClientQuotas,
    ctx: &RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    let mut throttle = MutationThrottle::default();
    for t in request.topics {
        let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if !ctx.authorize_topic(AclOperation::Alter, t.name.as_str()) {
            results.push(
                result
                    .with_error_code(
                        sluice_protocol::error::ErrorCode::TOPIC_AUTHORIZATION_FAILED.0,
                    )
                    .with_error_message(Some(StrBytes::from_static_str("Authorization failed."))),
            );
            continue;
        }
        // The partitions to add count against controller_mutation_rate.
        let current = replicas
            .topic(t.name.as_str())
            .map_or(0, |topic| topic.partitions.len() as i32);
        if let Err(e) = throttle.admit(quotas, ctx, t.count - current, ctx.api_version >= 3) {
            results.push(
                result
                    .with_error_code(e.code.0)
                    .with_error_message(Some(StrBytes::from_string(e.message))),
            );
            continue;
        }
        // A null or empty list: the controller places the new partitions.
        let assignments = t.assignments.as_ref().filter(|a| !a.is_empty()).map(|a| {
            a.iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect::<Vec<i32>>())
                .collect::<Vec<_>>()
        });
        let outcome = admin
            .create_partitions(t.name.as_str(), t.count, assignments, request.validate_only)
            .await;
        results.push(match outcome {
            Ok(()) => result.with_error_code(0),
            Err(e) => result
                .with_error_code(e.code.0)
                .with_error_message(Some(StrBytes::from_string(e.message))),
        });
    }
    CreatePartitionsResponse::default()
        .with_results(results)
        .with_throttle_time_ms(throttle.0)
}
