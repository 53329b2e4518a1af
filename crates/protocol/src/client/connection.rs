//! One TCP connection to one broker, one request in flight at a time.
//!
//! Every call takes a timeout that bounds all its waiting (connecting, writing, reading). A
//! call that fails half-way (a timeout in the middle of a response, say) leaves the stream in an
//! unknown state, so the connection refuses further requests with [`ClientError::Broken`].
//!
//! Version negotiation: [`Connection::negotiate`] asks ApiVersions once per connection (v0: its
//! body is classic, needs no client software name and every broker since Kafka 0.10 answers it)
//! and picks the newest version that the broker, `kafka-protocol`'s request type, the response
//! guard and the caller all support. [`Connection::send`] sends at the version it is given
//! without asking, for peers whose versions are known (Sluice brokers talking to each other).
//!
//! ApiVersions v0, after the frame and headers of `codec.rs`:
//! ```text
//! request   (empty body)
//! response  int16 error_code, ARRAY api_keys: int16 api_key, int16 min_version,
//!           int16 max_version
//! ```

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiVersionsRequest;
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::codec::{api_name, decode_response, encode_request};
use super::error::ClientError;
use super::security::ClientSecurity;
use super::stream::BrokerStream;
use crate::guard;

/// A response body is read (and its buffer grown) this much at a time, so a peer that claims a
/// large size gets memory only for the bytes it really sends.
const READ_CHUNK_BYTES: usize = 1 << 20;
/// The ApiVersions version asked (see the module doc).
const API_VERSIONS_VERSION: i16 = 0;

/// How a connection identifies itself and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// The request header's client id.
    pub client_id: String,
    /// The largest response frame accepted; larger ones fail the request unread.
    pub max_response_bytes: usize,
}

/// The versions of one API a broker advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    pub api_key: i16,
    pub min_version: i16,
    pub max_version: i16,
}

pub struct Connection {
    /// `host:port` as given, for messages.
    addr: String,
    stream: BrokerStream,
    client_id: StrBytes,
    max_response_bytes: usize,
    correlation_id: i32,
    /// What the broker advertised, asked on first negotiation.
    api_versions: Option<Vec<ApiVersionRange>>,
    /// Set while a request is on the wire; still set after a request failed half-way.
    broken: bool,
}

impl Connection {
    /// Connects to a PLAINTEXT listener at `addr` (`host:port`), trying each address it
    /// resolves to, all within `timeout`.
    pub async fn connect(
        addr: &str,
        options: &ConnectionOptions,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        Connection::connect_secure(addr, options, &ClientSecurity::default(), timeout).await
    }

    /// Connects to `addr` with `security`: TCP, then the TLS handshake (SSL, SASL_SSL), then
    /// the SASL login (SASL_PLAINTEXT, SASL_SSL), all within `timeout`.
    pub async fn connect_secure(
        addr: &str,
        options: &ConnectionOptions,
        security: &ClientSecurity,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let deadline = Instant::now() + timeout;
        let tcp = Connection::connect_tcp(addr, timeout, deadline).await?;
        let stream = match &security.tls {
            None => BrokerStream::Plain(tcp),
            Some(tls) => {
                let host = tls.server_name.clone().unwrap_or_else(|| host_of(addr));
                let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
                    ClientError::Tls {
                        addr: addr.to_string(),
                        message: format!("{host} is not a valid TLS server name: {e}"),
                    }
                })?;
                let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
                match tokio::time::timeout_at(deadline, connector.connect(name, tcp)).await {
                    Err(_) => {
                        return Err(ClientError::Timeout {
                            addr: addr.to_string(),
                            timeout,
                        })
                    }
                    Ok(Err(e)) => {
                        return Err(ClientError::Tls {
                            addr: addr.to_string(),
                            message: e.to_string(),
                        })
                    }
                    Ok(Ok(s)) => BrokerStream::Tls(Box::new(s)),
                }
            }
        };
        let mut connection = Connection {
            addr: addr.to_string(),
            stream,
            client_id: StrBytes::from_string(options.client_id.clone()),
            max_response_bytes: options.max_response_bytes,
            correlation_id: 0,
            api_versions: None,
            broken: false,
        };
        if let Some(login) = &security.sasl {
            let left = deadline.saturating_duration_since(Instant::now());
            super::sasl::login(&mut connection, login, left).await?;
        }
        Ok(connection)
    }

    async fn connect_tcp(
        addr: &str,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<TcpStream, ClientError> {
        let timed_out = || ClientError::Timeout {
            addr: addr.to_string(),
            timeout,
        };
        let resolved = tokio::time::timeout_at(deadline, tokio::net::lookup_host(addr))
            .await
            .map_err(|_| timed_out())?
            .map_err(|source| ClientError::Resolve {
                addr: addr.to_string(),
                source,
            })?;
        let mut last_error = ClientError::Resolve {
            addr: addr.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        };
        for socket_addr in resolved {
            match tokio::time::timeout_at(deadline, TcpStream::connect(socket_addr)).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(source)) => {
                    last_error = ClientError::Connect {
                        addr: addr.to_string(),
                        source,
                    }
                }
                Ok(Ok(stream)) => {
                    // Requests are written whole; Nagle would only add latency.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
            }
        }
        Err(last_error)
    }

    /// The connection's byte stream (TCP or TLS), for a protocol that continues on it after a
    /// Kafka-framed start (the controller listener's SASL login). Nothing read from the peer
    /// is held back: a response is read whole, and only after its request.
    pub fn into_stream(
        self,
    ) -> impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sync + 'static {
        self.stream
    }

    /// `host:port` as given to [`Connection::connect`].
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `request` at `version` and waits at most `timeout` for its response.
    pub async fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ClientError> {
        self.check_usable()?;
        let addr = self.addr.clone();
        let exchange = async {
            let correlation_id = self.write_request(request, version).await?;
            let frame = self.read_frame().await?;
            Ok::<_, ClientError>((correlation_id, frame))
        };
        let (correlation_id, frame) = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result?,
            Err(_) => return Err(ClientError::Timeout { addr, timeout }),
        };
        match decode_response::<R>(frame, version, correlation_id) {
            Ok(response) => {
                self.broken = false;
                Ok(response)
            }
            // The frame was read whole, so the stream is still in step; but a peer whose
            // answers make no sense is not trusted further (`broken` stays set).
            Err(source) => Err(self.codec_error(source)),
        }
    }

    /// Sends `request` at `version` without waiting for a response: for Produce with acks=0,
    /// which the broker does not answer.
    pub async fn send_without_response<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<(), ClientError> {
        self.check_usable()?;
        let addr = self.addr.clone();
        match tokio::time::timeout(timeout, self.write_request(request, version)).await {
            Ok(result) => {
                result?;
                self.broken = false;
                Ok(())
            }
            Err(_) => Err(ClientError::Timeout { addr, timeout }),
        }
    }

    /// The API ranges the broker advertises, asked on first use.
    pub async fn api_versions(
        &mut self,
        timeout: Duration,
    ) -> Result<&[ApiVersionRange], ClientError> {
        if self.api_versions.is_none() {
            let response = self
                .send(
                    &ApiVersionsRequest::default(),
                    API_VERSIONS_VERSION,
                    timeout,
                )
                .await?;
            if response.error_code != 0 {
                return Err(ClientError::ApiVersions {
                    addr: self.addr.clone(),
                    error_code: response.error_code,
                });
            }
            let ranges = response
                .api_keys
                .iter()
                .map(|k| ApiVersionRange {
                    api_key: k.api_key,
                    min_version: k.min_version,
                    max_version: k.max_version,
                })
                .collect();
            self.api_versions = Some(ranges);
        }
        Ok(self.api_versions.as_deref().unwrap_or_default())
    }

    /// The newest version of `R` in `oldest..=newest` that the broker advertises and that
    /// `kafka-protocol` and the response guard support; `None` when there is none.
    pub async fn supported<R: Request>(
        &mut self,
        oldest: i16,
        newest: i16,
        timeout: Duration,
    ) -> Result<Option<i16>, ClientError> {
        let broker = self
            .api_versions(timeout)
            .await?
            .iter()
            .find(|r| r.api_key == R::KEY)
            .map(|r| (r.min_version, r.max_version));
        Ok(broker.and_then(|broker| common_version::<R>(oldest, newest, broker)))
    }

    /// Like [`Connection::supported`], with no common version an error that says which
    /// versions each side has.
    pub async fn negotiate<R: Request>(
        &mut self,
        oldest: i16,
        newest: i16,
        timeout: Duration,
    ) -> Result<i16, ClientError> {
        if let Some(version) = self.supported::<R>(oldest, newest, timeout).await? {
            return Ok(version);
        }
        let broker = self.api_versions.as_deref().and_then(|ranges| {
            ranges
                .iter()
                .find(|r| r.api_key == R::KEY)
                .map(|r| (r.min_version, r.max_version))
        });
        Err(ClientError::UnsupportedVersion {
            addr: self.addr.clone(),
            api: api_name(R::KEY),
            oldest,
            newest,
            broker,
        })
    }

    fn check_usable(&self) -> Result<(), ClientError> {
        if self.broken {
            return Err(ClientError::Broken {
                addr: self.addr.clone(),
            });
        }
        Ok(())
    }

    /// Writes one request frame; returns its correlation id. Marks the connection broken
    /// until the caller has finished the exchange.
    async fn write_request<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<i32, ClientError> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let correlation_id = self.correlation_id;
        let frame = encode_request(request, version, correlation_id, Some(&self.client_id))
            .map_err(|source| self.codec_error(source))?;
        self.broken = true;
        let written = async {
            self.stream.write_all(&frame).await?;
            // TLS holds written bytes in its session until flushed.
            self.stream.flush().await
        };
        written.await.map_err(|source| self.io_error(source))?;
        Ok(correlation_id)
    }

    /// Reads one response frame (without its size prefix), its size checked against the limit
    /// before any buffer is reserved and the buffer grown only as bytes arrive.
    async fn read_frame(&mut self) -> Result<Bytes, ClientError> {
        let mut size = [0u8; 4];
        self.read_exact(&mut size).await?;
        let size = i32::from_be_bytes(size);
        let len = usize::try_from(size)
            .ok()
            .filter(|len| *len <= self.max_response_bytes)
            .ok_or_else(|| ClientError::FrameTooLarge {
                addr: self.addr.clone(),
                size: i64::from(size),
                max: self.max_response_bytes,
            })?;
        let mut frame = Vec::with_capacity(len.min(READ_CHUNK_BYTES));
        while frame.len() < len {
            let chunk = (len - frame.len()).min(READ_CHUNK_BYTES);
            let start = frame.len();
            frame.resize(start + chunk, 0);
            self.read_exact(&mut frame[start..]).await?;
        }
        Ok(Bytes::from(frame))
    }

    async fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ClientError> {
        match self.stream.read_exact(buf).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ClientError::Closed {
                addr: self.addr.clone(),
            }),
            Err(source) => Err(self.io_error(source)),
        }
    }

    fn io_error(&self, source: std::io::Error) -> ClientError {
        ClientError::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    fn codec_error(&self, source: super::error::CodecError) -> ClientError {
        ClientError::Codec {
            addr: self.addr.clone(),
            source,
        }
    }
}

/// The host part of `host:port` (without the brackets of an IPv6 address).
fn host_of(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// The newest version in the caller's range, `R`'s request versions, the response guard's
/// versions and the broker's range.
fn common_version<R: Request>(oldest: i16, newest: i16, broker: (i16, i16)) -> Option<i16> {
    let (guard_min, guard_max) = guard::response_versions(R::KEY)?;
    let min = oldest.max(R::VERSIONS.min).max(guard_min).max(broker.0);
    let max = newest.min(R::VERSIONS.max).min(guard_max).min(broker.1);
    (min <= max).then_some(max)
}

#[cfg(test)]
mod tests;
