//! What `group describe` prints, built from plain data so the layout is tested without a
//! cluster: the group's summary line, its members and their assignments, then one row per
//! partition with the committed offset, the log end offset and the lag, as
//! `kafka-consumer-groups --describe` shows them.

use std::collections::{BTreeMap, BTreeSet};

use crate::group::assignment::{decode_assignment, Assignment};
use crate::table::Table;

/// A group as DescribeGroups (or ListGroups) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub name: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: InstanceId,
    pub client_id: String,
    pub host: String,
    pub assignment: MemberAssignment,
}

/// A member's `group.instance.id` (KIP-345), which not every way of describing a group returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceId {
    /// A static member.
    Static(String),
    /// A dynamic member: it has none.
    Dynamic,
    /// The description did not say.
    Unknown,
}

/// A member's assignment bytes, read according to the group's protocol type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberAssignment {
    /// Nothing assigned yet (the group is rebalancing) or an empty assignment.
    None,
    Consumer(Assignment),
    /// Bytes of another protocol type (Kafka Connect, say), or a consumer assignment that
    /// does not decode; the text says which.
    Opaque(String),
}

impl MemberAssignment {
    /// Reads `bytes` as a consumer-protocol assignment when the group is a consumer group.
    pub fn from_bytes(protocol_type: &str, bytes: Option<&[u8]>) -> MemberAssignment {
        let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
            return MemberAssignment::None;
        };
        if protocol_type != "consumer" {
            return MemberAssignment::Opaque(format!(
                "({} bytes of protocol type '{protocol_type}')",
                bytes.len()
            ));
        }
        match decode_assignment(bytes) {
            Ok(assignment) => MemberAssignment::Consumer(assignment),
            Err(why) => MemberAssignment::Opaque(format!("(undecodable: {why})")),
        }
    }

    fn partitions(&self) -> Vec<(&str, i32)> {
        match self {
            MemberAssignment::Consumer(assignment) => assignment.partitions().collect(),
            _ => Vec::new(),
        }
    }

    fn display(&self) -> String {
        match self {
            MemberAssignment::None => "-".to_string(),
            MemberAssignment::Consumer(assignment) => assignment.to_string(),
            MemberAssignment::Opaque(text) => text.clone(),
        }
    }
}

/// One line of the offsets table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRow {
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset; None when the partition is assigned but never committed.
    pub current_offset: Option<i64>,
    /// The high watermark; None when it could not be read.
    pub log_end_offset: Option<i64>,
    /// The member the partition is assigned to, if any.
    pub consumer_id: Option<String>,
}

impl OffsetRow {
    /// How far the group is behind the log end; unknown without both offsets. Negative when
    /// the committed offset is past the end (the log was truncated or recreated).
    pub fn lag(&self) -> Option<i64> {
        Some(self.log_end_offset?.saturating_sub(self.current_offset?))
    }
}

/// The partitions to show: every partition with a committed offset and every partition a member
/// is assigned, in (topic, partition) order, each with the member it is assigned to.
pub fn partitions_to_show(
    group: &GroupDescription,
    committed: &BTreeMap<(String, i32), i64>,
) -> BTreeMap<(String, i32), Option<String>> {
    let mut shown: BTreeMap<(String, i32), Option<String>> =
        committed.keys().map(|key| (key.clone(), None)).collect();
    for member in &group.members {
        for (topic, partition) in member.assignment.partitions() {
            shown.insert(
                (topic.to_string(), partition),
                Some(member.member_id.clone()),
            );
        }
    }
    shown
}

/// Every partition some member is assigned, in (topic, partition) order.
pub fn assigned_partitions(group: &GroupDescription) -> BTreeSet<(String, i32)> {
    group
        .members
        .iter()
        .flat_map(|m| m.assignment.partitions())
        .map(|(topic, partition)| (topic.to_string(), partition))
        .collect()
}

/// The whole `group describe` output.
pub fn render_description(group: &GroupDescription, rows: &[OffsetRow]) -> String {
    let mut summary = Table::new(&["GROUP", "STATE", "PROTOCOL-TYPE", "PROTOCOL", "MEMBERS"]);
    summary.push(vec![
        group.name.clone(),
        or_dash(&group.state),
        or_dash(&group.protocol_type),
        or_dash(&group.protocol),
        group.members.len().to_string(),
    ]);
    let mut out = summary.render();
    out.push('\n');

    if group.members.is_empty() {
        out.push_str(&format!("Group '{}' has no active members.\n", group.name));
    } else {
        let mut members = Table::new(&[
            "MEMBER-ID",
            "GROUP-INSTANCE-ID",
            "CLIENT-ID",
            "HOST",
            "ASSIGNMENT",
        ]);
        for m in &group.members {
            let instance = match &m.group_instance_id {
                InstanceId::Static(id) => id.clone(),
                InstanceId::Dynamic => "-".to_string(),
                InstanceId::Unknown => "?".to_string(),
            };
            members.push(vec![
                m.member_id.clone(),
                instance,
                or_dash(&m.client_id),
                or_dash(&m.host),
                m.assignment.display(),
            ]);
        }
        out.push_str(&members.render());
    }
    out.push('\n');

    if rows.is_empty() {
        out.push_str(&format!(
            "Group '{}' has no committed offsets and no assigned partitions.\n",
            group.name
        ));
        return out;
    }
    let mut offsets = Table::new(&[
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
    ]);
    for row in rows {
        offsets.push(vec![
            row.topic.clone(),
            row.partition.to_string(),
            opt(row.current_offset),
            opt(row.log_end_offset),
            opt(row.lag()),
            row.consumer_id.clone().unwrap_or_else(|| "-".to_string()),
        ]);
    }
    out.push_str(&offsets.render());
    out
}

fn opt(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(topics: &[(&str, &[i32])]) -> MemberAssignment {
        MemberAssignment::Consumer(Assignment {
            topics: topics
                .iter()
                .map(|(t, ids)| (t.to_string(), ids.to_vec()))
                .collect(),
        })
    }

    fn stable_group() -> GroupDescription {
        GroupDescription {
            name: "billing".to_string(),
            state: "Stable".to_string(),
            protocol_type: "consumer".to_string(),
            protocol: "range".to_string(),
            members: vec![
                Member {
                    member_id: "m-1".to_string(),
                    group_instance_id: InstanceId::Static("host-a".to_string()),
                    client_id: "app".to_string(),
                    host: "/10.0.0.1".to_string(),
                    assignment: consumer(&[("orders", &[0, 1])]),
                },
                Member {
                    member_id: "m-2".to_string(),
                    group_instance_id: InstanceId::Dynamic,
                    client_id: "app".to_string(),
                    host: "/10.0.0.2".to_string(),
                    assignment: consumer(&[("orders", &[2])]),
                },
            ],
        }
    }

    fn committed(entries: &[(&str, i32, i64)]) -> BTreeMap<(String, i32), i64> {
        entries
            .iter()
            .map(|&(t, p, o)| ((t.to_string(), p), o))
            .collect()
    }

    #[test]
    fn lag_needs_both_offsets() {
        let row = |current, end| OffsetRow {
            topic: "t".to_string(),
            partition: 0,
            current_offset: current,
            log_end_offset: end,
            consumer_id: None,
        };
        assert_eq!(row(Some(3), Some(10)).lag(), Some(7));
        assert_eq!(row(Some(10), Some(10)).lag(), Some(0));
        assert_eq!(row(Some(12), Some(10)).lag(), Some(-2));
        assert_eq!(row(None, Some(10)).lag(), None);
        assert_eq!(row(Some(3), None).lag(), None);
    }

    #[test]
    fn shown_partitions_join_commits_and_assignments() {
        let group = stable_group();
        let shown =
            partitions_to_show(&group, &committed(&[("orders", 0, 5), ("old-topic", 1, 9)]));
        let expected: Vec<((String, i32), Option<String>)> = vec![
            (("old-topic".to_string(), 1), None),
            (("orders".to_string(), 0), Some("m-1".to_string())),
            (("orders".to_string(), 1), Some("m-1".to_string())),
            (("orders".to_string(), 2), Some("m-2".to_string())),
        ];
        assert_eq!(shown.into_iter().collect::<Vec<_>>(), expected);
        assert_eq!(
            assigned_partitions(&group).into_iter().collect::<Vec<_>>(),
            vec![
                ("orders".to_string(), 0),
                ("orders".to_string(), 1),
                ("orders".to_string(), 2)
            ]
        );
    }

    #[test]
    fn a_stable_group_is_rendered_like_kafka_consumer_groups() {
        let group = stable_group();
        let rows = vec![
            OffsetRow {
                topic: "orders".to_string(),
                partition: 0,
                current_offset: Some(5),
                log_end_offset: Some(12),
                consumer_id: Some("m-1".to_string()),
            },
            OffsetRow {
                topic: "orders".to_string(),
                partition: 1,
                current_offset: None,
                log_end_offset: Some(4),
                consumer_id: Some("m-1".to_string()),
            },
            OffsetRow {
                topic: "orders".to_string(),
                partition: 2,
                current_offset: Some(100),
                log_end_offset: None,
                consumer_id: Some("m-2".to_string()),
            },
        ];
        assert_eq!(
            render_description(&group, &rows),
            "\
GROUP    STATE   PROTOCOL-TYPE  PROTOCOL  MEMBERS
billing  Stable  consumer       range     2

MEMBER-ID  GROUP-INSTANCE-ID  CLIENT-ID  HOST       ASSIGNMENT
m-1        host-a             app        /10.0.0.1  orders(0,1)
m-2        -                  app        /10.0.0.2  orders(2)

TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID
orders  0          5               12              7    m-1
orders  1          -               4               -    m-1
orders  2          100             -               -    m-2
"
        );
    }

    #[test]
    fn an_empty_group_shows_only_its_offsets() {
        let group = GroupDescription {
            name: "idle".to_string(),
            state: "Empty".to_string(),
            protocol_type: "consumer".to_string(),
            protocol: String::new(),
            members: Vec::new(),
        };
        let rows = vec![OffsetRow {
            topic: "t".to_string(),
            partition: 0,
            current_offset: Some(1),
            log_end_offset: Some(1),
            consumer_id: None,
        }];
        assert_eq!(
            render_description(&group, &rows),
            "\
GROUP  STATE  PROTOCOL-TYPE  PROTOCOL  MEMBERS
idle   Empty  consumer       -         0

Group 'idle' has no active members.

TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID
t      0          1               1               0    -
"
        );
        let text = render_description(&group, &[]);
        assert!(
            text.ends_with("Group 'idle' has no committed offsets and no assigned partitions.\n"),
            "{text}"
        );
    }

    #[test]
    fn assignments_are_read_per_protocol_type() {
        let mut bytes = vec![0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 4];
        bytes.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            MemberAssignment::from_bytes("consumer", Some(&bytes)),
            consumer(&[("t", &[4])])
        );
        assert_eq!(
            MemberAssignment::from_bytes("connect", Some(&bytes)),
            MemberAssignment::Opaque("(21 bytes of protocol type 'connect')".to_string())
        );
        assert_eq!(
            MemberAssignment::from_bytes("consumer", None),
            MemberAssignment::None
        );
        assert_eq!(
            MemberAssignment::from_bytes("consumer", Some(&[])),
            MemberAssignment::None
        );
        let MemberAssignment::Opaque(text) =
            MemberAssignment::from_bytes("consumer", Some(&bytes[..7]))
        else {
            panic!("truncated bytes must not decode");
        };
        assert!(text.starts_with("(undecodable: "), "{text}");
        assert_eq!(MemberAssignment::None.display(), "-");
    }
}
