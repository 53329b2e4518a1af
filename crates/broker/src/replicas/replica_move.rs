//! Moving a replica between log directories (AlterReplicaLogDirs, KIP-113), the file side.
//!
//! The copy goes into `<destination>/<topic>-<partition>.<random>-future` while the current
//! log keeps serving. Copy passes ([`FutureCopy::pass`]) bring the future directory up to date
//! file by file: a file unchanged since its last copy (same length and modification time) is
//! skipped, a segment (`.log`) that only grew gets its new tail appended, anything else is
//! copied whole. The last pass runs with appends blocked and the log closed (see
//! `Partition::move_to_dir`), then the swap is two renames:
//! 1. the current directory becomes `<topic>-<partition>.<random>-delete`;
//! 2. the future directory becomes `<destination>/<topic>-<partition>`.
//!
//! A crash between them leaves a complete future directory and no current one; at start
//! ([`recover_future_dirs`]) a future directory whose partition has a current directory is an
//! unfinished copy: it is removed and the move starts over once the replica is open again
//! (as Kafka's future replicas resume after a restart); one without is promoted. `-delete`
//! directories are removed at start as always.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use uuid::Uuid;

/// Suffix of a replica's copy in its destination directory while it moves.
pub(super) const FUTURE_SUFFIX: &str = "-future";

/// `<topic>-<partition>.<random>-future`, Kafka's future-replica directory name.
pub(super) fn future_dir_name(topic: &str, index: i32) -> String {
    format!("{topic}-{index}.{}{FUTURE_SUFFIX}", Uuid::new_v4().simple())
}

/// The `<topic>-<partition>` name a future directory will take, if `name` is one.
pub(super) fn future_target_name(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(FUTURE_SUFFIX)?;
    let (target, random) = stem.rsplit_once('.')?;
    let (_, index) = target.rsplit_once('-')?;
    (random.len() == 32 && index.parse::<i32>().is_ok()).then_some(target)
}

/// What one future directory holds, to copy only what changed since.
pub(super) struct FutureCopy {
    /// File name -> (length, modification time) of the source when it was copied.
    copied: HashMap<OsString, (u64, SystemTime)>,
    /// When the first pass began, less a margin for coarse file timestamps.
    started: SystemTime,
}

impl Default for FutureCopy {
    fn default() -> Self {
        FutureCopy {
            copied: HashMap::new(),
            started: SystemTime::now() - std::time::Duration::from_secs(2),
        }
    }
}

impl FutureCopy {
    /// Brings `future` up to date with `source`; returns the bytes copied. With
    /// `tails_only_grow` false (the log was truncated since the last pass), a grown segment is
    /// copied whole rather than by its tail. Files no longer in `source` are removed from
    /// `future`. With `durable` (the last pass), every file written and the directory are
    /// fsynced, and every file other than a segment that changed during the move is copied
    /// again whatever its length and time say: file times are coarse (a tick of the kernel
    /// clock), so a checkpoint rewritten at the same length within the tick of its previous
    /// copy would look unchanged. A segment only grows (or is truncated, which the caller
    /// tells), so its length is enough. `pace` is told the bytes of each chunk copied (the
    /// move's throttle waits in it).
    pub(super) fn pass(
        &mut self,
        source: &Path,
        future: &Path,
        tails_only_grow: bool,
        durable: bool,
        pace: &dyn Fn(u64),
    ) -> std::io::Result<u64> {
        fs::create_dir_all(future)?;
        let mut bytes = 0;
        let mut seen = Vec::new();
        // Outside the last pass the log keeps working: a file listed here may be gone by the
        // time it is read (an old producer snapshot, a rewritten checkpoint's temporary file).
        // It is skipped, and the pass that sees it gone removes its copy.
        let vanished = |e: &std::io::Error| !durable && e.kind() == std::io::ErrorKind::NotFound;
        for entry in fs::read_dir(source)? {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            };
            if !meta.is_file() {
                continue;
            }
            let name = entry.file_name();
            seen.push(name.clone());
            let now = (meta.len(), meta.modified()?);
            let before = self.copied.get(&name).copied();
            let is_segment = Path::new(&name).extension().is_some_and(|e| e == "log");
            let recent = now.1 >= self.started;
            if before == Some(now) && !(durable && recent && !is_segment) {
                continue;
            }
            let from = match before {
                Some((len, _)) if is_segment && tails_only_grow && len < now.0 => len,
                _ => 0,
            };
            match copy_from(&entry.path(), &future.join(&name), from, durable, pace) {
                Ok(copied) => {
                    bytes += copied;
                    self.copied.insert(name, now);
                }
                Err(e) if vanished(&e) => {
                    seen.pop();
                }
                Err(e) => return Err(e),
            }
        }
        // Files the log removed (retention, compaction, a roll's leftovers) go too.
        for entry in fs::read_dir(future)? {
            let entry = entry?;
            let name = entry.file_name();
            if !seen.contains(&name) {
                fs::remove_file(entry.path())?;
                self.copied.remove(&name);
            }
        }
        if durable {
            fs::File::open(future)?.sync_all()?;
        }
        Ok(bytes)
    }
}

/// Copies `source` from byte `from` onto `target` (truncated to `from` first), telling `pace`
/// each chunk; returns the bytes copied.
fn copy_from(
    source: &Path,
    target: &Path,
    from: u64,
    durable: bool,
    pace: &dyn Fn(u64),
) -> std::io::Result<u64> {
    let mut input = fs::File::open(source)?;
    let mut output = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(from == 0)
        .open(target)?;
    output.set_len(from)?;
    input.seek(SeekFrom::Start(from))?;
    output.seek(SeekFrom::Start(from))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut copied = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n])?;
        copied += n as u64;
        pace(n as u64);
    }
    if durable {
        output.sync_all()?;
    }
    Ok(copied)
}

/// What [`recover_future_dirs`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RecoveredFutures {
    /// Future directories renamed to their partition's name (the move was done).
    pub promoted: Vec<PathBuf>,
    /// Unfinished moves, to start again: (topic, partition, destination directory).
    pub interrupted: Vec<(String, i32, PathBuf)>,
}

/// At start, over every online log directory: removes each future directory whose partition
/// has a current directory in any of `dirs` (an unfinished move, returned to be started
/// again), and renames the others to their partition's name (a move that crashed between its
/// two renames).
pub(super) fn recover_future_dirs(dirs: &[&Path]) -> RecoveredFutures {
    let mut futures = Vec::new();
    let mut current = std::collections::HashSet::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() {
                continue;
            }
            match future_target_name(&name) {
                Some(target) => futures.push((dir.to_path_buf(), name.clone(), target.to_string())),
                None => {
                    current.insert(name);
                }
            }
        }
    }
    let mut out = RecoveredFutures::default();
    for (dir, name, target) in futures {
        let path = dir.join(&name);
        if current.contains(&target) {
            tracing::info!(
                "removing {}: an unfinished move of {target} to {}, started again once the \
                 replica is open",
                path.display(),
                dir.display()
            );
            if let Err(e) = fs::remove_dir_all(&path) {
                tracing::warn!("could not remove {}: {e}", path.display());
            }
            if let Some((topic, index)) = target.rsplit_once('-') {
                if let Ok(index) = index.parse::<i32>() {
                    out.interrupted
                        .push((topic.to_string(), index, dir.clone()));
                }
            }
        } else {
            let to = dir.join(&target);
            match fs::rename(&path, &to) {
                Ok(()) => {
                    tracing::info!(
                        "finished the move of {target} to {} (interrupted by a restart)",
                        dir.display()
                    );
                    current.insert(target);
                    out.promoted.push(to);
                }
                Err(e) => tracing::error!("could not rename {}: {e}", path.display()),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).expect("write");
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(bytes).expect("append");
    }

    #[test]
    fn future_names_round_trip() {
        let name = future_dir_name("my.topic-x", 12);
        assert_eq!(future_target_name(&name), Some("my.topic-x-12"));
        for bad in [
            "t-0",
            "t-0-future",
            "t-0.abc-future",
            "t-x.0123456789abcdef0123456789abcdef-future",
        ] {
            assert_eq!(future_target_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn passes_copy_what_changed_and_tails_of_grown_segments() {
        let root = tempfile::tempdir().expect("dir");
        let source = root.path().join("t-0");
        let future = root.path().join("f");
        fs::create_dir_all(&source).expect("mkdir");
        write(&source.join("00000000000000000000.log"), b"abc");
        write(&source.join("00000000000000000000.index"), b"ix");
        write(&source.join("partition.metadata"), b"meta");
        let mut copy = FutureCopy::default();
        assert_eq!(
            copy.pass(&source, &future, true, false, &|_| {})
                .expect("pass"),
            9
        );
        // Nothing changed: nothing copied.
        assert_eq!(
            copy.pass(&source, &future, true, false, &|_| {})
                .expect("pass"),
            0
        );
        // A grown segment: only its tail; a new segment whole; a removed file goes.
        append(&source.join("00000000000000000000.log"), b"defg");
        write(&source.join("00000000000000000007.log"), b"hi");
        fs::remove_file(source.join("00000000000000000000.index")).expect("rm");
        assert_eq!(
            copy.pass(&source, &future, true, false, &|_| {})
                .expect("pass"),
            6
        );
        assert_eq!(
            fs::read(future.join("00000000000000000000.log")).expect("read"),
            b"abcdefg"
        );
        assert_eq!(
            fs::read(future.join("00000000000000000007.log")).expect("read"),
            b"hi"
        );
        assert!(!future.join("00000000000000000000.index").exists());
        // After a truncation a grown segment is copied whole (its prefix may differ).
        write(&source.join("00000000000000000007.log"), b"XYZW");
        assert_eq!(
            copy.pass(&source, &future, false, false, &|_| {})
                .expect("pass"),
            4
        );
        assert_eq!(
            fs::read(future.join("00000000000000000007.log")).expect("read"),
            b"XYZW"
        );
        // A shrunk file (a compacted segment) is copied whole; the last (durable) pass copies
        // again every other file changed during the move (4 bytes of partition.metadata).
        write(&source.join("00000000000000000000.log"), b"ab");
        assert_eq!(
            copy.pass(&source, &future, true, true, &|_| {})
                .expect("pass"),
            2 + 4
        );
        assert_eq!(
            fs::read(future.join("00000000000000000000.log")).expect("read"),
            b"ab"
        );
    }

    #[test]
    fn future_dirs_are_removed_or_promoted_at_start() {
        let root = tempfile::tempdir().expect("dir");
        let a = root.path().join("a");
        let b = root.path().join("b");
        // t-0 still current in a: its copy in b was unfinished.
        fs::create_dir_all(a.join("t-0")).expect("mkdir");
        let unfinished = b.join(future_dir_name("t", 0));
        fs::create_dir_all(&unfinished).expect("mkdir");
        // t-1 has only its future copy: the source was already renamed away.
        let done = b.join(future_dir_name("t", 1));
        fs::create_dir_all(&done).expect("mkdir");
        write(&done.join("00000000000000000000.log"), b"data");
        let recovered = recover_future_dirs(&[&a, &b]);
        assert_eq!(recovered.promoted, [b.join("t-1")]);
        assert_eq!(recovered.interrupted, [("t".to_string(), 0, b.clone())]);
        assert!(!unfinished.exists());
        assert!(a.join("t-0").exists());
        assert_eq!(
            fs::read(b.join("t-1").join("00000000000000000000.log")).expect("read"),
            b"data"
        );
    }
}
