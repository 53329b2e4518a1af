//! Requests from this broker to another one over the Kafka protocol (replica fetches,
//! transaction markers, transaction verification): a thin wrapper over the wire client every
//! Sluice component shares, [`sluice_protocol::client::Connection`]. One request in flight at a
//! time, every step bounded by a timeout, the response frame size bounded before allocating,
//! and every response walked by the response guard before it is decoded, so a peer that
//! claims a huge array gets an error, not an aborted process.

use std::time::Duration;

use kafka_protocol::protocol::Request;
use sluice_protocol::client::{ClientSecurity, Connection, ConnectionOptions};

/// Why a request to another broker got no answer (or one that could not be read).
pub type PeerError = sluice_protocol::client::ClientError;

/// A connection to another broker.
pub struct PeerConnection {
    connection: Connection,
}

impl PeerConnection {
    /// Connects to `host:port` within `timeout`, secured as the inter-broker listener asks
    /// (`security`: TLS, a SASL login); requests carry `client_id`, responses larger than
    /// `max_frame_bytes` are refused.
    pub async fn connect(
        host: &str,
        port: u16,
        security: &ClientSecurity,
        client_id: &str,
        max_frame_bytes: usize,
        timeout: Duration,
    ) -> Result<PeerConnection, PeerError> {
        // An IPv6 literal needs brackets before the port.
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let options = ConnectionOptions {
            client_id: client_id.to_string(),
            max_response_bytes: max_frame_bytes,
        };
        let connection = Connection::connect_secure(&addr, &options, security, timeout).await?;
        Ok(PeerConnection { connection })
    }

    pub fn addr(&self) -> &str {
        self.connection.addr()
    }

    /// Sends `request` at `version` and waits (at most `timeout`) for its response. After an
    /// error the connection is in an unknown state: drop it.
    pub async fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, PeerError> {
        self.connection.send(request, version, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::FetchRequest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A peer answering a replica Fetch v12 with a partition that claims 2^32-2 aborted
    /// transactions in a handful of bytes: kafka-protocol alone would reserve terabytes and
    /// abort the process; through the guard it is an error.
    #[tokio::test]
    async fn a_peer_claiming_a_huge_array_is_an_error_not_an_abort() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let peer = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let size = socket.read_i32().await.expect("request size");
            let mut request = vec![0u8; usize::try_from(size).expect("size")];
            socket.read_exact(&mut request).await.expect("request");
            let mut frame = Vec::new();
            frame.extend_from_slice(&request[4..8]); // correlation id
            frame.push(0); // response header tagged fields
            frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // throttle, error, session
            frame.extend_from_slice(&[2, 2, b't', 2]); // one topic "t", one partition
            frame.extend_from_slice(&[0; 6 + 24]); // index, error, watermarks, log start
            frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // aborted_transactions
            let mut out = (frame.len() as i32).to_be_bytes().to_vec();
            out.extend_from_slice(&frame);
            socket.write_all(&out).await.expect("answer");
        });
        let mut connection = PeerConnection::connect(
            "127.0.0.1",
            port,
            &ClientSecurity::default(),
            "test",
            1 << 20,
            Duration::from_secs(10),
        )
        .await
        .expect("connects");
        let err = connection
            .send(&FetchRequest::default(), 12, Duration::from_secs(10))
            .await
            .expect_err("refused");
        assert!(
            err.to_string().contains("claims 4294967294 elements"),
            "{err}"
        );
        peer.await.expect("fake peer");
    }
}
