//! The schema registry on `schema.registry.listeners` (default `http://127.0.0.1:8081`):
//! Confluent's Schema Registry API over the broker's [`SchemaService`].
//!
//! Every request comes to [`dispatch`], which authenticates it (HTTP Basic against the
//! cluster's SASL users when the node's inter-broker listener uses SASL), finds its endpoint
//! (`endpoints`) and where it runs: reads on this node's view of `_schemas` when it holds a
//! replica, writes on the writer (the leader of `_schemas-0`), here or forwarded to its
//! registry (`forward`). A write that finds no writer (a leader election under way) is
//! retried until [`WRITE_DEADLINE`].
//!
//! Bodies and errors are Confluent's: `{"error_code": 40401, "message": ...}` with the HTTP
//! status its first three digits give.

mod endpoints;
pub mod forward;

use std::sync::Arc;
use std::time::Duration;

use crate::BoundListener;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use sluice_broker::coordinators::{Route, SchemaService};
use sluice_schema::RegistryError;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::access::Caller;
use crate::{AdminState, ListenerSpec};

/// Confluent's media type.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// How long a write keeps looking for the writer.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(15);
/// The largest request body taken.
const MAX_BODY_BYTES: usize = 16 << 20;

/// An answer: a JSON body with a status, or an error.
pub(crate) enum Answer {
    Json(StatusCode, Value),
    /// A schema's text as it is (`/schema` endpoints).
    Raw(String),
}

pub(crate) fn ok(value: Value) -> Result<Answer, RegistryError> {
    Ok(Answer::Json(StatusCode::OK, value))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        )],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn error_response(e: &RegistryError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        status,
        json!({"error_code": e.error_code(), "message": e.to_string()}),
    )
}

/// An error outside Confluent's registry codes (unknown endpoint, bad JSON): the HTTP status
/// as the code, as Confluent answers them.
pub(crate) fn plain_error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(
        status,
        json!({"error_code": status.as_u16(), "message": message.into()}),
    )
}

fn answer_response(answer: Result<Answer, RegistryError>) -> Response {
    match answer {
        Ok(Answer::Json(status, body)) => json_response(status, body),
        Ok(Answer::Raw(text)) => (
            StatusCode::OK,
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(CONTENT_TYPE),
            )],
            text,
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

/// The registry's routes: every path goes to [`dispatch`].
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// A request as the endpoints see it.
pub(crate) struct Call {
    pub method: Method,
    /// Path segments, percent-decoded (a subject may hold an encoded `/`).
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter (`?deleted=true`); absent is false.
    pub fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

async fn dispatch(State(state): State<Arc<AdminState>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(service) = state
        .node()
        .and_then(|n| n.broker.as_ref())
        .map(|b| b.schemas.clone())
    else {
        return error_response(&RegistryError::UnknownLeader(
            "the node is starting, or runs no broker".into(),
        ));
    };
    // Authentication first: nothing is served to a caller the cluster does not know.
    if state.kafka().is_some_and(|k| k.sasl_listener) {
        use axum::extract::FromRequestParts;
        match Caller::from_request_parts(&mut parts, &state).await {
            Ok(mut caller) => {
                let checked = caller
                    .metadata(Some(&[]), false, crate::api::deadline())
                    .await;
                match checked {
                    Ok(_) => {}
                    Err(sluice_client::wire::RequestError::Authentication(e)) => {
                        caller.refused();
                        return plain_error(StatusCode::UNAUTHORIZED, e);
                    }
                    Err(e) => {
                        return plain_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                    }
                }
            }
            Err(e) => return plain_error(e.status, e.message),
        }
    }
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return plain_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        }
    };
    let path = parts.uri.path().to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_string());
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let query: Vec<(String, String)> = match crate::api::query_params(parts.uri.query()) {
        Ok(q) => q.into_iter().collect(),
        Err(e) => return plain_error(StatusCode::BAD_REQUEST, e.message),
    };
    let call = Call {
        method: parts.method.clone(),
        segments,
        query,
        body,
    };
    let endpoint = match endpoints::find(&call) {
        Ok(e) => e,
        Err(response) => return response,
    };
    let forwarded = parts.headers.contains_key(forward::FORWARDED);
    match endpoint {
        endpoints::Endpoint::Local(run) => answer_response(run(&call)),
        endpoints::Endpoint::Read(read) => {
            read_on(
                Target {
                    service: &service,
                    tls: state.registry_tls(),
                },
                &parts.method,
                &path_and_query,
                &parts.headers,
                &call,
                read,
                forwarded,
            )
            .await
        }
        endpoints::Endpoint::Write(write) => {
            write_on(
                Target {
                    service: &service,
                    tls: state.registry_tls(),
                },
                &parts.method,
                &path_and_query,
                &parts.headers,
                &call,
                write,
                forwarded,
            )
            .await
        }
    }
}

/// Where a request runs: this node's registry service, and how it reaches other nodes'
/// registries over https.
#[derive(Clone, Copy)]
struct Target<'a> {
    service: &'a Arc<SchemaService>,
    tls: Option<&'a sluice_protocol::client::TlsClient>,
}

async fn read_on(
    to: Target<'_>,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    call: &Call,
    read: endpoints::ReadFn,
    forwarded: bool,
) -> Response {
    let service = to.service;
    match service.reader() {
        Route::Local => {
            let answer = service.read(|registry| read(registry, call)).await;
            match answer {
                Ok(answer) => answer_response(answer),
                Err(e) => error_response(&RegistryError::Store(e)),
            }
        }
        Route::Remote { .. } if forwarded => error_response(&RegistryError::UnknownLeader(
            "this node holds no copy of _schemas".into(),
        )),
        Route::Remote { url: Some(url), .. } => relay(
            forward::forward(
                &url,
                to.tls,
                method.clone(),
                path_and_query,
                headers,
                call.body.clone(),
                WRITE_DEADLINE,
            )
            .await,
        ),
        Route::Remote { broker, url: None } => error_response(&RegistryError::Forwarding(format!(
            "broker {broker} leads _schemas but serves no schema registry"
        ))),
        Route::Unavailable(why) => error_response(&RegistryError::UnknownLeader(why)),
    }
}

async fn write_on(
    to: Target<'_>,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    call: &Call,
    write: endpoints::WriteFn,
    forwarded: bool,
) -> Response {
    // The request's syntax is checked before it goes anywhere (a bad body answers here);
    // the writer checks it against the registry.
    let request = match write(call) {
        Ok(request) => request,
        Err(e) => return error_response(&e),
    };
    let service = to.service;
    let deadline = tokio::time::Instant::now() + WRITE_DEADLINE;
    let mut last;
    loop {
        match service.writer() {
            Route::Local => {
                let (reply, offset) = service.write(request.0.clone()).await;
                match reply {
                    Err(RegistryError::UnknownLeader(why)) => last = why,
                    Err(e) => return error_response(&e),
                    Ok(result) => {
                        // Read your write on this node.
                        let _ = service.wait_for(offset, Duration::from_secs(5)).await;
                        let mut response = answer_response(Ok((request.1)(result)));
                        response
                            .headers_mut()
                            .insert(forward::SCHEMAS_OFFSET, forward::offset_header(offset));
                        return response;
                    }
                }
            }
            Route::Remote { .. } if forwarded => {
                return error_response(&RegistryError::UnknownLeader(
                    "this node is not the registry's writer".into(),
                ))
            }
            Route::Remote { url: Some(url), .. } => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match forward::forward(
                    &url,
                    to.tls,
                    method.clone(),
                    path_and_query,
                    headers,
                    call.body.clone(),
                    left,
                )
                .await
                {
                    Ok(answer) => {
                        let unknown_leader = answer.status == StatusCode::INTERNAL_SERVER_ERROR
                            && serde_json::from_slice::<Value>(&answer.body)
                                .ok()
                                .and_then(|v| v.get("error_code").and_then(Value::as_i64))
                                == Some(50004);
                        if !unknown_leader {
                            if let Some(offset) = forward::schemas_offset(&answer.headers) {
                                let _ = service.wait_for(offset, Duration::from_secs(5)).await;
                            }
                            return relay(Ok(answer));
                        }
                        last = String::from_utf8_lossy(&answer.body).into_owned();
                    }
                    Err(e) => last = e,
                }
            }
            Route::Remote { broker, url: None } => {
                return error_response(&RegistryError::Forwarding(format!(
                    "broker {broker} leads _schemas but serves no schema registry"
                )))
            }
            Route::Unavailable(why) => last = why,
        }
        if tokio::time::Instant::now() >= deadline {
            return error_response(&RegistryError::UnknownLeader(last));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn relay(answer: Result<forward::Forwarded, String>) -> Response {
    match answer {
        Ok(f) => {
            let mut response = Response::new(Body::from(f.body));
            *response.status_mut() = f.status;
            for name in [
                axum::http::header::CONTENT_TYPE,
                forward::SCHEMAS_OFFSET
                    .parse()
                    .expect("a valid header name"),
            ] {
                if let Some(v) = f.headers.get(&name) {
                    response.headers_mut().insert(name, v.clone());
                }
            }
            response
        }
        Err(e) => error_response(&RegistryError::Forwarding(e)),
    }
}

/// Binds the registry's listeners (so their URLs are known before the broker registers);
/// [`serve_when_ready`] serves them.
pub async fn bind(specs: Vec<ListenerSpec>) -> Result<Vec<BoundListener>, crate::BindError> {
    crate::serve::bind("schema registry listener", specs).await
}

/// Serves the bound registry listeners once the registry can serve writes as well as reads
/// (`_schemas` exists, has a writer, and this node can reach its data), until `shutdown`.
pub async fn serve_when_ready(
    bound: Vec<BoundListener>,
    state: Arc<AdminState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut waited = 0u32;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Some(service) = state
            .node()
            .and_then(|n| n.broker.as_ref())
            .map(|b| b.schemas.clone())
        {
            match service.ensure_topic().await {
                Ok(true) => {
                    let writer = !matches!(service.writer(), Route::Unavailable(_));
                    let reads = match service.reader() {
                        Route::Local => service.read(|_| ()).await.is_ok(),
                        Route::Remote { url, .. } => url.is_some(),
                        Route::Unavailable(_) => false,
                    };
                    if writer && reads {
                        break;
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    if waited.is_multiple_of(50) {
                        tracing::info!("schema registry waiting for the _schemas topic: {e}");
                    }
                }
            }
        }
        waited += 1;
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    let mut tasks = JoinSet::new();
    for listener in bound {
        let url = listener.url.clone();
        tracing::info!("schema registry serving {url}");
        let app = router(state.clone());
        if let Err(e) = crate::serve::spawn(
            &mut tasks,
            "schema registry listener",
            listener,
            app,
            shutdown.clone(),
        ) {
            tracing::error!("schema registry listener {url}: {e}");
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Registers `request` under `subject` for another service of this node (the REST proxy's
/// schema-registry formats), exactly as `POST /subjects/{subject}/versions` with the caller's
/// `authorization` would: on the writer, here or forwarded. The schema's id.
pub async fn register(
    state: &AdminState,
    subject: &str,
    request: &sluice_schema::SchemaRequest,
    authorization: Option<&HeaderValue>,
) -> Result<i32, RegistryError> {
    let service = state
        .node()
        .and_then(|n| n.broker.as_ref())
        .map(|b| b.schemas.clone())
        .ok_or_else(|| RegistryError::UnknownLeader("the node runs no broker".into()))?;
    let mut body = json!({"schema": request.schema, "schemaType": request.schema_type.name()});
    if !request.references.is_empty() {
        body["references"] = json!(request.references);
    }
    let encoded =
        percent_encoding::utf8_percent_encode(subject, percent_encoding::NON_ALPHANUMERIC);
    let path = format!("/subjects/{encoded}/versions");
    let mut headers = HeaderMap::new();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Some(a) = authorization {
        headers.insert(axum::http::header::AUTHORIZATION, a.clone());
    }
    let call = Call {
        method: Method::POST,
        segments: vec!["subjects".into(), subject.to_string(), "versions".into()],
        query: Vec::new(),
        body: Bytes::from(body.to_string()),
    };
    let response = write_on(
        Target {
            service: &service,
            tls: state.registry_tls(),
        },
        &Method::POST,
        &path,
        &headers,
        &call,
        endpoints::register_fn(),
        false,
    )
    .await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| RegistryError::Store(e.to_string()))?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return answer
            .get("id")
            .and_then(Value::as_i64)
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| RegistryError::Store(format!("the registry answered {answer}")));
    }
    Err(error_of(status, &answer))
}

/// The registry error an error answer carries.
fn error_of(status: StatusCode, answer: &Value) -> RegistryError {
    let code = answer
        .get("error_code")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let message = answer
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match code {
        409 => RegistryError::Incompatible(String::new(), vec![message]),
        42201 => RegistryError::InvalidSchema(message),
        40401 => RegistryError::SubjectNotFound(message),
        40403 => RegistryError::SchemaNotFound(message),
        42205 => RegistryError::OperationNotPermitted(message),
        401 => RegistryError::BadRequest(format!("HTTP {status}: {message}")),
        50004 => RegistryError::UnknownLeader(message),
        _ => RegistryError::Store(format!("HTTP {status}: {message}")),
    }
}

/// The parsed schema of `id`, from this node's copy of `_schemas` (cached in the admin state);
/// `SchemaNotFound` when the registry has no such id.
pub async fn parsed_schema(
    state: &AdminState,
    id: i32,
) -> Result<Arc<sluice_schema::ParsedSchema>, RegistryError> {
    if let Some(p) = state
        .schema_cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
    {
        return Ok(p.clone());
    }
    let service = state
        .node()
        .and_then(|n| n.broker.as_ref())
        .map(|b| b.schemas.clone())
        .ok_or_else(|| RegistryError::UnknownLeader("the node runs no broker".into()))?;
    let parsed = service
        .read(|r| {
            let stored = r
                .schema_by_id(id)
                .ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))?;
            r.parse(&sluice_schema::SchemaRequest {
                schema_type: stored.schema_type,
                schema: stored.schema.clone(),
                references: stored.references.clone(),
                id: None,
                version: None,
            })
        })
        .await
        .map_err(RegistryError::Store)??;
    let parsed = Arc::new(parsed);
    let mut cache = state.schema_cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 1024 {
        cache.clear();
    }
    cache.insert(id, parsed.clone());
    Ok(parsed)
}
