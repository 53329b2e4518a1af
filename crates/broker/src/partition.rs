//! One partition replica hosted by this broker: its log and its replication state.
//!
//! A single node is a cluster of one: the leader's in-sync replica set is itself, so the high
//! watermark follows the log end offset through the same path that replication will drive.

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use sluice_log::{AppendInfo, AppendOrigin, Log, LogError};
use tokio::sync::Notify;

pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    pub log: Arc<Log>,
    /// invariant: log_start_offset <= high_watermark <= log_end_offset
    high_watermark: AtomicI64,
    leader_epoch: AtomicI32,
    /// Woken on every append that moves the high watermark (and so, with one replica, on every
    /// move of the last stable offset: markers are appends): long-polling fetches wait here.
    appended: Notify,
}

impl Partition {
    pub fn new(topic: Arc<str>, index: i32, log: Arc<Log>, leader_epoch: i32) -> Partition {
        // With one replica every byte in the log is replicated to the whole ISR.
        let high_watermark = log.log_end_offset();
        Partition {
            topic,
            index,
            log,
            high_watermark: AtomicI64::new(high_watermark),
            leader_epoch: AtomicI32::new(leader_epoch),
            appended: Notify::new(),
        }
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Relaxed)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log.log_start_offset()
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// The last stable offset: below it every transaction is decided, and read_committed
    /// consumers read nothing at or above it. invariant: log_start_offset <= last_stable_offset
    /// <= high_watermark.
    pub fn last_stable_offset(&self) -> i64 {
        // The high watermark first: a transaction opening after this read starts at or above it.
        let hw = self.high_watermark();
        self.log
            .first_unstable_offset()
            .map_or(hw, |first| first.min(hw))
    }

    /// Appends batches the broker itself writes (group and transaction coordinators: their
    /// state, transactional offset commits, markers) as leader, with
    /// [`AppendOrigin::Coordinator`] checks, and advances the high watermark to what the ISR
    /// (here: this replica alone) holds.
    pub fn append_as_leader(&self, records: &Bytes) -> Result<AppendInfo, LogError> {
        self.append_with_origin(records, AppendOrigin::Coordinator)
    }

    /// Appends a Produce request's validated batches as leader: [`AppendOrigin::Client`]
    /// checks (sequence numbers, duplicates, no control batches).
    pub fn append_from_client(&self, records: &Bytes) -> Result<AppendInfo, LogError> {
        self.append_with_origin(records, AppendOrigin::Client)
    }

    /// Appends as leader with the checks of `origin`, then advances the high watermark.
    pub fn append_with_origin(
        &self,
        records: &Bytes,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        let info = self
            .log
            .append_with_origin(records, self.leader_epoch(), origin)?;
        self.maybe_advance_high_watermark();
        Ok(info)
    }

    /// Writes a COMMIT (`commit`) or ABORT transaction marker for `producer_id` as leader (see
    /// [`Log::append_control`] for what it checks and records) and advances the high
    /// watermark, waking fetches (a read_committed fetch waits for the last stable offset).
    pub fn append_control(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        let info = self.log.append_control(
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            self.leader_epoch(),
        )?;
        self.maybe_advance_high_watermark();
        Ok(info)
    }

    /// Recomputes the high watermark as the smallest log end offset in the ISR.
    fn maybe_advance_high_watermark(&self) {
        let isr_min = self.log.log_end_offset();
        let prev = self.high_watermark.fetch_max(isr_min, Ordering::AcqRel);
        if isr_min > prev {
            self.appended.notify_waiters();
        }
    }

    /// A future that completes at the next high-watermark move. Create it (and `enable` it)
    /// before checking for data, so an append between the check and the wait is not missed.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the high watermark).
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        self.log.delete_records_before(offset)
    }
}

impl Partition {
    /// Waits until the high watermark reaches `offset` or `timeout` passes; true if reached.
    pub async fn wait_for_high_watermark(&self, offset: i64, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.appended();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.high_watermark() >= offset {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.high_watermark() >= offset;
            }
        }
    }
}
