//! The records the group coordinator writes to `__consumer_offsets`, in Kafka's own layout, so
//! that tools which read that topic (and a later Kafka-format migration) understand them.
//!
//! Fields are encoded as `sluice_coordinator::fields` describes (strings int16-length-prefixed
//! UTF-8, -1: null; bytes int32-length-prefixed).
//! ```text
//! key version 0/1: offset commit        key version 2: group metadata
//!   group      string                      group      string
//!   topic      string
//!   partition  int32
//!
//! OffsetCommitValue v3                   GroupMetadataValue v3
//!   offset            int64                protocol_type            string
//!   leader_epoch      int32                generation               int32
//!   metadata          string               protocol                 nullable string
//!   commit_timestamp  int64                leader                   nullable string
//!                                          current_state_timestamp  int64
//!                                          members                  int32 count, then each:
//!                                            member_id, group_instance_id (nullable),
//!                                            client_id, client_host: string
//!                                            rebalance_timeout, session_timeout: int32
//!                                            subscription, assignment: bytes
//! ```
//! Older value versions (v0-v2 of both) are read too: v1 of the offset value has an expire
//! timestamp, v0 of the group value has no rebalance timeout.
//!
//! Offsets committed inside a transaction are Sluice's own (key version 101: group, topic,
//! partition, producer id; an offset value): pending until the transaction ends.
//!
//! Records of groups using the KIP-848 consumer protocol are Sluice's own (key version 100):
//! the group's member list with subscriptions, epochs and assignments (see
//! [`ConsumerGroupValue`]). A tombstone (null value) deletes what its key names.

use bytes::{BufMut, Bytes, BytesMut};
use sluice_coordinator::fields::{
    get_bytes, get_count, get_i16, get_i32, get_i64, get_opt_str, get_str, put_bytes, put_opt_str,
    put_str,
};
pub use sluice_coordinator::RecordError;

/// What a record key names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Group {
        group: String,
    },
    ConsumerGroup {
        group: String,
    },
    /// An offset committed inside a transaction (TxnOffsetCommit), not yet visible: it becomes
    /// an `Offset` record when the transaction commits and is deleted either way.
    TxnOffset {
        group: String,
        topic: String,
        partition: i32,
        producer_id: i64,
    },
}

impl RecordKey {
    pub fn group(&self) -> &str {
        match self {
            RecordKey::Offset { group, .. }
            | RecordKey::Group { group }
            | RecordKey::ConsumerGroup { group }
            | RecordKey::TxnOffset { group, .. } => group,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Only in v1 values (explicit retention of an old client); -1 otherwise.
    pub expire_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp: i64,
    pub members: Vec<MemberValue>,
}

/// One member of a KIP-848 consumer group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMemberValue {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topics: Vec<String>,
    pub server_assignor: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub member_epoch: i32,
    /// topic name -> partitions the member owns.
    pub assigned: Vec<(String, Vec<i32>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupValue {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: Vec<ConsumerMemberValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    Offset(OffsetValue),
    Group(GroupValue),
    ConsumerGroup(ConsumerGroupValue),
}

const OFFSET_KEY_VERSION: i16 = 1;
const GROUP_KEY_VERSION: i16 = 2;
const CONSUMER_GROUP_KEY_VERSION: i16 = 100;
const TXN_OFFSET_KEY_VERSION: i16 = 101;
const OFFSET_VALUE_VERSION: i16 = 3;
const GROUP_VALUE_VERSION: i16 = 3;
const CONSUMER_GROUP_VALUE_VERSION: i16 = 0;

pub fn encode_key(key: &RecordKey) -> Bytes {
    let mut out = BytesMut::new();
    match key {
        RecordKey::Offset {
            group,
            topic,
            partition,
        } => {
            out.put_i16(OFFSET_KEY_VERSION);
            put_str(&mut out, group);
            put_str(&mut out, topic);
            out.put_i32(*partition);
        }
        RecordKey::Group { group } => {
            out.put_i16(GROUP_KEY_VERSION);
            put_str(&mut out, group);
        }
        RecordKey::ConsumerGroup { group } => {
            out.put_i16(CONSUMER_GROUP_KEY_VERSION);
            put_str(&mut out, group);
        }
        RecordKey::TxnOffset {
            group,
            topic,
            partition,
            producer_id,
        } => {
            out.put_i16(TXN_OFFSET_KEY_VERSION);
            put_str(&mut out, group);
            put_str(&mut out, topic);
            out.put_i32(*partition);
            out.put_i64(*producer_id);
        }
    }
    out.freeze()
}

pub fn encode_value(value: &RecordValue) -> Bytes {
    let mut out = BytesMut::new();
    match value {
        RecordValue::Offset(v) => {
            out.put_i16(OFFSET_VALUE_VERSION);
            out.put_i64(v.offset);
            out.put_i32(v.leader_epoch);
            put_str(&mut out, &v.metadata);
            out.put_i64(v.commit_timestamp);
        }
        RecordValue::Group(v) => {
            out.put_i16(GROUP_VALUE_VERSION);
            put_str(&mut out, &v.protocol_type);
            out.put_i32(v.generation);
            put_opt_str(&mut out, v.protocol.as_deref());
            put_opt_str(&mut out, v.leader.as_deref());
            out.put_i64(v.current_state_timestamp);
            out.put_i32(v.members.len() as i32);
            for m in &v.members {
                put_str(&mut out, &m.member_id);
                put_opt_str(&mut out, m.group_instance_id.as_deref());
                put_str(&mut out, &m.client_id);
                put_str(&mut out, &m.client_host);
                out.put_i32(m.rebalance_timeout_ms);
                out.put_i32(m.session_timeout_ms);
                put_bytes(&mut out, &m.subscription);
                put_bytes(&mut out, &m.assignment);
            }
        }
        RecordValue::ConsumerGroup(v) => {
            out.put_i16(CONSUMER_GROUP_VALUE_VERSION);
            out.put_i32(v.group_epoch);
            out.put_i32(v.assignment_epoch);
            out.put_i32(v.members.len() as i32);
            for m in &v.members {
                put_str(&mut out, &m.member_id);
                put_opt_str(&mut out, m.instance_id.as_deref());
                put_opt_str(&mut out, m.rack_id.as_deref());
                put_str(&mut out, &m.client_id);
                put_str(&mut out, &m.client_host);
                out.put_i32(m.subscribed_topics.len() as i32);
                for t in &m.subscribed_topics {
                    put_str(&mut out, t);
                }
                put_opt_str(&mut out, m.server_assignor.as_deref());
                out.put_i32(m.rebalance_timeout_ms);
                out.put_i32(m.member_epoch);
                out.put_i32(m.assigned.len() as i32);
                for (topic, partitions) in &m.assigned {
                    put_str(&mut out, topic);
                    out.put_i32(partitions.len() as i32);
                    for p in partitions {
                        out.put_i32(*p);
                    }
                }
            }
        }
    }
    out.freeze()
}

pub fn decode_key(mut buf: Bytes) -> Result<RecordKey, RecordError> {
    let r = &mut buf;
    let version = get_i16(r)?;
    let key = match version {
        0 | 1 => RecordKey::Offset {
            group: get_str(r)?,
            topic: get_str(r)?,
            partition: get_i32(r)?,
        },
        GROUP_KEY_VERSION => RecordKey::Group { group: get_str(r)? },
        CONSUMER_GROUP_KEY_VERSION => RecordKey::ConsumerGroup { group: get_str(r)? },
        TXN_OFFSET_KEY_VERSION => RecordKey::TxnOffset {
            group: get_str(r)?,
            topic: get_str(r)?,
            partition: get_i32(r)?,
            producer_id: get_i64(r)?,
        },
        other => return Err(RecordError(format!("unknown key version {other}"))),
    };
    Ok(key)
}

/// Decodes the value of a record whose key is `key`.
pub fn decode_value(key: &RecordKey, mut buf: Bytes) -> Result<RecordValue, RecordError> {
    let r = &mut buf;
    let version = get_i16(r)?;
    match key {
        RecordKey::Offset { .. } | RecordKey::TxnOffset { .. } => {
            if !(0..=3).contains(&version) {
                return Err(RecordError(format!(
                    "unknown offset value version {version}"
                )));
            }
            let offset = get_i64(r)?;
            let leader_epoch = if version >= 3 { get_i32(r)? } else { -1 };
            let metadata = get_str(r)?;
            let commit_timestamp = get_i64(r)?;
            let expire_timestamp = if version == 1 { get_i64(r)? } else { -1 };
            Ok(RecordValue::Offset(OffsetValue {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp,
                expire_timestamp,
            }))
        }
        RecordKey::Group { .. } => {
            if !(0..=3).contains(&version) {
                return Err(RecordError(format!(
                    "unknown group value version {version}"
                )));
            }
            let protocol_type = get_str(r)?;
            let generation = get_i32(r)?;
            let protocol = get_opt_str(r)?;
            let leader = get_opt_str(r)?;
            let current_state_timestamp = if version >= 2 { get_i64(r)? } else { -1 };
            let count = get_count(r, 20)?;
            let mut members = Vec::with_capacity(count);
            for _ in 0..count {
                let member_id = get_str(r)?;
                let group_instance_id = if version >= 3 { get_opt_str(r)? } else { None };
                let client_id = get_str(r)?;
                let client_host = get_str(r)?;
                let rebalance_timeout_ms = if version >= 1 { get_i32(r)? } else { -1 };
                let session_timeout_ms = get_i32(r)?;
                let rebalance_timeout_ms = if version >= 1 {
                    rebalance_timeout_ms
                } else {
                    session_timeout_ms
                };
                members.push(MemberValue {
                    member_id,
                    group_instance_id,
                    client_id,
                    client_host,
                    rebalance_timeout_ms,
                    session_timeout_ms,
                    subscription: get_bytes(r)?,
                    assignment: get_bytes(r)?,
                });
            }
            Ok(RecordValue::Group(GroupValue {
                protocol_type,
                generation,
                protocol,
                leader,
                current_state_timestamp,
                members,
            }))
        }
        RecordKey::ConsumerGroup { .. } => {
            if version != CONSUMER_GROUP_VALUE_VERSION {
                return Err(RecordError(format!(
                    "unknown consumer group value version {version}"
                )));
            }
            let group_epoch = get_i32(r)?;
            let assignment_epoch = get_i32(r)?;
            let count = get_count(r, 30)?;
            let mut members = Vec::with_capacity(count);
            for _ in 0..count {
                let member_id = get_str(r)?;
                let instance_id = get_opt_str(r)?;
                let rack_id = get_opt_str(r)?;
                let client_id = get_str(r)?;
                let client_host = get_str(r)?;
                let n = get_count(r, 2)?;
                let mut subscribed_topics = Vec::with_capacity(n);
                for _ in 0..n {
                    subscribed_topics.push(get_str(r)?);
                }
                let server_assignor = get_opt_str(r)?;
                let rebalance_timeout_ms = get_i32(r)?;
                let member_epoch = get_i32(r)?;
                let n = get_count(r, 6)?;
                let mut assigned = Vec::with_capacity(n);
                for _ in 0..n {
                    let topic = get_str(r)?;
                    let k = get_count(r, 4)?;
                    let mut partitions = Vec::with_capacity(k);
                    for _ in 0..k {
                        partitions.push(get_i32(r)?);
                    }
                    assigned.push((topic, partitions));
                }
                members.push(ConsumerMemberValue {
                    member_id,
                    instance_id,
                    rack_id,
                    client_id,
                    client_host,
                    subscribed_topics,
                    server_assignor,
                    rebalance_timeout_ms,
                    member_epoch,
                    assigned,
                });
            }
            Ok(RecordValue::ConsumerGroup(ConsumerGroupValue {
                group_epoch,
                assignment_epoch,
                members,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_record_round_trips() {
        let key = RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 7,
        };
        let value = RecordValue::Offset(OffsetValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "m".into(),
            commit_timestamp: 1_700_000_000_000,
            expire_timestamp: -1,
        });
        let k = decode_key(encode_key(&key)).unwrap();
        assert_eq!(k, key);
        assert_eq!(decode_value(&k, encode_value(&value)).unwrap(), value);
    }

    #[test]
    fn group_record_round_trips() {
        let key = RecordKey::Group { group: "g".into() };
        let value = RecordValue::Group(GroupValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 9,
            members: vec![MemberValue {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 45_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        });
        assert_eq!(decode_value(&key, encode_value(&value)).unwrap(), value);
    }

    #[test]
    fn consumer_group_record_round_trips() {
        let key = RecordKey::ConsumerGroup { group: "g".into() };
        let value = RecordValue::ConsumerGroup(ConsumerGroupValue {
            group_epoch: 4,
            assignment_epoch: 4,
            members: vec![ConsumerMemberValue {
                member_id: "m".into(),
                instance_id: None,
                rack_id: Some("r".into()),
                client_id: "c".into(),
                client_host: "h".into(),
                subscribed_topics: vec!["a".into(), "b".into()],
                server_assignor: Some("uniform".into()),
                rebalance_timeout_ms: 1000,
                member_epoch: 4,
                assigned: vec![("a".into(), vec![0, 2])],
            }],
        });
        assert!(decode_value(&key, Bytes::new()).is_err());
        assert_eq!(decode_value(&key, encode_value(&value)).unwrap(), value);
    }

    #[test]
    fn truncated_and_garbage_records_are_errors_not_panics() {
        let key = RecordKey::Group { group: "g".into() };
        let full = encode_value(&RecordValue::Group(GroupValue {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: None,
            leader: None,
            current_state_timestamp: 0,
            members: vec![],
        }));
        for cut in 0..full.len() {
            assert!(decode_value(&key, full.slice(..cut)).is_err(), "cut {cut}");
        }
        assert!(decode_key(Bytes::from_static(&[0, 9, 0, 1])).is_err());
        assert!(decode_key(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff])).is_err());
    }
}
