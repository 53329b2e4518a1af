//! A minimal blocking HTTPS GET, for the JWK set at an `https:` JWKS endpoint.
//!
//! Why not an HTTP client crate: the one request Sluice makes is a GET of a small JSON
//! document once an hour, and rustls (with Sluice's *ring* provider, [`crypto_provider`]) is
//! already here; the HTTP it needs is a request line, a `Host` header and a response with a
//! status, a few headers and a body. Client crates bring their own TLS setup, root stores and
//! dependencies for much more than that.
//!
//! What it does: `GET <path> HTTP/1.1` with `Host`, `Accept: application/json` and
//! `Connection: close`; reads the response to the end of the connection (capped at
//! [`MAX_RESPONSE_BYTES`]) within one deadline for connecting, the handshake and reading; takes
//! the body framed by `Transfer-Encoding: chunked`, `Content-Length` or the close (which then
//! must be a TLS close_notify, so a cut connection is not taken for a short body); follows up
//! to [`MAX_REDIRECTS`] redirects to other `https:` URLs; accepts status 200 only. DNS
//! resolution is the system's and is not bounded by the deadline (run it on a blocking pool).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use crate::tls::crypto_provider;

/// The largest response read, headers included; a JWK set is a few kilobytes.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 3;

/// An `https://host[:port][/path][?query]` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpsUrl {
    /// The host as written, without brackets for an IPv6 literal.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpsUrl {
    pub(crate) fn parse(url: &str) -> Result<HttpsUrl, String> {
        let rest = url
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
            .map(|_| &url[8..])
            .ok_or_else(|| format!("{url} is not an https: URL"))?;
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(format!("{url}: credentials in the URL are not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url}: unclosed IPv6 address"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let port = match port {
            None | Some("") => 443,
            Some(p) => p.parse().map_err(|_| format!("{url}: bad port"))?,
        };
        if host.is_empty() || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(format!("{url}: no host, or a space or control character"));
        }
        Ok(HttpsUrl {
            host: host.to_string(),
            port,
            path,
        })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            443 => host,
            port => format!("{host}:{port}"),
        }
    }
}

/// GETs `url`, trusting `roots`; the body of a 200 response.
pub(crate) fn https_get(
    url: &HttpsUrl,
    roots: Arc<rustls::RootCertStore>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let config = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let config = Arc::new(config);
    let mut url = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let response = request(&url, config.clone(), deadline)?;
        match parse_response(&response)? {
            Response::Body(body) => return Ok(body),
            Response::Redirect(location) => url = HttpsUrl::parse(&location)?,
        }
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "timed out".to_string())
}

/// One request on one connection: the raw response, which must end with close_notify unless
/// its framing says where it ends (checked by [`parse_response`] through `cut`).
fn request(
    url: &HttpsUrl,
    config: Arc<rustls::ClientConfig>,
    deadline: Instant,
) -> Result<RawResponse, String> {
    let name = ServerName::try_from(url.host.clone())
        .map_err(|_| format!("{} is not a valid server name", url.host))?;
    let addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {}: {e}", url.host))?;
    let mut last_error = format!("{} has no address", url.host);
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last_error = format!("connecting to {addr}: {e}"),
        }
    }
    let mut tcp = tcp.ok_or(last_error)?;
    let mut tls = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: sluice\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header()
    );
    stream
        .sock
        .set_write_timeout(Some(remaining(deadline)?))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        stream
            .sock
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(RawResponse { bytes, cut: false }),
            Ok(n) => {
                if bytes.len() + n > MAX_RESPONSE_BYTES {
                    return Err(format!(
                        "the response is larger than {MAX_RESPONSE_BYTES} bytes"
                    ));
                }
                bytes.extend_from_slice(&chunk[..n]);
            }
            // The peer closed without close_notify: fine if the framing shows the body whole.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                return Ok(RawResponse { bytes, cut: true })
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err("timed out reading the response".into())
            }
            Err(e) => return Err(format!("reading the response: {e}")),
        }
    }
}

struct RawResponse {
    bytes: Vec<u8>,
    /// The connection ended without a TLS close_notify.
    cut: bool,
}

enum Response {
    Body(Vec<u8>),
    Redirect(String),
}

fn parse_response(raw: &RawResponse) -> Result<Response, String> {
    let bytes = &raw.bytes;
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the response has no complete header")?;
    let head =
        std::str::from_utf8(&bytes[..head_end]).map_err(|_| "the response header is not UTF-8")?;
    let body = &bytes[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = match status_line.split(' ').collect::<Vec<_>>().as_slice() {
        [version, code, ..] if version.starts_with("HTTP/1.") => {
            code.parse().map_err(|_| "bad status code")?
        }
        _ => return Err("the response has no HTTP/1.x status line".into()),
    };
    let header = |name: &str| {
        lines.clone().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    if matches!(status, 301 | 302 | 303 | 307 | 308) {
        let location = header("location").ok_or("a redirect without Location")?;
        return Ok(Response::Redirect(location.to_string()));
    }
    if status != 200 {
        return Err(format!("HTTP status {status}"));
    }
    let chunked =
        header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return dechunk(body).map(Response::Body);
    }
    if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| "bad Content-Length")?;
        return match body.get(..length) {
            Some(body) => Ok(Response::Body(body.to_vec())),
            None => Err("the body is shorter than its Content-Length".into()),
        };
    }
    if raw.cut {
        return Err("the connection was cut before the end of the body".into());
    }
    Ok(Response::Body(body.to_vec()))
}

/// Decodes a chunked body (RFC 9112 section 7.1); trailers are ignored.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is not terminated")?;
        let line = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let data = body.get(..size).ok_or("a chunk is cut short")?;
        out.extend_from_slice(data);
        body = body
            .get(size..)
            .and_then(|rest| rest.strip_prefix(b"\r\n"))
            .ok_or("a chunk is not followed by CRLF")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_split() {
        let u = HttpsUrl::parse("https://idp.example:8443/realms/k/certs?x=1#frag").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("idp.example", 8443, "/realms/k/certs?x=1")
        );
        assert_eq!(u.host_header(), "idp.example:8443");
        let u = HttpsUrl::parse("HTTPS://[::1]?q").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 443, "/?q")
        );
        assert_eq!(u.host_header(), "[::1]");
        for bad in [
            "http://idp/keys",
            "https://",
            "https://user:pw@idp/keys",
            "https://idp:port/",
            "https://[::1/",
            "https://idp/a b",
            "ftp://x",
            "",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad}");
        }
    }

    fn parse(text: &[u8], cut: bool) -> Result<Vec<u8>, String> {
        match parse_response(&RawResponse {
            bytes: text.to_vec(),
            cut,
        })? {
            Response::Body(body) => Ok(body),
            Response::Redirect(to) => Err(format!("redirect to {to}")),
        }
    }

    #[test]
    fn responses_are_framed_by_length_chunks_or_close() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse(r, true).expect("length"), b"{}");
        let r = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2;x=y\r\n{\"\r\n3\r\nk\":\r\n0\r\nT: 1\r\n\r\n";
        assert_eq!(parse(r, true).expect("chunked"), b"{\"k\":");
        let r = b"HTTP/1.0 200 OK\r\n\r\n{}";
        assert_eq!(parse(r, false).expect("close"), b"{}");
        assert!(parse(r, true).is_err(), "cut without framing");
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 404 Not Found\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"SSH-2.0\r\n\r\n",
        ] {
            assert!(
                parse(bad, false).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let r = b"HTTP/1.1 302 Found\r\nLocation: https://other/keys\r\n\r\n";
        assert_eq!(
            parse(r, false),
            Err("redirect to https://other/keys".into())
        );
    }
}
