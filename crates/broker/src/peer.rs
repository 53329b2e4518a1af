//! Requests from this broker to another one over the Kafka protocol (replica fetches,
//! transaction markers): a plain client connection, one request in flight at a time, every
//! step bounded by a timeout and every frame size bounded before allocating.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a request to another broker got no answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connection to {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} did not answer within {0:?}", .timeout)]
    Timeout { addr: String, timeout: Duration },
    #[error("{addr}: {message}")]
    Protocol { addr: String, message: String },
}

/// A connection to another broker.
pub struct PeerConnection {
    addr: String,
    stream: TcpStream,
    correlation_id: i32,
    client_id: StrBytes,
    max_frame_bytes: usize,
}

impl PeerConnection {
    /// Connects to `host:port` within `timeout`; requests carry `client_id`, responses larger
    /// than `max_frame_bytes` are refused.
    pub async fn connect(
        host: &str,
        port: u16,
        client_id: &str,
        max_frame_bytes: usize,
        timeout: Duration,
    ) -> Result<PeerConnection, PeerError> {
        let addr = format!("{host}:{port}");
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(PeerError::Connect { addr, source }),
            Err(_) => return Err(PeerError::Timeout { addr, timeout }),
        };
        let _ = stream.set_nodelay(true);
        Ok(PeerConnection {
            addr,
            stream,
            correlation_id: 0,
            client_id: StrBytes::from_string(client_id.to_string()),
            max_frame_bytes,
        })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `request` at `version` and waits (at most `timeout`) for its response. After an
    /// error the connection is in an unknown state: drop it.
    pub async fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, PeerError> {
        let addr = self.addr.clone();
        match tokio::time::timeout(timeout, self.round_trip(request, version)).await {
            Ok(result) => result,
            Err(_) => Err(PeerError::Timeout { addr, timeout }),
        }
    }

    async fn round_trip<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, PeerError> {
        let protocol = |message: String| PeerError::Protocol {
            addr: self.addr.clone(),
            message,
        };
        let api = ApiKey::try_from(R::KEY).map_err(|_| protocol(format!("api key {}", R::KEY)))?;
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, R::header_version(version))
            .map_err(|e| protocol(format!("encoding the request header: {e}")))?;
        request
            .encode(&mut body, version)
            .map_err(|e| protocol(format!("encoding {api:?} v{version}: {e}")))?;
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        let io = |source: std::io::Error| PeerError::Io {
            addr: self.addr.clone(),
            source,
        };
        self.stream.write_all(&frame).await.map_err(io)?;

        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .await
            .map_err(|source| PeerError::Io {
                addr: self.addr.clone(),
                source,
            })?;
        let size = i32::from_be_bytes(size);
        if size < 0 || size as usize > self.max_frame_bytes {
            return Err(PeerError::Protocol {
                addr: self.addr.clone(),
                message: format!("response of {size} bytes (limit {})", self.max_frame_bytes),
            });
        }
        let mut buf = vec![0u8; size as usize];
        self.stream
            .read_exact(&mut buf)
            .await
            .map_err(|source| PeerError::Io {
                addr: self.addr.clone(),
                source,
            })?;
        let mut bytes = Bytes::from(buf);
        let response_header =
            ResponseHeader::decode(&mut bytes, api.response_header_version(version)).map_err(
                |e| PeerError::Protocol {
                    addr: self.addr.clone(),
                    message: format!("decoding the response header: {e}"),
                },
            )?;
        if response_header.correlation_id != self.correlation_id {
            return Err(PeerError::Protocol {
                addr: self.addr.clone(),
                message: format!(
                    "response to request {} while waiting for {}",
                    response_header.correlation_id, self.correlation_id
                ),
            });
        }
        let response =
            R::Response::decode(&mut bytes, version).map_err(|e| PeerError::Protocol {
                addr: self.addr.clone(),
                message: format!("decoding {api:?} v{version}: {e}"),
            })?;
        if bytes.has_remaining() {
            tracing::debug!(
                "{}: {} unread byte(s) after {api:?} v{version}",
                self.addr,
                bytes.remaining()
            );
        }
        Ok(response)
    }
}
