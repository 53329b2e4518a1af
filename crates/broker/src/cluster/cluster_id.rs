//! The cluster id and `meta.properties`, Kafka's per-directory identity file (layout in
//! `replicas::log_dir`): which cluster and node each log directory belongs to, and the
//! directory's own id (KIP-858); and formatting a node's storage before its first start
//! (`sluice storage format`, Kafka's `kafka-storage format`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use sluice_controller::{write_bootstrap_metadata, MetadataCommand};
use uuid::Uuid;

use crate::config::BrokerSettings;
use crate::replicas::{
    decode_topic_id, encode_topic_id, format_meta_properties, read_meta_properties, META_PROPERTIES,
};

/// The topic registry of Sluice versions before the controller quorum (migrated once).
pub(super) const LEGACY_TOPICS_FILE: &str = "__sluice_topics.json";

/// The cluster id from `meta.properties` in the log directories, written there at first start:
/// `cluster.id` if set, else the id of the legacy topic registry, else one derived from
/// `controller.quorum.voters` (so that every node of a quorum configured alike agrees), else a
/// new random id. Every readable directory of `log.dirs` gets a `meta.properties` (with its own
/// `directory.id`) if it has none, or a `directory.id` if its file predates them. A
/// `meta.properties` of another node or cluster, or two directories of different clusters,
/// stop the start; a directory that cannot be read is left to go offline (the replica manager
/// finds no id in it), unless no directory can be read.
pub fn cluster_id(settings: &BrokerSettings) -> Result<String, String> {
    let node_id = settings.node_id;
    // (dir, its properties if it has a meta.properties), for the readable directories.
    let mut readable = Vec::new();
    let mut found: Option<(String, std::path::PathBuf)> = None;
    let mut directory_ids = BTreeMap::new();
    for dir in &settings.log_dirs {
        let props = match std::fs::create_dir_all(dir).and_then(|()| read_meta_properties(dir)) {
            Ok(props) => props,
            Err(e) => {
                tracing::error!("log directory {}: {e}; it will be offline", dir.display());
                continue;
            }
        };
        if let Some(props) = &props {
            let path = dir.join(META_PROPERTIES);
            let stored_node = props.get("node.id").and_then(|v| v.parse::<i32>().ok());
            if stored_node != Some(node_id) {
                return Err(format!(
                    "{} belongs to node.id {}, but this node is node.id {node_id}",
                    path.display(),
                    props.get("node.id").map_or("?", String::as_str)
                ));
            }
            let Some(id) = props.get("cluster.id").filter(|v| !v.is_empty()) else {
                return Err(format!("{} has no cluster.id", path.display()));
            };
            if let Some(wanted) = settings.cluster_id.as_deref() {
                if wanted != id {
                    return Err(format!(
                        "cluster.id {wanted} does not match {id} stored in {}",
                        path.display()
                    ));
                }
            }
            match &found {
                Some((other, other_path)) if other != id => {
                    return Err(format!(
                        "{} belongs to cluster {id}, but {} to cluster {other}",
                        path.display(),
                        other_path.display()
                    ))
                }
                Some(_) => {}
                None => found = Some((id.clone(), path.clone())),
            }
            if let Some(dir_id) = props.get("directory.id") {
                if let Some(first) = directory_ids.insert(dir_id.clone(), path.clone()) {
                    return Err(format!(
                        "{} and {} have the same directory.id {dir_id}",
                        first.display(),
                        path.display()
                    ));
                }
            }
        }
        readable.push((dir.clone(), props));
    }
    if readable.is_empty() {
        return Err(format!(
            "none of the log directories {} can be used",
            settings
                .log_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let id = match (found, settings.cluster_id.as_deref()) {
        (Some((id, _)), _) => id,
        (None, Some(id)) => id.to_string(),
        (None, None) => legacy_cluster_id(&settings.log_dir)
            .or_else(|| {
                settings
                    .quorum_voters
                    .as_ref()
                    .filter(|v| v.len() > 1)
                    .map(derived_cluster_id)
            })
            .unwrap_or_else(|| encode_id(Uuid::new_v4())),
    };
    for (dir, props) in readable {
        let has_dir_id = props
            .as_ref()
            .and_then(|p| p.get("directory.id"))
            .is_some_and(|d| decode_topic_id(d).is_some());
        if has_dir_id {
            continue;
        }
        let path = dir.join(META_PROPERTIES);
        let text = format_meta_properties("sluice at first start", &id, node_id, Uuid::new_v4());
        if let Err(e) = write_durably(&path, text.as_bytes()) {
            tracing::error!("{}: {e}; the log directory will be offline", path.display());
        }
    }
    Ok(id)
}

/// A new random cluster id, in the form Kafka prints ids (`kafka-storage random-uuid`).
pub fn random_cluster_id() -> String {
    encode_id(Uuid::new_v4())
}

/// What [`format_storage`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formatted {
    Formatted,
    /// The log directory was formatted already and `ignore_formatted` was given.
    AlreadyFormatted,
}

/// Formats a node's storage before its first start: `meta.properties` (cluster id, node id,
/// directory id) in every log directory, and `bootstrap` (e.g. SCRAM credentials) as the bootstrap metadata of
/// the metadata directory, which the cluster's metadata log starts with (see the controller's
/// `bootstrap`). A log directory already formatted (any of them) is an error, or left alone with
/// `ignore_formatted`, as in Kafka.
pub fn format_storage(
    settings: &BrokerSettings,
    cluster_id: &str,
    bootstrap: &[MetadataCommand],
    ignore_formatted: bool,
) -> Result<Formatted, String> {
    if cluster_id.is_empty() || cluster_id.contains(|c: char| c.is_whitespace() || c == '=') {
        return Err(format!(
            "'{cluster_id}' is not a valid cluster id (use `sluice storage random-uuid` for one)"
        ));
    }
    if let Some(configured) = settings.cluster_id.as_deref() {
        if configured != cluster_id {
            return Err(format!(
                "--cluster-id {cluster_id} does not match cluster.id {configured} in the config"
            ));
        }
    }
    let formatted = settings
        .log_dirs
        .iter()
        .find(|d| d.join(META_PROPERTIES).exists());
    if let Some(dir) = formatted {
        if ignore_formatted {
            return Ok(Formatted::AlreadyFormatted);
        }
        return Err(format!(
            "log directory {} is already formatted (it has {META_PROPERTIES}); use \
             --ignore-formatted to leave it as it is",
            dir.display()
        ));
    }
    let metadata_dir = &settings.metadata_log_dir;
    if metadata_dir.join("raft-log").exists() {
        return Err(format!(
            "metadata directory {} already holds a metadata log",
            metadata_dir.display()
        ));
    }
    for dir in &settings.log_dirs {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if !bootstrap.is_empty() {
        write_bootstrap_metadata(metadata_dir, bootstrap)
            .map_err(|e| format!("{}: {e}", metadata_dir.display()))?;
    }
    for dir in &settings.log_dirs {
        let path = dir.join(META_PROPERTIES);
        let text = format_meta_properties(
            "sluice storage format",
            cluster_id,
            settings.node_id,
            Uuid::new_v4(),
        );
        write_durably(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(Formatted::Formatted)
}

fn legacy_cluster_id(dir: &Path) -> Option<String> {
    let bytes = std::fs::read(dir.join(LEGACY_TOPICS_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value
        .get("cluster_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// A cluster id every node computes alike from the same quorum voters.
fn derived_cluster_id(voters: &BTreeMap<u64, SocketAddr>) -> String {
    let text = voters
        .iter()
        .map(|(id, addr)| format!("{id}@{addr}"))
        .collect::<Vec<_>>()
        .join(",");
    let a = crc32c::crc32c(text.as_bytes());
    let b = crc32c::crc32c_append(a, b"sluice-cluster");
    let c = crc32c::crc32c_append(b, text.as_bytes());
    let d = crc32c::crc32c_append(c, b"id");
    let mut bytes = [0u8; 16];
    for (i, word) in [a, b, c, d].iter().enumerate() {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    encode_id(Uuid::from_bytes(bytes))
}

fn encode_id(id: Uuid) -> String {
    encode_topic_id(id)
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;

    fn settings(pairs: &[(&str, &str)]) -> BrokerSettings {
        BrokerSettings::new(&BrokerConfig::from_pairs(pairs).unwrap()).unwrap()
    }

    #[test]
    fn cluster_id_is_stored_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().to_str().unwrap();
        let config = settings(&[("log.dir", log_dir)]);
        let id = cluster_id(&config).unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(cluster_id(&config).unwrap(), id);
        let other_node = settings(&[("log.dir", log_dir), ("node.id", "2")]);
        assert!(cluster_id(&other_node).unwrap_err().contains("node.id"));
        let other_cluster = settings(&[("log.dir", log_dir), ("cluster.id", "abc")]);
        assert!(cluster_id(&other_cluster)
            .unwrap_err()
            .contains("does not match"));
    }

    #[test]
    fn every_log_dir_gets_its_own_directory_id_and_must_agree_on_the_cluster() {
        let root = tempfile::tempdir().unwrap();
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        let dirs = format!("{},{}", a.display(), b.display());
        let config = settings(&[("log.dirs", &dirs)]);
        let id = cluster_id(&config).unwrap();
        let props = |d: &Path| read_meta_properties(d).unwrap().unwrap();
        let (pa, pb) = (props(&a), props(&b));
        assert_eq!(
            (pa["cluster.id"].as_str(), pb["cluster.id"].as_str()),
            (&*id, &*id)
        );
        assert_ne!(pa["directory.id"], pb["directory.id"]);
        // A restart keeps the ids.
        assert_eq!(cluster_id(&config).unwrap(), id);
        assert_eq!(props(&a)["directory.id"], pa["directory.id"]);
        // A file written before directory ids gets one; a directory of another cluster stops
        // the start.
        std::fs::write(
            a.join(META_PROPERTIES),
            format!("version=1\ncluster.id={id}\nnode.id=1\n"),
        )
        .unwrap();
        cluster_id(&config).unwrap();
        assert!(decode_topic_id(&props(&a)["directory.id"]).is_some());
        std::fs::write(
            b.join(META_PROPERTIES),
            "version=1\ncluster.id=other\nnode.id=1\n",
        )
        .unwrap();
        assert!(cluster_id(&config)
            .unwrap_err()
            .contains("belongs to cluster"));
        // An unreadable directory (a file in its place) is left to go offline, unless none
        // can be used.
        std::fs::remove_dir_all(&b).unwrap();
        std::fs::write(&b, b"file").unwrap();
        assert_eq!(cluster_id(&config).unwrap(), id);
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::write(&a, b"file").unwrap();
        assert!(cluster_id(&config).unwrap_err().contains("can be used"));
    }

    #[test]
    fn formatting_writes_meta_properties_and_bootstrap_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = settings(&[("log.dir", dir.path().to_str().unwrap())]);
        let bootstrap = [MetadataCommand::DeleteScramCredential {
            user: "nobody".into(),
            mechanism: 1,
        }];
        assert!(format_storage(&config, "bad id", &[], false)
            .unwrap_err()
            .contains("not a valid cluster id"));
        let id = random_cluster_id();
        assert_eq!(
            format_storage(&config, &id, &bootstrap, false),
            Ok(Formatted::Formatted)
        );
        assert!(config
            .metadata_log_dir
            .join(sluice_controller::BOOTSTRAP_FILE)
            .exists());
        assert_eq!(cluster_id(&config).unwrap(), id, "the first start reads it");
        assert!(format_storage(&config, &id, &[], false)
            .unwrap_err()
            .contains("already formatted"));
        assert_eq!(
            format_storage(&config, &id, &[], true),
            Ok(Formatted::AlreadyFormatted)
        );
    }

    #[test]
    fn nodes_of_one_quorum_derive_the_same_cluster_id() {
        let voters = "1@127.0.0.1:9093,2@127.0.0.2:9093";
        let ids: Vec<String> = ["1", "2"]
            .iter()
            .map(|node| {
                let dir = tempfile::tempdir().unwrap();
                let listeners =
                    format!("PLAINTEXT://127.0.0.{node}:0,CONTROLLER://127.0.0.{node}:9093");
                let config = settings(&[
                    ("log.dir", dir.path().to_str().unwrap()),
                    ("node.id", node),
                    ("listeners", &listeners),
                    ("controller.quorum.voters", voters),
                ]);
                cluster_id(&config).unwrap()
            })
            .collect();
        assert_eq!(ids[0], ids[1]);
    }
}
