//! [`Controller`]: one member of the controller quorum, the API the broker uses.
//!
//! Starting a controller opens its log and state machine under the data directory, starts the
//! openraft node and the controller listener, and, on the voter with the lowest id, initializes
//! the quorum membership from `controller.quorum.voters` if the node has never been initialized
//! (a restart finds its membership in its own log, so this happens once per cluster).
//!
//! A node whose config says it is not a voter (a broker-only node) starts uninitialized and asks
//! the voters, one after another, to add it as a learner (`AddLearner` on their controller
//! listener) until the leader has: it then receives the log and applies the image, but never
//! votes nor counts towards a commit.
//!
//! Proposals can be made on any node, voter or learner: on the leader they are appended
//! directly; elsewhere they are forwarded to the leader over the controller listener (a fresh
//! connection per forward). Each proposal carries its proposer (a lane of this instance, see
//! `proposers`) and a sequence number, and the state machine applies a (proposer, sequence)
//! once, answering a repeat with the first result. So a proposal whose outcome is unknown (the
//! leader failed, the answer was lost, the commit was slow) is simply sent again, to whichever
//! node leads, until it is answered or the deadline passes; only then is the uncertainty
//! reported ([`ControllerError::Timeout`], [`ControllerError::OutcomeUnknown`]).
//!
//! A voter campaigns only when a majority of the quorum grants it a pre-vote (`pre_vote`): it
//! starts with openraft's elections switched off (unless it is the only voter), and its pre-vote
//! task switches them on and off.
//!
//! Broker registrations and heartbeats ([`Controller::register_broker`],
//! [`Controller::broker_heartbeat`]) travel the same way to the leader, where the cluster
//! manager (`cluster_manager`) answers them; its task, started here, fences brokers and elects
//! partition leaders while this node leads.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
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

use crate::bootstrap::propose_bootstrap;
use crate::bootstrap::read_bootstrap_metadata;
use crate::cluster_manager::ClusterManager;
use crate::command::CommandError;
use crate::command::CommandResult;
use crate::command::MetadataCommand;
use crate::config::ControllerConfig;
use crate::error::ControllerError;
use crate::image::MetadataImage;
use crate::lifecycle::BrokerHeartbeatReply;
use crate::lifecycle::BrokerHeartbeatRequest;
use crate::lifecycle::BrokerRegistrationRequest;
use crate::log_store::LogStore;
use crate::network::CallError;
use crate::network::ClientSettings;
use crate::network::NetworkFactory;
use crate::network::PeerClient;
use crate::pre_vote::PreVote;
use crate::proposers::LanePool;
use crate::proposers::Proposal;
use crate::quorum::QuorumDescription;
use crate::raft_types::NodeId;
use crate::raft_types::Raft;
use crate::rpc::AddLearnerReply;
use crate::rpc::LeaderReply;
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
/// A learner that no voter added waits this long before asking again.
const JOIN_RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// A node's role in the quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerRole {
    Leader,
    Follower,
    Candidate,
    /// A non-voting member, or a voter before the membership is known.
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
    /// Index of the last entry this node knows committed (on the leader the quorum's commit
    /// index, elsewhere the leader's as last heard); at least `last_applied_index`.
    pub committed_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    /// Last log index covered by this node's newest snapshot.
    pub snapshot_index: Option<u64>,
    /// Last log index removed from this node's log.
    pub purged_index: Option<u64>,
    pub voters: Vec<NodeId>,
    /// Non-voting members (openraft learners).
    pub learners: Vec<NodeId>,
}

/// One member of the controller quorum. Cheap to clone; clones share the node.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: ControllerConfig,
    raft: Raft,
    image: watch::Receiver<Arc<MetadataImage>>,
    local_addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    /// The listener task, the cluster manager's task, on a voter the pre-vote task, and on a
    /// non-voter the task asking to be added as a learner.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Lanes of this instance's proposals (see `proposers`).
    lanes: LanePool,
    /// Answers broker registrations and heartbeats while this node leads.
    manager: Arc<ClusterManager>,
}

/// What one attempt at a request to the leader gave.
enum Attempt<T> {
    Answered(T),
    /// No leader took the request: it had no effect.
    NotTaken,
    /// The request may have had an effect, which is unknown (this error says why).
    Unknown(ControllerError),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a push or a take: the data is consistent after a panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
            // In a quorum of several voters, pre-vote decides when this node may campaign.
            enable_elect: config.voters.len() <= 1,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ControllerError::Config(e.to_string()))?;
        let network = NetworkFactory {
            node_id: config.node_id,
            voters: Arc::new(config.voters.clone()),
            settings: config.client_settings(),
        };
        let log = log_store.clone();
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network,
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ControllerError::Raft(e.to_string()))?;

        let manager = Arc::new(ClusterManager::new(
            config.node_id,
            config.cluster.clone(),
            raft.clone(),
            log,
            image.clone(),
            config.command_bytes_max(),
            config.request_timeout(),
        ));
        let pre_vote = Arc::new(PreVote::new(
            config.node_id,
            Duration::from_millis(config.election_timeout_ms),
        ));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let server = tokio::spawn(serve(
            listener,
            raft.clone(),
            manager.clone(),
            pre_vote.clone(),
            ServerSettings {
                node_id: config.node_id,
                frame_bytes_max: config.frame_bytes_max,
                max_connections: config.max_connections,
                idle_timeout: CONNECTION_IDLE_TIMEOUT,
                request_timeout: config.request_timeout(),
                propose_timeout: config.request_timeout(),
                transport: config.transport.clone(),
            },
            shutdown_rx,
        ));
        let mut tasks = vec![
            server,
            tokio::spawn(manager.clone().run(shutdown_tx.subscribe())),
        ];
        if config.voter {
            tasks.push(tokio::spawn(pre_vote.run(
                raft.clone(),
                config.voters.clone(),
                config.client_settings(),
                shutdown_tx.subscribe(),
            )));
        } else {
            tasks.push(tokio::spawn(join_as_learner(
                config.node_id,
                local_addr,
                config.voters.clone(),
                config.client_settings(),
                config.request_timeout(),
                shutdown_tx.subscribe(),
            )));
        }
        tracing::info!(
            node_id = config.node_id,
            voter = config.voter,
            %local_addr,
            "controller started"
        );
        let config_node_id = config.node_id;
        let controller = Controller {
            inner: Arc::new(Inner {
                config,
                raft,
                image,
                local_addr,
                shutdown_tx,
                tasks: Mutex::new(tasks),
                lanes: LanePool::new(config_node_id),
                manager,
            }),
        };
        if let Err(e) = controller.bootstrap().await {
            let _ = controller.shutdown().await;
            return Err(e);
        }
        let dir = controller.inner.config.data_dir.clone();
        let read_dir = dir.clone();
        let bootstrap = tokio::task::spawn_blocking(move || read_bootstrap_metadata(&read_dir))
            .await
            .map_err(|e| ControllerError::Storage(e.to_string()));
        match bootstrap {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(commands))) => {
                let task = tokio::spawn(propose_bootstrap(
                    Arc::downgrade(&controller.inner),
                    dir,
                    commands,
                    controller.inner.shutdown_tx.subscribe(),
                ));
                lock(&controller.inner.tasks).push(task);
            }
            Ok(Err(e)) => {
                let _ = controller.shutdown().await;
                return Err(ControllerError::Storage(e.to_string()));
            }
            Err(e) => {
                let _ = controller.shutdown().await;
                return Err(e);
            }
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

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Controller {
        Controller { inner }
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

    /// Why this quorum member's Raft node stopped, if it did on an error (a storage failure
    /// of the metadata log, say); `None` while it runs or after a clean shutdown.
    pub fn failure(&self) -> Option<String> {
        match &self.inner.raft.metrics().borrow().running_state {
            Ok(()) | Err(openraft::error::Fatal::Stopped) => None,
            Err(fatal) => Some(fatal.to_string()),
        }
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
            committed_index: crate::quorum::committed_index(
                self.inner.manager.log(),
                metrics.last_applied.map(|l| l.index),
            ),
            last_applied_index: metrics.last_applied.map(|l| l.index),
            snapshot_index: metrics.snapshot.map(|l| l.index),
            purged_index: metrics.purged.map(|l| l.index),
            voters: metrics.membership_config.membership().voter_ids().collect(),
            learners: metrics
                .membership_config
                .membership()
                .learner_ids()
                .collect(),
        }
    }

    /// Proposes `command` from this node (forwarded to the leader if need be) and waits until it
    /// has committed and this node's [`Controller::image`] includes it: returns the result of
    /// applying it, which may be a [`CommandError`]. The command applies at
    /// most once however often it is sent: when an attempt's outcome is unknown it is sent again
    /// until `request_timeout_ms` has passed, and only then is the uncertainty returned (if this
    /// node applies the entry only after that, the committed result is returned all the same).
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
        let mut lane = self.inner.lanes.take();
        let proposal = lane.next_proposal(command);
        let result = self.send_until_answered(&proposal).await?;
        if config.resend_every_proposal {
            return self.send_until_answered(&proposal).await;
        }
        Ok(result)
    }

    /// Sends `proposal` to the leader until it is answered, within `request_timeout_ms`.
    async fn send_until_answered(
        &self,
        proposal: &Proposal,
    ) -> Result<CommandResult, ControllerError> {
        let deadline = Instant::now() + self.inner.config.request_timeout();
        let (log_index, result) = self
            .until_answered(|leader, timeout| self.propose_attempt(leader, proposal, timeout))
            .await?;
        self.wait_for_local_apply(log_index, deadline).await;
        Ok(result)
    }

    /// One attempt at `proposal` on `leader`: its log index and result when answered.
    async fn propose_attempt(
        &self,
        leader: NodeId,
        proposal: &Proposal,
        timeout: Duration,
    ) -> Attempt<(u64, CommandResult)> {
        let reply = if leader == self.node_id() {
            propose_local(&self.inner.raft, proposal.clone(), timeout).await
        } else {
            let body = RpcRequestBody::Propose(proposal.clone());
            match self.forward(leader, body, timeout).await {
                Ok(RpcResponse::Propose(reply)) => reply,
                Ok(other) => return unexpected_answer(other),
                Err(e) => return self.failed_call(e),
            }
        };
        match reply {
            ProposeReply::Applied { log_index, result } => Attempt::Answered((log_index, result)),
            ProposeReply::TimedOut => Attempt::Unknown(ControllerError::Timeout(
                self.inner.config.request_timeout(),
            )),
            ProposeReply::Failed(why) => {
                tracing::debug!("proposal failed on the leader, will send it again: {why}");
                Attempt::Unknown(ControllerError::OutcomeUnknown(why))
            }
            ProposeReply::NotLeader { .. } => Attempt::NotTaken,
        }
    }

    /// Makes `attempt`s on the leader this node knows of, again after every attempt that was
    /// not answered, within `request_timeout_ms`. When time runs out, the error says whether
    /// some attempt may have had an effect.
    async fn until_answered<T, F, Fut>(&self, mut attempt: F) -> Result<T, ControllerError>
    where
        F: FnMut(NodeId, Duration) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let config = &self.inner.config;
        let timeout = config.request_timeout();
        let deadline = Instant::now() + timeout;
        // An attempt gets part of the time so that one stuck on a lost leader leaves room for
        // another on the next leader.
        let attempt_timeout = (timeout / 2).max(Duration::from_millis(config.election_timeout_ms));
        let mut metrics = self.inner.raft.metrics();
        // Set once an attempt may have had an effect: running out of time is then reported as
        // that uncertainty, not as "not applied".
        let mut uncertain: Option<ControllerError> = None;
        loop {
            if *self.inner.shutdown_tx.borrow() {
                return Err(ControllerError::Shutdown);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(uncertain.unwrap_or(ControllerError::NoLeader(timeout)));
            }
            let leader = metrics.borrow().current_leader;
            if let Some(id) = leader {
                match attempt(id, remaining.min(attempt_timeout)).await {
                    Attempt::Answered(answer) => return Ok(answer),
                    Attempt::Unknown(e) => uncertain = Some(e),
                    Attempt::NotTaken => {}
                }
            }
            // Wait until another leader is known, or look again shortly.
            let pause = deadline
                .saturating_duration_since(Instant::now())
                .min(LEADER_POLL_INTERVAL);
            let new_leader =
                metrics.wait_for(|m| m.current_leader.is_some() && m.current_leader != leader);
            if let Ok(Err(_)) = tokio::time::timeout(pause, new_leader).await {
                return Err(ControllerError::Shutdown);
            }
        }
    }

    /// The attempt a failed call to the leader amounts to.
    fn failed_call<T>(&self, e: CallError) -> Attempt<T> {
        if e.not_sent() {
            tracing::debug!("request not forwarded, will retry: {e}");
            Attempt::NotTaken
        } else if let CallError::Timeout { .. } = e {
            Attempt::Unknown(ControllerError::Timeout(
                self.inner.config.request_timeout(),
            ))
        } else {
            tracing::debug!("forwarded request lost, will send it again: {e}");
            Attempt::Unknown(ControllerError::OutcomeUnknown(e.to_string()))
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
        body: RpcRequestBody,
        timeout: Duration,
    ) -> Result<RpcResponse, CallError> {
        let config = &self.inner.config;
        let mut client = PeerClient::new(
            config.node_id,
            leader,
            config.voters.get(&leader).copied(),
            config.client_settings(),
        );
        client.call(body, timeout).await
    }

    /// Registers (or re-registers) a broker through the active controller (forwarded there like
    /// [`Controller::propose`]); see `lifecycle` for the rules. Returns its broker epoch, or why
    /// the registration was refused (e.g. DUPLICATE_BROKER_REGISTRATION while another process
    /// holds the broker id); this node's [`Controller::image`] then includes the registration.
    /// A registration whose answer was lost is sent again; that is safe, as a retry (same
    /// incarnation id) gets the same epoch.
    pub async fn register_broker(
        &self,
        request: BrokerRegistrationRequest,
    ) -> Result<Result<i64, CommandError>, ControllerError> {
        let max = self.inner.config.command_bytes_max();
        let size = postcard::to_stdvec(&request)
            .map_err(|e| ControllerError::Raft(e.to_string()))?
            .len();
        if size > max {
            return Err(ControllerError::CommandTooLarge { size, max });
        }
        let deadline = Instant::now() + self.inner.config.request_timeout();
        let request = &request;
        let (result, log_index) = self
            .until_answered(|leader, timeout| async move {
                let reply = if leader == self.node_id() {
                    self.inner
                        .manager
                        .register_broker(request.clone(), timeout)
                        .await
                } else {
                    let body = RpcRequestBody::RegisterBroker(request.clone());
                    match self.forward(leader, body, timeout).await {
                        Ok(RpcResponse::RegisterBroker(reply)) => reply,
                        Ok(other) => return unexpected_answer(other),
                        Err(e) => return self.failed_call(e),
                    }
                };
                leader_attempt(reply)
            })
            .await?;
        if let Some(log_index) = log_index {
            self.wait_for_local_apply(log_index, deadline).await;
        }
        Ok(result)
    }

    /// A broker heartbeat, answered by the active controller (forwarded there): keeps the
    /// broker's session alive, unfences it once it has caught up with the metadata log, runs
    /// its controlled shutdown (see `lifecycle`). A heartbeat whose answer was lost is sent
    /// again.
    pub async fn broker_heartbeat(
        &self,
        request: BrokerHeartbeatRequest,
    ) -> Result<Result<BrokerHeartbeatReply, CommandError>, ControllerError> {
        let deadline = Instant::now() + self.inner.config.request_timeout();
        let request = &request;
        let (result, log_index) = self
            .until_answered(|leader, timeout| async move {
                let reply = if leader == self.node_id() {
                    self.inner
                        .manager
                        .broker_heartbeat(request.clone(), timeout)
                        .await
                } else {
                    let body = RpcRequestBody::BrokerHeartbeat(request.clone());
                    match self.forward(leader, body, timeout).await {
                        Ok(RpcResponse::BrokerHeartbeat(reply)) => reply,
                        Ok(other) => return unexpected_answer(other),
                        Err(e) => return self.failed_call(e),
                    }
                };
                leader_attempt(reply)
            })
            .await?;
        if let Some(log_index) = log_index {
            self.wait_for_local_apply(log_index, deadline).await;
        }
        Ok(result)
    }

    /// The quorum as its leader describes it (asked there when this node does not lead):
    /// leader, term, committed offset and each member's progress (Kafka's DescribeQuorum).
    pub async fn describe_quorum(&self) -> Result<QuorumDescription, ControllerError> {
        let (result, _) = self
            .until_answered(|leader, timeout| async move {
                let reply = if leader == self.node_id() {
                    crate::quorum::describe_local(&self.inner.raft, self.inner.manager.log())
                } else {
                    match self
                        .forward(leader, RpcRequestBody::DescribeQuorum, timeout)
                        .await
                    {
                        Ok(RpcResponse::DescribeQuorum(reply)) => reply,
                        Ok(other) => return unexpected_answer(other),
                        Err(e) => return self.failed_call(e),
                    }
                };
                leader_attempt(reply)
            })
            .await?;
        result.map_err(|e| ControllerError::Raft(e.to_string()))
    }

    /// Stops the listener and the Raft node and waits for them. Idempotent.
    pub async fn shutdown(&self) -> Result<(), ControllerError> {
        self.inner.shutdown_tx.send_replace(true);
        let result = self.inner.raft.shutdown().await;
        let tasks = std::mem::take(&mut *lock(&self.inner.tasks));
        for task in tasks {
            let _ = task.await;
        }
        tracing::info!(node_id = self.node_id(), "controller stopped");
        result.map_err(|e| ControllerError::Raft(e.to_string()))
    }
}

/// A peer answered with a response of another request: its outcome is unknown.
fn unexpected_answer<T>(response: RpcResponse) -> Attempt<T> {
    Attempt::Unknown(ControllerError::OutcomeUnknown(format!(
        "unexpected answer from the leader: {response:?}"
    )))
}

/// The attempt a leader's [`LeaderReply`] amounts to.
fn leader_attempt<T>(reply: LeaderReply<T>) -> Attempt<(Result<T, CommandError>, Option<u64>)> {
    match reply {
        LeaderReply::Answered { result, log_index } => Attempt::Answered((result, log_index)),
        LeaderReply::NotLeader { .. } => Attempt::NotTaken,
        LeaderReply::Failed(why) => {
            tracing::debug!("request failed on the leader, will send it again: {why}");
            Attempt::Unknown(ControllerError::OutcomeUnknown(why))
        }
    }
}

/// Appends `command` if this node leads and waits up to `timeout` for it to apply.
pub(crate) async fn propose_local(
    raft: &Raft,
    proposal: Proposal,
    timeout: Duration,
) -> ProposeReply {
    match tokio::time::timeout(timeout, raft.client_write(proposal)).await {
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

/// Adds `node_id` at `addr` as a learner if this node leads; waits up to `timeout` for the
/// membership change to commit. A node already a learner at that address is answered at once.
pub(crate) async fn add_learner_local(
    raft: &Raft,
    node_id: NodeId,
    addr: SocketAddr,
    timeout: Duration,
) -> AddLearnerReply {
    let node = BasicNode::new(addr);
    {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        if membership.voter_ids().any(|id| id == node_id) {
            return AddLearnerReply::Failed(format!("node {node_id} is a voter"));
        }
        if metrics.current_leader != Some(metrics.id) {
            return AddLearnerReply::NotLeader {
                leader: metrics.current_leader,
            };
        }
        if membership.get_node(&node_id) == Some(&node) {
            return AddLearnerReply::Added;
        }
    }
    match tokio::time::timeout(timeout, raft.add_learner(node_id, node, false)).await {
        Err(_) => AddLearnerReply::Failed("the membership change did not commit in time".into()),
        Ok(Ok(_)) => {
            tracing::info!(node_id, %addr, "learner added");
            AddLearnerReply::Added
        }
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
            AddLearnerReply::NotLeader {
                leader: forward.leader_id,
            }
        }
        Ok(Err(e)) => AddLearnerReply::Failed(e.to_string()),
    }
}

/// On a non-voter: asks the voters in turn (the leader first once one names it) to add this
/// node as a learner, until one has or the controller shuts down.
async fn join_as_learner(
    node_id: NodeId,
    addr: SocketAddr,
    voters: BTreeMap<NodeId, SocketAddr>,
    settings: ClientSettings,
    timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let voter_ids: Vec<NodeId> = voters.keys().copied().collect();
    let mut turn = 0usize;
    let mut leader_hint: Option<NodeId> = None;
    loop {
        let target = match leader_hint.take() {
            Some(leader) => leader,
            None => {
                let Some(&target) = voter_ids.get(turn % voter_ids.len().max(1)) else {
                    return;
                };
                turn = turn.wrapping_add(1);
                target
            }
        };
        let mut client = PeerClient::new(
            node_id,
            target,
            voters.get(&target).copied(),
            settings.clone(),
        );
        let call = client.call(RpcRequestBody::AddLearner { node_id, addr }, timeout);
        let response = tokio::select! {
            _ = shutdown.wait_for(|&stop| stop) => return,
            response = call => response,
        };
        match response {
            Ok(RpcResponse::AddLearner(AddLearnerReply::Added)) => {
                tracing::info!(
                    node_id,
                    by = target,
                    "joined the controller quorum as a learner"
                );
                return;
            }
            Ok(RpcResponse::AddLearner(AddLearnerReply::NotLeader {
                leader: Some(leader),
            })) if leader != target && voters.contains_key(&leader) => {
                leader_hint = Some(leader);
                continue;
            }
            Ok(other) => tracing::debug!(target, "not added as a learner: {other:?}"),
            Err(e) => tracing::debug!(target, "not added as a learner: {e}"),
        }
        tokio::select! {
            _ = shutdown.wait_for(|&stop| stop) => return,
            _ = tokio::time::sleep(JOIN_RETRY_INTERVAL) => {}
        }
    }
}
