//! The broker's metrics: one Prometheus registry per node and the handles the hot paths record
//! into. A leaf layer beside `config`: it imports nothing else from the crate, so every layer
//! may record; gauges derived from state (partition counts, log sizes, consumer lag, the quorum)
//! are not kept here but computed at scrape time by collectors the server registers
//! ([`BrokerMetrics::register_collector`]). The HTTP crate only encodes the registry.
//!
//! Names and labels are those Kafka's MBeans get under the Strimzi JMX-exporter rules
//! (`kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=t` is
//! `kafka_server_brokertopicmetrics_bytesin_total{topic="t"}`), so that existing dashboards and
//! alert rules work unchanged; consumer lag uses kafka_exporter's names.
//!
//! - `topic_metrics`: the per-topic counters (bytes and messages in, bytes out) and the
//!   all-topics series beside them; each partition holds its topic's handles, so recording is
//!   two atomic adds with no label lookup.
//! - `request_metrics`: per API request counts and total / queue time histograms.
//! - `throttle_time`: the produce and fetch quotas' average throttle time over the quota
//!   window.

mod request_metrics;
mod throttle_time;
mod topic_metrics;

use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sluice_security::quota::QuotaWindow;

pub use request_metrics::{ApiRequestMetrics, RequestMetrics};
pub use throttle_time::ThrottleTimeSensor;
pub use topic_metrics::{ThroughputTotals, TopicMetrics, TopicMetricsFamily};

/// A metric's labels: (name, value) pairs; an empty set encodes no labels at all.
pub type Labels = Vec<(&'static str, String)>;

/// Every metric a node records on its hot paths, and its registry.
pub struct BrokerMetrics {
    /// Written while the node starts (metrics and collectors registered), read by each scrape.
    registry: RwLock<Registry>,
    pub topics: TopicMetricsFamily,
    pub requests: RequestMetrics,
    /// `kafka.server:type=ReplicaManager,name=IsrShrinksPerSec`: ISR shrinks this broker (as
    /// leader) had committed.
    pub isr_shrinks: Counter,
    pub isr_expands: Counter,
    /// `kafka.network:type=SocketServer`'s connection-count per listener.
    connections: Family<Labels, Gauge>,
    /// Kafka's `Produce` and `Fetch` quota sensors' `throttle-time`: the average throttle
    /// time of the produce / consumer fetch responses the byte-rate quotas throttled within
    /// the quota window.
    pub produce_throttle: ThrottleTimeSensor,
    pub fetch_throttle: ThrottleTimeSensor,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl BrokerMetrics {
    /// With Kafka's default quota window (tests).
    pub fn new() -> BrokerMetrics {
        BrokerMetrics::with_quota_window(QuotaWindow::DEFAULT)
    }

    /// Throttle times are averaged over `quota_window` (`quota.window.num`,
    /// `quota.window.size.seconds`), as Kafka's quota sensors are.
    pub fn with_quota_window(quota_window: QuotaWindow) -> BrokerMetrics {
        let mut registry = Registry::default();
        let topics = TopicMetricsFamily::register(&mut registry);
        let requests = RequestMetrics::register(&mut registry);
        let isr_shrinks = Counter::default();
        registry.register(
            "kafka_server_replicamanager_isrshrinks",
            "ISR shrinks of partitions this broker leads",
            isr_shrinks.clone(),
        );
        let isr_expands = Counter::default();
        registry.register(
            "kafka_server_replicamanager_isrexpands",
            "ISR expansions of partitions this broker leads",
            isr_expands.clone(),
        );
        let connections = Family::<Labels, Gauge>::default();
        registry.register(
            "kafka_server_socketservermetrics_connection_count",
            "Open client connections per listener",
            connections.clone(),
        );
        let produce_throttle = ThrottleTimeSensor::new(quota_window);
        registry.register(
            "kafka_server_produce_throttle_time",
            "Average throttle time in ms of the produce responses the quotas throttled in the \
             quota window, 0 if none",
            produce_throttle.clone(),
        );
        let fetch_throttle = ThrottleTimeSensor::new(quota_window);
        registry.register(
            "kafka_server_fetch_throttle_time",
            "Average throttle time in ms of the consumer fetch responses the quotas throttled \
             in the quota window, 0 if none",
            fetch_throttle.clone(),
        );
        BrokerMetrics {
            registry: RwLock::new(registry),
            topics,
            requests,
            isr_shrinks,
            isr_expands,
            connections,
            produce_throttle,
            fetch_throttle,
        }
    }

    /// The open-connection gauge of listener `name` (take it once per listener).
    pub fn connections(&self, listener: &str) -> Gauge {
        self.connections
            .get_or_create(&vec![("listener", listener.to_string())])
            .clone()
    }

    /// Adds a collector asked on every scrape (gauges computed from state).
    pub fn register_collector(&self, collector: Box<dyn Collector>) {
        self.registry
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .register_collector(collector);
    }

    /// Runs `f` on the registry (to encode it).
    pub fn with_registry<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        f(&self.registry.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Shared handle.
pub type SharedMetrics = Arc<BrokerMetrics>;

/// Encodes gauge `name` with one series per `(labels, value)`, for collectors computing gauges
/// at scrape time. A family without series is still described (HELP and TYPE).
pub fn encode_gauges(
    encoder: &mut prometheus_client::encoding::DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, i64)>,
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric;
    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::metrics::MetricType;
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn text(metrics: &BrokerMetrics) -> String {
        let mut out = String::new();
        metrics
            .with_registry(|r| prometheus_client::encoding::prometheus_text::encode(&mut out, r))
            .expect("encodes");
        out
    }

    #[test]
    fn topic_counters_have_a_topic_series_and_an_all_topics_series() {
        let metrics = BrokerMetrics::new();
        let a = metrics.topics.topic("a");
        let b = metrics.topics.topic("b");
        a.record_produce(100, 2);
        b.record_produce(50, 1);
        a.record_fetch(30);
        let out = text(&metrics);
        for line in [
            "kafka_server_brokertopicmetrics_bytesin_total{topic=\"a\"} 100",
            "kafka_server_brokertopicmetrics_bytesin_total{topic=\"b\"} 50",
            "kafka_server_brokertopicmetrics_bytesin_total 150",
            "kafka_server_brokertopicmetrics_messagesin_total 3",
            "kafka_server_brokertopicmetrics_bytesout_total{topic=\"a\"} 30",
            "kafka_server_brokertopicmetrics_bytesout_total 30",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
        // A deleted topic's series go; the all-topics totals stay.
        metrics.topics.remove_topic("a");
        let out = text(&metrics);
        assert!(!out.contains("topic=\"a\""), "{out}");
        assert!(out.contains("kafka_server_brokertopicmetrics_bytesin_total 150"));
    }

    #[test]
    fn requests_are_counted_and_timed_per_api() {
        let metrics = BrokerMetrics::new();
        let produce = metrics.requests.api(0, || "Produce".into()).expect("key 0");
        produce.record(Duration::from_micros(200), Duration::from_millis(3));
        produce.record(Duration::ZERO, Duration::from_millis(30));
        // The handles are made once: the name is not asked again.
        let again = metrics
            .requests
            .api(0, || unreachable!("cached"))
            .expect("key 0");
        again.record(Duration::ZERO, Duration::from_millis(1));
        assert!(metrics.requests.api(-1, || "x".into()).is_none());
        assert!(metrics.requests.api(i16::MAX, || "x".into()).is_none());
        let out = text(&metrics);
        for line in [
            "kafka_network_requestmetrics_requests_total{request=\"Produce\"} 3",
            "kafka_network_requestmetrics_totaltimems_count{request=\"Produce\"} 3",
            "kafka_network_requestmetrics_totaltimems_bucket{request=\"Produce\",le=\"5\"} 2",
            "kafka_network_requestmetrics_requestqueuetimems_bucket{request=\"Produce\",le=\"0.25\"} 3",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
    }

    #[test]
    fn connections_are_gauged_per_listener() {
        let metrics = BrokerMetrics::new();
        let plain = metrics.connections("PLAINTEXT");
        plain.inc();
        plain.inc();
        metrics.connections("PLAINTEXT").dec();
        metrics.connections("SSL");
        let out = text(&metrics);
        assert!(out.contains(
            "kafka_server_socketservermetrics_connection_count{listener=\"PLAINTEXT\"} 1"
        ));
        assert!(
            out.contains("kafka_server_socketservermetrics_connection_count{listener=\"SSL\"} 0")
        );
    }
}
