//! `partition.metadata`: Kafka's file naming the topic id of a partition directory (KIP-516),
//! so that a directory left by another topic of the same name is told apart.
//!
//! Layout (text):
//! ```text
//! version: 0
//! topic_id: <the topic id, see topic_id>
//! ```

use std::path::Path;

use uuid::Uuid;

use super::topic_id::{decode_topic_id, encode_topic_id};

/// The file's name in each partition directory.
pub(super) const PARTITION_METADATA_FILE: &str = "partition.metadata";

/// Writes Kafka's `partition.metadata` (`version: 0`, `topic_id: <base64url id>`) durably.
pub(super) fn write_partition_metadata(dir: &Path, id: Uuid) -> std::io::Result<()> {
    use std::io::Write;
    let text = format!("version: 0\ntopic_id: {}\n", encode_topic_id(id));
    let tmp = dir.join(format!("{PARTITION_METADATA_FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(PARTITION_METADATA_FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

pub(super) fn parse_partition_metadata(text: &str) -> Option<Uuid> {
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .and_then(|v| decode_topic_id(v.trim()))
}
