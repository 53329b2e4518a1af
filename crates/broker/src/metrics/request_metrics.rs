//! [`RequestMetrics`]: Kafka's `kafka.network:type=RequestMetrics` per API:
//! `kafka_network_requestmetrics_requests_total{request="Produce"}` and the
//! `kafka_network_requestmetrics_totaltimems` / `_requestqueuetimems` histograms (milliseconds,
//! Prometheus histograms where Kafka's are JMX percentiles); fetches are `FetchConsumer` or
//! `FetchFollower`, as in Kafka. Total time runs from the frame read to the response ready;
//! queue time from the frame read to its handler starting (behind the connection's earlier
//! requests, and the front door's decoding). As in Kafka, every request read counts, also one
//! the front door answers (an ApiVersions newer than ours) or refuses (an unsupported version,
//! a request before authentication, a body that does not decode): its queue and total time are
//! both its time at the door. Each API's handles are made at its first request and then found
//! by api key without a label lookup.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Labels;

/// Bucket bounds in milliseconds: 0.1 ms to 10 s.
const BUCKETS_MS: [f64; 16] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
    10000.0,
];

/// Api keys below this get cached handles (Kafka's keys are below 100).
const MAX_API_KEY: usize = 128;

#[derive(Clone, Debug)]
struct Buckets;

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(BUCKETS_MS)
    }
}

pub struct RequestMetrics {
    requests: Family<Labels, Counter>,
    total_time: Family<Labels, Histogram, Buckets>,
    queue_time: Family<Labels, Histogram, Buckets>,
    by_key: Vec<OnceLock<ApiRequestMetrics>>,
    /// Kafka splits Fetch by sender: `FetchConsumer` and `FetchFollower`.
    fetch_consumer: OnceLock<ApiRequestMetrics>,
    fetch_follower: OnceLock<ApiRequestMetrics>,
}

/// One API's handles.
pub struct ApiRequestMetrics {
    requests: Counter,
    total_time: Histogram,
    queue_time: Histogram,
}

impl ApiRequestMetrics {
    pub fn record(&self, queue: Duration, total: Duration) {
        self.requests.inc();
        self.queue_time.observe(queue.as_secs_f64() * 1000.0);
        self.total_time.observe(total.as_secs_f64() * 1000.0);
    }
}

impl RequestMetrics {
    pub(super) fn register(registry: &mut Registry) -> RequestMetrics {
        let metrics = RequestMetrics {
            requests: Family::default(),
            total_time: Family::new_with_constructor(Buckets),
            queue_time: Family::new_with_constructor(Buckets),
            by_key: (0..MAX_API_KEY).map(|_| OnceLock::new()).collect(),
            fetch_consumer: OnceLock::new(),
            fetch_follower: OnceLock::new(),
        };
        registry.register(
            "kafka_network_requestmetrics_requests",
            "Requests handled, per API",
            metrics.requests.clone(),
        );
        registry.register(
            "kafka_network_requestmetrics_totaltimems",
            "Time from a request's arrival to its response, in milliseconds, per API",
            metrics.total_time.clone(),
        );
        registry.register(
            "kafka_network_requestmetrics_requestqueuetimems",
            "Time a request waited before its handler started, in milliseconds, per API",
            metrics.queue_time.clone(),
        );
        metrics
    }

    /// The handles of api key `key` named `name` (Kafka's request name, e.g. "Produce").
    pub fn api(&self, key: i16, name: impl FnOnce() -> String) -> Option<&ApiRequestMetrics> {
        let slot = self.by_key.get(usize::try_from(key).ok()?)?;
        Some(slot.get_or_init(|| self.handles(name())))
    }

    /// The handles of a Fetch: `FetchFollower` from a follower replica, else `FetchConsumer`.
    pub fn fetch(&self, from_follower: bool) -> &ApiRequestMetrics {
        if from_follower {
            self.fetch_follower
                .get_or_init(|| self.handles("FetchFollower".into()))
        } else {
            self.fetch_consumer
                .get_or_init(|| self.handles("FetchConsumer".into()))
        }
    }

    fn handles(&self, name: String) -> ApiRequestMetrics {
        let labels = vec![("request", name)];
        ApiRequestMetrics {
            requests: self.requests.get_or_create(&labels).clone(),
            total_time: self.total_time.get_or_create(&labels).clone(),
            queue_time: self.queue_time.get_or_create(&labels).clone(),
        }
    }
}
