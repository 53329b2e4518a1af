//! The audit file and its rotation, used by the writer thread only.
//!
//! In `audit.log.dir`, with the default names:
//! ```text
//! audit.log      the file being written
//! audit.log.1    the newest rotated file
//! ...
//! audit.log.N    the oldest, N = audit.log.max.files
//! ```
//! At rotation `audit.log.N` is deleted, each `audit.log.k` becomes `audit.log.k+1` (from the
//! oldest, so none is overwritten), `audit.log` becomes `audit.log.1`, and a new `audit.log`
//! is created: the names say the order without reading the files, as log4j's rolling files do.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::AuditError;
use super::settings::AuditSettings;

/// What the writer buffers before a write to the file: lines are a few hundred bytes, so a
/// busy broker writes many per system call.
const BUFFER_BYTES: usize = 64 * 1024;

/// The file being written, appended through a buffer, rotated by size.
pub(super) struct AuditFile {
    dir: PathBuf,
    file_name: String,
    max_file_bytes: u64,
    max_files: u32,
    /// `None` after the file could not be (re)opened: the next append tries again.
    writer: Option<BufWriter<File>>,
    /// The current file's size, counting what is still in the buffer. Invariant: at most
    /// `max_file_bytes`, unless the file holds a single longer line (or was bigger when
    /// opened: the next append rotates it).
    file_bytes: u64,
    /// The disk operation that failed and was reported, and has not succeeded since: its
    /// next failures are not reported again, so a full disk logs one warning, not one a line.
    failing: Option<DiskOp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiskOp {
    Open,
    Rotate,
    Write,
}

impl DiskOp {
    fn name(self) -> &'static str {
        match self {
            DiskOp::Open => "cannot open the file",
            DiskOp::Rotate => "cannot rotate the files",
            DiskOp::Write => "cannot write",
        }
    }
}

impl AuditFile {
    /// Creates the directory if needed and opens the file for appending. At startup, so a
    /// directory the broker cannot write stops it with a clear error.
    pub(super) fn open(dir: &Path, settings: &AuditSettings) -> Result<AuditFile, AuditError> {
        fs::create_dir_all(dir).map_err(|source| AuditError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut file = AuditFile {
            dir: dir.to_path_buf(),
            file_name: settings.file_name.clone(),
            max_file_bytes: settings.max_file_bytes,
            max_files: settings.max_files,
            writer: None,
            file_bytes: 0,
            failing: None,
        };
        file.reopen().map_err(|source| AuditError::Io {
            path: file.path(),
            source,
        })?;
        Ok(file)
    }

    /// The file being written.
    pub(super) fn path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }

    /// The `n`th rotated file, 1 the newest.
    fn rotated_path(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{}.{n}", self.file_name))
    }

    /// Appends one line (with its line feed), rotating first if the line would take the file
    /// past its size. Returns whether the buffer took the line; when it did not, the disk
    /// error has been reported and the line is lost.
    pub(super) fn append(&mut self, line: &[u8]) -> bool {
        if self.writer.is_none() {
            match self.reopen() {
                Ok(()) => self.recovered(DiskOp::Open),
                Err(error) => {
                    self.report(DiskOp::Open, &error);
                    return false;
                }
            }
        }
        let line_bytes = u64::try_from(line.len()).unwrap_or(u64::MAX);
        if self.file_bytes > 0 && self.file_bytes.saturating_add(line_bytes) > self.max_file_bytes {
            match self.rotate() {
                Ok(()) => self.recovered(DiskOp::Rotate),
                // The current file, if still open, takes the line: too big beats lost.
                Err(error) => self.report(DiskOp::Rotate, &error),
            }
        }
        let Some(writer) = self.writer.as_mut() else {
            return false;
        };
        match writer.write_all(line) {
            Ok(()) => {
                self.file_bytes = self.file_bytes.saturating_add(line_bytes);
                true
            }
            Err(error) => {
                self.report(DiskOp::Write, &error);
                false
            }
        }
    }

    /// Hands the buffered lines to the operating system (no fsync: an audit line is not
    /// acknowledged to anyone, and a sync per flush would cost more than the requests it
    /// records). What a failed flush could not write stays buffered for the next one.
    pub(super) fn flush(&mut self) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        match writer.flush() {
            Ok(()) => self.recovered(DiskOp::Write),
            Err(error) => self.report(DiskOp::Write, &error),
        }
    }

    /// Whether lines wait in the buffer (after a failed flush): the writer then retries soon
    /// instead of waiting for the next event.
    pub(super) fn has_unflushed(&self) -> bool {
        self.writer
            .as_ref()
            .is_some_and(|writer| !writer.buffer().is_empty())
    }

    /// Moves the files one name up and starts a new file. Until the current file is renamed,
    /// an error leaves it open and being written.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(writer) = self.writer.as_mut() {
            writer.flush()?;
        }
        let current = self.path();
        if self.max_files == 0 {
            remove_if_present(&current)?;
        } else {
            remove_if_present(&self.rotated_path(self.max_files))?;
            for n in (1..self.max_files).rev() {
                rename_if_present(&self.rotated_path(n), &self.rotated_path(n + 1))?;
            }
            fs::rename(&current, self.rotated_path(1))?;
        }
        // The handle now names a rotated (or deleted) file.
        self.writer = None;
        self.reopen()
    }

    fn reopen(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path())?;
        self.file_bytes = file.metadata()?.len();
        self.writer = Some(BufWriter::with_capacity(BUFFER_BYTES, file));
        Ok(())
    }

    fn report(&mut self, op: DiskOp, error: &io::Error) {
        if self.failing != Some(op) {
            self.failing = Some(op);
            tracing::warn!(
                "audit log {}: {}: {error}; audit events are dropped until it works again \
                 (retried at each flush)",
                self.path().display(),
                op.name()
            );
        }
    }

    fn recovered(&mut self, op: DiskOp) {
        if self.failing == Some(op) {
            self.failing = None;
            tracing::info!("audit log {}: writing again", self.path().display());
        }
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_file_bytes: u64, max_files: u32) -> AuditSettings {
        AuditSettings {
            enabled: true,
            max_file_bytes,
            max_files,
            ..AuditSettings::default()
        }
    }

    /// A line of exactly 40 bytes with its line feed.
    fn line(n: usize) -> Vec<u8> {
        format!("{{\"n\":{n:>33}}}\n").into_bytes()
    }

    fn read(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .expect("the test wrote this file")
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn numbers(path: &Path) -> Vec<usize> {
        read(path)
            .iter()
            .map(|l| {
                l.trim_start_matches("{\"n\":")
                    .trim_end_matches('}')
                    .trim()
                    .parse()
                    .expect("a line of the test")
            })
            .collect()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("the test's directory")
            .map(|entry| {
                entry
                    .expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn rotation_keeps_exactly_max_files_rotated_files() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // 100 bytes hold two 40-byte lines.
        let mut file = AuditFile::open(dir.path(), &settings(100, 3)).expect("opens");
        assert_eq!(line(7).len(), 40);
        for n in 0..20 {
            assert!(file.append(&line(n)));
        }
        file.flush();
        assert_eq!(
            names(dir.path()),
            ["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]
        );
        // The newest lines, in order from the oldest kept file to the current one.
        assert_eq!(numbers(&dir.path().join("audit.log.3")), [12, 13]);
        assert_eq!(numbers(&dir.path().join("audit.log.2")), [14, 15]);
        assert_eq!(numbers(&dir.path().join("audit.log.1")), [16, 17]);
        assert_eq!(numbers(&dir.path().join("audit.log")), [18, 19]);
    }

    #[test]
    fn max_files_zero_starts_the_file_over() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut file = AuditFile::open(dir.path(), &settings(100, 0)).expect("opens");
        for n in 0..5 {
            assert!(file.append(&line(n)));
        }
        file.flush();
        assert_eq!(names(dir.path()), ["audit.log"]);
        assert_eq!(numbers(&dir.path().join("audit.log")), [4]);
    }

    #[test]
    fn a_line_longer_than_max_bytes_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut file = AuditFile::open(dir.path(), &settings(30, 5)).expect("opens");
        for n in 0..3 {
            assert!(file.append(&line(n)));
        }
        file.flush();
        assert_eq!(numbers(&dir.path().join("audit.log.2")), [0]);
        assert_eq!(numbers(&dir.path().join("audit.log.1")), [1]);
        assert_eq!(numbers(&dir.path().join("audit.log")), [2]);
    }

    #[test]
    fn reopening_appends_and_counts_what_is_there() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut file = AuditFile::open(dir.path(), &settings(100, 2)).expect("opens");
        assert!(file.append(&line(0)));
        file.flush();
        drop(file);
        let mut file = AuditFile::open(dir.path(), &settings(100, 2)).expect("opens");
        assert_eq!(file.file_bytes, 40);
        assert!(file.append(&line(1)));
        assert!(file.append(&line(2)));
        file.flush();
        assert_eq!(numbers(&dir.path().join("audit.log.1")), [0, 1]);
        assert_eq!(numbers(&dir.path().join("audit.log")), [2]);
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_retried_at_the_next_line() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut file = AuditFile::open(dir.path(), &settings(1000, 2)).expect("opens");
        // Lose the file, and put a directory where it should be reopened.
        file.writer = None;
        fs::remove_file(file.path()).expect("the file exists");
        fs::create_dir(file.path()).expect("creates a directory");
        assert!(!file.append(&line(0)));
        assert_eq!(file.failing, Some(DiskOp::Open));
        assert!(!file.has_unflushed());
        fs::remove_dir(file.path()).expect("the directory exists");
        assert!(file.append(&line(1)));
        assert_eq!(file.failing, None);
        file.flush();
        assert_eq!(numbers(&file.path()), [1]);
    }

    #[test]
    fn refuses_to_start_where_it_cannot_write() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let not_a_dir = dir.path().join("plain-file");
        fs::write(&not_a_dir, b"").expect("writes");
        match AuditFile::open(&not_a_dir, &settings(1000, 2)) {
            Err(AuditError::Io { path, .. }) => assert_eq!(path, not_a_dir),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("opened a file inside a file"),
        }
    }
}
