//! The broker process: binds the listeners, accepts connections, runs background work and shuts
//! everything down in order (stop accepting, let connections finish, flush and close logs).
//! `listeners`: each client listener's socket, TLS and SASL. `metrics_collector`: gauges
//! computed at scrape time (with the coordinators' consumer lag).

mod audit_topic;
mod connection_quotas;
mod controller_transport;
mod listeners;

pub use crate::config::tls_server;
pub use listeners::{reload_certificates, CERT_RELOAD_INTERVAL};
mod metrics_collector;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use sluice_controller::{Controller, ListenerEndpoint};
use sluice_security::audit::AuditLog;

use crate::apis::KafkaApis;
use crate::broker::Broker;
use crate::cluster::{
    cluster_id, controller_config, Authorization, Cluster, MetadataPublisher, ProducerIdManager,
    Replication, TopicAdmin,
};
use crate::config::{BrokerConfig, BrokerSettings, SecurityProtocol};
use crate::coordinators::{
    follow_leadership, ConsumerLag, GroupService, InternalTopics, MarkerWriter, SchemaService,
    TxnService,
};
use crate::metrics::BrokerMetrics;
use crate::replicas::{AdminError, FetchSessionCache, ReplicaManager};
use controller_transport::SecureControllerTransport;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the data directory: {0}")]
    Storage(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("controller: {0}")]
    Controller(String),
}

impl From<AdminError> for ServerError {
    fn from(e: AdminError) -> ServerError {
        ServerError::Storage(e.message)
    }
}

/// A running node. Dropping it does not stop it: call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    /// The first client listener's address (the controller listener's on a controller-only
    /// node).
    pub local_addr: SocketAddr,
    /// Every client listener's bound address, by name (upper case).
    pub listener_addrs: Vec<(String, SocketAddr)>,
    /// `None` on a controller-only node (`process.roles=controller`).
    pub broker: Option<Arc<Broker>>,
    pub controller: Controller,
    /// The node's metrics registry (`/metrics`).
    pub metrics: Arc<BrokerMetrics>,
    shutdown_tx: watch::Sender<bool>,
    /// Set when the node cannot go on (see [`ServerHandle::fatal`]).
    fatal: watch::Receiver<Option<String>>,
    tasks: JoinSet<()>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Listeners bound before the node starts (an in-process test cluster binds every node's
/// ports first, so that each node's config can name the others' and no port is raced for).
/// `None`: bind the configured address.
#[derive(Default)]
pub struct Listeners {
    pub client: Option<std::net::TcpListener>,
    pub controller: Option<std::net::TcpListener>,
    /// The node's HTTP services' URLs, by name, for the broker's registration (the schema
    /// registry's, which other nodes forward writes to).
    pub http_endpoints: std::collections::BTreeMap<String, String>,
}

/// `listener` if given (made non-blocking for tokio), else a new one bound to `addr`.
async fn bound_or_bind(
    listener: Option<std::net::TcpListener>,
    addr: SocketAddr,
) -> Result<TcpListener, ServerError> {
    match listener {
        None => bind(addr).await,
        Some(l) => l
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(l))
            .map_err(|source| ServerError::Bind { addr, source }),
    }
}

/// Starts the controller quorum member and, unless the node is controller-only, the broker:
/// registers it, opens its logs as the metadata assigns them, loads the coordinators and
/// starts serving clients.
pub async fn start(config: BrokerConfig) -> Result<ServerHandle, ServerError> {
    start_with_listeners(config, Listeners::default()).await
}

/// [`start`] on listeners the caller bound already.
pub async fn start_with_listeners(
    config: BrokerConfig,
    listeners: Listeners,
) -> Result<ServerHandle, ServerError> {
    let settings = {
        let mut s = BrokerSettings::new(&config).map_err(|e| ServerError::Config(e.to_string()))?;
        s.http_endpoints = listeners.http_endpoints.clone();
        Arc::new(s)
    };
    let roles = settings.process_roles;
    let cluster_id = {
        let s = settings.clone();
        tokio::task::spawn_blocking(move || cluster_id(&s))
            .await
            .map_err(|e| ServerError::Storage(e.to_string()))?
            .map_err(ServerError::Storage)?
    };
    // A standalone node's controller listener only needs to exist: loopback, any port.
    let controller_addr = settings
        .controller_listener
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let controller_listener = bound_or_bind(listeners.controller, controller_addr).await?;
    let controller_bound =
        controller_listener
            .local_addr()
            .map_err(|source| ServerError::Bind {
                addr: controller_addr,
                source,
            })?;
    let mut config = controller_config(&settings, controller_bound, &cluster_id);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // The ACLs (and the audit log) serve the controller listener and the client listeners.
    // With audit.topic.enabled the lines also go to the audit topic (a broker task).
    let (audit_sink, audit_lines) = if settings.audit.enabled && settings.audit.topic_enabled {
        let (tx, rx) = tokio::sync::mpsc::channel(audit_topic::CHANNEL_CAPACITY);
        let sink: sluice_security::audit::AuditSink = Box::new(move |line: &[u8]| {
            let _ = tx.try_send(line.to_vec());
        });
        (Some(sink), Some(rx))
    } else {
        (None, None)
    };
    let audit = AuditLog::start(&settings.audit, &settings.log_dir, audit_sink)
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let authorization = Arc::new(Authorization::new(
        settings.authorizer_enabled,
        settings.authorizer.clone(),
        audit,
    ));
    let mut controller_resolvers = Vec::new();
    if let Some(l) = settings.listeners.iter().find(|l| l.is_controller) {
        if l.protocol != SecurityProtocol::Plaintext {
            let mut decoy_secret = [0u8; 32];
            getrandom::fill(&mut decoy_secret)
                .map_err(|e| ServerError::Config(format!("no random bytes: {e}")))?;
            let transport =
                SecureControllerTransport::new(&settings, l, decoy_secret, authorization.clone())?;
            if let Some(tls) = transport.tls() {
                controller_resolvers.push((l.name().to_string(), tls.resolver()));
            }
            config.transport = Arc::new(transport);
        }
    }
    let controller = Controller::start_with_listener(config, controller_listener)
        .await
        .map_err(|e| ServerError::Controller(e.to_string()))?;
    let metrics = Arc::new(BrokerMetrics::with_quota_window(settings.quota_window));
    metrics.register_collector(Box::new(metrics_collector::QuorumCollector {
        controller: controller.clone(),
        controller_counts: !roles.is_broker(),
    }));
    // The controller listener's certificate reloads as the client listeners' do.
    let reload_controller_certificate = |tasks: &mut JoinSet<()>| {
        if !controller_resolvers.is_empty() {
            tasks.spawn(listeners::reload_certificates(
                controller_resolvers.clone(),
                shutdown_rx.clone(),
            ));
        }
    };
    let (fatal_tx, fatal) = watch::channel(None);
    if !roles.is_broker() {
        let mut tasks = JoinSet::new();
        reload_controller_certificate(&mut tasks);
        tasks.spawn(watch_for_fatal_failures(
            controller.clone(),
            None,
            fatal_tx,
            shutdown_rx.clone(),
        ));
        tracing::info!(
            "sluice node {} (controller only) listening on {controller_bound}",
            settings.node_id
        );
        return Ok(ServerHandle {
            local_addr: controller_bound,
            listener_addrs: Vec::new(),
            broker: None,
            controller,
            metrics,
            shutdown_tx,
            fatal,
            tasks,
        });
    }
    match start_broker(
        settings,
        authorization,
        audit_lines,
        cluster_id,
        NodeParts {
            controller: controller.clone(),
            metrics: metrics.clone(),
        },
        shutdown_rx.clone(),
        listeners.client,
    )
    .await
    {
        Ok((listener_addrs, broker, mut tasks)) => {
            reload_controller_certificate(&mut tasks);
            tasks.spawn(watch_for_fatal_failures(
                controller.clone(),
                Some(broker.clone()),
                fatal_tx,
                shutdown_rx.clone(),
            ));
            Ok(ServerHandle {
                local_addr: listener_addrs[0].1,
                listener_addrs,
                broker: Some(broker),
                controller,
                metrics,
                shutdown_tx,
                fatal,
                tasks,
            })
        }
        Err(e) => {
            let _ = controller.shutdown().await;
            Err(e)
        }
    }
}

/// What the node made before its broker starts: the quorum member and the metrics registry.
struct NodeParts {
    controller: Controller,
    metrics: Arc<BrokerMetrics>,
}

async fn start_broker(
    settings: Arc<BrokerSettings>,
    authorization: Arc<Authorization>,
    audit_lines: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    cluster_id: String,
    node: NodeParts,
    shutdown_rx: watch::Receiver<bool>,
    client_listener: Option<std::net::TcpListener>,
) -> Result<(Vec<(String, SocketAddr)>, Arc<Broker>, JoinSet<()>), ServerError> {
    let NodeParts {
        controller,
        metrics,
    } = node;
    let decoy_secret = listeners::decoy_secret()?;
    let client_listeners = listeners::open(
        &settings,
        client_listener,
        authorization.clone(),
        decoy_secret,
    )
    .await?;
    let endpoints: Vec<ListenerEndpoint> = client_listeners
        .iter()
        .map(|l| {
            let (host, port) = l.settings.advertised(l.local_addr);
            ListenerEndpoint {
                name: l.settings.name().to_string(),
                host,
                port,
                security_protocol: l.settings.protocol as i16,
            }
        })
        .collect();
    let listener_addrs: Vec<(String, SocketAddr)> = client_listeners
        .iter()
        .map(|l| (l.settings.name().to_string(), l.local_addr))
        .collect();
    let (host, port) = (endpoints[0].host.clone(), endpoints[0].port);
    let broker_endpoints: Vec<(String, u16)> =
        endpoints.iter().map(|e| (e.host.clone(), e.port)).collect();
    let inter_broker = endpoints
        .iter()
        .find(|e| e.name == settings.inter_broker_listener)
        .unwrap_or(&endpoints[0])
        .clone();
    let static_endpoints = (inter_broker.clone(), endpoints.clone());
    // Registration first: a broker whose log dir belongs to another cluster is refused
    // (INCONSISTENT_CLUSTER_ID) before anything in it is read or changed.
    let cluster = Arc::new(
        Cluster::register(
            controller,
            &settings,
            cluster_id,
            inter_broker,
            endpoints,
            listeners::peer_security(&settings)?,
            authorization.clone(),
        )
        .await
        .map_err(ServerError::Controller)?,
    );
    let replicas = Arc::new(ReplicaManager::with_metrics(
        settings.clone(),
        metrics.clone(),
    )?);
    cluster
        .wait_for_own_registration()
        .await
        .map_err(ServerError::Controller)?;
    let publisher = MetadataPublisher::new(cluster.clone(), replicas.clone());
    let admin = Arc::new(TopicAdmin::new(
        cluster.clone(),
        replicas.clone(),
        publisher.clone(),
        settings.clone(),
    ));
    admin.migrate_legacy_topics().await?;
    publisher.publish_latest().await;
    cluster
        .wait_until_unfenced(&replicas)
        .await
        .map_err(ServerError::Controller)?;
    cluster.wait_for_own_leaders().await;
    publisher.publish_latest().await;

    let internal_topics = Arc::new(InternalTopics::new(
        cluster.clone(),
        replicas.clone(),
        admin.clone(),
        settings.clone(),
    ));
    // Spawned with the other tasks below.
    let audit_topic_task = audit_lines.map(|lines| {
        audit_topic::run(
            lines,
            cluster.clone(),
            admin.clone(),
            settings.clone(),
            shutdown_rx.clone(),
        )
    });
    let offsets = internal_topics.ensure_offsets_topic().await?;
    let txn_state = internal_topics.ensure_txn_state_topic().await?;
    // Subscribed before the coordinators read who leads what: no change falls in between.
    let changes_rx = publisher.subscribe_leadership();
    let partitions_of = |topic: Option<Arc<crate::replicas::Topic>>, configured: i32| {
        topic.map_or(configured, |t| t.partitions.len() as i32)
    };
    let (group, txn) = (&settings.group.coordinator, &settings.txn.coordinator);
    let groups = Arc::new(GroupService::new(
        replicas.clone(),
        group.clone(),
        partitions_of(offsets, group.num_partitions),
        shutdown_rx.clone(),
    ));
    let txns = Arc::new(TxnService::new(
        replicas.clone(),
        MarkerWriter::new(cluster.clone(), replicas.clone(), groups.clone()),
        txn.clone(),
        partitions_of(txn_state, txn.num_partitions),
        shutdown_rx.clone(),
    ));
    let schemas = Arc::new(SchemaService::new(
        replicas.clone(),
        cluster.clone(),
        internal_topics.clone(),
        settings.schema_compatibility_level,
        shutdown_rx.clone(),
    ));
    groups.load_led().await;
    txns.load_led().await;
    schemas.load_led().await;
    let producer_ids = ProducerIdManager::open(cluster.clone(), &settings.log_dir)
        .map_err(|e| ServerError::Storage(e.to_string()))?;
    let replication = Replication::new(
        cluster.clone(),
        replicas.clone(),
        publisher.clone(),
        settings.replication.clone(),
        shutdown_rx.clone(),
    );
    let apis = Arc::new(KafkaApis {
        settings: settings.clone(),
        replicas: replicas.clone(),
        cluster: cluster.clone(),
        publisher: publisher.clone(),
        admin,
        replication: replication.clone(),
        fetch_sessions: FetchSessionCache::new(settings.fetch_session_cache_slots),
        producer_ids,
        groups: groups.clone(),
        txns: txns.clone(),
        schemas: schemas.clone(),
        shutdown: shutdown_rx.clone(),
    });
    metrics.register_collector(Box::new(metrics_collector::BrokerCollector {
        replicas: Arc::downgrade(&replicas),
        cluster: Arc::downgrade(&cluster),
    }));
    let consumer_lag = Arc::new(ConsumerLag::new(
        Arc::downgrade(&replicas),
        Arc::downgrade(&cluster),
        Arc::downgrade(&groups),
    ));
    metrics.register_collector(Box::new(consumer_lag.clone()));
    let broker = Arc::new(Broker {
        node_id: settings.node_id,
        advertised_host: host,
        advertised_port: port,
        settings: settings.clone(),
        replicas: replicas.clone(),
        cluster: cluster.clone(),
        apis: apis.clone(),
        metrics,
        consumer_lag,
        schemas: schemas.clone(),
    });

    let mut tasks = JoinSet::new();
    tasks.spawn(replication.clone().run_isr_shrinker());
    tasks.spawn(replication.clone().run_fetcher_supervisor());
    tasks.spawn(publisher.run(shutdown_rx.clone()));
    tasks.spawn(follow_leadership(
        groups.clone(),
        txns.clone(),
        schemas.clone(),
        changes_rx,
        shutdown_rx.clone(),
    ));
    tasks.spawn(crate::cluster::run_heartbeats(
        cluster.clone(),
        replicas.clone(),
        Duration::from_millis(settings.broker_heartbeat_interval_ms),
        shutdown_rx.clone(),
    ));
    if internal_topics.missing() {
        tasks.spawn(internal_topics.create_when_possible(shutdown_rx.clone()));
    }
    if let Some(task) = audit_topic_task {
        tasks.spawn(task);
    }
    let quotas = Arc::new(connection_quotas::ConnectionQuotas::new(
        settings.quota_window,
    ));
    let jwks: Vec<_> = client_listeners
        .iter()
        .filter_map(|l| {
            let cache = l.context.sasl.as_ref()?.jwks()?;
            Some((l.settings.name().to_string(), cache))
        })
        .collect();
    if !jwks.is_empty() {
        tasks.spawn(listeners::refresh_jwks(jwks, shutdown_rx.clone()));
    }
    // Each listener of the config file but the inter-broker one may be removed dynamically:
    // it stops on its own signal, which the node's shutdown also gives.
    let mut static_stops = BTreeMap::new();
    let mut stop_receivers = BTreeMap::new();
    for l in &client_listeners {
        let name = l.settings.name().to_string();
        if name != settings.inter_broker_listener {
            let (stop, stopped) = watch::channel(false);
            static_stops.insert(name.clone(), Arc::new(stop));
            stop_receivers.insert(name, stopped);
        }
    }
    let forward: Vec<Arc<watch::Sender<bool>>> = static_stops.values().cloned().collect();
    let mut global = shutdown_rx.clone();
    tasks.spawn(async move {
        let _ = global.wait_for(|stop| *stop).await;
        for stop in forward {
            stop.send_replace(true);
        }
    });
    tasks.spawn(listeners::supervise_listeners(
        listeners::ListenerSupervisorParts {
            static_stops,
            static_tls: client_listeners
                .iter()
                .filter_map(|l| l.tls.clone())
                .collect(),
            apis: apis.clone(),
            quotas: quotas.clone(),
            cluster: cluster.clone(),
            replicas: replicas.clone(),
            authorization: authorization.clone(),
            decoy_secret,
            inter_broker: static_endpoints.0,
            static_endpoints: static_endpoints.1,
        },
        shutdown_rx.clone(),
    ));
    // As in Kafka, the inter-broker listener is not held to max.connections when there are
    // others (clients cannot lock replication out); a node's only listener is.
    let several = client_listeners.len() > 1;
    for listener in client_listeners {
        let protected = several
            && listener
                .settings
                .name()
                .eq_ignore_ascii_case(&settings.inter_broker_listener);
        let stop = stop_receivers
            .remove(listener.settings.name())
            .unwrap_or_else(|| shutdown_rx.clone());
        tasks.spawn(listeners::accept_loop(
            apis.clone(),
            quotas.clone(),
            listener,
            protected,
            stop,
        ));
    }
    tasks.spawn(txns.run_timer(
        shutdown_rx.clone(),
        settings.txn.abort_timed_out_transaction_cleanup_interval_ms,
    ));
    tasks.spawn(groups.run_timers(
        shutdown_rx.clone(),
        settings.group.offsets_retention_check_interval_ms,
    ));
    tasks.spawn(periodic(
        replicas.clone(),
        shutdown_rx.clone(),
        settings.log_retention_check_interval_ms,
        ReplicaManager::apply_retention,
    ));
    if settings.log_cleaner_enable {
        tasks.spawn(clean_compacted(replicas.clone(), shutdown_rx.clone()));
    }
    tasks.spawn(periodic(
        replicas.clone(),
        shutdown_rx.clone(),
        settings.log_flush_scheduler_interval_ms,
        ReplicaManager::flush_due,
    ));
    tasks.spawn(periodic(
        replicas,
        shutdown_rx,
        settings.replica_high_watermark_checkpoint_interval_ms,
        ReplicaManager::checkpoint_high_watermarks,
    ));
    for ((name, addr), endpoint) in listener_addrs.iter().zip(&broker_endpoints) {
        tracing::info!(
            "sluice node {} listener {name} listening on {addr} (advertised as {}:{})",
            broker.node_id,
            endpoint.0,
            endpoint.1,
        );
    }
    tracing::info!(
        "sluice node {} serving, data in {}",
        broker.node_id,
        settings.log_dir.display()
    );
    Ok((listener_addrs, broker, tasks))
}

/// How a program in the node (the admin HTTP API) reaches the node's own inter-broker
/// listener as a Kafka client.
#[derive(Debug, Clone)]
pub struct OwnListener {
    /// `host:port` the node advertises for the listener.
    pub addr: String,
    /// TLS as the node connects to its peers (its trust store); `None`: no TLS.
    pub tls: Option<sluice_protocol::client::TlsClient>,
    /// The listener's enabled SASL mechanisms (empty: no SASL).
    pub sasl_mechanisms: Vec<String>,
}

/// How often the node checks for a failure it cannot go on after.
const FATAL_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Watches for failures the node cannot serve through, and reports the first in `fatal`: the
/// log directory holding the metadata log went offline (KIP-858: the broker shuts down, unlike
/// for any other directory), or the controller quorum member's Raft log failed (a storage
/// error stops openraft). The node's owner then shuts it down.
async fn watch_for_fatal_failures(
    controller: Controller,
    broker: Option<Arc<Broker>>,
    fatal: watch::Sender<Option<String>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(FATAL_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let why = broker
            .as_ref()
            .and_then(|b| metadata_dir_failure(&b.settings, b.replicas.log_dirs()))
            .or_else(|| {
                controller
                    .failure()
                    .map(|e| format!("the controller's metadata log failed: {e}"))
            });
        if let Some(why) = why {
            tracing::error!("{why}: shutting down");
            fatal.send_replace(Some(why));
            return;
        }
    }
}

/// Why the node must stop if the log directory holding the metadata log
/// (`metadata.log.dir`, by default under the first of `log.dirs`) is offline.
fn metadata_dir_failure(
    settings: &BrokerSettings,
    dirs: &crate::replicas::LogDirs,
) -> Option<String> {
    let metadata = std::path::absolute(&settings.metadata_log_dir)
        .unwrap_or_else(|_| settings.metadata_log_dir.clone());
    dirs.iter()
        .find(|d| d.is_offline() && metadata.starts_with(d.absolute_path()))
        .map(|d| {
            format!(
                "log directory {} failed and it holds the metadata log ({})",
                d.path.display(),
                settings.metadata_log_dir.display()
            )
        })
}

impl ServerHandle {
    /// Completes with the reason when the node hit a failure it cannot serve through (the
    /// metadata log's directory or the controller's log failed); its owner should then shut it
    /// down and exit with an error, as Kafka does. Never completes otherwise.
    pub async fn fatal(&self) -> String {
        let mut fatal = self.fatal.clone();
        loop {
            if let Some(why) = fatal.borrow_and_update().clone() {
                return why;
            }
            if fatal.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The node's inter-broker listener, for a client inside the node; `None` on a
    /// controller-only node.
    pub fn own_listener(&self) -> Result<Option<OwnListener>, ServerError> {
        let Some(broker) = &self.broker else {
            return Ok(None);
        };
        let settings = &broker.settings;
        let Some(l) = settings.listener(&settings.inter_broker_listener) else {
            return Ok(None);
        };
        let Some(bound) = self
            .listener_addrs
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(l.name()))
            .map(|(_, addr)| *addr)
        else {
            return Ok(None);
        };
        let (host, port) = l.advertised(bound);
        let sasl_mechanisms = if l.protocol.uses_sasl() {
            l.sasl.enabled_mechanisms.clone()
        } else {
            Vec::new()
        };
        Ok(Some(OwnListener {
            addr: host_port(&host, port),
            tls: listeners::client_tls(l)?,
            sasl_mechanisms,
        }))
    }

    /// Stops the node: a broker first asks the controller for a controlled shutdown (leadership
    /// moves to other replicas), stops accepting, waits (bounded) for connections to finish
    /// their requests, then flushes and closes every log; the controller stops last.
    pub async fn shutdown(mut self) {
        tracing::info!("shutting down");
        if let Some(broker) = &self.broker {
            broker
                .cluster
                .controlled_shutdown(&broker.replicas, Duration::from_secs(5))
                .await;
        }
        let _ = self.shutdown_tx.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("some tasks did not stop within 10 s; aborting them");
            self.tasks.abort_all();
        }
        if let Some(broker) = self.broker.clone() {
            let _ = tokio::task::spawn_blocking(move || broker.replicas.close()).await;
        }
        if let Err(e) = self.controller.shutdown().await {
            tracing::warn!("controller shutdown: {e}");
        }
        tracing::info!("stopped");
    }
}

/// Runs `work` on the replicas every `interval_ms`, on the blocking pool, until shutdown.
async fn periodic(
    replicas: Arc<ReplicaManager>,
    mut shutdown: watch::Receiver<bool>,
    interval_ms: u64,
    work: fn(&ReplicaManager),
) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {
                let r = replicas.clone();
                let _ = tokio::task::spawn_blocking(move || work(&r)).await;
            }
        }
    }
}

/// Cleans the compacted partitions, pausing `log.cleaner.backoff.ms` between passes: the
/// broker's live value, so a dynamic change applies from the next pause.
async fn clean_compacted(replicas: Arc<ReplicaManager>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let pause = Duration::from_millis(replicas.live_config().log_cleaner_backoff_ms.max(1));
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tokio::time::sleep(pause) => {
                let r = replicas.clone();
                let _ = tokio::task::spawn_blocking(move || r.clean_compacted()).await;
            }
        }
    }
}

/// `host:port`, with brackets around an IPv6 host.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
