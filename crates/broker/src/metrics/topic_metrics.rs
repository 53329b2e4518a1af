//! [`TopicMetricsFamily`]: `kafka_server_brokertopicmetrics_{bytesin,messagesin,bytesout}_total`,
//! per topic (`topic` label) and over all topics (no label), as Kafka's BrokerTopicMetrics
//! MBeans with and without a topic. Bytes in counts the record batches appended as leader
//! from producers, messages in their records; bytes out the record bytes returned to
//! consumers (followers' fetches are replication, not counted, as in Kafka).

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::Labels;

#[derive(Clone)]
pub struct TopicMetricsFamily {
    bytes_in: Family<Labels, Counter>,
    messages_in: Family<Labels, Counter>,
    bytes_out: Family<Labels, Counter>,
    all: Arc<Counters>,
}

#[derive(Clone, Default)]
struct Counters {
    bytes_in: Counter,
    messages_in: Counter,
    bytes_out: Counter,
}

/// The all-topics counters at one moment (they only grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThroughputTotals {
    pub bytes_in: u64,
    pub messages_in: u64,
    pub bytes_out: u64,
}

/// One topic's counters and the all-topics ones: what a partition records into.
#[derive(Clone, Default)]
pub struct TopicMetrics {
    topic: Counters,
    all: Arc<Counters>,
}

impl TopicMetrics {
    /// A produce batch appended as leader: `bytes` of batch, `records` records.
    pub fn record_produce(&self, bytes: u64, records: u64) {
        self.topic.bytes_in.inc_by(bytes);
        self.topic.messages_in.inc_by(records);
        self.all.bytes_in.inc_by(bytes);
        self.all.messages_in.inc_by(records);
    }

    /// Record bytes returned to a consumer.
    pub fn record_fetch(&self, bytes: u64) {
        if bytes > 0 {
            self.topic.bytes_out.inc_by(bytes);
            self.all.bytes_out.inc_by(bytes);
        }
    }
}

fn topic_labels(topic: &str) -> Labels {
    vec![("topic", topic.to_string())]
}

impl TopicMetricsFamily {
    pub(super) fn register(registry: &mut Registry) -> TopicMetricsFamily {
        let family = TopicMetricsFamily {
            bytes_in: Family::default(),
            messages_in: Family::default(),
            bytes_out: Family::default(),
            all: Arc::new(Counters::default()),
        };
        // The all-topics series are the same families' series without a label.
        let all = Vec::new();
        let all_counters = Counters {
            bytes_in: family.bytes_in.get_or_create(&all).clone(),
            messages_in: family.messages_in.get_or_create(&all).clone(),
            bytes_out: family.bytes_out.get_or_create(&all).clone(),
        };
        let family = TopicMetricsFamily {
            all: Arc::new(all_counters),
            ..family
        };
        registry.register(
            "kafka_server_brokertopicmetrics_bytesin",
            "Bytes of record batches produced to partitions this broker leads",
            family.bytes_in.clone(),
        );
        registry.register(
            "kafka_server_brokertopicmetrics_messagesin",
            "Records produced to partitions this broker leads",
            family.messages_in.clone(),
        );
        registry.register(
            "kafka_server_brokertopicmetrics_bytesout",
            "Record bytes fetched by consumers from this broker",
            family.bytes_out.clone(),
        );
        family
    }

    /// The handles of `topic` (taken once, when its partitions are built).
    pub fn topic(&self, topic: &str) -> TopicMetrics {
        let labels = topic_labels(topic);
        TopicMetrics {
            topic: Counters {
                bytes_in: self.bytes_in.get_or_create(&labels).clone(),
                messages_in: self.messages_in.get_or_create(&labels).clone(),
                bytes_out: self.bytes_out.get_or_create(&labels).clone(),
            },
            all: self.all.clone(),
        }
    }

    /// The all-topics counters so far: what the admin API's throughput sampler reads.
    pub fn totals(&self) -> ThroughputTotals {
        ThroughputTotals {
            bytes_in: self.all.bytes_in.get(),
            messages_in: self.all.messages_in.get(),
            bytes_out: self.all.bytes_out.get(),
        }
    }

    /// Drops a deleted topic's series (Kafka removes its MBeans).
    pub fn remove_topic(&self, topic: &str) {
        let labels = topic_labels(topic);
        self.bytes_in.remove(&labels);
        self.messages_in.remove(&labels);
        self.bytes_out.remove(&labels);
    }
}
