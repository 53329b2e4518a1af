//! Request header parsing and response framing.
//!
//! Response frame layout:
//! ```text
//! 0..4   int32 size of what follows
//! 4..8   int32 correlation id (response header v0)
//! 8..    tagged fields (uvarint count, response header v1 only), then the body
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

/// A request could not be understood; the connection is closed (Kafka does the same for
/// frames it cannot parse).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unparseable(pub String);

/// A parsed request header plus what dispatch needs.
pub struct RequestContext {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    /// The peer's address as Kafka shows client hosts ("/127.0.0.1").
    pub client_host: String,
}

impl RequestContext {
    pub fn from_header(
        api_key: ApiKey,
        header: &RequestHeader,
        peer: std::net::SocketAddr,
    ) -> RequestContext {
        RequestContext {
            api_key,
            api_version: header.request_api_version,
            correlation_id: header.correlation_id,
            client_id: header.client_id.as_ref().map(|s| s.to_string()),
            client_host: format!("/{}", peer.ip()),
        }
    }
}

/// Decodes a request body of type `R` at `version`.
pub fn decode<R: Decodable>(body: &mut Bytes, version: i16) -> Result<R, Unparseable> {
    R::decode(body, version).map_err(|e| Unparseable(format!("malformed request body: {e}")))
}

/// Frames a response: size, response header for `api_key`/`version`, then `body`.
pub fn encode_response<R: Encodable>(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &R,
) -> Result<Bytes, Unparseable> {
    let header_version = api_key.response_header_version(version);
    encode_with_header(correlation_id, header_version, version, body)
}

pub fn encode_with_header<R: Encodable>(
    correlation_id: i32,
    header_version: i16,
    version: i16,
    body: &R,
) -> Result<Bytes, Unparseable> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .map_err(|e| Unparseable(format!("cannot encode response: {e}")))?;
    body.encode(&mut buf, version)
        .map_err(|e| Unparseable(format!("cannot encode response: {e}")))?;
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}
