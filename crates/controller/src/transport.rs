//! [`ControllerTransport`]: how a controller connection is set up before its first RPC frame.
//! The controller crate only frames RPCs; encryption and authentication of the controller
//! listener (TLS, SASL, Kafka's `controller.listener.names` with
//! `listener.security.protocol.map` and `sasl.mechanism.controller.protocol`) belong to the
//! server that wires the node together, which passes its transport in [`ControllerConfig`].
//! [`PlaintextTransport`] (the default) uses the TCP connection as it is.
//!
//! [`ControllerConfig`]: crate::ControllerConfig

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A byte stream RPC frames travel on.
pub trait RpcStream: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> RpcStream for T {}

/// A connection ready for RPC frames.
pub type BoxedStream = Box<dyn RpcStream>;

/// A future a transport returns.
pub type TransportFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>;

/// An accepted connection, ready for RPC frames, and who the peer authenticated as.
pub struct Accepted {
    pub stream: BoxedStream,
    /// The peer's principal (`User:ANONYMOUS` without authentication), for logs and
    /// authorization.
    pub principal: String,
}

/// Sets up controller connections on both ends.
///
/// Contract: `connect` returns a stream on which the first bytes written are the first RPC
/// frame, and `accept` returns the server's end at the same point, with nothing read past the
/// set-up. Both must finish (or fail) within `timeout`; an error means no RPC is sent on that
/// connection. Neither may log secrets.
pub trait ControllerTransport: Send + Sync + Debug + 'static {
    /// Opens a connection to the controller listener at `addr`.
    fn connect(&self, addr: SocketAddr, timeout: Duration) -> TransportFuture<'_, BoxedStream>;

    /// Sets up a connection accepted on the controller listener from `peer`.
    fn accept(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        timeout: Duration,
    ) -> TransportFuture<'_, Accepted>;
}

/// TCP as it is: the controller listener's PLAINTEXT protocol.
#[derive(Debug, Default)]
pub struct PlaintextTransport;

impl ControllerTransport for PlaintextTransport {
    fn connect(&self, addr: SocketAddr, timeout: Duration) -> TransportFuture<'_, BoxedStream> {
        Box::pin(async move {
            let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxedStream)
        })
    }

    fn accept(
        &self,
        stream: TcpStream,
        _peer: SocketAddr,
        _timeout: Duration,
    ) -> TransportFuture<'_, Accepted> {
        Box::pin(async move {
            Ok(Accepted {
                stream: Box::new(stream),
                principal: "User:ANONYMOUS".to_string(),
            })
        })
    }
}
