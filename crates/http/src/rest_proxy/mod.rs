//! The REST proxy on `rest.proxy.listeners` (default `http://127.0.0.1:8082`): Confluent's REST
//! Proxy API, v2 at the root and v3 under `/v3`, documented in docs/rest-proxy.md.
//!
//! Like the JSON admin API, the proxy is a Kafka client of the node acting as its caller
//! ([`crate::api::access::Caller`]: HTTP Basic against the cluster's SASL users when the
//! listener uses SASL, pooled cluster clients), so ACLs and quotas apply to what it does and a
//! refusal comes back as the Kafka error.
//!
//! # Layout
//! - `mod.rs`: [`RestProxyState`], [`router`], [`serve`], the [`RestCaller`] extractor.
//! - `error`: [`RestError`], Confluent's `{"error_code", "message"}` bodies (v2's five-digit
//!   codes; the `/v3` layer rewrites them to v3's HTTP-status codes).
//! - `format`: content types (`application/vnd.kafka[.<format>].v2+json`) and the embedded
//!   formats' value serializers, the seam where the schema-registry formats join.
//! - `produce`: producing records to a topic's partitions with per-record offsets or errors;
//!   a topic missing from Metadata is 404 and never auto-created.
//! - `v2`: topics, partitions and produce of v2.
//! - `consumers`: v2 consumer instances (this node's, idle ones expire) and their endpoints;
//!   `instance`: one instance: its group membership (KIP-848 ConsumerGroupHeartbeat), positions,
//!   fetches and commits.
//! - `v3`: clusters, topics, partitions and record produce (one record, or a stream of them).

mod consumers;
mod error;
mod format;
mod instance;
mod produce;
mod v2;
mod v3;

use std::sync::Arc;
use std::time::Duration;

use crate::BindError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use error::RestError;

use crate::api::access::Caller;
use crate::{AdminState, ListenerSpec};

/// The REST proxy's settings.
#[derive(Debug, Clone)]
pub struct RestProxyConfig {
    /// `rest.proxy.consumer.instance.timeout.ms`: an idle consumer instance is closed after it.
    pub consumer_instance_timeout: Duration,
}

/// What the REST proxy's endpoints share: the node (through the admin state, whose caller
/// extractor and client pool the proxy reuses) and this node's consumer instances.
pub struct RestProxyState {
    admin: Arc<AdminState>,
    consumers: consumers::Consumers,
}

impl RestProxyState {
    pub fn new(admin: Arc<AdminState>, config: RestProxyConfig) -> Arc<RestProxyState> {
        Arc::new(RestProxyState {
            admin,
            consumers: consumers::Consumers::new(config.consumer_instance_timeout),
        })
    }

    /// Closes every consumer instance (each leaves its group, committing first when it
    /// auto-commits): the node is shutting down.
    pub async fn close(&self) {
        self.consumers.close_all().await;
    }
}

/// The caller of a REST proxy request: the admin API's [`Caller`] (HTTP Basic credentials and
/// a pooled cluster client logged in as them), never from a console session cookie (the proxy
/// has no CSRF guard, so a browser's cookie must not act for anyone).
pub struct RestCaller(pub Caller);

impl RestCaller {
    /// Passes `result` through; a refused login (401) is not pooled again.
    pub fn check<T>(&mut self, result: Result<T, RestError>) -> Result<T, RestError> {
        if matches!(&result, Err(e) if e.code == 40101) {
            self.0.refused();
        }
        result
    }
}

impl std::ops::Deref for RestCaller {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl std::ops::DerefMut for RestCaller {
    fn deref_mut(&mut self) -> &mut Caller {
        &mut self.0
    }
}

impl FromRequestParts<Arc<RestProxyState>> for RestCaller {
    type Rejection = RestError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<RestProxyState>,
    ) -> Result<RestCaller, RestError> {
        let cookies = parts.headers.remove(axum::http::header::COOKIE);
        let caller = Caller::from_request_parts(parts, &state.admin).await;
        if let Some(cookies) = cookies {
            parts.headers.insert(axum::http::header::COOKIE, cookies);
        }
        Ok(RestCaller(caller.map_err(RestError::from)?))
    }
}

/// Set on requests that came over an `https` listener (consumer `base_uri`s use it).
use crate::ServedOverHttps;

/// Every endpoint of the REST proxy.
pub fn router(state: Arc<RestProxyState>) -> Router {
    let v3 = Router::new()
        .route("/clusters", get(v3::clusters))
        .route("/clusters/{cluster}", get(v3::cluster))
        .route(
            "/clusters/{cluster}/topics",
            get(v3::topics).post(v3::create_topic),
        )
        .route(
            "/clusters/{cluster}/topics/{topic}",
            get(v3::topic).delete(v3::delete_topic),
        )
        .route(
            "/clusters/{cluster}/topics/{topic}/partitions",
            get(v3::partitions),
        )
        .route(
            "/clusters/{cluster}/topics/{topic}/partitions/{partition}",
            get(v3::partition),
        )
        .route(
            "/clusters/{cluster}/topics/{topic}/records",
            post(v3::produce),
        )
        .fallback(v3::not_found)
        .layer(axum::middleware::map_response(error::v3_errors));
    Router::new()
        .route("/", get(v2::root))
        .route("/topics", get(v2::topics))
        .route("/topics/{topic}", get(v2::topic).post(v2::produce_to_topic))
        .route("/topics/{topic}/partitions", get(v2::partitions))
        .route(
            "/topics/{topic}/partitions/{partition}",
            get(v2::partition).post(v2::produce_to_partition),
        )
        .route("/consumers/{group}", post(consumers::create))
        .route(
            "/consumers/{group}/instances/{instance}",
            axum::routing::delete(consumers::delete),
        )
        .route(
            "/consumers/{group}/instances/{instance}/subscription",
            get(consumers::subscription)
                .post(consumers::subscribe)
                .delete(consumers::unsubscribe),
        )
        .route(
            "/consumers/{group}/instances/{instance}/assignments",
            get(consumers::assignments).post(consumers::assign),
        )
        .route(
            "/consumers/{group}/instances/{instance}/positions",
            post(consumers::seek),
        )
        .route(
            "/consumers/{group}/instances/{instance}/positions/beginning",
            post(consumers::seek_to_beginning),
        )
        .route(
            "/consumers/{group}/instances/{instance}/positions/end",
            post(consumers::seek_to_end),
        )
        .route(
            "/consumers/{group}/instances/{instance}/records",
            get(consumers::records),
        )
        .route(
            "/consumers/{group}/instances/{instance}/offsets",
            get(consumers::committed).post(consumers::commit),
        )
        .nest("/v3", v3)
        .fallback(v2::not_found)
        .with_state(state)
}

/// Binds every listener of `rest.proxy.listeners` and serves [`router`] on each until
/// `shutdown` turns true; returns the bound addresses (port 0 resolved) with their scheme and
/// the serving tasks (with the expiry of idle consumer instances, which stops with them).
pub async fn serve(
    specs: Vec<ListenerSpec>,
    state: Arc<RestProxyState>,
    shutdown: watch::Receiver<bool>,
) -> Result<(Vec<String>, JoinSet<()>), BindError> {
    let bound = crate::serve::bind("rest proxy listener", specs).await?;
    let urls = bound.iter().map(|b| b.url.clone()).collect();
    let mut tasks = JoinSet::new();
    tasks.spawn(consumers::expire_idle(state.clone(), shutdown.clone()));
    for listener in bound {
        crate::serve::spawn(
            &mut tasks,
            "rest proxy listener",
            listener,
            router(state.clone()),
            shutdown.clone(),
        )?;
    }
    Ok((urls, tasks))
}
