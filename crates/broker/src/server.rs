//! The broker process: binds the listener, accepts connections, runs background work and shuts
//! everything down in order (stop accepting, let connections finish, flush and close logs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::connection;
use crate::fetch_session::FetchSessionCache;
use crate::group_coordinator::GroupService;
use crate::producer_id_manager::ProducerIdManager;
use crate::replica_manager::{AdminError, ReplicaManager};
use crate::txn_coordinator::TxnService;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the data directory: {0}")]
    Storage(String),
}

impl From<AdminError> for ServerError {
    fn from(e: AdminError) -> ServerError {
        ServerError::Storage(e.message)
    }
}

/// A running server. Dropping it does not stop it: call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    pub broker: Arc<Broker>,
    shutdown_tx: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Opens the logs, binds the listener and starts serving.
pub async fn start(config: BrokerConfig) -> Result<ServerHandle, ServerError> {
    let addr = config.listener();
    let (replicas, groups, txns) = tokio::task::spawn_blocking(move || {
        let replicas = ReplicaManager::open(config)?;
        let groups = GroupService::open(&replicas)?;
        let txns = TxnService::open(&replicas)?;
        Ok::<_, AdminError>((replicas, groups, txns))
    })
    .await
    .map_err(|e| ServerError::Storage(e.to_string()))??;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let (host, port) = replicas.config().advertised(local_addr);
    let producer_ids = ProducerIdManager::open(&replicas.config().log_dir())
        .map_err(|e| ServerError::Storage(e.to_string()))?;
    let groups = Arc::new(groups);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let broker = Arc::new(Broker {
        node_id: replicas.config().node_id(),
        advertised_host: host,
        advertised_port: port,
        fetch_sessions: FetchSessionCache::new(replicas.config().fetch_session_cache_slots()),
        producer_ids,
        groups: groups.clone(),
        txns,
        replicas,
        shutdown: shutdown_rx.clone(),
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(accept_loop(broker.clone(), listener, shutdown_rx.clone()));
    tasks.spawn(crate::txn_coordinator::run_timer(
        broker.clone(),
        shutdown_rx.clone(),
        broker.config().txn_timeout_check_interval_ms(),
    ));
    tasks.spawn(crate::group_coordinator::run_timers(
        groups,
        shutdown_rx.clone(),
        broker.config().offsets_retention_check_interval_ms(),
    ));
    tasks.spawn(periodic(
        broker.clone(),
        shutdown_rx.clone(),
        broker.config().retention_check_interval_ms(),
        |b| b.replicas.apply_retention(),
    ));
    if broker.config().cleaner_enable() {
        tasks.spawn(periodic(
            broker.clone(),
            shutdown_rx.clone(),
            broker.config().cleaner_backoff_ms(),
            |b| b.replicas.clean_compacted(),
        ));
    }
    tasks.spawn(periodic(
        broker.clone(),
        shutdown_rx,
        broker.config().flush_scheduler_interval_ms(),
        |b| b.replicas.flush_due(),
    ));
    tracing::info!(
        "sluice node {} listening on {} (advertised as {}:{}), data in {}",
        broker.node_id,
        local_addr,
        broker.advertised_host,
        broker.advertised_port,
        broker.config().log_dir().display()
    );
    Ok(ServerHandle {
        local_addr,
        broker,
        shutdown_tx,
        tasks,
    })
}

impl ServerHandle {
    /// Stops accepting, waits (bounded) for connections to finish their requests, then flushes
    /// and closes every log.
    pub async fn shutdown(mut self) {
        tracing::info!("shutting down");
        let _ = self.shutdown_tx.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("some tasks did not stop within 10 s; aborting them");
            self.tasks.abort_all();
        }
        let broker = self.broker.clone();
        let _ = tokio::task::spawn_blocking(move || broker.replicas.close()).await;
        tracing::info!("stopped");
    }
}

async fn accept_loop(
    broker: Arc<Broker>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(broker.config().max_connections()));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    tracing::warn!("refusing connection from {peer}: max.connections reached");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    connection::serve(broker, stream, peer, shutdown).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn periodic(
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
    interval_ms: u64,
    work: fn(&Broker),
) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || work(&b)).await;
            }
        }
    }
}
