//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (and describing the
//! broker's own static config).
//!
//! AlterConfigs replaces a topic's whole override set; IncrementalAlterConfigs applies SET,
//! DELETE, APPEND and SUBTRACT operations to it. Changes are validated in full before any is
//! stored, and a resource's changes land together or not at all.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::TopicAdmin;
use crate::config::{
    resolve_topic_configs, topic_config_key, BrokerSettings, ConfigSource, ConfigType,
};
use crate::replicas::{AdminError, ReplicaManager};

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// Why the principal may not do `operation` (DESCRIBE_CONFIGS, ALTER_CONFIGS) on the resource:
/// the topic's (TOPIC_AUTHORIZATION_FAILED) or, for a broker, the cluster's
/// (CLUSTER_AUTHORIZATION_FAILED).
fn refusal(
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    operation: AclOperation,
) -> Option<(ErrorCode, String)> {
    match resource_type {
        RESOURCE_TOPIC if !ctx.authorize_topic(operation, name) => Some((
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            "Authorization failed.".into(),
        )),
        RESOURCE_BROKER if !ctx.authorize_cluster(operation) => Some((
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            "Cluster authorization failed.".into(),
        )),
        _ => None,
    }
}

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

pub async fn describe(
    replicas: &ReplicaManager,
    settings: &BrokerSettings,
    ctx: &RequestContext,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let with_synonyms = request.include_synonyms;
    let with_docs = request.include_documentation;
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let base = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            if let Some((code, message)) = refusal(
                ctx,
                r.resource_type,
                r.resource_name.as_str(),
                AclOperation::DescribeConfigs,
            ) {
                return base.with_error_code(code.0).with_error_message(Some(s(message)));
            }
            let wanted = |name: &str| {
                // Kafka lists every key for a null or empty key list.
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == name))
            };
            match r.resource_type {
                RESOURCE_TOPIC => {
                    let Some(topic) = replicas.topic(r.resource_name.as_str()) else {
                        return base
                            .with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0)
                            .with_error_message(Some(s(format!("Topic {} does not exist.", r.resource_name.as_str()))));
                    };
                    let configs = resolve_topic_configs(&settings.topic_defaults, &topic.configs)
                        .into_iter()
                        .filter(|c| wanted(c.key.name))
                        .map(|c| {
                            let mut synonyms = Vec::new();
                            if with_synonyms {
                                if let Some(v) = topic.configs.get(c.key.name) {
                                    synonyms.push(synonym(c.key.name, v, ConfigSource::TopicConfig));
                                }
                                if let Some(v) = settings.topic_defaults.get(c.key.broker_synonym) {
                                    synonyms.push(synonym(c.key.broker_synonym, v, ConfigSource::StaticBrokerConfig));
                                }
                                synonyms.push(synonym(c.key.broker_synonym, c.key.default, ConfigSource::DefaultConfig));
                            }
                            entry(ctx, c.key.name, &c.value, c.source, c.key.kind, with_docs.then_some(c.key.doc))
                                .with_synonyms(synonyms)
                        })
                        .collect();
                    base.with_error_code(0).with_configs(configs)
                }
                RESOURCE_BROKER => {
                    let name = r.resource_name.as_str();
                    if !name.is_empty() && name != settings.node_id.to_string() {
                        return base
                            .with_error_code(ErrorCode::INVALID_REQUEST.0)
                            .with_error_message(Some(s(format!("Unexpected broker id, expected {} or empty string, but received {name}", settings.node_id))));
                    }
                    let configs = settings
                        .describe_entries()
                        .into_iter()
                        .filter(|(k, _, _)| wanted(k))
                        .map(|(k, v, source)| broker_entry(ctx, &k, v, source))
                        .collect();
                    base.with_error_code(0).with_configs(configs)
                }
                other => base
                    .with_error_code(ErrorCode::INVALID_REQUEST.0)
                    .with_error_message(Some(s(format!("Unsupported resource type {other}")))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn entry(
    ctx: &RequestContext,
    name: &str,
    value: &str,
    source: ConfigSource,
    kind: ConfigType,
    doc: Option<&str>,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(s(name))
        .with_value(Some(s(value)))
        .with_read_only(false)
        .with_config_source(source as i8)
        .with_is_sensitive(false)
        .with_config_type(if ctx.api_version >= 3 { kind as i8 } else { 0 })
        .with_documentation(if ctx.api_version >= 3 {
            doc.map(s)
        } else {
            None
        })
}

/// A broker key's entry; a secret (`None`) is reported as sensitive, without its value.
fn broker_entry(
    ctx: &RequestContext,
    name: &str,
    value: Option<String>,
    source: ConfigSource,
) -> DescribeConfigsResourceResult {
    let kind = if value.is_some() {
        ConfigType::String
    } else {
        ConfigType::Password
    };
    entry(
        ctx,
        name,
        value.as_deref().unwrap_or(""),
        source,
        kind,
        None,
    )
    .with_value(value.map(s))
    .with_is_sensitive(kind == ConfigType::Password)
}

fn synonym(name: &str, value: &str, source: ConfigSource) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(s(name))
        .with_value(Some(s(value)))
        .with_source(source as i8)
}

/// Checks the resource and applies `change` to the topic's current overrides: the new set.
fn alter_topic(
    replicas: &ReplicaManager,
    resource_type: i8,
    name: &str,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), AdminError>,
) -> Result<BTreeMap<String, String>, AdminError> {
    match resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER => {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                "Dynamic broker configs are not supported yet; set them in server.properties",
            ))
        }
        other => {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                format!("Unsupported resource type {other}"),
            ))
        }
    }
    let Some(topic) = replicas.topic(name) else {
        return Err(AdminError::new(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("Topic {name} does not exist."),
        ));
    };
    let mut configs = topic.configs.clone();
    change(&mut configs)?;
    Ok(configs)
}

/// Stores `configs` as topic `name`'s overrides through the controller (after `prepared`
/// succeeded).
async fn store_topic_configs(
    admin: &TopicAdmin,
    name: &str,
    prepared: Result<BTreeMap<String, String>, AdminError>,
    validate_only: bool,
) -> Result<(), AdminError> {
    let configs = prepared?;
    admin.set_topic_configs(name, configs, validate_only).await
}

fn known(name: &str) -> Result<(), AdminError> {
    if topic_config_key(name).is_none() {
        return Err(AdminError::new(
            ErrorCode::INVALID_CONFIG,
            format!("Unknown topic config name: {name}"),
        ));
    }
    Ok(())
}

pub async fn alter(
    replicas: &ReplicaManager,
    admin: &TopicAdmin,
    ctx: &RequestContext,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        if let Some((code, message)) = refusal(
            ctx,
            r.resource_type,
            r.resource_name.as_str(),
            AclOperation::AlterConfigs,
        ) {
            responses.push(
                alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_error_code(code.0)
                    .with_error_message(Some(s(message)))
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name),
            );
            continue;
        }
        let prepared = alter_topic(
            replicas,
            r.resource_type,
            r.resource_name.as_str(),
            |configs| {
                // AlterConfigs replaces the whole set of overrides.
                configs.clear();
                for c in &r.configs {
                    known(c.name.as_str())?;
                    match &c.value {
                        Some(v) => {
                            configs.insert(c.name.to_string(), v.to_string());
                        }
                        None => {
                            return Err(AdminError::new(
                                ErrorCode::INVALID_CONFIG,
                                format!("Null value not supported for {}", c.name.as_str()),
                            ));
                        }
                    }
                }
                Ok(())
            },
        );
        let outcome = store_topic_configs(
            admin,
            r.resource_name.as_str(),
            prepared,
            request.validate_only,
        )
        .await;
        let (code, message) = split(outcome);
        responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn incremental_alter(
    replicas: &ReplicaManager,
    admin: &TopicAdmin,
    settings: &BrokerSettings,
    ctx: &RequestContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        if let Some((code, message)) = refusal(
            ctx,
            r.resource_type,
            r.resource_name.as_str(),
            AclOperation::AlterConfigs,
        ) {
            responses.push(
                incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_error_code(code.0)
                    .with_error_message(Some(s(message)))
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name),
            );
            continue;
        }
        let prepared = alter_topic(
            replicas,
            r.resource_type,
            r.resource_name.as_str(),
            |configs| {
                let mut seen = std::collections::HashSet::new();
                for c in &r.configs {
                    let name = c.name.as_str();
                    known(name)?;
                    if !seen.insert(name.to_string()) {
                        return Err(AdminError::new(
                            ErrorCode::INVALID_REQUEST,
                            format!("Error due to duplicate config keys: {name}"),
                        ));
                    }
                    let value = c.value.as_ref().map(|v| v.to_string());
                    let is_list =
                        topic_config_key(name).is_some_and(|k| k.kind == ConfigType::List);
                    match c.config_operation {
                        OP_SET => {
                            let Some(v) = value else {
                                return Err(AdminError::new(
                                    ErrorCode::INVALID_REQUEST,
                                    format!("Null value not supported for {name}"),
                                ));
                            };
                            configs.insert(name.to_string(), v);
                        }
                        OP_DELETE => {
                            configs.remove(name);
                        }
                        OP_APPEND | OP_SUBTRACT => {
                            if !is_list {
                                return Err(AdminError::new(ErrorCode::INVALID_CONFIG, format!("Config value append/subtract is not allowed for config key {name} which is not a list")));
                            }
                            let current =
                                crate::config::effective(&settings.topic_defaults, configs, name);
                            let mut items: Vec<String> = current
                                .split(',')
                                .map(|x| x.trim().to_string())
                                .filter(|x| !x.is_empty())
                                .collect();
                            let given: Vec<String> = value
                                .unwrap_or_default()
                                .split(',')
                                .map(|x| x.trim().to_string())
                                .filter(|x| !x.is_empty())
                                .collect();
                            if c.config_operation == OP_APPEND {
                                for g in given {
                                    if !items.contains(&g) {
                                        items.push(g);
                                    }
                                }
                            } else {
                                items.retain(|i| !given.contains(i));
                            }
                            configs.insert(name.to_string(), items.join(","));
                        }
                        other => {
                            return Err(AdminError::new(
                                ErrorCode::INVALID_REQUEST,
                                format!("Unknown config operation {other}"),
                            ));
                        }
                    }
                }
                Ok(())
            },
        );
        let outcome = store_topic_configs(
            admin,
            r.resource_name.as_str(),
            prepared,
            request.validate_only,
        )
        .await;
        let (code, message) = split(outcome);
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn split(outcome: Result<(), AdminError>) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err(e) => (e.code.0, Some(s(e.message))),
    }
}
