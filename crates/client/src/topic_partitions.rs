//! Which partitions of a topic a command works on, from Metadata, with one clear error when
//! the topic or a partition does not exist.

use std::collections::BTreeSet;

use anyhow::{bail, Result};

use crate::error_codes::code_text;
use crate::wire::metadata::ClusterMetadata;

/// Kafka's UNKNOWN_TOPIC_OR_PARTITION.
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// The partition ids of `topic` in ascending order, or an error naming why there are none.
pub fn topic_partitions(metadata: &ClusterMetadata, topic: &str) -> Result<Vec<i32>> {
    let Some(found) = metadata.topic(topic) else {
        bail!("topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)");
    };
    match found.error_code {
        0 => {}
        UNKNOWN_TOPIC_OR_PARTITION => {
            bail!("topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)")
        }
        code => bail!("topic '{topic}': {}", code_text(code)),
    }
    let mut ids: Vec<i32> = found.partitions.iter().map(|p| p.partition).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        bail!("topic '{topic}' has no partitions");
    }
    Ok(ids)
}

/// The partitions `--partition` names (all when it names none), each checked to exist.
pub fn chosen_partitions(topic: &str, existing: &[i32], wanted: &[u32]) -> Result<Vec<i32>> {
    if wanted.is_empty() {
        return Ok(existing.to_vec());
    }
    let mut chosen = BTreeSet::new();
    for &partition in wanted {
        let found = i32::try_from(partition)
            .ok()
            .filter(|p| existing.contains(p));
        let Some(partition) = found else {
            bail!(
                "topic '{topic}' has no partition {partition} (it has {})",
                existing.len()
            );
        };
        chosen.insert(partition);
    }
    Ok(chosen.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::metadata::{PartitionMetadata, TopicMetadata};

    fn metadata(error_code: i16, partitions: &[i32]) -> ClusterMetadata {
        ClusterMetadata {
            brokers: vec![],
            cluster_id: None,
            controller_id: -1,
            topics: vec![TopicMetadata {
                error_code,
                name: "t".into(),
                topic_id: None,
                is_internal: false,
                partitions: partitions
                    .iter()
                    .map(|&partition| PartitionMetadata {
                        error_code: 0,
                        partition,
                        leader_id: 1,
                        leader_epoch: 0,
                        replicas: vec![1],
                        isr: vec![1],
                        offline_replicas: vec![],
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn partitions_come_sorted_and_missing_topics_are_named() {
        assert_eq!(
            topic_partitions(&metadata(0, &[2, 0, 1]), "t").ok(),
            Some(vec![0, 1, 2])
        );
        let err = topic_partitions(&metadata(0, &[0]), "other").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "topic 'other' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        );
        let err = topic_partitions(&metadata(3, &[]), "t").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "topic 't' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        );
        let err = topic_partitions(&metadata(5, &[]), "t").expect_err("leaderless");
        assert_eq!(
            err.to_string(),
            "topic 't': Broker: Leader not available (LEADER_NOT_AVAILABLE)"
        );
    }

    #[test]
    fn partitions_default_to_all_and_must_exist() {
        assert_eq!(
            chosen_partitions("t", &[0, 1, 2], &[]).ok(),
            Some(vec![0, 1, 2])
        );
        assert_eq!(
            chosen_partitions("t", &[0, 1, 2], &[2, 0, 2]).ok(),
            Some(vec![0, 2])
        );
        let err = chosen_partitions("t", &[0, 1], &[5]).expect_err("no such partition");
        assert_eq!(err.to_string(), "topic 't' has no partition 5 (it has 2)");
        assert!(chosen_partitions("t", &[0], &[u32::MAX]).is_err());
    }
}
