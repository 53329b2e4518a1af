//! [`ClusterManager`]: the active controller's management of brokers and partition leaders,
//! the I/O around the sans-I/O decisions of `lifecycle` and `elections`.
//!
//! Every controller has one; it acts only while its node leads the Raft quorum:
//! - broker registrations and heartbeats reach it, on the leader, through
//!   [`Controller::register_broker`](crate::Controller::register_broker) and
//!   [`Controller::broker_heartbeat`](crate::Controller::broker_heartbeat) (forwarded by other
//!   nodes over the controller listener); elsewhere it answers "not leader";
//! - its task checks every `check_interval_ms`: it fences brokers whose session expired, elects
//!   leaders for partitions without one, and every `leader_imbalance_check_interval_ms` (with
//!   `auto_leader_rebalance`) moves leadership back to preferred replicas.
//!
//! Its writes are proposals appended on this node (never forwarded: if leadership is lost the
//! request fails and the broker sends it again to the new leader) and are serialized, like the
//! events of Kafka's controller: each is computed from the image as the previous one left it.
//! A change that loses a race with another writer (an AlterPartition, say) is rejected by the
//! image's epoch checks and computed again at the next check or heartbeat.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;

use openraft::ServerState;
use tokio::sync::watch;
use tokio::sync::Notify;

use crate::command::CommandError;
use crate::command::CommandOutput;
use crate::command::CommandResult;
use crate::command::MetadataCommand;
use crate::config::ClusterManagerConfig;
use crate::controller::propose_local;
use crate::elections::controller_unclean_default;
use crate::elections::leader_elections;
use crate::elections::preferred_leader_elections;
use crate::image::MetadataImage;
use crate::lifecycle::check_heartbeat;
use crate::lifecycle::fence_command;
use crate::lifecycle::heartbeat_command;
use crate::lifecycle::heartbeat_reply;
use crate::lifecycle::registration_command;
use crate::lifecycle::BrokerHeartbeatReply;
use crate::lifecycle::BrokerHeartbeatRequest;
use crate::lifecycle::BrokerRegistrationRequest;
use crate::lifecycle::BrokerSessions;
use crate::log_store::LogStore;
use crate::proposers::LanePool;
use crate::quorum::committed_index;
use crate::raft_types::NodeId;
use crate::raft_types::Raft;
use crate::rpc::LeaderReply;
use crate::rpc::ProposeReply;

/// A registration batch that lost a race with a partition change is computed again this many
/// times before its error is returned.
const REGISTRATION_ATTEMPTS: usize = 3;

pub(crate) struct ClusterManager {
    node_id: NodeId,
    config: ClusterManagerConfig,
    raft: Raft,
    /// This node's Raft log: its committed index goes into heartbeat replies.
    log: LogStore,
    image: watch::Receiver<Arc<MetadataImage>>,
    sessions: Mutex<BrokerSessions>,
    /// Held while a write is computed and proposed (see the module doc).
    writes: tokio::sync::Mutex<()>,
    /// Runs a check at once (after a broker is unfenced: partitions may now get a leader).
    wake: Notify,
    lanes: LanePool,
    /// Largest command this node proposes (half a frame, as `Controller::propose`).
    command_bytes_max: usize,
    /// How long a proposal may wait for its commit.
    propose_timeout: Duration,
}

/// Partition changes proposed together in one log entry by a check (each is a few dozen bytes
/// of JSON; the batch stays far below the command size limit).
const CHANGES_PER_BATCH: usize = 1000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Sessions are updated in single assignments: consistent after a panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

/// A batch rejected because the image moved under it (computed again, it may apply).
fn lost_a_race(error: &CommandError) -> bool {
    let CommandError::BatchFailed { error, .. } = error else {
        return false;
    };
    matches!(
        **error,
        CommandError::FencedLeaderEpoch { .. }
            | CommandError::InvalidUpdateVersion { .. }
            | CommandError::StaleBrokerEpoch { .. }
    )
}

/// A partition change, for logs.
fn describe(change: &MetadataCommand) -> String {
    match change {
        MetadataCommand::ChangePartition {
            topic_id,
            partition,
            leader,
            isr,
            ..
        } => format!("topic id {topic_id} partition {partition}: leader {leader:?}, isr {isr:?}"),
        other => format!("{other:?}"),
    }
}

/// The epoch a registration command (plain or the last of a batch) returned.
fn registered_epoch(result: CommandResult) -> Result<i64, CommandError> {
    let output = match result {
        Ok(CommandOutput::Batch(outputs)) => outputs.into_iter().last(),
        Ok(output) => Some(output),
        // The broker asked to register: why a batch failed is its answer.
        Err(CommandError::BatchFailed { error, .. }) => return Err(*error),
        Err(error) => return Err(error),
    };
    match output {
        Some(CommandOutput::BrokerRegistered { broker_epoch }) => Ok(broker_epoch),
        other => Err(CommandError::InvalidRequest(format!(
            "a registration applied with the unexpected output {other:?}"
        ))),
    }
}

impl ClusterManager {
    pub(crate) fn new(
        node_id: NodeId,
        config: ClusterManagerConfig,
        raft: Raft,
        log: LogStore,
        image: watch::Receiver<Arc<MetadataImage>>,
        command_bytes_max: usize,
        propose_timeout: Duration,
    ) -> Self {
        let session_timeout = Duration::from_millis(config.session_timeout_ms);
        ClusterManager {
            node_id,
            config,
            raft,
            log,
            image,
            sessions: Mutex::new(BrokerSessions::new(session_timeout)),
            writes: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            lanes: LanePool::new(node_id),
            command_bytes_max,
            propose_timeout,
        }
    }

    /// This node's term while it leads; otherwise the leader it knows of.
    fn leader_term(&self) -> Result<u64, Option<NodeId>> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        if metrics.state == ServerState::Leader {
            Ok(metrics.current_term)
        } else {
            Err(metrics.current_leader)
        }
    }

    /// This node's Raft log.
    pub(crate) fn log(&self) -> &LogStore {
        &self.log
    }

    /// The index of the last metadata entry this node knows committed, 0 when none (see
    /// [`committed_index`]); on the leader, the quorum's.
    fn committed_offset(&self) -> u64 {
        let last_applied = self.raft.metrics().borrow().last_applied.map(|l| l.index);
        committed_index(&self.log, last_applied).unwrap_or(0)
    }

    /// The image with every entry this node applied (on the leader, every write it made).
    fn latest_image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    /// `unclean.leader.election.enable` for topics without their own value: this node's
    /// dynamic config, the cluster-wide default, or the config file's (as Kafka's controller).
    fn unclean_default(&self, image: &MetadataImage) -> bool {
        controller_unclean_default(image, self.node_id, self.config.unclean_leader_election)
    }

    /// The sessions, started for `term` if that is new.
    fn sessions(
        &self,
        term: u64,
        image: &MetadataImage,
        now: Instant,
    ) -> MutexGuard<'_, BrokerSessions> {
        let mut sessions = lock(&self.sessions);
        sessions.begin_term(term, image, now);
        sessions
    }

    /// Appends `command` on this node (if it leads) and waits for it to apply.
    async fn propose(&self, command: MetadataCommand, timeout: Duration) -> ProposeReply {
        match postcard::to_stdvec(&command) {
            Ok(bytes) if bytes.len() <= self.command_bytes_max => {}
            Ok(bytes) => {
                return ProposeReply::Failed(format!(
                    "a command of {} bytes exceeds the {}-byte limit",
                    bytes.len(),
                    self.command_bytes_max
                ))
            }
            Err(e) => return ProposeReply::Failed(e.to_string()),
        }
        let mut lane = self.lanes.take();
        let proposal = lane.next_proposal(command);
        propose_local(&self.raft, proposal, timeout).await
    }

    /// Handles a registration on the leader (rules in `lifecycle`).
    pub(crate) async fn register_broker(
        &self,
        request: BrokerRegistrationRequest,
        timeout: Duration,
    ) -> LeaderReply<i64> {
        let term = match self.leader_term() {
            Ok(term) => term,
            Err(leader) => return LeaderReply::NotLeader { leader },
        };
        let ours = &self.config.cluster_id;
        if !ours.is_empty() && !request.cluster_id.is_empty() && request.cluster_id != *ours {
            return LeaderReply::Answered {
                result: Err(CommandError::InconsistentClusterId {
                    broker_id: request.broker_id,
                    broker_cluster_id: request.cluster_id.clone(),
                    cluster_id: ours.clone(),
                }),
                log_index: None,
            };
        }
        let _writes = self.writes.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let image = self.latest_image();
            let now = Instant::now();
            let old_session_valid =
                self.sessions(term, &image, now)
                    .has_valid_session(&image, request.broker_id, now);
            let command = match registration_command(
                &image,
                &request,
                now_ms(),
                old_session_valid,
                self.unclean_default(&image),
            ) {
                Ok(command) => command,
                Err(error) => {
                    return LeaderReply::Answered {
                        result: Err(error),
                        log_index: None,
                    }
                }
            };
            let unclean_restart = matches!(command, MetadataCommand::Batch(_));
            let (log_index, result) = match self.propose(command, timeout).await {
                ProposeReply::Applied { log_index, result } => (log_index, result),
                ProposeReply::NotLeader { leader } => return LeaderReply::NotLeader { leader },
                ProposeReply::TimedOut => {
                    return LeaderReply::Failed("the registration did not commit in time".into())
                }
                ProposeReply::Failed(why) => return LeaderReply::Failed(why),
            };
            if let Err(error) = &result {
                if lost_a_race(error) && attempt < REGISTRATION_ATTEMPTS {
                    continue;
                }
            }
            let result = registered_epoch(result);
            if let Ok(broker_epoch) = result {
                let now = Instant::now();
                self.sessions(term, &image, now)
                    .heard_from(request.broker_id, broker_epoch, now);
                tracing::info!(
                    broker_id = request.broker_id,
                    broker_epoch,
                    incarnation_id = %request.incarnation_id,
                    unclean_restart,
                    "broker registered"
                );
            }
            return LeaderReply::Answered {
                result,
                log_index: Some(log_index),
            };
        }
    }

    /// Answers a heartbeat on the leader (rules in `lifecycle`).
    pub(crate) async fn broker_heartbeat(
        &self,
        request: BrokerHeartbeatRequest,
        timeout: Duration,
    ) -> LeaderReply<BrokerHeartbeatReply> {
        let term = match self.leader_term() {
            Ok(term) => term,
            Err(leader) => return LeaderReply::NotLeader { leader },
        };
        let image = self.latest_image();
        let unclean = self.unclean_default(&image);
        if let Err(error) = check_heartbeat(&image, &request) {
            return LeaderReply::Answered {
                result: Err(error),
                log_index: None,
            };
        }
        let now = Instant::now();
        self.sessions(term, &image, now)
            .heard_from(request.broker_id, request.broker_epoch, now);
        if heartbeat_command(&image, &request, unclean).is_none() {
            return LeaderReply::Answered {
                result: Ok(heartbeat_reply(&image, &request, self.committed_offset())),
                log_index: None,
            };
        }

        let _writes = self.writes.lock().await;
        // Decide again on the image as the writes before this one left it.
        let image = self.latest_image();
        if let Err(error) = check_heartbeat(&image, &request) {
            return LeaderReply::Answered {
                result: Err(error),
                log_index: None,
            };
        }
        let mut log_index = None;
        if let Some(command) = heartbeat_command(&image, &request, unclean) {
            let unfence = match &command {
                MetadataCommand::UnfenceBroker { .. } => true,
                MetadataCommand::Batch(commands) => {
                    matches!(
                        commands.first(),
                        Some(MetadataCommand::UnfenceBroker { .. })
                    )
                }
                _ => false,
            };
            match self.propose(command, timeout).await {
                ProposeReply::Applied {
                    log_index: index,
                    result,
                } => {
                    log_index = Some(index);
                    match result {
                        Ok(_) if unfence => {
                            tracing::info!(broker_id = request.broker_id, "broker unfenced");
                            self.wake.notify_one();
                        }
                        Ok(_) if request.want_fence || request.want_shutdown => tracing::info!(
                            broker_id = request.broker_id,
                            controlled_shutdown = request.want_shutdown,
                            "broker fenced at its request; its leaderships moved"
                        ),
                        Ok(_) => tracing::warn!(
                            broker_id = request.broker_id,
                            offline_log_dirs = request.offline_log_dirs.len(),
                            offline_replicas = request.offline_replicas.len(),
                            "broker reported offline log directories; their replicas' \
                             leaderships moved"
                        ),
                        // The next heartbeat tries again on a newer image.
                        Err(error) => tracing::debug!(
                            broker_id = request.broker_id,
                            "heartbeat change not applied: {error}"
                        ),
                    }
                }
                ProposeReply::NotLeader { leader } => return LeaderReply::NotLeader { leader },
                ProposeReply::TimedOut => {
                    return LeaderReply::Failed(
                        "the heartbeat's change did not commit in time".into(),
                    )
                }
                ProposeReply::Failed(why) => return LeaderReply::Failed(why),
            }
        }
        LeaderReply::Answered {
            result: Ok(heartbeat_reply(
                &self.latest_image(),
                &request,
                self.committed_offset(),
            )),
            log_index,
        }
    }

    /// The manager's task: a check every `check_interval_ms` (or when woken) while this node
    /// leads, until `shutdown`.
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let check_interval = Duration::from_millis(self.config.check_interval_ms);
        let rebalance_interval =
            Duration::from_millis(self.config.leader_imbalance_check_interval_ms);
        let mut led_term = None;
        let mut next_rebalance = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|&stop| stop) => return,
                _ = tokio::time::sleep(check_interval) => {}
                _ = self.wake.notified() => {}
            }
            let Ok(term) = self.leader_term() else {
                led_term = None;
                continue;
            };
            let now = Instant::now();
            if led_term != Some(term) {
                // As Kafka: the first rebalance one interval after becoming leader.
                led_term = Some(term);
                next_rebalance = now + rebalance_interval;
            }
            let rebalance = self.config.auto_leader_rebalance && now >= next_rebalance;
            if rebalance {
                next_rebalance = now + rebalance_interval;
            }
            tokio::select! {
                _ = shutdown.wait_for(|&stop| stop) => return,
                _ = self.check(term, rebalance) => {}
            }
        }
    }

    /// Fences brokers whose session expired, elects leaders where partitions have none, and
    /// with `rebalance` moves leadership to preferred replicas. Stops at the first proposal
    /// that fails for want of leadership; the next check starts over.
    async fn check(&self, term: u64, rebalance: bool) {
        let _writes = self.writes.lock().await;
        let unclean = self.unclean_default(&self.latest_image());
        let expired = {
            let image = self.latest_image();
            let now = Instant::now();
            self.sessions(term, &image, now).expired(&image, now)
        };
        for broker_id in expired {
            let image = self.latest_image();
            let now = Instant::now();
            // A heartbeat may have come while earlier brokers were fenced.
            if !self
                .sessions(term, &image, now)
                .expired(&image, now)
                .contains(&broker_id)
            {
                continue;
            }
            let Some(command) = fence_command(&image, broker_id, unclean) else {
                continue;
            };
            let what = format!("broker {broker_id} fenced: its session expired");
            if !self.propose_change(command, &what).await {
                return;
            }
        }
        let elections = leader_elections(&self.latest_image(), unclean);
        if !self.propose_changes(elections, "leader election").await {
            return;
        }
        if rebalance {
            let preferred = preferred_leader_elections(&self.latest_image());
            self.propose_changes(preferred, "preferred leader election")
                .await;
        }
    }

    /// Proposes independent partition changes built from one image as batches of at most
    /// [`CHANGES_PER_BATCH`] (one log entry each, instead of one per partition); a batch that
    /// fails (another change raced one of its partitions) is retried change by change. False
    /// when the check should stop.
    async fn propose_changes(&self, changes: Vec<MetadataCommand>, kind: &str) -> bool {
        for chunk in changes.chunks(CHANGES_PER_BATCH) {
            for change in chunk {
                tracing::debug!("{kind}: {}", describe(change));
            }
            if chunk.len() == 1 {
                let what = format!("{kind}: {}", describe(&chunk[0]));
                if !self.propose_change(chunk[0].clone(), &what).await {
                    return false;
                }
                continue;
            }
            let batch = MetadataCommand::Batch(chunk.to_vec());
            match self.propose(batch, self.propose_timeout).await {
                ProposeReply::Applied {
                    result: Ok(_),
                    log_index,
                } => {
                    tracing::info!(log_index, "{kind}: {} partition(s) changed", chunk.len());
                }
                ProposeReply::Applied {
                    result: Err(error), ..
                } => {
                    tracing::debug!("{kind} batch not applied ({error}); one by one");
                    for change in chunk {
                        let what = format!("{kind}: {}", describe(change));
                        if !self.propose_change(change.clone(), &what).await {
                            return false;
                        }
                    }
                }
                ProposeReply::NotLeader { .. } => return false,
                ProposeReply::TimedOut => {
                    tracing::warn!(
                        "{kind} of {} partition(s) did not commit in time",
                        chunk.len()
                    );
                    return false;
                }
                ProposeReply::Failed(why) => {
                    tracing::warn!("{kind} of {} partition(s) failed: {why}", chunk.len());
                    return false;
                }
            }
        }
        true
    }

    /// Proposes one change of a check; false when the check should stop (leadership lost, the
    /// quorum not answering).
    async fn propose_change(&self, command: MetadataCommand, what: &str) -> bool {
        match self.propose(command, self.propose_timeout).await {
            ProposeReply::Applied {
                result: Ok(_),
                log_index,
            } => {
                tracing::info!(log_index, "{what}");
                true
            }
            ProposeReply::Applied {
                result: Err(error), ..
            } => {
                tracing::debug!("not applied, the next check retries: {what}: {error}");
                true
            }
            ProposeReply::NotLeader { .. } => false,
            ProposeReply::TimedOut => {
                tracing::warn!("did not commit in time: {what}");
                false
            }
            ProposeReply::Failed(why) => {
                tracing::warn!("failed: {what}: {why}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_results() {
        assert_eq!(
            registered_epoch(Ok(CommandOutput::BrokerRegistered { broker_epoch: 4 })),
            Ok(4)
        );
        let batch = CommandOutput::Batch(vec![
            CommandOutput::Done,
            CommandOutput::BrokerRegistered { broker_epoch: 9 },
        ]);
        assert_eq!(registered_epoch(Ok(batch)), Ok(9));
        let failed = CommandError::BatchFailed {
            index: 2,
            error: Box::new(CommandError::InvalidRequest("no host".into())),
        };
        assert!(!lost_a_race(&failed));
        assert_eq!(
            registered_epoch(Err(failed)),
            Err(CommandError::InvalidRequest("no host".into()))
        );
        let race = CommandError::BatchFailed {
            index: 1,
            error: Box::new(CommandError::InvalidUpdateVersion {
                current: 2,
                requested: 1,
            }),
        };
        assert!(lost_a_race(&race));
        assert!(registered_epoch(Ok(CommandOutput::Done)).is_err());
    }
}
