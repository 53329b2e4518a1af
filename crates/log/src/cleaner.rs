//! Log compaction (`cleanup.policy=compact`): the pieces of one cleaning pass that do not need
//! the log's locks. [`crate::Log::clean`] drives them.
//!
//! # A pass (Kafka's log cleaner, one partition)
//! - The log below the first dirty offset (`cleaner-offset.checkpoint`, see `checkpoint`) has
//!   been compacted before; from there up to the end of the cleanable range it is dirty. The
//!   cleanable range ends at the first segment that is active, reaches the high watermark, or
//!   holds a record younger than `min.compaction.lag.ms`; only whole segments are cleaned.
//! - A pass runs when dirty bytes / cleanable bytes >= `min.cleanable.dirty.ratio`, or when the
//!   first dirty record is older than `max.compaction.lag.ms`.
//! - An offset map key -> last offset is built over the dirty range; then every segment of the
//!   cleanable range is rewritten keeping a record only when no later record of the range has
//!   its key. Records without a key are kept. A tombstone (null value) is dropped only from a
//!   segment that an earlier pass already cleaned and whose newest timestamp is more than
//!   `delete.retention.ms` old (the delete horizon), so consumers get that long to see it.
//! - Control batches and transactional batches are kept whole and stay out of the offset map:
//!   without aborted-transaction tracking, a transactional record may not supersede anything.
//! - Offsets never change. A batch that loses records is re-encoded by `record_codec` (same
//!   attributes, producer id, epoch, leader epoch; baseSequence moved with baseOffset) holding
//!   its survivors byte for byte (headers in order, repeated keys kept) at their original
//!   offsets; a batch with no survivors is dropped. A segment may become empty; it stays as a
//!   file so that segment base offsets keep their meaning.
//!
//! # Crash-safe swap of one segment `<base>`
//! 1. The rewritten segment is written and fsynced as `<base>.log.cleaned`,
//!    `<base>.index.cleaned`, `<base>.timeindex.cleaned`.
//! 2. Each is renamed to `.swap`, the `.log` last: the presence of `<base>.log.swap` is the
//!    commit point. The directory is fsynced.
//! 3. Each `.swap` is renamed over the live file, the `.log` last, and the directory fsynced.
//!    Readers that hold the old segment keep reading the old (now unlinked) files.
//!
//! On open ([`recover_swaps`]): `*.cleaned` files are deleted (the pass never committed); where
//! `<base>.log.swap` exists the swap is completed; index `.swap` files without a `.log.swap`
//! belong to an uncommitted pass and are deleted.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sluice_protocol::batch::BatchHeader;

use crate::checkpoint;
use crate::error::LogError;
use crate::record_codec::{self, Record};
use crate::segment::{file_stem, BatchMeta, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

pub(crate) const CLEANED_SUFFIX: &str = ".cleaned";
pub(crate) const SWAP_SUFFIX: &str = ".swap";

/// Bound on the keys of one pass's offset map (memory a producer can make the cleaner hold).
/// A pass stops at the segment boundary after the map reaches it; the next pass goes on.
pub(crate) const MAX_OFFSET_MAP_KEYS: usize = 1 << 22;

/// What one [`crate::Log::clean`] pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanResult {
    /// Segments rewritten (segments with nothing to remove are left alone and not counted).
    pub cleaned_segments: usize,
    /// Total size of the rewritten segments before the pass.
    pub bytes_before: u64,
    /// Total size of the rewritten segments after the pass.
    pub bytes_after: u64,
    pub records_removed: u64,
    /// The first dirty offset after the pass (where the next pass starts).
    pub first_dirty_offset: i64,
}

/// Key -> offset of its last record in the dirty range.
pub(crate) type OffsetMap = HashMap<Bytes, i64>;

/// Whether a pass should run, Kafka's rule.
pub(crate) fn should_clean(
    dirty_bytes: u64,
    total_bytes: u64,
    min_ratio: f64,
    forced: bool,
) -> bool {
    if dirty_bytes == 0 || total_bytes == 0 {
        return false;
    }
    forced || dirty_bytes as f64 / total_bytes as f64 >= min_ratio
}

/// The three file paths of segment `base` with `suffix` appended, the `.log` last.
fn segment_paths(dir: &Path, base: i64, suffix: &str) -> [PathBuf; 3] {
    let stem = file_stem(base);
    [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]
        .map(|ext| dir.join(format!("{stem}{ext}{suffix}")))
}

/// Steps 2 and 3 of the swap (see the module docs) for a flushed `.cleaned` segment.
pub(crate) fn commit_cleaned(dir: &Path, base: i64) -> Result<(), LogError> {
    let cleaned = segment_paths(dir, base, CLEANED_SUFFIX);
    let swap = segment_paths(dir, base, SWAP_SUFFIX);
    let live = segment_paths(dir, base, "");
    for (from, to) in cleaned.iter().zip(&swap) {
        fs::rename(from, to).map_err(LogError::io(from))?;
    }
    checkpoint::sync_dir(dir)?;
    for (from, to) in swap.iter().zip(&live) {
        fs::rename(from, to).map_err(LogError::io(from))?;
    }
    checkpoint::sync_dir(dir)
}

/// Removes the `.cleaned` files of segment `base`, if any.
pub(crate) fn discard_cleaned(dir: &Path, base: i64) -> Result<(), LogError> {
    for path in segment_paths(dir, base, CLEANED_SUFFIX) {
        remove_if_exists(&path)?;
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(path)(e)),
    }
}

/// Finishes or rolls back swaps interrupted by a crash (see the module docs). Runs on open,
/// before the segments are listed.
pub(crate) fn recover_swaps(dir: &Path) -> Result<(), LogError> {
    let mut committed = HashSet::new();
    let mut index_swaps = Vec::new();
    let mut changed = false;
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(CLEANED_SUFFIX) {
            remove_if_exists(&path)?;
            changed = true;
        } else if let Some(live) = name.strip_suffix(SWAP_SUFFIX) {
            if let Some(stem) = live.strip_suffix(LOG_SUFFIX) {
                committed.insert(stem.to_string());
            } else if let Some(stem) = live
                .strip_suffix(INDEX_SUFFIX)
                .or_else(|| live.strip_suffix(TIME_INDEX_SUFFIX))
            {
                index_swaps.push((stem.to_string(), path.clone(), dir.join(live)));
            }
        }
    }
    // Indexes before logs, as in `commit_cleaned`.
    for (stem, swap, live) in index_swaps {
        changed = true;
        if committed.contains(&stem) {
            tracing::info!(path = %live.display(), "completing an interrupted cleaner swap");
            fs::rename(&swap, &live).map_err(LogError::io(&swap))?;
        } else {
            tracing::info!(path = %swap.display(), "dropping an uncommitted cleaner swap");
            remove_if_exists(&swap)?;
        }
    }
    for stem in committed {
        changed = true;
        let live = dir.join(format!("{stem}{LOG_SUFFIX}"));
        let swap = dir.join(format!("{stem}{LOG_SUFFIX}{SWAP_SUFFIX}"));
        tracing::info!(path = %live.display(), "completing an interrupted cleaner swap");
        fs::rename(&swap, &live).map_err(LogError::io(&swap))?;
    }
    if changed {
        checkpoint::sync_dir(dir)?;
    }
    Ok(())
}

/// Batches that take part in compaction: plain data batches. Control and transactional
/// batches are kept whole (see the module docs).
fn compactable(header: &BatchHeader) -> bool {
    !header.is_control() && !header.is_transactional()
}

fn decode_batch(
    segment: &Segment,
    position: u64,
    header: &BatchHeader,
) -> Result<(Bytes, Vec<Record>), LogError> {
    let raw = Bytes::from(segment.read_exact(position, header.total_len())?);
    let (_, records) = record_codec::decode_batch(&raw).map_err(|e| LogError::Corrupt {
        path: segment.log_path().to_path_buf(),
        reason: format!("batch at position {position} does not decode: {e}"),
    })?;
    Ok((raw, records))
}

/// Adds the keyed records of `segment` at or after `from_offset` to `map`.
pub(crate) fn add_to_offset_map(
    segment: &Segment,
    from_offset: i64,
    map: &mut OffsetMap,
) -> Result<(), LogError> {
    let limit = segment.size();
    let mut position = 0u64;
    while let Some((at, header)) = segment.scan_from(position, limit, |h| {
        compactable(h) && h.last_offset() >= from_offset
    })? {
        let (_, records) = decode_batch(segment, at, &header)?;
        for record in records {
            if let Some(key) = record.key {
                if record.offset >= from_offset {
                    // Copy: a slice would pin the whole decompressed batch.
                    map.insert(Bytes::copy_from_slice(&key), record.offset);
                }
            }
        }
        position = at + header.total_len() as u64;
    }
    Ok(())
}

/// A segment's batches after filtering.
#[derive(Debug, Default)]
pub(crate) struct Filtered {
    pub bytes: Vec<u8>,
    pub metas: Vec<BatchMeta>,
    pub records_removed: u64,
}

/// Filters every batch of `segment` against `map` (see the module docs for what survives).
/// `drop_tombstones`: this segment is past the delete horizon.
pub(crate) fn filter_segment(
    segment: &Segment,
    map: &OffsetMap,
    drop_tombstones: bool,
) -> Result<Filtered, LogError> {
    let mut out = Filtered::default();
    let limit = segment.size();
    let mut position = 0u64;
    while let Some((at, header)) = segment.scan_from(position, limit, |_| true)? {
        position = at + header.total_len() as u64;
        if !compactable(&header) {
            let raw = segment.read_exact(at, header.total_len())?;
            push_batch(&mut out, &raw, &header);
            continue;
        }
        let (raw, records) = decode_batch(segment, at, &header)?;
        let total = records.len();
        let survivors: Vec<Record> = records
            .into_iter()
            .filter(|r| keep(r, map, drop_tombstones))
            .collect();
        out.records_removed += (total - survivors.len()) as u64;
        if survivors.len() == total {
            push_batch(&mut out, &raw, &header);
        } else if !survivors.is_empty() {
            let encoded =
                record_codec::encode_batch(&header, &survivors).map_err(|e| LogError::Corrupt {
                    path: segment.log_path().to_path_buf(),
                    reason: format!(
                        "cannot re-encode batch at offset {}: {e}",
                        header.base_offset
                    ),
                })?;
            let rewritten = sluice_protocol::batch::parse_header(&encoded)
                .expect("encode_batch writes a whole 61-byte header");
            push_batch(&mut out, &encoded, &rewritten);
        }
    }
    Ok(out)
}

fn keep(record: &Record, map: &OffsetMap, drop_tombstones: bool) -> bool {
    let Some(key) = &record.key else {
        return true;
    };
    if map.get(key).is_some_and(|&latest| record.offset < latest) {
        return false;
    }
    !(drop_tombstones && record.value.is_none())
}

fn push_batch(out: &mut Filtered, bytes: &[u8], header: &BatchHeader) {
    out.bytes.extend_from_slice(bytes);
    out.metas.push(BatchMeta {
        last_offset: header.last_offset(),
        max_timestamp: header.max_timestamp,
        size: bytes.len() as u64,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_ratio_rule() {
        assert!(!should_clean(0, 100, 0.0, true));
        assert!(!should_clean(40, 100, 0.5, false));
        assert!(should_clean(50, 100, 0.5, false));
        assert!(should_clean(10, 100, 0.5, true));
    }
}
