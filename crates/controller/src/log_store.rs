//! [`LogStore`]: the durable Raft log and vote of one controller (openraft's `RaftLogStorage`).
//!
//! # Files (under the controller's data directory)
//! ```text
//! raft-log         the log: framed records (layout in `record_file`), appended in index order
//! raft-log.tmp     a purge rewrite in progress (removed on open)
//! raft-vote        one record: the vote, JSON (replaced atomically)
//! raft-committed   one record: the last committed log id known, JSON (replaced, not fsynced:
//!                  a hint that lets a restart re-apply committed entries at once; unreadable
//!                  after a crash, it is ignored and the entries apply when the leader says)
//! ```
//! Each `raft-log` record body is a kind byte and JSON:
//! ```text
//! kind 1  entry   JSON of openraft::Entry (log id and payload)
//! kind 2  purged  JSON of the LogId of the last purged entry; only as the first record
//! ```
//! invariant: entry indexes in the file are consecutive, and above the purged id when there is
//! one.
//!
//! # Operations
//! - append: entries are readable in memory at once, then written and fsynced on a blocking
//!   thread; openraft is told (`LogFlushed`) only after the fsync.
//! - truncate (a follower's conflicting suffix): the file is cut at the first removed entry and
//!   fsynced.
//! - purge (after a snapshot): the file is rewritten as a purged record plus the kept entries
//!   (copied as bytes), and atomically replaces the old one (`record_file::replace_file`).
//! - open: records are read up to the first torn one; the torn tail (a crash during an append) is
//!   cut off. A complete record (CRC valid) that does not decode, or breaks the index order, is
//!   corruption and fails the open rather than silently dropping acknowledged entries.
//!
//! All entries since the last purge are also held in memory: the controller log between
//! snapshots is small, and replication reads it often.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::io::Read;
use std::io::Write;
use std::ops::RangeBounds;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;

use openraft::storage::LogFlushed;
use openraft::storage::RaftLogStorage;
use openraft::ErrorSubject;
use openraft::ErrorVerb;
use openraft::LogState;
use openraft::OptionalSend;
use openraft::RaftLogReader;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::raft_types::Entry;
use crate::raft_types::LogId;
use crate::raft_types::StorageError;
use crate::raft_types::TypeConfig;
use crate::raft_types::Vote;
use crate::record_file::encode_record;
use crate::record_file::read_records_file;
use crate::record_file::remove_stale_tmp;
use crate::record_file::replace_file;
use crate::record_file::replace_file_unsynced;
use crate::record_file::scan_records;
use crate::record_file::sync_dir;

pub(crate) const LOG_FILE: &str = "raft-log";
const VOTE_FILE: &str = "raft-vote";
const COMMITTED_FILE: &str = "raft-committed";

const KIND_ENTRY: u8 = 1;
const KIND_PURGED: u8 = 2;

/// Cheap to clone: clones share the log (openraft uses a clone as its log reader).
#[derive(Clone)]
pub(crate) struct LogStore {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    /// What openraft reads. Locked only briefly, never across I/O.
    mem: Mutex<MemLog>,
    /// The log file; locked only on blocking threads.
    disk: Mutex<DiskLog>,
}

struct MemLog {
    /// invariant: consecutive indexes, all above `last_purged`.
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    vote: Option<Vote>,
    committed: Option<LogId>,
}

impl MemLog {
    /// Index the next appended entry must have; `None` when the log has never held anything.
    fn next_index(&self) -> Option<u64> {
        match self.entries.last_key_value() {
            Some((index, _)) => Some(index + 1),
            None => self.last_purged.map(|l| l.index + 1),
        }
    }
}

struct DiskLog {
    file: File,
    /// File position of each entry's record. invariant: the same indexes as `MemLog::entries`
    /// once no write is in flight.
    positions: BTreeMap<u64, u64>,
    /// Length of the file.
    len: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind, no broken invariant that a later
    // I/O error would not also cause; keep going.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn corrupt(path: &Path, why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is corrupt: {why}", path.display()),
    )
}

fn encode_json_record(kind: Option<u8>, value: &impl Serialize) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    body.extend(kind);
    serde_json::to_writer(&mut body, value).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(body.len() + 8);
    encode_record(&body, &mut out)?;
    Ok(out)
}

/// Reads a one-record JSON file written by `replace_file`.
fn read_json_file<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let Some(records) = read_records_file(path)? else {
        return Ok(None);
    };
    match records.as_slice() {
        [body] => serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| corrupt(path, e.to_string())),
        _ => Err(corrupt(
            path,
            format!("{} records, expected 1", records.len()),
        )),
    }
}

/// The committed log id saved last, or `None` when the file is missing or was torn by a crash
/// (it is written without fsync; see the module doc).
fn read_committed_hint(path: &Path) -> io::Result<Option<LogId>> {
    match read_json_file(path) {
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            tracing::warn!("ignoring the committed log id: {e}");
            Ok(None)
        }
        other => other.map(Option::flatten),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("storage task failed: {e}")))?
}

fn storage_error(subject: ErrorSubject<u64>, verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageError::from_io_error(subject, verb, e)
}

impl LogStore {
    /// Opens the log under `dir` (creating it), cutting off a torn tail. Blocking.
    pub(crate) fn open(dir: &Path) -> io::Result<LogStore> {
        std::fs::create_dir_all(dir)?;
        for name in [LOG_FILE, VOTE_FILE, COMMITTED_FILE] {
            remove_stale_tmp(dir, name)?;
        }
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        sync_dir(dir)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let scan = scan_records(&data);

        let mut mem = MemLog {
            entries: BTreeMap::new(),
            last_purged: None,
            vote: read_json_file(&dir.join(VOTE_FILE))?,
            committed: read_committed_hint(&dir.join(COMMITTED_FILE))?,
        };
        let mut positions = BTreeMap::new();
        for (i, &(position, body)) in scan.records.iter().enumerate() {
            // Record bodies are never empty (see record_file).
            let (kind, json) = body.split_first().unwrap_or((&0, &[]));
            match *kind {
                KIND_PURGED if i == 0 => {
                    let purged: LogId = serde_json::from_slice(json)
                        .map_err(|e| corrupt(&path, format!("purged record at {position}: {e}")))?;
                    mem.last_purged = Some(purged);
                }
                KIND_ENTRY => {
                    let entry: Entry = serde_json::from_slice(json)
                        .map_err(|e| corrupt(&path, format!("entry record at {position}: {e}")))?;
                    let index = entry.log_id.index;
                    if let Some(expected) = mem.next_index() {
                        if index != expected {
                            return Err(corrupt(
                                &path,
                                format!("entry {index} at {position}, expected entry {expected}"),
                            ));
                        }
                    }
                    positions.insert(index, position);
                    mem.entries.insert(index, entry);
                }
                other => {
                    return Err(corrupt(
                        &path,
                        format!("record of kind {other} at {position}"),
                    ))
                }
            }
        }
        if let Some(why) = &scan.torn {
            tracing::warn!(
                path = %path.display(),
                valid_bytes = scan.valid_len,
                file_bytes = data.len(),
                "dropping the torn tail of the controller log: {why}"
            );
            file.set_len(scan.valid_len)?;
            file.sync_all()?;
        }
        Ok(LogStore {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                mem: Mutex::new(mem),
                disk: Mutex::new(DiskLog {
                    file,
                    positions,
                    len: scan.valid_len,
                }),
            }),
        })
    }

    /// The last committed log id openraft saved (read at open from `raft-committed`, then
    /// updated at every commit, before the entries apply), `None` if none is known.
    pub(crate) fn committed(&self) -> Option<LogId> {
        lock(&self.shared.mem).committed
    }

    /// Writes `buf` (the records of entries starting at the given relative positions) and
    /// fsyncs. Blocking.
    fn write_entries(&self, buf: &[u8], relative: &[(u64, u64)]) -> io::Result<()> {
        let mut disk = lock(&self.shared.disk);
        let base = disk.len;
        if let Err(e) = disk.file.write_all(buf).and_then(|_| disk.file.sync_data()) {
            // Best effort: leave no partial record behind for a later append to follow.
            let _ = disk.file.set_len(base);
            return Err(e);
        }
        for &(index, offset) in relative {
            disk.positions.insert(index, base + offset);
        }
        disk.len = base + buf.len() as u64;
        Ok(())
    }

    /// Cuts the file at entry `index`, inclusive. Blocking.
    fn cut_file(&self, index: u64) -> io::Result<()> {
        let mut disk = lock(&self.shared.disk);
        let Some((_, &position)) = disk.positions.range(index..).next() else {
            return Ok(());
        };
        disk.file.set_len(position)?;
        disk.file.sync_data()?;
        disk.positions.split_off(&index);
        disk.len = position;
        Ok(())
    }

    /// Rewrites the file without the entries up to `purged`, inclusive. Blocking.
    fn rewrite_purged(&self, purged: LogId) -> io::Result<()> {
        let mut disk = lock(&self.shared.disk);
        let keep_from = disk
            .positions
            .range(purged.index + 1..)
            .next()
            .map_or(disk.len, |(_, &p)| p);
        let mut contents = encode_json_record(Some(KIND_PURGED), &purged)?;
        let header_len = contents.len() as u64;
        let mut tail = vec![0u8; usize::try_from(disk.len - keep_from).map_err(io::Error::other)?];
        disk.file.read_exact_at(&mut tail, keep_from)?;
        contents.extend_from_slice(&tail);
        replace_file(&self.shared.dir, LOG_FILE, &contents)?;
        disk.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(self.shared.dir.join(LOG_FILE))?;
        let kept = disk.positions.split_off(&(purged.index + 1));
        disk.positions = kept
            .into_iter()
            .map(|(index, p)| (index, p - keep_from + header_len))
            .collect();
        disk.len = contents.len() as u64;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let mem = lock(&self.shared.mem);
        Ok(mem.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let mem = lock(&self.shared.mem);
        let last_log_id = mem
            .entries
            .last_key_value()
            .map(|(_, e)| e.log_id)
            .or(mem.last_purged);
        Ok(LogState {
            last_purged_log_id: mem.last_purged,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let record = encode_json_record(None, vote)
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        let dir = self.shared.dir.clone();
        blocking(move || replace_file(&dir, VOTE_FILE, &record))
            .await
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        lock(&self.shared.mem).vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(lock(&self.shared.mem).vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let record = encode_json_record(None, &committed)
            .map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Write, e))?;
        let dir = self.shared.dir.clone();
        // Not fsynced: entries are durable before they can be committed here (append returns
        // after its fsync), so a lost or older value only means less to re-apply on restart.
        blocking(move || replace_file_unsynced(&dir, COMMITTED_FILE, &record))
            .await
            .map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Write, e))?;
        lock(&self.shared.mem).committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(lock(&self.shared.mem).committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let write_error = |e| storage_error(ErrorSubject::Logs, ErrorVerb::Write, e);
        let entries: Vec<Entry> = entries.into_iter().collect();
        let mut buf = Vec::new();
        let mut relative = Vec::with_capacity(entries.len());
        for entry in &entries {
            relative.push((entry.log_id.index, buf.len() as u64));
            buf.extend(encode_json_record(Some(KIND_ENTRY), entry).map_err(write_error)?);
        }
        {
            let mut mem = lock(&self.shared.mem);
            let mut expected = mem.next_index();
            for entry in &entries {
                let index = entry.log_id.index;
                if expected.is_some_and(|e| e != index) {
                    return Err(write_error(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("append of entry {index} where entry {expected:?} belongs"),
                    )));
                }
                expected = Some(index + 1);
            }
            for entry in entries {
                mem.entries.insert(entry.log_id.index, entry);
            }
        }
        let store = self.clone();
        let result = if buf.is_empty() {
            Ok(())
        } else {
            blocking(move || store.write_entries(&buf, &relative)).await
        };
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let error = write_error(io::Error::new(e.kind(), e.to_string()));
                callback.log_io_completed(Err(e));
                Err(error)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        lock(&self.shared.mem).entries.split_off(&log_id.index);
        let store = self.clone();
        blocking(move || store.cut_file(log_id.index))
            .await
            .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut mem = lock(&self.shared.mem);
            if mem.last_purged.is_some_and(|p| p.index >= log_id.index) {
                return Ok(());
            }
            let kept = mem.entries.split_off(&(log_id.index + 1));
            mem.entries = kept;
            mem.last_purged = Some(log_id);
        }
        let store = self.clone();
        blocking(move || store.rewrite_purged(log_id))
            .await
            .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

#[cfg(test)]
mod tests {
    use openraft::storage::RaftLogStorageExt;
    use openraft::CommittedLeaderId;
    use openraft::EntryPayload;

    use super::*;
    use crate::command::MetadataCommand;
    use crate::proposers::Proposal;
    use crate::proposers::ProposerId;

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(Proposal {
                proposer: ProposerId {
                    node_id: 1,
                    incarnation: uuid::Uuid::from_u128(1),
                    lane: 0,
                },
                sequence: index,
                command: MetadataCommand::UnregisterBroker {
                    broker_id: index as i32,
                },
            }),
        }
    }

    async fn indexes(store: &mut LogStore) -> Vec<u64> {
        store
            .try_get_log_entries(..)
            .await
            .unwrap()
            .iter()
            .map(|e| e.log_id.index)
            .collect()
    }

    async fn reopen(dir: &Path) -> LogStore {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || LogStore::open(&dir))
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn entries_vote_and_committed_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = reopen(dir.path()).await;
        assert_eq!(store.read_vote().await.unwrap(), None);
        store
            .blocking_append((1..=5).map(|i| entry(1, i)))
            .await
            .unwrap();
        store.save_vote(&Vote::new(3, 2)).await.unwrap();
        let committed = Some(LogId::new(CommittedLeaderId::new(1, 1), 4));
        store.save_committed(committed).await.unwrap();
        drop(store);

        let mut store = reopen(dir.path()).await;
        assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4, 5]);
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
        assert_eq!(store.read_committed().await.unwrap(), committed);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.unwrap().index, 5);
        assert_eq!(state.last_purged_log_id, None);
        assert_eq!(
            store.try_get_log_entries(2..4).await.unwrap(),
            vec![entry(1, 2), entry(1, 3)]
        );
    }

    #[tokio::test]
    async fn truncate_and_purge_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = reopen(dir.path()).await;
        store
            .blocking_append((0..10).map(|i| entry(1, i)))
            .await
            .unwrap();
        store.truncate(entry(1, 7).log_id).await.unwrap();
        assert_eq!(indexes(&mut store).await, (0..7).collect::<Vec<_>>());
        store
            .blocking_append((7..9).map(|i| entry(2, i)))
            .await
            .unwrap();
        store.purge(entry(1, 3).log_id).await.unwrap();
        assert_eq!(indexes(&mut store).await, vec![4, 5, 6, 7, 8]);
        // Appends and truncations keep working on the rewritten file.
        store.blocking_append([entry(2, 9)]).await.unwrap();
        store.truncate(entry(2, 8).log_id).await.unwrap();
        drop(store);

        let mut store = reopen(dir.path()).await;
        assert_eq!(indexes(&mut store).await, vec![4, 5, 6, 7]);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(entry(1, 3).log_id));
        assert_eq!(state.last_log_id, Some(entry(2, 7).log_id));
        assert_eq!(
            store.try_get_log_entries(7..8).await.unwrap(),
            vec![entry(2, 7)]
        );

        // Purging past the last entry (a snapshot installed from the leader) empties the log.
        store.purge(entry(5, 20).log_id).await.unwrap();
        assert!(indexes(&mut store).await.is_empty());
        store.blocking_append([entry(5, 21)]).await.unwrap();
        drop(store);
        let mut store = reopen(dir.path()).await;
        assert_eq!(indexes(&mut store).await, vec![21]);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(entry(5, 20).log_id));
    }

    #[tokio::test]
    async fn a_torn_committed_hint_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = reopen(dir.path()).await;
        store
            .save_committed(Some(entry(1, 1).log_id))
            .await
            .unwrap();
        drop(store);
        std::fs::write(dir.path().join(COMMITTED_FILE), b"").unwrap();
        let mut store = reopen(dir.path()).await;
        assert_eq!(store.read_committed().await.unwrap(), None);
        std::fs::write(dir.path().join(VOTE_FILE), b"\0\0\0\x01junk").unwrap();
        assert!(
            LogStore::open(dir.path()).is_err(),
            "a torn vote is not ignored"
        );
    }

    #[tokio::test]
    async fn a_hole_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = reopen(dir.path()).await;
        store.blocking_append([entry(1, 1)]).await.unwrap();
        assert!(store.blocking_append([entry(1, 3)]).await.is_err());
        assert_eq!(indexes(&mut store).await, vec![1]);
    }

    /// A crash during an append leaves any prefix of the last record: every cut drops exactly
    /// that record, and the log takes appends again.
    #[tokio::test]
    async fn torn_tail_is_dropped_at_every_cut() {
        let source = tempfile::tempdir().unwrap();
        let mut store = reopen(source.path()).await;
        store
            .blocking_append((1..=4).map(|i| entry(1, i)))
            .await
            .unwrap();
        let before_last = std::fs::metadata(source.path().join(LOG_FILE))
            .unwrap()
            .len();
        store.blocking_append([entry(1, 5)]).await.unwrap();
        drop(store);
        let full = std::fs::read(source.path().join(LOG_FILE)).unwrap();

        for cut in before_last..full.len() as u64 {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(LOG_FILE), &full[..cut as usize]).unwrap();
            let mut store = reopen(dir.path()).await;
            assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4], "cut at {cut}");
            assert_eq!(
                std::fs::metadata(dir.path().join(LOG_FILE)).unwrap().len(),
                before_last,
                "the torn tail is removed from the file"
            );
            store.blocking_append([entry(2, 5)]).await.unwrap();
            drop(store);
            let mut store = reopen(dir.path()).await;
            assert_eq!(
                indexes(&mut store).await,
                vec![1, 2, 3, 4, 5],
                "cut at {cut}"
            );
        }
        let mut whole = reopen(source.path()).await;
        assert_eq!(indexes(&mut whole).await, vec![1, 2, 3, 4, 5]);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Append {
            count: u64,
            new_term: bool,
        },
        /// Truncate at the entry this many places before the last one.
        Truncate {
            back: u64,
        },
        /// Purge up to the entry this many places after the first one (past the end too).
        Purge {
            forward: u64,
        },
        Reopen,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (1..4u64, any::<bool>())
                .prop_map(|(count, new_term)| Op::Append { count, new_term }),
            1 => (0..4u64).prop_map(|back| Op::Truncate { back }),
            1 => (0..6u64).prop_map(|forward| Op::Purge { forward }),
            1 => Just(Op::Reopen),
        ]
    }

    /// The store against a model: a map of log ids and the last purged id.
    async fn check_against_model(ops: Vec<Op>) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = reopen(dir.path()).await;
        let mut model: BTreeMap<u64, LogId> = BTreeMap::new();
        let mut purged: Option<LogId> = None;
        let mut term = 1;
        for op in ops {
            match op {
                Op::Append { count, new_term } => {
                    term += u64::from(new_term);
                    let next = model
                        .keys()
                        .next_back()
                        .map(|i| i + 1)
                        .or(purged.map(|p| p.index + 1))
                        .unwrap_or(0);
                    let entries: Vec<Entry> =
                        (next..next + count).map(|i| entry(term, i)).collect();
                    for e in &entries {
                        model.insert(e.log_id.index, e.log_id);
                    }
                    store.blocking_append(entries).await.unwrap();
                }
                Op::Truncate { back } => {
                    let ids: Vec<LogId> = model.values().copied().collect();
                    if let Some(at) = ids.len().checked_sub(1 + back as usize).map(|i| ids[i]) {
                        model.split_off(&at.index);
                        store.truncate(at).await.unwrap();
                    }
                }
                Op::Purge { forward } => {
                    let Some((&first, &first_id)) = model.first_key_value() else {
                        continue;
                    };
                    let upto = model
                        .get(&(first + forward))
                        .copied()
                        .unwrap_or(LogId::new(first_id.leader_id, first + forward));
                    model = model.split_off(&(upto.index + 1));
                    purged = Some(upto);
                    store.purge(upto).await.unwrap();
                }
                Op::Reopen => {
                    drop(store);
                    store = reopen(dir.path()).await;
                }
            }
            let ids: Vec<LogId> = store
                .try_get_log_entries(..)
                .await
                .unwrap()
                .iter()
                .map(|e| e.log_id)
                .collect();
            assert_eq!(ids, model.values().copied().collect::<Vec<_>>());
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_purged_log_id, purged);
            assert_eq!(
                state.last_log_id,
                model.values().next_back().copied().or(purged)
            );
        }
        drop(store);
        let mut store = reopen(dir.path()).await;
        assert_eq!(
            store.try_get_log_entries(..).await.unwrap().len(),
            model.len()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn log_store_matches_a_model(ops in proptest::collection::vec(op(), 1..24)) {
            tokio::runtime::Runtime::new().unwrap().block_on(check_against_model(ops));
        }
    }

    #[tokio::test]
    async fn a_complete_but_undecodable_record_fails_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        encode_record(b"\x01{not json", &mut bytes).unwrap();
        std::fs::write(dir.path().join(LOG_FILE), bytes).unwrap();
        let err = LogStore::open(dir.path()).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
