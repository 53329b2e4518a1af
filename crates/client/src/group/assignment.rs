//! The partitions a consumer-group member was assigned, decoded from the member assignment that
//! DescribeGroups returns for groups of protocol type `consumer`.
//!
//! Layout (Kafka's `ConsumerProtocolAssignment`, big-endian), versions 0 to 3 alike:
//!
//! ```text
//! version              int16   >= 0
//! assigned_partitions  int32   topic count N, then N times:
//!   topic              int16   length L, then L bytes of UTF-8
//!   partitions         int32   count M, then M times int32 partition id
//! user_data            bytes   int32 length (-1 = null) + bytes; ignored here
//! ```
//!
//! A version above 3 is read with the version-3 layout, as Kafka's consumer does: later
//! versions may only append fields.
//!
//! The bytes were written by whichever client led the group, so they are not trusted: every
//! count and length is checked against the bytes that remain before anything is reserved for it
//! (the generated decoder in `kafka-protocol` reserves a vector of whatever length a count says,
//! which is why this one is written out here).

use std::fmt;

/// Assigned partitions by topic, in the order the assignment lists them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    pub topics: Vec<(String, Vec<i32>)>,
}

impl Assignment {
    /// Every assigned (topic, partition).
    pub fn partitions(&self) -> impl Iterator<Item = (&str, i32)> + '_ {
        self.topics
            .iter()
            .flat_map(|(topic, ids)| ids.iter().map(move |&id| (topic.as_str(), id)))
    }
}

impl fmt::Display for Assignment {
    /// `orders(0,1),audit(3)` as kafka-consumer-groups prints assignments; `-` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (topic, ids) in self.topics.iter().filter(|(_, ids)| !ids.is_empty()) {
            if any {
                f.write_str(",")?;
            }
            any = true;
            let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
            write!(f, "{topic}({})", ids.join(","))?;
        }
        if !any {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// Decodes a consumer-protocol assignment; the error says what is wrong with the bytes.
pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment, String> {
    let mut reader = Reader::new(bytes);
    let version = reader.i16()?;
    if version < 0 {
        return Err(format!("unknown assignment version {version}"));
    }
    let topic_count = reader.count(TOPIC_MIN_BYTES)?;
    let mut topics = Vec::with_capacity(topic_count);
    for _ in 0..topic_count {
        let name = reader.string()?;
        let partition_count = reader.count(4)?;
        let mut ids = Vec::with_capacity(partition_count);
        for _ in 0..partition_count {
            ids.push(reader.i32()?);
        }
        topics.push((name, ids));
    }
    // user_data and anything a later version appends are of no use here.
    Ok(Assignment { topics })
}

/// The smallest encoding of one topic: an empty name and no partitions.
const TOPIC_MIN_BYTES: usize = 2 + 4;

/// Big-endian reads from the front of the assignment bytes, every length checked.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < len {
            return Err("the assignment is truncated".to_string());
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A STRING (int16 length, not null).
    fn string(&mut self) -> Result<String, String> {
        let len = self.i16()?;
        let len = usize::try_from(len).map_err(|_| format!("string length {len}"))?;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
    }

    /// An ARRAY count whose elements, at `element_min_bytes` each, fit in what remains.
    fn count(&mut self, element_min_bytes: usize) -> Result<usize, String> {
        let count = self.i32()?;
        let count = usize::try_from(count).map_err(|_| format!("negative count {count}"))?;
        if count.saturating_mul(element_min_bytes) > self.bytes.len() {
            return Err(format!(
                "element count {count} does not fit in the {} remaining bytes",
                self.bytes.len()
            ));
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::consumer_protocol_assignment::{
        ConsumerProtocolAssignment, TopicPartition,
    };
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    /// What a Java or librdkafka group leader sends: the version, then the message.
    fn encoded(version: i16, topics: &[(&str, &[i32])], user_data: Option<&[u8]>) -> Vec<u8> {
        let assignment = ConsumerProtocolAssignment::default()
            .with_assigned_partitions(
                topics
                    .iter()
                    .map(|(name, ids)| {
                        TopicPartition::default()
                            .with_topic(TopicName(StrBytes::from_string(name.to_string())))
                            .with_partitions(ids.to_vec())
                    })
                    .collect(),
            )
            .with_user_data(user_data.map(Bytes::copy_from_slice));
        let mut buf = BytesMut::new();
        buf.put_i16(version);
        assignment
            .encode(&mut buf, version.min(3))
            .expect("a valid assignment encodes");
        buf.to_vec()
    }

    #[test]
    fn decodes_every_version_the_same_way() {
        for version in 0..=3 {
            let bytes = encoded(version, &[("orders", &[0, 2]), ("audit", &[1])], Some(b"u"));
            let assignment = decode_assignment(&bytes).expect("valid assignment");
            assert_eq!(
                assignment.topics,
                vec![
                    ("orders".to_string(), vec![0, 2]),
                    ("audit".to_string(), vec![1])
                ]
            );
            assert_eq!(
                assignment.partitions().collect::<Vec<_>>(),
                vec![("orders", 0), ("orders", 2), ("audit", 1)]
            );
        }
    }

    #[test]
    fn a_newer_version_is_read_with_the_newest_known_layout() {
        let mut bytes = encoded(3, &[("t", &[5])], None);
        bytes[..2].copy_from_slice(&7i16.to_be_bytes());
        bytes.extend_from_slice(b"fields of version 7");
        let assignment = decode_assignment(&bytes).expect("forward compatible");
        assert_eq!(assignment.topics, vec![("t".to_string(), vec![5])]);
    }

    #[test]
    fn an_empty_assignment_prints_as_a_dash() {
        let assignment = decode_assignment(&encoded(0, &[], None)).expect("valid");
        assert_eq!(assignment, Assignment::default());
        assert_eq!(assignment.to_string(), "-");
        let only_empty = decode_assignment(&encoded(1, &[("t", &[])], None)).expect("valid");
        assert_eq!(only_empty.to_string(), "-");
    }

    #[test]
    fn display_groups_partitions_by_topic() {
        let assignment = Assignment {
            topics: vec![
                ("orders".to_string(), vec![0, 1]),
                ("audit".to_string(), vec![3]),
            ],
        };
        assert_eq!(assignment.to_string(), "orders(0,1),audit(3)");
    }

    #[test]
    fn truncated_bytes_are_an_error_at_every_length() {
        let bytes = encoded(1, &[("orders", &[0, 1, 2])], None);
        // Everything up to the end of the partition list is required; user_data is not read.
        let required = bytes.len() - 4;
        for len in 0..required {
            let err = decode_assignment(&bytes[..len]).expect_err("truncated");
            assert!(!err.is_empty());
        }
        assert!(decode_assignment(&bytes[..required]).is_ok());
    }

    #[test]
    fn hostile_counts_are_rejected_before_allocating() {
        let mut huge_topics = vec![0, 0];
        huge_topics.extend_from_slice(&i32::MAX.to_be_bytes());
        let err = decode_assignment(&huge_topics).expect_err("count too large");
        assert!(err.contains("does not fit"), "{err}");

        let mut huge_partitions = vec![0, 0, 0, 0, 0, 1, 0, 1, b't'];
        huge_partitions.extend_from_slice(&0x7fff_fff0i32.to_be_bytes());
        let err = decode_assignment(&huge_partitions).expect_err("count too large");
        assert!(err.contains("does not fit"), "{err}");

        let mut negative = vec![0, 0];
        negative.extend_from_slice(&(-5i32).to_be_bytes());
        assert!(decode_assignment(&negative).is_err());

        let negative_version = [0xff, 0xff, 0, 0, 0, 0];
        assert!(decode_assignment(&negative_version).is_err());
    }

    #[test]
    fn a_null_or_non_utf8_topic_name_is_an_error() {
        let null_name = [0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0];
        assert!(decode_assignment(&null_name).is_err());
        let bad_utf8 = [0, 0, 0, 0, 0, 1, 0, 1, 0xc3, 0, 0, 0, 0];
        assert!(decode_assignment(&bad_utf8).is_err());
    }
}
