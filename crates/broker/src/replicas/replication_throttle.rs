//! Replication throttles (KIP-73): how fast a replica that is out of the ISR (a reassignment's
//! new replica, a follower back after a long absence) may copy from its leader.
//!
//! - Which replicas: a topic's `leader.replication.throttled.replicas` and
//!   `follower.replication.throttled.replicas` name them as `partition:broker` pairs (or `*`,
//!   every replica). A pair holds on broker `broker` only: on the leader side it throttles
//!   partition `partition` while that broker leads it, on the follower side while it follows.
//! - How fast: each broker's `leader.replication.throttled.rate` and
//!   `follower.replication.throttled.rate` (bytes per second) bound the bytes of all throttled
//!   replicas together, measured as Kafka's quotas are (a [`SampledRate`] over
//!   `replication.quota.window.num` samples of `replication.quota.window.size.seconds`).
//! - What a throttle does, as in Kafka: once the measured rate is over the bound, the leader
//!   answers a throttled replica's fetch without records and the follower leaves throttled
//!   partitions out of its fetches, until the rate falls under the bound. Replicas in the ISR
//!   are never throttled: a throttle never slows down acknowledged writes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use sluice_security::quota::{QuotaWindow, SampledRate};

/// The topic keys naming the throttled replicas.
pub const LEADER_THROTTLED_REPLICAS: &str = "leader.replication.throttled.replicas";
pub const FOLLOWER_THROTTLED_REPLICAS: &str = "follower.replication.throttled.replicas";

/// Which of a topic's partitions one side of this broker throttles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ThrottledPartitions {
    #[default]
    None,
    All,
    Some(Vec<i32>),
}

impl ThrottledPartitions {
    /// The partitions a throttle list names for broker `node_id`. The list was checked when it
    /// was stored; a pair that somehow does not parse is skipped.
    pub fn parse(value: &str, node_id: i32) -> ThrottledPartitions {
        let value = value.trim();
        if value == "*" {
            return ThrottledPartitions::All;
        }
        let mut partitions: Vec<i32> = value
            .split(',')
            .filter_map(|pair| {
                let (partition, broker) = pair.trim().split_once(':')?;
                let broker: i32 = broker.trim().parse().ok()?;
                (broker == node_id)
                    .then(|| partition.trim().parse().ok())
                    .flatten()
            })
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        if partitions.is_empty() {
            ThrottledPartitions::None
        } else {
            ThrottledPartitions::Some(partitions)
        }
    }

    pub fn contains(&self, partition: i32) -> bool {
        match self {
            ThrottledPartitions::None => false,
            ThrottledPartitions::All => true,
            ThrottledPartitions::Some(ps) => ps.binary_search(&partition).is_ok(),
        }
    }
}

/// A topic's throttled partitions on this broker, both sides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicThrottles {
    pub leader: ThrottledPartitions,
    pub follower: ThrottledPartitions,
}

impl TopicThrottles {
    pub fn from_configs(configs: &BTreeMap<String, String>, node_id: i32) -> TopicThrottles {
        let side = |key: &str| {
            configs.get(key).map_or(ThrottledPartitions::None, |v| {
                ThrottledPartitions::parse(v, node_id)
            })
        };
        TopicThrottles {
            leader: side(LEADER_THROTTLED_REPLICAS),
            follower: side(FOLLOWER_THROTTLED_REPLICAS),
        }
    }
}

/// The byte rate of one side's throttled replicas, against that side's bound.
pub struct ReplicationQuota {
    rate: Mutex<SampledRate>,
    start: Instant,
}

impl ReplicationQuota {
    pub fn new(window: QuotaWindow) -> ReplicationQuota {
        ReplicationQuota {
            rate: Mutex::new(SampledRate::new(window)),
            start: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Whether the throttled replicas' measured rate is over `limit` bytes per second (never
    /// with Kafka's default, `i64::MAX`: no throttle).
    pub fn is_exceeded(&self, limit: u64) -> bool {
        if limit >= i64::MAX as u64 {
            return false;
        }
        let now = self.now_ms();
        self.rate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rate(now)
            > limit as f64
    }

    /// Counts `bytes` that throttled replicas copied.
    pub fn record(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let now = self.now_ms();
        self.rate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(bytes as f64, now);
    }

    /// The throttled replicas' byte rate now, per second.
    pub fn rate(&self) -> f64 {
        let now = self.now_ms();
        self.rate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rate(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_names_the_partitions_of_this_broker() {
        assert_eq!(ThrottledPartitions::parse("", 1), ThrottledPartitions::None);
        assert_eq!(
            ThrottledPartitions::parse(" * ", 1),
            ThrottledPartitions::All
        );
        let ps = ThrottledPartitions::parse("0:1, 2:1,1:2,2:1", 1);
        assert_eq!(ps, ThrottledPartitions::Some(vec![0, 2]));
        assert!(ps.contains(0) && ps.contains(2) && !ps.contains(1));
        assert_eq!(
            ThrottledPartitions::parse("0:2,1:3", 1),
            ThrottledPartitions::None
        );
        assert!(ThrottledPartitions::All.contains(7));
        let configs = BTreeMap::from([
            (LEADER_THROTTLED_REPLICAS.to_string(), "0:1,0:2".to_string()),
            (FOLLOWER_THROTTLED_REPLICAS.to_string(), "0:3".to_string()),
        ]);
        let on_3 = TopicThrottles::from_configs(&configs, 3);
        assert_eq!(on_3.leader, ThrottledPartitions::None);
        assert_eq!(on_3.follower, ThrottledPartitions::Some(vec![0]));
        assert_eq!(
            TopicThrottles::from_configs(&BTreeMap::new(), 3),
            TopicThrottles::default()
        );
    }

    #[test]
    fn the_quota_is_exceeded_once_the_rate_is_over_the_bound() {
        let window = QuotaWindow::new(11, 1).expect("window");
        let quota = ReplicationQuota::new(window);
        assert!(!quota.is_exceeded(1000));
        // A new quota measures over at least 10 windows: 10 s at 1000 B/s is 10,000 bytes.
        quota.record(9_000);
        assert!(!quota.is_exceeded(1000));
        quota.record(2_000);
        assert!(quota.is_exceeded(1000));
        // Kafka's default bound is no bound.
        assert!(!quota.is_exceeded(i64::MAX as u64));
        assert!(quota.rate() > 1000.0);
    }
}
