//! [`SchemaService`]: the schema registry's state on this broker.
//!
//! - **Writes** run on the registry's one writer: the `sluice_schema` state machine on the
//!   coordinator runtime, loaded on the leader of `_schemas` partition 0. A write's answer goes
//!   out once its records are committed. Other nodes forward writes to the writer's registry
//!   (the HTTP layer does, to the URL in its broker registration, [`SchemaService::writer`]).
//! - **Reads** are served from a view on every node that holds a replica of `_schemas-0`:
//!   the same state machine fed the committed records (below the replica's high watermark)
//!   from the local log, brought up to date before each read. A node without a replica
//!   forwards reads too.
//!
//! After a write, [`SchemaService::wait_for`] lets a node serve its own view once it has
//! caught up with the write (read your writes, also through a forwarding node).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_coordinator::{Ownership, WriteOutput};
use sluice_log::record_codec::decode_batch;
use sluice_protocol::batch::{parse_header, BATCH_HEADER_LEN};
use sluice_schema::{
    CompatibilityLevel, RegistryError, SchemaRegistry, WriteRequest, WriteResult, SCHEMAS_TOPIC,
};
use tokio::sync::watch;

use super::runtime::{CoordinatorRuntime, MinInsyncReplicas, WRITE_TIMEOUT};
use super::InternalTopics;
use crate::cluster::Cluster;
use crate::replicas::{Partition, ReplicaManager};

/// The name of the schema registry's URL in a broker registration's HTTP endpoints.
pub const SCHEMA_REGISTRY_ENDPOINT: &str = "schema-registry";

/// How much one read of the view's catch-up takes.
const READ_BYTES: usize = 1 << 20;

/// Where a write or read must go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Served here.
    Local,
    /// Served by broker `id`'s registry at `url` (`None`: it advertises no registry).
    Remote { broker: i32, url: Option<String> },
    /// `_schemas` has no leader now (or does not exist yet).
    Unavailable(String),
}

pub struct SchemaService {
    runtime: CoordinatorRuntime<SchemaRegistry>,
    replicas: Arc<ReplicaManager>,
    cluster: Arc<Cluster>,
    internal_topics: Arc<InternalTopics>,
    default_level: CompatibilityLevel,
    view: Mutex<View>,
    /// One catch-up at a time.
    catch_up: tokio::sync::Mutex<()>,
}

struct View {
    registry: SchemaRegistry,
    /// The next offset of `_schemas-0` to apply. invariant: every committed record below it
    /// is applied.
    next_offset: i64,
    /// The partition replica the view was built from (a recreated topic starts over).
    source: Option<std::sync::Weak<Partition>>,
}

impl SchemaService {
    pub fn new(
        replicas: Arc<ReplicaManager>,
        cluster: Arc<Cluster>,
        internal_topics: Arc<InternalTopics>,
        default_level: CompatibilityLevel,
        shutdown: watch::Receiver<bool>,
    ) -> SchemaService {
        let factory =
            Arc::new(move |_index: i32, _ownership: Ownership| SchemaRegistry::new(default_level));
        SchemaService {
            runtime: CoordinatorRuntime::new(SCHEMAS_TOPIC, factory, WRITE_TIMEOUT, shutdown),
            replicas,
            cluster,
            internal_topics,
            default_level,
            view: Mutex::new(View {
                registry: SchemaRegistry::new(default_level),
                next_offset: 0,
                source: None,
            }),
            catch_up: tokio::sync::Mutex::new(()),
        }
    }

    /// Creates `_schemas` (compacted, one partition) if it does not exist; `Ok(false)` while
    /// too few brokers are live for its replication factor.
    pub async fn ensure_topic(&self) -> Result<bool, String> {
        self.internal_topics
            .ensure_schemas_topic()
            .await
            .map(|t| t.is_some())
            .map_err(|e| e.message)
    }

    /// Loads the writer if this broker leads `_schemas-0` now.
    pub async fn load_led(&self) {
        let leads = self
            .replicas
            .partition(SCHEMAS_TOPIC, 0)
            .is_some_and(|p| p.is_leader());
        if leads {
            self.on_leadership(&[0], &[]).await;
        }
    }

    /// Follows leadership of `_schemas` partitions (only partition 0 is used).
    pub async fn on_leadership(&self, became: &[i32], resigned: &[i32]) {
        if resigned.contains(&0) {
            self.runtime.unload(0);
            tracing::info!("no longer the schema registry's writer");
        }
        if became.contains(&0) {
            let Some(partition) = self.replicas.partition(SCHEMAS_TOPIC, 0) else {
                return;
            };
            match self.runtime.load(partition, self.min_insync_replicas()).await {
                Ok(records) => tracing::info!(
                    "the schema registry's writer is this broker ({records} record(s) of {SCHEMAS_TOPIC} loaded)"
                ),
                Err(e) => tracing::error!("cannot load {SCHEMAS_TOPIC}-0: {e}"),
            }
        }
    }

    fn min_insync_replicas(&self) -> MinInsyncReplicas {
        let replicas = self.replicas.clone();
        Arc::new(move || {
            replicas
                .topic(SCHEMAS_TOPIC)
                .map_or(1, |t| t.produce.min_insync_replicas)
        })
    }

    /// The leader of `_schemas-0` and its registry's URL.
    fn leader(&self) -> Result<(i32, Option<String>), String> {
        let image = self.cluster.image();
        let Some(topic) = image.topic(SCHEMAS_TOPIC) else {
            return Err(format!("the {SCHEMAS_TOPIC} topic does not exist yet"));
        };
        let leader = topic
            .partition(0)
            .and_then(|p| p.leader)
            .ok_or_else(|| format!("{SCHEMAS_TOPIC}-0 has no leader"))?;
        let url = image
            .broker(leader)
            .and_then(|b| b.http_endpoints.get(SCHEMA_REGISTRY_ENDPOINT).cloned());
        Ok((leader, url))
    }

    /// Where a write goes: here when this broker leads `_schemas-0`.
    pub fn writer(&self) -> Route {
        match self.leader() {
            Err(e) => Route::Unavailable(e),
            Ok((leader, _)) if leader == self.cluster.node_id => Route::Local,
            Ok((broker, url)) => Route::Remote { broker, url },
        }
    }

    /// Where a read goes: here when this broker holds a replica of `_schemas-0`, else to the
    /// writer.
    pub fn reader(&self) -> Route {
        if self.replicas.partition(SCHEMAS_TOPIC, 0).is_some() {
            return Route::Local;
        }
        match self.writer() {
            Route::Local => Route::Local,
            other => other,
        }
    }

    /// Runs `request` on the writer (this broker must lead `_schemas-0`, see
    /// [`SchemaService::writer`]); the answer once committed, with the log end offset of
    /// `_schemas-0` after the write (what [`SchemaService::wait_for`] takes).
    pub async fn write(&self, request: WriteRequest) -> (Result<WriteResult, RegistryError>, i64) {
        let reply = self
            .runtime
            .write(0, move |registry, token| {
                let (records, reply) = registry.write(request);
                WriteOutput {
                    records,
                    replies: vec![(token, reply)],
                }
            })
            .await;
        let offset = self
            .replicas
            .partition(SCHEMAS_TOPIC, 0)
            .map_or(0, |p| p.high_watermark());
        (reply, offset)
    }

    /// Reads the view once it has every record committed so far on this replica.
    pub async fn read<T>(&self, f: impl FnOnce(&SchemaRegistry) -> T) -> Result<T, String> {
        self.catch_up().await?;
        let view = self.view.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&view.registry))
    }

    /// Reads the view as it is, without catching up (for the produce path's schema
    /// validation, which must not wait); `None` when this broker holds no replica.
    pub fn read_now<T>(&self, f: impl FnOnce(&SchemaRegistry) -> T) -> Option<T> {
        let view = self.view.lock().unwrap_or_else(|p| p.into_inner());
        view.source.as_ref()?.upgrade()?;
        Some(f(&view.registry))
    }

    /// Waits (up to `timeout`) until the view has applied everything below `offset`.
    pub async fn wait_for(&self, offset: i64, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.catch_up().await?;
            let at = self
                .view
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .next_offset;
            if at >= offset {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "this node's copy of {SCHEMAS_TOPIC} is at offset {at}, behind {offset}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Applies the records committed on the local replica since the last catch-up.
    async fn catch_up(&self) -> Result<(), String> {
        let Some(partition) = self.replicas.partition(SCHEMAS_TOPIC, 0) else {
            return Err(format!("this broker holds no replica of {SCHEMAS_TOPIC}"));
        };
        let _one = self.catch_up.lock().await;
        let high_watermark = partition.high_watermark();
        let (from, fresh) = {
            let view = self.view.lock().unwrap_or_else(|p| p.into_inner());
            let same = view
                .source
                .as_ref()
                .and_then(|w| w.upgrade())
                .is_some_and(|p| Arc::ptr_eq(&p, &partition));
            if same && view.next_offset >= partition.log_start_offset() {
                (view.next_offset, false)
            } else {
                (partition.log_start_offset(), true)
            }
        };
        if !fresh && from >= high_watermark {
            return Ok(());
        }
        let source = partition.clone();
        let records =
            tokio::task::spawn_blocking(move || read_committed(&source, from, high_watermark))
                .await
                .map_err(|e| e.to_string())??;
        let mut view = self.view.lock().unwrap_or_else(|p| p.into_inner());
        if fresh {
            view.registry = SchemaRegistry::new(self.default_level);
            view.source = Some(Arc::downgrade(&partition));
        }
        for (key, value) in records {
            if let Err(e) = view.registry.apply(&key, value.as_deref()) {
                tracing::warn!("skipping a {SCHEMAS_TOPIC} record: {e}");
            }
        }
        view.next_offset = high_watermark;
        Ok(())
    }
}

/// The keyed records of `partition` in `[from, to)`, in log order (control batches and
/// unreadable batches skipped). Blocking.
type Keyed = (Vec<u8>, Option<Vec<u8>>);

fn read_committed(partition: &Partition, from: i64, to: i64) -> Result<Vec<Keyed>, String> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < to {
        let read = partition
            .read(offset, READ_BYTES, to, true)
            .map_err(|e| e.to_string())?;
        if read.records.is_empty() {
            break;
        }
        let mut rest = read.records;
        let before = offset;
        while rest.len() >= BATCH_HEADER_LEN {
            let Ok(header) = parse_header(&rest) else {
                break;
            };
            let len = header.total_len();
            if len > rest.len() {
                break;
            }
            let raw = rest.split_to(len);
            offset = header.last_offset() + 1;
            if header.is_control() {
                continue;
            }
            match decode_batch(&raw) {
                Ok((_, batch)) => out.extend(
                    batch
                        .into_iter()
                        .filter(|r| r.offset >= from && r.offset < to)
                        .filter_map(|r| Some((r.key?.to_vec(), r.value.map(|v| v.to_vec())))),
                ),
                Err(e) => tracing::warn!(
                    "skipping an unreadable batch of {SCHEMAS_TOPIC}-0 at offset {}: {e}",
                    header.base_offset
                ),
            }
        }
        if offset == before {
            break;
        }
    }
    Ok(out)
}
