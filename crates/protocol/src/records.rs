//! Decoding the records of v2 record batches, for clients that read them (the CLI's consume).
//! Every length and count comes from a peer and is checked against the bytes present before
//! anything is reserved for it; decompression is bounded (`decompress.rs`).
//!
//! A record inside a batch (after decompression), all varints zigzag-encoded:
//! ```text
//! varint  length            bytes that follow
//! int8    attributes        unused
//! varlong timestampDelta    from the batch's baseTimestamp
//! varint  offsetDelta       from the batch's baseOffset
//! varint  keyLength         -1 = null key; then the key bytes
//! varint  valueLength       -1 = null value; then the value bytes
//! varint  headerCount       then per header:
//!             varint headerKeyLength, key bytes (UTF-8),
//!             varint headerValueLength (-1 = null), value bytes
//! ```
//! A control record (batch attribute bit 5) has as key: int16 version, int16 type
//! (0 = ABORT, 1 = COMMIT).
//!
//! Timestamps: with LogAppendTime (attribute bit 3) every record's timestamp is the batch's
//! maxTimestamp, as Kafka's consumer reads it.

use bytes::Bytes;

use crate::batch::{self, BatchError, BatchHeader, BATCH_HEADER_LEN};
use crate::decompress::{decompress, DecompressError};

/// The smallest encoded record: length, attributes, timestamp delta, offset delta, key length,
/// value length and header count, one byte each.
const RECORD_MIN_BYTES: usize = 7;

/// Control record type of an abort marker.
pub const CONTROL_TYPE_ABORT: i16 = 0;
/// Control record type of a commit marker.
pub const CONTROL_TYPE_COMMIT: i16 = 1;

/// One record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    /// Milliseconds since the epoch (-1 when the producer gave none).
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// In the order the producer wrote them; a key may appear more than once.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// A batch's header and its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch {
    pub header: BatchHeader,
    pub records: Vec<Record>,
}

impl DecodedBatch {
    /// For a control batch, the type of its marker (`CONTROL_TYPE_ABORT`/`_COMMIT`), read from
    /// the first record's key; `None` for other batches or an unreadable key.
    pub fn control_type(&self) -> Option<i16> {
        if !self.header.is_control() {
            return None;
        }
        match self.records.first()?.key.as_deref()? {
            [_, _, high, low, ..] => Some(i16::from_be_bytes([*high, *low])),
            _ => None,
        }
    }
}

/// Why a batch's records could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("record batch at offset {base_offset}: {source}")]
    Decompress {
        base_offset: i64,
        source: DecompressError,
    },
    #[error("record batch at offset {base_offset}: record {index}: {reason}")]
    Record {
        base_offset: i64,
        index: usize,
        reason: &'static str,
    },
}

/// Splits a concatenation of batches (a Fetch response's `records`) into whole batches, each
/// with its header. A batch cut short at the end (Fetch may return a partial last batch) ends
/// the list without an error; any other framing error is one.
pub fn split_batches(records: &Bytes) -> Result<Vec<(BatchHeader, Bytes)>, RecordsError> {
    let mut found = Vec::new();
    for item in batch::batches(records) {
        match item {
            Ok((position, header)) => found.push((
                header,
                records.slice(position..position + header.total_len()),
            )),
            Err(BatchError::Truncated { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(found)
}

/// Decodes one whole batch (as [`split_batches`] yields them): checks its magic and CRC,
/// decompresses its records (at most `max_uncompressed_bytes`) and reads every record.
pub fn decode_batch(
    batch: &Bytes,
    max_uncompressed_bytes: usize,
) -> Result<DecodedBatch, RecordsError> {
    let header = batch::parse_header(batch)?;
    if header.magic != batch::MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic {
            position: 0,
            magic: header.magic,
        }
        .into());
    }
    let end = header.total_len().min(batch.len());
    if end < BATCH_HEADER_LEN {
        return Err(BatchError::Truncated {
            position: 0,
            needed: BATCH_HEADER_LEN,
            available: end,
        }
        .into());
    }
    let computed = batch::crc_of(&batch[..end]);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            position: 0,
            stored: header.crc,
            computed,
        }
        .into());
    }
    let data = match header.compression() {
        0 => batch.slice(BATCH_HEADER_LEN..end),
        codec => Bytes::from(
            decompress(codec, &batch[BATCH_HEADER_LEN..end], max_uncompressed_bytes).map_err(
                |source| RecordsError::Decompress {
                    base_offset: header.base_offset,
                    source,
                },
            )?,
        ),
    };
    let records = read_records(&header, &data)?;
    Ok(DecodedBatch { header, records })
}

fn read_records(header: &BatchHeader, data: &Bytes) -> Result<Vec<Record>, RecordsError> {
    let count = usize::try_from(header.records_count).unwrap_or(0);
    let mut reader = Reader { data, pos: 0 };
    let mut records = Vec::with_capacity(count.min(data.len() / RECORD_MIN_BYTES));
    for index in 0..count {
        let error = |reason| RecordsError::Record {
            base_offset: header.base_offset,
            index,
            reason,
        };
        let record = reader.record(header).map_err(error)?;
        records.push(record);
    }
    Ok(records)
}

/// Reads records from decompressed batch data; every error is a static reason.
struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn record(&mut self, header: &BatchHeader) -> Result<Record, &'static str> {
        let length = self.length("record length")?.ok_or("null record length")?;
        let end = self.pos + length;
        let limited = self.data.slice(..end);
        let mut inner = Reader {
            data: &limited,
            pos: self.pos,
        };
        let _attributes = inner.take(1)?;
        let timestamp_delta = inner.varlong()?;
        let offset_delta = inner.varint()?;
        let key = inner.bytes("key length")?;
        let value = inner.bytes("value length")?;
        let header_count = inner.length("header count")?.unwrap_or(0);
        // Each header takes at least two bytes; the count cannot claim more than remain.
        let mut headers = Vec::with_capacity(header_count.min(inner.remaining() / 2));
        for _ in 0..header_count {
            let name = inner.bytes("header key length")?.ok_or("null header key")?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| "header key is not UTF-8")?;
            let value = inner.bytes("header value length")?;
            headers.push((name, value));
        }
        if inner.pos != end {
            return Err("record length does not match its fields");
        }
        self.pos = end;
        let timestamp = if header.is_log_append_time() {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(timestamp_delta)
        };
        Ok(Record {
            offset: header.base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp,
            key,
            value,
            headers,
        })
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<Bytes, &'static str> {
        if n > self.remaining() {
            return Err("truncated");
        }
        let bytes = self.data.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(bytes)
    }

    /// A zigzag varlong of at most 10 bytes.
    fn varlong(&mut self) -> Result<i64, &'static str> {
        let mut raw: u64 = 0;
        for i in 0..10 {
            let byte = self.take(1)?[0];
            raw |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err("varint longer than 10 bytes")
    }

    fn varint(&mut self) -> Result<i32, &'static str> {
        i32::try_from(self.varlong()?).map_err(|_| "varint out of range")
    }

    /// A length that must fit in what remains; `None` for -1.
    fn length(&mut self, what: &'static str) -> Result<Option<usize>, &'static str> {
        match self.varint()? {
            -1 => Ok(None),
            n => usize::try_from(n)
                .ok()
                .filter(|n| *n <= self.remaining())
                .map(Some)
                .ok_or(what),
        }
    }

    /// Length-prefixed bytes; `None` for length -1.
    fn bytes(&mut self, what: &'static str) -> Result<Option<Bytes>, &'static str> {
        match self.length(what)? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }
}

#[cfg(test)]
mod tests;
