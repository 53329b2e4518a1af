//! Forwarding a registry request to another node's registry (the writer, or a node holding
//! `_schemas` for a node that holds no replica), over HTTP/1.1 with hyper's client.
//!
//! The forwarded request carries [`FORWARDED`], so a node that is not the writer any more
//! answers 50004 instead of forwarding again; the writer's answer to a write carries
//! [`SCHEMAS_OFFSET`], the log end of `_schemas-0` after it, which the forwarding node waits
//! for before it answers (so the caller reads its write on that node too).

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use sluice_protocol::client::TlsClient;

/// Set on a forwarded request.
pub const FORWARDED: &str = "x-sluice-forwarded";
/// Set by the writer on its answer to a write: the offset the write's records end before.
pub const SCHEMAS_OFFSET: &str = "x-sluice-schemas-offset";

/// The largest answer taken from another node.
const MAX_ANSWER_BYTES: usize = 64 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An answer of the other node.
pub struct Forwarded {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `method path_and_query` with `body` to the registry at `base` (`http://host:port`),
/// with the caller's `Authorization` and `Content-Type`; the answer, or why none came.
pub async fn forward(
    base: &str,
    tls: Option<&TlsClient>,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
    timeout: Duration,
) -> Result<Forwarded, String> {
    request_with(
        base,
        tls,
        method,
        path_and_query,
        headers,
        body,
        timeout,
        true,
    )
    .await
}

/// One request to the registry at `base` (`http://host:port`) with the `Authorization` and
/// `Content-Type` of `headers`, marked forwarded or not: what the CLI's `sluice schema` sends
/// too.
pub async fn request(
    base: &str,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
    timeout: Duration,
    forwarded: bool,
) -> Result<Forwarded, String> {
    request_with(
        base,
        None,
        method,
        path_and_query,
        headers,
        body,
        timeout,
        forwarded,
    )
    .await
}

/// [`request`] to an `http://` or, with `tls`, an `https://` registry.
#[allow(clippy::too_many_arguments)]
pub async fn request_with(
    base: &str,
    tls: Option<&TlsClient>,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
    timeout: Duration,
    forwarded: bool,
) -> Result<Forwarded, String> {
    let (authority, secure) = match (base.strip_prefix("http://"), base.strip_prefix("https://")) {
        (Some(a), _) => (a, false),
        (None, Some(a)) => (a, true),
        _ => return Err(format!("{base} is not an http:// or https:// URL")),
    };
    let authority = authority.trim_end_matches('/');
    let mut request = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(axum::http::header::HOST, authority);
    if forwarded {
        request = request.header(FORWARDED, "1");
    }
    for name in [
        axum::http::header::AUTHORIZATION,
        axum::http::header::CONTENT_TYPE,
    ] {
        if let Some(v) = headers.get(&name) {
            request = request.header(name, v.clone());
        }
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let exchange = async {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority))
            .await
            .map_err(|_| format!("connecting to {base} timed out"))?
            .map_err(|e| format!("cannot connect to {base}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if secure {
            let Some(tls) = tls else {
                return Err(format!(
                    "cannot reach {base}: https needs the CA to trust (set \
                     listener.name.schema_registry.ssl.truststore.location or ssl.truststore.location)"
                ));
            };
            let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            let stream = tls
                .connect(host, tcp)
                .await
                .map_err(|e| format!("TLS with {base}: {e}"))?;
            exchange_on(stream, base, request).await
        } else {
            exchange_on(tcp, base, request).await
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("{base} did not answer within {timeout:?}"))?
}

/// One HTTP/1.1 exchange on `stream`.
async fn exchange_on<S>(
    stream: S,
    base: &str,
    request: Request<Full<Bytes>>,
) -> Result<Forwarded, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{base}: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{base}: {e}"))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| format!("reading the answer of {base}: {e}"))?
        .to_bytes();
    Ok(Forwarded {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// The `_schemas` offset a writer's answer carries.
pub fn schemas_offset(headers: &HeaderMap) -> Option<i64> {
    headers
        .get(SCHEMAS_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

pub fn offset_header(offset: i64) -> HeaderValue {
    HeaderValue::from(offset)
}
