//! The JSON admin API, under `/api/v1` on the admin listener: cluster, brokers, topics,
//! partitions, consumer groups with lag, configs, records. The web console builds on it.
//! Documented in docs/admin-api.md.
//!
//! Every endpoint is a Kafka client of the node's inter-broker listener acting as its caller
//! ([`access`]), so what it reads and changes passes the same Kafka API handlers, ACL checks,
//! quotas and audit log as any client's request; a refusal comes back as the Kafka error.
//!
//! # Layout
//! - `mod.rs`: [`routes`], [`ApiError`] (every failure as a JSON body with an HTTP status).
//! - `access`: [`access::KafkaAccess`] and the [`access::Caller`] extractor (credentials, the
//!   pooled cluster client).
//! - `session`: the console's login (`/session`), its cookie and the server-side
//!   [`session::SessionStore`].
//! - `write_guard`: the middleware before routing: CSRF tokens on writes, `console.read.only`.
//! - `cluster`: the cluster view, its throughput history (and the sampler filling it) and the
//!   reassignments in progress; `brokers`: the brokers with their log directories.
//! - `topics`: topics and partitions (list, create, describe, delete, add partitions).
//! - `configs`: broker and topic configs (DescribeConfigs, IncrementalAlterConfigs).
//! - `records`: reading (the message browser) and producing records.
//! - `groups`: consumer groups with their lag, deleting them, resetting their offsets;
//!   `lag_history`: the node-local sampler of watched groups' lag.
//! - `transactions`: transactions (ListTransactions, DescribeTransactions) and a topic's
//!   producers (DescribeProducers).
//! - `acls`, `users`, `quotas`: ACL bindings, SCRAM users and client quotas.

pub mod access;
pub mod acls;
pub mod brokers;
pub mod cluster;
pub mod configs;
pub mod groups;
pub mod lag_history;
pub mod quotas;
pub mod records;
pub mod session;
pub mod topics;
pub mod transactions;
pub mod users;
pub mod write_guard;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sluice_client::wire::RequestError;

use crate::AdminState;

/// Every route of the JSON admin API (mounted under `/api/v1`).
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .merge(session::routes())
        .route("/cluster", get(cluster::cluster))
        .route("/cluster/throughput", get(cluster::throughput))
        .route("/reassignments", get(cluster::reassignments))
        .route("/brokers", get(brokers::brokers))
        .route(
            "/brokers/{id}/configs",
            get(configs::broker_configs).patch(configs::alter_broker_configs),
        )
        .route("/topics", get(topics::list).post(topics::create))
        .route(
            "/topics/{topic}",
            get(topics::describe).delete(topics::delete),
        )
        .route("/topics/{topic}/partitions", post(topics::add_partitions))
        .route(
            "/topics/{topic}/configs",
            get(configs::topic_configs).patch(configs::alter_topic_configs),
        )
        .route(
            "/topics/{topic}/records",
            get(records::read).post(records::produce),
        )
        .route("/groups", get(groups::list))
        .route(
            "/groups/{group}",
            get(groups::describe).delete(groups::delete),
        )
        .route("/groups/{group}/lag-history", get(groups::lag_history))
        .route("/groups/{group}/offsets/reset", post(groups::reset_offsets))
        .route("/transactions", get(transactions::list))
        .route("/topics/{topic}/producers", get(transactions::producers))
        .route(
            "/acls",
            get(acls::list).post(acls::create).delete(acls::delete),
        )
        .route("/users", get(users::list).post(users::create))
        .route("/users/{user}", delete(users::delete))
        .route("/quotas", get(quotas::list).patch(quotas::alter))
        .fallback(not_found)
}

/// The deadline of one API request's Kafka requests.
pub fn deadline() -> Instant {
    Instant::now() + access::REQUEST_TIMEOUT
}

/// A JSON request body read into `T`; anything else is a 400 saying why.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the request body is not the JSON expected: {e}"))
    })
}

/// The parameters of a query string (`a=1&b=x%20y`), decoded; a parameter given twice or not
/// UTF-8 once decoded is a 400.
pub fn query_params(query: Option<&str>) -> Result<BTreeMap<String, String>, ApiError> {
    let mut params = BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(&text.replace('+', " "))
                .decode_utf8()
                .map(|t| t.into_owned())
                .map_err(|_| ApiError::bad_request("the query string is not UTF-8"))
        };
        let key = decode(key)?;
        if params.insert(key.clone(), decode(value)?).is_some() {
            return Err(ApiError::bad_request(format!(
                "query parameter '{key}' is given twice"
            )));
        }
    }
    Ok(params)
}

/// Pagination of a long list (`?offset=0&limit=100`, limit at most [`Page::MAX_LIMIT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    pub const DEFAULT_LIMIT: usize = 100;
    pub const MAX_LIMIT: usize = 1000;

    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Page, ApiError> {
        let number = |name: &str, default: usize| match params.get(name) {
            None => Ok(default),
            Some(text) => text.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "?{name}={text}: expected a whole number, 0 or more"
                ))
            }),
        };
        let page = Page {
            offset: number("offset", 0)?,
            limit: number("limit", Page::DEFAULT_LIMIT)?,
        };
        if page.limit == 0 || page.limit > Page::MAX_LIMIT {
            return Err(ApiError::bad_request(format!(
                "?limit={}: the limit is 1 to {}",
                page.limit,
                Page::MAX_LIMIT
            )));
        }
        Ok(page)
    }

    /// This page of `items`.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(self.limit).min(items.len());
        &items[start..end]
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        None,
        "no such endpoint (see docs/admin-api.md)",
    )
}

/// A failed API request: an HTTP status and a JSON body
/// `{"error_code": <Kafka code or null>, "error": "<Kafka's name or the status>", "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// The Kafka error code the cluster answered, if it was one.
    pub error_code: Option<i16>,
    pub message: String,
    /// Seconds for a `Retry-After` header (a 429).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: Option<i16>,
    error: String,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: Option<i16>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error_code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// With a `Retry-After` of `secs` seconds.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 400: the request itself is wrong (a bad parameter or body).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, None, message)
    }

    /// 401: credentials missing or refused.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, None, message)
    }

    /// 404: the object asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, None, message)
    }

    /// 503: the node cannot serve the API now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, None, message)
    }

    /// Whether the caller's login was refused.
    pub fn is_authentication(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
    }

    /// The HTTP status of a Kafka error code.
    pub fn status_of(code: i16) -> StatusCode {
        match code {
            // *_AUTHORIZATION_FAILED (topic, group, cluster, transactional id, delegation
            // token), and a principal that may not do what it asks.
            29 | 30 | 31 | 53 | 65 => StatusCode::FORBIDDEN,
            // SASL_AUTHENTICATION_FAILED, ILLEGAL_SASL_STATE, UNSUPPORTED_SASL_MECHANISM.
            58 | 34 | 33 => StatusCode::UNAUTHORIZED,
            // UNKNOWN_TOPIC_OR_PARTITION, GROUP_ID_NOT_FOUND, UNKNOWN_TOPIC_ID,
            // RESOURCE_NOT_FOUND.
            3 | 69 | 100 | 91 => StatusCode::NOT_FOUND,
            // TOPIC_ALREADY_EXISTS, NON_EMPTY_GROUP, GROUP_SUBSCRIBED_TO_TOPIC.
            36 | 68 | 86 => StatusCode::CONFLICT,
            // COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, LEADER_NOT_AVAILABLE,
            // NOT_LEADER_OR_FOLLOWER, NOT_CONTROLLER, COORDINATOR_LOAD_IN_PROGRESS.
            15 | 16 | 5 | 6 | 41 | 14 => StatusCode::SERVICE_UNAVAILABLE,
            // REQUEST_TIMED_OUT.
            7 => StatusCode::GATEWAY_TIMEOUT,
            // THROTTLING_QUOTA_EXCEEDED.
            89 => StatusCode::TOO_MANY_REQUESTS,
            // Anything else the cluster refused is about what was asked: INVALID_*,
            // POLICY_VIOLATION, INVALID_CONFIG, ...
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::Broker { code, text } => {
                ApiError::new(ApiError::status_of(code), Some(code), text)
            }
            RequestError::Authentication(text) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                Some(58),
                format!("the cluster refused the login: {text}"),
            ),
            RequestError::Transport(text) => ApiError::new(StatusCode::BAD_GATEWAY, None, text),
            RequestError::Unsupported(text) => {
                ApiError::new(StatusCode::NOT_IMPLEMENTED, None, text)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = match self.error_code {
            Some(code) => sluice_client::wire::error_name(code),
            None => self
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_uppercase()
                .replace(' ', "_"),
        };
        let body = ErrorBody {
            error_code: self.error_code,
            error,
            message: &self.message,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"sluice\", charset=\"UTF-8\""),
            );
        }
        response
    }
}
