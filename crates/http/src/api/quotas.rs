//! `/api/v1/quotas`: client quotas of users and client ids (KIP-546's DescribeClientQuotas and
//! AlterClientQuotas), with the CLI's requests and checks ([`sluice_client::quota`], as
//! `sluice quota describe|alter`; the keys and values are checked with the broker's own rules
//! from `sluice_security::quota` before anything is sent).
//!
//! An entity in JSON is an object of its components by Kafka's entity type names, a name or
//! `null` for the default entity: `{"user": "alice"}`, `{"user": null, "client-id": "app"}`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sluice_client::quota::{
    alter_request, alter_result, describe_request, described_entities, keys_of, VERSIONS,
};
use sluice_security::quota::{
    QuotaEntity, QuotaEntityType, QuotaFilter, QuotaFilterComponent, QuotaKey, QuotaStore,
};

use super::access::Caller;
use super::{deadline, json_body, query_params, ApiError};

/// The body of `PATCH /quotas`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlterBody {
    entity: Map<String, Value>,
    #[serde(default)]
    set: BTreeMap<String, Value>,
    #[serde(default)]
    delete: Vec<String>,
    #[serde(default)]
    validate_only: bool,
}

/// The filter of `?user=`, `?user_default=true`, `?client_id=`, `?client_id_default=true`,
/// `?strict=true`.
fn query_filter(params: &BTreeMap<String, String>) -> Result<QuotaFilter, ApiError> {
    let flag = |name: &str| match params.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "?{name}={other}: expected true or false"
        ))),
    };
    if let Some(other) = params.keys().find(|k| {
        ![
            "user",
            "user_default",
            "client_id",
            "client_id_default",
            "strict",
        ]
        .contains(&k.as_str())
    }) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter '{other}' (user, user_default, client_id, client_id_default, strict)"
        )));
    }
    let mut components = Vec::new();
    for (entity_type, name, default) in [
        (QuotaEntityType::User, "user", "user_default"),
        (QuotaEntityType::ClientId, "client_id", "client_id_default"),
    ] {
        match (params.get(name), flag(default)?) {
            (Some(_), true) => {
                return Err(ApiError::bad_request(format!(
                    "give ?{name}= or ?{default}=true, not both"
                )))
            }
            (Some(n), false) if n.is_empty() => {
                return Err(ApiError::bad_request(format!(
                    "?{name}= is empty (?{default}=true names the default entity)"
                )))
            }
            (Some(n), false) => components.push(QuotaFilterComponent::exact(entity_type, n)),
            (None, true) => components.push(QuotaFilterComponent::default_entity(entity_type)),
            (None, false) => {}
        }
    }
    let strict = flag("strict")?;
    if strict && components.is_empty() {
        return Err(ApiError::bad_request(
            "?strict=true selects entities with exactly the types named: name a user or client id",
        ));
    }
    Ok(QuotaFilter::new(components, strict))
}

/// `GET /quotas`: the entities with quotas the filter selects (every one without), sorted by
/// their path.
pub async fn list(mut caller: Caller, RawQuery(query): RawQuery) -> Result<Json<Value>, ApiError> {
    let result: Result<Value, ApiError> = async {
        let filter = query_filter(&query_params(query.as_deref())?)?;
        let (response, _) = caller
            .send_to_any::<DescribeClientQuotasRequest>(
                VERSIONS,
                |_| describe_request(&filter),
                deadline(),
            )
            .await?;
        let quotas: Vec<Value> = described_entities(&response)?
            .into_iter()
            .map(|entity| {
                let path = entity.path();
                let components: Map<String, Value> = entity
                    .components
                    .into_iter()
                    .map(|(t, name)| (t, json!(name)))
                    .collect();
                let values: Map<String, Value> = entity
                    .values
                    .into_iter()
                    .map(|(key, value)| (key, json!(value)))
                    .collect();
                json!({ "entity": components, "path": path, "values": values })
            })
            .collect();
        Ok(json!({ "quotas": quotas }))
    }
    .await;
    caller.check(result).map(Json)
}

/// The entity of a body: its components (a name, or `null` for the default).
fn entity(components: &Map<String, Value>) -> Result<QuotaEntity, ApiError> {
    let mut parts = Vec::with_capacity(components.len());
    for (entity_type, name) in components {
        let name = match name {
            Value::Null => None,
            Value::String(s) => Some(s.as_str()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "entity \"{entity_type}\": {other} is neither a name nor null (the default)"
                )))
            }
        };
        parts.push((entity_type.as_str(), name));
    }
    if parts.is_empty() {
        return Err(ApiError::bad_request(
            "the entity is empty: give {\"user\": ...} and/or {\"client-id\": ...}",
        ));
    }
    QuotaEntity::parse(parts).map_err(|e| ApiError::bad_request(format!("entity: {e}")))
}

/// `PATCH /quotas`: body `{"entity": {...}, "set": {"key": value}, "delete": ["key"],
/// "validate_only": false}`, applied whole or not at all; 204.
pub async fn alter(mut caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    let result: Result<Response, ApiError> = async {
        let body: AlterBody = json_body(&body)?;
        let entity = entity(&body.entity)?;
        if body.set.is_empty() && body.delete.is_empty() {
            return Err(ApiError::bad_request(
                "nothing to change: give \"set\" and/or \"delete\"",
            ));
        }
        let mut ops: Vec<(&str, Option<f64>)> = Vec::new();
        for (key, value) in &body.set {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let Some(number) = number.filter(|n| n.is_finite()) else {
                return Err(ApiError::bad_request(format!(
                    "set {key}: {value} is not a number"
                )));
            };
            ops.push((key.as_str(), Some(number)));
        }
        for key in &body.delete {
            if !QuotaKey::from_name(key).is_some_and(|k| k.applies_to(&entity)) {
                return Err(ApiError::bad_request(format!(
                    "delete {key}: not a quota config of {entity} ({})",
                    keys_of(&entity)
                )));
            }
            ops.push((key.as_str(), None));
        }
        let changes = QuotaStore::new()
            .validate_alteration(&entity, &ops)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Some(e.code()),
                    format!("{entity}: {e} (the configs are {})", keys_of(&entity)),
                )
            })?;
        let (response, _) = caller
            .send_to_any::<AlterClientQuotasRequest>(
                VERSIONS,
                |_| alter_request(&entity, &changes, body.validate_only),
                deadline(),
            )
            .await?;
        alter_result(&entity, &response)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    caller.check(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_query_names_exact_or_default_entities() {
        let filter = query_filter(&params(&[("user", "alice"), ("client_id_default", "true")]))
            .expect("a filter");
        assert_eq!(
            filter,
            QuotaFilter::new(
                vec![
                    QuotaFilterComponent::exact(QuotaEntityType::User, "alice"),
                    QuotaFilterComponent::default_entity(QuotaEntityType::ClientId),
                ],
                false
            )
        );
        for bad in [
            params(&[("user", "a"), ("user_default", "true")]),
            params(&[("user", "")]),
            params(&[("strict", "true")]),
            params(&[("strict", "maybe")]),
            params(&[("ip", "1.2.3.4")]),
        ] {
            assert_eq!(
                query_filter(&bad).expect_err("refused").status,
                StatusCode::BAD_REQUEST
            );
        }
    }

    #[test]
    fn an_entity_is_names_or_null_by_type() {
        let body: Map<String, Value> =
            serde_json::from_str(r#"{"client-id": "app", "user": null}"#).expect("json");
        assert_eq!(
            entity(&body).expect("an entity"),
            QuotaEntity::user_client_id(None, Some("app"))
        );
        for bad in [
            r#"{}"#,
            r#"{"user": 5}"#,
            r#"{"planet": "x"}"#,
            r#"{"user": ""}"#,
        ] {
            let body: Map<String, Value> = serde_json::from_str(bad).expect("json");
            assert_eq!(
                entity(&body).expect_err(bad).status,
                StatusCode::BAD_REQUEST
            );
        }
    }
}
