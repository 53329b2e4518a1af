//! Per-partition producer state: what idempotent and transactional producers have written to
//! this partition (Kafka's `ProducerStateManager` and `ProducerAppendInfo`), its snapshot files,
//! and the rules an append must pass.
//!
//! # State per producer id
//! The producer epoch; the last [`BATCHES_RETAINED`] batches of that epoch (first/last
//! sequence, first/last offset, max timestamp); the first offset of its open transaction, if
//! any; the coordinator epoch of its last transaction marker; the timestamp of its last batch.
//! Open transactions are also indexed by first offset: the smallest is the first unstable offset.
//!
//! # Rules for a data batch with producer id >= 0 (origin Client)
//! - Epoch lower than the known one: INVALID_PRODUCER_EPOCH.
//! - Unknown producer: the first sequence must be 0, else UNKNOWN_PRODUCER_ID.
//! - Epoch higher than the known one: the first sequence must be 0, else
//!   OUT_OF_ORDER_SEQUENCE_NUMBER; the new epoch replaces the old (its batches are forgotten).
//! - Same epoch: a batch whose (first, last) sequence equals one of the retained batches is a
//!   duplicate: nothing is appended and the append answers with the original offsets. Otherwise
//!   the first sequence must follow the last one (i32::MAX wraps to 0), else
//!   OUT_OF_ORDER_SEQUENCE_NUMBER.
//! - A transactional batch opens a transaction at its base offset if none is open; a
//!   non-transactional batch while one is open: INVALID_TXN_STATE.
//!
//! Coordinator-origin appends (group and transaction coordinators) skip the sequence rules and
//! duplicate detection but keep the epoch rule. A transaction marker (a control batch, only
//! from the coordinator) must not carry a lower producer epoch (INVALID_PRODUCER_EPOCH) or a
//! lower coordinator epoch (TRANSACTION_COORDINATOR_FENCED); it closes the open transaction,
//! and an ABORT of a transaction that had data yields an entry for the segment's `.txnindex`.
//! Replaying the log on open (Replay) and follower appends (origin Replication) apply batches
//! without any check, as they were accepted when the leader first wrote them.
//!
//! # Snapshot file `<offset, 20 digits>.snapshot` (big-endian)
//! The state after every batch below `offset`. Written at each segment roll (for the new
//! segment's base offset) and at close (for the log end offset), to `<name>.tmp`, fsynced and
//! renamed into place.
//! ```text
//! offset size field
//!  0     2    version                  i16, 1
//!  2     4    crc                      u32, CRC-32C of every byte after this field
//!  6     8    offset                   i64, must equal the file name's
//! 14     4    producer count           u32
//! 18     ..   producers, each 31 + 32 * batch count bytes:
//!             producer_id              i64
//!             epoch                    i16
//!             coordinator_epoch        i32
//!             last_timestamp           i64
//!             current_txn_first_offset i64, -1 = no open transaction
//!             batch count              u8, 0..=5
//!             batches, oldest first:   first_seq i32, last_seq i32, first_offset i64,
//!                                      last_offset i64, max_timestamp i64
//! ```
//! A snapshot that fails its checks is ignored (and deleted) and an older one is used: the log
//! rescans every batch after the snapshot it loads, so an older one only costs time.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::checkpoint::TMP_SUFFIX;
use crate::error::LogError;
use crate::segment::file_stem;
use crate::txn_index::AbortedTxn;

/// Batches remembered per producer for duplicate detection (Kafka's, and the most a producer
/// may have in flight with `max.in.flight.requests.per.connection` <= 5).
pub(crate) const BATCHES_RETAINED: usize = 5;
pub(crate) const SNAPSHOT_SUFFIX: &str = ".snapshot";

const SNAPSHOT_VERSION: i16 = 1;
const SNAPSHOT_HEADER_LEN: usize = 18;
const PRODUCER_FIXED_LEN: usize = 31;
const BATCH_LEN: usize = 32;

/// Who is appending, which decides the checks a batch goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer's Produce request: sequence numbers are checked, duplicates detected and
    /// control batches refused.
    Client,
    /// A coordinator writing on the broker's behalf (transaction markers, transactional offset
    /// commits, group and transaction state): producer epochs are checked, sequences are not;
    /// control batches are allowed.
    Coordinator,
    /// A follower appending what it fetched from the leader (Kafka's `REPLICATION`): offsets
    /// and leader epochs are kept as the leader wrote them, and producer state is updated
    /// without any check (the leader checked), so that the follower can take over as leader.
    /// See [`crate::Log::append_as_follower`].
    Replication,
}

/// What a producer looks like to DescribeProducers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerInfo {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Last sequence of the producer's last batch in its current epoch, -1 if none.
    pub last_sequence: i32,
    /// Max timestamp of its last batch or marker.
    pub last_timestamp: i64,
    /// Coordinator epoch of its last transaction marker, -1 if none.
    pub coordinator_epoch: i32,
    /// First offset of its open transaction.
    pub current_txn_start_offset: Option<i64>,
}

/// The checks to run: a public origin, or replaying the log on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Client,
    Coordinator,
    Replay,
}

impl From<AppendOrigin> for Check {
    fn from(origin: AppendOrigin) -> Check {
        match origin {
            AppendOrigin::Client => Check::Client,
            AppendOrigin::Coordinator => Check::Coordinator,
            // Kafka checks nothing on REPLICATION either (epoch and coordinator-epoch
            // regressions are only logged there): the same rules as replaying the log.
            AppendOrigin::Replication => Check::Replay,
        }
    }
}

/// One of a producer's recent batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// A transaction marker's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// What the state needs of a batch being appended (offsets already assigned).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchInput {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub transactional: bool,
    /// Set for a transaction marker (a control batch holding an ABORT or COMMIT record).
    pub marker: Option<Marker>,
}

/// A producer's state. `Copy`, so an append can work on a copy and store it only on success.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProducerEntry {
    pub epoch: i16,
    /// `batches[..batch_count]`, oldest first, all of epoch `epoch`.
    batches: [BatchMetadata; BATCHES_RETAINED],
    batch_count: u8,
    pub current_txn_first_offset: Option<i64>,
    pub coordinator_epoch: i32,
    pub last_timestamp: i64,
}

/// Equal when everything that means something is: slots past `batch_count` are leftovers.
impl PartialEq for ProducerEntry {
    fn eq(&self, other: &ProducerEntry) -> bool {
        self.epoch == other.epoch
            && self.batches() == other.batches()
            && self.current_txn_first_offset == other.current_txn_first_offset
            && self.coordinator_epoch == other.coordinator_epoch
            && self.last_timestamp == other.last_timestamp
    }
}

impl Eq for ProducerEntry {}

impl ProducerEntry {
    fn new() -> ProducerEntry {
        ProducerEntry {
            epoch: -1,
            batches: [BatchMetadata::default(); BATCHES_RETAINED],
            batch_count: 0,
            current_txn_first_offset: None,
            coordinator_epoch: -1,
            last_timestamp: -1,
        }
    }

    fn batches(&self) -> &[BatchMetadata] {
        &self.batches[..usize::from(self.batch_count)]
    }

    fn last_seq(&self) -> Option<i32> {
        self.batches().last().map(|b| b.last_seq)
    }

    fn find_duplicate(&self, first_seq: i32, last_seq: i32) -> Option<BatchMetadata> {
        self.batches()
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }

    /// A new epoch forgets the old epoch's batches.
    fn set_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.epoch = epoch;
            self.batch_count = 0;
        }
    }

    fn push_batch(&mut self, batch: BatchMetadata) {
        let n = usize::from(self.batch_count);
        if n == BATCHES_RETAINED {
            self.batches.rotate_left(1);
            self.batches[BATCHES_RETAINED - 1] = batch;
        } else {
            self.batches[n] = batch;
            self.batch_count += 1;
        }
    }
}

/// Sequence of the last record of a batch, wrapping after i32::MAX as producers do (Kafka's
/// `DefaultRecordBatch.incrementSequence`); -1 stays -1 (no sequence).
pub(crate) fn last_sequence(first_seq: i32, last_offset_delta: i32) -> i32 {
    if first_seq < 0 {
        return first_seq;
    }
    let delta = last_offset_delta.max(0);
    if first_seq > i32::MAX - delta {
        delta - (i32::MAX - first_seq) - 1
    } else {
        first_seq + delta
    }
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    i64::from(next_seq) == i64::from(last_seq) + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

/// A transaction opened or closed by an append, in batch order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnEvent {
    Started {
        producer_id: i64,
        first_offset: i64,
    },
    Completed {
        producer_id: i64,
        first_offset: i64,
        marker_offset: i64,
        aborted: bool,
    },
}

/// The outcome of checking an append against the state.
#[derive(Debug)]
pub(crate) enum Planned {
    /// Append, then [`ProducerStateManager::commit`] the plan.
    Append(AppendPlan),
    /// The batch was already appended with this metadata: append nothing.
    Duplicate(BatchMetadata),
}

/// State changes an append makes once its data is written.
#[derive(Debug, Default)]
pub(crate) struct AppendPlan {
    /// At most one updated entry per producer.
    updates: Vec<(i64, ProducerEntry)>,
    events: Vec<TxnEvent>,
    /// Entries for the `.txnindex` of the segment the markers go to, in marker order. Written
    /// before the plan is committed, so that no read sees the transaction closed without its
    /// index entry.
    pub aborted: Vec<AbortedTxn>,
}

impl AppendPlan {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }
}

/// The state of every producer of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id. invariant: exactly the entries of
    /// `producers` with a `current_txn_first_offset`.
    ongoing: BTreeMap<i64, i64>,
}

impl ProducerStateManager {
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn producers(&self) -> Vec<ProducerInfo> {
        let mut out: Vec<ProducerInfo> = self
            .producers
            .iter()
            .map(|(&producer_id, e)| ProducerInfo {
                producer_id,
                producer_epoch: e.epoch,
                last_sequence: e.last_seq().unwrap_or(-1),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.current_txn_first_offset,
            })
            .collect();
        out.sort_unstable_by_key(|p| p.producer_id);
        out
    }

    /// Drops producers without an open transaction whose last batch is `max_age_ms` or more
    /// older than `now_ms` (Kafka's `producer.id.expiration.ms` rule). Returns how many.
    pub fn expire(&mut self, now_ms: i64, max_age_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < max_age_ms
        });
        before - self.producers.len()
    }

    /// Checks `batches` (one append, in order) and works out the changes they make, without
    /// changing anything.
    pub fn plan(&self, batches: &[BatchInput], check: Check) -> Result<Planned, LogError> {
        let mut plan = AppendPlan::default();
        for b in batches {
            let slot = plan.updates.iter().position(|(p, _)| *p == b.producer_id);
            let current = match slot {
                Some(i) => Some(plan.updates[i].1),
                None => self.producers.get(&b.producer_id).copied(),
            };
            if check == Check::Client && b.marker.is_none() {
                if let Some(dup) = current
                    .filter(|e| e.epoch == b.epoch)
                    .and_then(|e| e.find_duplicate(b.first_seq, b.last_seq))
                {
                    return Ok(Planned::Duplicate(dup));
                }
            }
            let mut entry = current.unwrap_or_else(ProducerEntry::new);
            let event = match b.marker {
                None => apply_data(&mut entry, current.is_some(), b, check)?,
                Some(marker) => apply_marker(&mut entry, b, marker, check)?,
            };
            plan.events.extend(event);
            match slot {
                Some(i) => plan.updates[i].1 = entry,
                None => plan.updates.push((b.producer_id, entry)),
            }
        }
        if plan
            .events
            .iter()
            .any(|e| matches!(e, TxnEvent::Completed { aborted: true, .. }))
        {
            plan.aborted = self.aborted_entries(&plan.events);
        }
        Ok(Planned::Append(plan))
    }

    /// The `.txnindex` entries of the aborts among `events`. An entry's last stable offset is
    /// the first offset of the earliest transaction still open after the abort (of another
    /// producer), or the offset after the marker (Kafka's `lastStableOffset(completedTxn)`).
    fn aborted_entries(&self, events: &[TxnEvent]) -> Vec<AbortedTxn> {
        let mut ongoing = self.ongoing.clone();
        let mut out = Vec::new();
        for event in events {
            match *event {
                TxnEvent::Started {
                    producer_id,
                    first_offset,
                } => {
                    ongoing.insert(first_offset, producer_id);
                }
                TxnEvent::Completed {
                    producer_id,
                    first_offset,
                    marker_offset,
                    aborted,
                } => {
                    ongoing.remove(&first_offset);
                    if aborted {
                        let last_stable_offset = ongoing
                            .iter()
                            .find(|(_, &pid)| pid != producer_id)
                            .map_or(marker_offset + 1, |(&first, _)| first);
                        out.push(AbortedTxn {
                            producer_id,
                            first_offset,
                            last_offset: marker_offset,
                            last_stable_offset,
                        });
                    }
                }
            }
        }
        out
    }

    /// Applies a plan whose append has been written.
    pub fn commit(&mut self, plan: AppendPlan) {
        for (producer_id, entry) in plan.updates {
            self.producers.insert(producer_id, entry);
        }
        for event in plan.events {
            match event {
                TxnEvent::Started {
                    producer_id,
                    first_offset,
                } => {
                    self.ongoing.insert(first_offset, producer_id);
                }
                TxnEvent::Completed { first_offset, .. } => {
                    self.ongoing.remove(&first_offset);
                }
            }
        }
    }

    /// The snapshot file contents for the state after every batch below `offset`.
    pub fn encode_snapshot(&self, offset: i64) -> Vec<u8> {
        let mut ids: Vec<i64> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        let mut out = Vec::with_capacity(
            SNAPSHOT_HEADER_LEN + ids.len() * (PRODUCER_FIXED_LEN + BATCHES_RETAINED * BATCH_LEN),
        );
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
        for id in ids {
            let e = &self.producers[&id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            out.extend_from_slice(&e.last_timestamp.to_be_bytes());
            out.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
            out.push(e.batch_count);
            for b in e.batches() {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.first_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
                out.extend_from_slice(&b.max_timestamp.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out[6..]);
        out[2..6].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Parses a snapshot written for `offset`; the error says what is wrong with it.
    pub fn decode_snapshot(bytes: &[u8], offset: i64) -> Result<ProducerStateManager, String> {
        let mut r = SnapshotReader { bytes, pos: 0 };
        let version = r.i16()?;
        if version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {version}"));
        }
        let crc = r.u32()?;
        let computed = crc32c::crc32c(&bytes[6..]);
        if crc != computed {
            return Err(format!(
                "CRC mismatch: stored {crc:#010x}, computed {computed:#010x}"
            ));
        }
        let stored_offset = r.i64()?;
        if stored_offset != offset {
            return Err(format!("holds offset {stored_offset}, named {offset}"));
        }
        let count = r.u32()? as usize;
        if count > bytes.len() / PRODUCER_FIXED_LEN {
            return Err(format!("claims {count} producers"));
        }
        let mut state = ProducerStateManager::default();
        for _ in 0..count {
            let producer_id = r.i64()?;
            let mut e = ProducerEntry::new();
            e.epoch = r.i16()?;
            e.coordinator_epoch = r.i32()?;
            e.last_timestamp = r.i64()?;
            let txn = r.i64()?;
            e.current_txn_first_offset = (txn >= 0).then_some(txn);
            let batches = r.u8()?;
            if usize::from(batches) > BATCHES_RETAINED {
                return Err(format!("producer {producer_id} has {batches} batches"));
            }
            for _ in 0..batches {
                e.push_batch(BatchMetadata {
                    first_seq: r.i32()?,
                    last_seq: r.i32()?,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                    max_timestamp: r.i64()?,
                });
            }
            if let Some(first) = e.current_txn_first_offset {
                state.ongoing.insert(first, producer_id);
            }
            if state.producers.insert(producer_id, e).is_some() {
                return Err(format!("producer {producer_id} appears twice"));
            }
        }
        if r.pos != bytes.len() {
            return Err(format!(
                "{} bytes after the last producer",
                bytes.len() - r.pos
            ));
        }
        Ok(state)
    }
}

fn apply_data(
    entry: &mut ProducerEntry,
    known: bool,
    b: &BatchInput,
    check: Check,
) -> Result<Option<TxnEvent>, LogError> {
    if check != Check::Replay && b.epoch < entry.epoch {
        return Err(LogError::InvalidProducerEpoch {
            producer_id: b.producer_id,
            epoch: b.epoch,
            current_epoch: entry.epoch,
        });
    }
    if check == Check::Client {
        let expected = if !known {
            if b.first_seq != 0 {
                return Err(LogError::UnknownProducerId {
                    producer_id: b.producer_id,
                    first_sequence: b.first_seq,
                });
            }
            0
        } else if b.epoch != entry.epoch {
            0
        } else {
            match entry.last_seq() {
                Some(last) if in_sequence(last, b.first_seq) => b.first_seq,
                Some(last) => last.wrapping_add(1).max(0),
                None => 0,
            }
        };
        if b.first_seq != expected {
            return Err(LogError::OutOfOrderSequence {
                producer_id: b.producer_id,
                epoch: b.epoch,
                first_sequence: b.first_seq,
                expected_sequence: expected,
            });
        }
    }
    entry.set_epoch(b.epoch);
    entry.push_batch(BatchMetadata {
        first_seq: b.first_seq,
        last_seq: b.last_seq,
        first_offset: b.first_offset,
        last_offset: b.last_offset,
        max_timestamp: b.max_timestamp,
    });
    entry.last_timestamp = b.max_timestamp;
    match (entry.current_txn_first_offset, b.transactional) {
        (Some(_), false) if check != Check::Replay => Err(LogError::InvalidTxnState {
            producer_id: b.producer_id,
            reason: "a non-transactional batch while the producer has an open transaction",
        }),
        (None, true) => {
            entry.current_txn_first_offset = Some(b.first_offset);
            Ok(Some(TxnEvent::Started {
                producer_id: b.producer_id,
                first_offset: b.first_offset,
            }))
        }
        _ => Ok(None),
    }
}

fn apply_marker(
    entry: &mut ProducerEntry,
    b: &BatchInput,
    marker: Marker,
    check: Check,
) -> Result<Option<TxnEvent>, LogError> {
    if check != Check::Replay {
        if b.epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: b.producer_id,
                epoch: b.epoch,
                current_epoch: entry.epoch,
            });
        }
        if marker.coordinator_epoch < entry.coordinator_epoch {
            return Err(LogError::TransactionCoordinatorFenced {
                producer_id: b.producer_id,
                coordinator_epoch: marker.coordinator_epoch,
                current_coordinator_epoch: entry.coordinator_epoch,
            });
        }
    }
    let event = entry
        .current_txn_first_offset
        .map(|first_offset| TxnEvent::Completed {
            producer_id: b.producer_id,
            first_offset,
            marker_offset: b.first_offset,
            aborted: !marker.commit,
        });
    entry.set_epoch(b.epoch);
    entry.current_txn_first_offset = None;
    entry.coordinator_epoch = marker.coordinator_epoch;
    entry.last_timestamp = b.max_timestamp;
    Ok(event)
}

/// Bounds-checked big-endian reads over a snapshot file.
struct SnapshotReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl SnapshotReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.pos + N;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take().map(i32::from_be_bytes)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.take().map(i64::from_be_bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshot files

pub(crate) fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{}{SNAPSHOT_SUFFIX}", file_stem(offset)))
}

/// Offsets of the snapshot files in `dir`, ascending.
pub(crate) fn snapshot_offsets(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SNAPSHOT_SUFFIX)) else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(offset) = stem.parse::<i64>() {
                out.push(offset);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Writes a snapshot: temporary file, fsync when `durable`, rename; returns its path. The caller
/// fsyncs the directory (a snapshot lost with the directory entry only means a longer rescan),
/// and, for a snapshot that is not `durable` (one taken at a roll, on the append path), the
/// file at its next flush: a snapshot torn by a crash before then fails its CRC and is ignored.
pub(crate) fn write_snapshot(
    dir: &Path,
    offset: i64,
    bytes: &[u8],
    durable: bool,
) -> Result<PathBuf, LogError> {
    let path = snapshot_path(dir, offset);
    let tmp = dir.join(format!(
        "{}{SNAPSHOT_SUFFIX}{TMP_SUFFIX}",
        file_stem(offset)
    ));
    let mut file = File::create(&tmp).map_err(LogError::io(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
        .map_err(LogError::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(LogError::io(&path))?;
    Ok(path)
}

/// Reads the snapshot for `offset`; `None` (after deleting the file) if it is unreadable.
pub(crate) fn read_snapshot(
    dir: &Path,
    offset: i64,
) -> Result<Option<ProducerStateManager>, LogError> {
    let path = snapshot_path(dir, offset);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(&path)(e)),
    };
    match ProducerStateManager::decode_snapshot(&bytes, offset) {
        Ok(state) => Ok(Some(state)),
        Err(reason) => {
            tracing::warn!(path = %path.display(), "ignoring producer state snapshot: {reason}");
            remove_file(&path)?;
            Ok(None)
        }
    }
}

/// Deletes the snapshots whose offset `doomed` accepts.
pub(crate) fn delete_snapshots(dir: &Path, doomed: impl Fn(i64) -> bool) -> Result<(), LogError> {
    for offset in snapshot_offsets(dir)? {
        if doomed(offset) {
            remove_file(&snapshot_path(dir, offset))?;
        }
    }
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(path)(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn data(pid: i64, epoch: i16, first_seq: i32, n: i32, offset: i64) -> BatchInput {
        BatchInput {
            producer_id: pid,
            epoch,
            first_seq,
            last_seq: last_sequence(first_seq, n - 1),
            first_offset: offset,
            last_offset: offset + i64::from(n) - 1,
            max_timestamp: 1000 + offset,
            transactional: false,
            marker: None,
        }
    }

    fn txn(mut b: BatchInput) -> BatchInput {
        b.transactional = true;
        b
    }

    fn marker(
        pid: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        offset: i64,
    ) -> BatchInput {
        BatchInput {
            producer_id: pid,
            epoch,
            first_seq: -1,
            last_seq: -1,
            first_offset: offset,
            last_offset: offset,
            max_timestamp: 5000 + offset,
            transactional: true,
            marker: Some(Marker {
                commit,
                coordinator_epoch,
            }),
        }
    }

    /// Plans and commits one batch as `check`; returns the aborted-index entries.
    fn apply(
        s: &mut ProducerStateManager,
        b: BatchInput,
        check: Check,
    ) -> Result<Vec<AbortedTxn>, LogError> {
        match s.plan(&[b], check)? {
            Planned::Append(plan) => {
                let aborted = plan.aborted.clone();
                s.commit(plan);
                Ok(aborted)
            }
            Planned::Duplicate(d) => panic!("unexpected duplicate {d:?}"),
        }
    }

    #[test]
    fn sequence_arithmetic_wraps() {
        assert_eq!(last_sequence(0, 4), 4);
        assert_eq!(last_sequence(i32::MAX, 0), i32::MAX);
        assert_eq!(last_sequence(i32::MAX, 1), 0);
        assert_eq!(last_sequence(i32::MAX - 1, 4), 2);
        assert_eq!(last_sequence(-1, 9), -1);
        assert!(in_sequence(4, 5));
        assert!(in_sequence(i32::MAX, 0));
        assert!(!in_sequence(4, 4));
        assert!(!in_sequence(4, 6));
        assert!(!in_sequence(i32::MAX, i32::MIN));
    }

    #[test]
    fn duplicates_gaps_and_epochs() {
        let mut s = ProducerStateManager::default();
        apply(&mut s, data(1, 0, 0, 3, 0), Check::Client).unwrap();
        apply(&mut s, data(1, 0, 3, 2, 3), Check::Client).unwrap();
        // Resent batches: duplicates with their original offsets.
        for (seq, n, first) in [(0, 3, 0), (3, 2, 3)] {
            match s.plan(&[data(1, 0, seq, n, 99)], Check::Client).unwrap() {
                Planned::Duplicate(d) => assert_eq!((d.first_offset, d.first_seq), (first, seq)),
                Planned::Append(_) => panic!("not detected as duplicate"),
            }
        }
        // Same first sequence, different length: not a duplicate, and out of order.
        assert!(matches!(
            s.plan(&[data(1, 0, 0, 2, 5)], Check::Client),
            Err(LogError::OutOfOrderSequence {
                expected_sequence: 5,
                ..
            })
        ));
        // A gap.
        assert!(matches!(
            s.plan(&[data(1, 0, 6, 1, 5)], Check::Client),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        // Old epoch fenced; new epoch must start at 0 and then forgets the old batches.
        apply(&mut s, data(1, 2, 0, 1, 5), Check::Client).unwrap();
        assert!(matches!(
            s.plan(&[data(1, 1, 5, 1, 6)], Check::Client),
            Err(LogError::InvalidProducerEpoch {
                current_epoch: 2,
                ..
            })
        ));
        assert!(matches!(
            s.plan(&[data(1, 3, 7, 1, 6)], Check::Client),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        assert!(matches!(
            s.plan(&[data(1, 2, 0, 3, 6)], Check::Client),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        // Unknown producer.
        assert!(matches!(
            s.plan(&[data(2, 0, 5, 1, 6)], Check::Client),
            Err(LogError::UnknownProducerId { .. })
        ));
        // The coordinator skips sequence checks, not epoch checks.
        apply(&mut s, data(3, 0, -1, 1, 6), Check::Coordinator).unwrap();
        assert!(s.plan(&[data(1, 1, -1, 1, 7)], Check::Coordinator).is_err());
        // Only the last five batches are remembered.
        let mut offset = 7;
        for seq in 1..=6 {
            apply(&mut s, data(1, 2, seq, 1, offset), Check::Client).unwrap();
            offset += 1;
        }
        assert!(matches!(
            s.plan(&[data(1, 2, 2, 1, offset)], Check::Client),
            Ok(Planned::Duplicate(_))
        ));
        assert!(matches!(
            s.plan(&[data(1, 2, 1, 1, offset)], Check::Client),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        let info = s.producers();
        assert_eq!(info.len(), 2);
        assert_eq!(info[0].producer_id, 1);
        assert_eq!((info[0].producer_epoch, info[0].last_sequence), (2, 6));
    }

    #[test]
    fn sequence_wraps_from_max_to_zero() {
        let mut s = ProducerStateManager::default();
        apply(&mut s, data(1, 0, 0, 1, 0), Check::Client).unwrap();
        // Jump near the end through a coordinator-origin batch (no sequence check).
        apply(&mut s, data(1, 0, i32::MAX - 1, 2, 1), Check::Coordinator).unwrap();
        apply(&mut s, data(1, 0, 0, 2, 3), Check::Client).unwrap();
        assert_eq!(s.producers()[0].last_sequence, 1);
    }

    #[test]
    fn one_append_sees_its_own_earlier_batches() {
        let s = ProducerStateManager::default();
        let two = [data(1, 0, 0, 2, 0), data(1, 0, 2, 2, 2)];
        assert!(matches!(
            s.plan(&two, Check::Client),
            Ok(Planned::Append(_))
        ));
        let gap = [data(1, 0, 0, 2, 0), data(1, 0, 3, 2, 2)];
        assert!(s.plan(&gap, Check::Client).is_err());
    }

    #[test]
    fn transactions_open_close_and_index_aborts() {
        let mut s = ProducerStateManager::default();
        apply(&mut s, txn(data(1, 0, 0, 2, 10)), Check::Client).unwrap();
        apply(&mut s, txn(data(2, 0, 0, 2, 12)), Check::Client).unwrap();
        apply(&mut s, txn(data(1, 0, 2, 2, 14)), Check::Client).unwrap();
        assert_eq!(s.first_unstable_offset(), Some(10));
        // Non-transactional data inside a transaction.
        assert!(matches!(
            s.plan(&[data(1, 0, 4, 1, 16)], Check::Client),
            Err(LogError::InvalidTxnState { .. })
        ));
        // Abort of producer 1: LSO after it is producer 2's first offset.
        let aborted = apply(&mut s, marker(1, 0, false, 3, 16), Check::Coordinator).unwrap();
        assert_eq!(
            aborted,
            vec![AbortedTxn {
                producer_id: 1,
                first_offset: 10,
                last_offset: 16,
                last_stable_offset: 12
            }]
        );
        assert_eq!(s.first_unstable_offset(), Some(12));
        // Stale coordinator epoch, stale producer epoch.
        assert!(matches!(
            s.plan(&[marker(1, 0, true, 2, 17)], Check::Coordinator),
            Err(LogError::TransactionCoordinatorFenced { .. })
        ));
        apply(&mut s, data(1, 0, 4, 1, 17), Check::Client).unwrap();
        // Commit of producer 2: no index entry; nothing open any more.
        let aborted = apply(&mut s, marker(2, 0, true, 0, 18), Check::Coordinator).unwrap();
        assert!(aborted.is_empty());
        assert_eq!(s.first_unstable_offset(), None);
        // An abort without data records nothing but still moves epochs and coordinator epochs.
        let aborted = apply(&mut s, marker(2, 1, false, 4, 19), Check::Coordinator).unwrap();
        assert!(aborted.is_empty());
        assert!(matches!(
            s.plan(&[data(2, 0, 2, 1, 20)], Check::Client),
            Err(LogError::InvalidProducerEpoch { .. })
        ));
        apply(&mut s, data(2, 1, 0, 1, 20), Check::Client).unwrap();
        let p2 = s.producers()[1];
        assert_eq!((p2.producer_epoch, p2.coordinator_epoch), (1, 4));
        // Abort LSO without other open transactions: the offset after the marker.
        apply(&mut s, txn(data(3, 0, 0, 1, 21)), Check::Client).unwrap();
        let aborted = apply(&mut s, marker(3, 0, false, 0, 22), Check::Coordinator).unwrap();
        assert_eq!(aborted[0].last_stable_offset, 23);
        // Replay accepts what checks would refuse.
        apply(&mut s, data(9, 0, 7, 1, 23), Check::Replay).unwrap();
    }

    #[test]
    fn expiry_keeps_open_transactions() {
        let mut s = ProducerStateManager::default();
        apply(&mut s, data(1, 0, 0, 1, 0), Check::Client).unwrap(); // ts 1000
        apply(&mut s, txn(data(2, 0, 0, 1, 1)), Check::Client).unwrap(); // ts 1001
        apply(&mut s, data(3, 0, 0, 1, 500), Check::Client).unwrap(); // ts 1500
        assert_eq!(s.expire(1400, 400), 1);
        assert_eq!(s.len(), 2);
        assert_eq!(s.expire(100_000, 400), 1);
        assert_eq!(s.producers()[0].producer_id, 2);
    }

    #[test]
    fn snapshot_round_trip_and_corruption() {
        let mut s = ProducerStateManager::default();
        for i in 0..7 {
            apply(&mut s, data(1, 3, i, 1, i64::from(i)), Check::Client).unwrap();
        }
        apply(&mut s, txn(data(2, 0, 0, 4, 7)), Check::Client).unwrap();
        apply(&mut s, marker(3, 5, true, 9, 11), Check::Coordinator).unwrap();
        let bytes = s.encode_snapshot(12);
        let back = ProducerStateManager::decode_snapshot(&bytes, 12).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.first_unstable_offset(), Some(7));
        assert!(ProducerStateManager::decode_snapshot(&bytes, 13).is_err());
        for pos in [0, 3, 10, 20, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[pos] ^= 0x10;
            assert!(
                ProducerStateManager::decode_snapshot(&bad, 12).is_err(),
                "{pos}"
            );
        }
        assert!(ProducerStateManager::decode_snapshot(&bytes[..bytes.len() - 1], 12).is_err());
        assert!(ProducerStateManager::decode_snapshot(&[], 12).is_err());
        let empty = ProducerStateManager::default().encode_snapshot(0);
        assert_eq!(empty.len(), SNAPSHOT_HEADER_LEN);

        let dir = tempfile::tempdir().unwrap();
        write_snapshot(dir.path(), 12, &bytes, true).unwrap();
        write_snapshot(dir.path(), 3, &empty, false).unwrap();
        assert_eq!(snapshot_offsets(dir.path()).unwrap(), vec![3, 12]);
        assert_eq!(read_snapshot(dir.path(), 12).unwrap(), Some(s));
        // Misnamed: ignored and deleted.
        assert_eq!(read_snapshot(dir.path(), 3).unwrap(), None);
        assert_eq!(snapshot_offsets(dir.path()).unwrap(), vec![12]);
        delete_snapshots(dir.path(), |o| o >= 12).unwrap();
        assert!(snapshot_offsets(dir.path()).unwrap().is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes: an error or a state, never a panic; a snapshot of any state built
            /// from random appends decodes to that state.
            #[test]
            fn snapshot_decoding_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let _ = ProducerStateManager::decode_snapshot(&bytes, 0);
            }

            /// Random histories: the snapshot of the state decodes to it, and replaying the
            /// accepted batches (what open does after a crash) rebuilds the same state and the
            /// same aborted-transaction entries.
            #[test]
            fn snapshots_and_replay_rebuild_random_histories(
                ops in proptest::collection::vec((0i64..4, 0i16..3, 0i32..4, any::<bool>(), 0u8..4), 0..60)
            ) {
                let mut s = ProducerStateManager::default();
                let mut accepted = Vec::new();
                let mut aborted = Vec::new();
                let mut offset = 0i64;
                for (pid, epoch, n, transactional, kind) in ops {
                    let b = if kind == 0 {
                        marker(pid, epoch, transactional, i32::from(epoch), offset)
                    } else {
                        let mut b = data(pid, epoch, -1, n + 1, offset);
                        b.first_seq = i32::try_from(offset).unwrap_or(0);
                        b.last_seq = last_sequence(b.first_seq, n);
                        b.transactional = transactional;
                        b
                    };
                    if let Ok(Planned::Append(plan)) = s.plan(&[b], Check::Coordinator) {
                        aborted.extend(plan.aborted.iter().copied());
                        s.commit(plan);
                        accepted.push(b);
                        offset = b.last_offset + 1;
                    }
                }
                let mut replayed = ProducerStateManager::default();
                let mut replayed_aborted = Vec::new();
                for b in &accepted {
                    if let Ok(Planned::Append(plan)) = replayed.plan(&[*b], Check::Replay) {
                        replayed_aborted.extend(plan.aborted.iter().copied());
                        replayed.commit(plan);
                    }
                }
                prop_assert_eq!(&replayed, &s);
                prop_assert_eq!(replayed_aborted, aborted);
                let back = ProducerStateManager::decode_snapshot(&s.encode_snapshot(offset), offset);
                prop_assert_eq!(back, Ok(s));
            }
        }
    }
}
