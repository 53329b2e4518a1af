//! DeleteTopics: by name (v0-v5) or by name or id (v6+).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;
use uuid::Uuid;

use super::mutation_quota::MutationThrottle;
use super::request::RequestContext;
use crate::cluster::{ClientQuotas, TopicAdmin};
use crate::replicas::ReplicaManager;

pub async fn handle(
    replicas: &ReplicaManager,
    admin: &TopicAdmin,
    quotas: &ClientQuotas,
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<String>, Uuid)> = if ctx.api_version >= 6 {
        request
            .topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| (Some(n.to_string()), Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    let mut throttle = MutationThrottle::default();
    for (name, id) in targets {
        let by_id = name.is_none();
        let name = match name {
            Some(n) => Some(n),
            None => replicas.topic_by_id(&id).map(|t| t.name.to_string()),
        };
        let result = DeletableTopicResult::default()
            .with_name(name.clone().map(|n| TopicName(StrBytes::from_string(n))))
            .with_topic_id(id);
        let Some(name) = name else {
            responses.push(result.with_error_code(ErrorCode::UNKNOWN_TOPIC_ID.0));
            continue;
        };
        if !ctx.authorize_topic(AclOperation::Delete, &name) {
            // Asked by id, a topic the principal may not even DESCRIBE keeps its name to itself,
            // as in Kafka.
            let hidden = by_id && !ctx.authorize_topic(AclOperation::Describe, &name);
            let result = if hidden {
                result.with_name(None)
            } else {
                result
            };
            responses.push(
                result
                    .with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.0)
                    .with_topic_id(id),
            );
            continue;
        }
        let partitions = replicas
            .topic(&name)
            .map_or(0, |t| t.partitions.len() as i32);
        if let Err(e) = throttle.admit(quotas, ctx, partitions, ctx.api_version >= 5) {
            responses.push(result.with_error_code(e.code.0).with_error_message(
                (ctx.api_version >= 5).then(|| StrBytes::from_string(e.message)),
            ));
            continue;
        }
        let result = match admin.delete_topic(&name).await {
            Ok(deleted_id) => result
                .with_error_code(0)
                .with_topic_id(if ctx.api_version >= 6 {
                    deleted_id
                } else {
                    Uuid::nil()
                }),
            Err(e) => result.with_error_code(e.code.0).with_error_message(
                (ctx.api_version >= 5).then(|| StrBytes::from_string(e.message)),
            ),
        };
        responses.push(result);
    }
    DeleteTopicsResponse::default()
        .with_responses(responses)
        .with_throttle_time_ms(throttle.0)
}
