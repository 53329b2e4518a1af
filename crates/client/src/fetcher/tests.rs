//! The records a fetch hands on: positions, compressed batches starting before the position,
//! and read_committed dropping exactly the aborted transactions.

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record as EncodedRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;

/// One batch of `values` at `base` (records base, base+1, ...); transactional for
/// `producer` when given.
fn batch(base: i64, values: &[&'static str], producer: Option<i64>) -> Vec<u8> {
    let records: Vec<EncodedRecord> = values
        .iter()
        .enumerate()
        .map(|(i, v)| EncodedRecord {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: producer.unwrap_or(-1),
            producer_epoch: if producer.is_some() { 0 } else { -1 },
            sequence: if producer.is_some() {
                i as i32
            } else {
                i as i32 - 1
            },
            timestamp_type: TimestampType::Creation,
            offset: base + i as i64,
            timestamp: 1_000 + i as i64,
            key: None,
            value: Some(Bytes::from_static(v.as_bytes())),
            headers: IndexMap::new(),
        })
        .collect();
    encode(&records, Compression::None)
}

/// A COMMIT (type 1) or ABORT (type 0) marker of `producer` at `offset`.
fn marker(offset: i64, producer: i64, control_type: u8) -> Vec<u8> {
    let record = EncodedRecord {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: producer,
        producer_epoch: 0,
        sequence: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        timestamp: 2_000,
        key: Some(Bytes::copy_from_slice(&[0, 0, 0, control_type])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: IndexMap::new(),
    };
    encode(&[record], Compression::None)
}

fn encode(records: &[EncodedRecord], compression: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encodes");
    buf.to_vec()
}

fn values(records: &[Record]) -> Vec<(i64, String)> {
    records
        .iter()
        .map(|r| {
            let value = r.value.as_deref().unwrap_or_default();
            (r.offset, String::from_utf8_lossy(value).into_owned())
        })
        .collect()
}

#[test]
fn records_before_the_position_are_skipped_and_the_position_moves_past_each_batch() {
    let mut fetched = batch(0, &["a", "b", "c"], None);
    fetched.extend(batch(3, &["d"], None));
    let (records, next) = read_partition(&Bytes::from(fetched), 1, None, 1 << 20).expect("reads");
    assert_eq!(
        values(&records),
        vec![(1, "b".into()), (2, "c".into()), (3, "d".into())]
    );
    assert_eq!(next, 4);
}

#[test]
fn read_committed_drops_aborted_transactions_and_every_marker() {
    // producer 7: committed at 0-1 (marker 2); producer 8: aborted at 3-4 (marker 6);
    // a plain record at 5 between them; producer 7 again, aborted, at 7 (marker 8).
    let mut fetched = batch(0, &["t1", "t2"], Some(7));
    fetched.extend(marker(2, 7, 1));
    fetched.extend(batch(3, &["x1", "x2"], Some(8)));
    fetched.extend(batch(5, &["plain"], None));
    fetched.extend(marker(6, 8, 0));
    fetched.extend(batch(7, &["x3"], Some(7)));
    fetched.extend(marker(8, 7, 0));
    let fetched = Bytes::from(fetched);
    let aborted = [(3, 8), (7, 7)];
    let (committed, next) = read_partition(&fetched, 0, Some(&aborted), 1 << 20).expect("reads");
    assert_eq!(
        values(&committed),
        vec![(0, "t1".into()), (1, "t2".into()), (5, "plain".into())]
    );
    assert_eq!(next, 9);
    // read_uncommitted sees every data record, still no markers.
    let (all, _) = read_partition(&fetched, 0, None, 1 << 20).expect("reads");
    assert_eq!(all.len(), 6);
}

#[test]
fn a_partial_last_batch_is_left_for_the_next_fetch_and_garbage_is_an_error() {
    let mut fetched = batch(0, &["a"], None);
    let second = batch(1, &["b"], None);
    fetched.extend(&second[..second.len() - 5]);
    let (records, next) = read_partition(&Bytes::from(fetched), 0, None, 1 << 20).expect("reads");
    assert_eq!(values(&records), vec![(0, "a".into())]);
    assert_eq!(next, 1);
    let mut corrupt = batch(0, &["a"], None);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert!(read_partition(&Bytes::from(corrupt), 0, None, 1 << 20).is_err());
}
