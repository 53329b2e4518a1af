//! Small durable files in the partition directory.
//!
//! `log-start-offset.checkpoint` (text, like Kafka's checkpoint files):
//! ```text
//! line 1: format version, "0"
//! line 2: the log start offset as a decimal i64
//! ```
//! Written to `log-start-offset.checkpoint.tmp`, fsynced, renamed over the old file, and the
//! directory fsynced, so a crash leaves either the old or the new value.
//!
//! `cleaner-offset.checkpoint` has the same layout with the cleaner's first dirty offset on line
//! 2 (the offset below which the log has been compacted), written the same way.
//!
//! `recovery-point.checkpoint`, same layout: the base offset of the segment holding the flushed
//! offset. Every segment below it is fsynced, so recovery after a crash validates only the
//! segments from it on (Kafka's recovery point, at segment granularity).
//!
//! `.clean-shutdown` (empty): present only between a clean `close` and the next `open`; its
//! presence lets `open` skip deep validation of the active segment.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;

pub(crate) const LOG_START_OFFSET_FILE: &str = "log-start-offset.checkpoint";
pub(crate) const CLEANER_OFFSET_FILE: &str = "cleaner-offset.checkpoint";
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point.checkpoint";
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
pub(crate) const TMP_SUFFIX: &str = ".tmp";
const VERSION: &str = "0";

/// Reads the log start offset checkpoint; `None` if there is none.
pub(crate) fn read_log_start_offset(dir: &Path) -> Result<Option<i64>, LogError> {
    read_offset_file(dir, LOG_START_OFFSET_FILE)
}

/// Durably replaces the log start offset checkpoint.
pub(crate) fn write_log_start_offset(dir: &Path, offset: i64) -> Result<(), LogError> {
    write_offset_file(dir, LOG_START_OFFSET_FILE, offset)
}

/// Reads an offset checkpoint file `name` in `dir`; `None` if there is none.
pub(crate) fn read_offset_file(dir: &Path, name: &str) -> Result<Option<i64>, LogError> {
    let path = dir.join(name);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(&path)(e)),
    };
    let corrupt = |reason: &str| LogError::Corrupt {
        path: path.clone(),
        reason: reason.to_string(),
    };
    let mut lines = text.lines();
    if lines.next() != Some(VERSION) {
        return Err(corrupt("unknown checkpoint version"));
    }
    let offset = lines
        .next()
        .and_then(|l| l.trim().parse::<i64>().ok())
        .ok_or_else(|| corrupt("missing or malformed offset"))?;
    if offset < 0 {
        return Err(corrupt("negative offset"));
    }
    Ok(Some(offset))
}

/// Durably replaces the offset checkpoint file `name` in `dir`.
pub(crate) fn write_offset_file(dir: &Path, name: &str, offset: i64) -> Result<(), LogError> {
    write_atomically(dir, name, format!("{VERSION}\n{offset}\n").as_bytes())
}

/// Durably replaces the file `name` in `dir` with `contents`: written to `<name>.tmp`, fsynced,
/// renamed over the old file, and the directory fsynced, so a crash leaves either the old or
/// the new contents.
pub(crate) fn write_atomically(dir: &Path, name: &str, contents: &[u8]) -> Result<(), LogError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let mut file = File::create(&tmp).map_err(LogError::io(&tmp))?;
    file.write_all(contents)
        .and_then(|_| file.sync_all())
        .map_err(LogError::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(LogError::io(&path))?;
    sync_dir(dir)
}

/// Replaces the file `name` in `dir` with `contents` through `<name>.tmp` and a rename, without
/// fsync: for files written on the append path, whose fsync waits for the next flush (on a
/// blocking thread). A crash before that flush can leave the file torn; its readers detect
/// that and rebuild what it held. Returns the file's path, for that flush.
pub(crate) fn write_replacing(
    dir: &Path,
    name: &str,
    contents: &[u8],
) -> Result<PathBuf, LogError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    fs::write(&tmp, contents).map_err(LogError::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(LogError::io(&path))?;
    Ok(path)
}

/// fsyncs a file written by [`write_replacing`]; one removed since is not an error.
pub(crate) fn sync_file(path: &Path) -> Result<(), LogError> {
    match File::open(path).and_then(|f| f.sync_data()) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(LogError::io(path)),
    }
}

/// Makes renames and file creations in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LogError::io(dir))
}

pub(crate) fn clean_shutdown_path(dir: &Path) -> PathBuf {
    dir.join(CLEAN_SHUTDOWN_FILE)
}

pub(crate) fn write_clean_shutdown(dir: &Path) -> Result<(), LogError> {
    let path = clean_shutdown_path(dir);
    OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .and_then(|f| f.sync_all())
        .map_err(LogError::io(&path))?;
    sync_dir(dir)
}

/// Removes the marker, durably, before the log accepts writes again. Returns whether it existed.
pub(crate) fn take_clean_shutdown(dir: &Path) -> Result<bool, LogError> {
    let path = clean_shutdown_path(dir);
    match fs::remove_file(&path) {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LogError::io(&path)(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn log_start_offset_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), None);
        write_log_start_offset(dir.path(), 42).unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), Some(42));
        write_log_start_offset(dir.path(), 7).unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), Some(7));
        fs::write(dir.path().join(LOG_START_OFFSET_FILE), "0\nxyz\n").unwrap();
        assert!(read_log_start_offset(dir.path()).is_err());
    }

    #[test]
    fn clean_shutdown_marker() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!take_clean_shutdown(dir.path()).unwrap());
        write_clean_shutdown(dir.path()).unwrap();
        assert!(take_clean_shutdown(dir.path()).unwrap());
        assert!(!take_clean_shutdown(dir.path()).unwrap());
    }
}
