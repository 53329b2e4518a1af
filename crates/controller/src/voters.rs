//! Kafka's `controller.quorum.voters`: `{id}@{host}:{port}` entries separated by commas, e.g.
//! `1@127.0.0.1:9093,2@127.0.0.1:9094,3@[::1]:9095`.
//!
//! A host that is not an IP literal is resolved once, here (the first address wins), because the
//! quorum is addressed by socket address from then on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::net::ToSocketAddrs;

use crate::error::ControllerError;

/// Parses `controller.quorum.voters`. Rejects empty lists, malformed entries and duplicate ids.
pub fn parse_quorum_voters(value: &str) -> Result<BTreeMap<u64, SocketAddr>, ControllerError> {
    let bad = |entry: &str, why: &str| {
        ControllerError::Config(format!(
            "controller.quorum.voters entry '{entry}' {why}; expected {{id}}@{{host}}:{{port}}"
        ))
    };
    let mut voters = BTreeMap::new();
    for entry in value.split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let (id, address) = entry
            .split_once('@')
            .ok_or_else(|| bad(entry, "has no '@'"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| bad(entry, "has no numeric node id"))?;
        let address = address.trim();
        let socket_addr = match address.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                let (host, port) = address
                    .rsplit_once(':')
                    .ok_or_else(|| bad(entry, "has no port"))?;
                let port: u16 = port.parse().map_err(|_| bad(entry, "has no valid port"))?;
                if host.is_empty() || host.contains(['[', ']']) {
                    return Err(bad(entry, "has no valid host"));
                }
                (host, port)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut addrs| addrs.next())
                    .ok_or_else(|| bad(entry, "has a host that does not resolve"))?
            }
        };
        if voters.insert(id, socket_addr).is_some() {
            return Err(bad(entry, "repeats a node id"));
        }
    }
    if voters.is_empty() {
        return Err(ControllerError::Config(
            "controller.quorum.voters is empty".into(),
        ));
    }
    Ok(voters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafkas_format() {
        let voters =
            parse_quorum_voters("1@127.0.0.1:9093, 2@127.0.0.1:9094,3@[::1]:9095").unwrap();
        assert_eq!(voters.len(), 3);
        assert_eq!(voters[&1], "127.0.0.1:9093".parse().unwrap());
        assert_eq!(voters[&2], "127.0.0.1:9094".parse().unwrap());
        assert_eq!(voters[&3], "[::1]:9095".parse().unwrap());
    }

    #[test]
    fn resolves_host_names() {
        let voters = parse_quorum_voters("7@localhost:9093").unwrap();
        assert!(voters[&7].ip().is_loopback());
        assert_eq!(voters[&7].port(), 9093);
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "",
            " , ",
            "127.0.0.1:9093",
            "x@127.0.0.1:9093",
            "-1@127.0.0.1:9093",
            "1@127.0.0.1",
            "1@127.0.0.1:99999",
            "1@:9093",
            "1@[::1:9093",
            "1@127.0.0.1:9093,1@127.0.0.1:9094",
        ] {
            assert!(
                matches!(parse_quorum_voters(bad), Err(ControllerError::Config(_))),
                "{bad:?}"
            );
        }
    }
}
