//! The offsets `group reset-offsets` commits, computed from what the cluster says about each
//! partition. Pure: the command gathers the inputs (ListOffsets, OffsetFetch), this decides.
//!
//! As in kafka-consumer-groups, every new offset is kept within the partition's current range
//! [earliest, latest]: a `--to-offset` or `--shift-by` past either end lands on that end, and a
//! `--to-datetime` later than every record lands on the log end.

use std::fmt;

/// Where the offsets go; exactly one is chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMode {
    Earliest,
    Latest,
    /// An absolute offset.
    Offset(i64),
    /// Milliseconds since the epoch: the first record with a timestamp at or after it.
    Datetime(i64),
    /// Relative to the committed offset; negative moves back.
    ShiftBy(i64),
}

impl fmt::Display for ResetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetMode::Earliest => write!(f, "--to-earliest"),
            ResetMode::Latest => write!(f, "--to-latest"),
            ResetMode::Offset(n) => write!(f, "--to-offset {n}"),
            ResetMode::Datetime(ms) => write!(f, "--to-datetime ({ms} ms)"),
            ResetMode::ShiftBy(n) => write!(f, "--shift-by {n}"),
        }
    }
}

/// What is known about one partition when its new offset is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub partition: i32,
    /// The log start offset (low watermark).
    pub earliest: i64,
    /// The log end offset (high watermark).
    /// invariant: earliest <= latest (a broker answering otherwise is clamped to earliest).
    pub latest: i64,
    /// The group's committed offset, if it has one; only `ShiftBy` needs it.
    pub committed: Option<i64>,
    /// For `Datetime`: the offset ListOffsets found for the timestamp, None when no record is
    /// that recent.
    pub at_datetime: Option<i64>,
}

/// The offset to commit for one partition under `mode`.
pub fn new_offset(mode: ResetMode, p: &PartitionOffsets) -> Result<i64, String> {
    let earliest = p.earliest;
    let latest = p.latest.max(earliest);
    let wanted = match mode {
        ResetMode::Earliest => earliest,
        ResetMode::Latest => latest,
        ResetMode::Offset(n) => n,
        ResetMode::Datetime(_) => p.at_datetime.unwrap_or(latest),
        ResetMode::ShiftBy(delta) => match p.committed {
            Some(current) => current.saturating_add(delta),
            None => {
                return Err(format!(
                    "partition {} has no committed offset to shift by {delta}",
                    p.partition
                ))
            }
        },
    };
    Ok(wanted.clamp(earliest, latest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition holding offsets [10, 50), committed at 30, whose first record at the
    /// looked-up time is at 20.
    fn partition() -> PartitionOffsets {
        PartitionOffsets {
            partition: 3,
            earliest: 10,
            latest: 50,
            committed: Some(30),
            at_datetime: Some(20),
        }
    }

    #[test]
    fn earliest_and_latest_are_the_watermarks() {
        assert_eq!(new_offset(ResetMode::Earliest, &partition()), Ok(10));
        assert_eq!(new_offset(ResetMode::Latest, &partition()), Ok(50));
    }

    #[test]
    fn to_offset_is_clamped_to_the_partition_range() {
        assert_eq!(new_offset(ResetMode::Offset(42), &partition()), Ok(42));
        assert_eq!(new_offset(ResetMode::Offset(10), &partition()), Ok(10));
        assert_eq!(new_offset(ResetMode::Offset(50), &partition()), Ok(50));
        assert_eq!(new_offset(ResetMode::Offset(3), &partition()), Ok(10));
        assert_eq!(new_offset(ResetMode::Offset(51), &partition()), Ok(50));
        assert_eq!(
            new_offset(ResetMode::Offset(i64::MAX), &partition()),
            Ok(50)
        );
    }

    #[test]
    fn shift_by_moves_from_the_committed_offset_and_is_clamped() {
        assert_eq!(new_offset(ResetMode::ShiftBy(5), &partition()), Ok(35));
        assert_eq!(new_offset(ResetMode::ShiftBy(-5), &partition()), Ok(25));
        assert_eq!(new_offset(ResetMode::ShiftBy(0), &partition()), Ok(30));
        assert_eq!(new_offset(ResetMode::ShiftBy(-100), &partition()), Ok(10));
        assert_eq!(new_offset(ResetMode::ShiftBy(100), &partition()), Ok(50));
        assert_eq!(
            new_offset(ResetMode::ShiftBy(i64::MAX), &partition()),
            Ok(50)
        );
        assert_eq!(
            new_offset(ResetMode::ShiftBy(i64::MIN), &partition()),
            Ok(10)
        );
    }

    #[test]
    fn shift_by_from_a_committed_offset_outside_the_range_comes_back_into_it() {
        // Retention deleted the records the group had not read yet.
        let behind = PartitionOffsets {
            committed: Some(2),
            ..partition()
        };
        assert_eq!(new_offset(ResetMode::ShiftBy(1), &behind), Ok(10));
    }

    #[test]
    fn shift_by_needs_a_committed_offset() {
        let never_committed = PartitionOffsets {
            committed: None,
            ..partition()
        };
        assert_eq!(
            new_offset(ResetMode::ShiftBy(1), &never_committed),
            Err("partition 3 has no committed offset to shift by 1".to_string())
        );
        // The other modes do not care.
        assert_eq!(new_offset(ResetMode::Earliest, &never_committed), Ok(10));
    }

    #[test]
    fn to_datetime_uses_the_looked_up_offset_or_the_log_end() {
        let mode = ResetMode::Datetime(1_796_032_800_000);
        assert_eq!(new_offset(mode, &partition()), Ok(20));
        let nothing_that_recent = PartitionOffsets {
            at_datetime: None,
            ..partition()
        };
        assert_eq!(new_offset(mode, &nothing_that_recent), Ok(50));
    }

    #[test]
    fn an_empty_partition_has_one_possible_offset() {
        let empty = PartitionOffsets {
            partition: 0,
            earliest: 7,
            latest: 7,
            committed: None,
            at_datetime: None,
        };
        for mode in [
            ResetMode::Earliest,
            ResetMode::Latest,
            ResetMode::Offset(0),
            ResetMode::Offset(100),
            ResetMode::Datetime(0),
        ] {
            assert_eq!(new_offset(mode, &empty), Ok(7), "{mode}");
        }
    }

    #[test]
    fn inverted_watermarks_do_not_panic() {
        let odd = PartitionOffsets {
            partition: 0,
            earliest: 9,
            latest: 4,
            committed: Some(5),
            at_datetime: None,
        };
        assert_eq!(new_offset(ResetMode::Latest, &odd), Ok(9));
        assert_eq!(new_offset(ResetMode::ShiftBy(-1), &odd), Ok(9));
    }
}
