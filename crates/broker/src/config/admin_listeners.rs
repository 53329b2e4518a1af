//! `admin.listeners`: where the admin HTTP listener (`/metrics`, `/livez`, `/readyz`) binds.
//!
//! A comma-separated list of `http://host:port` URLs; an empty value switches the listener off.
//! The host is an IP address (`[..]` around an IPv6 one), `localhost`, or empty for every
//! interface; port 0 binds an ephemeral port (the bound address is logged). `https://` is not
//! served yet and is refused at startup rather than silently served in clear text.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The addresses `value` names, or the message a startup error shows.
pub fn parse_admin_listeners(value: &str) -> Result<Vec<SocketAddr>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_one)
        .collect()
}

fn parse_one(url: &str) -> Result<SocketAddr, String> {
    let bad = |why: &str| Err(format!("admin.listeners: invalid URL '{url}': {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("expected http://host:port");
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" => {}
        "https" => return bad("https is not supported on the admin listener yet; use http"),
        _ => return bad("the scheme must be http"),
    }
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
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_admin_listeners("http://127.0.0.1:9644").unwrap(),
            vec!["127.0.0.1:9644".parse().unwrap()]
        );
        assert_eq!(
            parse_admin_listeners(" http://:0/ , HTTP://[::1]:80,http://localhost:1").unwrap(),
            vec![
                "0.0.0.0:0".parse().unwrap(),
                "[::1]:80".parse().unwrap(),
                "127.0.0.1:1".parse().unwrap()
            ]
        );
        assert!(parse_admin_listeners("").unwrap().is_empty());
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for (value, why) in [
            ("127.0.0.1:9644", "expected http://host:port"),
            ("ftp://127.0.0.1:1", "the scheme must be http"),
            ("https://127.0.0.1:1", "https is not supported"),
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
