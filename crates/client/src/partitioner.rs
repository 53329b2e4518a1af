//! Which partition a produced record goes to (librdkafka's `partitioner` values, see
//! `client_settings.rs`).
//!
//! Keyed records: `murmur2` is the hash of Kafka's Java client (`Utils.murmur2`, seed
//! 0x9747b28c, then `toPositive` = `& 0x7fffffff`, modulo the partition count), so a key lands
//! on the same partition whichever of the two tools produced it. `consistent` is CRC-32 (IEEE,
//! as zlib) of the key modulo the partition count, librdkafka's own default.
//!
//! Records without a key: with the `*_random` partitioners (and `random` for every record) they
//! stick to one randomly chosen partition until that partition's batch is sent, then another
//! is chosen (Kafka's sticky partitioning, KIP-480); with `murmur2`/`consistent` they all hash
//! the empty key (librdkafka's behaviour for those).

use crate::client_settings::Partitioner;

/// Picks partitions for records of one topic.
pub struct PartitionChooser {
    partitioner: Partitioner,
    /// The partition records without a key go to until its batch is sent.
    sticky: Option<i32>,
    /// xorshift64 state: the choice need not be unpredictable, only spread.
    random_state: u64,
}

impl PartitionChooser {
    pub fn new(partitioner: Partitioner, seed: u64) -> PartitionChooser {
        PartitionChooser {
            partitioner,
            sticky: None,
            // xorshift must not start at 0.
            random_state: seed | 1,
        }
    }

    /// The partition (an index into `0..partition_count`) for a record with `key`.
    /// `partition_count` is at least 1.
    pub fn choose(&mut self, key: Option<&[u8]>, partition_count: i32) -> i32 {
        let count = partition_count.max(1);
        match (self.partitioner, key) {
            (Partitioner::Random, _)
            | (Partitioner::Murmur2Random | Partitioner::ConsistentRandom, None) => {
                self.sticky_partition(count)
            }
            (Partitioner::Murmur2Random | Partitioner::Murmur2, key) => {
                ((murmur2(key.unwrap_or_default()) & 0x7fff_ffff) % count as u32) as i32
            }
            (Partitioner::ConsistentRandom | Partitioner::Consistent, key) => {
                (crc32(key.unwrap_or_default()) % count as u32) as i32
            }
        }
    }

    /// A batch for `partition` was sent: records without a key move on to another partition.
    pub fn batch_sent(&mut self, partition: i32) {
        if self.sticky == Some(partition) {
            self.sticky = None;
        }
    }

    fn sticky_partition(&mut self, count: i32) -> i32 {
        match self.sticky {
            Some(partition) if partition < count => partition,
            _ => {
                self.random_state ^= self.random_state << 13;
                self.random_state ^= self.random_state >> 7;
                self.random_state ^= self.random_state << 17;
                let partition = (self.random_state % count as u64) as i32;
                self.sticky = Some(partition);
                partition
            }
        }
    }
}

/// Kafka's murmur2 (the 32-bit MurmurHash2 variant of `org.apache.kafka.common.utils.Utils`).
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_java_client() {
        // Values of Utils.murmur2 (as signed ints in Java) from Kafka's UtilsTest and the
        // Java client's default partitioner.
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32,
            -58897971
        );
        assert_eq!(murmur2(b"abc") as i32, 479470107);
    }

    #[test]
    fn keyed_records_go_where_the_java_client_sends_them() {
        let mut chooser = PartitionChooser::new(Partitioner::Murmur2Random, 7);
        // toPositive(murmur2("foobar")) % 3: (-790332482 & 0x7fffffff) = 1357151166, % 3 = 0
        assert_eq!(chooser.choose(Some(b"foobar"), 3), 0);
        assert_eq!(
            chooser.choose(Some(b"21"), 6),
            ((-973932308i32 & 0x7fffffff) % 6)
        );
        // The same key always lands on the same partition.
        let first = chooser.choose(Some(b"user-1"), 12);
        for _ in 0..10 {
            assert_eq!(chooser.choose(Some(b"user-1"), 12), first);
        }
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let mut chooser = PartitionChooser::new(Partitioner::Consistent, 1);
        assert_eq!(
            chooser.choose(Some(b"123456789"), 7),
            (0xcbf4_3926u32 % 7) as i32
        );
        // No key: the empty key's hash, one partition for all.
        assert_eq!(chooser.choose(None, 7), 0);
    }

    #[test]
    fn records_without_a_key_stick_until_their_batch_is_sent() {
        let mut chooser = PartitionChooser::new(Partitioner::Murmur2Random, 42);
        let first = chooser.choose(None, 8);
        assert!((0..8).contains(&first));
        for _ in 0..20 {
            assert_eq!(chooser.choose(None, 8), first);
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let partition = chooser.choose(None, 8);
            seen.insert(partition);
            chooser.batch_sent(partition);
        }
        assert!(
            seen.len() > 4,
            "sticky choices spread over partitions: {seen:?}"
        );
        // Fewer partitions than the sticky choice: a new one is chosen in range.
        assert!(chooser.choose(None, 1) == 0);
    }
}
