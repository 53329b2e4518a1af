//! The internal topics the coordinators keep their state in, and which of their partitions a
//! key (group id, transactional id) belongs to.

/// Committed offsets and group metadata (the group coordinator's state).
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Transactional ids and their transactions (the transaction coordinator's state).
pub const TXN_STATE_TOPIC: &str = "__transaction_state";

/// Whether `name` is one of the coordinators' internal topics.
pub fn is_internal(name: &str) -> bool {
    name == OFFSETS_TOPIC || name == TXN_STATE_TOPIC
}

/// The partition of an internal topic with `partitions` partitions that holds `key`: Kafka's
/// `abs(key.hashCode()) % partitions`, with Java's `String.hashCode` over UTF-16 code units, so
/// a key lands on the partition a Kafka cluster would use.
pub fn partition_for(key: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in key.encode_utf16() {
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
        // Java's definition: s[0]*31^(n-1) + ... + s[n-1], in 32-bit two's complement.
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
