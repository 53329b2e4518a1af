//! [`Controller`]: one member of the controller quorum, the API the broker uses.
//!
//! Starting a controller opens its log and state machine under the data directory, starts the
//! openraft node and the controller listener, and, on the voter with the lowest id, initializes
//! the quorum membership from `controller.quorum.voters` if the node has never been initialized
//! (a restart finds its membership in its own log, so this happens once per cluster).
//!
//! Proposals can be made on any node: on the leader they are appended directly; elsewhere they
//! are forwarded to the leader over the controller listener (a fresh connection per forward, so
//! a connection that failed to open means the command was certainly not sent and may be retried
//! safely). A proposal is retried only while it certainly was not appended; once it may have
//! been, a failure is reported as such ([`ControllerError::Timeout`],
//! [`ControllerError::OutcomeUnknown`]) instead of risking a duplicate.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;

use openraft::error::ClientWriteError;
use openraft::error::InitializeError;
use openraft::error::RaftError;
use openraft::BasicNode;
use openraft::ServerState;
use openraft::SnapshotPolicy;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::command::CommandResult;
use crate::command::MetadataCommand;
use crate::config::ControllerConfig;
use crate::error::ControllerError;
use crate::image::MetadataImage;
use crate::log_store::LogStore;
use crate::network::CallError;
use crate::network::NetworkFactory;
use crate::network::PeerClient;
use crate::raft_types::NodeId;
use crate::raft_types::Raft;
use crate::rpc::ProposeReply;
use crate::rpc::RpcRequestBody;
use crate::rpc::RpcResponse;
use crate::server::serve;
use crate::server::ServerSettings;
use crate::state_machine::StateMachineStore;

/// How long a proposal that found no usable leader waits for a new one before it tries again.
const LEADER_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Server side: an idle controller connection is closed after this long.
const CONNECTION_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A node's role in the quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerRole {
    Leader,
    Follower,
    Candidate,
    /// Not (yet) a voter: before the membership is known.
    Learner,
    Shutdown,
}

/// A point-in-time view of one controller's Raft state (for status pages and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerStatus {
    pub node_id: NodeId,
    pub role: ControllerRole,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    /// Last log index covered by this node's newest snapshot.
    pub snapshot_index: Option<u64>,
    /// Last log index removed from this node's log.
    pub purged_index: Option<u64>,
    pub voters: Vec<NodeId>,
}

/// One member of the controller quorum. Cheap to clone; clones share the node.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

struct Inner {
    config: ControllerConfig,
    raft: Raft,
    image: watch::Receiver<Arc<MetadataImage>>,
    local_addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropped without `shutdown()`: stop the listener and the Raft node anyway.
        if !*self.shutdown_tx.borrow() {
            self.shutdown_tx.send_replace(true);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let raft = self.raft.clone();
                runtime.spawn(async move {
                    let _ = raft.shutdown().await;
                });
            }
        }
    }
}

impl Controller {
    /// Binds `config.listen` and starts the controller.
    pub async fn start(config: ControllerConfig) -> Result<Controller, ControllerError> {
        let listener = TcpListener::bind(config.listen).await?;
        Controller::start_with_listener(config, listener).await
    }

    /// Starts the controller serving on an already bound listener (`config.listen` is ignored).
    pub async fn start_with_listener(
        config: ControllerConfig,
        listener: TcpListener,
    ) -> Result<Controller, ControllerError> {
        config.validate()?;
        let local_addr = listener.local_addr()?;
        let dir = config.data_dir.clone();
        let (log_store, state_machine) = tokio::task::spawn_blocking(move || {
            Ok::<_, std::io::Error>((LogStore::open(&dir)?, StateMachineStore::open(&dir)?))
        })
        .await
        .map_err(|e| ControllerError::Storage(e.to_string()))??;
        let image = state_machine.subscribe();

        let raft_config = openraft::Config {
            cluster_name: "sluice-controller".to_string(),
            heartbeat_interval: config.heartbeat_interval_ms,
            election_timeout_min: config.election_timeout_ms,
            election_timeout_max: config.election_timeout_ms * 2,
            install_snapshot_timeout: config.request_timeout_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_interval_entries),
            snapshot_max_chunk_size: config.snapshot_chunk_bytes as u64,
            max_in_snapshot_log_to_keep: config.log_entries_kept_after_snapshot,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ControllerError::Config(e.to_string()))?;
        let network = NetworkFactory {
            node_id: config.node_id,
            voters: Arc::new(config.voters.clone()),
            settings: config.client_settings(),
        };
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network,
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ControllerError::Raft(e.to_string()))?;

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let server = tokio::spawn(serve(
            listener,
            raft.clone(),
            ServerSettings {
                node_id: config.node_id,
                frame_bytes_max: config.frame_bytes_max,
                max_connections: config.max_connections,
                idle_timeout: CONNECTION_IDLE_TIMEOUT,
                request_timeout: config.request_timeout(),
                propose_timeout: config.request_timeout(),
            },
            shutdown_rx,
        ));
        tracing::info!(node_id = config.node_id, %local_addr, "controller started");
        let controller = Controller {
            inner: Arc::new(Inner {
                config,
                raft,
                image,
                local_addr,
                shutdown_tx,
                server: Mutex::new(Some(server)),
            }),
        };
        if let Err(e) = controller.bootstrap().await {
            let _ = controller.shutdown().await;
            return Err(e);
        }
        Ok(controller)
    }

    /// On the lowest voter id: initializes the membership from the configured voters, once.
    async fn bootstrap(&self) -> Result<(), ControllerError> {
        let config = &self.inner.config;
        if config.voters.keys().next() != Some(&config.node_id) {
            return Ok(());
        }
        let raft = &self.inner.raft;
        if raft
            .is_initialized()
            .await
            .map_err(|e| ControllerError::Raft(e.to_string()))?
        {
            return Ok(());
        }
        let members: BTreeMap<NodeId, BasicNode> = config
            .voters
            .iter()
            .map(|(&id, addr)| (id, BasicNode::new(addr)))
            .collect();
        match raft.initialize(members).await {
            Ok(()) => {
                tracing::info!(voters = ?config.voters, "controller quorum initialized");
                Ok(())
            }
            // Initialized meanwhile (e.g. a vote arrived first): nothing to do.
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(ControllerError::Raft(e.to_string())),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.config.node_id
    }

    /// Address the controller listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The metadata image, updated as entries commit and apply on this node.
    pub fn image(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.inner.image.clone()
    }

    /// The leader this node knows of.
    pub fn leader(&self) -> Option<NodeId> {
        self.inner.raft.metrics().borrow().current_leader
    }

    pub fn status(&self) -> ControllerStatus {
        let metrics = self.inner.raft.metrics().borrow().clone();
        let role = match metrics.state {
            ServerState::Leader => ControllerRole::Leader,
            ServerState::Follower => ControllerRole::Follower,
            ServerState::Candidate => ControllerRole::Candidate,
            ServerState::Learner => ControllerRole::Learner,
            ServerState::Shutdown => ControllerRole::Shutdown,
        };
        ControllerStatus {
            node_id: metrics.id,
            role,
            leader: metrics.current_leader,
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            last_applied_index: metrics.last_applied.map(|l| l.index),
            snapshot_index: metrics.snapshot.map(|l| l.index),
            purged_index: metrics.purged.map(|l| l.index),
            voters: metrics.membership_config.membership().voter_ids().collect(),
        }
    }

    /// Proposes `command` from this node (forwarded to the leader if need be) and waits until it
    /// has committed and this node's [`Controller::image`] includes it: returns the result of
    /// applying it, which may be a [`CommandError`](crate::CommandError). Bounded by
    /// `request_timeout_ms` (if this node applies the entry only after that, the committed result
    /// is returned all the same).
    pub async fn propose(
        &self,
        command: MetadataCommand,
    ) -> Result<CommandResult, ControllerError> {
        let config = &self.inner.config;
        let size = postcard::to_stdvec(&command)
            .map_err(|e| ControllerError::Raft(e.to_string()))?
            .len();
        if size > config.command_bytes_max() {
            return Err(ControllerError::CommandTooLarge {
                size,
                max: config.command_bytes_max(),
            });
        }
        let timeout = config.request_timeout();
        let deadline = Instant::now() + timeout;
        let mut metrics = self.inner.raft.metrics();
        loop {
            if *self.inner.shutdown_tx.borrow() {
                return Err(ControllerError::Shutdown);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ControllerError::NoLeader(timeout));
            }
            let leader = metrics.borrow().current_leader;
            let reply = match leader {
                Some(id) if id == config.node_id => {
                    Some(propose_local(&self.inner.raft, command.clone(), remaining).await)
                }
                Some(id) => match self.forward(id, command.clone(), remaining).await {
                    Ok(reply) => Some(reply),
                    Err(CallError::Timeout { .. }) => {
                        return Err(ControllerError::Timeout(timeout))
                    }
                    Err(e) if e.not_sent() => {
                        tracing::debug!("proposal not forwarded, will retry: {e}");
                        None
                    }
                    Err(e) => return Err(ControllerError::OutcomeUnknown(e.to_string())),
                },
                None => None,
            };
            match reply {
                Some(ProposeReply::Applied { log_index, result }) => {
                    self.wait_for_local_apply(log_index, deadline).await;
                    return Ok(result);
                }
                Some(ProposeReply::TimedOut) => return Err(ControllerError::Timeout(timeout)),
                Some(ProposeReply::Failed(why)) => {
                    return Err(ControllerError::OutcomeUnknown(why))
                }
                Some(ProposeReply::NotLeader { .. }) | None => {}
            }
            // Wait until another leader is known, or look again shortly.
            let pause = remaining.min(LEADER_POLL_INTERVAL);
            let new_leader =
                metrics.wait_for(|m| m.current_leader.is_some() && m.current_leader != leader);
            if let Ok(Err(_)) = tokio::time::timeout(pause, new_leader).await {
                return Err(ControllerError::Shutdown);
            }
        }
    }

    /// Waits until this node's image includes log entry `log_index`, or `deadline`: a proposer
    /// then reads its own write in its image. Past the deadline the command is still committed.
    async fn wait_for_local_apply(&self, log_index: u64, deadline: Instant) {
        let mut image = self.inner.image.clone();
        let applied = image.wait_for(|i| i.offset() >= log_index);
        if tokio::time::timeout_at(deadline, applied).await.is_err() {
            tracing::debug!(
                log_index,
                "proposal committed; this node has not applied it yet"
            );
        }
    }

    async fn forward(
        &self,
        leader: NodeId,
        command: MetadataCommand,
        timeout: Duration,
    ) -> Result<ProposeReply, CallError> {
        let config = &self.inner.config;
        let mut client = PeerClient::new(
            config.node_id,
            leader,
            config.voters.get(&leader).copied(),
            config.client_settings(),
        );
        match client
            .call(RpcRequestBody::Propose(command), timeout)
            .await?
        {
            RpcResponse::Propose(reply) => Ok(reply),
            other => Err(CallError::Connection {
                target: leader,
                source: crate::rpc::FrameError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("unexpected answer to a proposal: {other:?}"),
                )),
            }),
        }
    }

    /// Stops the listener and the Raft node and waits for them. Idempotent.
    pub async fn shutdown(&self) -> Result<(), ControllerError> {
        self.inner.shutdown_tx.send_replace(true);
        let result = self.inner.raft.shutdown().await;
        let server = self
            .inner
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(server) = server {
            let _ = server.await;
        }
        tracing::info!(node_id = self.node_id(), "controller stopped");
        result.map_err(|e| ControllerError::Raft(e.to_string()))
    }
}

/// Appends `command` if this node leads and waits up to `timeout` for it to apply.
pub(crate) async fn propose_local(
    raft: &Raft,
    command: MetadataCommand,
    timeout: Duration,
) -> ProposeReply {
    match tokio::time::timeout(timeout, raft.client_write(command)).await {
        Err(_) => ProposeReply::TimedOut,
        Ok(Ok(response)) => ProposeReply::Applied {
            log_index: response.log_id.index,
            result: response.data,
        },
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
            ProposeReply::NotLeader {
                leader: forward.leader_id,
            }
        }
        Ok(Err(e)) => ProposeReply::Failed(e.to_string()),
    }
}
