//! Listeners as `listeners` and `advertised.listeners` name them (`NAME://host:port`), the
//! address one binds, and the security protocol `listener.security.protocol.map` gives a name.

use std::net::SocketAddr;

/// One entry of `listeners` / `advertised.listeners`: `NAME://host:port` (a bare `host:port`
/// is named PLAINTEXT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Upper case.
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// The address to bind: an IP address or `localhost` (empty host: every interface).
    pub fn bind_address(&self) -> Result<SocketAddr, String> {
        let host = match self.host.as_str() {
            "" => "0.0.0.0",
            "localhost" => "127.0.0.1",
            h => h,
        };
        let ip: std::net::IpAddr = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| {
                format!(
                    "'{}://{}:{}': host must be an IP address or localhost",
                    self.name, self.host, self.port
                )
            })?;
        Ok(SocketAddr::new(ip, self.port))
    }
}

/// Parses a `listeners`-style list: at least one entry, names used once.
pub fn parse_listeners(value: &str) -> Result<Vec<Listener>, String> {
    let mut out: Vec<Listener> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, rest) = match entry.split_once("://") {
            Some((name, rest)) => (name.trim().to_ascii_uppercase(), rest),
            None => ("PLAINTEXT".to_string(), entry),
        };
        if name.is_empty() {
            return Err(format!("'{entry}': the listener has no name"));
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("'{entry}': expected NAME://host:port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("'{entry}': bad port '{port}'"))?;
        if out.iter().any(|l| l.name == name) {
            return Err(format!("listener name {name} is used twice"));
        }
        out.push(Listener {
            name,
            host: host.to_string(),
            port,
        });
    }
    if out.is_empty() {
        return Err("no listener given".to_string());
    }
    Ok(out)
}

/// The security protocol of listener `name` in a `listener.security.protocol.map` value
/// (`NAME:PROTOCOL,...`), upper case.
pub fn security_protocol(map: &str, name: &str) -> Option<String> {
    map.split(',')
        .filter_map(|e| e.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, p)| p.trim().to_ascii_uppercase())
}

/// `controller.listener.names`: upper case, empty entries dropped.
pub fn parse_listener_names(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .collect()
}
