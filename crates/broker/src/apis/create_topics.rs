//! CreateTopics: validate, create durably, report the created topic's configs (v5+).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;

use crate::broker::Broker;
use crate::replica_manager::AdminError;
use crate::request::RequestContext;
use crate::topic_config::resolve_topic_configs;

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let v = ctx.api_version;
    let mut seen = std::collections::HashMap::new();
    for t in &request.topics {
        *seen.entry(t.name.to_string()).or_insert(0) += 1;
    }
    let results = request
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.to_string();
            let base = CreatableTopicResult::default()
                .with_name(t.name.clone())
                .with_num_partitions(-1)
                .with_replication_factor(-1);
            if seen.get(&name).copied().unwrap_or(0) > 1 {
                return fail(base, AdminError::new(ErrorCode::INVALID_REQUEST, format!("Create topics request from client contains a duplicate topic {name}.")));
            }
            let partitions = if t.num_partitions == -1 { broker.config().num_partitions() } else { t.num_partitions };
            let rf = if t.replication_factor == -1 { broker.config().default_replication_factor() } else { t.replication_factor };
            if !t.assignments.is_empty() {
                let me = broker.node_id;
                let ok = t.assignments.iter().all(|a| a.broker_ids.len() == 1 && a.broker_ids[0].0 == me)
                    && t.num_partitions == -1
                    && t.replication_factor == -1;
                if !ok {
                    return fail(base, AdminError::new(ErrorCode::INVALID_REPLICA_ASSIGNMENT, "Replica assignment must name only this broker, with num_partitions and replication_factor -1."));
                }
            }
            let partitions = if t.assignments.is_empty() { partitions } else { t.assignments.len() as i32 };
            let mut configs = BTreeMap::new();
            for c in &t.configs {
                match &c.value {
                    Some(v) => {
                        configs.insert(c.name.to_string(), v.to_string());
                    }
                    None => {
                        return fail(base, AdminError::new(ErrorCode::INVALID_CONFIG, format!("Null value not supported for topic configs: {}", c.name)));
                    }
                }
            }
            let outcome = if request.validate_only {
                broker.replicas.check_new_topic(&name, partitions, rf, &configs).map(|_| None)
            } else {
                broker.replicas.create_topic(&name, partitions, rf, configs.clone()).map(Some)
            };
            match outcome {
                Err(e) => fail(base, e),
                Ok(created) => {
                    let id = created.as_ref().map(|t| t.id).unwrap_or_default();
                    let reported = resolve_topic_configs(broker.config(), &configs)
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
                    let result = if v >= 7 { result.with_topic_id(id) } else { result };
                    if v >= 5 {
                        result.with_num_partitions(partitions).with_replication_factor(rf).with_configs(Some(reported))
                    } else {
                        result
                    }
                }
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(results)
}

fn fail(base: CreatableTopicResult, e: AdminError) -> CreatableTopicResult {
    base.with_error_code(e.code.0)
        .with_error_message(Some(StrBytes::from_string(e.message)))
}
