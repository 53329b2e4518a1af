//! The durable registry of topics: name, id, partition count and config overrides.
//!
//! Stored as `<log.dir>/__sluice_topics.json`, rewritten atomically (temp file, fsync, rename,
//! fsync of the directory) on every change. This is the single-node stand-in for the controller's
//! metadata log; the record shapes match what the controller will replicate.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const TOPICS_FILE: &str = "__sluice_topics.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicRecord {
    pub name: String,
    /// The topic id (KIP-516), as 16 bytes in hex.
    pub id: String,
    pub partitions: i32,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TopicsFile {
    cluster_id: String,
    topics: Vec<TopicRecord>,
}

pub struct TopicStore {
    path: PathBuf,
    cluster_id: String,
}

impl TopicStore {
    /// Opens (or initialises) the registry in `dir`, returning it with the topics it holds.
    pub fn open(
        dir: &Path,
        cluster_id: Option<&str>,
    ) -> std::io::Result<(TopicStore, Vec<TopicRecord>)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(TOPICS_FILE);
        let file: TopicsFile = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not a valid topic registry: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TopicsFile {
                cluster_id: cluster_id
                    .map(str::to_string)
                    .unwrap_or_else(new_cluster_id),
                topics: Vec::new(),
            },
            Err(e) => return Err(e),
        };
        let store = TopicStore {
            path,
            cluster_id: file.cluster_id.clone(),
        };
        store.save(&file.topics)?;
        Ok((store, file.topics))
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Replaces the stored registry with `topics`; durable when this returns.
    pub fn save(&self, topics: &[TopicRecord]) -> std::io::Result<()> {
        let file = TopicsFile {
            cluster_id: self.cluster_id.clone(),
            topics: topics.to_vec(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(parent) = self.path.parent() {
            fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}

/// A cluster id in Kafka's form: 16 random bytes, URL-safe base64 without padding (22 chars).
fn new_cluster_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits: u128 = u128::from_be_bytes(bytes);
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        out.push(ALPHABET[(bits & 63) as usize] as char);
        bits >>= 6;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_cluster_id_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let (store, topics) = TopicStore::open(dir.path(), None).unwrap();
        assert!(topics.is_empty());
        let id = store.cluster_id().to_string();
        assert_eq!(id.len(), 22);
        let rec = TopicRecord {
            name: "t".into(),
            id: "00".repeat(16),
            partitions: 3,
            configs: [("retention.ms".to_string(), "5".to_string())].into(),
        };
        store.save(std::slice::from_ref(&rec)).unwrap();
        let (store2, topics) = TopicStore::open(dir.path(), None).unwrap();
        assert_eq!(store2.cluster_id(), id);
        assert_eq!(topics, vec![rec]);
    }
}
