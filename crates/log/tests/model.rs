//! Property test: random appends, reads and reopenings against an in-memory model.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use sluice_log::{Log, LogConfig};

#[derive(Debug, Clone)]
enum Op {
    Append { records: usize, value_len: usize },
    Read { at: u8, max_bytes: usize },
    Reopen { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..6, 0usize..300).prop_map(|(records, value_len)| Op::Append { records, value_len }),
        4 => (any::<u8>(), 1usize..3000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let (_c, clock) = clock(1_000);
        let config = LogConfig {
            segment_bytes: 1500,
            index_interval_bytes: 128,
            ..LogConfig::default()
        };
        let mut log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
        // The model: (base offset, last offset, size) per batch, in order.
        let mut model: Vec<(i64, i64, usize)> = Vec::new();
        for op in ops {
            match op {
                Op::Append { records, value_len } => {
                    let b = batch(records, 5, value_len);
                    let info = log.append(&b, 3).unwrap();
                    let expected = model.last().map_or(0, |m| m.1 + 1);
                    prop_assert_eq!(info.first_offset, expected);
                    prop_assert_eq!(info.last_offset, expected + records as i64 - 1);
                    model.push((info.first_offset, info.last_offset, b.len()));
                }
                Op::Read { at, max_bytes } => {
                    let end = model.last().map_or(0, |m| m.1 + 1);
                    prop_assert_eq!(log.log_end_offset(), end);
                    let offset = if end == 0 { 0 } else { i64::from(at) % (end + 1) };
                    let r = log.read(offset, max_bytes, i64::MAX, true).unwrap();
                    let ranges = batch_ranges(&r.records);
                    if offset == end {
                        prop_assert!(ranges.is_empty());
                        continue;
                    }
                    let first = model.iter().position(|m| m.1 >= offset).unwrap();
                    prop_assert!(!ranges.is_empty());
                    prop_assert_eq!(r.first_batch_offset, Some(model[first].0));
                    let mut bytes = 0;
                    for (i, range) in ranges.iter().enumerate() {
                        let m = model[first + i];
                        prop_assert_eq!(*range, (m.0, m.1));
                        bytes += m.2;
                    }
                    prop_assert_eq!(bytes, r.records.len());
                    prop_assert!(ranges.len() == 1 || bytes <= max_bytes);
                }
                Op::Reopen { clean } => {
                    if clean {
                        log.close().unwrap();
                    }
                    drop(log);
                    log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
                    prop_assert_eq!(log.log_end_offset(), model.last().map_or(0, |m| m.1 + 1));
                }
            }
        }
    }
}
