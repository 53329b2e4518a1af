//! The broker's place in the cluster: the controller quorum member this process runs (a voter
//! with `process.roles` including `controller`, else a non-voting follower of the metadata log),
//! the broker's registration and heartbeats, and the task that applies every new metadata image
//! to the local replicas.
//!
//! Lifecycle (KIP-631): a starting broker registers with a new incarnation id and gets a broker
//! epoch; it applies the image up to its registration (so it knows every topic committed
//! before) and heartbeats, reporting the image offset it applied; the controller unfences it
//! once that offset reaches the registration, after which it may lead partitions. Stopping, it
//! asks for a controlled shutdown (leadership moves away) before closing its logs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_controller::{
    BrokerHeartbeatRequest, BrokerRegistrationRequest, ClusterManagerConfig, CommandError,
    CommandOutput, Controller, ControllerConfig, ControllerError, MetadataCommand, MetadataImage,
};
use sluice_protocol::error::ErrorCode;
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::BrokerSettings;
use crate::replicas::{AdminError, ReplicaManager};

/// Kafka's per-directory identity file.
const META_PROPERTIES: &str = "meta.properties";
/// The topic registry of Sluice versions before the controller quorum (migrated once).
const LEGACY_TOPICS_FILE: &str = "__sluice_topics.json";

/// This broker's membership of the cluster.
pub struct Cluster {
    pub controller: Controller,
    pub node_id: i32,
    pub cluster_id: String,
    broker_epoch: AtomicI64,
    fenced: AtomicBool,
}

impl Cluster {
    /// The newest metadata image this node applied from the quorum.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image().borrow().clone()
    }

    pub fn broker_epoch(&self) -> i64 {
        self.broker_epoch.load(Ordering::Acquire)
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

/// The controller's settings from the broker config. A node without `controller.quorum.voters`
/// is a standalone quorum of one whose controller listener is `listen`.
pub fn controller_config(
    settings: &BrokerSettings,
    listen: SocketAddr,
    cluster_id: &str,
) -> ControllerConfig {
    let node_id = settings.node_id as u64;
    let voters = settings
        .quorum_voters
        .clone()
        .unwrap_or_else(|| BTreeMap::from([(node_id, listen)]));
    let mut c = ControllerConfig::new(node_id, voters, listen, settings.metadata_log_dir.clone());
    c.voter = settings.process_roles.is_controller();
    c.election_timeout_ms = settings.controller_quorum_election_timeout_ms;
    c.heartbeat_interval_ms = (c.election_timeout_ms / 5).max(1);
    c.request_timeout_ms = settings.controller_quorum_request_timeout_ms;
    c.cluster = ClusterManagerConfig {
        session_timeout_ms: settings.broker_session_timeout_ms,
        unclean_leader_election: settings.unclean_leader_election_enable,
        auto_leader_rebalance: settings.auto_leader_rebalance_enable,
        leader_imbalance_check_interval_ms: settings.leader_imbalance_check_interval_ms,
        cluster_id: cluster_id.to_string(),
        ..ClusterManagerConfig::default()
    };
    c
}

/// The cluster id from `meta.properties` in the log directory, written there at first start:
/// `cluster.id` if set, else the id of the legacy topic registry, else one derived from
/// `controller.quorum.voters` (so that every node of a quorum configured alike agrees), else a
/// new random id. A `meta.properties` of another node or cluster is a startup error.
pub fn cluster_id(settings: &BrokerSettings) -> Result<String, String> {
    let dir = settings.log_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(META_PROPERTIES);
    let node_id = settings.node_id;
    if let Ok(text) = std::fs::read_to_string(&path) {
        let props: BTreeMap<&str, &str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let stored_node = props.get("node.id").and_then(|v| v.parse::<i32>().ok());
        if stored_node != Some(node_id) {
            return Err(format!(
                "{} belongs to node.id {}, but this node is node.id {node_id}",
                path.display(),
                props.get("node.id").unwrap_or(&"?")
            ));
        }
        let Some(id) = props.get("cluster.id").filter(|v| !v.is_empty()) else {
            return Err(format!("{} has no cluster.id", path.display()));
        };
        if let Some(wanted) = settings.cluster_id.as_deref() {
            if wanted != *id {
                return Err(format!(
                    "cluster.id {wanted} does not match {id} stored in {}",
                    path.display()
                ));
            }
        }
        return Ok(id.to_string());
    }
    let id = match settings.cluster_id.as_deref() {
        Some(id) => id.to_string(),
        None => legacy_cluster_id(&dir)
            .or_else(|| {
                settings
                    .quorum_voters
                    .as_ref()
                    .filter(|v| v.len() > 1)
                    .map(derived_cluster_id)
            })
            .unwrap_or_else(|| encode_id(Uuid::new_v4())),
    };
    let text = format!(
        "#\n# written by sluice at first start\nversion=1\ncluster.id={id}\nnode.id={node_id}\n"
    );
    write_durably(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(id)
}

fn legacy_cluster_id(dir: &Path) -> Option<String> {
    let bytes = std::fs::read(dir.join(LEGACY_TOPICS_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value
        .get("cluster_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// A cluster id every node computes alike from the same quorum voters.
fn derived_cluster_id(voters: &BTreeMap<u64, SocketAddr>) -> String {
    let text = voters
        .iter()
        .map(|(id, addr)| format!("{id}@{addr}"))
        .collect::<Vec<_>>()
        .join(",");
    let a = crc32c::crc32c(text.as_bytes());
    let b = crc32c::crc32c_append(a, b"sluice-cluster");
    let c = crc32c::crc32c_append(b, text.as_bytes());
    let d = crc32c::crc32c_append(c, b"id");
    let mut bytes = [0u8; 16];
    for (i, word) in [a, b, c, d].iter().enumerate() {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    encode_id(Uuid::from_bytes(bytes))
}

fn encode_id(id: Uuid) -> String {
    crate::replicas::encode_topic_id(id)
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// How long registration and unfencing may take at startup before the broker gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

impl Cluster {
    /// Registers this broker (advertising `host:port`) with the controller, retrying while the
    /// quorum has no leader or the previous incarnation's session is still valid (until
    /// [`STARTUP_TIMEOUT`]).
    pub async fn register(
        controller: Controller,
        settings: &BrokerSettings,
        cluster_id: String,
        host: String,
        port: u16,
    ) -> Result<Cluster, String> {
        let node_id = settings.node_id;
        let incarnation_id = Uuid::new_v4();
        let request = BrokerRegistrationRequest {
            broker_id: node_id,
            incarnation_id,
            host,
            port,
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
            broker_epoch: AtomicI64::new(epoch),
            fenced: AtomicBool::new(true),
        })
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

    /// One heartbeat reporting `applied` as the metadata offset this broker applied; returns
    /// whether the controller still fences it.
    async fn heartbeat(&self, applied: u64, want_shutdown: bool) -> Result<(bool, bool), String> {
        let request = BrokerHeartbeatRequest {
            broker_id: self.node_id,
            broker_epoch: self.broker_epoch(),
            metadata_offset: applied,
            want_fence: false,
            want_shutdown,
        };
        match self.controller.broker_heartbeat(request).await {
            Ok(Ok(reply)) => {
                self.fenced.store(reply.is_fenced, Ordering::Release);
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
            match self.heartbeat(replicas.applied_offset(), false).await {
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

    /// Controlled shutdown: asks the controller to move leadership away and fence this broker,
    /// until it answers that the broker may stop or `timeout` passes.
    pub async fn controlled_shutdown(&self, replicas: &ReplicaManager, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            match self.heartbeat(replicas.applied_offset(), true).await {
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

/// Heartbeats every `broker.heartbeat.interval.ms` until shutdown.
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
            _ = tick.tick() => {
                let was_fenced = cluster.is_fenced();
                match cluster.heartbeat(replicas.applied_offset(), false).await {
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

/// Applies every new image to the local replicas (in a blocking task: opening logs reads
/// files); leadership changes reach the subscriber of
/// [`ReplicaManager::subscribe_changes`].
pub async fn run_publisher(
    cluster: Arc<Cluster>,
    replicas: Arc<ReplicaManager>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut images = cluster.controller.image();
    loop {
        let image = images.borrow_and_update().clone();
        let r = replicas.clone();
        match tokio::task::spawn_blocking(move || r.apply_image(&image)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("applying metadata failed: {}", e.message),
            Err(e) => tracing::error!("applying metadata panicked: {e}"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            r = images.changed() => if r.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;

    fn settings(pairs: &[(&str, &str)]) -> BrokerSettings {
        BrokerSettings::new(&BrokerConfig::from_pairs(pairs).unwrap()).unwrap()
    }

    #[test]
    fn cluster_id_is_stored_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().to_str().unwrap();
        let config = settings(&[("log.dir", log_dir)]);
        let id = cluster_id(&config).unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(cluster_id(&config).unwrap(), id);
        let other_node = settings(&[("log.dir", log_dir), ("node.id", "2")]);
        assert!(cluster_id(&other_node).unwrap_err().contains("node.id"));
        let other_cluster = settings(&[("log.dir", log_dir), ("cluster.id", "abc")]);
        assert!(cluster_id(&other_cluster)
            .unwrap_err()
            .contains("does not match"));
    }

    #[test]
    fn nodes_of_one_quorum_derive_the_same_cluster_id() {
        let voters = "1@127.0.0.1:9093,2@127.0.0.2:9093";
        let ids: Vec<String> = ["1", "2"]
            .iter()
            .map(|node| {
                let dir = tempfile::tempdir().unwrap();
                let listeners =
                    format!("PLAINTEXT://127.0.0.{node}:0,CONTROLLER://127.0.0.{node}:9093");
                let config = settings(&[
                    ("log.dir", dir.path().to_str().unwrap()),
                    ("node.id", node),
                    ("listeners", &listeners),
                    ("controller.quorum.voters", voters),
                ]);
                cluster_id(&config).unwrap()
            })
            .collect();
        assert_eq!(ids[0], ids[1]);
    }
}
