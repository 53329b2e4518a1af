//! ListOffsets lookups: by timestamp and MAX_TIMESTAMP.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use kafka_protocol::records::Compression;
use sluice_log::{Log, LogConfig};

#[test]
fn lookups_inside_multi_record_batches() {
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let (_c, clock) = clock(0);
        let config = LogConfig {
            segment_bytes: 2048,
            index_interval_bytes: 100,
            ..LogConfig::default()
        };
        let log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
        assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
        assert_eq!(log.max_timestamp_offset().unwrap(), None);
        // Batch k holds offsets 5k..5k+4 with timestamps 1000k + 10i, except a spike of 99_999
        // at offset 77 and out-of-order timestamps in batch 9.
        for k in 0..20i64 {
            let mut ts: Vec<i64> = (0..5).map(|i| 1000 * k + 10 * i).collect();
            if k == 15 {
                ts[2] = 99_999;
            }
            if k == 9 {
                ts = vec![9040, 9000, 9030, 9010, 9020];
            }
            log.append(&batch_with(&ts, 200, compression), 0).unwrap();
        }
        assert!(log.segment_count() > 1, "{compression:?}");
        check(&log);
        log.close().unwrap();
        drop(log);
        // After a clean reopen (state from the indexes) and an unclean one (rebuilt).
        let log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
        check(&log);
        drop(log);
        let log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
        check(&log);
        log.delete_records_before(40).unwrap();
        // Below the log start offset nothing is returned.
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((40, 8000)));
    }
}

fn check(log: &Log) {
    {
        {
            assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
            assert_eq!(log.offset_for_timestamp(3005).unwrap(), Some((16, 3010)));
            assert_eq!(log.offset_for_timestamp(3040).unwrap(), Some((19, 3040)));
            assert_eq!(log.offset_for_timestamp(3041).unwrap(), Some((20, 4000)));
            // First record with ts >= 9015 in batch 9 is at offset 45 (9040).
            assert_eq!(log.offset_for_timestamp(9015).unwrap(), Some((45, 9040)));
            // The spike: first record >= 50_000 is offset 77.
            assert_eq!(
                log.offset_for_timestamp(50_000).unwrap(),
                Some((77, 99_999))
            );
            assert_eq!(log.offset_for_timestamp(100_000).unwrap(), None);
            assert_eq!(log.max_timestamp_offset().unwrap(), Some((77, 99_999)));
        }
    }
}
