//! Topic commands: CreateTopics (with assignments), DeleteTopics, CreatePartitions, and topic
//! configs.
//!
//! New partitions start as KRaft starts them: the ISR is the assigned replicas that are
//! registered and unfenced, the leader is the first of them in assignment order (the preferred
//! leader when it is alive), both epochs are 0. A partition none of whose replicas is alive is
//! rejected (INVALID_REPLICA_ASSIGNMENT), as are replicas that are not registered brokers.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use uuid::Uuid;

use super::apply_config_ops;
use super::done;
use super::MetadataImage;
use super::PartitionState;
use super::TopicImage;
use crate::command::CommandError;
use crate::command::CommandResult;
use crate::command::ConfigOp;

/// Kafka's limit on topic name length.
pub const TOPIC_NAME_LENGTH_MAX: usize = 249;

impl MetadataImage {
    pub(super) fn create_topic(
        &mut self,
        name: &str,
        topic_id: Uuid,
        assignments: &[Vec<i32>],
        configs: &BTreeMap<String, String>,
    ) -> CommandResult {
        validate_topic_name(name)?;
        if self.topics.contains_key(name) {
            return Err(CommandError::TopicAlreadyExists(name.to_string()));
        }
        if let Some(other) = self.topics.keys().find(|t| names_collide(t, name)) {
            return Err(CommandError::InvalidTopic(format!(
                "topic '{name}' collides with existing topic '{other}' ('.' and '_' are \
                 interchangeable in metric names)"
            )));
        }
        if topic_id.is_nil() {
            return Err(CommandError::InvalidRequest(
                "the zero topic id is reserved".into(),
            ));
        }
        if self.topic_names_by_id.contains_key(&topic_id) {
            return Err(CommandError::InvalidRequest(format!(
                "topic id {topic_id} is already in use"
            )));
        }
        if assignments.is_empty() {
            return Err(CommandError::InvalidPartitions(
                "a topic needs at least one partition".into(),
            ));
        }
        if configs.keys().any(String::is_empty) {
            return Err(CommandError::InvalidConfig("empty config name".into()));
        }
        let replication_factor = assignments[0].len();
        let partitions = self.new_partitions(0, replication_factor, assignments)?;
        self.topic_names_by_id.insert(topic_id, name.to_string());
        self.topics.insert(
            name.to_string(),
            TopicImage {
                name: name.to_string(),
                topic_id,
                partitions,
                configs: configs.clone(),
            },
        );
        done()
    }

    pub(super) fn delete_topic(&mut self, topic_id: Uuid) -> CommandResult {
        let name = self
            .topic_names_by_id
            .remove(&topic_id)
            .ok_or(CommandError::UnknownTopicId(topic_id))?;
        self.topics.remove(&name);
        done()
    }

    pub(super) fn create_partitions(
        &mut self,
        topic: &str,
        assignments: &[Vec<i32>],
    ) -> CommandResult {
        let existing = self
            .topics
            .get(topic)
            .ok_or_else(|| CommandError::UnknownTopic(topic.to_string()))?;
        if assignments.is_empty() {
            return Err(CommandError::InvalidPartitions(format!(
                "topic '{topic}' already has {} partitions; add at least one",
                existing.partitions.len()
            )));
        }
        // invariant: a topic has at least one partition, all with the same replication factor.
        let replication_factor = existing.partitions[0].replicas.len();
        let first = existing.partitions.len();
        let added = self.new_partitions(first, replication_factor, assignments)?;
        if let Some(t) = self.topics.get_mut(topic) {
            t.partitions.extend(added);
        }
        done()
    }

    pub(super) fn alter_topic_config(&mut self, topic: &str, ops: &[ConfigOp]) -> CommandResult {
        let t = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| CommandError::UnknownTopic(topic.to_string()))?;
        apply_config_ops(&mut t.configs, ops)?;
        done()
    }

    /// Initial states of partitions `first..` from their replica lists; checks the lists.
    fn new_partitions(
        &self,
        first: usize,
        replication_factor: usize,
        assignments: &[Vec<i32>],
    ) -> Result<Vec<PartitionState>, CommandError> {
        if first
            .checked_add(assignments.len())
            .is_none_or(|n| i32::try_from(n).is_err())
        {
            return Err(CommandError::InvalidPartitions(
                "too many partitions".into(),
            ));
        }
        let mut partitions = Vec::with_capacity(assignments.len());
        for (i, replicas) in assignments.iter().enumerate() {
            let partition = first + i;
            if replicas.is_empty() {
                return Err(CommandError::InvalidReplicationFactor(format!(
                    "partition {partition} has no replicas"
                )));
            }
            if replicas.len() != replication_factor {
                return Err(CommandError::InvalidReplicaAssignment(format!(
                    "partition {partition} has {} replicas, the topic's replication factor is \
                     {replication_factor}",
                    replicas.len()
                )));
            }
            let distinct: BTreeSet<i32> = replicas.iter().copied().collect();
            if distinct.len() != replicas.len() {
                return Err(CommandError::InvalidReplicaAssignment(format!(
                    "partition {partition} lists a replica twice: {replicas:?}"
                )));
            }
            if let Some(unknown) = replicas.iter().find(|r| !self.brokers.contains_key(r)) {
                return Err(CommandError::InvalidReplicaAssignment(format!(
                    "broker {unknown} in the assignment of partition {partition} is not \
                     registered"
                )));
            }
            let isr: Vec<i32> = replicas
                .iter()
                .copied()
                .filter(|&r| self.is_live_broker(r))
                .collect();
            let Some(&leader) = isr.first() else {
                return Err(CommandError::InvalidReplicaAssignment(format!(
                    "all replicas of partition {partition} are fenced: {replicas:?}"
                )));
            };
            partitions.push(PartitionState {
                replicas: replicas.clone(),
                isr,
                leader: Some(leader),
                leader_epoch: 0,
                partition_epoch: 0,
                adding_replicas: Vec::new(),
                removing_replicas: Vec::new(),
            });
        }
        Ok(partitions)
    }
}

/// Kafka's topic name rules: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), CommandError> {
    if name.is_empty() {
        return Err(CommandError::InvalidTopic("topic name is empty".into()));
    }
    if name == "." || name == ".." {
        return Err(CommandError::InvalidTopic(format!(
            "topic name cannot be '{name}'"
        )));
    }
    if name.len() > TOPIC_NAME_LENGTH_MAX {
        return Err(CommandError::InvalidTopic(format!(
            "topic name is {} characters long, the limit is {TOPIC_NAME_LENGTH_MAX}",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(CommandError::InvalidTopic(format!(
            "topic name '{name}' has the character {c:?}; only ASCII letters, digits, '.', '_' \
             and '-' are allowed"
        )));
    }
    Ok(())
}

/// Topics whose names differ only in '.' versus '_' would share metric names.
fn names_collide(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let norm = |c: u8| if c == b'.' { b'_' } else { c };
            norm(x) == norm(y)
        })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::command::CommandOutput;
    use crate::command::MetadataCommand;

    #[test]
    fn create_topic_sets_isr_and_preferred_leader() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        fence(&mut image, 2);
        create_topic(&mut image, "t", 1, vec![vec![2, 3, 1], vec![1, 2, 3]]).unwrap();
        let t = image.topic("t").unwrap();
        assert_eq!(t.partitions.len(), 2);
        let p0 = &t.partitions[0];
        assert_eq!(p0.replicas, vec![2, 3, 1]);
        assert_eq!(p0.isr, vec![3, 1]);
        assert_eq!(p0.leader, Some(3));
        assert_eq!((p0.leader_epoch, p0.partition_epoch), (0, 0));
        assert_eq!(t.partitions[1].leader, Some(1));
        assert_eq!(image.topic_by_id(&Uuid::from_u128(1)).unwrap().name, "t");
    }

    #[test]
    fn topic_already_exists() {
        let mut image = image_with_brokers(&[1]);
        create_topic(&mut image, "t", 1, vec![vec![1]]).unwrap();
        let r = create_topic(&mut image, "t", 2, vec![vec![1]]);
        assert_eq!(r, Err(CommandError::TopicAlreadyExists("t".into())));
        assert_eq!(r.unwrap_err().error_code(), 36);
    }

    #[test]
    fn topic_names() {
        let mut image = image_with_brokers(&[1]);
        for bad in ["", ".", "..", "a b", "ü", &"x".repeat(250)] {
            let r = create_topic(&mut image, bad, 5, vec![vec![1]]);
            assert!(
                matches!(r, Err(CommandError::InvalidTopic(_))),
                "{bad:?}: {r:?}"
            );
        }
        create_topic(&mut image, &"x".repeat(249), 6, vec![vec![1]]).unwrap();
        create_topic(&mut image, "a.b", 7, vec![vec![1]]).unwrap();
        let r = create_topic(&mut image, "a_b", 8, vec![vec![1]]);
        assert!(matches!(r, Err(CommandError::InvalidTopic(_))), "{r:?}");
        assert_eq!(image.topics().len(), 2);
    }

    #[test]
    fn topic_ids_are_unique_and_not_zero() {
        let mut image = image_with_brokers(&[1]);
        let r = create_topic(&mut image, "t", 0, vec![vec![1]]);
        assert!(matches!(r, Err(CommandError::InvalidRequest(_))));
        create_topic(&mut image, "t", 1, vec![vec![1]]).unwrap();
        let r = create_topic(&mut image, "u", 1, vec![vec![1]]);
        assert!(matches!(r, Err(CommandError::InvalidRequest(_))));
    }

    #[test]
    fn bad_assignments() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        let cases: Vec<(Vec<Vec<i32>>, i16)> = vec![
            (vec![], 37),
            (vec![vec![]], 38),
            (vec![vec![1, 2], vec![1]], 39),
            (vec![vec![1, 1]], 39),
            (vec![vec![1, 9]], 39),
        ];
        for (assignments, code) in cases {
            let r = create_topic(&mut image, "t", 1, assignments.clone());
            assert_eq!(
                r.clone().unwrap_err().error_code(),
                code,
                "{assignments:?}: {r:?}"
            );
        }
        fence(&mut image, 1);
        fence(&mut image, 2);
        let r = create_topic(&mut image, "t", 1, vec![vec![3], vec![1, 2]]);
        assert!(matches!(r, Err(CommandError::InvalidReplicaAssignment(_))));
        let r = create_topic(&mut image, "t", 1, vec![vec![1, 2]]);
        assert!(matches!(r, Err(CommandError::InvalidReplicaAssignment(_))));
        assert!(image.topics().is_empty());
        let r = apply(
            &mut image,
            MetadataCommand::CreateTopic {
                name: "t".into(),
                topic_id: Uuid::from_u128(1),
                assignments: vec![vec![3]],
                configs: BTreeMap::from([(String::new(), "x".into())]),
            },
        );
        assert!(matches!(r, Err(CommandError::InvalidConfig(_))));
    }

    #[test]
    fn delete_topic_by_id() {
        let mut image = image_with_brokers(&[1]);
        create_topic(&mut image, "t", 1, vec![vec![1]]).unwrap();
        let id = Uuid::from_u128(1);
        assert_eq!(
            apply(&mut image, MetadataCommand::DeleteTopic { topic_id: id }),
            Ok(CommandOutput::Done)
        );
        assert!(image.topic("t").is_none());
        assert!(image.topic_by_id(&id).is_none());
        let r = apply(&mut image, MetadataCommand::DeleteTopic { topic_id: id });
        assert_eq!(r, Err(CommandError::UnknownTopicId(id)));
        create_topic(&mut image, "t", 2, vec![vec![1]]).unwrap();
    }

    #[test]
    fn create_partitions() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2]]).unwrap();
        let add = |image: &mut MetadataImage, topic: &str, a: Vec<Vec<i32>>| {
            apply(
                image,
                MetadataCommand::CreatePartitions {
                    topic: topic.into(),
                    assignments: a,
                },
            )
        };
        add(&mut image, "t", vec![vec![2, 3], vec![3, 1]]).unwrap();
        let t = image.topic("t").unwrap();
        assert_eq!(t.partitions.len(), 3);
        assert_eq!(t.partition(2).unwrap().leader, Some(3));
        assert_eq!(
            add(&mut image, "nope", vec![vec![1, 2]]),
            Err(CommandError::UnknownTopic("nope".into()))
        );
        assert!(matches!(
            add(&mut image, "t", vec![]),
            Err(CommandError::InvalidPartitions(_))
        ));
        assert!(matches!(
            add(&mut image, "t", vec![vec![1]]),
            Err(CommandError::InvalidReplicaAssignment(_))
        ));
        assert!(matches!(
            add(&mut image, "t", vec![vec![1, 2], vec![7, 1]]),
            Err(CommandError::InvalidReplicaAssignment(_))
        ));
        assert_eq!(image.topic("t").unwrap().partitions.len(), 3);
    }

    #[test]
    fn topic_configs() {
        let mut image = image_with_brokers(&[1]);
        apply(
            &mut image,
            MetadataCommand::CreateTopic {
                name: "t".into(),
                topic_id: Uuid::from_u128(1),
                assignments: vec![vec![1]],
                configs: BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]),
            },
        )
        .unwrap();
        apply(
            &mut image,
            MetadataCommand::AlterTopicConfig {
                topic: "t".into(),
                ops: vec![
                    ConfigOp::Set {
                        name: "retention.ms".into(),
                        value: "10".into(),
                    },
                    ConfigOp::Delete {
                        name: "cleanup.policy".into(),
                    },
                ],
            },
        )
        .unwrap();
        let configs = &image.topic("t").unwrap().configs;
        assert_eq!(configs.len(), 1);
        assert_eq!(configs["retention.ms"], "10");
        let r = apply(
            &mut image,
            MetadataCommand::AlterTopicConfig {
                topic: "u".into(),
                ops: vec![],
            },
        );
        assert_eq!(r, Err(CommandError::UnknownTopic("u".into())));
    }
}
