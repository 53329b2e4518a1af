//! [`place_replicas`]: replica assignments for new partitions (CreateTopics, CreatePartitions
//! without explicit assignments), as Kafka's `AdminUtils.assignReplicasToBrokers` does.
//!
//! Only registered, unfenced brokers receive replicas, taken in broker id order.
//! - Without racks: partition `p`'s first replica (its preferred leader) is broker
//!   `(p + start) % n`, so leaders go round the brokers evenly; the followers come after it at a
//!   distance `shift` that changes every `n` partitions, so that the followers of one broker's
//!   leaderships spread over the other brokers.
//! - With racks (as soon as one broker has one; brokers without a rack then form one rack of
//!   their own): the same over the brokers listed rack by rack in turn (first broker of each
//!   rack, then the second of each, ...), and a follower is skipped while it sits on a rack, or
//!   is a broker, that already holds a replica of the partition and some rack, or broker, does
//!   not. So the replicas of a partition cover `min(replication_factor, racks)` racks and
//!   leaders are still spread evenly over the brokers.
//!
//! `start` and the initial `shift` are drawn from `seed` (Kafka draws them at random so that
//! topics do not all put their first leader on the same broker); a seed gives one answer.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::command::CommandError;
use crate::image::MetadataImage;

/// Replica lists of `partitions` new partitions of `replication_factor` replicas each, over the
/// registered unfenced brokers of `image` (the layout in the module doc). Errors are Kafka's:
/// INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR (also when fewer brokers are unfenced than
/// the replication factor).
pub fn place_replicas(
    image: &MetadataImage,
    partitions: usize,
    replication_factor: usize,
    seed: u64,
) -> Result<Vec<Vec<i32>>, CommandError> {
    if partitions == 0 {
        return Err(CommandError::InvalidPartitions(
            "Number of partitions must be larger than 0.".into(),
        ));
    }
    if replication_factor == 0 {
        return Err(CommandError::InvalidReplicationFactor(
            "Replication factor must be larger than 0.".into(),
        ));
    }
    let usable: Vec<(i32, Option<&str>)> = image
        .brokers()
        .values()
        .filter(|b| !b.fenced)
        .map(|b| (b.broker_id, b.rack.as_deref()))
        .collect();
    if usable.len() < replication_factor {
        return Err(CommandError::InvalidReplicationFactor(format!(
            "The target replication factor of {replication_factor} cannot be reached because \
             only {} broker(s) are registered.",
            usable.len()
        )));
    }
    let mut random = SplitMix64(seed);
    let n = usable.len();
    let start = random.below(n);
    let shift = random.below(n);
    if usable.iter().all(|(_, rack)| rack.is_none()) {
        let brokers: Vec<i32> = usable.iter().map(|&(id, _)| id).collect();
        Ok(place_without_racks(
            &brokers,
            partitions,
            replication_factor,
            start,
            shift,
        ))
    } else {
        Ok(place_across_racks(
            &usable,
            partitions,
            replication_factor,
            start,
            shift,
        ))
    }
}

/// Index of the `k`-th follower of a partition led by `brokers[first]`: never `first` itself.
fn follower_index(first: usize, shift: usize, k: usize, n: usize) -> usize {
    debug_assert!(n > 1, "a follower needs a second broker");
    (first + 1 + (shift + k) % (n - 1)) % n
}

fn place_without_racks(
    brokers: &[i32],
    partitions: usize,
    replication_factor: usize,
    start: usize,
    mut shift: usize,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    let mut assignments = Vec::with_capacity(partitions);
    for p in 0..partitions {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = Vec::with_capacity(replication_factor);
        replicas.push(brokers[first]);
        for k in 0..replication_factor - 1 {
            replicas.push(brokers[follower_index(first, shift, k, n)]);
        }
        assignments.push(replicas);
    }
    assignments
}

/// The brokers rack by rack in turn: the first broker (by id) of every rack (racks in name
/// order, no rack first), then the second of every rack, and so on.
fn rack_alternated(brokers: &[(i32, Option<&str>)]) -> Vec<(i32, Option<String>)> {
    let mut by_rack: BTreeMap<Option<&str>, Vec<i32>> = BTreeMap::new();
    for &(id, rack) in brokers {
        by_rack.entry(rack).or_default().push(id);
    }
    let deepest = by_rack.values().map(Vec::len).max().unwrap_or(0);
    let mut list = Vec::with_capacity(brokers.len());
    for depth in 0..deepest {
        for (rack, ids) in &by_rack {
            if let Some(&id) = ids.get(depth) {
                list.push((id, rack.map(str::to_string)));
            }
        }
    }
    list
}

fn place_across_racks(
    brokers: &[(i32, Option<&str>)],
    partitions: usize,
    replication_factor: usize,
    start: usize,
    mut shift: usize,
) -> Vec<Vec<i32>> {
    let arranged = rack_alternated(brokers);
    let n = arranged.len();
    let racks = arranged
        .iter()
        .map(|(_, rack)| rack)
        .collect::<BTreeSet<_>>()
        .len();
    let mut assignments = Vec::with_capacity(partitions);
    for p in 0..partitions {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let (leader, leader_rack) = &arranged[first];
        let mut replicas = vec![*leader];
        let mut racks_used = BTreeSet::from([leader_rack]);
        let mut k = 0;
        while replicas.len() < replication_factor {
            // Terminates: with fewer replicas than brokers some broker is unused, and once every
            // rack (or broker) is used, racks (or brokers) no longer rule a candidate out.
            let (broker, rack) = &arranged[follower_index(first, shift * racks, k, n)];
            k += 1;
            let new_rack = !racks_used.contains(rack) || racks_used.len() == racks;
            if new_rack && !replicas.contains(broker) {
                replicas.push(*broker);
                racks_used.insert(rack);
            }
        }
        assignments.push(replicas);
    }
    assignments
}

/// A small deterministic generator (SplitMix64): placement must not depend on a global RNG.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` is not 0.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use super::*;
    use crate::command::MetadataCommand;
    use crate::image::test_support::*;

    /// An image with unfenced brokers `(id, rack)`.
    fn image_with_racks(brokers: &[(i32, Option<&str>)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for &(id, rack) in brokers {
            apply(
                &mut image,
                MetadataCommand::RegisterBroker {
                    broker_id: id,
                    incarnation_id: Uuid::from_u128(id as u128 + 1),
                    host: "h".into(),
                    port: 9092,
                    listeners: Vec::new(),
                    http_endpoints: Default::default(),
                    rack: rack.map(str::to_string),
                    timestamp_ms: 0,
                },
            )
            .unwrap();
            unfence(&mut image, id);
        }
        image
    }

    fn leader_counts(assignments: &[Vec<i32>]) -> BTreeMap<i32, usize> {
        let mut counts = BTreeMap::new();
        for replicas in assignments {
            *counts.entry(replicas[0]).or_default() += 1;
        }
        counts
    }

    fn replica_counts(assignments: &[Vec<i32>]) -> BTreeMap<i32, usize> {
        let mut counts = BTreeMap::new();
        for &r in assignments.iter().flatten() {
            *counts.entry(r).or_default() += 1;
        }
        counts
    }

    fn assert_valid(assignments: &[Vec<i32>], partitions: usize, rf: usize) {
        assert_eq!(assignments.len(), partitions);
        for replicas in assignments {
            assert_eq!(replicas.len(), rf, "{replicas:?}");
            let distinct: BTreeSet<i32> = replicas.iter().copied().collect();
            assert_eq!(distinct.len(), rf, "a broker twice: {replicas:?}");
        }
    }

    #[test]
    fn without_racks_leaders_and_replicas_spread_evenly() {
        let image = image_with_brokers(&[1, 2, 3, 4, 5]);
        for seed in 0..20 {
            let a = place_replicas(&image, 10, 3, seed).unwrap();
            assert_valid(&a, 10, 3);
            assert!(leader_counts(&a).values().all(|&c| c == 2), "{a:?}");
            assert!(replica_counts(&a).values().all(|&c| c == 6), "{a:?}");
            assert_eq!(a, place_replicas(&image, 10, 3, seed).unwrap(), "seeded");
        }
        assert_ne!(
            place_replicas(&image, 10, 3, 1).unwrap(),
            place_replicas(&image, 10, 3, 2).unwrap()
        );
        // Kafka's layout: leaders round the brokers, followers right after at a fixed shift.
        let a = place_without_racks(&[1, 2, 3, 4, 5], 6, 3, 0, 0);
        assert_eq!(
            a,
            vec![
                vec![1, 2, 3],
                vec![2, 3, 4],
                vec![3, 4, 5],
                vec![4, 5, 1],
                vec![5, 1, 2],
                vec![1, 3, 4],
            ]
        );
    }

    #[test]
    fn with_racks_each_partition_spans_as_many_racks_as_it_can() {
        let racks = [
            (1, Some("a")),
            (2, Some("a")),
            (3, Some("b")),
            (4, Some("b")),
            (5, Some("c")),
            (6, Some("c")),
        ];
        let image = image_with_racks(&racks);
        let rack_of: BTreeMap<i32, &str> = racks.iter().map(|&(id, r)| (id, r.unwrap())).collect();
        for seed in 0..20 {
            for rf in 1..=6 {
                let a = place_replicas(&image, 12, rf, seed).unwrap();
                assert_valid(&a, 12, rf);
                for replicas in &a {
                    let used: BTreeSet<&str> = replicas.iter().map(|r| rack_of[r]).collect();
                    assert_eq!(used.len(), rf.min(3), "seed {seed}: {replicas:?}");
                }
                assert!(leader_counts(&a).values().all(|&c| c == 2), "{a:?}");
                assert_eq!(a, place_replicas(&image, 12, rf, seed).unwrap());
            }
        }
    }

    #[test]
    fn uneven_racks_and_brokers_without_a_rack() {
        let racks = [
            (1, Some("a")),
            (2, Some("a")),
            (3, Some("a")),
            (4, Some("b")),
            (5, None),
        ];
        let image = image_with_racks(&racks);
        assert_eq!(
            rack_alternated(&racks)
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            vec![5, 1, 4, 2, 3]
        );
        for seed in 0..20 {
            let a = place_replicas(&image, 10, 3, seed).unwrap();
            assert_valid(&a, 10, 3);
            for replicas in &a {
                let used: BTreeSet<Option<&str>> = replicas
                    .iter()
                    .map(|r| racks.iter().find(|(id, _)| id == r).unwrap().1)
                    .collect();
                assert_eq!(
                    used.len(),
                    3,
                    "three racks, one of them 'none': {replicas:?}"
                );
            }
            assert!(leader_counts(&a).values().all(|&c| c == 2), "{a:?}");
        }
    }

    #[test]
    fn fenced_brokers_get_no_replicas() {
        let mut image = image_with_brokers(&[1, 2, 3, 4]);
        fence(&mut image, 2);
        let a = place_replicas(&image, 8, 3, 7).unwrap();
        assert!(a.iter().flatten().all(|&r| r != 2), "{a:?}");
        assert_valid(&a, 8, 3);
    }

    #[test]
    fn invalid_requests() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        fence(&mut image, 3);
        let err = place_replicas(&image, 1, 3, 0).unwrap_err();
        assert_eq!(
            err,
            CommandError::InvalidReplicationFactor(
                "The target replication factor of 3 cannot be reached because only 2 \
                 broker(s) are registered."
                    .into()
            )
        );
        assert_eq!(err.error_code(), 38);
        assert_eq!(
            place_replicas(&image, 1, 0, 0).unwrap_err().error_code(),
            38
        );
        assert_eq!(
            place_replicas(&image, 0, 1, 0).unwrap_err().error_code(),
            37
        );
        assert_eq!(
            place_replicas(&MetadataImage::default(), 1, 1, 0)
                .unwrap_err()
                .error_code(),
            38
        );
        // One broker, one replica: no follower to place.
        let one = image_with_brokers(&[9]);
        assert_eq!(place_replicas(&one, 3, 1, 5).unwrap(), vec![vec![9]; 3]);
    }
}
