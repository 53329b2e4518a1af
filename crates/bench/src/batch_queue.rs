//! Many consumed messages per call: librdkafka's `rd_kafka_consume_batch_queue` on a consumer's
//! queue, for `sluice-bench consume`.
//!
//! Why unsafe code: the `rdkafka` crate hands out one message per `poll`, and at a few million
//! small records a second that per-call cost (a queue lock and an event per message) is what
//! limits the benchmark, not the broker. The batch call is not wrapped by the crate, so this
//! module calls it through the crate's own bindings (`rdkafka::bindings`, no new dependency).
//! The unsafe surface is these three calls and reading the fields of the messages they return;
//! every message is destroyed before the call that returned it goes out of scope, and the queue
//! handle is released on drop, before the consumer it came from (it borrows the consumer).
#![allow(unsafe_code)]

use std::marker::PhantomData;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What one consumed message is to the benchmark.
pub enum Delivered {
    /// A record with this many bytes of key and value.
    Record { bytes: usize },
    /// An error in place of a message (the consumer's queue carries fetch errors this way).
    Error(KafkaError),
}

/// The consumer queue of a [`BaseConsumer`] (with `group.id` set, so it has one).
pub struct BatchQueue<'a> {
    queue: *mut rd::rd_kafka_queue_t,
    slots: Vec<*mut rd::rd_kafka_message_t>,
    _consumer: PhantomData<&'a ()>,
}

impl<'a> BatchQueue<'a> {
    /// `None` when the consumer has no consumer queue (no `group.id`).
    pub fn new<C: ConsumerContext>(consumer: &'a BaseConsumer<C>, batch: usize) -> Option<Self> {
        // SAFETY: the client pointer is valid while `consumer` lives, which `'a` ensures for
        // the queue handle; the returned handle is released in `drop`.
        let queue = unsafe { rd::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
        if queue.is_null() {
            return None;
        }
        Some(BatchQueue {
            queue,
            slots: vec![std::ptr::null_mut(); batch.max(1)],
            _consumer: PhantomData,
        })
    }

    /// Waits up to `timeout` for messages and hands each one to `each`, in order; returns how
    /// many there were (0 on timeout).
    pub fn poll(&mut self, timeout: Duration, mut each: impl FnMut(Delivered)) -> usize {
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `slots` has room for `slots.len()` pointers; librdkafka fills the first `n`.
        let n = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.queue,
                timeout_ms,
                self.slots.as_mut_ptr(),
                self.slots.len(),
            )
        };
        let n = usize::try_from(n).unwrap_or(0).min(self.slots.len());
        for &message in &self.slots[..n] {
            // SAFETY: each of the first `n` slots holds a message librdkafka returned to us and
            // that nothing else references; it is read, then destroyed exactly once.
            let delivered = unsafe {
                let m = &*message;
                let delivered = if m.err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    Delivered::Record {
                        bytes: m.len + m.key_len,
                    }
                } else {
                    Delivered::Error(KafkaError::MessageConsumption(RDKafkaErrorCode::from(
                        m.err,
                    )))
                };
                rd::rd_kafka_message_destroy(message);
                delivered
            };
            each(delivered);
        }
        n
    }
}

impl Drop for BatchQueue<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from `rd_kafka_queue_get_consumer` and is released once.
        unsafe { rd::rd_kafka_queue_destroy(self.queue) };
    }
}
