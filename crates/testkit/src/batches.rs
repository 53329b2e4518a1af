//! Record batches as clients build them, and reading batch offsets back.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// One v2 record batch holding `values` (keys `k0`, `k1`, ...).
pub fn batch(values: &[&[u8]], compression: Compression) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            delete_horizon: false,
            timestamp: now,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::copy_from_slice(v)),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// Reads the base offsets of the batches in a fetch response's records.
pub fn batch_offsets(mut records: Bytes) -> Vec<i64> {
    let mut out = Vec::new();
    while records.remaining() >= 12 {
        let base = records.get_i64();
        let len = records.get_i32() as usize;
        if records.remaining() < len {
            break;
        }
        records.advance(len);
        out.push(base);
    }
    out
}
