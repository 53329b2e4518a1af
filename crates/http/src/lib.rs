//! sluice-http: the node's HTTP services on the admin listener (`admin.listeners`, default
//! `http://127.0.0.1:9644`): Prometheus `/metrics`, `/livez` and `/readyz`, at the root.
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
//!
//! The listener starts before the node does, so that probes see a starting node as alive and
//! not ready (and why) instead of a refused connection.
#![forbid(unsafe_code)]

pub mod api;
mod health;
mod metrics;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::routing::get;
use axum::Router;
use sluice_broker::metrics::BrokerMetrics;
use sluice_broker::Broker;
use sluice_controller::Controller;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

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
}

impl AdminState {
    pub fn new() -> Arc<AdminState> {
        Arc::new(AdminState::default())
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
        .nest("/api/v1", api::routes())
        .with_state(state)
}

#[derive(Debug, thiserror::Error)]
#[error("admin listener: cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Binds every address of `admin.listeners` and serves [`router`] on each until `shutdown`
/// turns true; returns the bound addresses (port 0 resolved) and the serving tasks.
pub async fn serve(
    addrs: &[SocketAddr],
    state: Arc<AdminState>,
    shutdown: watch::Receiver<bool>,
) -> Result<(Vec<SocketAddr>, JoinSet<()>), BindError> {
    let mut bound = Vec::with_capacity(addrs.len());
    let mut listeners = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| BindError { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| BindError { addr, source })?;
        bound.push(local);
        listeners.push(listener);
    }
    let mut tasks = JoinSet::new();
    for listener in listeners {
        let app = router(state.clone());
        let mut shutdown = shutdown.clone();
        tasks.spawn(async move {
            let stopped = async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!("admin listener stopped: {e}");
            }
        });
    }
    Ok((bound, tasks))
}
