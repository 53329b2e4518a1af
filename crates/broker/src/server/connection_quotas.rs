//! Counting the open client connections against `max.connections`, `max.connections.per.ip`
//! and `max.connections.per.ip.overrides` (Kafka's ConnectionQuotas). The limits are read at
//! each accept from the broker's live config, so a dynamic change applies to the next
//! connection; connections already open stay open when a limit drops below their number.
//!
//! Connection creation rates (KIP-612), measured as client quotas are (`quota.window.num`
//! samples of `quota.window.size.seconds`):
//! - the broker's, `max.connection.creation.rate` (a dynamic broker config): a listener other
//!   than the inter-broker one that accepts a connection over it waits the throttle time (at
//!   most one window) before serving it and accepting the next, as Kafka's acceptor does;
//! - an address's, the `connection_creation_rate` client quota of its `ip` entity (else of the
//!   `<default>` ip entity): a connection over it is not served, not counted, and closed after
//!   the throttle time (so that the client does not reconnect at once).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sluice_security::quota::{bounded_throttle_time_ms, QuotaWindow, SampledRate};

use crate::config::ConnectionLimits;

/// The open connections, in total and per client address, and the connection creation rates.
#[derive(Debug)]
pub struct ConnectionQuotas {
    counts: Mutex<Counts>,
    rates: Mutex<Rates>,
    window: QuotaWindow,
    start: Instant,
}

impl Default for ConnectionQuotas {
    fn default() -> Self {
        ConnectionQuotas::new(QuotaWindow::DEFAULT)
    }
}

/// New connections per second: the broker's (all listeners but the inter-broker one) and each
/// address's that has a quota.
#[derive(Debug)]
struct Rates {
    broker: SampledRate,
    /// Of the listeners with a rate of their own, by lower-case name.
    per_listener: HashMap<String, SampledRate>,
    per_ip: HashMap<IpAddr, SampledRate>,
}

/// Addresses measured at once before those that made no connection for a whole window are
/// forgotten.
const IP_RATES_KEPT: usize = 1024;

#[derive(Debug, Default)]
struct Counts {
    /// Connections counted against `max.connections` (the inter-broker listener's are not).
    total: usize,
    /// By lower-case listener name.
    per_listener: HashMap<String, usize>,
    per_ip: HashMap<IpAddr, usize>,
}

/// One open connection's place in the counts, given back when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
    listener: String,
    in_total: bool,
}

impl ConnectionQuotas {
    /// `window`: `quota.window.num` samples of `quota.window.size.seconds`.
    pub fn new(window: QuotaWindow) -> ConnectionQuotas {
        ConnectionQuotas {
            counts: Mutex::default(),
            rates: Mutex::new(Rates {
                broker: SampledRate::new(window),
                per_listener: HashMap::new(),
                per_ip: HashMap::new(),
            }),
            window,
            start: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Records a connection accepted on `listener` against its own
    /// `listener.name.<listener>.max.connection.creation.rate` and, unless `protected` (the
    /// inter-broker listener), the broker's `max.connection.creation.rate`: the milliseconds
    /// the listener waits before serving it, 0 within both rates (at most one quota window,
    /// Kafka's bound).
    pub fn accept_delay_ms(
        &self,
        limits: &ConnectionLimits,
        listener: &str,
        protected: bool,
    ) -> u64 {
        let own = limits
            .listener(listener)
            .max_connection_creation_rate
            .filter(|l| *l < i32::MAX as u64);
        let broker = Some(limits.max_connection_creation_rate)
            .filter(|l| !protected && *l < i32::MAX as u64);
        if own.is_none() && broker.is_none() {
            return 0;
        }
        let now = self.now_ms();
        let size_ms = self.window.size_ms();
        let delay = |measured: &mut SampledRate, limit: u64| {
            measured.record(1.0, now);
            let rate = measured.rate(now);
            let window_ms = measured.window_length_ms(now);
            bounded_throttle_time_ms(rate, limit as f64, window_ms, size_ms)
        };
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = 0;
        if let Some(limit) = own {
            let window = self.window;
            let measured = rates
                .per_listener
                .entry(listener.to_ascii_lowercase())
                .or_insert_with(|| SampledRate::new(window));
            wait = delay(measured, limit);
        }
        if let Some(limit) = broker {
            wait = wait.max(delay(&mut rates.broker, limit));
        }
        wait
    }

    /// Records a connection from `ip`, whose `connection_creation_rate` quota is `limit` (per
    /// second; `None`: no quota): Err with the milliseconds after which to close it when it is
    /// over the quota (then it is not counted).
    pub fn check_ip_rate(&self, ip: IpAddr, limit: Option<f64>) -> Result<(), u64> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let ip = ip.to_canonical();
        let now = self.now_ms();
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        if rates.per_ip.len() >= IP_RATES_KEPT && !rates.per_ip.contains_key(&ip) {
            rates.per_ip.retain(|_, r| r.rate(now) > 0.0);
        }
        let window = self.window;
        let measured = rates
            .per_ip
            .entry(ip)
            .or_insert_with(|| SampledRate::new(window));
        measured.record(1.0, now);
        let rate = measured.rate(now);
        if rate <= limit {
            return Ok(());
        }
        // A refused connection does not count (Kafka takes its sample back).
        measured.record(-1.0, now);
        let window_ms = measured.window_length_ms(now);
        Err(bounded_throttle_time_ms(rate, limit, window_ms, window.size_ms()).max(1))
    }

    /// Counts a new connection from `ip` on `listener`, or says why it is refused.
    /// `protected`: a connection of the inter-broker listener, which `max.connections` does not
    /// limit (in Kafka the broker makes room for it instead), though its own listener limit
    /// and the per-address limits do.
    pub fn open(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: &ConnectionLimits,
        protected: bool,
        listener: &str,
    ) -> Result<ConnectionSlot, String> {
        let ip = ip.to_canonical();
        let listener = listener.to_ascii_lowercase();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if !protected && counts.total >= limits.max_connections {
            return Err(format!(
                "max.connections={} reached",
                limits.max_connections
            ));
        }
        let of_listener = counts.per_listener.get(&listener).copied().unwrap_or(0);
        if let Some(max) = limits.listener(&listener).max_connections {
            if of_listener >= max {
                return Err(format!(
                    "listener.name.{listener}.max.connections={max} reached"
                ));
            }
        }
        let max_for_ip = limits.per_ip_limit(ip);
        let of_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if of_ip >= max_for_ip {
            return Err(format!(
                "too many connections from {ip} (max.connections.per.ip allows it {max_for_ip})"
            ));
        }
        counts.per_ip.insert(ip, of_ip + 1);
        counts
            .per_listener
            .insert(listener.clone(), of_listener + 1);
        if !protected {
            counts.total += 1;
        }
        Ok(ConnectionSlot {
            quotas: self.clone(),
            ip,
            listener,
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
        if let Some(n) = counts.per_listener.get_mut(&self.listener) {
            *n -= 1;
            if *n == 0 {
                counts.per_listener.remove(&self.listener);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_rates_delay_the_broker_and_refuse_an_address() {
        let q = ConnectionQuotas::new(QuotaWindow::new(11, 1).unwrap());
        // No limit: nothing recorded, no delay.
        let limits = |rate: u64| ConnectionLimits {
            max_connection_creation_rate: rate,
            ..ConnectionLimits::default()
        };
        assert_eq!(
            q.accept_delay_ms(&limits(i32::MAX as u64), "CLIENT", false),
            0
        );
        // 1 per second over a new rate's ten windows: ten connections pass, the eleventh
        // waits (at most one window).
        for _ in 0..10 {
            assert_eq!(q.accept_delay_ms(&limits(1), "CLIENT", false), 0);
        }
        let delay = q.accept_delay_ms(&limits(1), "CLIENT", false);
        assert!(delay > 0 && delay <= 1000, "{delay}");
        // The inter-broker listener is not held to the broker's rate, only to its own.
        assert_eq!(q.accept_delay_ms(&limits(1), "INTERNAL", true), 0);
        let mut own = limits(i32::MAX as u64);
        own.per_listener.insert(
            "internal".into(),
            crate::config::ListenerLimits {
                max_connection_creation_rate: Some(1),
                ..Default::default()
            },
        );
        for _ in 0..10 {
            assert_eq!(q.accept_delay_ms(&own, "INTERNAL", true), 0);
        }
        assert!(q.accept_delay_ms(&own, "INTERNAL", true) > 0);
        assert_eq!(q.accept_delay_ms(&own, "CLIENT", false), 0);

        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(q.check_ip_rate(a, Some(1.0)), Ok(()));
        }
        let refused = q.check_ip_rate(a, Some(1.0)).unwrap_err();
        assert!(refused > 0 && refused <= 1000, "{refused}");
        // The refused one did not count: still refused, never more than ten counted.
        assert!(q.check_ip_rate(a, Some(1.0)).is_err());
        let counted = q
            .rates
            .lock()
            .unwrap()
            .per_ip
            .get_mut(&a)
            .unwrap()
            .rate(q.now_ms())
            * 10.0;
        assert!(counted > 9.9 && counted < 10.5, "{counted}");
        // Other addresses, and addresses without a quota, are not held.
        assert_eq!(q.check_ip_rate(b, Some(1.0)), Ok(()));
        assert_eq!(q.check_ip_rate(a, None), Ok(()));
    }

    #[test]
    fn totals_and_addresses_are_limited_and_given_back() {
        let q = Arc::new(ConnectionQuotas::default());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let mut limits = ConnectionLimits {
            max_connections: 3,
            per_ip: 2,
            per_ip_overrides: [(b, 0)].into(),
            ..ConnectionLimits::default()
        };
        let a1 = q.open(a, &limits, false, "CLIENT").unwrap();
        let a2 = q.open(a, &limits, false, "CLIENT").unwrap();
        let e = q.open(a, &limits, false, "CLIENT").unwrap_err();
        assert!(e.contains("too many connections from 127.0.0.1"), "{e}");
        // An override of 0 shuts an address out.
        assert!(q.open(b, &limits, false, "CLIENT").is_err());
        limits.per_ip_overrides.clear();
        let b1 = q.open(b, &limits, false, "CLIENT").unwrap();
        let e = q.open(b, &limits, false, "CLIENT").unwrap_err();
        assert!(e.contains("max.connections=3"), "{e}");
        // The inter-broker listener is not held to max.connections, only to the per-address
        // limit.
        let inter = q.open(b, &limits, true, "CLIENT").unwrap();
        assert_eq!(q.total(), 3);
        drop(a1);
        assert_eq!(q.total(), 2);
        let a3 = q
            .open(
                "::ffff:127.0.0.1".parse().unwrap(),
                &limits,
                false,
                "CLIENT",
            )
            .unwrap();
        // A lower limit leaves open connections alone and refuses new ones.
        limits.max_connections = 1;
        assert!(q
            .open("10.0.0.1".parse().unwrap(), &limits, false, "CLIENT")
            .is_err());
        drop((a2, a3, b1, inter));
        assert_eq!(q.total(), 0);
        assert!(q.counts.lock().unwrap().per_ip.is_empty());
        q.open(a, &limits, false, "CLIENT").unwrap();
    }

    #[test]
    fn a_listener_limit_holds_its_listener_only_the_inter_broker_one_too() {
        let q = Arc::new(ConnectionQuotas::default());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let mut limits = ConnectionLimits::default();
        for name in ["client", "internal"] {
            limits.per_listener.insert(
                name.into(),
                crate::config::ListenerLimits {
                    max_connections: Some(1),
                    ..Default::default()
                },
            );
        }
        let c1 = q.open(a, &limits, false, "CLIENT").unwrap();
        let e = q.open(a, &limits, false, "Client").unwrap_err();
        assert_eq!(e, "listener.name.client.max.connections=1 reached");
        let i1 = q.open(a, &limits, true, "INTERNAL").unwrap();
        assert!(q.open(a, &limits, true, "INTERNAL").is_err());
        // Another listener has no limit of its own.
        let o1 = q.open(a, &limits, false, "OTHER").unwrap();
        let o2 = q.open(a, &limits, false, "OTHER").unwrap();
        drop(c1);
        let c2 = q.open(a, &limits, false, "CLIENT").unwrap();
        drop((c2, i1, o1, o2));
        assert!(q.counts.lock().unwrap().per_listener.is_empty());
    }
}
