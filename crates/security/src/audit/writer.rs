//! The writer thread: takes events from the queue, writes their lines to the file and the sink,
//! flushes, and says how many events were lost. The only place audit I/O happens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::event::AuditEvent;
use super::file::AuditFile;
use super::log::AuditSink;
use super::timestamp::Rfc3339Millis;

/// The longest a line waits in the buffer while events keep coming; an idle writer flushes at
/// once. Also how soon a failed flush is retried.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// What the [`AuditLog`](super::AuditLog) handles send to the writer thread.
pub(super) enum Message {
    /// Boxed so that a queue slot is a pointer: the queue allocates all its slots up front.
    Event(Box<AuditEvent>),
    /// Write what was queued before, flush, and stop.
    Shutdown,
}

/// The state of the writer thread.
pub(super) struct AuditWriter {
    queue: Receiver<Message>,
    file: AuditFile,
    sink: Option<AuditSink>,
    /// Events recorded but not in the file: counted by the handles when the queue refused
    /// them, and here when the disk did.
    dropped: Arc<AtomicU64>,
    /// The value of `dropped` that notices already written account for. Invariant:
    /// `reported_dropped <= dropped`.
    reported_dropped: u64,
    /// The line being written, reused so writing allocates nothing once warm.
    line: Vec<u8>,
    last_flush: Instant,
}

/// The line that says events are missing before it, written once the writer catches up.
#[derive(Serialize)]
struct DroppedNotice {
    time: Rfc3339Millis,
    /// `dropped`: a kind of its own, so a reader of `authentication` and `authorization`
    /// lines does not mistake it for one.
    kind: &'static str,
    /// Events lost since the previous notice: the queue was full, or the disk refused them.
    dropped_events: u64,
}

impl AuditWriter {
    pub(super) fn new(
        queue: Receiver<Message>,
        file: AuditFile,
        sink: Option<AuditSink>,
        dropped: Arc<AtomicU64>,
    ) -> AuditWriter {
        AuditWriter {
            queue,
            file,
            sink,
            dropped,
            reported_dropped: 0,
            line: Vec::with_capacity(1024),
            last_flush: Instant::now(),
        }
    }

    /// The thread's body: returns after a [`Message::Shutdown`] or when every handle is gone,
    /// having written and flushed everything queued before.
    pub(super) fn run(mut self) {
        loop {
            let message = match self.queue.try_recv() {
                Ok(message) => message,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    // Idle: what was written reaches the file before the thread waits.
                    self.flush();
                    let next = if self.file.has_unflushed() {
                        self.queue.recv_timeout(FLUSH_INTERVAL)
                    } else {
                        self.queue
                            .recv()
                            .map_err(|_| RecvTimeoutError::Disconnected)
                    };
                    match next {
                        Ok(message) => message,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            match message {
                Message::Event(event) => self.write_event(&event),
                Message::Shutdown => break,
            }
            if self.last_flush.elapsed() >= FLUSH_INTERVAL {
                self.flush();
            }
        }
        // Events queued before the shutdown are written too; later ones count as dropped.
        while let Ok(Message::Event(event)) = self.queue.try_recv() {
            self.write_event(&event);
        }
        self.flush();
    }

    fn write_event(&mut self, event: &AuditEvent) {
        self.line.clear();
        event.write_json(&mut self.line);
        if !self.emit_line() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Gives `self.line` to the sink and appends it to the file; returns whether the file
    /// took it.
    fn emit_line(&mut self) -> bool {
        if let Some(sink) = self.sink.as_mut() {
            sink(&self.line);
        }
        self.line.push(b'\n');
        self.file.append(&self.line)
    }

    /// Writes a notice of the events dropped since the last one, if any, then flushes.
    fn flush(&mut self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_dropped {
            let notice = DroppedNotice {
                time: Rfc3339Millis(SystemTime::now()),
                kind: "dropped",
                dropped_events: dropped - self.reported_dropped,
            };
            self.line.clear();
            serde_json::to_writer(&mut self.line, &notice)
                .expect("a DroppedNotice serializes: a string, a &str and a number");
            // A notice the disk refused is written later, with the count grown.
            if self.emit_line() {
                self.reported_dropped = dropped;
            }
        }
        self.file.flush();
        self.last_flush = Instant::now();
    }
}
