//! Log compaction: `Log::clean` against a model of "latest record per key".
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::record_codec::{self, Record as Record2};
use sluice_log::{Clock, Log, LogConfig};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// (offset, key, value) of a stored record.
type Entry = (i64, Option<String>, Option<String>);

/// One batch of keyed records; `None` values are tombstones.
fn kv_batch(pairs: &[(&str, Option<String>)], ts: i64, compression: Compression) -> Bytes {
    let records: Vec<Record> = pairs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: ts,
            key: Some(Bytes::from(k.to_string())),
            value: v.clone().map(Bytes::from),
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

fn compact_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        file_delete_delay_ms: 0,
        compact: true,
        delete: false,
        ..LogConfig::default()
    }
}

/// Every record from the log start to the log end, following segment boundaries.
fn read_all(log: &Log) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let read = log.read(offset, 1 << 20, i64::MAX, true).unwrap();
        if read.records.is_empty() {
            break;
        }
        let mut buf = read.records.clone();
        for set in RecordBatchDecoder::decode_all(&mut buf).unwrap() {
            for r in set.records {
                if r.offset >= offset {
                    out.push((r.offset, utf8(&r.key), utf8(&r.value)));
                }
            }
        }
        let ranges = common::batch_ranges(&read.records);
        offset = ranges.last().unwrap().1 + 1;
    }
    out
}

fn utf8(b: &Option<Bytes>) -> Option<String> {
    b.as_ref().map(|b| String::from_utf8(b.to_vec()).unwrap())
}

/// What a clean of everything below `clean_end` must leave: below it, only the last record of
/// each key (of records below `clean_end`); from it on, everything.
fn expected(all: &[Entry], clean_end: i64) -> Vec<Entry> {
    let mut last: HashMap<Option<String>, i64> = HashMap::new();
    for (o, k, _) in all.iter().filter(|e| e.0 < clean_end) {
        last.insert(k.clone(), *o);
    }
    all.iter()
        .filter(|(o, k, _)| *o >= clean_end || last.get(k) == Some(o))
        .cloned()
        .collect()
}

fn active_log_file(log: &Log) -> Vec<u8> {
    let base = *log.segment_base_offsets().last().unwrap();
    fs::read(log.dir().join(format!("{base:020}.log"))).unwrap()
}

/// Appends `batches` batches of 3 records over 5 keys, returning what was written.
fn fill(log: &Log, batches: usize, round: usize, ts: i64, compression: Compression) -> Vec<Entry> {
    let mut written = Vec::new();
    for b in 0..batches {
        let pairs: Vec<(String, Option<String>)> = (0..3)
            .map(|i| {
                let n = b * 3 + i;
                (
                    format!("k{}", n % 5),
                    Some(format!("v{round}-{n}-{}", "x".repeat(20))),
                )
            })
            .collect();
        let refs: Vec<(&str, Option<String>)> =
            pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let info = log.append(&kv_batch(&refs, ts, compression), 0).unwrap();
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            written.push((info.first_offset + i as i64, Some(k), v));
        }
    }
    written
}

fn open(dir: &Path, config: LogConfig, clock: Arc<dyn Clock>) -> Log {
    Log::open(dir, config, clock).unwrap()
}

fn overwrites_keep_latest(compression: Compression) {
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = common::clock(1_000_000);
    let log = open(dir.path(), compact_config(), clock.clone());
    let all = fill(&log, 120, 0, 1_000_000, compression);
    assert!(log.segment_count() > 5, "{}", log.segment_count());
    let active_base = *log.segment_base_offsets().last().unwrap();
    let active_before = active_log_file(&log);
    let size_before = log.size_bytes();
    assert_eq!(read_all(&log), all);

    let result = log.clean(log.log_end_offset()).unwrap();
    assert_eq!(result.first_dirty_offset, active_base);
    assert!(result.cleaned_segments > 0);
    assert!(result.bytes_after < result.bytes_before);
    let want = expected(&all, active_base);
    assert_eq!(result.records_removed as usize, all.len() - want.len());
    assert_eq!(read_all(&log), want);
    assert!(log.size_bytes() < size_before);
    assert_eq!(active_log_file(&log), active_before);
    assert_eq!(*log.segment_base_offsets().last().unwrap(), active_base);

    // Every kept record is found by reading from its own offset (offset index + scan).
    for (offset, key, value) in &want {
        let read = log.read(*offset, 1 << 20, i64::MAX, false).unwrap();
        let mut buf = read.records.clone();
        let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
        let first = sets[0]
            .records
            .iter()
            .find(|r| r.offset >= *offset)
            .unwrap();
        assert_eq!(
            (first.offset, utf8(&first.key), utf8(&first.value)),
            (*offset, key.clone(), value.clone())
        );
    }

    // Appends go on, and a second pass over the new data keeps the model.
    let more = fill(&log, 60, 1, 1_000_000, compression);
    let mut all2 = want.clone();
    all2.extend(more);
    assert_eq!(read_all(&log), all2);
    let result = log.clean(log.log_end_offset()).unwrap();
    let active_base = *log.segment_base_offsets().last().unwrap();
    assert_eq!(result.first_dirty_offset, active_base);
    let want2 = expected(&all2, active_base);
    assert_eq!(read_all(&log), want2);

    // Reopen (clean and unclean) keeps everything.
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), compact_config(), clock.clone());
    assert_eq!(read_all(&log), want2);
    drop(log);
    fs::remove_file(dir.path().join(".clean-shutdown")).ok();
    let log = open(dir.path(), compact_config(), clock);
    assert_eq!(read_all(&log), want2);
    // Nothing dirty: a pass is a no-op.
    let result = log.clean(log.log_end_offset()).unwrap();
    assert_eq!(result.cleaned_segments, 0);
    assert_eq!(result.first_dirty_offset, active_base);
}

#[test]
fn overwrites_keep_latest_uncompressed() {
    overwrites_keep_latest(Compression::None);
}

#[test]
fn overwrites_keep_latest_gzip() {
    overwrites_keep_latest(Compression::Gzip);
}

#[test]
fn overwrites_keep_latest_lz4() {
    overwrites_keep_latest(Compression::Lz4);
}

#[test]
fn overwrites_keep_latest_zstd() {
    overwrites_keep_latest(Compression::Zstd);
}

#[test]
fn not_compacted_without_compact_policy_nor_above_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = common::clock(1_000_000);
    let config = LogConfig {
        compact: false,
        ..compact_config()
    };
    let log = open(dir.path(), config, clock);
    let all = fill(&log, 60, 0, 1_000_000, Compression::None);
    assert_eq!(log.clean(log.log_end_offset()).unwrap().cleaned_segments, 0);
    assert_eq!(read_all(&log), all);

    log.update_config(compact_config());
    // Only segments wholly below the high watermark are cleanable.
    let bases = log.segment_base_offsets();
    let hw = bases[2];
    let result = log.clean(hw).unwrap();
    assert_eq!(result.first_dirty_offset, hw);
    assert_eq!(read_all(&log), expected(&all, hw));
}

#[test]
fn dirty_ratio_below_threshold_does_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (manual, clock) = common::clock(1_000_000);
    let log = open(dir.path(), compact_config(), clock);
    fill(&log, 120, 0, 1_000_000, Compression::None);
    let first = log.clean(log.log_end_offset()).unwrap();
    assert!(first.cleaned_segments > 0);
    // Unique keys make the cleaned part large and incompressible.
    for i in 0..200 {
        let key = format!("unique-{i}");
        log.append(
            &kv_batch(
                &[(key.as_str(), Some("y".repeat(40)))],
                1_000_000,
                Compression::None,
            ),
            0,
        )
        .unwrap();
    }
    let cleaned = log.clean(log.log_end_offset()).unwrap();
    let before = read_all(&log);
    // One more small dirty segment: far below the 0.5 ratio.
    fill(&log, 12, 1, 1_000_000, Compression::None);
    let all = read_all(&log);
    let result = log.clean(log.log_end_offset()).unwrap();
    assert_eq!(result.cleaned_segments, 0);
    assert_eq!(result.first_dirty_offset, cleaned.first_dirty_offset);
    assert_eq!(read_all(&log), all);
    assert!(all.len() > before.len());

    // max.compaction.lag.ms forces the pass regardless of the ratio.
    log.update_config(LogConfig {
        max_compaction_lag_ms: 1000,
        ..compact_config()
    });
    assert_eq!(log.clean(log.log_end_offset()).unwrap().cleaned_segments, 0);
    manual.advance(1001);
    let result = log.clean(log.log_end_offset()).unwrap();
    assert!(result.first_dirty_offset > cleaned.first_dirty_offset);
    assert!(result.records_removed > 0);
}

#[test]
fn min_compaction_lag_holds_back_young_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (manual, clock) = common::clock(1_000_000);
    let config = LogConfig {
        min_compaction_lag_ms: 60_000,
        ..compact_config()
    };
    let log = open(dir.path(), config, clock);
    let all = fill(&log, 60, 0, 1_000_000, Compression::None);
    assert_eq!(log.clean(log.log_end_offset()).unwrap().cleaned_segments, 0);
    assert_eq!(read_all(&log), all);
    manual.advance(60_001);
    let result = log.clean(log.log_end_offset()).unwrap();
    assert!(result.cleaned_segments > 0);
    assert_eq!(read_all(&log), expected(&all, result.first_dirty_offset));
}

#[test]
fn tombstones_survive_delete_retention_then_vanish() {
    let dir = tempfile::tempdir().unwrap();
    let start = 10 * DAY_MS;
    let (manual, clock) = common::clock(start);
    let config = LogConfig {
        min_cleanable_dirty_ratio: 0.0,
        ..compact_config()
    };
    let log = open(dir.path(), config, clock);
    let value = || Some("z".repeat(30));
    log.append(
        &kv_batch(&[("a", value()), ("b", value())], start, Compression::Lz4),
        0,
    )
    .unwrap();
    let tombstone = log
        .append(&kv_batch(&[("a", None)], start, Compression::None), 0)
        .unwrap()
        .first_offset;
    let filler = |round: usize, ts: i64| {
        for i in 0..40 {
            let key = format!("f{}", i % 3);
            let v = Some(format!("{round}-{i}-{}", "q".repeat(40)));
            log.append(&kv_batch(&[(key.as_str(), v)], ts, Compression::None), 0)
                .unwrap();
        }
    };
    filler(0, start);
    let has_tombstone = |log: &Log| {
        read_all(log)
            .iter()
            .any(|(o, k, v)| *o == tombstone && k.as_deref() == Some("a") && v.is_none())
    };

    log.clean(log.log_end_offset()).unwrap();
    assert!(has_tombstone(&log));
    // The older value of "a" is gone, "b" stays.
    let entries = read_all(&log);
    assert!(!entries
        .iter()
        .any(|(o, k, _)| *o < tombstone && k.as_deref() == Some("a")));
    assert!(entries.iter().any(|(_, k, _)| k.as_deref() == Some("b")));

    // A later pass inside delete.retention.ms keeps it.
    manual.advance(DAY_MS - 10);
    filler(1, start + DAY_MS - 10);
    log.clean(log.log_end_offset()).unwrap();
    assert!(has_tombstone(&log));

    // Past the delete horizon the next pass drops it.
    manual.advance(20);
    filler(2, start + DAY_MS + 10);
    let result = log.clean(log.log_end_offset()).unwrap();
    assert!(result.records_removed > 0);
    assert!(!has_tombstone(&log));
    let entries = read_all(&log);
    assert!(!entries.iter().any(|(_, k, _)| k.as_deref() == Some("a")));
    assert!(entries.iter().any(|(_, k, _)| k.as_deref() == Some("b")));
}

#[test]
fn retention_follows_cleanup_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (manual, clock) = common::clock(1_000_000);
    let config = LogConfig {
        retention_ms: 1000,
        ..compact_config()
    };
    let log = open(dir.path(), config.clone(), clock);
    let all = fill(&log, 60, 0, 1_000_000, Compression::None);
    manual.advance(10_000);
    // compact only: nothing expires.
    assert_eq!(
        log.apply_retention(log.log_end_offset())
            .unwrap()
            .deleted_segments,
        0
    );
    assert_eq!(read_all(&log), all);
    // compact,delete: retention deletes too.
    log.update_config(LogConfig {
        delete: true,
        ..config
    });
    assert!(
        log.apply_retention(log.log_end_offset())
            .unwrap()
            .deleted_segments
            > 0
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn leftover_cleaned_files_are_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = common::clock(1_000_000);
    let log = open(dir.path(), compact_config(), clock.clone());
    let all = fill(&log, 60, 0, 1_000_000, Compression::Gzip);
    drop(log);
    // A pass that died before its commit point: garbage `.cleaned` files, and index `.swap`
    // files without a `.log.swap`.
    let stem = format!("{:020}", 0);
    for name in [
        format!("{stem}.log.cleaned"),
        format!("{stem}.index.cleaned"),
        format!("{stem}.timeindex.swap"),
        format!("{stem}.index.swap"),
    ] {
        fs::write(dir.path().join(name), b"garbage that is not a segment").unwrap();
    }
    let log = open(dir.path(), compact_config(), clock);
    assert_eq!(read_all(&log), all);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".cleaned") || n.ends_with(".swap")),
        "{names:?}"
    );
    // And the log still cleans.
    let result = log.clean(log.log_end_offset()).unwrap();
    assert_eq!(read_all(&log), expected(&all, result.first_dirty_offset));
}

#[test]
fn committed_swap_is_completed_on_open() {
    let (_, clock) = common::clock(1_000_000);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let log = open(a.path(), compact_config(), clock.clone());
    let all = fill(&log, 60, 0, 1_000_000, Compression::Zstd);
    log.close().unwrap();
    drop(log);
    copy_dir(a.path(), b.path());

    let log = open(a.path(), compact_config(), clock.clone());
    let result = log.clean(log.log_end_offset()).unwrap();
    let want = expected(&all, result.first_dirty_offset);
    assert_eq!(read_all(&log), want);
    log.close().unwrap();
    drop(log);

    // In b, crash every segment's swap after the commit point with the time index already
    // moved into place and the offset index and log still `.swap`.
    let mut sizes_differ = 0;
    for base in Log::open(a.path(), compact_config(), clock.clone())
        .unwrap()
        .segment_base_offsets()
    {
        if base >= result.first_dirty_offset {
            continue;
        }
        let stem = format!("{base:020}");
        let cleaned_log = a.path().join(format!("{stem}.log"));
        if fs::metadata(&cleaned_log).unwrap().len()
            != fs::metadata(b.path().join(format!("{stem}.log")))
                .unwrap()
                .len()
        {
            sizes_differ += 1;
        }
        fs::copy(&cleaned_log, b.path().join(format!("{stem}.log.swap"))).unwrap();
        fs::copy(
            a.path().join(format!("{stem}.index")),
            b.path().join(format!("{stem}.index.swap")),
        )
        .unwrap();
        fs::copy(
            a.path().join(format!("{stem}.timeindex")),
            b.path().join(format!("{stem}.timeindex")),
        )
        .unwrap();
    }
    assert!(sizes_differ > 0);
    fs::remove_file(b.path().join(".clean-shutdown")).unwrap();
    let log = open(b.path(), compact_config(), clock.clone());
    assert_eq!(read_all(&log), want);
    drop(log);
    let log = open(b.path(), compact_config(), clock);
    assert_eq!(read_all(&log), want);
    // Nothing lost: every key's latest value is there.
    let latest: BTreeMap<_, _> = all.iter().map(|(_, k, v)| (k.clone(), v.clone())).collect();
    let now: BTreeMap<_, _> = read_all(&log).into_iter().map(|(_, k, v)| (k, v)).collect();
    assert_eq!(latest, now);
}

#[test]
fn log_append_time_batches_keep_their_timestamp_type() {
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = common::clock(5_000_000);
    let config = LogConfig {
        message_timestamp_type_log_append: true,
        ..compact_config()
    };
    let log = open(dir.path(), config, clock);
    let all = fill(&log, 60, 0, 1_000, Compression::Gzip);
    let result = log.clean(log.log_end_offset()).unwrap();
    assert!(result.records_removed > 0);
    assert_eq!(read_all(&log), expected(&all, result.first_dirty_offset));
    let read = log.read(0, 1 << 20, i64::MAX, true).unwrap();
    for item in sluice_protocol::batch::batches(&read.records) {
        let (_, h) = item.unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 5_000_000);
    }
    sluice_protocol::batch::validate_batches(&read.records, usize::MAX).unwrap();
}

#[test]
fn readers_and_appends_run_during_a_clean() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = common::clock(1_000_000);
    let log = Arc::new(open(dir.path(), compact_config(), clock));
    fill(&log, 150, 0, 1_000_000, Compression::Lz4);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut passes = 0;
            while !stop.load(Ordering::SeqCst) || passes == 0 {
                // Every read decodes, offsets only grow, every key's latest value is seen.
                let entries = read_all(&log);
                assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
                let keys: std::collections::BTreeSet<_> =
                    entries.iter().map(|e| e.1.clone()).collect();
                assert_eq!(keys.len(), 5);
                passes += 1;
            }
        })
    };
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || fill(&log, 100, 1, 1_000_000, Compression::None))
    };
    let first = log.clean(log.log_end_offset()).unwrap();
    let written = writer.join().unwrap();
    let second = log.clean(log.log_end_offset()).unwrap();
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    assert!(first.records_removed + second.records_removed > 0);
    // The last write of every key is still there with its value.
    let entries = read_all(&log);
    for (offset, key, value) in written.iter().rev().take(5) {
        assert!(entries.contains(&(*offset, key.clone(), value.clone())));
    }
}

#[test]
fn truncation_below_the_clean_point_makes_data_dirty_again() {
    let dir = tempfile::tempdir().unwrap();
    let (_, clock) = common::clock(1_000_000);
    let log = open(dir.path(), compact_config(), clock);
    fill(&log, 120, 0, 1_000_000, Compression::None);
    let first = log.clean(log.log_end_offset()).unwrap();
    let cut = first.first_dirty_offset - 20;
    log.truncate_to(cut).unwrap();
    let kept: Vec<Entry> = read_all(&log);
    let more = fill(&log, 60, 1, 1_000_000, Compression::None);
    let mut all = kept;
    all.extend(more);
    let result = log.clean(log.log_end_offset()).unwrap();
    assert!(result.first_dirty_offset > cut);
    assert_eq!(read_all(&log), expected(&all, result.first_dirty_offset));
}

/// A producer-style batch (offsets from 0) of `records`, encoded with our codec so that
/// headers may repeat.
fn headers_batch(records: &[Record2], codec: u8) -> Bytes {
    let template = sluice_protocol::batch::BatchHeader {
        base_offset: 0,
        batch_length: 0,
        partition_leader_epoch: -1,
        magic: 2,
        crc: 0,
        attributes: i16::from(codec),
        last_offset_delta: 0,
        base_timestamp: 1_000_000,
        max_timestamp: 1_000_000,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: 0,
    };
    Bytes::from(record_codec::encode_batch(&template, records).unwrap())
}

fn header(key: &str, value: Option<&str>) -> (Bytes, Option<Bytes>) {
    (
        Bytes::from(key.to_string()),
        value.map(|v| Bytes::from(v.to_string())),
    )
}

#[test]
fn rewritten_batches_keep_repeated_headers_in_order() {
    for codec in 0u8..5 {
        let dir = tempfile::tempdir().unwrap();
        let (_, clock) = common::clock(1_000_000);
        let log = open(dir.path(), compact_config(), clock);
        let record = |i: i64, key: &str, headers| Record2 {
            offset: i,
            timestamp: 999_000 + i,
            attributes: 0,
            key: Some(Bytes::from(key.to_string())),
            value: Some(Bytes::from(format!("value-{i}"))),
            headers,
        };
        let first = vec![
            record(0, "a", vec![header("h", Some("0"))]),
            record(
                1,
                "b",
                vec![
                    header("h", Some("1")),
                    header("x", None),
                    header("h", Some("2")),
                    header("h", Some("1")),
                ],
            ),
            record(2, "c", vec![header("z", None), header("z", None)]),
        ];
        log.append(&headers_batch(&first, codec), 0).unwrap();
        // Supersede "a" so that the first batch loses a record and is rewritten.
        let overwrite = vec![record(0, "a", Vec::new())];
        log.append(&headers_batch(&overwrite, codec), 0).unwrap();
        fill(&log, 60, 0, 1_000_000, Compression::None);
        assert!(log.segment_count() > 2);

        let result = log.clean(log.log_end_offset()).unwrap();
        assert!(result.records_removed > 0, "codec {codec}: {result:?}");

        let read = log.read(0, 1 << 20, i64::MAX, true).unwrap();
        let (_, h) = sluice_protocol::batch::batches(&read.records)
            .next()
            .unwrap()
            .unwrap();
        let (header, records) =
            record_codec::decode_batch(&read.records.slice(..h.total_len())).unwrap();
        assert_eq!(header.base_offset, 1, "codec {codec}");
        assert_eq!(header.last_offset_delta, 1);
        assert_eq!(header.compression(), codec);
        assert_eq!(records, first[1..], "codec {codec}");
    }
}
