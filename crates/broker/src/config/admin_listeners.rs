//! HTTP listener URLs: `admin.listeners` (the admin HTTP listener: `/metrics`, `/livez`,
//! `/readyz`, the JSON admin API and the console), and any other HTTP service's listener key.
//!
//! A comma-separated list of `http://host:port` or `https://host:port` URLs; an empty value
//! switches the service off. The host is an IP address (`[..]` around an IPv6 one),
//! `localhost`, or empty for every interface; port 0 binds an ephemeral port (the bound address
//! is logged). An `https` listener takes its TLS settings as a Kafka listener named after the
//! service would (`listener.name.admin.ssl.keystore.location`, ...), else the broker's `ssl.*`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// One listener of an HTTP service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpListener {
    pub addr: SocketAddr,
    /// `https://`: served over TLS.
    pub tls: bool,
}

/// The listeners `value` of `admin.listeners` names, or the message a startup error shows.
pub fn parse_admin_listeners(value: &str) -> Result<Vec<HttpListener>, String> {
    parse_http_listeners("admin.listeners", value)
}

/// The listeners `value` of the key `key` names, or the message a startup error shows.
pub fn parse_http_listeners(key: &str, value: &str) -> Result<Vec<HttpListener>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|url| parse_one(key, url))
        .collect()
}

fn parse_one(key: &str, url: &str) -> Result<HttpListener, String> {
    let bad = |why: &str| Err(format!("{key}: invalid URL '{url}': {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("expected http://host:port or https://host:port");
    };
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return bad("the scheme must be http or https"),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return bad("a listener URL has no path (the endpoints sit at its root)");
    }
    let Some((host, port)) = rest.rsplit_once(':') else {
        return bad("no port");
    };
    let Ok(port) = port.parse::<u16>() else {
        return bad("the port must be a number from 0 to 65535");
    };
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => {
            let h = h
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(h);
            match h.parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => return bad("the host must be an IP address, localhost or empty"),
            }
        }
    };
    Ok(HttpListener {
        addr: SocketAddr::new(ip, port),
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(value: &str) -> Vec<(String, bool)> {
        parse_admin_listeners(value)
            .unwrap()
            .into_iter()
            .map(|l| (l.addr.to_string(), l.tls))
            .collect()
    }

    #[test]
    fn urls() {
        assert_eq!(
            addrs("http://127.0.0.1:9644"),
            vec![("127.0.0.1:9644".into(), false)]
        );
        assert_eq!(
            addrs(" http://:0/ , HTTP://[::1]:80,https://localhost:1"),
            vec![
                ("0.0.0.0:0".into(), false),
                ("[::1]:80".into(), false),
                ("127.0.0.1:1".into(), true)
            ]
        );
        assert!(parse_admin_listeners("").unwrap().is_empty());
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for (value, why) in [
            (
                "127.0.0.1:9644",
                "expected http://host:port or https://host:port",
            ),
            ("ftp://127.0.0.1:1", "the scheme must be http or https"),
            ("http://127.0.0.1", "no port"),
            ("http://127.0.0.1:99999", "from 0 to 65535"),
            ("http://example.com:80", "must be an IP address"),
            ("http://127.0.0.1:80/metrics", "no path"),
        ] {
            let e = parse_admin_listeners(value).unwrap_err();
            assert!(e.contains(why) && e.contains(value), "{value}: {e}");
        }
    }
}
