//! Producer id allocation for InitProducerId.
//!
//! Ids are handed out from blocks, as Kafka's controller does: before the first id of a block is
//! used, the start of the *next* block is written durably to `<log.dir>/__sluice_producer_ids`
//! (a decimal number, replaced atomically). After a crash the broker continues from that number,
//! so an id is never handed out twice, at the cost of skipping the unused rest of a block.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const PRODUCER_IDS_FILE: &str = "__sluice_producer_ids";
const BLOCK_SIZE: i64 = 1000;

struct Block {
    next: i64,
    end: i64,
}

pub struct ProducerIdManager {
    path: PathBuf,
    block: Mutex<Block>,
}

impl ProducerIdManager {
    pub fn open(dir: &Path) -> std::io::Result<ProducerIdManager> {
        let path = dir.join(PRODUCER_IDS_FILE);
        let start = match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is corrupt: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        // Nothing of the block starting at `start` has been used yet.
        Ok(ProducerIdManager {
            path,
            block: Mutex::new(Block {
                next: start,
                end: start,
            }),
        })
    }

    /// A producer id never handed out before (durable before it is returned).
    pub fn next_id(&self) -> std::io::Result<i64> {
        let mut block = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if block.next >= block.end {
            let end = block.next + BLOCK_SIZE;
            self.persist(end)?;
            block.end = end;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }

    fn persist(&self, next_block_start: i64) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = fs::File::create(&tmp)?;
            writeln!(f, "{next_block_start}")?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(parent) = self.path.parent() {
            fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m.next_id().unwrap(), 0);
        assert_eq!(m.next_id().unwrap(), 1);
        drop(m);
        // A restart (or crash) skips the rest of the block.
        let m = ProducerIdManager::open(dir.path()).unwrap();
        assert_eq!(m.next_id().unwrap(), BLOCK_SIZE);
        for _ in 0..BLOCK_SIZE {
            m.next_id().unwrap();
        }
        assert_eq!(m.next_id().unwrap(), 2 * BLOCK_SIZE + 1);
    }
}
