//! Which partitions of its internal topic a coordinator state machine serves.
//!
//! A key (group id, transactional id) is coordinated by the leader of the partition it hashes
//! to ([`crate::partition_for`]). Each partition is, for a state machine:
//! ```text
//!            begin_loading             finish_loading
//! NotOwned ----------------> Loading ----------------> Owned
//!    ^                          |                        |
//!    +--------- unload ---------+------- unload ---------+
//! ```
//! (`begin_loading` from Owned or Loading starts a fresh load.) Only Owned partitions are
//! served; a request for a key of a Loading partition answers COORDINATOR_LOAD_IN_PROGRESS and
//! one for a NotOwned partition NOT_COORDINATOR, as Kafka's coordinators do, so the client
//! retries or looks the coordinator up again.

use sluice_protocol::error::ErrorCode;

/// What a coordinator is for one partition of its internal topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Led here and loaded: its keys are served.
    Owned,
    /// Led here, its records still being replayed.
    Loading,
    /// Led by another broker (or by no one).
    NotOwned,
}

impl Ownership {
    /// The error a request answers for a key of a partition in this state, if any.
    pub fn error(self) -> Option<ErrorCode> {
        match self {
            Ownership::Owned => None,
            Ownership::Loading => Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            Ownership::NotOwned => Some(ErrorCode::NOT_COORDINATOR),
        }
    }
}

/// Kafka's message for an error of [`Ownership::error`], for responses that carry one.
pub fn error_message(code: ErrorCode) -> &'static str {
    if code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS {
        "The coordinator is loading and hence can't process requests."
    } else {
        "This is not the correct coordinator."
    }
}

/// The ownership of every partition, by index.
#[derive(Debug, Clone)]
pub struct Partitions {
    /// invariant: one entry per partition of the internal topic.
    states: Vec<Ownership>,
}

impl Partitions {
    pub fn new(num_partitions: i32, state: Ownership) -> Partitions {
        Partitions {
            states: vec![state; usize::try_from(num_partitions.max(1)).unwrap_or(1)],
        }
    }

    /// A partition outside the topic is one the coordinator does not own.
    pub fn get(&self, partition: i32) -> Ownership {
        usize::try_from(partition)
            .ok()
            .and_then(|i| self.states.get(i))
            .copied()
            .unwrap_or(Ownership::NotOwned)
    }

    /// Sets a partition's state; returns whether the partition exists.
    pub fn set(&mut self, partition: i32, state: Ownership) -> bool {
        match usize::try_from(partition)
            .ok()
            .and_then(|i| self.states.get_mut(i))
        {
            Some(s) => {
                *s = state;
                true
            }
            None => false,
        }
    }

    pub fn any_loading(&self) -> bool {
        self.states.contains(&Ownership::Loading)
    }

    /// The partitions in `state`.
    pub fn in_state(&self, state: Ownership) -> impl Iterator<Item = i32> + '_ {
        self.states
            .iter()
            .enumerate()
            .filter(move |(_, s)| **s == state)
            .map(|(i, _)| i as i32)
    }
}
