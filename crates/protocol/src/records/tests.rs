//! Batches encoded by `kafka-protocol`'s encoder with every codec, read back; hostile lengths
//! and counts refused without allocating for them.

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record as EncodedRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;

fn record(offset: i64, key: Option<&'static [u8]>, value: Option<&'static [u8]>) -> EncodedRecord {
    let mut headers = IndexMap::new();
    headers.insert(
        StrBytes::from_static_str("h"),
        Some(Bytes::from_static(b"v")),
    );
    headers.insert(StrBytes::from_static_str("empty"), None);
    EncodedRecord {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        // kafka-protocol puts records in one batch while offset - sequence stays the same; this
        // makes the batch's base sequence -1, as for a producer without idempotence.
        sequence: (offset as i32).wrapping_sub(1),
        timestamp_type: TimestampType::Creation,
        offset,
        timestamp: 1_700_000_000_000 + offset,
        key: key.map(Bytes::from_static),
        value: value.map(Bytes::from_static),
        headers,
    }
}

fn encode(records: &[EncodedRecord], compression: Compression) -> Bytes {
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
    buf.freeze()
}

fn sample() -> Vec<EncodedRecord> {
    vec![
        record(0, Some(b"k0"), Some(b"first")),
        record(1, None, Some(b"second")),
        record(2, Some(b"k2"), None),
    ]
}

/// Offset, timestamp, key, value.
type Shown<'a> = (i64, i64, Option<&'a [u8]>, Option<&'a [u8]>);

#[test]
fn batches_of_every_codec_decode_to_their_records() {
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bytes = encode(&sample(), compression);
        let batches = split_batches(&bytes).expect("framed");
        assert_eq!(batches.len(), 1, "{compression:?}");
        let decoded = decode_batch(&batches[0].1, 1 << 20).expect("decodes");
        let got: Vec<Shown<'_>> = decoded
            .records
            .iter()
            .map(|r| (r.offset, r.timestamp, r.key.as_deref(), r.value.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 1_700_000_000_000, Some(&b"k0"[..]), Some(&b"first"[..])),
                (1, 1_700_000_000_001, None, Some(&b"second"[..])),
                (2, 1_700_000_000_002, Some(&b"k2"[..]), None),
            ],
            "{compression:?}"
        );
        assert_eq!(
            decoded.records[0].headers,
            vec![
                ("h".to_string(), Some(Bytes::from_static(b"v"))),
                ("empty".to_string(), None)
            ]
        );
        assert_eq!(decoded.control_type(), None);
    }
}

#[test]
fn a_partial_last_batch_ends_the_list_quietly() {
    let mut bytes = encode(&sample(), Compression::None).to_vec();
    let whole = bytes.len();
    bytes.extend_from_slice(&encode(&sample(), Compression::None)[..30]);
    let batches = split_batches(&Bytes::from(bytes)).expect("framed");
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].1.len(), whole);
}

#[test]
fn log_append_time_gives_every_record_the_batch_time() {
    let mut bytes = encode(&sample(), Compression::None).to_vec();
    crate::batch::set_log_append_time(&mut bytes, 42);
    fix_crc(&mut bytes);
    let decoded = decode_batch(&Bytes::from(bytes), 1 << 20).expect("decodes");
    assert!(decoded.records.iter().all(|r| r.timestamp == 42));
}

#[test]
fn control_batches_name_their_marker() {
    let mut marker = record(0, None, None);
    marker.control = true;
    marker.transactional = true;
    marker.producer_id = 7;
    marker.producer_epoch = 0;
    marker.key = Some(Bytes::from_static(&[0, 0, 0, 0])); // version 0, ABORT
    marker.value = Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0]));
    let decoded =
        decode_batch(&encode(&[marker.clone()], Compression::None), 1 << 20).expect("decodes");
    assert_eq!(decoded.control_type(), Some(CONTROL_TYPE_ABORT));
    marker.key = Some(Bytes::from_static(&[0, 0, 0, 1]));
    let decoded = decode_batch(&encode(&[marker], Compression::None), 1 << 20).expect("decodes");
    assert_eq!(decoded.control_type(), Some(CONTROL_TYPE_COMMIT));
}

/// Rewrites the CRC after a change to the bytes it covers.
fn fix_crc(batch: &mut [u8]) {
    let crc = crate::batch::crc_of(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn corrupt_batches_are_refused() {
    let good = encode(&sample(), Compression::None).to_vec();

    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(matches!(
        decode_batch(&Bytes::from(flipped), 1 << 20),
        Err(RecordsError::Batch(BatchError::CrcMismatch { .. }))
    ));

    let mut magic = good.clone();
    magic[16] = 1;
    assert!(matches!(
        decode_batch(&Bytes::from(magic), 1 << 20),
        Err(RecordsError::Batch(BatchError::UnsupportedMagic { .. }))
    ));

    // A record count of 2^31-1 over three real records: no reservation for it, and the fourth
    // record is missing.
    let mut count = good.clone();
    count[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    fix_crc(&mut count);
    assert!(matches!(
        decode_batch(&Bytes::from(count), 1 << 20),
        Err(RecordsError::Record { index: 3, .. })
    ));

    // The first record's length claims more bytes than the batch has (zigzag 2^30).
    let mut length = good.clone();
    length.truncate(61);
    length.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x08, 0, 0, 0, 0]);
    let batch_length = (length.len() - 12) as i32;
    length[8..12].copy_from_slice(&batch_length.to_be_bytes());
    fix_crc(&mut length);
    assert_eq!(
        decode_batch(&Bytes::from(length.clone()), 1 << 20),
        Err(RecordsError::Record {
            base_offset: 0,
            index: 0,
            reason: "record length"
        })
    );

    // A header count of 2^30 inside a short record.
    let mut headers = good[..61].to_vec();
    // length 10: attributes, ts delta 0, offset delta 0, key -1, value -1, count 2^30 (5 bytes)
    headers.extend_from_slice(&[20, 0, 0, 0, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x08]);
    headers[57..61].copy_from_slice(&1i32.to_be_bytes());
    let batch_length = (headers.len() - 12) as i32;
    headers[8..12].copy_from_slice(&batch_length.to_be_bytes());
    fix_crc(&mut headers);
    assert!(matches!(
        decode_batch(&Bytes::from(headers), 1 << 20),
        Err(RecordsError::Record {
            reason: "header count",
            ..
        })
    ));
}

#[test]
fn compressed_records_beyond_the_limit_are_refused() {
    let values: Vec<EncodedRecord> = (0..100)
        .map(|i| record(i, None, Some(&[b'x'; 1000])))
        .collect();
    let bytes = encode(&values, Compression::Zstd);
    assert!(bytes.len() < 10_000);
    assert!(matches!(
        decode_batch(&bytes, 50_000),
        Err(RecordsError::Decompress {
            source: DecompressError::TooLarge { limit: 50_000 },
            ..
        })
    ));
    assert_eq!(
        decode_batch(&bytes, 1 << 20).map(|b| b.records.len()),
        Ok(100)
    );
}
