//! The limits on open client connections, as Kafka names them: `max.connections` (the whole
//! broker), `max.connections.per.ip` and `max.connections.per.ip.overrides` (one client
//! address), and `max.connection.creation.rate` (new connections per second, KIP-612). All
//! change without a restart (dynamic broker configs).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The connection limits a broker applies now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once on the broker's listeners, the inter-broker listener's
    /// excepted (as in Kafka, replication is never locked out by clients).
    pub max_connections: usize,
    /// Connections one client address may hold at once, unless overridden.
    pub per_ip: usize,
    /// Per-address limits that replace `per_ip`.
    pub per_ip_overrides: BTreeMap<IpAddr, usize>,
    /// New connections per second (`max.connection.creation.rate`, KIP-612), the inter-broker
    /// listener's excepted; `i32::MAX`, Kafka's default, is no limit.
    pub max_connection_creation_rate: u64,
    /// Each listener's own limits (`listener.name.<listener>.max.connections` and
    /// `.max.connection.creation.rate`), by lower-case listener name; they hold the
    /// inter-broker listener too.
    pub per_listener: BTreeMap<String, ListenerLimits>,
}

/// One listener's own connection limits; `None`: no limit of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerLimits {
    pub max_connections: Option<usize>,
    pub max_connection_creation_rate: Option<u64>,
}

/// The listener-scoped connection limit keys' bases.
pub const LISTENER_CONNECTION_KEYS: &[&str] = &["max.connections", "max.connection.creation.rate"];

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 10_000,
            per_ip: i32::MAX as usize,
            per_ip_overrides: BTreeMap::new(),
            max_connection_creation_rate: i32::MAX as u64,
            per_listener: BTreeMap::new(),
        }
    }
}

impl ConnectionLimits {
    /// The own limits of listener `name` (any case).
    pub fn listener(&self, name: &str) -> ListenerLimits {
        self.per_listener
            .get(&name.to_ascii_lowercase())
            .copied()
            .unwrap_or_default()
    }

    /// The number of connections `ip` may hold at once.
    pub fn per_ip_limit(&self, ip: IpAddr) -> usize {
        self.per_ip_overrides
            .get(&ip.to_canonical())
            .copied()
            .unwrap_or(self.per_ip)
    }
}

/// Parses `max.connections.per.ip.overrides`: `address:count` pairs separated by commas
/// (`127.0.0.1:200,::1:50`; the count follows the last colon). Sluice takes IP addresses
/// only: a host name would need a DNS lookup each time the config changes.
pub fn parse_ip_overrides(text: &str) -> Result<BTreeMap<IpAddr, usize>, String> {
    let mut out = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |why: &str| {
            Err(format!(
                "max.connections.per.ip.overrides: {entry:?} {why} (expected address:count, \
                 e.g. 127.0.0.1:100)"
            ))
        };
        let Some((host, count)) = entry.rsplit_once(':') else {
            return bad("has no count");
        };
        let host = host.trim().trim_start_matches('[').trim_end_matches(']');
        let Ok(ip) = host.parse::<IpAddr>() else {
            return bad("does not start with an IP address");
        };
        let Ok(count) = count.trim().parse::<u32>() else {
            return bad("has no count from 0 to 4294967295");
        };
        out.insert(ip.to_canonical(), count as usize);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_addresses_and_counts() {
        let o = parse_ip_overrides(" 127.0.0.1:5, ::1:7,[::2]:0 ,").unwrap();
        assert_eq!(o.len(), 3);
        let limits = ConnectionLimits {
            max_connections: 10,
            per_ip: 3,
            per_ip_overrides: o,
            ..ConnectionLimits::default()
        };
        assert_eq!(limits.per_ip_limit("127.0.0.1".parse().unwrap()), 5);
        // An IPv4 client seen through an IPv6 socket is the same address.
        assert_eq!(limits.per_ip_limit("::ffff:127.0.0.1".parse().unwrap()), 5);
        assert_eq!(limits.per_ip_limit("::1".parse().unwrap()), 7);
        assert_eq!(limits.per_ip_limit("::2".parse().unwrap()), 0);
        assert_eq!(limits.per_ip_limit("10.0.0.1".parse().unwrap()), 3);
        assert!(parse_ip_overrides("").unwrap().is_empty());
        for bad in ["localhost:5", "127.0.0.1", "127.0.0.1:-1", "127.0.0.1:x"] {
            let e = parse_ip_overrides(bad).unwrap_err();
            assert!(e.contains("max.connections.per.ip.overrides"), "{e}");
        }
    }
}
