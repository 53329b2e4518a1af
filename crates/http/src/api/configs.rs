//! `GET|PATCH /api/v1/brokers/{id}/configs` and `GET|PATCH /api/v1/topics/{topic}/configs`:
//! DescribeConfigs (every config with its source, read-only flag and synonyms; sensitive values
//! are `null`) and IncrementalAlterConfigs (`{"set": {...}, "delete": [...]}`, applied whole or
//! not at all by the broker). `{id}` = `default` is the cluster-wide broker default (Kafka's
//! broker resource `""`).
//!
//! A broker answers DescribeConfigs for itself only, so a broker's configs are asked of that
//! broker (and its changes sent to it, as Kafka's admin client does); the default's and a
//! topic's go to any broker. The broker's refusal (an unknown or read-only key, a bad value)
//! is the answer, with its Kafka error code.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Path;
use axum::Json;
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_client::config::{
    alter_outcome, alter_request, describe_request, described_configs, source_name, Described,
    Entity,
};
use sluice_client::wire::ClusterClient;

use super::access::Caller;
use super::{deadline, json_body, ApiError};

/// DescribeConfigs versions read (v1 is the oldest with synonyms).
const DESCRIBE_VERSIONS: std::ops::RangeInclusive<i16> = 1..=4;
/// IncrementalAlterConfigs versions sent.
const ALTER_VERSIONS: std::ops::RangeInclusive<i16> = 0..=1;
/// How long an answer to a change waits for the broker asked to show it (a change lands
/// through the metadata log).
const APPLIED_WAIT: Duration = Duration::from_secs(5);
/// Pause between two looks at whether a change shows.
const POLL: Duration = Duration::from_millis(100);

/// The body of a PATCH.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    #[serde(default)]
    set: BTreeMap<String, Value>,
    #[serde(default)]
    delete: Vec<String>,
}

/// The entity of `/brokers/{id}`: a node id (0 or more) or `default`.
fn broker_entity(id: &str) -> Result<Entity, ApiError> {
    if id == "default" {
        return Ok(Entity::BrokerDefaults);
    }
    match id.parse::<i32>() {
        Ok(id) if id >= 0 => Ok(Entity::Broker(id)),
        _ => Err(ApiError::bad_request(format!(
            "'{id}' is not a broker: a broker is its node id (0 or more) or 'default'"
        ))),
    }
}

/// A config value as JSON gives it: a string, or a number or boolean written as text.
pub fn config_value(name: &str, value: &Value) -> Result<String, ApiError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ApiError::bad_request(format!(
            "config '{name}': the value must be a string, a number or a boolean"
        ))),
    }
}

pub async fn broker_configs(
    mut caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let result = async {
        let entity = broker_entity(&id)?;
        describe(&mut caller, &entity, deadline()).await
    }
    .await;
    caller.check(result).map(Json)
}

pub async fn alter_broker_configs(
    mut caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = async {
        let entity = broker_entity(&id)?;
        alter(&mut caller, &entity, &body).await
    }
    .await;
    caller.check(result).map(Json)
}

pub async fn topic_configs(
    mut caller: Caller,
    Path(topic): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let result = describe(&mut caller, &Entity::Topic(topic), deadline()).await;
    caller.check(result).map(Json)
}

pub async fn alter_topic_configs(
    mut caller: Caller,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = alter(&mut caller, &Entity::Topic(topic), &body).await;
    caller.check(result).map(Json)
}

/// Every config of `entity`, sorted by name.
pub(crate) async fn described(
    client: &mut ClusterClient,
    entity: &Entity,
    deadline: Instant,
) -> Result<Vec<Described>, ApiError> {
    let request = describe_request(entity);
    let (response, _) = match entity {
        Entity::Broker(id) => {
            known_broker(client, *id, deadline).await?;
            client
                .send_to_broker::<DescribeConfigsRequest>(
                    *id,
                    DESCRIBE_VERSIONS,
                    |_| request.clone(),
                    deadline,
                )
                .await?
        }
        _ => {
            client
                .send_to_any::<DescribeConfigsRequest>(
                    DESCRIBE_VERSIONS,
                    |_| request.clone(),
                    deadline,
                )
                .await?
        }
    };
    Ok(described_configs(entity, &response)?)
}

/// 404 unless broker `id` is in the cluster metadata.
async fn known_broker(
    client: &mut ClusterClient,
    id: i32,
    deadline: Instant,
) -> Result<(), ApiError> {
    let metadata = client.metadata(Some(&[]), false, deadline).await?;
    if metadata.brokers.iter().any(|b| b.node_id == id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "broker {id} is not in the cluster"
        )))
    }
}

async fn describe(
    client: &mut ClusterClient,
    entity: &Entity,
    deadline: Instant,
) -> Result<Value, ApiError> {
    Ok(configs_json(&described(client, entity, deadline).await?))
}

/// `{"configs": [...]}` as documented; a sensitive value is `null`, its synonyms' too.
fn configs_json(configs: &[Described]) -> Value {
    let rows: Vec<Value> = configs
        .iter()
        .map(|c| {
            let synonyms: Vec<Value> = c
                .synonyms
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "value": if c.sensitive { None } else { s.value.clone() },
                        "source": source_name(s.source),
                    })
                })
                .collect();
            json!({
                "name": c.name,
                "value": if c.sensitive { None } else { c.value.clone() },
                "source": source_name(c.source),
                "sensitive": c.sensitive,
                "read_only": c.read_only,
                "synonyms": synonyms,
            })
        })
        .collect();
    json!({ "configs": rows })
}

async fn alter(
    client: &mut ClusterClient,
    entity: &Entity,
    body: &[u8],
) -> Result<Value, ApiError> {
    let change: Change = json_body(body)?;
    let mut ops: Vec<(String, Option<String>)> = Vec::new();
    for (name, value) in &change.set {
        ops.push((name.clone(), Some(config_value(name, value)?)));
    }
    for name in &change.delete {
        if change.set.contains_key(name) {
            return Err(ApiError::bad_request(format!(
                "config '{name}' is both set and deleted"
            )));
        }
        if ops.iter().any(|(n, _)| n == name) {
            return Err(ApiError::bad_request(format!(
                "config '{name}' is deleted twice"
            )));
        }
        ops.push((name.clone(), None));
    }
    if ops.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give {\"set\": {\"name\": \"value\"}} and/or {\"delete\": [\"name\"]}",
        ));
    }
    if ops.iter().any(|(name, _)| name.is_empty()) {
        return Err(ApiError::bad_request("a config name is empty"));
    }
    let deadline = deadline();
    let request = alter_request(entity, &ops, false);
    let (response, _) = match entity {
        Entity::Broker(id) => {
            known_broker(client, *id, deadline).await?;
            client
                .send_to_broker::<IncrementalAlterConfigsRequest>(
                    *id,
                    ALTER_VERSIONS,
                    |_| request.clone(),
                    deadline,
                )
                .await?
        }
        _ => {
            client
                .send_to_any::<IncrementalAlterConfigsRequest>(
                    ALTER_VERSIONS,
                    |_| request.clone(),
                    deadline,
                )
                .await?
        }
    };
    alter_outcome(entity, &response)?;
    // The change is accepted; answer once the broker asked shows it (bounded: past the wait,
    // the configs as they are then).
    let shown_by = Instant::now() + APPLIED_WAIT;
    loop {
        let configs = described(client, entity, deadline).await?;
        if Instant::now() >= shown_by || shows(&configs, &ops) {
            return Ok(configs_json(&configs));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether `configs` show the changes `ops`: a set key with its value (a sensitive one cannot
/// be compared and counts as shown), a deleted key no longer at the entity's own level.
fn shows(configs: &[Described], ops: &[(String, Option<String>)]) -> bool {
    ops.iter().all(|(name, value)| {
        let config = configs.iter().find(|c| &c.name == name);
        match (value, config) {
            (Some(_), Some(c)) if c.sensitive => true,
            (Some(v), Some(c)) => c.value.as_ref() == Some(v),
            (Some(_), None) => true,
            // Topic overrides and a broker's own dynamic configs; the default level's own.
            (None, Some(c)) => !matches!(c.source, 1..=3),
            (None, None) => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_are_ids_or_the_default() {
        assert_eq!(broker_entity("default").ok(), Some(Entity::BrokerDefaults));
        assert_eq!(broker_entity("3").ok(), Some(Entity::Broker(3)));
        for bad in ["-1", "x", "", "1.5", "99999999999"] {
            let e = broker_entity(bad).expect_err(bad);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn values_are_text_numbers_or_booleans() {
        assert_eq!(config_value("a", &json!("x")).ok().as_deref(), Some("x"));
        assert_eq!(
            config_value("a", &json!(1000)).ok().as_deref(),
            Some("1000")
        );
        assert_eq!(
            config_value("a", &json!(true)).ok().as_deref(),
            Some("true")
        );
        assert!(config_value("a", &json!(null)).is_err());
        assert!(config_value("a", &json!([1])).is_err());
    }

    #[test]
    fn sensitive_values_are_null() {
        let secret = Described {
            name: "ssl.key.password".into(),
            value: Some("hidden?".into()),
            source: 2,
            read_only: false,
            sensitive: true,
            synonyms: vec![sluice_client::config::Synonym {
                name: "ssl.key.password".into(),
                value: Some("hidden?".into()),
                source: 2,
            }],
        };
        let shown = configs_json(&[secret]);
        assert_eq!(shown["configs"][0]["value"], Value::Null);
        assert_eq!(shown["configs"][0]["synonyms"][0]["value"], Value::Null);
        assert_eq!(shown["configs"][0]["source"], "DYNAMIC_BROKER_CONFIG");
    }
}
