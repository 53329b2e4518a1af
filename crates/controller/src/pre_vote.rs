//! Pre-vote (Kafka's KIP-996, Raft thesis section 9.6) in front of openraft 0.9, which has none:
//! a voter campaigns only when a majority of the quorum would vote for it, so that a voter cut
//! off from the quorum does not raise its term. Without it, the cut-off voter campaigns over and
//! over, each time with a higher term; when the partition heals, the leader's AppendEntries meet
//! that term, the leader steps down and the quorum has no leader until a new election ends.
//!
//! openraft campaigns on its own timer (a follower waits a leader lease of twice the election
//! timeout plus a random election timeout after it last heard from the leader); what it offers
//! for control is the switch `runtime_config().elect(bool)`, which it reads at every timer tick.
//! Each voter runs [`PreVote::run`], which keeps that switch off unless a majority grants it:
//!
//! - every `election_timeout / 4` it looks at its own state ([`VoterView::next_step`]): the
//!   leader, and a follower that heard from a live leader within the election timeout, need no
//!   election (switch off); a voter alone in its quorum always may (switch on); any other voter
//!   asks every other voter for a pre-vote ([`PreVoteRequest`], over the controller RPC, each
//!   bounded by `election_timeout / 2`);
//! - a voter grants a pre-vote ([`VoterView::answer`]) unless it heard from a live leader within
//!   the election timeout (it leads and a quorum acknowledged it, or it accepted AppendEntries or
//!   a snapshot chunk from a leader), or its log is more up to date than the candidate's (the
//!   comparison of openraft's vote);
//! - the switch is turned on as soon as the grants, counting the voter's own, make a majority of
//!   every voter set of the membership ([`elections_allowed`]), and off after a round without.
//!
//! A real failover is not slowed: peers grant once they have not heard from the leader for one
//! election timeout, so the switch is on a quarter of an election timeout or so later, long
//! before openraft's own timer (three to four election timeouts) fires.
//!
//! Pre-votes only gate liveness: nothing is persisted and a grant binds no one. Safety rests on
//! openraft's real votes as before. A voter of an older version does not know the request and
//! closes the connection: it counts as a refusal, so during a rolling upgrade an upgraded voter
//! campaigns only with a majority of upgraded voters, while older voters campaign as they did.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;

use openraft::ServerState;
use serde::Deserialize;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio::time::MissedTickBehavior;

use crate::network::ClientSettings;
use crate::network::PeerClient;
use crate::raft_types::LogId;
use crate::raft_types::NodeId;
use crate::raft_types::Raft;
use crate::rpc::RpcRequestBody;
use crate::rpc::RpcResponse;

/// "Would you vote for me in the next term?", from a voter that has not heard from a leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PreVoteRequest {
    pub candidate: NodeId,
    /// The term the candidate would campaign for (its current term + 1). For the logs: a voter
    /// in a higher term rejects the real vote, but the candidate then adopts that term and its
    /// next campaign can succeed, so a lower term is no reason to refuse.
    pub next_term: u64,
    /// The candidate's last log id.
    pub last_log_id: Option<LogId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PreVoteReply {
    Granted,
    /// The voter heard from a live leader (`leader` as far as it knows) within the election
    /// timeout.
    LeaderAlive {
        leader: Option<NodeId>,
    },
    /// The voter's log is more up to date than the candidate's.
    LogBehind {
        voter_last_log_id: Option<LogId>,
    },
}

/// What a voter knows when it answers a pre-vote or decides whether to campaign.
#[derive(Clone, Debug)]
pub(crate) struct VoterView {
    pub node_id: NodeId,
    pub state: ServerState,
    pub current_leader: Option<NodeId>,
    pub term: u64,
    pub last_log_id: Option<LogId>,
    /// On the leader: time since a quorum last acknowledged it (unknown right after election).
    pub since_quorum_ack: Option<Duration>,
    /// Time since this node last accepted AppendEntries or a snapshot chunk from a leader.
    pub since_leader_contact: Option<Duration>,
    /// The voter sets of the effective membership: one, or two during a joint change. Empty
    /// before the node knows the membership.
    pub voter_sets: Vec<BTreeSet<NodeId>>,
}

/// What a voter does about elections next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NextStep {
    /// Set the election switch, without asking anyone.
    Elect(bool),
    /// Ask these voters for a pre-vote.
    Probe(Vec<NodeId>),
}

impl VoterView {
    /// True when this node leads with a quorum behind it, or follows a leader it heard from
    /// within `election_timeout`.
    fn hears_live_leader(&self, election_timeout: Duration) -> bool {
        if self.state == ServerState::Leader {
            // Without an acknowledgement yet, the leader was just elected by a quorum.
            self.since_quorum_ack.is_none_or(|d| d < election_timeout)
        } else {
            self.since_leader_contact
                .is_some_and(|d| d < election_timeout)
        }
    }

    /// This voter's answer to `request`.
    pub(crate) fn answer(
        &self,
        request: &PreVoteRequest,
        election_timeout: Duration,
    ) -> PreVoteReply {
        if self.hears_live_leader(election_timeout) {
            let leader = match self.state {
                ServerState::Leader => Some(self.node_id),
                _ => self.current_leader,
            };
            return PreVoteReply::LeaderAlive { leader };
        }
        // The real vote's condition: the candidate's log is at least as up to date.
        if request.last_log_id < self.last_log_id {
            return PreVoteReply::LogBehind {
                voter_last_log_id: self.last_log_id,
            };
        }
        PreVoteReply::Granted
    }

    pub(crate) fn next_step(&self, election_timeout: Duration) -> NextStep {
        let voters: BTreeSet<NodeId> = self.voter_sets.iter().flatten().copied().collect();
        if !voters.contains(&self.node_id) || self.hears_live_leader(election_timeout) {
            return NextStep::Elect(false);
        }
        if voters.len() == 1 {
            return NextStep::Elect(true);
        }
        NextStep::Probe(
            voters
                .into_iter()
                .filter(|&id| id != self.node_id)
                .collect(),
        )
    }

    pub(crate) fn request(&self) -> PreVoteRequest {
        PreVoteRequest {
            candidate: self.node_id,
            next_term: self.term + 1,
            last_log_id: self.last_log_id,
        }
    }
}

/// True when `granted` together with `node_id` holds a majority of every set in `voter_sets`
/// (openraft's quorum rule, joint memberships included).
pub(crate) fn elections_allowed(
    voter_sets: &[BTreeSet<NodeId>],
    node_id: NodeId,
    granted: &BTreeSet<NodeId>,
) -> bool {
    !voter_sets.is_empty()
        && voter_sets.iter().all(|voters| {
            let votes = voters
                .iter()
                .filter(|&&id| id == node_id || granted.contains(&id))
                .count();
            votes * 2 > voters.len()
        })
}

/// The period of pre-vote rounds and the bound of one pre-vote call.
fn probe_timing(election_timeout: Duration) -> (Duration, Duration) {
    let floor = Duration::from_millis(1);
    (
        (election_timeout / 4).max(floor),
        (election_timeout / 2).max(floor),
    )
}

/// This node's side of pre-vote: the answers it gives (from the controller listener), and on a
/// voter the task that sets openraft's election switch.
pub(crate) struct PreVote {
    node_id: NodeId,
    /// Kafka's `controller.quorum.election.timeout.ms`, openraft's `election_timeout_min`.
    election_timeout: Duration,
    /// When this node last accepted AppendEntries or a snapshot chunk from a leader.
    leader_contact: Mutex<Option<Instant>>,
}

impl PreVote {
    pub(crate) fn new(node_id: NodeId, election_timeout: Duration) -> Self {
        PreVote {
            node_id,
            election_timeout,
            leader_contact: Mutex::new(None),
        }
    }

    /// Records that a leader's AppendEntries or snapshot chunk was just accepted.
    pub(crate) fn heard_from_leader(&self) {
        let mut contact = self
            .leader_contact
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *contact = Some(Instant::now());
    }

    fn view(&self, raft: &Raft) -> VoterView {
        let last_log_id = raft.data_metrics().borrow().last_log;
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let since_leader_contact = self
            .leader_contact
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|at| at.elapsed());
        VoterView {
            node_id: self.node_id,
            state: metrics.state,
            current_leader: metrics.current_leader,
            term: metrics.current_term,
            last_log_id,
            since_quorum_ack: metrics.millis_since_quorum_ack.map(Duration::from_millis),
            since_leader_contact,
            voter_sets: metrics
                .membership_config
                .membership()
                .get_joint_config()
                .clone(),
        }
    }

    /// Answers a pre-vote request from another voter.
    pub(crate) fn answer(&self, raft: &Raft, request: &PreVoteRequest) -> PreVoteReply {
        let view = self.view(raft);
        let reply = view.answer(request, self.election_timeout);
        tracing::debug!(?request, ?reply, term = view.term, "pre-vote answered");
        reply
    }

    /// Sets openraft's election switch from pre-vote rounds until `shutdown` (see the module
    /// doc). `voters` are the controller addresses of the voters.
    pub(crate) async fn run(
        self: Arc<Self>,
        raft: Raft,
        voters: BTreeMap<NodeId, SocketAddr>,
        settings: ClientSettings,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let (period, call_timeout) = probe_timing(self.election_timeout);
        let mut rounds = tokio::time::interval(period);
        rounds.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Kept between consecutive rounds, which then reuse the connections of the last one;
        // dropped when a round asks no one, so that no connection idles (the peer would close
        // it, and the first call of the next round would fail on it).
        let mut clients: BTreeMap<NodeId, PeerClient> = BTreeMap::new();
        let mut switch = Switch {
            raft: &raft,
            on: None,
        };
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|&stop| stop) => return,
                _ = rounds.tick() => {}
            }
            let view = self.view(&raft);
            let peers = match view.next_step(self.election_timeout) {
                NextStep::Elect(on) => {
                    clients.clear();
                    switch.set(on, &view);
                    continue;
                }
                NextStep::Probe(peers) => peers,
            };
            let mut calls = JoinSet::new();
            for peer in peers {
                let mut client = clients.remove(&peer).unwrap_or_else(|| {
                    PeerClient::new(
                        self.node_id,
                        peer,
                        voters.get(&peer).copied(),
                        settings.clone(),
                    )
                });
                let body = RpcRequestBody::PreVote(view.request());
                calls.spawn(async move {
                    let response = client.call(body, call_timeout).await;
                    (peer, client, response)
                });
            }
            let mut granted = BTreeSet::new();
            let mut allowed = false;
            loop {
                let joined = tokio::select! {
                    // Dropping `calls` aborts the calls in flight.
                    _ = shutdown.wait_for(|&stop| stop) => return,
                    joined = calls.join_next() => joined,
                };
                let Some(joined) = joined else {
                    break;
                };
                let Ok((peer, client, response)) = joined else {
                    continue;
                };
                clients.insert(peer, client);
                match response {
                    Ok(RpcResponse::PreVote(PreVoteReply::Granted)) => {
                        granted.insert(peer);
                    }
                    Ok(other) => tracing::debug!(peer, "pre-vote refused: {other:?}"),
                    Err(e) => tracing::debug!(peer, "no pre-vote: {e}"),
                }
                // Switched on at once: the remaining calls may wait for a cut-off peer.
                if !allowed && elections_allowed(&view.voter_sets, self.node_id, &granted) {
                    allowed = true;
                    switch.set(true, &view);
                }
            }
            if !allowed {
                switch.set(false, &view);
            }
        }
    }
}

/// openraft's election switch, with its changes logged.
struct Switch<'a> {
    raft: &'a Raft,
    /// Last value set; unknown before the first round (the Raft config's `enable_elect`).
    on: Option<bool>,
}

impl Switch<'_> {
    fn set(&mut self, on: bool, view: &VoterView) {
        self.raft.runtime_config().elect(on);
        if self.on == Some(on) {
            return;
        }
        self.on = Some(on);
        if on {
            tracing::info!(
                node_id = view.node_id,
                term = view.term,
                "no live leader and a majority grants a pre-vote: elections enabled"
            );
        } else {
            tracing::debug!(
                node_id = view.node_id,
                term = view.term,
                leader = ?view.current_leader,
                "elections disabled until a majority grants a pre-vote"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;

    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(1000);

    fn log_id(term: u64, index: u64) -> Option<LogId> {
        Some(LogId::new(CommittedLeaderId::new(term, 1), index))
    }

    fn ms(millis: u64) -> Option<Duration> {
        Some(Duration::from_millis(millis))
    }

    /// Voter 2 of {1, 2, 3}, following leader 1, last heard from it 100 ms ago.
    fn follower() -> VoterView {
        VoterView {
            node_id: 2,
            state: ServerState::Follower,
            current_leader: Some(1),
            term: 4,
            last_log_id: log_id(4, 10),
            since_quorum_ack: None,
            since_leader_contact: ms(100),
            voter_sets: vec![BTreeSet::from([1, 2, 3])],
        }
    }

    fn request(last_log_id: Option<LogId>) -> PreVoteRequest {
        PreVoteRequest {
            candidate: 3,
            next_term: 5,
            last_log_id,
        }
    }

    #[test]
    fn a_follower_of_a_live_leader_refuses() {
        assert_eq!(
            follower().answer(&request(log_id(4, 20)), TIMEOUT),
            PreVoteReply::LeaderAlive { leader: Some(1) }
        );
        // Just short of the election timeout the leader still counts as alive.
        let mut view = follower();
        view.since_leader_contact = ms(999);
        assert!(matches!(
            view.answer(&request(log_id(4, 20)), TIMEOUT),
            PreVoteReply::LeaderAlive { .. }
        ));
    }

    #[test]
    fn without_a_live_leader_the_log_decides() {
        let mut view = follower();
        view.since_leader_contact = ms(1000);
        assert_eq!(
            view.answer(&request(log_id(4, 10)), TIMEOUT),
            PreVoteReply::Granted
        );
        assert_eq!(
            view.answer(&request(log_id(5, 3)), TIMEOUT),
            PreVoteReply::Granted,
            "a later term outweighs a shorter log"
        );
        for behind in [log_id(4, 9), log_id(3, 50), None] {
            assert_eq!(
                view.answer(&request(behind), TIMEOUT),
                PreVoteReply::LogBehind {
                    voter_last_log_id: log_id(4, 10)
                },
                "{behind:?}"
            );
        }
        // A node that never heard from a leader (just started, or a candidate) and has no log.
        view.since_leader_contact = None;
        view.current_leader = None;
        view.state = ServerState::Candidate;
        view.last_log_id = None;
        assert_eq!(view.answer(&request(None), TIMEOUT), PreVoteReply::Granted);
    }

    #[test]
    fn the_leader_refuses_while_a_quorum_acknowledges_it() {
        let mut leader = follower();
        leader.node_id = 1;
        leader.state = ServerState::Leader;
        leader.since_leader_contact = None;
        for since_ack in [None, ms(0), ms(999)] {
            leader.since_quorum_ack = since_ack;
            assert_eq!(
                leader.answer(&request(log_id(4, 10)), TIMEOUT),
                PreVoteReply::LeaderAlive { leader: Some(1) },
                "{since_ack:?}"
            );
        }
        // A leader that lost its quorum is no reason to refuse.
        leader.since_quorum_ack = ms(1000);
        assert_eq!(
            leader.answer(&request(log_id(4, 10)), TIMEOUT),
            PreVoteReply::Granted
        );
    }

    #[test]
    fn who_probes() {
        assert_eq!(follower().next_step(TIMEOUT), NextStep::Elect(false));

        let mut lost = follower();
        lost.since_leader_contact = ms(1500);
        assert_eq!(lost.next_step(TIMEOUT), NextStep::Probe(vec![1, 3]));
        lost.since_leader_contact = None;
        assert_eq!(lost.next_step(TIMEOUT), NextStep::Probe(vec![1, 3]));
        // During a joint change every voter of both sets is asked.
        lost.voter_sets = vec![BTreeSet::from([1, 2, 3]), BTreeSet::from([2, 3, 4])];
        assert_eq!(lost.next_step(TIMEOUT), NextStep::Probe(vec![1, 3, 4]));

        let mut leader = follower();
        leader.state = ServerState::Leader;
        assert_eq!(leader.next_step(TIMEOUT), NextStep::Elect(false));

        let mut alone = follower();
        alone.since_leader_contact = None;
        alone.voter_sets = vec![BTreeSet::from([2])];
        assert_eq!(alone.next_step(TIMEOUT), NextStep::Elect(true));

        let mut not_a_voter = alone.clone();
        not_a_voter.voter_sets = vec![BTreeSet::from([1, 3])];
        assert_eq!(not_a_voter.next_step(TIMEOUT), NextStep::Elect(false));
        not_a_voter.voter_sets = vec![];
        assert_eq!(not_a_voter.next_step(TIMEOUT), NextStep::Elect(false));

        assert_eq!(
            lost.request(),
            PreVoteRequest {
                candidate: 2,
                next_term: 5,
                last_log_id: log_id(4, 10)
            }
        );
    }

    #[test]
    fn a_majority_counting_oneself() {
        let three = vec![BTreeSet::from([1, 2, 3])];
        assert!(!elections_allowed(&three, 2, &BTreeSet::new()));
        assert!(elections_allowed(&three, 2, &BTreeSet::from([3])));
        assert!(elections_allowed(&three, 2, &BTreeSet::from([1, 3])));
        // Grants from non-voters do not count.
        assert!(!elections_allowed(&three, 2, &BTreeSet::from([4, 5])));

        let five = vec![BTreeSet::from([1, 2, 3, 4, 5])];
        assert!(!elections_allowed(&five, 1, &BTreeSet::from([2])));
        assert!(elections_allowed(&five, 1, &BTreeSet::from([2, 5])));

        let four = vec![BTreeSet::from([1, 2, 3, 4])];
        assert!(!elections_allowed(&four, 1, &BTreeSet::from([2])));
        assert!(elections_allowed(&four, 1, &BTreeSet::from([2, 3])));

        // Joint membership: a majority of each set.
        let joint = vec![BTreeSet::from([1, 2, 3]), BTreeSet::from([3, 4, 5])];
        assert!(!elections_allowed(&joint, 1, &BTreeSet::from([2])));
        assert!(elections_allowed(&joint, 1, &BTreeSet::from([2, 3, 4])));

        assert!(elections_allowed(
            &[BTreeSet::from([7])],
            7,
            &BTreeSet::new()
        ));
        assert!(!elections_allowed(&[], 7, &BTreeSet::from([1, 2])));
    }

    #[test]
    fn probe_timing_is_a_fraction_of_the_election_timeout() {
        assert_eq!(
            probe_timing(TIMEOUT),
            (Duration::from_millis(250), Duration::from_millis(500))
        );
        let (period, timeout) = probe_timing(Duration::from_millis(2));
        assert!(!period.is_zero() && !timeout.is_zero());
    }
}
