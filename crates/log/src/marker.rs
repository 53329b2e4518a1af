//! Transaction markers: the control batches that end a producer's transaction in a partition.
//!
//! # Layout (Kafka's `EndTransactionMarker`)
//! A v2 batch with attributes isTransactional | isControl, no compression, the producer's id and
//! epoch, baseSequence -1, holding exactly one record (the record layout is in `record_codec`):
//! ```text
//! key   (4 bytes)  int16 version (0), int16 type: 0 = ABORT, 1 = COMMIT
//! value (6 bytes)  int16 version (0), int32 coordinator epoch
//! ```
//! Other control record types (Kafka uses 2 and up for KRaft leader changes and snapshots) are
//! not transaction markers and leave producer state alone. Keys and values of a higher version
//! are read for the fields above, as Kafka does.

use bytes::Bytes;
use sluice_protocol::batch::{BatchHeader, BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_V2};

use crate::producer_state::Marker;
use crate::record_codec::{self, Record};

const TRANSACTIONAL_AND_CONTROL: i16 = (1 << 4) | (1 << 5);
const TYPE_ABORT: i16 = 0;
const TYPE_COMMIT: i16 = 1;
const VERSION: i16 = 0;

/// Encodes a marker batch (base offset 0; the log assigns the real one).
pub(crate) fn encode(
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    leader_epoch: i32,
    timestamp: i64,
) -> Vec<u8> {
    let template = BatchHeader {
        base_offset: 0,
        // Recomputed by the encoder.
        batch_length: (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32,
        partition_leader_epoch: leader_epoch,
        magic: MAGIC_V2,
        crc: 0,
        attributes: TRANSACTIONAL_AND_CONTROL,
        last_offset_delta: 0,
        base_timestamp: timestamp,
        max_timestamp: timestamp,
        producer_id,
        producer_epoch,
        base_sequence: -1,
        records_count: 1,
    };
    let kind = if marker.commit {
        TYPE_COMMIT
    } else {
        TYPE_ABORT
    };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&VERSION.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&VERSION.to_be_bytes());
    value.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    let record = Record {
        offset: 0,
        timestamp,
        attributes: 0,
        key: Some(Bytes::from(key)),
        value: Some(Bytes::from(value)),
        headers: Vec::new(),
    };
    record_codec::encode_batch(&template, &[record])
        .expect("a one-record uncompressed batch always encodes")
}

/// Reads the marker in a whole control batch: `Ok(None)` for a control record that is not a
/// transaction marker, `Err` for one that cannot be read.
pub(crate) fn decode(raw: &Bytes) -> Result<Option<Marker>, String> {
    let (_, records) = record_codec::decode_batch(raw).map_err(|e| e.to_string())?;
    let [record] = records.as_slice() else {
        return Err(format!(
            "a control batch holds {} records, not 1",
            records.len()
        ));
    };
    let key = record.key.as_deref().unwrap_or_default();
    if key.len() < 4 {
        return Err(format!("control record key of {} bytes", key.len()));
    }
    let version = i16::from_be_bytes([key[0], key[1]]);
    let commit = match i16::from_be_bytes([key[2], key[3]]) {
        _ if version < 0 => return Err(format!("control record key version {version}")),
        TYPE_ABORT => false,
        TYPE_COMMIT => true,
        _ => return Ok(None),
    };
    let value = record.value.as_deref().unwrap_or_default();
    if value.len() < 6 || i16::from_be_bytes([value[0], value[1]]) < 0 {
        return Err("malformed transaction marker value".to_string());
    }
    let coordinator_epoch = i32::from_be_bytes([value[2], value[3], value[4], value[5]]);
    Ok(Some(Marker {
        commit,
        coordinator_epoch,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::records::{RecordBatchDecoder, TimestampType};

    #[test]
    fn round_trip_and_kafka_protocol_agrees() {
        for commit in [false, true] {
            let m = Marker {
                commit,
                coordinator_epoch: 77,
            };
            let raw = Bytes::from(encode(42, 3, m, 9, 1234));
            sluice_protocol::batch::validate_batches(&raw, usize::MAX).unwrap();
            let h = sluice_protocol::batch::parse_header(&raw).unwrap();
            assert!(h.is_control() && h.is_transactional());
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (42, 3, -1)
            );
            assert_eq!(h.partition_leader_epoch, 9);
            assert_eq!(decode(&raw).unwrap(), Some(m));

            let mut bytes = raw.clone();
            let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
            let r = &set.records[0];
            assert!(r.control && r.transactional);
            assert_eq!(r.timestamp_type, TimestampType::Creation);
            assert_eq!(r.key.as_deref(), Some(&[0u8, 0, 0, u8::from(commit)][..]));
        }
    }
}
