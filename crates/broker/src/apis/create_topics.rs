//! CreateTopics: validate, create durably, report the created topic's configs (v5+).

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::{AclOperation, ResourceType};

use super::mutation_quota::MutationThrottle;
use super::request::RequestContext;
use crate::cluster::ClientQuotas;
use crate::cluster::{NewTopic, TopicAdmin};
use crate::config::{resolve_topic_configs, BrokerSettings};
use crate::replicas::AdminError;

pub async fn handle(
    admin: &TopicAdmin,
    quotas: &ClientQuotas,
    settings: &BrokerSettings,
    ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let v = ctx.api_version;
    let mut seen = std::collections::HashMap::new();
    for t in &request.topics {
        *seen.entry(t.name.to_string()).or_insert(0) += 1;
    }
    let mut results = Vec::with_capacity(request.topics.len());
    let mut throttle = MutationThrottle::default();
    for t in request.topics {
        let name = t.name.to_string();
        let base = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if seen.get(&name).copied().unwrap_or(0) > 1 {
            results.push(fail(
                base,
                AdminError::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("Create topics request from client contains a duplicate topic {name}."),
                ),
            ));
            continue;
        }
        // CREATE on the cluster or on the topic.
        if !ctx.authorize_cluster(AclOperation::Create)
            && !ctx.authorize_topic(AclOperation::Create, &name)
        {
            results.push(fail(
                base,
                AdminError::new(
                    ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    "Authorization failed.".to_string(),
                ),
            ));
            continue;
        }
        let mut partitions = if t.num_partitions == -1 {
            settings.num_partitions
        } else {
            t.num_partitions
        };
        let mut rf = if t.replication_factor == -1 {
            settings.default_replication_factor
        } else {
            t.replication_factor
        };
        let assignments = if t.assignments.is_empty() {
            None
        } else {
            if t.num_partitions != -1 || t.replication_factor != -1 {
                results.push(fail(base, AdminError::new(ErrorCode::INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")));
                continue;
            }
            let mut by_index: Vec<_> = t
                .assignments
                .iter()
                .map(|a| {
                    (
                        a.partition_index,
                        a.broker_ids.iter().map(|b| b.0).collect::<Vec<i32>>(),
                    )
                })
                .collect();
            by_index.sort_by_key(|(i, _)| *i);
            if by_index
                .iter()
                .enumerate()
                .any(|(i, (p, _))| *p != i as i32)
            {
                results.push(fail(
                    base,
                    AdminError::new(
                        ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        "Partitions should be a consecutive 0-based integer sequence.",
                    ),
                ));
                continue;
            }
            partitions = by_index.len() as i32;
            rf = by_index[0].1.len() as i16;
            Some(by_index.into_iter().map(|(_, b)| b).collect())
        };
        let mut configs = BTreeMap::new();
        let mut null_config = None;
        for c in &t.configs {
            match &c.value {
                Some(v) => {
                    configs.insert(c.name.to_string(), v.to_string());
                }
                None => null_config = Some(c.name.to_string()),
            }
        }
        if let Some(c) = null_config {
            results.push(fail(
                base,
                AdminError::new(
                    ErrorCode::INVALID_CONFIG,
                    format!("Null value not supported for topic configs: {c}"),
                ),
            ));
            continue;
        }
        if let Err(e) = throttle.admit(quotas, ctx, partitions, v >= 6) {
            results.push(fail(base, e));
            continue;
        }
        let new = NewTopic {
            name: name.clone(),
            partitions,
            replication_factor: rf,
            assignments,
            configs: configs.clone(),
        };
        let outcome = admin.create_topic(new, request.validate_only).await;
        let result = match outcome {
            Err(e) => fail(base, e),
            Ok(id) => {
                let reported = resolve_topic_configs(&admin.topic_defaults(), &configs)
                    .into_iter()
                    .map(|c| {
                        CreatableTopicConfigs::default()
                            .with_name(StrBytes::from_static_str(c.key.name))
                            .with_value(Some(StrBytes::from_string(c.value)))
                            .with_read_only(false)
                            .with_config_source(c.source as i8)
                            .with_is_sensitive(false)
                    })
                    .collect();
                let result = base.with_error_code(0);
                let result = if v >= 7 {
                    result.with_topic_id(id)
                } else {
                    result
                };
                // v5+ shows the new topic's configs to who may DESCRIBE_CONFIGS it; the others
                // get TOPIC_AUTHORIZATION_FAILED in their place, as in Kafka.
                let describable = || {
                    ctx.authorize_quietly(AclOperation::DescribeConfigs, ResourceType::Topic, &name)
                };
                if v < 5 {
                    result
                } else if describable() {
                    result
                        .with_num_partitions(partitions)
                        .with_replication_factor(rf)
                        .with_configs(Some(reported))
                } else {
                    result.with_topic_config_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.0)
                }
            }
        };
        results.push(result);
    }
    CreateTopicsResponse::default()
        .with_topics(results)
        .with_throttle_time_ms(throttle.0)
}

fn fail(base: CreatableTopicResult, e: AdminError) -> CreatableTopicResult {
    base.with_error_code(e.code.0)
        .with_error_message(Some(StrBytes::from_string(e.message)))
}
