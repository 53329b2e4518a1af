//! [`AuditLog`]: the handle the broker records audit events through.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::allowed::AuditAllowed;
use super::error::AuditError;
use super::event::AuditEvent;
use super::file::AuditFile;
use super::settings::AuditSettings;
use super::writer::{AuditWriter, Message};

/// Events waiting for the writer thread, at most. A slot is a pointer, so the queue takes
/// 512 KiB up front; the events themselves, a few hundred bytes each, are held only while
/// queued (under 64 MiB if every slot is taken). A broker that records more than this many
/// events faster than a file takes them loses the excess, counted in [`AuditLog::dropped`].
pub const AUDIT_QUEUE_CAPACITY: usize = 65_536;

/// A second destination for the lines, called on the writer thread with each line (without
/// its line feed) before it goes to the file, and with the lines that count dropped events.
/// The broker uses it to append the lines to `audit.topic.name`.
///
/// Contract: it must return quickly and not block (hand the line to a bounded queue with
/// `try_send`, say, and drop it when that is full): while it runs, no line reaches the file
/// and the audit queue fills. It must not panic: that stops the writer thread, and every
/// later event is dropped.
pub type AuditSink = Box<dyn FnMut(&[u8]) + Send>;

/// Records audit events as JSON lines, without slowing the requests it audits.
///
/// [`AuditLog::record`] only puts the event in a bounded queue, never waiting: a dedicated
/// writer thread serializes it, appends it to the file (and the [`AuditSink`]) through a
/// buffer, flushes whenever the queue is empty and at least every 100 ms, and rotates the
/// file by size. When the queue is full the event is dropped and counted, and the file gets a
/// line saying how many were lost once the writer catches up. Disk errors are reported once
/// through `tracing` and retried; they never fail or panic the caller.
///
/// Clones share the writer. [`AuditLog::shutdown`], or dropping the last clone, writes what is
/// queued, flushes and joins the thread: it blocks until then, so call it from the broker's
/// shutdown, not from an async task. A [disabled](AuditLog::disabled) log holds nothing and
/// runs no thread.
#[derive(Clone, Default)]
pub struct AuditLog {
    /// `None` when disabled.
    shared: Option<Arc<Shared>>,
}

struct Shared {
    queue: SyncSender<Message>,
    /// Also held by the writer, which counts the events the disk refused.
    dropped: Arc<AtomicU64>,
    allowed: AuditAllowed,
    /// `None` once shut down.
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl AuditLog {
    /// An audit log that records nothing, for `audit.enabled=false`.
    pub fn disabled() -> AuditLog {
        AuditLog { shared: None }
    }

    /// Checks the settings and, if `audit.enabled`, opens the file in `audit.log.dir` (or in
    /// `default_log_dir`, the broker's choice, when that is unset) and starts the writer
    /// thread. `sink`, if any, also gets every line; the broker passes one when
    /// `audit.topic.enabled`.
    pub fn start(
        settings: &AuditSettings,
        default_log_dir: &Path,
        sink: Option<AuditSink>,
    ) -> Result<AuditLog, AuditError> {
        AuditLog::start_with_capacity(settings, default_log_dir, sink, AUDIT_QUEUE_CAPACITY)
    }

    /// [`AuditLog::start`] with a queue of `capacity` events (tests fill a small one).
    fn start_with_capacity(
        settings: &AuditSettings,
        default_log_dir: &Path,
        sink: Option<AuditSink>,
        capacity: usize,
    ) -> Result<AuditLog, AuditError> {
        settings.validate()?;
        if !settings.enabled {
            return Ok(AuditLog::disabled());
        }
        let dir = settings.log_dir.as_deref().unwrap_or(default_log_dir);
        let file = AuditFile::open(dir, settings)?;
        let (queue, receiver) = mpsc::sync_channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = AuditWriter::new(receiver, file, sink, Arc::clone(&dropped));
        let thread = std::thread::Builder::new()
            .name("sluice-audit-log".to_string())
            .spawn(move || writer.run())
            .map_err(|source| AuditError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(AuditLog {
            shared: Some(Arc::new(Shared {
                queue,
                dropped,
                allowed: settings.allowed,
                writer: Mutex::new(Some(thread)),
            })),
        })
    }

    /// Whether events are recorded at all.
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// [`AuditSettings::should_record`] for the settings this log started with: the broker
    /// asks before it builds an event. Always false when disabled.
    pub fn should_record(&self, allowed: bool, is_admin_or_security_change: bool) -> bool {
        self.shared.as_ref().is_some_and(|shared| {
            !allowed || shared.allowed.records_allow(is_admin_or_security_change)
        })
    }

    /// Queues the event for the writer thread; never waits and never touches the disk. When
    /// the queue is full, or the log was shut down, the event is dropped and counted.
    pub fn record(&self, event: AuditEvent) {
        let Some(shared) = &self.shared else {
            return;
        };
        match shared.queue.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Events recorded since the start that are not in the file: the queue was full, the disk
    /// refused them, or they came after the shutdown. For the broker's metrics.
    pub fn dropped(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.dropped.load(Ordering::Relaxed))
    }

    /// Writes what was recorded before, flushes, and stops the writer thread, for every clone:
    /// what they record afterwards is dropped. Blocks until the thread has finished.
    pub fn shutdown(self) {
        if let Some(shared) = &self.shared {
            shared.stop();
        }
    }
}

impl Shared {
    fn stop(&self) {
        let thread = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(thread) = thread else {
            return;
        };
        // Waits only while the queue is full, which the writer is emptying. An error means
        // the writer is already gone: the join below says why.
        let _ = self.queue.send(Message::Shutdown);
        if thread.join().is_err() {
            tracing::warn!("audit log: the writer thread panicked; recent events may be lost");
        }
    }
}

/// The last clone gone, the log stops as [`AuditLog::shutdown`] does.
impl Drop for Shared {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("enabled", &self.is_enabled())
            .field("dropped", &self.dropped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{AclOperation, Decision, ResourceType};
    use crate::audit::AuditContext;
    use crate::principal::KafkaPrincipal;
    use serde_json::Value;
    use std::fs;
    use std::path::PathBuf;
    use std::sync::mpsc::Receiver;
    use std::time::{Duration, Instant, SystemTime};

    fn enabled() -> AuditSettings {
        AuditSettings {
            enabled: true,
            ..AuditSettings::default()
        }
    }

    /// An authorization event numbered by its correlation id.
    fn event(n: i32) -> AuditEvent {
        let alice = KafkaPrincipal::user("alice");
        let context = AuditContext {
            principal: &alice,
            client_address: "127.0.0.1:40000".parse().expect("an address literal"),
            listener: "CLIENT",
            api: "Produce",
            api_version: 11,
            correlation_id: Some(n),
            client_id: Some("test"),
        };
        AuditEvent::authorization(
            SystemTime::now(),
            &context,
            AclOperation::Write,
            ResourceType::Topic,
            "orders",
            &Decision::NoMatchingAllow,
        )
    }

    fn lines(path: &Path) -> Vec<Value> {
        fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }

    fn correlation_ids(path: &Path) -> Vec<i64> {
        lines(path)
            .iter()
            .map(|line| line["correlation_id"].as_i64().expect("an event line"))
            .collect()
    }

    fn audit_file(dir: &Path) -> PathBuf {
        dir.join("audit.log")
    }

    /// Polls `condition` until it holds or 10 s have passed.
    fn eventually(mut condition: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if condition() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        condition()
    }

    /// A sink that sends each line to the returned receiver.
    fn channel_sink() -> (AuditSink, Receiver<Vec<u8>>) {
        let (sender, receiver) = mpsc::channel();
        let sink: AuditSink = Box::new(move |line: &[u8]| {
            let _ = sender.send(line.to_vec());
        });
        (sink, receiver)
    }

    #[test]
    fn handles_are_shared_across_threads() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<AuditLog>();
    }

    #[test]
    fn writes_json_lines_and_shutdown_flushes_everything() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = AuditLog::start(&enabled(), dir.path(), None).expect("starts");
        let probe = log.clone();
        for n in 0..10_000 {
            log.record(event(n));
        }
        log.shutdown();
        let ids = correlation_ids(&audit_file(dir.path()));
        assert_eq!(ids, (0..10_000).collect::<Vec<i64>>());
        assert_eq!(probe.dropped(), 0);
        let first = &lines(&audit_file(dir.path()))[0];
        assert_eq!(first["kind"], "authorization");
        assert_eq!(first["result"], "DENIED");
        assert_eq!(first["reason"], "DefaultDeny");
        assert_eq!(first["principal"], "User:alice");
        // After the shutdown, clones record nothing and count what they lose.
        probe.record(event(10_000));
        assert_eq!(probe.dropped(), 1);
        drop(probe);
        assert_eq!(correlation_ids(&audit_file(dir.path())).len(), 10_000);
    }

    #[test]
    fn an_idle_writer_flushes_without_being_asked() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = AuditLog::start(&enabled(), dir.path(), None).expect("starts");
        log.record(event(1));
        log.record(event(2));
        assert!(eventually(
            || correlation_ids(&audit_file(dir.path())) == [1, 2]
        ));
        log.shutdown();
    }

    #[test]
    fn dropping_the_last_handle_flushes_and_stops() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = AuditLog::start(&enabled(), dir.path(), None).expect("starts");
        let clone = log.clone();
        let thread = std::thread::spawn(move || clone.record(event(1)));
        thread.join().expect("the recording thread");
        log.record(event(2));
        drop(log);
        let mut ids = correlation_ids(&audit_file(dir.path()));
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn a_full_queue_drops_counts_and_says_so_once_there_is_room() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // The sink holds the writer thread on the first line until released.
        let (entered, writer_entered) = mpsc::channel::<()>();
        let (release, released) = mpsc::channel::<()>();
        let sink: AuditSink = Box::new(move |_line: &[u8]| {
            let _ = entered.send(());
            let _ = released.recv();
        });
        let log =
            AuditLog::start_with_capacity(&enabled(), dir.path(), Some(sink), 1).expect("starts");
        log.record(event(0));
        writer_entered
            .recv_timeout(Duration::from_secs(10))
            .expect("the writer takes the first event");
        log.record(event(1)); // the one queue slot
        log.record(event(2));
        log.record(event(3));
        log.record(event(4));
        assert_eq!(log.dropped(), 3);
        drop(release);
        let probe = log.clone();
        log.shutdown();
        assert_eq!(probe.dropped(), 3);
        let lines = lines(&audit_file(dir.path()));
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0]["correlation_id"], 0);
        assert_eq!(lines[1]["correlation_id"], 1);
        assert_eq!(lines[2]["kind"], "dropped");
        assert_eq!(lines[2]["dropped_events"], 3);
        assert!(lines[2]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn rotates_through_the_handle_keeping_max_files() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let line_bytes = event(100).to_json_line().len() as u64 + 1;
        let settings = AuditSettings {
            max_file_bytes: 3 * line_bytes,
            max_files: 2,
            ..enabled()
        };
        let log = AuditLog::start(&settings, dir.path(), None).expect("starts");
        for n in 100..150 {
            log.record(event(n));
        }
        log.shutdown();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .expect("the test's directory")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["audit.log", "audit.log.1", "audit.log.2"]);
        let mut ids = Vec::new();
        for name in ["audit.log.2", "audit.log.1", "audit.log"] {
            let path = dir.path().join(name);
            let size = fs::metadata(&path).expect("the file exists").len();
            assert!(size <= settings.max_file_bytes, "{name}: {size} bytes");
            ids.extend(correlation_ids(&path));
        }
        // The newest events, none missing: 50 lines of 3 per file leave 2 in the current one.
        assert_eq!(ids, (142..150).collect::<Vec<i64>>());
    }

    #[test]
    fn the_sink_gets_every_line_the_file_gets() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (sink, received) = channel_sink();
        let log = AuditLog::start(&enabled(), dir.path(), Some(sink)).expect("starts");
        for n in 0..100 {
            log.record(event(n));
        }
        log.shutdown();
        let from_sink: Vec<String> = received
            .try_iter()
            .map(|line| String::from_utf8(line).expect("JSON is UTF-8"))
            .collect();
        let from_file: Vec<String> = fs::read_to_string(audit_file(dir.path()))
            .expect("the file exists")
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(from_sink.len(), 100);
        assert_eq!(from_sink, from_file);
        assert!(from_sink.iter().all(|line| !line.ends_with('\n')));
    }

    #[test]
    fn uses_audit_log_dir_over_the_brokers_choice() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let chosen = dir.path().join("audit").join("nested");
        let settings = AuditSettings {
            log_dir: Some(chosen.clone()),
            file_name: "events.jsonl".to_string(),
            ..enabled()
        };
        let default_dir = dir.path().join("default");
        let log = AuditLog::start(&settings, &default_dir, None).expect("starts");
        log.record(event(7));
        log.shutdown();
        assert_eq!(correlation_ids(&chosen.join("events.jsonl")), [7]);
        assert!(!default_dir.exists());
    }

    #[test]
    fn disabled_records_nothing_and_starts_nothing() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = AuditLog::start(&AuditSettings::default(), dir.path(), None).expect("starts");
        assert!(!log.is_enabled());
        assert!(!log.should_record(false, true));
        log.record(event(1));
        assert_eq!(log.dropped(), 0);
        log.shutdown();
        assert_eq!(
            fs::read_dir(dir.path())
                .expect("the test's directory")
                .count(),
            0
        );
        let log = AuditLog::disabled();
        log.record(event(1));
        assert_eq!(
            format!("{log:?}"),
            "AuditLog { enabled: false, dropped: 0 }"
        );
    }

    #[test]
    fn should_record_follows_audit_log_allowed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let settings = AuditSettings {
            allowed: AuditAllowed::Admin,
            ..enabled()
        };
        let log = AuditLog::start(&settings, dir.path(), None).expect("starts");
        for (allowed, admin) in [(false, false), (false, true), (true, false), (true, true)] {
            assert_eq!(
                log.should_record(allowed, admin),
                settings.should_record(allowed, admin)
            );
        }
        log.shutdown();
    }

    #[test]
    fn refuses_to_start_with_bad_settings_or_an_unwritable_directory() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let settings = AuditSettings {
            file_name: "a/b".to_string(),
            ..enabled()
        };
        assert!(matches!(
            AuditLog::start(&settings, dir.path(), None),
            Err(AuditError::InvalidConfig(_))
        ));
        let not_a_dir = dir.path().join("plain-file");
        fs::write(&not_a_dir, b"").expect("writes");
        assert!(matches!(
            AuditLog::start(&enabled(), &not_a_dir, None),
            Err(AuditError::Io { .. })
        ));
    }
}
