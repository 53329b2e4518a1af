//! Proposal deduplication: [`Proposal`] (a command tagged with who proposed it and a sequence
//! number) and [`ProposerTable`], what the state machine remembers of each proposer so that a
//! proposal appended twice (a retry after a lost answer) applies once.
//!
//! # Proposers
//! A [`ProposerId`] is a node id, a random incarnation (new for every `Controller` instance) and a
//! lane. A controller runs concurrent proposals on separate lanes, each lane with at most one
//! proposal in flight and increasing sequences: with one lane per controller, two concurrent
//! proposals could commit out of order, and remembering only the latest sequence would then
//! mistake the earlier one for a stale retry.
//!
//! # Rules (deterministic: every node applies the same entries to the same table)
//! For a proposal (proposer `p`, sequence `s`) in the log entry at index `i`:
//! - `p` unknown, or `s` above the last sequence applied for `p`: the command applies; `s`, its
//!   result and `i` are remembered for `p` (replacing what was there).
//! - `s` equal to the last sequence applied for `p`: a duplicate; the remembered result is
//!   returned and the image does not change.
//! - `s` below it: an attempt the proposer already moved on from (it gave up on it, so it never
//!   reads the result); rejected with [`CommandError::StaleProposal`], nothing applied.
//!
//! Expiry: a proposer is forgotten once [`PROPOSER_EXPIRY_ENTRIES`] log entries have been applied
//! after its last applied proposal (checked at every index that is a multiple of
//! [`EXPIRY_CHECK_INTERVAL`]). A retry happens within one request timeout, far fewer entries.
//! The table thus holds at most one record per lane that proposed in the last
//! `PROPOSER_EXPIRY_ENTRIES + EXPIRY_CHECK_INTERVAL` entries. The table is part of snapshots.
//!
//! [`LanePool`] hands out the lanes of one proposing instance and numbers their proposals.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;

use serde::Deserialize;
use serde::Serialize;
use uuid::Uuid;

use crate::command::CommandError;
use crate::command::CommandResult;
use crate::command::MetadataCommand;
use crate::raft_types::NodeId;

/// Entries after which an idle proposer is forgotten.
pub(crate) const PROPOSER_EXPIRY_ENTRIES: u64 = 100_000;
/// Expiry is checked at log indexes that are multiples of this.
pub(crate) const EXPIRY_CHECK_INTERVAL: u64 = 1024;

/// Who proposed a command: one lane of one `Controller` instance. (`pub` only because the
/// openraft type configuration names [`Proposal`]; not exported.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProposerId {
    pub node_id: NodeId,
    /// Random, chosen when the `Controller` starts.
    pub incarnation: Uuid,
    pub lane: u32,
}

/// The payload of a Raft log entry: a command and its proposal identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub proposer: ProposerId,
    /// invariant: increases with every new proposal of `proposer`; a retry repeats it.
    pub sequence: u64,
    pub command: MetadataCommand,
}

/// The proposal lanes of one proposing instance (a `Controller`, or the leader's cluster
/// manager): a proposal takes a free lane, or a new one, for its whole duration. There are as
/// many lanes as proposals ever ran at once.
pub(crate) struct LanePool {
    node_id: NodeId,
    /// Random: proposer ids of this pool differ from those of any other.
    incarnation: Uuid,
    lanes: Mutex<Lanes>,
}

#[derive(Default)]
struct Lanes {
    free: Vec<Lane>,
    created: u32,
}

#[derive(Clone, Copy)]
struct Lane {
    id: ProposerId,
    /// Sequence of the last proposal made on this lane (0: none).
    last_sequence: u64,
}

/// A lane taken by one proposal; gives it back when dropped (also if the proposal is dropped
/// half way: the next proposal on the lane uses a higher sequence all the same).
pub(crate) struct LaneGuard<'a> {
    lanes: &'a Mutex<Lanes>,
    lane: Lane,
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        lock(self.lanes).free.push(self.lane);
    }
}

impl LaneGuard<'_> {
    /// `command` as the next proposal on this lane. Send it until answered before asking for
    /// another: a lane has at most one proposal in flight.
    pub(crate) fn next_proposal(&mut self, command: MetadataCommand) -> Proposal {
        self.lane.last_sequence += 1;
        Proposal {
            proposer: self.lane.id,
            sequence: self.lane.last_sequence,
            command,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a push or a pop: the data is consistent after a panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LanePool {
    pub(crate) fn new(node_id: NodeId) -> Self {
        LanePool {
            node_id,
            incarnation: Uuid::new_v4(),
            lanes: Mutex::new(Lanes::default()),
        }
    }

    pub(crate) fn take(&self) -> LaneGuard<'_> {
        let lane = {
            let mut lanes = lock(&self.lanes);
            match lanes.free.pop() {
                Some(lane) => lane,
                None => {
                    let lane = lanes.created;
                    // Lanes are as many as concurrent proposals: u32 does not run out.
                    lanes.created = lanes.created.saturating_add(1);
                    Lane {
                        id: ProposerId {
                            node_id: self.node_id,
                            incarnation: self.incarnation,
                            lane,
                        },
                        last_sequence: 0,
                    }
                }
            }
        };
        LaneGuard {
            lanes: &self.lanes,
            lane,
        }
    }
}

/// What is remembered of one proposer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ProposerRecord {
    last_sequence: u64,
    last_result: CommandResult,
    /// Log index of the entry that applied `last_sequence`.
    last_index: u64,
}

/// What to do with a proposal, by [`ProposerTable::check`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not applied before: apply it, then [`ProposerTable::record`] the result.
    New,
    /// Already applied (or stale): this is its result; do not apply.
    Answered(CommandResult),
}

/// The last applied proposal of every live proposer. Sans I/O. Serialized as a list of pairs
/// (JSON map keys must be strings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    from = "Vec<(ProposerId, ProposerRecord)>",
    into = "Vec<(ProposerId, ProposerRecord)>"
)]
pub(crate) struct ProposerTable {
    proposers: BTreeMap<ProposerId, ProposerRecord>,
}

impl From<Vec<(ProposerId, ProposerRecord)>> for ProposerTable {
    fn from(pairs: Vec<(ProposerId, ProposerRecord)>) -> Self {
        ProposerTable {
            proposers: pairs.into_iter().collect(),
        }
    }
}

impl From<ProposerTable> for Vec<(ProposerId, ProposerRecord)> {
    fn from(table: ProposerTable) -> Self {
        table.proposers.into_iter().collect()
    }
}

impl ProposerTable {
    pub(crate) fn check(&self, proposer: &ProposerId, sequence: u64) -> Seen {
        match self.proposers.get(proposer) {
            None => Seen::New,
            Some(r) if sequence > r.last_sequence => Seen::New,
            Some(r) if sequence == r.last_sequence => Seen::Answered(r.last_result.clone()),
            Some(r) => Seen::Answered(Err(CommandError::StaleProposal {
                sequence,
                last_applied: r.last_sequence,
            })),
        }
    }

    /// Remembers the result of the proposal applied at log `index`.
    pub(crate) fn record(
        &mut self,
        proposer: ProposerId,
        sequence: u64,
        index: u64,
        result: CommandResult,
    ) {
        self.proposers.insert(
            proposer,
            ProposerRecord {
                last_sequence: sequence,
                last_result: result,
                last_index: index,
            },
        );
    }

    /// Called for every applied log index: forgets proposers idle for `expiry_entries`.
    pub(crate) fn expire(&mut self, index: u64, expiry_entries: u64) {
        if !index.is_multiple_of(EXPIRY_CHECK_INTERVAL) {
            return;
        }
        self.proposers
            .retain(|_, r| r.last_index.saturating_add(expiry_entries) >= index);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.proposers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandOutput;

    fn proposer(lane: u32) -> ProposerId {
        ProposerId {
            node_id: 1,
            incarnation: Uuid::from_u128(9),
            lane,
        }
    }

    #[test]
    fn duplicates_get_the_remembered_result_and_stale_ones_an_error() {
        let mut table = ProposerTable::default();
        let p = proposer(0);
        assert_eq!(table.check(&p, 1), Seen::New);
        let result = Ok(CommandOutput::BrokerRegistered { broker_epoch: 5 });
        table.record(p, 1, 5, result.clone());
        assert_eq!(table.check(&p, 1), Seen::Answered(result));
        assert_eq!(
            table.check(&proposer(1), 1),
            Seen::New,
            "lanes are separate"
        );
        assert_eq!(table.check(&p, 2), Seen::New);
        table.record(p, 2, 6, Err(CommandError::UnknownTopic("t".into())));
        assert_eq!(
            table.check(&p, 2),
            Seen::Answered(Err(CommandError::UnknownTopic("t".into())))
        );
        assert_eq!(
            table.check(&p, 1),
            Seen::Answered(Err(CommandError::StaleProposal {
                sequence: 1,
                last_applied: 2
            }))
        );
    }

    #[test]
    fn idle_proposers_expire_at_check_points() {
        let mut table = ProposerTable::default();
        table.record(proposer(0), 1, 10, Ok(CommandOutput::Done));
        table.record(proposer(1), 1, 1000, Ok(CommandOutput::Done));
        for index in 1001..EXPIRY_CHECK_INTERVAL {
            table.expire(index, 5);
        }
        assert_eq!(table.len(), 2, "no check point yet");
        table.expire(EXPIRY_CHECK_INTERVAL, 100);
        assert_eq!(table.len(), 1);
        assert_eq!(table.check(&proposer(0), 1), Seen::New);
        assert_ne!(table.check(&proposer(1), 1), Seen::New);
        table.expire(2 * EXPIRY_CHECK_INTERVAL, 100);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn concurrent_proposals_take_separate_lanes_and_lanes_are_reused() {
        let pool = LanePool::new(4);
        let mut a = pool.take();
        let mut b = pool.take();
        let (a1, b1) = (
            a.next_proposal(MetadataCommand::UnregisterBroker { broker_id: 1 }),
            b.next_proposal(MetadataCommand::UnregisterBroker { broker_id: 1 }),
        );
        assert_ne!(a1.proposer, b1.proposer);
        assert_eq!((a1.sequence, b1.sequence), (1, 1));
        let a2 = a.next_proposal(MetadataCommand::UnregisterBroker { broker_id: 1 });
        assert_eq!((a2.proposer, a2.sequence), (a1.proposer, 2));
        drop(a);
        let mut again = pool.take();
        let a3 = again.next_proposal(MetadataCommand::UnregisterBroker { broker_id: 1 });
        assert_eq!((a3.proposer, a3.sequence), (a1.proposer, 3));
        assert_ne!(
            LanePool::new(4).take().lane.id,
            a1.proposer,
            "another pool, another incarnation"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let mut table = ProposerTable::default();
        table.record(proposer(3), 7, 70, Ok(CommandOutput::Done));
        let json = serde_json::to_vec(&table).unwrap();
        assert_eq!(
            serde_json::from_slice::<ProposerTable>(&json).unwrap(),
            table
        );
    }
}
