//! Producer id allocation for InitProducerId.
//!
//! Ids are unique in the cluster: a broker hands them out from blocks of [`BLOCK_SIZE`] that
//! the controller quorum allocates (KIP-730's AllocateProducerIds, a metadata command), so two
//! brokers never give out the same id and a restarted broker never repeats one (the unused rest
//! of its block is skipped).
//!
//! Before the quorum allocated ids, each broker kept its next block start in
//! `<log.dir>/__sluice_producer_ids`; blocks now start above that number, so ids handed out
//! then are not reused either.

use std::path::Path;
use std::sync::Arc;

use sluice_controller::{CommandOutput, MetadataCommand};
use tokio::sync::Mutex;

use super::membership::Cluster;

/// The file of the per-broker allocation of earlier versions.
pub const PRODUCER_IDS_FILE: &str = "__sluice_producer_ids";
/// Ids per block, as Kafka's controller allocates them.
const BLOCK_SIZE: i64 = 1000;

struct Block {
    next: i64,
    end: i64,
}

pub struct ProducerIdManager {
    cluster: Arc<Cluster>,
    block: Mutex<Block>,
    /// No block may start below this (the legacy file's number).
    floor: i64,
}

impl ProducerIdManager {
    /// A manager with no block yet; reads the legacy file in `dir` if there is one.
    pub fn open(cluster: Arc<Cluster>, dir: &Path) -> std::io::Result<ProducerIdManager> {
        let path = dir.join(PRODUCER_IDS_FILE);
        let floor = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is corrupt: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(ProducerIdManager {
            cluster,
            block: Mutex::new(Block { next: 0, end: 0 }),
            floor,
        })
    }

    /// `n` producer ids for this broker alone, asking the controller for a new block when the
    /// current one runs out.
    pub async fn reserve(&self, n: usize) -> Result<Vec<i64>, String> {
        let cluster = &self.cluster;
        let mut block = self.block.lock().await;
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            if block.next >= block.end {
                let command = MetadataCommand::AllocateProducerIds {
                    broker_id: cluster.node_id,
                    broker_epoch: cluster.broker_epoch(),
                    count: BLOCK_SIZE,
                    min_first_id: self.floor,
                };
                match cluster.propose(command).await {
                    Ok(CommandOutput::ProducerIds { first_id, count }) => {
                        block.next = first_id;
                        block.end = first_id + count;
                    }
                    Ok(other) => return Err(format!("unexpected answer {other:?}")),
                    Err(e) => return Err(e.message),
                }
            }
            ids.push(block.next);
            block.next += 1;
        }
        Ok(ids)
    }
}
