//! v2 topics, partitions and produce: `GET /topics`, `GET /topics/{t}`,
//! `GET /topics/{t}/partitions[/{p}]`, `POST /topics/{t}`, `POST /topics/{t}/partitions/{p}`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sluice_client::wire::metadata::TopicMetadata;
use std::sync::Arc;

use super::format::{produce_format, SchemaRefs, ValueSerializer, V2_JSON};
use super::produce::{produce, ProduceRecord, RecordOutcome};
use super::{RestCaller, RestError, RestProxyState};
use crate::api::access::REQUEST_TIMEOUT;

/// A JSON answer with v2's content type.
pub fn v2_json(value: Value) -> Response {
    let mut response = axum::Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(V2_JSON));
    response
}

/// A JSON request body; anything else is 422 (42201).
pub fn body_json(body: &[u8]) -> Result<Value, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::unprocessable("the request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| RestError::unprocessable(format!("the request body is not valid JSON: {e}")))
}

pub async fn root() -> Response {
    v2_json(json!({}))
}

pub async fn not_found() -> RestError {
    RestError::new(
        40400,
        axum::http::StatusCode::NOT_FOUND,
        "HTTP 404 Not Found (see docs/rest-proxy.md for the endpoints)",
    )
}

fn deadline() -> Instant {
    Instant::now() + REQUEST_TIMEOUT
}

/// The topic's metadata, 404 (40401) when it does not exist; never creates it.
pub async fn topic_metadata(
    caller: &mut RestCaller,
    topic: &str,
) -> Result<TopicMetadata, RestError> {
    let names = [topic.to_string()];
    let metadata = caller.metadata(Some(&names), false, deadline()).await?;
    match metadata.topic(topic) {
        Some(t) if t.error_code == 0 || t.error_code == 5 => Ok(t.clone()),
        Some(t) if t.error_code != 3 => {
            Err(RestError::kafka(t.error_code, &format!("topic '{topic}'")))
        }
        _ => Err(RestError::topic_not_found(topic)),
    }
}

fn partition_json(p: &sluice_client::wire::metadata::PartitionMetadata) -> Value {
    let replicas: Vec<Value> = p
        .replicas
        .iter()
        .map(|r| {
            json!({
                "broker": r,
                "leader": *r == p.leader_id,
                "in_sync": p.isr.contains(r),
            })
        })
        .collect();
    json!({"partition": p.partition, "leader": p.leader_id, "replicas": replicas})
}

/// `GET /topics`: the names of the topics the caller may describe, internal ones left out.
pub async fn topics(mut caller: RestCaller) -> Result<Response, RestError> {
    let result = caller.metadata(None, false, deadline()).await;
    let metadata = result.map_err(RestError::from)?;
    let mut names: Vec<&str> = metadata
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !t.is_internal)
        .map(|t| t.name.as_str())
        .collect();
    names.sort_unstable();
    Ok(v2_json(json!(names)))
}

/// `GET /topics/{topic}`: name, configs and partitions.
pub async fn topic(
    mut caller: RestCaller,
    Path(topic): Path<String>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let metadata = topic_metadata(&mut caller, &topic).await?;
        let entity = sluice_client::config::Entity::Topic(topic.clone());
        let configs: serde_json::Map<String, Value> =
            match crate::api::configs::described(&mut caller.0, &entity, deadline()).await {
                Ok(described) => described
                    .into_iter()
                    .filter(|c| !c.sensitive)
                    .map(|c| (c.name, c.value.map_or(Value::Null, Value::String)))
                    .collect(),
                Err(e) => return Err(e.into()),
            };
        let partitions: Vec<Value> = metadata.partitions.iter().map(partition_json).collect();
        Ok(v2_json(json!({
            "name": topic,
            "configs": configs,
            "partitions": partitions,
        })))
    }
    .await;
    caller.check(result)
}

/// `GET /topics/{topic}/partitions`.
pub async fn partitions(
    mut caller: RestCaller,
    Path(topic): Path<String>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let metadata = topic_metadata(&mut caller, &topic).await?;
        let partitions: Vec<Value> = metadata.partitions.iter().map(partition_json).collect();
        Ok(v2_json(json!(partitions)))
    }
    .await;
    caller.check(result)
}

/// The partition number of a path, 404 (40402) when it is not one.
pub fn partition_number(topic: &str, text: &str) -> Result<i32, RestError> {
    text.parse::<i32>()
        .ok()
        .filter(|p| *p >= 0)
        .ok_or_else(|| RestError::partition_not_found(topic, -1))
}

/// `GET /topics/{topic}/partitions/{partition}`.
pub async fn partition(
    mut caller: RestCaller,
    Path((topic, partition)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let number = partition_number(&topic, &partition)?;
        let metadata = topic_metadata(&mut caller, &topic).await?;
        let Some(p) = metadata.partitions.iter().find(|p| p.partition == number) else {
            return Err(RestError::partition_not_found(&topic, number));
        };
        Ok(v2_json(partition_json(p)))
    }
    .await;
    caller.check(result)
}

/// The records of a v2 produce body `{"records": [{"key", "value", "partition"}, ...]}`.
fn records_of(body: &Value, serializer: &ValueSerializer) -> Result<Vec<ProduceRecord>, RestError> {
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return Err(RestError::unprocessable(
            "the body must be {\"records\": [{\"key\": ..., \"value\": ...}, ...]}",
        ));
    };
    if records.is_empty() {
        return Err(RestError::unprocessable("\"records\" is empty"));
    }
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let Some(r) = r.as_object() else {
                return Err(RestError::unprocessable(format!(
                    "records[{i}] is not an object"
                )));
            };
            let partition = match r.get("partition") {
                None | Some(Value::Null) => None,
                Some(p) => Some(
                    p.as_i64()
                        .and_then(|p| i32::try_from(p).ok())
                        .filter(|p| *p >= 0)
                        .ok_or_else(|| {
                            RestError::unprocessable(format!(
                                "records[{i}].partition is not a partition number"
                            ))
                        })?,
                ),
            };
            Ok(ProduceRecord {
                partition,
                key: serializer.serialize(true, &format!("records[{i}].key"), r.get("key"))?,
                value: serializer.serialize(
                    false,
                    &format!("records[{i}].value"),
                    r.get("value"),
                )?,
                headers: Vec::new(),
                timestamp: None,
            })
        })
        .collect()
}

fn offsets_json(outcomes: &[RecordOutcome], schema_ids: (Option<i64>, Option<i64>)) -> Value {
    let offsets: Vec<Value> = outcomes
        .iter()
        .map(|o| match &o.error {
            None => json!({
                "partition": o.partition,
                "offset": o.offset,
                "error_code": null,
                "error": null,
            }),
            Some((code, text)) => json!({
                "partition": o.partition,
                "offset": null,
                "error_code": RestError::record_code(*code),
                "error": text,
            }),
        })
        .collect();
    json!({
        "key_schema_id": schema_ids.0,
        "value_schema_id": schema_ids.1,
        "offsets": offsets,
    })
}

async fn produce_v2(
    state: &RestProxyState,
    caller: &mut RestCaller,
    headers: &HeaderMap,
    topic: &str,
    partition: Option<i32>,
    body: &[u8],
) -> Result<Response, RestError> {
    let format = produce_format(headers)?;
    let body = body_json(body)?;
    // The topic first: a missing one registers no schema.
    if format.schema_type().is_some() {
        topic_metadata(caller, topic).await?;
    }
    let serializer = ValueSerializer::for_format(
        format,
        &SchemaRefs::from_body(topic, &body)?,
        &state.admin,
        headers.get(axum::http::header::AUTHORIZATION),
    )
    .await?;
    let records = records_of(&body, &serializer)?;
    let outcomes = produce(&mut caller.0, topic, partition, records).await?;
    Ok(v2_json(offsets_json(&outcomes, serializer.schema_ids())))
}

/// `POST /topics/{topic}`.
pub async fn produce_to_topic(
    State(state): State<Arc<RestProxyState>>,
    mut caller: RestCaller,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> =
        async { produce_v2(&state, &mut caller, &headers, &topic, None, &body).await }.await;
    caller.check(result)
}

/// `POST /topics/{topic}/partitions/{partition}`.
pub async fn produce_to_partition(
    State(state): State<Arc<RestProxyState>>,
    mut caller: RestCaller,
    Path((topic, partition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let number = partition_number(&topic, &partition)?;
        produce_v2(&state, &mut caller, &headers, &topic, Some(number), &body).await
    }
    .await;
    caller.check(result)
}
