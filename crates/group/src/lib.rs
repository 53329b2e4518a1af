//! sluice-group: the group coordinator as a state machine, free of I/O.
//!
//! Requests go in with the current time and a [`Token`] naming the caller; an [`Output`] comes
//! out: records to append to `__consumer_offsets` and replies for tokens (a JoinGroup reply can
//! come out of a later call, when the rebalance completes). The caller appends the records
//! first and sends the replies only once they are committed. Replaying the records of
//! `__consumer_offsets` ([`GroupCoordinator::replay`]) rebuilds the state, which is how a
//! restart picks up, and how a broker that becomes the leader of a partition takes over its
//! groups ([`GroupCoordinator::begin_loading`], replay, [`GroupCoordinator::finish_loading`];
//! [`GroupCoordinator::unload`] when it stops leading it).
//!
//! The broker runs one [`GroupCoordinator`] per `__consumer_offsets` partition it leads, as a
//! shard of its coordinator runtime ([`sluice_coordinator::CoordinatorShard`]): the runtime
//! commits each write once its records are replicated, or undoes it; reads see committed
//! state only.
//!
//! # Layout
//! - `coordinator`: [`GroupCoordinator`]: its state (on timeline maps), partition ownership,
//!   loading, the timer, and the shard contract.
//! - `output`: what a call produces ([`Output`], [`Reply`], [`Write`]).
//! - `classic_group`: a classic-protocol group, its states and transitions.
//! - `classic_protocol`: JoinGroup, SyncGroup, Heartbeat, LeaveGroup.
//! - `offsets`: OffsetCommit, OffsetFetch, TxnOffsetCommit and transaction ends, OffsetDelete,
//!   offset retention.
//! - `admin`: DescribeGroups, ListGroups, DeleteGroups.
//! - `consumer`: groups of the KIP-848 consumer protocol (ConsumerGroupHeartbeat,
//!   ConsumerGroupDescribe); `assignors`: their server-side assignors.
//! - `records`: the `__consumer_offsets` key and value formats.
//!
//! Partition ownership, `partition_for` and the record field codecs come from
//! `sluice-coordinator`, shared with the transaction coordinator.
#![forbid(unsafe_code)]

mod admin;
mod assignors;
mod classic_group;
mod classic_protocol;
pub mod consumer;
pub mod coordinator;
mod offsets;
pub mod output;
pub mod records;

pub use consumer::TopicsView;
pub use coordinator::{GroupConfig, GroupCoordinator};
pub use output::{Client, Output, Reply, Token, Write};
pub use sluice_coordinator::{partition_for, Ownership};
