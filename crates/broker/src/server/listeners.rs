//! The broker's client listeners: one bound socket per listener of `listeners` (the
//! controller's are the quorum's), its TLS acceptor on SSL and SASL_SSL listeners, the SASL
//! authenticator on SASL ones, and the accept loop that starts each connection's session.
//!
//! TLS: the key store is served through a [`ReloadingCertResolver`]; every
//! [`CERT_RELOAD_INTERVAL`] the broker checks the key store files and serves a replaced
//! certificate to new connections, without a restart and without touching open connections.
//! A client certificate (mTLS, `ssl.client.auth`) names the connection's principal through
//! `ssl.principal.mapping.rules`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sluice_protocol::client::{ClientSecurity, SaslLogin, TlsClient};
use sluice_security::tls::{subject_dn, PrincipalMapper, ReloadingCertResolver};
use sluice_security::{JaasConfig, KafkaPrincipal, ScramMechanism};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::connection_quotas::ConnectionQuotas;
use super::ServerError;
use crate::apis::{connection, KafkaApis, ListenerContext, SaslAuthenticator, Session};
use crate::cluster::{Authorization, Cluster};
use crate::config::{
    dynamic_listener_settings, is_listener_connection_limit, tls_server, tls_server_replacing,
    BrokerSettings, ListenerSettings, LiveBrokerConfig, SslSettings, LISTENER_RELOADABLE,
};
use crate::replicas::ReplicaManager;
use sluice_controller::ListenerEndpoint;

/// How often key store files are checked for a new certificate.
pub const CERT_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// The read buffer under a TLS connection.
const TLS_READ_BUFFER: usize = 256 * 1024;

/// How long a client has to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener's TLS side. Its key store and trust store may be replaced while it runs (a
/// broker's dynamic `listener.name.<listener>.ssl.keystore.*` / `ssl.truststore.*` configs,
/// see [`ListenerTls::reconfigure`]): new connections get the new ones, open ones keep theirs.
pub struct ListenerTls {
    /// The listener's name and its `ssl.*` settings from the config file.
    name: String,
    base: SslSettings,
    state: RwLock<TlsState>,
    mapper: PrincipalMapper,
}

/// What a listener's TLS side serves now.
struct TlsState {
    acceptor: tokio_rustls::TlsAcceptor,
    resolver: Arc<ReloadingCertResolver>,
    /// The dynamic key store / trust store keys it was built with (none: the file's).
    overrides: BTreeMap<String, String>,
    /// Dynamic keys that did not load; not tried again until they change.
    refused: Option<BTreeMap<String, String>>,
}

/// What [`ListenerTls::refresh`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum TlsRefresh {
    Unchanged,
    /// The key store file changed and its new certificate is served.
    Reloaded,
    /// The dynamic configs named other stores, and they are served.
    Reconfigured,
}

/// One open client listener.
pub struct ClientListener {
    pub settings: ListenerSettings,
    pub socket: TcpListener,
    pub local_addr: SocketAddr,
    pub context: Arc<ListenerContext>,
    pub tls: Option<Arc<ListenerTls>>,
}

fn config_error(listener: &ListenerSettings, e: impl std::fmt::Display) -> ServerError {
    ServerError::Config(format!("listener {}: {e}", listener.name()))
}

/// The TLS side of an SSL or SASL_SSL listener, from its `ssl.*` settings.
pub(super) fn listener_tls(l: &ListenerSettings) -> Result<ListenerTls, ServerError> {
    let (config, resolver) = tls_server(&l.ssl).map_err(|e| config_error(l, e))?;
    let mapper =
        PrincipalMapper::parse(&l.ssl.principal_mapping_rules).map_err(|e| config_error(l, e))?;
    Ok(ListenerTls {
        name: l.name().to_string(),
        base: l.ssl.clone(),
        state: RwLock::new(TlsState {
            acceptor: tokio_rustls::TlsAcceptor::from(config),
            resolver,
            overrides: BTreeMap::new(),
            refused: None,
        }),
        mapper,
    })
}

async fn bind(
    prebound: Option<std::net::TcpListener>,
    l: &ListenerSettings,
) -> Result<(TcpListener, SocketAddr), ServerError> {
    let addr = l.listener.bind_address().map_err(ServerError::Config)?;
    let socket = match prebound {
        Some(s) => s
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(s))
            .map_err(|source| ServerError::Bind { addr, source })?,
        None => TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?,
    };
    let local = socket
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    Ok((socket, local))
}

/// A broker's secret for the SCRAM answers to unknown users: one for all its listeners, so
/// that comparing listeners tells nothing about which users exist.
pub fn decoy_secret() -> Result<[u8; 32], ServerError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| ServerError::Config(format!("no random bytes: {e}")))?;
    Ok(secret)
}

/// Opens every client listener. `prebound`: the socket of the first client listener, bound
/// by the caller (an in-process test cluster).
pub async fn open(
    settings: &BrokerSettings,
    mut prebound: Option<std::net::TcpListener>,
    authorization: Arc<Authorization>,
    decoy_secret: [u8; 32],
) -> Result<Vec<ClientListener>, ServerError> {
    let mut out = Vec::new();
    for l in settings.client_listeners() {
        out.push(
            open_listener(
                settings,
                l,
                prebound.take(),
                authorization.clone(),
                decoy_secret,
            )
            .await?,
        );
    }
    if out.is_empty() {
        return Err(ServerError::Config(
            "listeners names no client listener".into(),
        ));
    }
    Ok(out)
}

/// Opens one client listener: its TLS side, its SASL authenticator (the first JWKS fetch of
/// an OAUTHBEARER one), its socket.
pub async fn open_listener(
    settings: &BrokerSettings,
    l: &ListenerSettings,
    prebound: Option<std::net::TcpListener>,
    authorization: Arc<Authorization>,
    decoy_secret: [u8; 32],
) -> Result<ClientListener, ServerError> {
    let tls = if l.protocol.uses_tls() {
        Some(Arc::new(listener_tls(l)?))
    } else {
        None
    };
    let sasl = if l.protocol.uses_sasl() {
        let delay = Duration::from_millis(settings.failed_authentication_delay_ms);
        let sasl = SaslAuthenticator::new(l, decoy_secret, delay).map_err(ServerError::Config)?;
        if let Some(jwks) = sasl.jwks() {
            // The first fetch before serving; a failure is retried by the refresher.
            let name = l.name().to_string();
            let fetched = tokio::task::spawn_blocking(move || {
                jwks.refresh_now(sluice_security::oauthbearer::unix_now_ms())
            })
            .await;
            if let Ok(Err(e)) = fetched {
                tracing::warn!("listener {name}: OAUTHBEARER keys not fetched yet: {e}");
            }
        }
        Some(sasl)
    } else {
        None
    };
    let (socket, local_addr) = bind(prebound, l).await?;
    Ok(ClientListener {
        context: Arc::new(ListenerContext {
            name: l.name().to_string(),
            protocol: l.protocol,
            sasl,
            authorization,
        }),
        settings: l.clone(),
        socket,
        local_addr,
        tls,
    })
}

/// Checks the TLS listeners' key stores every [`CERT_RELOAD_INTERVAL`] until shutdown.
pub async fn reload_certificates(
    resolvers: Vec<(String, Arc<ReloadingCertResolver>)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CERT_RELOAD_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        for (name, resolver) in &resolvers {
            let r = resolver.clone();
            match tokio::task::spawn_blocking(move || r.reload_if_changed()).await {
                Ok(Ok(true)) => tracing::info!("listener {name}: serving the new certificate"),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    tracing::warn!("listener {name}: the key store changed but does not load, keeping the old certificate: {e}")
                }
                Err(e) => tracing::warn!("listener {name}: certificate check failed: {e}"),
            }
        }
    }
}

/// Brings each of `listeners`' TLS sides up to date with the live config's key and trust
/// stores for it, or with its key store file replaced on disk (see [`ListenerTls::refresh`]).
async fn refresh_tls_sides(listeners: &[Arc<ListenerTls>], live: &LiveBrokerConfig) {
    for tls in listeners {
        let overrides = live.listener_tls_overrides(&tls.name);
        let t = tls.clone();
        let name = &tls.name;
        match tokio::task::spawn_blocking(move || t.refresh(overrides)).await {
            Ok(Ok(TlsRefresh::Unchanged)) => {}
            Ok(Ok(TlsRefresh::Reloaded)) => {
                tracing::info!("listener {name}: serving the new certificate")
            }
            Ok(Ok(TlsRefresh::Reconfigured)) => tracing::info!(
                "listener {name}: serving the key store and trust store of the dynamic configs"
            ),
            Ok(Err(e)) => tracing::warn!("listener {name}: keeping the served certificate: {e}"),
            Err(e) => tracing::warn!("listener {name}: certificate check failed: {e}"),
        }
    }
}

/// What [`supervise_listeners`] needs from the broker.
pub struct ListenerSupervisorParts {
    pub apis: Arc<KafkaApis>,
    pub quotas: Arc<ConnectionQuotas>,
    pub cluster: Arc<Cluster>,
    pub replicas: Arc<ReplicaManager>,
    pub authorization: Arc<Authorization>,
    pub decoy_secret: [u8; 32],
    /// The inter-broker listener's endpoint and those of the listeners of the config file.
    pub inter_broker: ListenerEndpoint,
    pub static_endpoints: Vec<ListenerEndpoint>,
    /// What stops each listener of the config file but the inter-broker one.
    pub static_stops: BTreeMap<String, Arc<watch::Sender<bool>>>,
    /// The TLS sides of the config file's listeners.
    pub static_tls: Vec<Arc<ListenerTls>>,
}

/// Keeps the broker's client listeners as its dynamic configs say, until shutdown. TLS: at once
/// when the dynamic configs name another key or trust store for a listener, and every
/// [`CERT_RELOAD_INTERVAL`] for key store files replaced on disk (see [`ListenerTls::refresh`]).
/// Listeners (Kafka's "Adding and Removing Listeners"): each time the broker's dynamic configs
/// change, opens the listeners they add (with their `listener.name.<listener>.*` settings),
/// stops those they no longer name (their connections close; the config file's listeners too,
/// but the inter-broker one), and registers the broker's endpoints again so that Metadata names
/// the new ones. A new listener advertises its own address.
pub async fn supervise_listeners(
    parts: ListenerSupervisorParts,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = parts.replicas.settings().clone();
    let static_names: Vec<String> = settings
        .listeners
        .iter()
        .map(|l| l.name().to_string())
        .collect();
    let mut running: BTreeMap<String, RunningListener> = BTreeMap::new();
    let mut removed_static: std::collections::BTreeSet<String> = Default::default();
    let mut changes = parts.replicas.watch_live_config();
    let mut tick = tokio::time::interval(CERT_RELOAD_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        // The first pass at once: the first metadata image (with the listeners a restart
        // must open again) may have been applied before this task subscribed.
        if !std::mem::take(&mut first) {
            tokio::select! {
                _ = shutdown.changed() => break,
                changed = changes.changed() => if changed.is_err() { break },
                _ = tick.tick() => {
                    // The dynamic listeners' key stores replaced on disk (as for the file's
                    // listeners).
                    refresh_tls_sides(
                        &tls_sides(&parts.static_tls, &removed_static, &running),
                        &parts.replicas.live_config(),
                    )
                    .await;
                    continue;
                }
            }
        }
        let live = parts.replicas.live_config();
        let desired = match dynamic_listener_settings(&settings, &live.dynamic.broker) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("the dynamic listeners cannot be applied, keeping those open: {e}");
                continue;
            }
        };
        let mut changed = false;
        // The config file's listeners the dynamic `listeners` no longer names: stopped.
        for (name, stop) in &parts.static_stops {
            if !removed_static.contains(name) && !desired.iter().any(|l| l.name() == name) {
                stop.send_replace(true);
                removed_static.insert(name.clone());
                tracing::info!("listener {name} closed (removed from listeners)");
                changed = true;
            }
        }
        // Listeners to run here: new ones, and any of the file's that was removed and is named
        // again.
        let added: Vec<&ListenerSettings> = desired
            .iter()
            .filter(|l| {
                !l.is_controller
                    && (!static_names.iter().any(|n| n == l.name())
                        || removed_static.contains(l.name()))
            })
            .collect();
        // Gone from `listeners`, or reopened with their changed settings.
        let gone: Vec<String> = running
            .iter()
            .filter(|(name, r)| {
                !added.iter().any(|l| {
                    l.name() == name.as_str()
                        && listener_fingerprint(l, &live.dynamic.broker) == r.fingerprint
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(r) = running.remove(&name) {
                r.stop.send_replace(true);
                let _ = r.task.await;
                tracing::info!("listener {name} (dynamic) closed");
                changed = true;
            }
        }
        for l in added {
            if running.contains_key(l.name()) {
                continue;
            }
            let listener = match open_listener(
                &settings,
                l,
                None,
                parts.authorization.clone(),
                parts.decoy_secret,
            )
            .await
            {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!("listener {} (dynamic) cannot open: {e}", l.name());
                    continue;
                }
            };
            let (host, port) = l.advertised(listener.local_addr);
            let endpoint = ListenerEndpoint {
                name: l.name().to_string(),
                host,
                port,
                security_protocol: l.protocol as i16,
            };
            tracing::info!(
                "listener {} (dynamic) listening on {} (advertised as {}:{})",
                l.name(),
                listener.local_addr,
                endpoint.host,
                endpoint.port
            );
            let (stop, stopped) = watch::channel(false);
            let tls = listener.tls.clone();
            if let Some(cache) = listener.context.sasl.as_ref().and_then(|s| s.jwks()) {
                tokio::spawn(refresh_jwks(
                    vec![(l.name().to_string(), cache)],
                    stopped.clone(),
                ));
            }
            let task = tokio::spawn(accept_loop(
                parts.apis.clone(),
                parts.quotas.clone(),
                listener,
                false,
                stopped,
            ));
            running.insert(
                l.name().to_string(),
                RunningListener {
                    stop,
                    endpoint,
                    task,
                    tls,
                    fingerprint: listener_fingerprint(l, &live.dynamic.broker),
                },
            );
            changed = true;
        }
        // A key or trust store the dynamic configs name for a listener that stays open.
        refresh_tls_sides(
            &tls_sides(&parts.static_tls, &removed_static, &running),
            &live,
        )
        .await;
        if changed {
            let mut endpoints: Vec<ListenerEndpoint> = parts
                .static_endpoints
                .iter()
                .filter(|e| !removed_static.contains(&e.name))
                .cloned()
                .collect();
            endpoints.extend(running.values().map(|r| r.endpoint.clone()));
            if let Err(e) = parts
                .cluster
                .register_listeners(parts.inter_broker.clone(), endpoints)
                .await
            {
                tracing::warn!("registering the broker's new listeners failed: {e}");
            }
        }
    }
    for r in running.into_values() {
        r.stop.send_replace(true);
        let _ = r.task.await;
    }
}

/// The TLS sides of the listeners open now: the config file's (but those removed) and the
/// dynamic ones.
fn tls_sides(
    static_tls: &[Arc<ListenerTls>],
    removed_static: &std::collections::BTreeSet<String>,
    running: &BTreeMap<String, RunningListener>,
) -> Vec<Arc<ListenerTls>> {
    static_tls
        .iter()
        .filter(|t| !removed_static.contains(&t.name))
        .cloned()
        .chain(running.values().filter_map(|r| r.tls.clone()))
        .collect()
}

/// A listener [`supervise_listeners`] opened.
struct RunningListener {
    stop: watch::Sender<bool>,
    endpoint: ListenerEndpoint,
    task: tokio::task::JoinHandle<()>,
    tls: Option<Arc<ListenerTls>>,
    /// What it was opened with (see [`listener_fingerprint`]).
    fingerprint: String,
}

/// What a dynamic listener is opened with: its address, security protocol and its own
/// dynamic `listener.name.<listener>.*` keys other than its key and trust stores (those are
/// swapped in place, see [`ListenerTls::refresh`]); when they change it is opened again. (Held
/// in memory only: it may hold secrets.)
fn listener_fingerprint(l: &ListenerSettings, dynamic: &BTreeMap<String, String>) -> String {
    let prefix = format!("listener.name.{}.", l.name().to_ascii_lowercase());
    let own: Vec<(&String, &String)> = dynamic
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.strip_prefix(&prefix).is_some_and(|base| {
                !LISTENER_RELOADABLE.contains(&base) && !is_listener_connection_limit(&k)
            })
        })
        .collect();
    format!(
        "{}:{}:{:?}:{own:?}",
        l.listener.host, l.listener.port, l.protocol
    )
}

/// Refreshes the OAUTHBEARER listeners' JWKS keys when due (`sasl.oauthbearer.jwks.endpoint.*`),
/// on the blocking pool, until shutdown. A failed refresh keeps the keys in service.
pub async fn refresh_jwks(
    caches: Vec<(String, Arc<sluice_security::JwksCache>)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        for (name, cache) in &caches {
            let c = cache.clone();
            let refreshed = tokio::task::spawn_blocking(move || {
                c.refresh_if_due(sluice_security::oauthbearer::unix_now_ms())
            })
            .await;
            if let Ok(Err(e)) = refreshed {
                tracing::warn!("listener {name}: OAUTHBEARER keys not refreshed: {e}");
            }
        }
    }
}

/// Accepts connections on one listener until shutdown, then waits for the open ones to
/// finish. Each connection is counted against the connection limits of the broker's live
/// config ([`ConnectionQuotas`]); `protected`: this is the inter-broker listener.
pub async fn accept_loop(
    apis: Arc<KafkaApis>,
    quotas: Arc<ConnectionQuotas>,
    listener: ClientListener,
    protected: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let name = listener.context.name.clone();
    let open_connections = apis.replicas.metrics().connections(&name);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.socket.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("listener {name}: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let limits = apis.replicas.live_config().connections.clone();
                // KIP-612: the inter-broker listener is not held to the addresses' rates.
                if !protected {
                    // Over the address's rate: closed unserved after the throttle time.
                    let ip_quota = apis.cluster.quotas.connection_creation_rate(peer.ip());
                    if let Err(delay) = quotas.check_ip_rate(peer.ip(), ip_quota) {
                        tracing::info!(
                            "listener {name}: closing the connection from {peer} in {delay} ms: \
                             over its connection_creation_rate quota"
                        );
                        connections.spawn(async move {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                            drop(stream);
                        });
                        continue;
                    }
                }
                // Over the listener's own rate or the broker's (not for the inter-broker
                // listener): this listener waits before serving it and accepting the next.
                let delay = quotas.accept_delay_ms(&limits, &name, protected);
                if delay > 0 {
                    tracing::debug!(
                        "listener {name}: max.connection.creation.rate reached, waiting {delay} ms"
                    );
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
                    }
                }
                let slot = match quotas.open(peer.ip(), &limits, protected, &name) {
                    Ok(slot) => slot,
                    Err(why) => {
                        tracing::warn!("listener {name}: refusing connection from {peer}: {why}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let apis = apis.clone();
                let shutdown = shutdown.clone();
                let context = listener.context.clone();
                let tls = listener.tls.clone();
                let open = open_connections.clone();
                open.inc();
                connections.spawn(async move {
                    serve_connection(apis, stream, peer, context, tls, shutdown).await;
                    open.dec();
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    apis: Arc<KafkaApis>,
    stream: TcpStream,
    peer: SocketAddr,
    context: Arc<ListenerContext>,
    tls: Option<Arc<ListenerTls>>,
    shutdown: watch::Receiver<bool>,
) {
    let Some(tls) = tls else {
        let session = Arc::new(Session::new(context, peer, None));
        let (reader, writer) = stream.into_split();
        connection::serve(apis, reader, writer, session, shutdown).await;
        return;
    };
    let (stream, principal) = match tls.accept(stream).await {
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::info!("listener {}: refusing {peer}: {e}", context.name);
            return;
        }
    };
    let session = Arc::new(Session::new(context, peer, principal));
    let (reader, writer) = tokio::io::split(stream);
    connection::serve(apis, reader, writer, session, shutdown).await;
}

impl ListenerTls {
    /// The resolver serving the listener's certificate now.
    pub fn resolver(&self) -> Arc<ReloadingCertResolver> {
        self.state().resolver.clone()
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, TlsState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings the listener would run with under `overrides` (dynamic key store and
    /// trust store keys by table key), and whether they differ from those it runs with.
    pub fn settings_with(&self, overrides: &BTreeMap<String, String>) -> (SslSettings, bool) {
        (
            self.base.with_dynamic(overrides),
            *overrides != self.state().overrides,
        )
    }

    /// Serves the stores `overrides` names when they differ from those served (checked as
    /// `config::check_listener_stores` does; on an error the served ones stay and these overrides are
    /// not tried again), else reloads the key store file if it changed on disk. Reads files:
    /// call it off the async threads.
    pub fn refresh(&self, overrides: BTreeMap<String, String>) -> Result<TlsRefresh, String> {
        let (ssl, changed) = self.settings_with(&overrides);
        if !changed {
            return match self.resolver().reload_if_changed() {
                Ok(true) => Ok(TlsRefresh::Reloaded),
                Ok(false) => Ok(TlsRefresh::Unchanged),
                Err(e) => Err(format!("the key store changed but does not load: {e}")),
            };
        }
        if self.state().refused.as_ref() == Some(&overrides) {
            return Ok(TlsRefresh::Unchanged);
        }
        let served = self.resolver().served_chain();
        let leaf = served.first().map(|c| c.as_ref()).unwrap_or_default();
        let built = tls_server_replacing(&ssl, leaf);
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        match built {
            Ok((config, resolver)) => {
                *state = TlsState {
                    acceptor: tokio_rustls::TlsAcceptor::from(config),
                    resolver,
                    overrides,
                    refused: None,
                };
                Ok(TlsRefresh::Reconfigured)
            }
            Err(e) => {
                state.refused = Some(overrides);
                Err(e)
            }
        }
    }

    /// The TLS handshake on an accepted connection (bounded by [`TLS_HANDSHAKE_TIMEOUT`]),
    /// and the principal of the client certificate, if the client sent one.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> Result<(TlsServerStream, Option<KafkaPrincipal>), String> {
        // rustls reads the socket 4 KiB at a time; a buffer under it turns that into one read
        // per TLS_READ_BUFFER bytes (writes pass straight through).
        let stream = tokio::io::BufReader::with_capacity(TLS_READ_BUFFER, stream);
        let acceptor = self.state().acceptor.clone();
        let stream =
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(format!("TLS handshake failed: {e}")),
                Err(_) => return Err("TLS handshake timed out".into()),
            };
        let principal = client_principal(&stream, &self.mapper)
            .map_err(|e| format!("client certificate: {e}"))?;
        Ok((stream, principal))
    }
}

/// A TLS connection on a listener.
pub type TlsServerStream = tokio_rustls::server::TlsStream<tokio::io::BufReader<TcpStream>>;

/// The principal of a verified client certificate, if the client sent one.
fn client_principal(
    stream: &tokio_rustls::server::TlsStream<tokio::io::BufReader<TcpStream>>,
    mapper: &PrincipalMapper,
) -> Result<Option<KafkaPrincipal>, String> {
    let (_, connection) = stream.get_ref();
    let Some(cert) = connection.peer_certificates().and_then(|c| c.first()) else {
        return Ok(None);
    };
    let dn = subject_dn(cert.as_ref()).map_err(|e| e.to_string())?;
    let name = mapper.map(&dn).map_err(|e| e.to_string())?;
    Ok(Some(KafkaPrincipal::user(name)))
}

/// How this broker connects to the others: as the inter-broker listener is secured. TLS trusts
/// the listener's trust store and presents the listener's own key store when it holds an
/// unencrypted key (for `ssl.client.auth=required`); SASL logs in with
/// `sasl.mechanism.inter.broker.protocol` as the `username`/`password` of that mechanism's
/// JAAS config on the listener.
pub fn peer_security(settings: &BrokerSettings) -> Result<ClientSecurity, ServerError> {
    match settings.listener(&settings.inter_broker_listener) {
        None => Ok(ClientSecurity::default()),
        Some(l) => client_security(
            l,
            &settings.inter_broker_sasl_mechanism,
            "sasl.mechanism.inter.broker.protocol",
        ),
    }
}

/// How this node connects to listener `l` of another: its trust store, its own key store
/// when that holds an unencrypted key, and a SASL login with `mechanism` (named by
/// `mechanism_key`) as the `username`/`password` of the listener's JAAS config for it.
pub fn client_security(
    l: &ListenerSettings,
    mechanism: &str,
    mechanism_key: &str,
) -> Result<ClientSecurity, ServerError> {
    let bad = |e: String| ServerError::Config(format!("listener {}: {e}", l.name()));
    let tls = client_tls(l)?;
    let sasl = if l.protocol.uses_sasl() {
        let jaas = l
            .sasl
            .jaas
            .iter()
            .find(|(m, _)| m == mechanism)
            .ok_or_else(|| {
                bad(format!(
                    "{mechanism_key}={mechanism}: set listener.name.{}.{}.sasl.jaas.config with this node's username and password",
                    l.name().to_ascii_lowercase(),
                    mechanism.to_ascii_lowercase()
                ))
            })?;
        let text = std::str::from_utf8(jaas.1.expose())
            .map_err(|_| bad("the JAAS config is not UTF-8".into()))?;
        let config = JaasConfig::parse(text).map_err(|e| bad(e.to_string()))?;
        let (Some(user), Some(password)) = (config.option("username"), config.secret("password"))
        else {
            return Err(bad(format!(
                "the {mechanism} JAAS config needs username and password options for the broker's own login"
            )));
        };
        let user = user.to_string();
        let password = password.clone();
        Some(match ScramMechanism::from_name(mechanism) {
            Some(m) => SaslLogin::Scram {
                mechanism: m,
                user,
                password,
            },
            None if mechanism == "PLAIN" => SaslLogin::Plain { user, password },
            None => {
                return Err(bad(format!(
                    "{mechanism_key}={mechanism} is not supported for a node's own login (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
                )))
            }
        })
    } else {
        None
    };
    Ok(ClientSecurity { tls, sasl })
}

/// The TLS side of connecting to listener `l` of a node: its trust store, the node's own key
/// store when that holds an unencrypted key; `None` for a listener without TLS.
pub fn client_tls(l: &ListenerSettings) -> Result<Option<TlsClient>, ServerError> {
    let bad = |e: String| ServerError::Config(format!("listener {}: {e}", l.name()));
    Ok(if l.protocol.uses_tls() {
        let ca = match (&l.ssl.truststore_location, &l.ssl.truststore_certificates) {
            (Some(path), _) => std::fs::read(path)
                .map_err(|e| bad(format!("ssl.truststore.location {}: {e}", path.display())))?,
            (None, Some(pem)) => pem.as_bytes().to_vec(),
            (None, None) => {
                return Err(bad(
                    "nodes connect to this listener of each other over TLS: set ssl.truststore.location".into(),
                ))
            }
        };
        let identity = match (&l.ssl.keystore_location, &l.ssl.key_password) {
            (Some(path), None) => Some(
                std::fs::read(path)
                    .map_err(|e| bad(format!("ssl.keystore.location {}: {e}", path.display())))?,
            ),
            _ => None,
        };
        let client = TlsClient::from_pem(&ca, identity.as_deref().map(|pem| (pem, pem)))
            .map_err(|e| bad(e.to_string()))?;
        Some(client)
    } else {
        None
    })
}
