//! Counting the open client connections against `max.connections`, `max.connections.per.ip`
//! and `max.connections.per.ip.overrides` (Kafka's ConnectionQuotas). The limits are read at
//! each accept from the broker's live config, so a dynamic change applies to the next
//! connection; connections already open stay open when a limit drops below their number.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::config::ConnectionLimits;

/// The open connections, in total and per client address.
#[derive(Debug, Default)]
pub struct ConnectionQuotas {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Connections counted against `max.connections` (the inter-broker listener's are not).
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One open connection's place in the counts, given back when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
    in_total: bool,
}

impl ConnectionQuotas {
    /// Counts a new connection from `ip`, or says why it is refused. `protected`: a connection
    /// of the inter-broker listener, which `max.connections` does not limit (in Kafka the
    /// broker makes room for it instead), though the per-address limits do.
    pub fn open(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: &ConnectionLimits,
        protected: bool,
    ) -> Result<ConnectionSlot, String> {
        let ip = ip.to_canonical();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if !protected && counts.total >= limits.max_connections {
            return Err(format!(
                "max.connections={} reached",
                limits.max_connections
            ));
        }
        let max_for_ip = limits.per_ip_limit(ip);
        let of_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if of_ip >= max_for_ip {
            return Err(format!(
                "too many connections from {ip} (max.connections.per.ip allows it {max_for_ip})"
            ));
        }
        counts.per_ip.insert(ip, of_ip + 1);
        if !protected {
            counts.total += 1;
        }
        Ok(ConnectionSlot {
            quotas: self.clone(),
            ip,
            in_total: !protected,
        })
    }

    /// Connections counted against `max.connections` now.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.quotas.counts.lock().unwrap_or_else(|p| p.into_inner());
        if self.in_total {
            counts.total = counts.total.saturating_sub(1);
        }
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_addresses_are_limited_and_given_back() {
        let q = Arc::new(ConnectionQuotas::default());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let mut limits = ConnectionLimits {
            max_connections: 3,
            per_ip: 2,
            per_ip_overrides: [(b, 0)].into(),
        };
        let a1 = q.open(a, &limits, false).unwrap();
        let a2 = q.open(a, &limits, false).unwrap();
        let e = q.open(a, &limits, false).unwrap_err();
        assert!(e.contains("too many connections from 127.0.0.1"), "{e}");
        // An override of 0 shuts an address out.
        assert!(q.open(b, &limits, false).is_err());
        limits.per_ip_overrides.clear();
        let b1 = q.open(b, &limits, false).unwrap();
        let e = q.open(b, &limits, false).unwrap_err();
        assert!(e.contains("max.connections=3"), "{e}");
        // The inter-broker listener is not held to max.connections, only to the per-address
        // limit.
        let inter = q.open(b, &limits, true).unwrap();
        assert_eq!(q.total(), 3);
        drop(a1);
        assert_eq!(q.total(), 2);
        let a3 = q
            .open("::ffff:127.0.0.1".parse().unwrap(), &limits, false)
            .unwrap();
        // A lower limit leaves open connections alone and refuses new ones.
        limits.max_connections = 1;
        assert!(q.open("10.0.0.1".parse().unwrap(), &limits, false).is_err());
        drop((a2, a3, b1, inter));
        assert_eq!(q.total(), 0);
        assert!(q.counts.lock().unwrap().per_ip.is_empty());
        q.open(a, &limits, false).unwrap();
    }
}
