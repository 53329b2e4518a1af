//! v2 consumer instances under `/consumers/{group}/instances/{instance}`: this node's, like
//! Confluent's (a request for an instance of another node is 40403), each usable only by the
//! user that created it. An instance idle for `rest.proxy.consumer.instance.timeout.ms` is
//! closed (it commits with auto-commit and leaves its group); so is every instance when the
//! node shuts down. A background tick also heartbeats idle subscribed instances, so that
//! they keep their partitions between requests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sluice_client::wire::list_offsets::{EARLIEST, LATEST};
use tokio::sync::watch;

use super::format::{accepts, plain_body, EmbeddedFormat};
use super::instance::{random_id, Instance, InstanceConfig, Reset, TopicPartition};
use super::v2::{body_json, v2_json};
use super::{RestCaller, RestError, RestProxyState, ServedOverHttps};
use crate::api::access::client_for;

/// Confluent's default `consumer.request.timeout.ms`.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(1000);
/// The longest a records request may wait.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Confluent's default `consumer.request.max.bytes` (64 MiB).
const DEFAULT_MAX_BYTES: i32 = 64 << 20;
/// Instances one node holds at most.
const MAX_INSTANCES: usize = 1000;

type Key = (String, String);

struct Entry {
    instance: Arc<tokio::sync::Mutex<Instance>>,
    last_used: Mutex<Instant>,
}

/// This node's consumer instances by (group, name).
pub struct Consumers {
    timeout: Duration,
    instances: Mutex<BTreeMap<Key, Arc<Entry>>>,
}

impl Consumers {
    pub fn new(timeout: Duration) -> Consumers {
        Consumers {
            timeout,
            instances: Mutex::new(BTreeMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Arc<Entry>>> {
        self.instances.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remove(&self, key: &Key) -> Option<Arc<Entry>> {
        self.map().remove(key)
    }

    /// Closes every instance.
    pub async fn close_all(&self) {
        let all: Vec<Arc<Entry>> = std::mem::take(&mut *self.map()).into_values().collect();
        for entry in all {
            entry.instance.lock().await.close().await;
        }
    }

    /// The instances idle past the timeout, taken out.
    fn take_expired(&self) -> Vec<Arc<Entry>> {
        let now = Instant::now();
        let mut map = self.map();
        let expired: Vec<Key> = map
            .iter()
            .filter(|(_, e)| {
                let last = *e.last_used.lock().unwrap_or_else(|p| p.into_inner());
                now.saturating_duration_since(last) >= self.timeout
            })
            .map(|(k, _)| k.clone())
            .collect();
        expired.iter().filter_map(|k| map.remove(k)).collect()
    }

    fn all(&self) -> Vec<Arc<Entry>> {
        self.map().values().cloned().collect()
    }
}

/// Closes expired instances and heartbeats idle subscribed ones, until `shutdown`.
pub async fn expire_idle(state: Arc<RestProxyState>, mut shutdown: watch::Receiver<bool>) {
    let tick =
        (state.consumers.timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(tick) => {}
        }
        for entry in state.consumers.take_expired() {
            let mut instance = entry.instance.lock().await;
            tracing::info!(
                "rest proxy: consumer instance {} of group {} expired after {} ms idle",
                instance.name,
                instance.group,
                state.consumers.timeout.as_millis()
            );
            instance.close().await;
        }
        for entry in state.consumers.all() {
            // An instance busy with a request heartbeats by itself.
            let Ok(mut instance) = entry.instance.try_lock() else {
                continue;
            };
            if instance.heartbeat_due() {
                if let Err(e) = instance.heartbeat().await {
                    tracing::debug!(
                        "rest proxy: heartbeat of consumer instance {}/{} failed: {}",
                        instance.group,
                        instance.name,
                        e.message
                    );
                }
            }
        }
    }
}

/// The instance named in the path, if it is this caller's; its idle time starts again.
fn instance_of(
    state: &RestProxyState,
    _caller: &RestCaller,
    group: &str,
    name: &str,
) -> Result<Arc<tokio::sync::Mutex<Instance>>, RestError> {
    let entry = state
        .consumers
        .map()
        .get(&(group.to_string(), name.to_string()))
        .cloned()
        .ok_or_else(RestError::instance_not_found)?;
    *entry.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    Ok(entry.instance.clone())
}

/// Checks the owner once the instance is locked.
fn owned_by(instance: &Instance, caller: &RestCaller) -> Result<(), RestError> {
    if instance.owner.as_deref() == caller.user() {
        Ok(())
    } else {
        Err(RestError::instance_not_found())
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A config value given as a string or as a JSON number/boolean.
fn config_text(body: &Value, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn parse_config(body: &Value) -> Result<(Option<String>, InstanceConfig), RestError> {
    let name = config_text(body, "name");
    if name
        .as_deref()
        .is_some_and(|n| n.is_empty() || n.contains('/'))
    {
        return Err(RestError::invalid_consumer_config(
            "\"name\" must be non-empty and without '/'",
        ));
    }
    let format = match config_text(body, "format") {
        None => EmbeddedFormat::Binary,
        Some(text) => match EmbeddedFormat::from_name(&text) {
            Some(f) => f,
            None => {
                return Err(RestError::invalid_consumer_config(format!(
                    "unknown format '{text}': expected binary, json, avro, protobuf or jsonschema"
                )))
            }
        },
    };
    let reset = match config_text(body, "auto.offset.reset") {
        None => Reset::Latest,
        Some(text) => Reset::parse(&text).ok_or_else(|| {
            RestError::invalid_consumer_config(format!(
                "auto.offset.reset '{text}': expected earliest, latest or none"
            ))
        })?,
    };
    let auto_commit = match config_text(body, "auto.commit.enable") {
        None => true,
        Some(text) => match text.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(RestError::invalid_consumer_config(format!(
                    "auto.commit.enable '{text}': expected true or false"
                )))
            }
        },
    };
    let fetch_min_bytes = match config_text(body, "fetch.min.bytes") {
        None => 1,
        Some(text) => match text.parse::<i32>() {
            Ok(-1) => 1,
            Ok(n) if n >= 0 => n,
            _ => {
                return Err(RestError::invalid_consumer_config(format!(
                    "fetch.min.bytes '{text}': expected a whole number, 0 or more"
                )))
            }
        },
    };
    let request_timeout = match config_text(body, "consumer.request.timeout.ms") {
        None => DEFAULT_REQUEST_TIMEOUT,
        Some(text) => match text.parse::<i64>() {
            Ok(-1) => DEFAULT_REQUEST_TIMEOUT,
            Ok(n) if n >= 0 => Duration::from_millis(n as u64).min(MAX_REQUEST_TIMEOUT),
            _ => {
                return Err(RestError::invalid_consumer_config(format!(
                    "consumer.request.timeout.ms '{text}': expected a whole number of milliseconds"
                )))
            }
        },
    };
    Ok((
        name,
        InstanceConfig {
            format,
            reset,
            auto_commit,
            fetch_min_bytes,
            request_timeout,
        },
    ))
}

/// `POST /consumers/{group}`: a new instance; `{"instance_id", "base_uri"}`, `base_uri` an
/// absolute URL from the request's `Host` and scheme.
pub async fn create(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path(group): Path<String>,
    headers: HeaderMap,
    https: Option<axum::Extension<ServedOverHttps>>,
    body: Bytes,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        body_json(&body)?
    };
    if !body.is_object() {
        return Err(RestError::unprocessable("the body must be a JSON object"));
    }
    let (name, config) = parse_config(&body)?;
    let name = name.unwrap_or_else(|| format!("rest-consumer-{}", random_id()));
    let Some(access) = state.admin.kafka() else {
        return Err(RestError::new(
            50301,
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is starting, or runs no broker",
        ));
    };
    let client = client_for(access, caller.credentials())?;
    let instance = Instance::new(
        group.clone(),
        name.clone(),
        caller.user().map(str::to_string),
        config,
        client,
        state.admin.clone(),
    )?;
    {
        let mut map = state.consumers.map();
        let key = (group.clone(), name.clone());
        if map.contains_key(&key) {
            return Err(RestError::instance_exists());
        }
        if map.len() >= MAX_INSTANCES {
            return Err(RestError::new(
                50301,
                StatusCode::SERVICE_UNAVAILABLE,
                format!("this node holds {MAX_INSTANCES} consumer instances: delete some first"),
            ));
        }
        map.insert(
            key,
            Arc::new(Entry {
                instance: Arc::new(tokio::sync::Mutex::new(instance)),
                last_used: Mutex::new(Instant::now()),
            }),
        );
    }
    let scheme = if https.is_some() { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    Ok(v2_json(json!({
        "instance_id": name,
        "base_uri": format!("{scheme}://{host}/consumers/{group}/instances/{name}"),
    })))
}

/// `DELETE /consumers/{group}/instances/{instance}`.
pub async fn delete(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    state.consumers.remove(&(group, name));
    instance.close().await;
    Ok(no_content())
}

/// `POST .../subscription` `{"topics": [...]}` (`topic_pattern` is not served).
pub async fn subscribe(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let body = body_json(&body)?;
    if body.get("topic_pattern").is_some_and(|p| !p.is_null()) {
        return Err(RestError::unprocessable(
            "\"topic_pattern\" is not supported by this REST proxy: name the topics",
        ));
    }
    let topics: Vec<String> = match body.get("topics").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|t| {
                t.as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| RestError::unprocessable("\"topics\" holds a non-string"))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(RestError::unprocessable(
                "the body must be {\"topics\": [\"<topic>\", ...]}",
            ))
        }
    };
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    instance.subscribe(topics).await?;
    Ok(no_content())
}

/// `GET .../subscription`: `{"topics": [...]}`.
pub async fn subscription(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let instance = instance_of(&state, &caller, &group, &name)?;
    let instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    Ok(v2_json(json!({"topics": instance.subscription()})))
}

/// `DELETE .../subscription`.
pub async fn unsubscribe(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    instance.unsubscribe().await?;
    Ok(no_content())
}

/// The `[{"topic", "partition"}]` list under `key` of a body.
fn partitions_of(body: &Value, key: &str) -> Result<Vec<TopicPartition>, RestError> {
    let Some(list) = body.get(key).and_then(Value::as_array) else {
        return Err(RestError::unprocessable(format!(
            "the body must be {{\"{key}\": [{{\"topic\": ..., \"partition\": ...}}, ...]}}"
        )));
    };
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let topic = p
                .get("topic")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty());
            let partition = p
                .get("partition")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| *p >= 0);
            match (topic, partition) {
                (Some(t), Some(p)) => Ok((t.to_string(), p)),
                _ => Err(RestError::unprocessable(format!(
                    "{key}[{i}] needs \"topic\" (a string) and \"partition\" (a number)"
                ))),
            }
        })
        .collect()
}

/// `POST .../assignments` `{"partitions": [{"topic", "partition"}]}`.
pub async fn assign(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let partitions = partitions_of(&body_json(&body)?, "partitions")?;
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    instance.assign(partitions)?;
    Ok(no_content())
}

/// `GET .../assignments`: `{"partitions": [{"topic", "partition"}]}`.
pub async fn assignments(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, RestError> {
    let instance = instance_of(&state, &caller, &group, &name)?;
    let instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    let partitions: Vec<Value> = instance
        .assignment()
        .into_iter()
        .map(|(topic, partition)| json!({"topic": topic, "partition": partition}))
        .collect();
    Ok(v2_json(json!({"partitions": partitions})))
}

/// `POST .../positions` `{"offsets": [{"topic", "partition", "offset"}]}`.
pub async fn seek(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let offsets = offsets_of(&body_json(&body)?)?;
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    instance.seek(offsets)?;
    Ok(no_content())
}

fn offsets_of(body: &Value) -> Result<Vec<(TopicPartition, i64)>, RestError> {
    let partitions = partitions_of(body, "offsets")?;
    let list = body.get("offsets").and_then(Value::as_array);
    partitions
        .into_iter()
        .enumerate()
        .map(|(i, tp)| {
            let offset = list
                .and_then(|l| l.get(i))
                .and_then(|o| o.get("offset"))
                .and_then(Value::as_i64)
                .filter(|o| *o >= 0)
                .ok_or_else(|| {
                    RestError::unprocessable(format!("offsets[{i}] needs \"offset\" (0 or more)"))
                })?;
            Ok((tp, offset))
        })
        .collect()
}

async fn seek_edge(
    state: Arc<RestProxyState>,
    caller: RestCaller,
    group: String,
    name: String,
    headers: HeaderMap,
    body: Bytes,
    which: i64,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let partitions = partitions_of(&body_json(&body)?, "partitions")?;
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    instance.seek_to(partitions, which).await?;
    Ok(no_content())
}

/// `POST .../positions/beginning` `{"partitions": [...]}`.
pub async fn seek_to_beginning(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    seek_edge(state, caller, group, name, headers, body, EARLIEST).await
}

/// `POST .../positions/end` `{"partitions": [...]}`.
pub async fn seek_to_end(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    seek_edge(state, caller, group, name, headers, body, LATEST).await
}

/// `GET .../records?timeout=&max_bytes=`: records in the instance's format.
pub async fn records(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, RestError> {
    let params = crate::api::query_params(query.as_deref())?;
    let number = |key: &str| -> Result<Option<i64>, RestError> {
        match params.get(key) {
            None => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
                RestError::unprocessable(format!("?{key}={text}: expected a whole number"))
            }),
        }
    };
    let timeout = number("timeout")?;
    let max_bytes = number("max_bytes")?;
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    let format = instance.config.format;
    accepts(&headers, format)?;
    let timeout = match timeout {
        Some(ms) if ms >= 0 => Duration::from_millis(ms as u64).min(MAX_REQUEST_TIMEOUT),
        _ => instance.config.request_timeout,
    };
    let max_bytes = match max_bytes {
        Some(n) if n > 0 => i32::try_from(n).unwrap_or(i32::MAX),
        _ => DEFAULT_MAX_BYTES,
    };
    let records = instance.records(timeout, max_bytes).await?;
    let mut response = axum::Json(Value::Array(records)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(response)
}

/// `POST .../offsets`: with `{"offsets": [{"topic", "partition", "offset"}]}` commits each
/// given offset + 1 (the offset is the last record consumed, as Confluent's proxy reads it);
/// with no body, commits every position of what the instance reads.
pub async fn commit(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let given = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let body = body_json(&body)?;
        match body.get("offsets") {
            None | Some(Value::Null) => None,
            Some(_) => Some(offsets_of(&body)?),
        }
    };
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    let offsets = match given {
        Some(list) => list.into_iter().map(|(tp, o)| (tp, o + 1)).collect(),
        None => instance.consumed_positions(),
    };
    instance.commit(&offsets).await?;
    Ok(v2_json(json!([])))
}

/// `GET .../offsets` `{"partitions": [...]}`: the committed offsets,
/// `{"offsets": [{"topic", "partition", "offset", "metadata"}]}`.
pub async fn committed(
    State(state): State<Arc<RestProxyState>>,
    caller: RestCaller,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    plain_body(&headers)?;
    let partitions = partitions_of(&body_json(&body)?, "partitions")?;
    let instance = instance_of(&state, &caller, &group, &name)?;
    let mut instance = instance.lock().await;
    owned_by(&instance, &caller)?;
    let offsets: Vec<Value> = instance
        .committed(&partitions)
        .await?
        .into_iter()
        .map(|((topic, partition), offset, metadata)| {
            json!({"topic": topic, "partition": partition, "offset": offset, "metadata": metadata})
        })
        .collect();
    Ok(v2_json(json!({"offsets": offsets})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_configs_default_as_confluents_and_refuse_bad_values() {
        let (name, c) = parse_config(&json!({})).unwrap();
        assert_eq!(name, None);
        assert_eq!(c.format, EmbeddedFormat::Binary);
        assert_eq!(c.reset, Reset::Latest);
        assert!(c.auto_commit);
        assert_eq!(
            (c.fetch_min_bytes, c.request_timeout),
            (1, DEFAULT_REQUEST_TIMEOUT)
        );
        let (name, c) = parse_config(&json!({
            "name": "n", "format": "JSON", "auto.offset.reset": "smallest",
            "auto.commit.enable": false, "fetch.min.bytes": "10",
            "consumer.request.timeout.ms": 999_999,
        }))
        .unwrap();
        assert_eq!(name.as_deref(), Some("n"));
        assert_eq!(
            (c.format, c.reset, c.auto_commit),
            (EmbeddedFormat::Json, Reset::Earliest, false)
        );
        assert_eq!(
            (c.fetch_min_bytes, c.request_timeout),
            (10, MAX_REQUEST_TIMEOUT)
        );
        let avro = parse_config(&json!({"format": "AVRO"}))
            .expect("avro is served")
            .1;
        assert_eq!(avro.format, EmbeddedFormat::Avro);
        for bad in [
            json!({"name": ""}),
            json!({"name": "a/b"}),
            json!({"format": "xml"}),
            json!({"auto.offset.reset": "soon"}),
            json!({"auto.commit.enable": "yes"}),
            json!({"fetch.min.bytes": "-5"}),
            json!({"consumer.request.timeout.ms": "x"}),
        ] {
            let e = parse_config(&bad).map(|_| ()).unwrap_err();
            assert_eq!(e.code, 42204, "{bad}");
        }
    }

    #[test]
    fn partition_and_offset_lists_are_checked() {
        let body = json!({"offsets": [{"topic": "t", "partition": 1, "offset": 5}]});
        assert_eq!(offsets_of(&body).unwrap(), vec![(("t".to_string(), 1), 5)]);
        for bad in [
            json!({}),
            json!({"partitions": [{"topic": "t"}]}),
            json!({"partitions": [{"topic": "", "partition": 0}]}),
            json!({"partitions": [{"topic": "t", "partition": -1}]}),
        ] {
            assert_eq!(
                partitions_of(&bad, "partitions").unwrap_err().code,
                42201,
                "{bad}"
            );
        }
        let missing = json!({"offsets": [{"topic": "t", "partition": 1}]});
        assert_eq!(offsets_of(&missing).unwrap_err().code, 42201);
    }
}
