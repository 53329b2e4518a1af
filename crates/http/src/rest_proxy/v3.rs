//! v3 under `/v3`: `GET /clusters[/{id}]`, `GET|POST /clusters/{id}/topics`,
//! `GET|DELETE /clusters/{id}/topics/{t}`, `GET /clusters/{id}/topics/{t}/partitions[/{p}]` and
//! `POST /clusters/{id}/topics/{t}/records`.
//!
//! The cluster id is the Kafka cluster id Metadata answers; another id is 404. Resources carry
//! Confluent's `kind`, `metadata.self` (an absolute URL from the request's `Host`) and
//! `related` links.
//!
//! Record produce takes one JSON object per record: `{"partition_id", "key": {"type", "data"},
//! "value": {...}, "headers": [{"name", "value"}], "timestamp"}` (types BINARY as base64,
//! STRING, JSON; `type` absent means JSON). A body of one record answers one object with the
//! request's status; a body of several concatenated records is Confluent's streaming mode: the
//! records are read as they arrive and one result object per record is streamed back (status
//! 200, each object with its own `error_code`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use kafka_protocol::messages::{CreateTopicsRequest, DeleteTopicsRequest};
use serde_json::{json, Value};
use sluice_client::topic::{create_request, delete_request};
use sluice_client::wire::error_name;
use sluice_client::wire::metadata::{PartitionMetadata, TopicMetadata};

use super::format::{plain_body, ValueSerializer};
use super::produce::{leaders, produce as produce_records, ProduceRecord};
use super::v2::{body_json, partition_number, topic_metadata};
use super::{RestCaller, RestError, RestProxyState, ServedOverHttps};
use crate::api::access::REQUEST_TIMEOUT;

/// The largest one streamed record may be.
const MAX_RECORD_BYTES: usize = 16 << 20;
/// Topic admin requests' timeout given to the controller.
const ADMIN_TIMEOUT_MS: i32 = 30_000;

fn deadline() -> Instant {
    Instant::now() + REQUEST_TIMEOUT
}

pub async fn not_found() -> RestError {
    RestError::new(
        40400,
        StatusCode::NOT_FOUND,
        "HTTP 404 Not Found (see docs/rest-proxy.md for the endpoints)",
    )
}

/// `http(s)://host/v3` of the request.
fn base_url(headers: &HeaderMap, https: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}/v3")
}

struct Links {
    base: String,
    cluster: String,
}

impl Links {
    fn cluster_url(&self) -> String {
        format!("{}/clusters/{}", self.base, self.cluster)
    }
    fn topic_url(&self, topic: &str) -> String {
        format!("{}/topics/{topic}", self.cluster_url())
    }
    fn crn(&self) -> String {
        format!("crn:///kafka={}", self.cluster)
    }
}

fn related(url: String) -> Value {
    json!({ "related": url })
}

fn list(kind: &str, url: String, data: Vec<Value>) -> Value {
    json!({
        "kind": kind,
        "metadata": {"self": url, "next": null},
        "data": data,
    })
}

/// The cluster id, checking the one in the path.
async fn cluster_id(caller: &mut RestCaller, asked: Option<&str>) -> Result<String, RestError> {
    let metadata = caller.metadata(Some(&[]), false, deadline()).await?;
    let id = metadata.cluster_id.unwrap_or_default();
    match asked {
        Some(asked) if asked != id => Err(RestError::new(
            40400,
            StatusCode::NOT_FOUND,
            format!("Cluster {asked} cannot be found."),
        )),
        _ => Ok(id),
    }
}

async fn links(
    caller: &mut RestCaller,
    headers: &HeaderMap,
    https: bool,
    asked: Option<&str>,
) -> Result<Links, RestError> {
    Ok(Links {
        base: base_url(headers, https),
        cluster: cluster_id(caller, asked).await?,
    })
}

fn cluster_json(links: &Links, controller: i32) -> Value {
    let url = links.cluster_url();
    json!({
        "kind": "KafkaCluster",
        "metadata": {"self": url, "resource_name": links.crn()},
        "cluster_id": links.cluster,
        "controller": related(format!("{url}/brokers/{controller}")),
        "acls": related(format!("{url}/acls")),
        "brokers": related(format!("{url}/brokers")),
        "broker_configs": related(format!("{url}/broker-configs")),
        "consumer_groups": related(format!("{url}/consumer-groups")),
        "topics": related(format!("{url}/topics")),
        "partition_reassignments": related(format!("{url}/topics/-/partitions/-/reassignment")),
    })
}

fn topic_json(links: &Links, t: &TopicMetadata) -> Value {
    let url = links.topic_url(&t.name);
    json!({
        "kind": "KafkaTopic",
        "metadata": {"self": url, "resource_name": format!("{}/topic={}", links.crn(), t.name)},
        "cluster_id": links.cluster,
        "topic_name": t.name,
        "is_internal": t.is_internal,
        "replication_factor": t.partitions.first().map_or(0, |p| p.replicas.len()),
        "partitions_count": t.partitions.len(),
        "partitions": related(format!("{url}/partitions")),
        "configs": related(format!("{url}/configs")),
        "partition_reassignments": related(format!("{url}/partitions/-/reassignment")),
        "authorized_operations": [],
    })
}

fn partition_json(links: &Links, topic: &str, p: &PartitionMetadata) -> Value {
    let url = format!("{}/partitions/{}", links.topic_url(topic), p.partition);
    json!({
        "kind": "KafkaPartition",
        "metadata": {
            "self": url,
            "resource_name": format!("{}/topic={topic}/partition={}", links.crn(), p.partition),
        },
        "cluster_id": links.cluster,
        "topic_name": topic,
        "partition_id": p.partition,
        "leader": related(format!("{url}/replicas/{}", p.leader_id)),
        "replicas": related(format!("{url}/replicas")),
        "reassignment": related(format!("{url}/reassignment")),
    })
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// `GET /v3/clusters`.
pub async fn clusters(
    mut caller: RestCaller,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let links = links(&mut caller, &headers, https.is_some(), None).await?;
        let controller = caller
            .metadata(Some(&[]), false, deadline())
            .await?
            .controller_id;
        let url = format!("{}/clusters", links.base);
        Ok(json_response(
            StatusCode::OK,
            list(
                "KafkaClusterList",
                url,
                vec![cluster_json(&links, controller)],
            ),
        ))
    }
    .await;
    caller.check(result)
}

/// `GET /v3/clusters/{cluster}`.
pub async fn cluster(
    mut caller: RestCaller,
    Path(cluster): Path<String>,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let links = links(&mut caller, &headers, https.is_some(), Some(&cluster)).await?;
        let controller = caller
            .metadata(Some(&[]), false, deadline())
            .await?
            .controller_id;
        Ok(json_response(
            StatusCode::OK,
            cluster_json(&links, controller),
        ))
    }
    .await;
    caller.check(result)
}

/// `GET /v3/clusters/{cluster}/topics`.
pub async fn topics(
    mut caller: RestCaller,
    Path(cluster): Path<String>,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let links = links(&mut caller, &headers, https.is_some(), Some(&cluster)).await?;
        let metadata = caller.metadata(None, false, deadline()).await?;
        let mut topics: Vec<&TopicMetadata> = metadata
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let data = topics.iter().map(|t| topic_json(&links, t)).collect();
        let url = format!("{}/topics", links.cluster_url());
        Ok(json_response(
            StatusCode::OK,
            list("KafkaTopicList", url, data),
        ))
    }
    .await;
    caller.check(result)
}

/// `GET /v3/clusters/{cluster}/topics/{topic}`.
pub async fn topic(
    mut caller: RestCaller,
    Path((cluster, topic)): Path<(String, String)>,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let links = links(&mut caller, &headers, https.is_some(), Some(&cluster)).await?;
        let t = topic_metadata(&mut caller, &topic).await?;
        Ok(json_response(StatusCode::OK, topic_json(&links, &t)))
    }
    .await;
    caller.check(result)
}

/// `POST /v3/clusters/{cluster}/topics` `{"topic_name", "partitions_count",
/// "replication_factor", "configs": [{"name", "value"}]}`: 201 with the topic.
pub async fn create_topic(
    mut caller: RestCaller,
    Path(cluster): Path<String>,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
    body: Bytes,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        plain_body(&headers)?;
        let body = body_json(&body)?;
        let Some(name) = body.get("topic_name").and_then(Value::as_str) else {
            return Err(RestError::unprocessable("\"topic_name\" is required"));
        };
        let number = |key: &str| -> Result<i64, RestError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(-1),
                Some(v) => v.as_i64().filter(|n| *n > 0).ok_or_else(|| {
                    RestError::unprocessable(format!("\"{key}\" must be a number above 0"))
                }),
            }
        };
        let partitions = i32::try_from(number("partitions_count")?)
            .map_err(|_| RestError::unprocessable("\"partitions_count\" is too large"))?;
        let replication = i16::try_from(number("replication_factor")?)
            .map_err(|_| RestError::unprocessable("\"replication_factor\" is too large"))?;
        let mut configs = Vec::new();
        if let Some(list) = body.get("configs").and_then(Value::as_array) {
            for (i, c) in list.iter().enumerate() {
                let key = c.get("name").and_then(Value::as_str);
                let value = c.get("value").and_then(Value::as_str);
                match (key, value) {
                    (Some(k), Some(v)) => configs.push((k.to_string(), v.to_string())),
                    _ => {
                        return Err(RestError::unprocessable(format!(
                            "configs[{i}] needs \"name\" and \"value\" strings"
                        )))
                    }
                }
            }
        }
        let links = links(&mut caller, &headers, https.is_some(), Some(&cluster)).await?;
        let request = create_request(name, partitions, replication, &configs, ADMIN_TIMEOUT_MS);
        let (response, _) = caller
            .send_to_controller::<CreateTopicsRequest>(2..=7, |_| request.clone(), deadline())
            .await?;
        let Some(result) = response.topics.into_iter().next() else {
            return Err(RestError::kafka(-1, "CreateTopics answered no topic"));
        };
        if result.error_code != 0 {
            let text = match result.error_message.as_deref() {
                Some(m) if !m.is_empty() => format!("{}: {m}", error_name(result.error_code)),
                _ => error_name(result.error_code),
            };
            return Err(RestError::kafka(result.error_code, &text));
        }
        let url = links.topic_url(name);
        let value = json!({
            "kind": "KafkaTopic",
            "metadata": {"self": url, "resource_name": format!("{}/topic={name}", links.crn())},
            "cluster_id": links.cluster,
            "topic_name": name,
            "is_internal": false,
            "replication_factor": result.replication_factor,
            "partitions_count": result.num_partitions,
            "partitions": related(format!("{url}/partitions")),
            "configs": related(format!("{url}/configs")),
            "partition_reassignments": related(format!("{url}/partitions/-/reassignment")),
            "authorized_operations": [],
        });
        Ok(json_response(StatusCode::CREATED, value))
    }
    .await;
    caller.check(result)
}

/// `DELETE /v3/clusters/{cluster}/topics/{topic}`: 204.
pub async fn delete_topic(
    mut caller: RestCaller,
    Path((cluster, topic)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        cluster_id(&mut caller, Some(&cluster)).await?;
        let (response, _) = caller
            .send_to_controller::<DeleteTopicsRequest>(
                1..=6,
                |version| delete_request(&topic, ADMIN_TIMEOUT_MS, version),
                deadline(),
            )
            .await?;
        if let Some(result) = response.responses.into_iter().next() {
            match result.error_code {
                0 => {}
                3 => return Err(RestError::topic_not_found(&topic)),
                code => return Err(RestError::kafka(code, &error_name(code))),
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    caller.check(result)
}

/// `GET /v3/clusters/{cluster}/topics/{topic}/partitions`.
pub async fn partitions(
    mut caller: RestCaller,
    Path((cluster, topic)): Path<(String, String)>,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let links = links(&mut caller, &headers, https.is_some(), Some(&cluster)).await?;
        let t = topic_metadata(&mut caller, &topic).await?;
        let data = t
            .partitions
            .iter()
            .map(|p| partition_json(&links, &topic, p))
            .collect();
        let url = format!("{}/partitions", links.topic_url(&topic));
        Ok(json_response(
            StatusCode::OK,
            list("KafkaPartitionList", url, data),
        ))
    }
    .await;
    caller.check(result)
}

/// `GET /v3/clusters/{cluster}/topics/{topic}/partitions/{partition}`.
pub async fn partition(
    mut caller: RestCaller,
    Path((cluster, topic, partition)): Path<(String, String, String)>,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
) -> Result<Response, RestError> {
    let result: Result<Response, RestError> = async {
        let number = partition_number(&topic, &partition)?;
        let links = links(&mut caller, &headers, https.is_some(), Some(&cluster)).await?;
        let t = topic_metadata(&mut caller, &topic).await?;
        let Some(p) = t.partitions.iter().find(|p| p.partition == number) else {
            return Err(RestError::partition_not_found(&topic, number));
        };
        Ok(json_response(
            StatusCode::OK,
            partition_json(&links, &topic, p),
        ))
    }
    .await;
    caller.check(result)
}

/// A v3 key or value `{"type", "data"}`: its bytes and type name.
fn data_of(what: &str, given: Option<&Value>) -> Result<(Option<Bytes>, &'static str), RestError> {
    let Some(given) = given.filter(|g| !g.is_null()) else {
        return Ok((None, "JSON"));
    };
    let Some(object) = given.as_object() else {
        return Err(RestError::unprocessable(format!(
            "\"{what}\" must be an object {{\"type\": ..., \"data\": ...}}"
        )));
    };
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("JSON")
        .to_ascii_uppercase();
    let data = object.get("data");
    match kind.as_str() {
        "BINARY" => Ok((
            ValueSerializer::Binary.serialize(false, &format!("{what}.data"), data)?,
            "BINARY",
        )),
        "JSON" => Ok((
            ValueSerializer::Json.serialize(false, &format!("{what}.data"), data)?,
            "JSON",
        )),
        "STRING" => match data {
            None | Some(Value::Null) => Ok((None, "STRING")),
            Some(Value::String(s)) => Ok((Some(Bytes::copy_from_slice(s.as_bytes())), "STRING")),
            Some(_) => Err(RestError::unprocessable(format!(
                "\"{what}.data\" of type STRING must be a string"
            ))),
        },
        "AVRO" | "PROTOBUF" | "JSONSCHEMA" => Err(RestError::unsupported_media_type(format!(
            "\"{what}.type\" {kind} needs the schema registry, which this REST proxy does not use yet; use BINARY, STRING or JSON"
        ))),
        other => Err(RestError::unprocessable(format!(
            "\"{what}.type\" {other}: expected BINARY, STRING or JSON"
        ))),
    }
}

/// A v3 produce record: the record, and its key and value type names.
fn record_of(value: &Value) -> Result<(ProduceRecord, &'static str, &'static str), RestError> {
    let Some(object) = value.as_object() else {
        return Err(RestError::unprocessable("a record must be a JSON object"));
    };
    let partition = match object.get("partition_id") {
        None | Some(Value::Null) => None,
        Some(p) => Some(
            p.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| *p >= 0)
                .ok_or_else(|| {
                    RestError::unprocessable("\"partition_id\" must be a partition number")
                })?,
        ),
    };
    let (key, key_type) = data_of("key", object.get("key"))?;
    let (value, value_type) = data_of("value", object.get("value"))?;
    let mut headers = Vec::new();
    if let Some(list) = object.get("headers").and_then(Value::as_array) {
        for (i, h) in list.iter().enumerate() {
            let Some(name) = h.get("name").and_then(Value::as_str) else {
                return Err(RestError::unprocessable(format!(
                    "headers[{i}] needs \"name\""
                )));
            };
            let bytes = match h.get("value") {
                None | Some(Value::Null) => Bytes::new(),
                Some(Value::String(text)) => Bytes::from(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map_err(|e| {
                            RestError::unprocessable(format!(
                                "headers[{i}].value is not base64: {e}"
                            ))
                        })?,
                ),
                Some(_) => {
                    return Err(RestError::unprocessable(format!(
                        "headers[{i}].value must be a base64 string"
                    )))
                }
            };
            headers.push((name.to_string(), bytes));
        }
    }
    let timestamp = match object.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .filter(|t| *t >= 0)
                .ok_or_else(|| RestError::unprocessable("\"timestamp\" must be 0 or more"))?,
        ),
        Some(Value::String(text)) => {
            Some(sluice_client::group::parse_datetime_ms(text).map_err(RestError::unprocessable)?)
        }
        Some(_) => {
            return Err(RestError::unprocessable(
                "\"timestamp\" must be an RFC 3339 date-time or milliseconds",
            ))
        }
    };
    Ok((
        ProduceRecord {
            partition,
            key,
            value,
            headers,
            timestamp,
        },
        key_type,
        value_type,
    ))
}

fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    sluice_security::audit::Rfc3339Millis(at).to_string()
}

/// Produces one record; the HTTP status and the result object.
async fn produce_one(
    caller: &mut RestCaller,
    cluster: &str,
    topic: &str,
    record: Result<Value, RestError>,
) -> (StatusCode, Value) {
    let outcome = async {
        let (record, key_type, value_type) = record_of(&record?)?;
        let key_size = record.key.as_ref().map(Bytes::len);
        let value_size = record.value.as_ref().map(Bytes::len);
        let mut outcomes = produce_records(&mut caller.0, topic, None, vec![record]).await?;
        let outcome = outcomes
            .pop()
            .ok_or_else(|| RestError::kafka(-1, "the record got no answer"))?;
        if let Some((code, text)) = outcome.error {
            return Err(RestError::kafka(code, &text));
        }
        Ok(json!({
            "error_code": 200,
            "cluster_id": cluster,
            "topic_name": topic,
            "partition_id": outcome.partition,
            "offset": outcome.offset,
            "timestamp": rfc3339(outcome.timestamp),
            "key": key_size.map(|size| json!({"type": key_type, "size": size})),
            "value": value_size.map(|size| json!({"type": value_type, "size": size})),
        }))
    }
    .await;
    match outcome {
        Ok(value) => (StatusCode::OK, value),
        Err(e) => (
            e.v3_status,
            json!({"error_code": e.v3_status.as_u16(), "message": e.message}),
        ),
    }
}

/// Reads the next JSON value of a streamed body: `None` at its end.
struct ValueReader {
    stream: axum::body::BodyDataStream,
    buffer: Vec<u8>,
    ended: bool,
}

impl ValueReader {
    async fn fill(&mut self) -> Result<bool, RestError> {
        if self.ended {
            return Ok(false);
        }
        match self.stream.next().await {
            Some(Ok(chunk)) => {
                self.buffer.extend_from_slice(&chunk);
                Ok(true)
            }
            Some(Err(e)) => Err(RestError::unprocessable(format!(
                "cannot read the request body: {e}"
            ))),
            None => {
                self.ended = true;
                Ok(false)
            }
        }
    }

    /// Whether anything but white space is left.
    async fn more(&mut self) -> Result<bool, RestError> {
        loop {
            let start = self.buffer.iter().position(|b| !b.is_ascii_whitespace());
            match start {
                Some(at) => {
                    self.buffer.drain(..at);
                    return Ok(true);
                }
                None => {
                    self.buffer.clear();
                    if !self.fill().await? {
                        return Ok(false);
                    }
                }
            }
        }
    }

    async fn next(&mut self) -> Option<Result<Value, RestError>> {
        loop {
            match self.more().await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
            let mut values =
                serde_json::Deserializer::from_slice(&self.buffer).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    self.buffer.drain(..used);
                    return Some(Ok(value));
                }
                Some(Err(e)) if e.is_eof() && self.buffer.len() <= MAX_RECORD_BYTES => {
                    match self.fill().await {
                        Ok(true) => continue,
                        Ok(false) => {
                            self.buffer.clear();
                            return Some(Err(RestError::unprocessable(format!(
                                "the request body ends inside a record: {e}"
                            ))));
                        }
                        Err(e) => return Some(Err(e)),
                    }
                }
                Some(Err(e)) => {
                    // No way to find the next record after bad JSON: this one is the last.
                    let why = if self.buffer.len() > MAX_RECORD_BYTES {
                        format!("a record is larger than {MAX_RECORD_BYTES} bytes")
                    } else {
                        format!("the request body is not valid JSON: {e}")
                    };
                    self.buffer.clear();
                    self.ended = true;
                    return Some(Err(RestError::unprocessable(why)));
                }
                None => continue,
            }
        }
    }
}

/// `POST /v3/clusters/{cluster}/topics/{topic}/records`.
pub async fn produce(
    State(_state): State<Arc<RestProxyState>>,
    mut caller: RestCaller,
    Path((cluster, topic)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let checked = async {
        let cluster = cluster_id(&mut caller, Some(&cluster)).await?;
        // A missing topic is 404 before anything is read, and is never created.
        leaders(&mut caller.0, &topic, deadline()).await?;
        Ok(cluster)
    }
    .await;
    let cluster = caller.check(checked)?;
    let mut reader = ValueReader {
        stream: body.into_data_stream(),
        buffer: Vec::new(),
        ended: false,
    };
    let Some(first) = reader.next().await else {
        return Err(RestError::unprocessable("the request body holds no record"));
    };
    let more = match reader.more().await {
        Ok(more) => more,
        Err(e) => return Err(e),
    };
    if !more {
        let (status, value) = produce_one(&mut caller, &cluster, &topic, first).await;
        return Ok(json_response(status, value));
    }
    // Streaming mode: one result per record, sent as each record is produced.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut next = Some(first);
        loop {
            let record = match next.take() {
                Some(record) => record,
                None => match reader.next().await {
                    Some(record) => record,
                    None => return,
                },
            };
            let (_, value) = produce_one(&mut caller, &cluster, &topic, record).await;
            let mut text = value.to_string().into_bytes();
            text.push(b'\n');
            if tx.send(Bytes::from(text)).await.is_err() {
                // The client went away.
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(chunks: Vec<&'static str>) -> ValueReader {
        let stream = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, Infallible>(Bytes::from_static(c.as_bytes()))),
        );
        ValueReader {
            stream: Body::from_stream(stream).into_data_stream(),
            buffer: Vec::new(),
            ended: false,
        }
    }

    #[tokio::test]
    async fn streamed_records_are_split_across_chunks() {
        let mut r = reader(vec!["{\"a\":", "1}{\"b\"", ":2}\n  ", "[3]", "  "]);
        assert_eq!(r.next().await.unwrap().unwrap(), json!({"a": 1}));
        assert!(r.more().await.unwrap());
        assert_eq!(r.next().await.unwrap().unwrap(), json!({"b": 2}));
        assert_eq!(r.next().await.unwrap().unwrap(), json!([3]));
        assert!(!r.more().await.unwrap());
        assert!(r.next().await.is_none());
    }

    #[tokio::test]
    async fn a_truncated_or_bad_stream_ends_with_one_error() {
        let mut r = reader(vec!["{\"a\":1} {\"b\":"]);
        assert!(r.next().await.unwrap().is_ok());
        assert_eq!(r.next().await.unwrap().unwrap_err().code, 42201);
        assert!(r.next().await.is_none());
        let mut r = reader(vec!["{\"a\":1} nonsense {\"b\":2}"]);
        assert!(r.next().await.unwrap().is_ok());
        assert_eq!(r.next().await.unwrap().unwrap_err().code, 42201);
        assert!(r.next().await.is_none());
    }

    #[test]
    fn v3_records_read_every_type() {
        let (record, kt, vt) = record_of(&json!({
            "partition_id": 2,
            "key": {"type": "BINARY", "data": "aGk="},
            "value": {"type": "STRING", "data": "v"},
            "headers": [{"name": "h", "value": "aGk="}, {"name": "n", "value": null}],
            "timestamp": "2026-01-02T03:04:05.678Z",
        }))
        .unwrap();
        assert_eq!((kt, vt), ("BINARY", "STRING"));
        assert_eq!(record.partition, Some(2));
        assert_eq!(record.key, Some(Bytes::from_static(b"hi")));
        assert_eq!(record.value, Some(Bytes::from_static(b"v")));
        assert_eq!(record.headers.len(), 2);
        assert_eq!(record.timestamp, Some(1_767_323_045_678));
        let (record, _, vt) =
            record_of(&json!({"value": {"data": {"x": [1]}}, "timestamp": 5})).unwrap();
        assert_eq!(
            (vt, record.value, record.key, record.timestamp),
            (
                "JSON",
                Some(Bytes::from_static(b"{\"x\":[1]}")),
                None,
                Some(5)
            )
        );
        for (bad, code) in [
            (json!([]), 42201),
            (json!({"partition_id": -1}), 42201),
            (json!({"key": "plain"}), 42201),
            (json!({"value": {"type": "BINARY", "data": "***"}}), 42201),
            (json!({"value": {"type": "STRING", "data": 5}}), 42201),
            (json!({"value": {"type": "XML", "data": 5}}), 42201),
            (json!({"value": {"type": "AVRO", "data": 5}}), 415),
            (json!({"headers": [{"value": "aGk="}]}), 42201),
            (json!({"timestamp": "yesterday"}), 42201),
        ] {
            assert_eq!(record_of(&bad).map(|_| ()).unwrap_err().code, code, "{bad}");
        }
        assert_eq!(rfc3339(1_767_323_045_678), "2026-01-02T03:04:05.678Z");
    }
}
