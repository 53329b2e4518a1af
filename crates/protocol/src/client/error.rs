//! Why a request sent through [`super::Connection`] got no usable answer.

use std::time::Duration;

use crate::guard::GuardError;

/// A request that failed on the way, or whose response could not be read. After any of these
/// but [`ClientError::UnsupportedVersion`] the connection is unusable and must be dropped.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("connection to {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} closed the connection")]
    Closed { addr: String },
    /// The response frame claims more bytes than the limit (or a negative size); nothing was
    /// allocated for it.
    #[error("{addr} sent a response of {size} bytes (limit {max})")]
    FrameTooLarge { addr: String, size: i64, max: usize },
    /// The request could not be encoded, or the response was refused by the guard or the
    /// decoder.
    #[error("{addr}: {source}")]
    Codec { addr: String, source: CodecError },
    /// No version of the API both sides (and the response guard) support.
    #[error("{addr} does not support {api} v{oldest} to v{newest}{}", broker_range(.broker))]
    UnsupportedVersion {
        addr: String,
        api: String,
        oldest: i16,
        newest: i16,
        /// What the broker advertised, `None` when it does not list the API at all.
        broker: Option<(i16, i16)>,
    },
    /// The broker refused ApiVersions itself.
    #[error("{addr}: ApiVersions answered error code {error_code}")]
    ApiVersions { addr: String, error_code: i16 },
    /// The TLS handshake failed (untrusted or mismatched certificate, a plaintext listener, a
    /// required client certificate not given).
    #[error("TLS with {addr}: {message}")]
    Tls { addr: String, message: String },
    /// The SASL login was refused; `message` is the broker's (or why the client gave up).
    #[error("authentication with {addr} failed: {message}")]
    Authentication { addr: String, message: String },
    /// An earlier request on this connection failed half-way; its state is unknown.
    #[error("the connection to {addr} failed earlier and cannot be used again")]
    Broken { addr: String },
}

fn broker_range(broker: &Option<(i16, i16)>) -> String {
    match broker {
        Some((min, max)) => format!(" (it has v{min} to v{max})"),
        None => " (it does not list the API)".to_string(),
    }
}

impl ClientError {
    /// Whether the error happened while connecting or on the wire (the broker may be down or
    /// unreachable), as opposed to an answer that made no sense.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ClientError::Resolve { .. }
                | ClientError::Connect { .. }
                | ClientError::Timeout { .. }
                | ClientError::Io { .. }
                | ClientError::Closed { .. }
                | ClientError::Broken { .. }
        )
    }
}

/// Encoding a request or reading a response frame failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("api key {0} is not a Kafka api key")]
    UnknownApiKey(i16),
    #[error("cannot encode {api} v{version}: {message}")]
    Encode {
        api: String,
        version: i16,
        message: String,
    },
    /// The guard refused the response header or body: a count or length claims more than the
    /// frame holds, or the frame is truncated.
    #[error("{api} v{version} response refused: {source}")]
    Guard {
        api: String,
        version: i16,
        source: GuardError,
    },
    #[error("{api} v{version} response does not decode: {message}")]
    Decode {
        api: String,
        version: i16,
        message: String,
    },
    #[error("response to request {got} while waiting for {expected}")]
    Correlation { got: i32, expected: i32 },
}
