//! The log directories of this broker (`log.dirs`, JBOD) and Kafka's identity file in each,
//! `meta.properties`.
//!
//! `meta.properties` layout (text, Java properties, KIP-858's version 1):
//! ```text
//! #
//! # written by sluice ...
//! version=1
//! cluster.id=<22 characters, as Kafka prints ids>
//! node.id=<this node's id>
//! directory.id=<22 characters: this directory's id, unique in the cluster>
//! ```
//!
//! A directory is online or offline. It goes offline, for good until the broker restarts, when
//! it cannot be read at start (no readable `meta.properties` with a `directory.id`) or when an
//! I/O error hits one of its logs or checkpoint files (Kafka's `LogDirFailureChannel`): its
//! replicas are then offline and the broker reports the directory's id to the controller.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;

use super::topic_id::decode_topic_id;

/// Kafka's per-directory identity file.
pub const META_PROPERTIES: &str = "meta.properties";

/// The properties of `dir/meta.properties`: `Ok(None)` when the file does not exist; an error
/// when it (or the directory) cannot be read.
pub fn read_meta_properties(dir: &Path) -> std::io::Result<Option<BTreeMap<String, String>>> {
    match std::fs::read_to_string(dir.join(META_PROPERTIES)) {
        Ok(text) => Ok(Some(parse_properties(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A missing file in a directory that cannot be listed is still a failure.
            std::fs::read_dir(dir)?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The `meta.properties` text for a directory of `node_id` in `cluster_id`.
pub fn format_meta_properties(
    written_by: &str,
    cluster_id: &str,
    node_id: i32,
    directory_id: Uuid,
) -> String {
    format!(
        "#\n# written by {written_by}\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n\
         directory.id={}\n",
        super::encode_topic_id(directory_id)
    )
}

/// One directory of `log.dirs`.
#[derive(Debug)]
pub struct LogDir {
    /// As configured.
    pub path: PathBuf,
    /// `directory.id` from its `meta.properties` (a random id, only for reporting, when it
    /// could not be read at start).
    pub id: Uuid,
    offline: AtomicBool,
}

impl LogDir {
    /// Reads the directory's id from its `meta.properties` (which the cluster-id check at start
    /// wrote); a directory without one is offline from the start.
    pub fn open(path: PathBuf) -> LogDir {
        let read = std::fs::create_dir_all(&path)
            .and_then(|()| read_meta_properties(&path))
            .map(|props| {
                props
                    .as_ref()
                    .and_then(|p| p.get("directory.id"))
                    .and_then(|id| decode_topic_id(id))
            });
        let (id, offline) = match read {
            Ok(Some(id)) => (id, false),
            Ok(None) => {
                tracing::error!(
                    "log directory {} has no directory.id in its {META_PROPERTIES}: offline",
                    path.display()
                );
                (Uuid::new_v4(), true)
            }
            Err(e) => {
                tracing::error!(
                    "log directory {} cannot be read: {e}; offline",
                    path.display()
                );
                (Uuid::new_v4(), true)
            }
        };
        LogDir {
            path,
            id,
            offline: AtomicBool::new(offline),
        }
    }

    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// Marks the directory offline; true if it was online.
    pub fn set_offline(&self) -> bool {
        !self.offline.swap(true, Ordering::AcqRel)
    }

    /// The directory's absolute path, as DescribeLogDirs and AlterReplicaLogDirs name it.
    pub fn absolute_path(&self) -> PathBuf {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone())
    }
}

/// Every log directory of the broker, in `log.dirs` order (a replica names its directory by
/// index), and the signal that one failed.
#[derive(Debug)]
pub struct LogDirs {
    dirs: Vec<LogDir>,
    /// Woken (one permit kept) when a directory goes offline: the heartbeat reports it at once.
    failed: tokio::sync::Notify,
}

impl LogDirs {
    /// The directories of `paths`, each online if its `meta.properties` names its id.
    pub fn open(paths: &[PathBuf]) -> LogDirs {
        LogDirs {
            dirs: paths.iter().cloned().map(LogDir::open).collect(),
            failed: tokio::sync::Notify::new(),
        }
    }

    /// One online directory at `path`, for a log opened outside a replica manager (tests).
    pub fn single(path: PathBuf) -> LogDirs {
        LogDirs {
            dirs: vec![LogDir {
                path,
                id: Uuid::new_v4(),
                offline: AtomicBool::new(false),
            }],
            failed: tokio::sync::Notify::new(),
        }
    }

    pub fn get(&self, index: usize) -> Option<&LogDir> {
        self.dirs.get(index)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, LogDir> {
        self.dirs.iter()
    }

    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The directory whose absolute path is `path` (as a client names it).
    pub fn index_of(&self, path: &Path) -> Option<usize> {
        let wanted = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.dirs.iter().position(|d| d.absolute_path() == wanted)
    }

    /// Takes directory `index` offline after `why` (an I/O error), once.
    pub fn fail(&self, index: usize, why: &dyn std::fmt::Display) {
        if let Some(dir) = self.dirs.get(index) {
            if dir.set_offline() {
                tracing::error!(
                    "log directory {} failed ({why}): its replicas are offline",
                    dir.path.display()
                );
                self.failed.notify_one();
            }
        }
    }

    /// Completes after a directory failed (at once if one failed since the last call).
    pub async fn wait_for_failure(&self) {
        self.failed.notified().await
    }

    /// Ids of the offline directories.
    pub fn offline_ids(&self) -> Vec<Uuid> {
        self.dirs
            .iter()
            .filter(|d| d.is_offline())
            .map(|d| d.id)
            .collect()
    }
}

/// Kafka's choice of directory for a new replica: the online directory holding the fewest
/// partitions (ties to the first in `log.dirs` order). `counts[i]` is how many partitions
/// directory `i` holds; `None` when every directory is offline.
pub fn least_loaded(dirs: &LogDirs, counts: &[usize]) -> Option<usize> {
    dirs.iter()
        .enumerate()
        .filter(|(_, d)| !d.is_offline())
        .min_by_key(|(i, _)| (counts.get(*i).copied().unwrap_or(0), *i))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(offline: bool) -> LogDir {
        LogDir {
            path: PathBuf::from("/x"),
            id: Uuid::new_v4(),
            offline: AtomicBool::new(offline),
        }
    }

    #[test]
    fn new_replicas_go_to_the_online_directory_with_the_fewest_partitions() {
        let dirs = LogDirs {
            dirs: vec![dir(false), dir(false), dir(false)],
            failed: tokio::sync::Notify::new(),
        };
        assert_eq!(least_loaded(&dirs, &[0, 0, 0]), Some(0));
        assert_eq!(least_loaded(&dirs, &[1, 0, 0]), Some(1));
        assert_eq!(least_loaded(&dirs, &[1, 1, 0]), Some(2));
        assert_eq!(least_loaded(&dirs, &[3, 2, 2]), Some(1));
        dirs.fail(1, &"test");
        assert_eq!(dirs.offline_ids(), [dirs.dirs[1].id]);
        assert_eq!(least_loaded(&dirs, &[3, 0, 2]), Some(2));
        dirs.fail(0, &"test");
        dirs.fail(2, &"test");
        assert_eq!(least_loaded(&dirs, &[0, 0, 0]), None);
    }

    #[test]
    fn a_directory_without_an_id_or_unreadable_is_offline() {
        let root = tempfile::tempdir().expect("dir");
        let good = root.path().join("good");
        std::fs::create_dir_all(&good).expect("mkdir");
        let id = Uuid::from_u128(42);
        std::fs::write(
            good.join(META_PROPERTIES),
            format_meta_properties("test", "c", 1, id),
        )
        .expect("write");
        let d = LogDir::open(good);
        assert_eq!((d.id, d.is_offline()), (id, false));
        assert!(d.set_offline());
        assert!(!d.set_offline(), "once");

        assert!(LogDir::open(root.path().join("fresh")).is_offline());
        // A regular file where the directory should be (as after a disk swap gone wrong).
        let file = root.path().join("file");
        std::fs::write(&file, b"x").expect("write");
        assert!(LogDir::open(file).is_offline());
    }
}
