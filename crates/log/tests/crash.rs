//! Crash tests: cut the active segment at many byte positions, damage indexes, reopen.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sluice_log::{Log, LogConfig};
use std::fs::OpenOptions;
use std::path::Path;

const BATCHES: usize = 12;

fn config() -> LogConfig {
    LogConfig {
        index_interval_bytes: 200,
        ..LogConfig::default()
    }
}

/// Writes BATCHES batches of 1..=3 records into a fresh log (not closed: an unclean stop) and
/// returns the end position of each batch in the single segment and its next offset.
fn write_log(dir: &Path) -> Vec<(u64, i64)> {
    let (_c, clock) = clock(1_000);
    let log = Log::open(dir, config(), clock).unwrap();
    let mut ends = Vec::new();
    let mut position = 0u64;
    for i in 0..BATCHES {
        let b = batch(1 + i % 3, 100 + i as i64, 40 + i * 7);
        let info = log.append(&b, 1).unwrap();
        position += b.len() as u64;
        ends.push((position, info.last_offset + 1));
    }
    ends
}

fn cut(dir: &Path, len: u64) {
    let path = dir.join(format!("{:020}.log", 0));
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Reopens and checks the log holds exactly the whole batches below `cut_at`.
fn check(dir: &Path, ends: &[(u64, i64)], cut_at: u64) {
    let (whole_bytes, expected_end) = ends
        .iter()
        .rev()
        .find(|(end, _)| *end <= cut_at)
        .copied()
        .unwrap_or((0, 0));
    let (_c, clock) = clock(2_000);
    let log = Log::open(dir, config(), clock).unwrap();
    assert_eq!(log.log_end_offset(), expected_end, "cut at {cut_at}");
    assert_eq!(log.size_bytes(), whole_bytes, "cut at {cut_at}");
    // Every remaining offset reads back as a whole, valid batch.
    for offset in 0..expected_end {
        let r = log.read(offset, 1, i64::MAX, true).unwrap();
        let ranges = batch_ranges(&r.records);
        assert_eq!(ranges.len(), 1);
        assert!(ranges[0].0 <= offset && offset <= ranges[0].1);
    }
    // Appends continue at the right offset and are readable.
    let info = log.append(&batch(2, 500, 10), 1).unwrap();
    assert_eq!(info.first_offset, expected_end);
    let r = log.read(expected_end, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(
        batch_ranges(&r.records),
        vec![(expected_end, expected_end + 1)]
    );
    assert_eq!(
        log.offset_for_timestamp(500).unwrap(),
        Some((expected_end, 500))
    );
}

#[test]
fn recovers_from_a_cut_at_every_position_of_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let ends = write_log(dir.path());
    let total = ends.last().unwrap().0;
    let tail_start = ends[BATCHES - 3].0;
    let mut positions: Vec<u64> = (tail_start..=total).collect();
    positions.extend((0..tail_start).step_by(37));
    for (n, &cut_at) in positions.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        write_log(dir.path());
        cut(dir.path(), cut_at);
        let index = dir.path().join(format!("{:020}.index", 0));
        let time_index = dir.path().join(format!("{:020}.timeindex", 0));
        match n % 4 {
            0 => {}
            1 => std::fs::remove_file(&index).unwrap(),
            2 => std::fs::write(&index, [0xffu8; 13]).unwrap(),
            _ => std::fs::write(&time_index, [0x7fu8; 24]).unwrap(),
        }
        check(dir.path(), &ends, cut_at);
    }
}

#[test]
fn recovers_from_garbage_and_corrupt_batches() {
    let dir = tempfile::tempdir().unwrap();
    let ends = write_log(dir.path());
    let total = ends.last().unwrap().0;
    let path = dir.path().join(format!("{:020}.log", 0));

    // Zeroes after the data (a preallocated or half-extended file).
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(vec![0u8; 100]);
    std::fs::write(&path, &bytes).unwrap();
    check(dir.path(), &ends, total);

    // A flipped byte inside batch 8's records: CRC catches it, log cut before batch 8.
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let path = dir.path().join(format!("{:020}.log", 0));
    let mut bytes = std::fs::read(&path).unwrap();
    let pos = ends[7].0 as usize + 70;
    bytes[pos] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    check(dir.path(), &ends, ends[7].0);
}

#[test]
fn clean_shutdown_skips_recovery_but_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(1_000);
    let log = Log::open(dir.path(), config(), clock.clone()).unwrap();
    for i in 0..20 {
        log.append(&batch(2, 100 + i, 30), 0).unwrap();
    }
    log.close().unwrap();
    drop(log);
    assert!(dir.path().join(".clean-shutdown").exists());
    let log = Log::open(dir.path(), config(), clock).unwrap();
    assert!(!dir.path().join(".clean-shutdown").exists());
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((38, 119)));
    assert_eq!(log.append(&batch(1, 5, 5), 0).unwrap().first_offset, 40);
}

/// Appends 40 batches of one record (about 1 KiB each) to a log of 4 KiB segments; returns
/// the log (still open) and its segment bases.
fn several_segments(dir: &Path) -> (Log, Vec<i64>) {
    let (_c, clock) = clock(1_000);
    let log = Log::open(dir, small_config(), clock).unwrap();
    for i in 0..40 {
        log.append(&batch(1, 100 + i, 1000), 1).unwrap();
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 5, "{bases:?}");
    (log, bases)
}

/// Flips one byte in the middle of segment `base`'s first batch (inside its CRC-covered part).
fn damage(dir: &Path, base: i64) {
    use std::io::{Seek, SeekFrom, Write};
    let path = dir.join(format!("{base:020}.log"));
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(500)).unwrap();
    f.write_all(&[0xA5]).unwrap();
}

#[test]
fn a_crash_validates_every_segment_from_the_recovery_point() {
    // Nothing was ever flushed: after a crash every segment is suspect. A damaged batch in an
    // older segment ends the log there, and the later segments go.
    let dir = tempfile::tempdir().unwrap();
    let (log, bases) = several_segments(dir.path());
    drop(log);
    damage(dir.path(), bases[2]);
    let (_c, later) = clock(2_000);
    let log = Log::open(dir.path(), small_config(), later).unwrap();
    assert_eq!(log.log_end_offset(), bases[2]);
    assert_eq!(log.segment_base_offsets(), bases[..3].to_vec());
    // The log goes on from there.
    let info = log.append(&batch(1, 200, 10), 1).unwrap();
    assert_eq!(info.first_offset, bases[2]);
    drop(log);
    let (_c, later) = clock(3_000);
    assert_eq!(
        Log::open(dir.path(), small_config(), later)
            .unwrap()
            .log_end_offset(),
        bases[2] + 1
    );
}

#[test]
fn segments_below_the_recovery_point_are_trusted() {
    // A flush covered everything: the recovery point is the last segment, and damage below it
    // (which a flushed segment would only get from a failing disk) is not looked for.
    let dir = tempfile::tempdir().unwrap();
    let (log, bases) = several_segments(dir.path());
    let end = log.log_end_offset();
    log.flush(end).unwrap();
    let last = *bases.last().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("recovery-point.checkpoint")).unwrap(),
        format!("0\n{last}\n")
    );
    drop(log);
    damage(dir.path(), bases[1]);
    let (_c, later) = clock(2_000);
    let log = Log::open(dir.path(), small_config(), later).unwrap();
    assert_eq!(log.log_end_offset(), end);

    // A background flush moves the point on after a roll, whatever the flush policy; a
    // truncation below it moves it back.
    for i in 0..8 {
        log.append(&batch(1, 300 + i, 1000), 1).unwrap();
    }
    log.flush_if_due().unwrap();
    let point =
        |dir: &Path| std::fs::read_to_string(dir.join("recovery-point.checkpoint")).unwrap();
    let active = *log.segment_base_offsets().last().unwrap();
    assert!(active > last);
    assert_eq!(point(dir.path()), format!("0\n{active}\n"));
    log.truncate_to(bases[3] + 1).unwrap();
    assert_eq!(point(dir.path()), format!("0\n{}\n", bases[3]));
}
