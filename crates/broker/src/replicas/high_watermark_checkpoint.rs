//! `replication-offset-checkpoint`: every hosted partition's high watermark, in Kafka's file
//! format, so that a restarted replica starts from there rather than from its log start.
//!
//! Layout (text, one item per line):
//! ```text
//! 0                          version
//! <n>                        entry count
//! <topic> <partition> <hw>   n times, separated by single spaces
//! ```

use std::collections::HashMap;
use std::path::Path;

/// Kafka's per-log-directory high watermark checkpoint: version 0, the entry count, then one
/// `<topic> <partition> <high watermark>` line per partition.
pub(super) const HW_CHECKPOINT_FILE: &str = "replication-offset-checkpoint";

/// The checkpointed high watermarks; empty (with a warning) when the file is missing or not
/// readable as Kafka's format: the replicas then start from their log start, which is safe.
pub(super) fn read_hw_checkpoint(log_dir: &Path) -> HashMap<(String, i32), i64> {
    let path = log_dir.join(HW_CHECKPOINT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
        Err(e) => {
            tracing::warn!(
                "{}: {e}; high watermarks start from the log start",
                path.display()
            );
            return HashMap::new();
        }
    };
    match parse_hw_checkpoint(&text) {
        Some(entries) => entries,
        None => {
            tracing::warn!(
                "{} is not a valid checkpoint; high watermarks start from the log start",
                path.display()
            );
            HashMap::new()
        }
    }
}

pub(super) fn format_hw_checkpoint(entries: &[(String, i32, i64)]) -> String {
    let mut text = format!("0\n{}\n", entries.len());
    for (topic, partition, hw) in entries {
        text.push_str(&format!("{topic} {partition} {hw}\n"));
    }
    text
}

fn parse_hw_checkpoint(text: &str) -> Option<HashMap<(String, i32), i64>> {
    let mut lines = text.lines();
    if lines.next()? != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = HashMap::new();
    for line in lines.by_ref().take(count) {
        let mut fields = line.split(' ');
        let (topic, partition, hw) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() {
            return None;
        }
        let hw: i64 = hw.parse().ok().filter(|hw| *hw >= 0)?;
        entries.insert((topic.to_string(), partition.parse().ok()?), hw);
    }
    (entries.len() == count && lines.next().is_none()).then_some(entries)
}

/// Replaces `dir/name` with `contents` durably: a temporary file, fsync, rename, directory
/// fsync.
pub(super) fn write_file_atomically(
    dir: &Path,
    name: &str,
    contents: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_text_is_kafkas_format() {
        let entries = vec![("a".to_string(), 0, 5), ("b.c".to_string(), 12, 0)];
        let text = format_hw_checkpoint(&entries);
        assert_eq!(text, "0\n2\na 0 5\nb.c 12 0\n");
        let parsed = parse_hw_checkpoint(&text).expect("parses");
        assert_eq!(parsed[&("b.c".to_string(), 12)], 0);
        assert_eq!(parse_hw_checkpoint("0\n0\n"), Some(HashMap::new()));
        for bad in [
            "",
            "1\n0\n",
            "0\nx\n",
            "0\n1\n",
            "0\n1\na 0\n",
            "0\n1\na 0 -1\n",
            "0\n1\na 0 1 2\n",
        ] {
            assert_eq!(parse_hw_checkpoint(bad), None, "{bad:?}");
        }
    }
}
