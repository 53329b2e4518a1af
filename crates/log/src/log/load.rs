//! What [`Log::open`] does with the partition directory: leftover files removed, the segments
//! opened, those an unclean shutdown may have damaged recovered (see `crate::recovery`), and
//! the log start and end offsets settled.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Log;
use crate::checkpoint;
use crate::config::LogConfig;
use crate::error::LogError;
use crate::producer_state;
use crate::recovery;
use crate::segment::{Segment, DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::txn_index::TXN_INDEX_SUFFIX;

impl Log {
    /// Settles log start/end offsets after the segments are loaded.
    pub(super) fn finish_open(
        &self,
        checkpointed: Option<i64>,
        clean: bool,
        now: i64,
    ) -> Result<(), LogError> {
        let first = self.segments_snapshot().first().map(|s| s.base_offset());
        let (log_start, log_end) = match first {
            None => {
                let start = checkpointed.unwrap_or(0);
                self.insert_segment(Arc::new(Segment::create(&self.dir, start, now)?));
                (start, start)
            }
            Some(first_base) => {
                let end = self.active().state().next_offset;
                let start = checkpointed.unwrap_or(first_base).max(first_base);
                if start > end {
                    // The checkpoint is ahead of the data (lost in a crash): start afresh there,
                    // as Kafka does.
                    tracing::warn!(dir = %self.dir.display(),
                        "log start offset {start} is past the log end {end}; emptying the log");
                    for s in self.segments_snapshot() {
                        self.remove_segment(&s, now)?;
                    }
                    producer_state::delete_snapshots(&self.dir, |_| true)?;
                    self.insert_segment(Arc::new(Segment::create(&self.dir, start, now)?));
                    (start, start)
                } else {
                    (start, end)
                }
            }
        };
        self.log_start_offset.store(log_start, Ordering::SeqCst);
        self.log_end_offset.store(log_end, Ordering::SeqCst);
        let flushed = if clean {
            log_end
        } else {
            self.active().base_offset().min(log_end)
        };
        self.flushed_offset.store(flushed, Ordering::SeqCst);
        if checkpointed != Some(log_start) {
            checkpoint::write_log_start_offset(&self.dir, log_start)?;
        }
        checkpoint::sync_dir(&self.dir)
    }
}

/// Opens the segments whose base offsets are `bases` (ascending), as [`Log::open`] finds them.
/// Those at or above `recovery_point` may hold data that was never fsynced and are validated
/// batch by batch; a damaged one is cut at its first bad batch and the segments after it are
/// removed. The last one is the active segment.
pub(super) fn load_segments(
    dir: &Path,
    bases: Vec<i64>,
    recovery_point: i64,
    clean: bool,
    config: &LogConfig,
    now: i64,
) -> Result<BTreeMap<i64, Arc<Segment>>, LogError> {
    let mut segments = BTreeMap::new();
    let mut bases = bases.into_iter().peekable();
    while let Some(base) = bases.next() {
        let next_base = bases.peek().copied();
        let bound = next_base.unwrap_or(i64::MAX);
        let (segment, intact) = Segment::open(dir, base, bound, now)?;
        if next_base.is_some() && base >= recovery_point {
            let outcome =
                recovery::recover_segment(&segment, bound, config.index_interval_bytes, true)?;
            if outcome.truncated_bytes > 0 {
                // What follows a damaged batch cannot be trusted: the later segments go,
                // and this one is the active segment now.
                let later: Vec<i64> = bases.by_ref().collect();
                tracing::warn!(
                    dir = %dir.display(),
                    "segment {base} was damaged after its last flush: truncated {} bytes, \
                     removed {} later segment(s)",
                    outcome.truncated_bytes,
                    later.len()
                );
                for later_base in later {
                    let (doomed, _) = Segment::open(dir, later_base, i64::MAX, now)?;
                    for path in doomed.rename_to_deleted()? {
                        fs::remove_file(&path).map_err(LogError::io(&path))?;
                    }
                }
                segments.insert(base, Arc::new(segment));
                break;
            }
            segment.seal()?;
        } else if next_base.is_none() {
            if clean && intact {
                recovery::load_clean_tail(&segment)?;
            } else {
                let outcome =
                    recovery::recover_segment(&segment, bound, config.index_interval_bytes, true)?;
                tracing::info!(
                    dir = %dir.display(),
                    "recovered active segment {base}: {} batches, {} bytes truncated",
                    outcome.batches,
                    outcome.truncated_bytes
                );
            }
        } else if !intact {
            recovery::recover_segment(&segment, bound, config.index_interval_bytes, !clean)?;
            segment.seal()?;
        }
        if let Some(next) = next_base {
            segment.state_mut().next_offset = next;
        }
        segments.insert(base, Arc::new(segment));
    }
    Ok(segments)
}

/// Lists segment base offsets in `dir`, removing leftovers: `*.deleted` and `*.tmp` files and
/// index files whose `.log` is gone.
pub(super) fn scan_dir(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(DELETED_SUFFIX) || name.ends_with(checkpoint::TMP_SUFFIX) {
            fs::remove_file(&path).map_err(LogError::io(&path))?;
        } else if let Some(stem) = name.strip_suffix(LOG_SUFFIX) {
            if let Some(base) = parse_stem(stem) {
                bases.push(base);
            }
        } else if let Some(stem) = name
            .strip_suffix(INDEX_SUFFIX)
            .or_else(|| name.strip_suffix(TIME_INDEX_SUFFIX))
            .or_else(|| name.strip_suffix(TXN_INDEX_SUFFIX))
        {
            if let Some(base) = parse_stem(stem) {
                index_files.push((base, path));
            }
        }
    }
    bases.sort_unstable();
    for (base, path) in index_files {
        if bases.binary_search(&base).is_err() {
            fs::remove_file(&path).map_err(LogError::io(&path))?;
        }
    }
    Ok(bases)
}

fn parse_stem(stem: &str) -> Option<i64> {
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}
