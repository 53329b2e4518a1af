//! `__transaction_state` records in Kafka's layout (key version 0, value version 0).
//! ```text
//! key:   version int16 (0), transactional_id string
//! value: version int16 (0), producer_id int64, producer_epoch int16,
//!        transaction_timeout_ms int32, transaction_status int8,
//!        transaction_partitions: nullable array of (topic string, partition_ids int32 array),
//!        transaction_last_update_timestamp_ms int64, transaction_start_timestamp_ms int64
//! ```
//! A null value (tombstone) removes an expired transactional id.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};
use sluice_coordinator::fields::{get_count, get_i16, get_i32, get_i64, get_i8, get_str, put_str};
pub use sluice_coordinator::RecordError;

use crate::state::TxnState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnValue {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub last_update_ms: i64,
    pub start_ms: i64,
}

pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(0);
    put_str(&mut out, transactional_id);
    out.freeze()
}

pub fn encode_value(v: &TxnValue) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(0);
    out.put_i64(v.producer_id);
    out.put_i16(v.producer_epoch);
    out.put_i32(v.timeout_ms);
    out.put_i8(v.state.code());
    // Grouped by topic, as Kafka stores them.
    let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
    for (t, p) in &v.partitions {
        match topics.last_mut() {
            Some((name, ps)) if *name == t.as_str() => ps.push(*p),
            _ => topics.push((t.as_str(), vec![*p])),
        }
    }
    out.put_i32(topics.len() as i32);
    for (t, ps) in topics {
        put_str(&mut out, t);
        out.put_i32(ps.len() as i32);
        for p in ps {
            out.put_i32(p);
        }
    }
    out.put_i64(v.last_update_ms);
    out.put_i64(v.start_ms);
    out.freeze()
}

pub fn decode_key(mut b: Bytes) -> Result<String, RecordError> {
    let version = get_i16(&mut b)?;
    if version != 0 {
        return Err(RecordError(format!("unknown key version {version}")));
    }
    get_str(&mut b)
}

pub fn decode_value(mut b: Bytes) -> Result<TxnValue, RecordError> {
    let r = &mut b;
    let version = get_i16(r)?;
    if !(0..=1).contains(&version) {
        return Err(RecordError(format!("unknown value version {version}")));
    }
    let producer_id = get_i64(r)?;
    let producer_epoch = get_i16(r)?;
    let timeout_ms = get_i32(r)?;
    let code = get_i8(r)?;
    let state = TxnState::from_code(code)
        .ok_or_else(|| RecordError(format!("unknown transaction status {code}")))?;
    let mut partitions = BTreeSet::new();
    for _ in 0..get_count(r, 6)? {
        let t = get_str(r)?;
        for _ in 0..get_count(r, 4)? {
            partitions.insert((t.clone(), get_i32(r)?));
        }
    }
    let last_update_ms = get_i64(r)?;
    let start_ms = get_i64(r)?;
    Ok(TxnValue {
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        last_update_ms,
        start_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_round_trips_and_truncations_fail() {
        let v = TxnValue {
            producer_id: 42,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: [
                ("a".to_string(), 0),
                ("a".to_string(), 2),
                ("b".to_string(), 1),
            ]
            .into_iter()
            .collect(),
            last_update_ms: 10,
            start_ms: 5,
        };
        let raw = encode_value(&v);
        assert_eq!(decode_value(raw.clone()).unwrap(), v);
        for cut in 0..raw.len() {
            assert!(decode_value(raw.slice(..cut)).is_err(), "cut {cut}");
        }
        assert_eq!(decode_key(encode_key("tx")).unwrap(), "tx");
    }
}
