//! [`Cluster`]: the broker's place in the cluster: the controller quorum member this process
//! runs (a voter with `process.roles` including `controller`, else a non-voting follower of the
//! metadata log), the metadata image it keeps, the broker's registration and heartbeats.
//!
//! Lifecycle (KIP-631): a starting broker registers with a new incarnation id and gets a broker
//! epoch; it applies the image up to its registration (so it knows every topic committed
//! before) and heartbeats, reporting the image offset it applied; the controller unfences it
//! once that offset reaches the registration, after which it may lead partitions. Each reply
//! also says how far the metadata log is committed: readiness asks that the broker keep up
//! with it ([`MetadataCatchUp`]). Stopping, it asks for a controlled shutdown (leadership
//! moves away) before closing its logs.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_controller::{
    BrokerHeartbeatRequest, BrokerRegistrationRequest, CommandError, CommandOutput, Controller,
    ControllerError, ListenerEndpoint, MetadataCommand, MetadataImage,
};
use sluice_protocol::client::ClientSecurity;
use sluice_protocol::error::ErrorCode;
use tokio::sync::watch;
use uuid::Uuid;

use super::authorization::Authorization;
use super::client_quotas::ClientQuotas;
use super::metadata_catch_up::MetadataCatchUp;
use crate::config::BrokerSettings;
use crate::replicas::{AdminError, ReplicaManager};

/// This broker's membership of the cluster.
pub struct Cluster {
    pub controller: Controller,
    pub node_id: i32,
    pub cluster_id: String,
    /// How this broker secures its connections to other brokers (the inter-broker listener's
    /// TLS and SASL).
    pub peer_security: ClientSecurity,
    /// The cluster's ACLs as this broker enforces them.
    pub authorization: Arc<Authorization>,
    /// The cluster's client quotas and this broker's sensors.
    pub quotas: ClientQuotas,
    broker_epoch: AtomicI64,
    fenced: AtomicBool,
    /// When the controller last answered a heartbeat (readiness: a broker that cannot reach
    /// the quorum is not ready even while its last answer said unfenced).
    last_heartbeat: std::sync::Mutex<Option<std::time::Instant>>,
    /// How far the heartbeat replies said the metadata log is committed (readiness).
    catch_up: std::sync::Mutex<MetadataCatchUp>,
    /// This process's registration, sent again when its listeners change.
    registration: std::sync::Mutex<BrokerRegistrationRequest>,
}

impl Cluster {
    /// The newest metadata image this node applied from the quorum.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image().borrow().clone()
    }

    pub fn broker_epoch(&self) -> i64 {
        self.broker_epoch.load(Ordering::Acquire)
    }

    /// How long ago the controller last answered a heartbeat (`None`: never).
    pub fn since_last_heartbeat(&self) -> Option<Duration> {
        self.last_heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|at| at.elapsed())
    }

    /// `Ok` when the metadata offset `applied` has caught up with the metadata log as the
    /// heartbeat replies told it (see [`MetadataCatchUp`]); otherwise why not.
    pub fn caught_up_with_metadata(&self, applied: u64) -> Result<(), String> {
        let registration_offset = u64::try_from(self.broker_epoch()).unwrap_or(0);
        self.catch_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(applied, registration_offset)
    }

    /// Whether the controller keeps this broker fenced (it leads nothing then).
    pub fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::Acquire)
    }

    /// The "controller id" Metadata and DescribeCluster give clients: this broker, which
    /// forwards controller-bound requests (CreateTopics, AlterConfigs, reassignments, ...) to
    /// the active controller through the quorum, so that clients never wait on a controller that
    /// died a moment ago. Kafka in KRaft mode likewise names a live broker, not the quorum
    /// leader. While this broker is fenced, the lowest unfenced broker; -1 if there is none.
    /// The quorum leader itself is told by DescribeQuorum.
    pub fn controller_id_for_clients(&self) -> i32 {
        let image = self.image();
        let live = |id: i32| image.broker(id).is_some_and(|b| !b.fenced);
        if live(self.node_id) {
            return self.node_id;
        }
        image
            .brokers()
            .values()
            .find(|b| !b.fenced)
            .map_or(-1, |b| b.broker_id)
    }

    /// Proposes `command` and waits until this node's image holds it; the command's output, or
    /// its rejection as an [`AdminError`] with the command error's Kafka code.
    pub async fn propose(&self, command: MetadataCommand) -> Result<CommandOutput, AdminError> {
        match self.controller.propose(command).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(e)) => Err(command_error(&e)),
            Err(e) => Err(controller_error(&e)),
        }
    }
}

/// A rejected command as the admin error a request handler answers with.
pub fn command_error(e: &CommandError) -> AdminError {
    AdminError::new(ErrorCode(e.error_code()), e.to_string())
}

/// The controller could not do it (no quorum, timeout): REQUEST_TIMED_OUT, as Kafka answers
/// when the controller does not reply in time.
pub fn controller_error(e: &ControllerError) -> AdminError {
    AdminError::new(ErrorCode::REQUEST_TIMED_OUT, e.to_string())
}

/// How long registration and unfencing may take at startup before the broker gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

impl Cluster {
    /// Registers this broker (advertising its listeners, other brokers reaching it through
    /// `inter_broker`) with the controller, retrying while the
    /// quorum has no leader or the previous incarnation's session is still valid (until
    /// `STARTUP_TIMEOUT`).
    pub async fn register(
        controller: Controller,
        settings: &BrokerSettings,
        cluster_id: String,
        inter_broker: ListenerEndpoint,
        listeners: Vec<ListenerEndpoint>,
        peer_security: ClientSecurity,
        authorization: Arc<Authorization>,
    ) -> Result<Cluster, String> {
        let node_id = settings.node_id;
        let incarnation_id = Uuid::new_v4();
        let request = BrokerRegistrationRequest {
            broker_id: node_id,
            incarnation_id,
            host: inter_broker.host,
            port: inter_broker.port,
            listeners,
            http_endpoints: settings.http_endpoints.clone(),
            rack: settings.rack.clone(),
            cluster_id: cluster_id.clone(),
        };
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        let mut last_error = String::new();
        let epoch = loop {
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "broker {node_id} could not register with the controller quorum within {STARTUP_TIMEOUT:?}: {last_error}"
                ));
            }
            match controller.register_broker(request.clone()).await {
                Ok(Ok(epoch)) => break epoch,
                Ok(Err(e @ CommandError::InconsistentClusterId { .. })) => {
                    // Another cluster's data: retrying cannot help, and nothing may touch it.
                    return Err(e.to_string());
                }
                Ok(Err(e)) => {
                    if last_error != e.to_string() {
                        tracing::info!("registration of broker {node_id} refused, retrying: {e}");
                    }
                    last_error = e.to_string();
                }
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        };
        tracing::info!("broker {node_id} registered with broker epoch {epoch}");
        Ok(Cluster {
            controller,
            node_id,
            cluster_id,
            peer_security,
            authorization,
            quotas: ClientQuotas::new(settings.quota_window, settings.controller_quota_window),
            broker_epoch: AtomicI64::new(epoch),
            fenced: AtomicBool::new(true),
            last_heartbeat: std::sync::Mutex::new(None),
            catch_up: std::sync::Mutex::new(MetadataCatchUp::default()),
            registration: std::sync::Mutex::new(request),
        })
    }

    /// Registers this process's listeners again (the same incarnation: the epoch stays), after
    /// a dynamic change of `listeners`: the image then names the new endpoints, which Metadata
    /// answers with.
    pub async fn register_listeners(
        &self,
        inter_broker: ListenerEndpoint,
        listeners: Vec<ListenerEndpoint>,
    ) -> Result<(), String> {
        let request = {
            let mut r = self.registration.lock().unwrap_or_else(|p| p.into_inner());
            r.host = inter_broker.host;
            r.port = inter_broker.port;
            r.listeners = listeners;
            r.clone()
        };
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            match self.controller.register_broker(request.clone()).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(e.to_string()),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.to_string()),
                Err(_) => tokio::time::sleep(RETRY_BACKOFF).await,
            }
        }
    }

    /// Waits until this node's image includes its own registration.
    pub async fn wait_for_own_registration(&self) -> Result<Arc<MetadataImage>, String> {
        let epoch = u64::try_from(self.broker_epoch()).unwrap_or(0);
        let mut rx = self.controller.image();
        let wait = async move {
            rx.wait_for(|image| image.offset() >= epoch)
                .await
                .map(|image| image.clone())
        };
        match tokio::time::timeout(STARTUP_TIMEOUT, wait).await {
            Ok(Ok(image)) => Ok(image),
            _ => Err("the metadata image did not reach this broker's registration".into()),
        }
    }

    /// One heartbeat reporting the metadata offset `replicas` applied and its offline log
    /// directories and replicas (KIP-858); returns whether the controller still fences it.
    async fn heartbeat(
        &self,
        replicas: &ReplicaManager,
        want_shutdown: bool,
    ) -> Result<(bool, bool), String> {
        let request = BrokerHeartbeatRequest {
            broker_id: self.node_id,
            broker_epoch: self.broker_epoch(),
            metadata_offset: replicas.applied_offset(),
            want_fence: false,
            want_shutdown,
            offline_log_dirs: replicas.log_dirs().offline_ids(),
            offline_replicas: replicas.offline_replicas(),
        };
        match self.controller.broker_heartbeat(request).await {
            Ok(Ok(reply)) => {
                self.fenced.store(reply.is_fenced, Ordering::Release);
                self.catch_up
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .heard(reply.committed_offset);
                *self
                    .last_heartbeat
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
                Ok((reply.is_fenced, reply.should_shutdown))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Heartbeats until the controller unfences this broker (at startup).
    pub async fn wait_until_unfenced(&self, replicas: &ReplicaManager) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        let mut last_error = String::new();
        loop {
            match self.heartbeat(replicas, false).await {
                Ok((false, _)) => {
                    tracing::info!("broker {} is unfenced", self.node_id);
                    return Ok(());
                }
                Ok((true, _)) => {}
                Err(e) => last_error = e,
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "broker {} was not unfenced within {STARTUP_TIMEOUT:?} {last_error}",
                    self.node_id
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// At startup, waits (bounded) until the controller has elected leaders for the partitions
    /// this broker can lead alone (every partition whose ISR is only this broker), so that a
    /// restarted single node serves its partitions as soon as it accepts connections.
    pub async fn wait_for_own_leaders(&self) {
        let me = self.node_id;
        let mut images = self.controller.image();
        let waiting = async move {
            let _ = images
                .wait_for(|image| {
                    image.topics().values().all(|t| {
                        t.partitions
                            .iter()
                            .all(|p| p.leader.is_some() || p.isr != [me])
                    })
                })
                .await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), waiting).await;
    }

    /// Controlled shutdown: asks the controller to move leadership away and fence this broker,
    /// until it answers that the broker may stop or `timeout` passes.
    pub async fn controlled_shutdown(&self, replicas: &ReplicaManager, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            match self.heartbeat(replicas, true).await {
                Ok((_, true)) => {
                    tracing::info!("controlled shutdown of broker {} done", self.node_id);
                    return;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!("controlled shutdown heartbeat failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!(
            "controlled shutdown of broker {} did not finish within {timeout:?}",
            self.node_id
        );
    }
}

/// Heartbeats every `broker.heartbeat.interval.ms`, and at once when a log directory fails,
/// until shutdown.
pub async fn run_heartbeats(
    cluster: Arc<Cluster>,
    replicas: Arc<ReplicaManager>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = replicas.log_dirs().wait_for_failure() => {
                if let Err(e) = cluster.heartbeat(&replicas, false).await {
                    tracing::warn!("reporting an offline log directory failed: {e}");
                }
            }
            _ = tick.tick() => {
                let was_fenced = cluster.is_fenced();
                match cluster.heartbeat(&replicas, false).await {
                    Ok((fenced, _)) if fenced != was_fenced => {
                        tracing::info!(
                            "broker {} is {}",
                            cluster.node_id,
                            if fenced { "fenced" } else { "unfenced" }
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("heartbeat failed: {e}"),
                }
            }
        }
    }
}
