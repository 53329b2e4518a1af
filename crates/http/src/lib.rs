//! sluice-http: the node's HTTP services on the admin listener (`admin.listeners`, default
//! `http://127.0.0.1:9644`): Prometheus `/metrics`, `/livez` and `/readyz`, at the root, the
//! JSON admin API under `/api/v1` and the web console at `/`.
//!
//! # Layout
//! - `lib.rs`: [`AdminState`] (the handles the endpoints read: the node once it started) and
//!   [`router`], the axum [`Router`] every endpoint is added to (the JSON admin API joins it
//!   there); [`serve`] binds the listeners and runs them until shutdown.
//! - `health`: `/livez` and `/readyz`.
//! - `metrics`: `/metrics`, the node's registry encoded by `prometheus-client` (Prometheus text
//!   format, or OpenMetrics when the scraper's `Accept` asks for it).
//! - `api`: the JSON admin API under `/api/v1` (docs/admin-api.md), a Kafka client of the
//!   node's inter-broker listener acting as its caller.
//! - `console`: the web console at `/`, its files (crates/http/console/) embedded.
//! - `schema_registry`: the schema registry (Confluent's API) on its own listeners
//!   (`schema.registry.listeners`), over the broker's `_schemas` state.
//! - `rest_proxy`: the REST proxy (Confluent's REST Proxy API v2 and v3) on its own listener
//!   (`rest.proxy.listeners`), with its own router and [`rest_proxy::serve`].
//!
//! The listener starts before the node does, so that probes see a starting node as alive and
//! not ready (and why) instead of a refused connection.
#![forbid(unsafe_code)]

pub mod api;
mod console;
mod health;
mod metrics;
pub mod rest_proxy;
pub mod schema_registry;
mod serve;
mod tls_listener;

use std::sync::{Arc, OnceLock};

use axum::routing::get;
use axum::Router;
use sluice_broker::metrics::BrokerMetrics;
use sluice_broker::Broker;
use sluice_controller::Controller;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use serve::{BindError, BoundListener, ListenerSpec, ServedOverHttps};

/// A started node's parts the endpoints read.
pub struct Node {
    pub metrics: Arc<BrokerMetrics>,
    /// `None` on a controller-only node.
    pub broker: Option<Arc<Broker>>,
    pub controller: Controller,
    /// How the JSON admin API reaches the cluster; `None` on a controller-only node.
    pub kafka: Option<api::access::KafkaAccess>,
}

/// What the endpoints are given: the node, once [`AdminState::node_started`] says it runs.
#[derive(Default)]
pub struct AdminState {
    node: OnceLock<Node>,
    /// The JSON admin API's idle cluster clients, by caller.
    clients: api::access::ClientPool,
    /// The console's logins.
    sessions: api::session::SessionStore,
    /// `console.read.only`: every state-changing API request is refused.
    read_only: bool,
    /// This node's throughput over the last hour, sampled beside the listener.
    pub throughput: api::cluster::ThroughputHistory,
    /// The lag of watched consumer groups, sampled by this node.
    lag_history: api::lag_history::LagHistory,
    /// How this node's registry reaches other nodes' `https://` registries (their CA).
    registry_tls: OnceLock<sluice_protocol::client::TlsClient>,
    /// Refused console logins lately, by user name (password guessing is throttled).
    pub(crate) login_throttle: api::session::LoginThrottle,
    /// Each listed topic's end offsets at its last listing (the topic list's message rate).
    pub(crate) topic_rates: api::topics::TopicRates,
    /// Schemas the message browser decoded records with, parsed, by id.
    pub(crate) schema_cache:
        std::sync::Mutex<std::collections::HashMap<i32, Arc<sluice_schema::ParsedSchema>>>,
}

impl AdminState {
    pub fn new() -> Arc<AdminState> {
        Arc::new(AdminState::default())
    }

    /// With `console.read.only` as configured.
    pub fn with_read_only(read_only: bool) -> Arc<AdminState> {
        Arc::new(AdminState {
            read_only,
            ..AdminState::default()
        })
    }

    /// The CA this node's registry trusts when it forwards to another node's `https://`
    /// registry (set once, at start).
    pub fn set_registry_tls(&self, tls: sluice_protocol::client::TlsClient) {
        let _ = self.registry_tls.set(tls);
    }

    pub(crate) fn registry_tls(&self) -> Option<&sluice_protocol::client::TlsClient> {
        self.registry_tls.get()
    }

    /// `console.read.only`: the API refuses every change and the console offers none.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The console's logins.
    pub fn sessions(&self) -> &api::session::SessionStore {
        &self.sessions
    }

    /// The node started (registered, unfenced once): the endpoints now read it.
    pub fn node_started(&self, node: Node) {
        let _ = self.node.set(node);
    }

    pub fn node(&self) -> Option<&Node> {
        self.node.get()
    }

    /// How the JSON admin API reaches the cluster, once the node runs a broker.
    pub fn kafka(&self) -> Option<&api::access::KafkaAccess> {
        self.node().and_then(|n| n.kafka.as_ref())
    }
}

/// Every endpoint of the admin listener.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .merge(console::routes())
        // The guard wraps the API's 404 fallback too: a write to an unknown endpoint is
        // refused for its missing CSRF token before it is found not to exist.
        .nest(
            "/api/v1",
            api::routes().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                api::write_guard::guard,
            )),
        )
        .with_state(state)
}

/// Binds every listener of `admin.listeners` and serves [`router`] on each until `shutdown`
/// turns true; returns the bound addresses (port 0 resolved) with their scheme
/// (`http://...` or `https://...`) and the serving tasks (with the throughput sampler of
/// `/api/v1/cluster/throughput`, which stops with them).
pub async fn serve(
    specs: Vec<ListenerSpec>,
    state: Arc<AdminState>,
    shutdown: watch::Receiver<bool>,
) -> Result<(Vec<String>, JoinSet<()>), BindError> {
    let bound = serve::bind("admin listener", specs).await?;
    let urls = bound.iter().map(|b| b.url.clone()).collect();
    let mut tasks = JoinSet::new();
    tasks.spawn(api::cluster::run_sampler(state.clone(), shutdown.clone()));
    tasks.spawn(api::lag_history::run(state.clone(), shutdown.clone()));
    for listener in bound {
        serve::spawn(
            &mut tasks,
            "admin listener",
            listener,
            router(state.clone()),
            shutdown.clone(),
        )?;
    }
    Ok((urls, tasks))
}
