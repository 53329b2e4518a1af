//! [`StateMachineStore`]: the metadata image as openraft's state machine, with snapshots.
//!
//! Applying committed entries changes the in-memory [`MetadataImage`] and publishes it on a
//! `watch` channel. The image is not written to disk on every apply: a snapshot (the serialized
//! image and the proposer table) is, and on restart the image starts from the snapshot and openraft re-applies the log
//! after it (up to the saved committed id, then whatever commits next).
//!
//! # Files (under the controller's data directory)
//! ```text
//! raft-snapshot       two framed records (layout in `record_file`):
//!                     1. JSON of openraft's SnapshotMeta (last log id, membership, snapshot id)
//!                     2. the snapshot data: JSON object {"image": the image (as
//!                        `MetadataImage::to_snapshot_bytes`), "proposers": the proposer table
//!                        (see `proposers`)}
//! raft-snapshot.tmp   a snapshot being written (removed on open)
//! ```
//! The data part is exactly what travels to followers in InstallSnapshot chunks.

use std::io;
use std::io::Cursor;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;

use openraft::storage::RaftStateMachine;
use openraft::EntryPayload;
use openraft::ErrorSubject;
use openraft::ErrorVerb;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use openraft::Snapshot;
use serde::Deserialize;
use serde::Serialize;
use tokio::sync::watch;

use crate::command::CommandOutput;
use crate::command::CommandResult;
use crate::image::MetadataImage;
use crate::proposers::ProposerTable;
use crate::proposers::Seen;
use crate::proposers::PROPOSER_EXPIRY_ENTRIES;
use crate::raft_types::Entry;
use crate::raft_types::LogId;
use crate::raft_types::SnapshotMeta;
use crate::raft_types::StorageError;
use crate::raft_types::StoredMembership;
use crate::raft_types::TypeConfig;
use crate::record_file::encode_record;
use crate::record_file::read_records_file;
use crate::record_file::remove_stale_tmp;
use crate::record_file::replace_file;

const SNAPSHOT_FILE: &str = "raft-snapshot";

/// Cheap to clone: clones share the state machine.
#[derive(Clone)]
pub(crate) struct StateMachineStore {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    state: Mutex<State>,
    /// Held while the snapshot file is written, so that an older snapshot being built never
    /// replaces a newer one being installed.
    snapshot_file: Mutex<()>,
    image_tx: watch::Sender<Arc<MetadataImage>>,
    snapshot_seq: AtomicU64,
}

struct State {
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    /// invariant: `image.offset()` is the index of `last_applied` (0 when none).
    image: Arc<MetadataImage>,
    /// Proposals applied, for deduplication; as of `last_applied` like the image.
    proposers: ProposerTable,
    /// The newest snapshot on disk.
    snapshot: Option<StoredSnapshot>,
}

#[derive(Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Arc<Vec<u8>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data stays consistent across a panic (each critical section is a few
    // assignments); keep going.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn corrupt(path: &Path, why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is corrupt: {why}", path.display()),
    )
}

fn snapshot_error(meta: &SnapshotMeta, verb: ErrorVerb, e: io::Error) -> StorageError {
    StorageError::from_io_error(ErrorSubject::Snapshot(Some(meta.signature())), verb, e)
}

/// The snapshot data (see the module doc).
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    image: MetadataImage,
    proposers: ProposerTable,
}

/// Decodes snapshot data and checks that it is the state as of `meta`'s last log id.
fn decode_snapshot(meta: &SnapshotMeta, data: &[u8]) -> io::Result<SnapshotData> {
    let snapshot: SnapshotData =
        serde_json::from_slice(data).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let image = &snapshot.image;
    let expected = meta.last_log_id.map_or(0, |l| l.index);
    if image.offset() != expected {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "snapshot image is at offset {}, its metadata says {expected}",
                image.offset()
            ),
        ));
    }
    Ok(snapshot)
}

impl StateMachineStore {
    /// Opens the state machine under `dir`, starting from the snapshot there if any. Blocking.
    pub(crate) fn open(dir: &Path) -> io::Result<StateMachineStore> {
        std::fs::create_dir_all(dir)?;
        remove_stale_tmp(dir, SNAPSHOT_FILE)?;
        let path = dir.join(SNAPSHOT_FILE);
        let mut state = State {
            last_applied: None,
            last_membership: StoredMembership::default(),
            image: Arc::new(MetadataImage::default()),
            proposers: ProposerTable::default(),
            snapshot: None,
        };
        if let Some(records) = read_records_file(&path)? {
            let [meta, data] = <[Vec<u8>; 2]>::try_from(records)
                .map_err(|r| corrupt(&path, format!("{} records, expected 2", r.len())))?;
            let meta: SnapshotMeta =
                serde_json::from_slice(&meta).map_err(|e| corrupt(&path, e.to_string()))?;
            let decoded =
                decode_snapshot(&meta, &data).map_err(|e| corrupt(&path, e.to_string()))?;
            state.last_applied = meta.last_log_id;
            state.last_membership = meta.last_membership.clone();
            state.image = Arc::new(decoded.image);
            state.proposers = decoded.proposers;
            state.snapshot = Some(StoredSnapshot {
                meta,
                data: Arc::new(data),
            });
        }
        let (image_tx, _) = watch::channel(state.image.clone());
        Ok(StateMachineStore {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                state: Mutex::new(state),
                snapshot_file: Mutex::new(()),
                image_tx,
                snapshot_seq: AtomicU64::new(0),
            }),
        })
    }

    /// The image, updated after every applied batch of entries.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.shared.image_tx.subscribe()
    }

    /// Writes `snapshot` to disk and makes it the current one, unless a snapshot at least as
    /// new is already there. Blocking.
    fn persist_snapshot(&self, snapshot: StoredSnapshot) -> io::Result<()> {
        let _file = lock(&self.shared.snapshot_file);
        let newest = lock(&self.shared.state)
            .snapshot
            .as_ref()
            .map(|s| s.meta.last_log_id);
        if newest.is_some_and(|n| n >= snapshot.meta.last_log_id) {
            return Ok(());
        }
        let meta = serde_json::to_vec(&snapshot.meta).map_err(io::Error::other)?;
        let mut contents = Vec::with_capacity(meta.len() + snapshot.data.len() + 16);
        encode_record(&meta, &mut contents)?;
        encode_record(&snapshot.data, &mut contents)?;
        replace_file(&self.shared.dir, SNAPSHOT_FILE, &contents)?;
        lock(&self.shared.state).snapshot = Some(snapshot);
        Ok(())
    }

    fn publish(&self, image: Arc<MetadataImage>) {
        self.shared.image_tx.send_replace(image);
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("storage task failed: {e}")))?
}

/// A view of the state machine at one point, turned into a snapshot off the apply path.
pub(crate) struct SnapshotBuilder {
    store: StateMachineStore,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    image: Arc<MetadataImage>,
    proposers: ProposerTable,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let seq = self
            .store
            .shared
            .snapshot_seq
            .fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{seq}", l.leader_id, l.index),
            None => format!("empty-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
            snapshot_id,
        };
        let snapshot = SnapshotData {
            image: MetadataImage::clone(&self.image),
            proposers: self.proposers.clone(),
        };
        let data = blocking(move || serde_json::to_vec(&snapshot).map_err(io::Error::other))
            .await
            .map_err(|e| snapshot_error(&meta, ErrorVerb::Write, e))?;
        let data = Arc::new(data);
        let store = self.store.clone();
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        blocking(move || store.persist_snapshot(stored))
            .await
            .map_err(|e| snapshot_error(&meta, ErrorVerb::Write, e))?;
        tracing::info!(snapshot = %meta, "controller snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data.to_vec())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let state = lock(&self.shared.state);
        Ok((state.last_applied, state.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut results = Vec::new();
        let published = {
            let mut guard = lock(&self.shared.state);
            let state = &mut *guard;
            let image = Arc::make_mut(&mut state.image);
            for entry in entries {
                let index = entry.log_id.index;
                state.last_applied = Some(entry.log_id);
                let result = match entry.payload {
                    EntryPayload::Normal(proposal) => {
                        match state.proposers.check(&proposal.proposer, proposal.sequence) {
                            Seen::New => {
                                let result = image.apply(index, &proposal.command);
                                state.proposers.record(
                                    proposal.proposer,
                                    proposal.sequence,
                                    index,
                                    result.clone(),
                                );
                                result
                            }
                            Seen::Answered(result) => {
                                tracing::debug!(
                                    index,
                                    proposer = ?proposal.proposer,
                                    sequence = proposal.sequence,
                                    "duplicate or stale proposal, not applied"
                                );
                                image.advance_offset(index);
                                result
                            }
                        }
                    }
                    EntryPayload::Blank => {
                        image.advance_offset(index);
                        Ok(CommandOutput::Done)
                    }
                    EntryPayload::Membership(membership) => {
                        state.last_membership =
                            StoredMembership::new(Some(entry.log_id), membership);
                        image.advance_offset(index);
                        Ok(CommandOutput::Done)
                    }
                };
                state.proposers.expire(index, PROPOSER_EXPIRY_ENTRIES);
                results.push(result);
            }
            state.image.clone()
        };
        self.publish(published);
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let state = lock(&self.shared.state);
        SnapshotBuilder {
            store: self.clone(),
            last_applied: state.last_applied,
            last_membership: state.last_membership.clone(),
            image: state.image.clone(),
            proposers: state.proposers.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let decoded =
            decode_snapshot(meta, &data).map_err(|e| snapshot_error(meta, ErrorVerb::Read, e))?;
        let store = self.clone();
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: Arc::new(data),
        };
        blocking(move || store.persist_snapshot(stored))
            .await
            .map_err(|e| snapshot_error(meta, ErrorVerb::Write, e))?;
        let image = Arc::new(decoded.image);
        {
            let mut state = lock(&self.shared.state);
            state.last_applied = meta.last_log_id;
            state.last_membership = meta.last_membership.clone();
            state.image = image.clone();
            state.proposers = decoded.proposers;
        }
        tracing::info!(snapshot = %meta, "controller snapshot installed");
        self.publish(image);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let snapshot = lock(&self.shared.state).snapshot.clone();
        Ok(snapshot.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data.to_vec())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;
    use uuid::Uuid;

    use super::*;
    use crate::command::MetadataCommand;
    use crate::proposers::Proposal;
    use crate::proposers::ProposerId;

    const PROPOSER: ProposerId = ProposerId {
        node_id: 1,
        incarnation: Uuid::from_u128(77),
        lane: 0,
    };

    /// Entry `index`, proposed with sequence `sequence`.
    fn proposed(index: u64, sequence: u64, command: MetadataCommand) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Proposal {
                proposer: PROPOSER,
                sequence,
                command,
            }),
        }
    }

    fn entry(index: u64, command: MetadataCommand) -> Entry {
        proposed(index, index, command)
    }

    fn unfence(id: i32, broker_epoch: i64) -> MetadataCommand {
        MetadataCommand::UnfenceBroker {
            broker_id: id,
            broker_epoch,
        }
    }

    fn add_partition() -> MetadataCommand {
        MetadataCommand::CreatePartitions {
            topic: "t".into(),
            assignments: vec![vec![1]],
        }
    }

    #[tokio::test]
    async fn a_duplicate_proposal_applies_once_even_across_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        let create = MetadataCommand::CreateTopic {
            name: "t".into(),
            topic_id: Uuid::from_u128(5),
            assignments: vec![vec![1]],
            configs: Default::default(),
        };
        let results = sm
            .apply([
                proposed(1, 1, register(1)),
                proposed(2, 2, unfence(1, 1)),
                proposed(3, 3, create),
                proposed(4, 4, add_partition()),
                // A retry of sequence 4, appended again by the leader.
                proposed(5, 4, add_partition()),
            ])
            .await
            .unwrap();
        assert_eq!(results[3], results[4]);
        assert_eq!(results[4], Ok(CommandOutput::Done));
        let image = sm.subscribe().borrow().clone();
        assert_eq!(image.topic("t").unwrap().partitions.len(), 2);
        assert_eq!(image.offset(), 5);

        // The table is in the snapshot: after a restart from it the retry is still recognized.
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        drop(sm);
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        let results = sm
            .apply([
                proposed(6, 4, add_partition()),
                proposed(7, 3, add_partition()),
                proposed(8, 5, add_partition()),
            ])
            .await
            .unwrap();
        assert_eq!(results[0], Ok(CommandOutput::Done));
        assert_eq!(
            results[1],
            Err(crate::command::CommandError::StaleProposal {
                sequence: 3,
                last_applied: 4
            })
        );
        assert_eq!(results[2], Ok(CommandOutput::Done));
        let image = sm.subscribe().borrow().clone();
        assert_eq!(image.topic("t").unwrap().partitions.len(), 3);
    }

    fn register(id: i32) -> MetadataCommand {
        MetadataCommand::RegisterBroker {
            broker_id: id,
            incarnation_id: Uuid::from_u128(id as u128),
            host: "h".into(),
            port: 1,
            listeners: Vec::new(),
            http_endpoints: Default::default(),
            rack: None,
            timestamp_ms: 0,
        }
    }

    #[tokio::test]
    async fn apply_publishes_and_snapshots_survive_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        let mut images = sm.subscribe();
        let results = sm
            .apply([
                entry(1, register(1)),
                entry(2, register(1)),
                entry(3, register(2)),
            ])
            .await
            .unwrap();
        assert_eq!(
            results,
            vec![
                Ok(CommandOutput::BrokerRegistered { broker_epoch: 1 }),
                Ok(CommandOutput::BrokerRegistered { broker_epoch: 1 }),
                Ok(CommandOutput::BrokerRegistered { broker_epoch: 3 }),
            ]
        );
        assert!(images.has_changed().unwrap());
        assert_eq!(images.borrow_and_update().brokers().len(), 2);

        let snapshot = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert_eq!(snapshot.meta.last_log_id.unwrap().index, 3);
        sm.apply([entry(4, register(3))]).await.unwrap();
        drop(sm);

        // The image restarts from the snapshot: entry 4 is for openraft to re-apply.
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        let (applied, _) = sm.applied_state().await.unwrap();
        assert_eq!(applied.unwrap().index, 3);
        assert_eq!(sm.subscribe().borrow().brokers().len(), 2);
        let current = sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, snapshot.meta);
        assert_eq!(
            current.snapshot.into_inner(),
            snapshot.snapshot.into_inner()
        );
    }

    #[tokio::test]
    async fn install_replaces_the_image_and_rejects_bad_data() {
        let source_dir = tempfile::tempdir().unwrap();
        let mut source = StateMachineStore::open(source_dir.path()).unwrap();
        source
            .apply([entry(1, register(1)), entry(2, register(2))])
            .await
            .unwrap();
        let snapshot = source
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachineStore::open(dir.path()).unwrap();
        sm.apply([entry(1, register(7))]).await.unwrap();
        let mut bad = Box::new(Cursor::new(b"{}".to_vec()));
        assert!(sm.install_snapshot(&snapshot.meta, bad).await.is_err());
        bad = Box::new(Cursor::new(b"not json".to_vec()));
        assert!(sm.install_snapshot(&snapshot.meta, bad).await.is_err());
        assert_eq!(sm.subscribe().borrow().brokers().len(), 1);

        sm.install_snapshot(&snapshot.meta, snapshot.snapshot)
            .await
            .unwrap();
        let image = sm.subscribe().borrow().clone();
        assert_eq!(
            image.brokers().keys().copied().collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(sm.applied_state().await.unwrap().0.unwrap().index, 2);
        drop(sm);
        let sm = StateMachineStore::open(dir.path()).unwrap();
        assert_eq!(sm.subscribe().borrow().offset(), 2);
    }
}
