//! Shared helpers for the log's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::{Clock, LogConfig, ManualClock};
use std::sync::Arc;

/// One v2 batch of `timestamps.len()` records (offsets from 0, as a producer sends them).
pub fn batch_with(timestamps: &[i64], value_len: usize, compression: Compression) -> Bytes {
    let records: Vec<Record> = timestamps
        .iter()
        .enumerate()
        .map(|(i, &ts)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: ts,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'x'; value_len])),
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
    .unwrap();
    buf.freeze()
}

/// `n` records with timestamp `ts`, uncompressed.
pub fn batch(n: usize, ts: i64, value_len: usize) -> Bytes {
    batch_with(&vec![ts; n], value_len, Compression::None)
}

/// (base offset, last offset) of every batch in `buf`, checking each decodes.
pub fn batch_ranges(buf: &Bytes) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for item in sluice_protocol::batch::batches(buf) {
        let (_, h) = item.unwrap();
        out.push((h.base_offset, h.last_offset()));
    }
    let mut b = buf.clone();
    let sets = RecordBatchDecoder::decode_all(&mut b).unwrap();
    assert_eq!(sets.len(), out.len());
    out
}

pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        file_delete_delay_ms: 0,
        ..LogConfig::default()
    }
}

pub fn clock(now: i64) -> (Arc<ManualClock>, Arc<dyn Clock>) {
    let c = Arc::new(ManualClock::new(now));
    let d: Arc<dyn Clock> = c.clone();
    (c, d)
}
