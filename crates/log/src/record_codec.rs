//! Our own decode and encode of the records inside a v2 batch, for the cleaner's rewrite path.
//!
//! kafka-protocol's `Record` keeps headers in a map, so a batch round-tripped through it loses
//! repeated header keys (legal in Kafka). This codec keeps every field of a record as stored,
//! headers as an ordered list. Decompression and compression use kafka-protocol's codecs
//! (`kafka_protocol::compression`), the same ones its batch encoder uses.
//!
//! # Layout of one record (after the 61-byte batch header, possibly compressed as a whole)
//! Varints are zigzag-encoded (protobuf style): varint = i32, varlong = i64.
//! ```text
//! field            type                   notes
//! length           varint                 bytes that follow this field
//! attributes       int8                   unused, kept as written
//! timestampDelta   varlong                timestamp - batch baseTimestamp
//! offsetDelta      varint                 offset - batch baseOffset
//! keyLength        varint                 -1: null key
//! key              keyLength bytes
//! valueLength      varint                 -1: null value (a tombstone)
//! value            valueLength bytes
//! headerCount      varint
//! headers          headerCount times:
//!   keyLength      varint                 never negative
//!   key            keyLength bytes        UTF-8 (not checked: kept as bytes)
//!   valueLength    varint                 -1: null value
//!   value          valueLength bytes
//! ```
//! The batch header layout is documented in `sluice_protocol::batch`.

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};
use sluice_protocol::batch::{self, BatchHeader, BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_V2};

/// A header of a record: key and (nullable) value, in the order they are stored.
pub type RecordHeader = (Bytes, Option<Bytes>);

/// One record of a v2 batch with absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    /// The record's own timestamp (baseTimestamp + timestampDelta), whatever the batch's
    /// timestamp type.
    pub timestamp: i64,
    pub attributes: i8,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// In stored order; keys may repeat.
    pub headers: Vec<RecordHeader>,
}

/// Bytes that are not a well-formed v2 batch.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RecordCodecError(String);

fn err(reason: impl Into<String>) -> RecordCodecError {
    RecordCodecError(reason.into())
}

/// Position of the batch CRC field (see the layout in `sluice_protocol::batch`).
const CRC_POS: usize = 17;

const CODEC_NONE: u8 = 0;
const CODEC_GZIP: u8 = 1;
const CODEC_SNAPPY: u8 = 2;
const CODEC_LZ4: u8 = 3;
const CODEC_ZSTD: u8 = 4;

/// Decodes one whole batch (log overhead included): its header and its records.
/// Checks the magic, the length and the CRC.
pub fn decode_batch(raw: &Bytes) -> Result<(BatchHeader, Vec<Record>), RecordCodecError> {
    let header = batch::parse_header(raw).map_err(|e| err(e.to_string()))?;
    if header.magic != MAGIC_V2 {
        return Err(err(format!("magic {} is not 2", header.magic)));
    }
    let total = header.total_len();
    if total < BATCH_HEADER_LEN || raw.len() < total {
        return Err(err(format!(
            "batch of {total} bytes does not fit in {} bytes",
            raw.len()
        )));
    }
    let raw = raw.slice(..total);
    let crc = batch::crc_of(&raw);
    if crc != header.crc {
        return Err(err(format!(
            "CRC mismatch: stored {:#x}, computed {crc:#x}",
            header.crc
        )));
    }
    let body = decompress(header.compression(), raw.slice(BATCH_HEADER_LEN..))?;
    let count = usize::try_from(header.records_count)
        .map_err(|_| err(format!("negative record count {}", header.records_count)))?;
    let mut reader = Reader { buf: body, pos: 0 };
    // Bounded by the bytes present: each record takes at least 7 bytes.
    let mut records = Vec::with_capacity(count.min(reader.buf.len() / 7));
    for _ in 0..count {
        records.push(decode_record(&mut reader, &header)?);
    }
    if reader.pos != reader.buf.len() {
        return Err(err(format!(
            "{} bytes after the last record",
            reader.buf.len() - reader.pos
        )));
    }
    Ok((header, records))
}

/// Encodes `records` (non-empty, ascending offsets, all taken from the batch `template`) as
/// one batch. Kept from `template`: attributes (codec, timestamp type, flags), partition leader
/// epoch, producer id and epoch. Derived from the records: baseOffset (the first record's
/// offset), lastOffsetDelta, baseTimestamp (the first record's), maxTimestamp (the largest
/// record timestamp; under LogAppendTime the template's stamped time), record count, and
/// baseSequence (the template's, moved by as many offsets as baseOffset moved; -1 stays -1).
pub fn encode_batch(
    template: &BatchHeader,
    records: &[Record],
) -> Result<Vec<u8>, RecordCodecError> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(err("a batch needs at least one record"));
    };
    let base_offset = first.offset;
    let base_timestamp = first.timestamp;
    let last_offset_delta = delta_i32(last.offset - base_offset)?;
    let max_timestamp = if template.is_log_append_time() {
        template.max_timestamp
    } else {
        records.iter().map(|r| r.timestamp).max().unwrap_or(-1)
    };
    let base_sequence = if template.base_sequence < 0 {
        template.base_sequence
    } else {
        let moved = delta_i32(base_offset - template.base_offset)?;
        // Sequences wrap to 0 after i32::MAX, as Kafka's producer does.
        ((i64::from(template.base_sequence) + i64::from(moved)) % (i64::from(i32::MAX) + 1)) as i32
    };
    let records_count = i32::try_from(records.len()).map_err(|_| err("too many records"))?;

    let mut plain = Vec::new();
    for record in records {
        encode_record(&mut plain, record, base_offset, base_timestamp)?;
    }
    let body = compress(template.compression(), plain)?;

    let total = BATCH_HEADER_LEN + body.len();
    let batch_length = i32::try_from(total - LOG_OVERHEAD).map_err(|_| err("batch too large"))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&base_offset.to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&template.partition_leader_epoch.to_be_bytes());
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&[0; 4]); // crc, filled below
    out.extend_from_slice(&template.attributes.to_be_bytes());
    out.extend_from_slice(&last_offset_delta.to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&template.producer_id.to_be_bytes());
    out.extend_from_slice(&template.producer_epoch.to_be_bytes());
    out.extend_from_slice(&base_sequence.to_be_bytes());
    out.extend_from_slice(&records_count.to_be_bytes());
    debug_assert_eq!(out.len(), BATCH_HEADER_LEN);
    out.extend_from_slice(&body);
    let crc = batch::crc_of(&out);
    out[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

fn delta_i32(delta: i64) -> Result<i32, RecordCodecError> {
    i32::try_from(delta).map_err(|_| err(format!("delta {delta} does not fit in i32")))
}

fn decompress(codec: u8, mut body: Bytes) -> Result<Bytes, RecordCodecError> {
    let out = match codec {
        CODEC_NONE => return Ok(body),
        CODEC_GZIP => Gzip::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b))),
        CODEC_SNAPPY => Snappy::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b))),
        CODEC_LZ4 => Lz4::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b))),
        CODEC_ZSTD => Zstd::decompress(&mut body, |b: &mut Bytes| Ok(std::mem::take(b))),
        other => return Err(err(format!("unknown compression codec {other}"))),
    };
    out.map_err(|e| err(format!("cannot decompress (codec {codec}): {e}")))
}

fn compress(codec: u8, plain: Vec<u8>) -> Result<Vec<u8>, RecordCodecError> {
    let mut out = BytesMut::new();
    let fill = |b: &mut BytesMut| {
        b.extend_from_slice(&plain);
        Ok(())
    };
    let done = match codec {
        CODEC_NONE => return Ok(plain),
        CODEC_GZIP => <Gzip as Compressor<BytesMut>>::compress(&mut out, fill),
        CODEC_SNAPPY => <Snappy as Compressor<BytesMut>>::compress(&mut out, fill),
        CODEC_LZ4 => <Lz4 as Compressor<BytesMut>>::compress(&mut out, fill),
        CODEC_ZSTD => <Zstd as Compressor<BytesMut>>::compress(&mut out, fill),
        other => return Err(err(format!("unknown compression codec {other}"))),
    };
    done.map_err(|e| err(format!("cannot compress (codec {codec}): {e}")))?;
    Ok(out.to_vec())
}

fn decode_record(r: &mut Reader, header: &BatchHeader) -> Result<Record, RecordCodecError> {
    let length = r.length("record length")?;
    let end = r.pos + length;
    if end > r.buf.len() {
        return Err(err("record runs past the end of the batch"));
    }
    let attributes = r.byte()? as i8;
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let key = r.nullable_bytes("key")?;
    let value = r.nullable_bytes("value")?;
    let header_count = r.length("header count")?;
    let mut headers = Vec::with_capacity(header_count.min(end.saturating_sub(r.pos) / 2));
    for _ in 0..header_count {
        let key_len = r.length("header key length")?;
        let key = r.bytes(key_len)?;
        let value = r.nullable_bytes("header value")?;
        headers.push((key, value));
    }
    if r.pos != end {
        return Err(err(format!(
            "record length {length} does not match its fields"
        )));
    }
    Ok(Record {
        offset: header.base_offset + i64::from(offset_delta),
        timestamp: header.base_timestamp.wrapping_add(timestamp_delta),
        attributes,
        key,
        value,
        headers,
    })
}

fn encode_record(
    out: &mut Vec<u8>,
    record: &Record,
    base_offset: i64,
    base_timestamp: i64,
) -> Result<(), RecordCodecError> {
    let mut body = Vec::new();
    body.push(record.attributes as u8);
    put_varlong(&mut body, record.timestamp.wrapping_sub(base_timestamp));
    put_varint(&mut body, delta_i32(record.offset - base_offset)?);
    put_nullable(&mut body, record.key.as_deref())?;
    put_nullable(&mut body, record.value.as_deref())?;
    put_varint(&mut body, len_i32(record.headers.len())?);
    for (key, value) in &record.headers {
        put_varint(&mut body, len_i32(key.len())?);
        body.extend_from_slice(key);
        put_nullable(&mut body, value.as_deref())?;
    }
    put_varint(out, len_i32(body.len())?);
    out.extend_from_slice(&body);
    Ok(())
}

fn len_i32(len: usize) -> Result<i32, RecordCodecError> {
    i32::try_from(len).map_err(|_| err(format!("length {len} does not fit in i32")))
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) -> Result<(), RecordCodecError> {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, len_i32(b.len())?);
            out.extend_from_slice(b);
        }
    }
    Ok(())
}

fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_unsigned(out, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

fn put_varlong(out: &mut Vec<u8>, v: i64) {
    put_unsigned(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_unsigned(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over decompressed record bytes; every read is bounds-checked (the bytes come from
/// disk).
struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn byte(&mut self) -> Result<u8, RecordCodecError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| err("record truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn unsigned(&mut self, max_bytes: u32) -> Result<u64, RecordCodecError> {
        let mut v = 0u64;
        for i in 0..max_bytes {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(err("varint too long"))
    }

    fn varint(&mut self) -> Result<i32, RecordCodecError> {
        let u = u32::try_from(self.unsigned(5)?).map_err(|_| err("varint out of range"))?;
        Ok((u >> 1) as i32 ^ -((u & 1) as i32))
    }

    fn varlong(&mut self) -> Result<i64, RecordCodecError> {
        let u = self.unsigned(10)?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    /// A varint that must be >= 0.
    fn length(&mut self, what: &str) -> Result<usize, RecordCodecError> {
        let v = self.varint()?;
        usize::try_from(v).map_err(|_| err(format!("negative {what} {v}")))
    }

    fn bytes(&mut self, len: usize) -> Result<Bytes, RecordCodecError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| err("record truncated"))?;
        let b = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(b)
    }

    /// A varint length (-1: null) and that many bytes.
    fn nullable_bytes(&mut self, what: &str) -> Result<Option<Bytes>, RecordCodecError> {
        match self.varint()? {
            -1 => Ok(None),
            len => {
                let len = usize::try_from(len).map_err(|_| err(format!("{what} length {len}")))?;
                self.bytes(len).map(Some)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;
    use proptest::prelude::*;

    const CODECS: [u8; 5] = [CODEC_NONE, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD];

    fn template(codec: u8, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 0,
            partition_leader_epoch: 7,
            magic: MAGIC_V2,
            crc: 0,
            attributes: i16::from(codec),
            last_offset_delta: 0,
            base_timestamp: 1_000,
            max_timestamp: 1_000,
            producer_id: 42,
            producer_epoch: 3,
            base_sequence: 10,
            records_count: 0,
        }
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn sample(base_offset: i64) -> Vec<Record> {
        vec![
            Record {
                offset: base_offset,
                timestamp: 1_000,
                attributes: 0,
                key: Some(b("k1")),
                value: Some(b("v1")),
                headers: vec![
                    (b("trace"), Some(b("a"))),
                    (b("hop"), None),
                    (b("trace"), Some(b("b"))),
                    (b("trace"), Some(b(""))),
                ],
            },
            Record {
                offset: base_offset + 2,
                timestamp: 990,
                attributes: 0,
                key: None,
                value: None,
                headers: vec![(b(""), None), (b(""), None)],
            },
            Record {
                offset: base_offset + 5,
                timestamp: 1_500,
                attributes: 0,
                key: Some(b("")),
                value: Some(Bytes::from(vec![9u8; 300])),
                headers: Vec::new(),
            },
        ]
    }

    #[test]
    fn round_trip_keeps_every_field_through_each_codec() {
        for codec in CODECS {
            let records = sample(100);
            let encoded = Bytes::from(encode_batch(&template(codec, 100), &records).unwrap());
            assert_eq!(
                batch::crc_of(&encoded),
                batch::parse_header(&encoded).unwrap().crc
            );
            let (header, decoded) = decode_batch(&encoded).unwrap();
            assert_eq!(decoded, records, "codec {codec}");
            assert_eq!(header.compression(), codec);
            assert_eq!(header.base_offset, 100);
            assert_eq!(header.last_offset_delta, 5);
            assert_eq!(header.base_timestamp, 1_000);
            assert_eq!(header.max_timestamp, 1_500);
            assert_eq!(header.records_count, 3);
            assert_eq!(header.partition_leader_epoch, 7);
            assert_eq!((header.producer_id, header.producer_epoch), (42, 3));
            assert_eq!(header.base_sequence, 10);
        }
    }

    #[test]
    fn kafka_protocol_reads_what_we_write() {
        for codec in CODECS {
            let records = sample(0);
            let mut encoded = Bytes::from(encode_batch(&template(codec, 0), &records).unwrap());
            let set = RecordBatchDecoder::decode(&mut encoded).unwrap();
            let got: Vec<_> = set
                .records
                .iter()
                .map(|r| (r.offset, r.timestamp, r.key.clone(), r.value.clone()))
                .collect();
            let want: Vec<_> = records
                .iter()
                .map(|r| (r.offset, r.timestamp, r.key.clone(), r.value.clone()))
                .collect();
            assert_eq!(got, want, "codec {codec}");
        }
    }

    #[test]
    fn base_sequence_moves_with_base_offset() {
        let records = sample(100);
        let survivors = &records[1..];
        let encoded = encode_batch(&template(CODEC_NONE, 100), survivors).unwrap();
        let header = batch::parse_header(&encoded).unwrap();
        assert_eq!(header.base_offset, 102);
        assert_eq!(header.base_sequence, 12);
        assert_eq!(header.last_offset_delta, 3);
        assert_eq!(header.base_timestamp, 990);

        let mut no_sequence = template(CODEC_NONE, 100);
        no_sequence.producer_id = -1;
        no_sequence.base_sequence = -1;
        let encoded = encode_batch(&no_sequence, survivors).unwrap();
        assert_eq!(batch::parse_header(&encoded).unwrap().base_sequence, -1);
    }

    #[test]
    fn log_append_time_keeps_the_stamped_time() {
        let mut t = template(CODEC_LZ4, 100);
        t.attributes |= 1 << 3;
        t.max_timestamp = 77_000;
        let encoded = Bytes::from(encode_batch(&t, &sample(100)).unwrap());
        let (header, _) = decode_batch(&encoded).unwrap();
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp, 77_000);
    }

    #[test]
    fn corrupt_batches_are_errors() {
        let encoded = encode_batch(&template(CODEC_NONE, 0), &sample(0)).unwrap();
        let mut flipped = encoded.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(decode_batch(&Bytes::from(flipped)).is_err());
        assert!(decode_batch(&Bytes::from(encoded[..40].to_vec())).is_err());
        assert!(encode_batch(&template(CODEC_NONE, 0), &[]).is_err());
    }

    fn arb_bytes() -> impl Strategy<Value = Option<Bytes>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from))
    }

    fn arb_record(
    ) -> impl Strategy<Value = (u8, i64, Option<Bytes>, Option<Bytes>, Vec<RecordHeader>)> {
        let header = (
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(Bytes::from),
            arb_bytes(),
        );
        (
            1u8..4,
            -1_000_000i64..1_000_000,
            arb_bytes(),
            arb_bytes(),
            proptest::collection::vec(header, 0..5),
        )
    }

    proptest! {
        #[test]
        fn round_trip_any_records(
            codec in 0u8..5,
            specs in proptest::collection::vec(arb_record(), 1..20),
        ) {
            let mut offset = 1_000i64;
            let records: Vec<Record> = specs
                .into_iter()
                .map(|(gap, timestamp, key, value, headers)| {
                    offset += i64::from(gap);
                    Record { offset, timestamp, attributes: 0, key, value, headers }
                })
                .collect();
            let encoded = Bytes::from(encode_batch(&template(codec, 1_000), &records).unwrap());
            let (_, decoded) = decode_batch(&encoded).unwrap();
            prop_assert_eq!(decoded, records);
        }
    }
}
