//! The leader epoch cache (Kafka's `LeaderEpochFileCache`, KIP-101 and KIP-279): for every
//! leader epoch that wrote to the partition, the offset of its first batch. A leader answers
//! OffsetsForLeaderEpoch from it, and a follower uses the answer to find where its log diverges
//! from the leader's and truncates there before fetching.
//!
//! # Rules (Kafka's)
//! - Append: a v2 batch carries the epoch of the leader that appended it (partitionLeaderEpoch).
//!   A batch whose epoch differs from the latest entry's adds (epoch, base offset); batches
//!   with epoch -1 (no leader epoch) add nothing. A lower epoch than the latest, or a start
//!   offset not above the latest entry's, first drops the entries it conflicts with (epoch or
//!   start offset at or above the new one), so the entries stay strictly increasing.
//! - Truncation of the log to end offset `e` drops entries starting at or after `e`.
//! - Raising the log start offset to `s` drops the entries wholly below it and moves the start
//!   of the entry covering `s` up to `s`.
//! - End offset of epoch `E` ([`LeaderEpochCache::end_offset_for`]): the largest cached epoch
//!   `<= E` and the start offset of the next entry, or the log end offset when it is the latest
//!   (a requested epoch above every entry gets the latest epoch and the log end offset: entries
//!   are added on the first append of an epoch, not when leadership is taken, so the current
//!   leader epoch may not be cached yet). An `E` below every cached epoch gets `E` itself and
//!   the first entry's start offset (the data of older epochs is gone from the log).
//!
//! # File `leader-epoch-checkpoint` (text, Kafka's layout)
//! ```text
//! line 1: format version, "0"
//! line 2: number of entries, decimal
//! then one line per entry, oldest first: "<epoch> <start offset>" (decimal i32 and i64, one
//! space between)
//! ```
//! Rewritten whole on every change (tmp file, fsync, rename, directory fsync): a crash leaves the
//! old or the new list. A list that is ahead of the data after a crash is cut back on open
//! (entries at or after the recovered log end offset are dropped).

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::checkpoint;
use crate::error::LogError;

pub(crate) const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";
const VERSION: &str = "0";

/// One leader epoch and the offset of its first batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The cached entries of one partition; pure logic, the log reads and writes the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeaderEpochCache {
    /// Oldest first. invariant: every epoch and start offset is >= 0, and both are strictly
    /// increasing.
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Records that `epoch` wrote a batch at `start_offset` (Kafka's `assign`). Returns whether
    /// the entries changed. A negative epoch or offset (a batch without a leader epoch) changes
    /// nothing.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if let Some(&last) = self.entries.last() {
            if last.epoch == epoch && start_offset >= last.start_offset {
                return false;
            }
            if epoch < last.epoch || start_offset <= last.start_offset {
                let before = self.entries.len();
                self.entries
                    .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
                let dropped = before - self.entries.len();
                // Dropping one entry that had not written anything yet is routine (an entry
                // moved up to an empty log's start); anything else means the log and the cache
                // disagreed.
                if dropped > 1 || (dropped == 1 && last.start_offset != start_offset) {
                    tracing::warn!(
                        "leader epoch {epoch} at offset {start_offset} dropped {dropped} \
                         conflicting epoch cache entries"
                    );
                }
            }
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// Drops the entries starting at or after `end_offset` (the log was truncated there).
    /// Returns whether anything was dropped.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let keep = self
            .entries
            .partition_point(|e| e.start_offset < end_offset);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    /// The log start offset moved up to `start_offset`: drops the entries wholly below it and
    /// makes the entry covering it start there. Returns whether anything changed.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let below = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        if below == 0 || (below == 1 && self.entries[0].start_offset == start_offset) {
            return false;
        }
        self.entries.drain(..below - 1);
        self.entries[0].start_offset = start_offset;
        true
    }

    /// Drops every entry (the log was emptied). Returns whether there were any.
    pub fn clear(&mut self) -> bool {
        let changed = !self.entries.is_empty();
        self.entries.clear();
        changed
    }

    /// Kafka's answer to OffsetsForLeaderEpoch for `epoch` on a log ending at `log_end_offset`:
    /// `(epoch found, end offset of that epoch)`, see the module docs. `None` when the cache is
    /// empty or `epoch` is negative (Kafka's UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET).
    pub fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        if epoch < 0 {
            return None;
        }
        let at_or_below = self.entries.partition_point(|e| e.epoch <= epoch);
        let next_start = self.entries.get(at_or_below).map(|e| e.start_offset);
        match at_or_below.checked_sub(1).map(|i| self.entries[i]) {
            Some(floor) => Some((floor.epoch, next_start.unwrap_or(log_end_offset))),
            None => next_start.map(|start| (epoch, start)),
        }
    }

    /// The file contents for these entries.
    pub fn encode(&self) -> String {
        let mut out = format!("{VERSION}\n{}\n", self.entries.len());
        for e in &self.entries {
            out.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        out
    }

    /// Parses the file contents. Entries go through [`LeaderEpochCache::assign`], as in Kafka,
    /// so a list that is out of order comes out monotonic.
    pub fn decode(text: &str) -> Result<LeaderEpochCache, String> {
        let mut lines = text.lines();
        match lines.next() {
            Some(VERSION) => {}
            other => return Err(format!("unknown version line {other:?}")),
        }
        let count: usize = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or("missing or malformed entry count")?;
        let mut cache = LeaderEpochCache::default();
        let mut found = 0usize;
        for line in lines {
            let mut fields = line.split_whitespace();
            let entry = match (fields.next(), fields.next(), fields.next()) {
                (Some(epoch), Some(offset), None) => epoch
                    .parse::<i32>()
                    .ok()
                    .zip(offset.parse::<i64>().ok())
                    .filter(|&(epoch, offset)| epoch >= 0 && offset >= 0),
                _ => None,
            };
            let Some((epoch, start_offset)) = entry else {
                return Err(format!("malformed entry line {line:?}"));
            };
            cache.assign(epoch, start_offset);
            found += 1;
        }
        if found != count {
            return Err(format!("{found} entries, the header says {count}"));
        }
        Ok(cache)
    }

    /// Reads `leader-epoch-checkpoint` in `dir`: `None` if there is none, [`LogError::Corrupt`]
    /// if it does not parse.
    pub fn read(dir: &Path) -> Result<Option<LeaderEpochCache>, LogError> {
        let path = dir.join(LEADER_EPOCH_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                return Err(LogError::Corrupt {
                    path,
                    reason: "not UTF-8 text".into(),
                })
            }
            Err(e) => return Err(LogError::io(&path)(e)),
        };
        LeaderEpochCache::decode(&text)
            .map(Some)
            .map_err(|reason| LogError::Corrupt { path, reason })
    }

    /// Durably replaces `leader-epoch-checkpoint` in `dir` with these entries.
    pub fn write(&self, dir: &Path) -> Result<(), LogError> {
        checkpoint::write_atomically(dir, LEADER_EPOCH_FILE, self.encode().as_bytes())
    }

    /// Replaces the file without fsync (the append path); returns its path for the next
    /// flush. A torn file after a crash is rebuilt from the batch headers on open.
    pub fn write_unsynced(&self, dir: &Path) -> Result<std::path::PathBuf, LogError> {
        checkpoint::write_replacing(dir, LEADER_EPOCH_FILE, self.encode().as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut c = LeaderEpochCache::default();
        for &(epoch, start) in entries {
            assert!(c.assign(epoch, start));
        }
        c
    }

    fn pairs(c: &LeaderEpochCache) -> Vec<(i32, i64)> {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn assign_adds_only_new_epochs() {
        let mut c = LeaderEpochCache::default();
        assert!(!c.assign(-1, 0));
        assert!(c.assign(0, 0));
        assert!(!c.assign(0, 5));
        assert!(c.assign(2, 10));
        assert!(!c.assign(2, 10));
        assert!(!c.assign(-1, 12));
        assert!(c.assign(3, 12));
        assert_eq!(pairs(&c), vec![(0, 0), (2, 10), (3, 12)]);
        assert_eq!(c.latest_epoch(), Some(3));
    }

    #[test]
    fn assign_drops_conflicting_entries() {
        // A lower epoch at a later offset: entries of that epoch or above go.
        let mut c = cache(&[(1, 0), (3, 10), (5, 20)]);
        assert!(c.assign(4, 30));
        assert_eq!(pairs(&c), vec![(1, 0), (3, 10), (4, 30)]);
        // A higher epoch at an offset not above the latest start.
        assert!(c.assign(6, 30));
        assert_eq!(pairs(&c), vec![(1, 0), (3, 10), (6, 30)]);
        assert!(c.assign(7, 5));
        assert_eq!(pairs(&c), vec![(1, 0), (7, 5)]);
    }

    #[test]
    fn truncation_from_both_ends() {
        let mut c = cache(&[(1, 0), (2, 10), (4, 20)]);
        assert!(!c.truncate_from_end(21));
        assert!(c.truncate_from_end(20));
        assert_eq!(pairs(&c), vec![(1, 0), (2, 10)]);

        let mut c = cache(&[(1, 0), (2, 10), (4, 20)]);
        assert!(!c.truncate_from_start(0));
        assert!(c.truncate_from_start(5));
        assert_eq!(pairs(&c), vec![(1, 5), (2, 10), (4, 20)]);
        assert!(c.truncate_from_start(10));
        assert_eq!(pairs(&c), vec![(2, 10), (4, 20)]);
        assert!(!c.truncate_from_start(10));
        assert!(c.truncate_from_start(25));
        assert_eq!(pairs(&c), vec![(4, 25)]);
        assert!(c.clear());
        assert!(!c.clear());
    }

    #[test]
    fn end_offsets() {
        let empty = LeaderEpochCache::default();
        assert_eq!(empty.end_offset_for(3, 100), None);
        let c = cache(&[(2, 10), (4, 20), (7, 50)]);
        assert_eq!(c.end_offset_for(-1, 100), None);
        assert_eq!(c.end_offset_for(1, 100), Some((1, 10)));
        assert_eq!(c.end_offset_for(2, 100), Some((2, 20)));
        assert_eq!(c.end_offset_for(3, 100), Some((2, 20)));
        assert_eq!(c.end_offset_for(4, 100), Some((4, 50)));
        assert_eq!(c.end_offset_for(6, 100), Some((4, 50)));
        assert_eq!(c.end_offset_for(7, 100), Some((7, 100)));
        assert_eq!(c.end_offset_for(9, 100), Some((7, 100)));
    }

    #[test]
    fn file_round_trip_and_bad_files() {
        let c = cache(&[(0, 0), (3, 17), (12, 40_000_000_000)]);
        let text = c.encode();
        assert_eq!(text, "0\n3\n0 0\n3 17\n12 40000000000\n");
        assert_eq!(LeaderEpochCache::decode(&text).unwrap(), c);
        assert_eq!(
            LeaderEpochCache::decode("0\n0\n").unwrap(),
            LeaderEpochCache::default()
        );
        for bad in [
            "",
            "1\n0\n",
            "0\n",
            "0\nx\n",
            "0\n2\n1 0\n",
            "0\n1\n1 0\n2 5\n",
            "0\n1\n1\n",
            "0\n1\n1 0 3\n",
            "0\n1\n-1 0\n",
            "0\n1\n1 -4\n",
            "0\n1\n1 zz\n",
        ] {
            assert!(LeaderEpochCache::decode(bad).is_err(), "{bad:?}");
        }

        let dir = tempfile::tempdir().unwrap();
        assert_eq!(LeaderEpochCache::read(dir.path()).unwrap(), None);
        c.write(dir.path()).unwrap();
        assert_eq!(LeaderEpochCache::read(dir.path()).unwrap(), Some(c));
        fs::write(dir.path().join(LEADER_EPOCH_FILE), [0xff, 0xfe]).unwrap();
        assert!(matches!(
            LeaderEpochCache::read(dir.path()),
            Err(LogError::Corrupt { .. })
        ));
    }
}
