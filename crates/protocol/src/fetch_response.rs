//! Encoding a FetchResponse without copying record data.
//!
//! `kafka-protocol`'s encoder copies every partition's records into one buffer. On the fetch
//! path the records are the bytes just read from the segment file, so this encoder produces the
//! response frame as a list of chunks instead: small buffers holding everything else, and the
//! records' own `Bytes` in between, ready for a vectored write to the socket.
//!
//! Byte layout (Kafka's FetchResponse v4-v18; "flexible" means v12+, where strings, arrays and
//! bytes carry unsigned-varint lengths plus one and every struct ends with tagged fields):
//! ```text
//! int32 frame size | int32 correlation id | [v12+: tagged fields]
//! int32 throttle_time_ms | [v7+: int16 error_code, int32 session_id]
//! responses: array of
//!   [v4-v12: string topic] [v13+: uuid topic_id]
//!   partitions: array of
//!     int32 partition_index, int16 error_code, int64 high_watermark, int64 last_stable_offset,
//!     [v5+: int64 log_start_offset], aborted_transactions: nullable array of
//!     (int64 producer_id, int64 first_offset [v12+: tagged fields]),
//!     [v11+: int32 preferred_read_replica], records: nullable bytes,
//!     [v12+: tagged fields 0 diverging_epoch, 1 current_leader, 2 snapshot_id]
//!   [v12+: tagged fields]
//! [v12+: tagged fields, 0 = node_endpoints (v16+)]
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::FetchResponse;
use kafka_protocol::protocol::Encodable;

#[derive(Debug, thiserror::Error)]
#[error("cannot encode FetchResponse v{version}: {reason}")]
pub struct EncodeError {
    pub version: i16,
    pub reason: String,
}

/// Non-empty records always travel as their own chunk: record data is never copied here.
const ZERO_COPY_MIN: usize = 1;

struct Chunks {
    done: Vec<Bytes>,
    cur: BytesMut,
    flexible: bool,
}

impl Chunks {
    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.cur.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.cur.put_u8(v as u8);
    }

    /// An array or nullable-array length prefix.
    fn len_prefix(&mut self, len: Option<usize>) {
        match (self.flexible, len) {
            (true, None) => self.uvarint(0),
            (true, Some(n)) => self.uvarint(n as u32 + 1),
            (false, None) => self.cur.put_i32(-1),
            (false, Some(n)) => self.cur.put_i32(n as i32),
        }
    }

    fn string(&mut self, s: &str) {
        if self.flexible {
            self.uvarint(s.len() as u32 + 1);
        } else {
            self.cur.put_i16(s.len() as i16);
        }
        self.cur.put_slice(s.as_bytes());
    }

    fn records(&mut self, records: &Option<Bytes>) {
        self.len_prefix(records.as_ref().map(Bytes::len));
        if let Some(r) = records {
            if r.len() >= ZERO_COPY_MIN {
                let head = self.cur.split().freeze();
                self.done.push(head);
                self.done.push(r.clone());
            } else {
                self.cur.put_slice(r);
            }
        }
    }

    fn tagged_struct<T: Encodable + Default + PartialEq>(
        &mut self,
        tag: u32,
        value: &T,
        version: i16,
    ) -> Result<(), String> {
        if value == &T::default() {
            return Ok(());
        }
        let size = value.compute_size(version).map_err(|e| e.to_string())?;
        self.uvarint(tag);
        self.uvarint(size as u32);
        value
            .encode(&mut self.cur, version)
            .map_err(|e| e.to_string())
    }
}

/// Encodes a whole response frame (size, header, body) as chunks whose concatenation is exactly
/// what `kafka-protocol` would have produced.
pub fn encode_fetch_response(
    correlation_id: i32,
    version: i16,
    response: &FetchResponse,
) -> Result<Vec<Bytes>, EncodeError> {
    let fail = |reason: String| EncodeError { version, reason };
    if !(4..=18).contains(&version) {
        return Err(fail("unsupported version".into()));
    }
    let flexible = version >= 12;
    let mut c = Chunks {
        done: Vec::new(),
        cur: BytesMut::with_capacity(256),
        flexible,
    };
    c.cur.put_i32(0); // frame size, patched below
    c.cur.put_i32(correlation_id);
    if flexible {
        c.uvarint(0);
    }
    c.cur.put_i32(response.throttle_time_ms);
    if version >= 7 {
        c.cur.put_i16(response.error_code);
        c.cur.put_i32(response.session_id);
    }
    c.len_prefix(Some(response.responses.len()));
    for topic in &response.responses {
        if version <= 12 {
            c.string(topic.topic.as_str());
        } else {
            c.cur.put_slice(topic.topic_id.as_bytes());
        }
        c.len_prefix(Some(topic.partitions.len()));
        for p in &topic.partitions {
            partition(&mut c, p, version).map_err(fail)?;
        }
        if flexible {
            c.uvarint(0);
        }
    }
    if flexible {
        if version >= 16 && !response.node_endpoints.is_empty() {
            let mut size = uvarint_len(response.node_endpoints.len() as u32 + 1);
            for e in &response.node_endpoints {
                size += e.compute_size(version).map_err(|e| fail(e.to_string()))?;
            }
            c.uvarint(1);
            c.uvarint(0);
            c.uvarint(size as u32);
            c.uvarint(response.node_endpoints.len() as u32 + 1);
            for e in &response.node_endpoints {
                e.encode(&mut c.cur, version)
                    .map_err(|e| fail(e.to_string()))?;
            }
        } else {
            c.uvarint(0);
        }
    }
    if !c.cur.is_empty() {
        let tail = c.cur.split().freeze();
        c.done.push(tail);
    }
    let total: usize = c.done.iter().map(Bytes::len).sum();
    let size = i32::try_from(total - 4).map_err(|_| fail("response larger than 2 GiB".into()))?;
    // The first chunk starts with the size placeholder; rebuild it with the real size.
    let first = &c.done[0];
    let mut head = BytesMut::with_capacity(first.len());
    head.put_i32(size);
    head.put_slice(&first[4..]);
    c.done[0] = head.freeze();
    Ok(c.done)
}

fn partition(c: &mut Chunks, p: &PartitionData, version: i16) -> Result<(), String> {
    let flexible = c.flexible;
    c.cur.put_i32(p.partition_index);
    c.cur.put_i16(p.error_code);
    c.cur.put_i64(p.high_watermark);
    c.cur.put_i64(p.last_stable_offset);
    if version >= 5 {
        c.cur.put_i64(p.log_start_offset);
    }
    c.len_prefix(p.aborted_transactions.as_ref().map(Vec::len));
    for t in p.aborted_transactions.iter().flatten() {
        c.cur.put_i64(t.producer_id.0);
        c.cur.put_i64(t.first_offset);
        if flexible {
            c.uvarint(0);
        }
    }
    if version >= 11 {
        c.cur.put_i32(p.preferred_read_replica.0);
    }
    c.records(&p.records);
    if flexible {
        let tags = [
            p.diverging_epoch != Default::default(),
            p.current_leader != Default::default(),
            p.snapshot_id != Default::default(),
        ];
        c.uvarint(tags.iter().filter(|t| **t).count() as u32);
        c.tagged_struct(0, &p.diverging_epoch, version)?;
        c.tagged_struct(1, &p.current_leader, version)?;
        c.tagged_struct(2, &p.snapshot_id, version)?;
    }
    Ok(())
}

fn uvarint_len(mut v: u32) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
    };
    use kafka_protocol::messages::{ApiKey, BrokerId, ProducerId, ResponseHeader, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn sample(version: i16, records_len: usize) -> FetchResponse {
        let records = Bytes::from(vec![0xab; records_len]);
        let mut part = PartitionData::default()
            .with_partition_index(3)
            .with_error_code(0)
            .with_high_watermark(100)
            .with_last_stable_offset(90)
            .with_log_start_offset(if version >= 5 { 7 } else { -1 })
            .with_aborted_transactions(Some(vec![AbortedTransaction::default()
                .with_producer_id(ProducerId(9))
                .with_first_offset(12)]))
            .with_preferred_read_replica(BrokerId(if version >= 11 { 2 } else { -1 }))
            .with_records(Some(records));
        if version >= 12 {
            part = part
                .with_diverging_epoch(EpochEndOffset::default().with_epoch(4).with_end_offset(50))
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(1))
                        .with_leader_epoch(4),
                );
        }
        let empty = PartitionData::default()
            .with_partition_index(4)
            .with_records(None);
        let topic = FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str(if version <= 12 {
                "orders"
            } else {
                ""
            })))
            .with_topic_id(if version >= 13 {
                uuid::Uuid::from_u128(77)
            } else {
                uuid::Uuid::nil()
            })
            .with_partitions(vec![part, empty]);
        let mut resp = FetchResponse::default()
            .with_throttle_time_ms(5)
            .with_error_code(0)
            .with_session_id(if version >= 7 { 42 } else { 0 })
            .with_responses(vec![topic.clone(), topic]);
        if version >= 16 {
            resp = resp.with_node_endpoints(vec![NodeEndpoint::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9092)]);
        }
        resp
    }

    #[test]
    fn matches_the_crate_encoder_for_every_version() {
        for version in 4..=18 {
            for records_len in [0, 10, 5000] {
                let resp = sample(version, records_len);
                let chunks = encode_fetch_response(77, version, &resp).unwrap();
                let ours: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
                let mut expected = BytesMut::new();
                expected.put_i32(0);
                ResponseHeader::default()
                    .with_correlation_id(77)
                    .encode(
                        &mut expected,
                        ApiKey::Fetch.response_header_version(version),
                    )
                    .unwrap();
                resp.encode(&mut expected, version).unwrap();
                let size = (expected.len() - 4) as i32;
                expected[0..4].copy_from_slice(&size.to_be_bytes());
                assert_eq!(ours, expected.to_vec(), "v{version} records {records_len}");
                assert!(chunks.iter().all(|c| !c.is_empty()), "no empty chunks");
                if records_len >= ZERO_COPY_MIN {
                    assert!(chunks.len() > 1, "large records travel as their own chunk");
                }
            }
        }
    }
}
