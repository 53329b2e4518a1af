//! A blocking Kafka-protocol client for tests that send exact (and deliberately broken)
//! requests. Requests are framed and responses decoded by the codec of Sluice's own wire
//! client (`sluice_protocol::client`: the response guard runs before `kafka-protocol` decodes);
//! the raw frame methods are for tests that send malformed bytes on purpose.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use kafka_protocol::protocol::{Request, StrBytes};
use sluice_protocol::client::{decode_response, encode_request};

/// The largest response frame the harness reads, as a Kafka client's default
/// `receive.message.max.bytes`.
const RESPONSE_BYTES_MAX: usize = 100_000_000;

pub struct Client {
    pub stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    pub fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends `req` at `version` and decodes the response.
    pub fn send<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        self.try_send(req, version).expect("response")
    }

    pub fn try_send<R: Request>(&mut self, req: &R, version: i16) -> std::io::Result<R::Response> {
        self.correlation_id += 1;
        let client_id = StrBytes::from_static_str("sluice-test");
        let frame = encode_request(req, version, self.correlation_id, Some(&client_id))
            .expect("encode request");
        self.stream.write_all(&frame)?;
        let response = self.read_frame()?;
        // The guarded decode also checks that responses come back in order.
        Ok(decode_response::<R>(response, version, self.correlation_id)
            .unwrap_or_else(|e| panic!("response: {e}")))
    }

    pub fn send_raw_frame(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(body.len() + 4);
        out.put_i32(body.len() as i32);
        out.extend_from_slice(body);
        self.stream.write_all(&out)
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn read_frame(&mut self) -> std::io::Result<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|size| *size <= RESPONSE_BYTES_MAX)
            .unwrap_or_else(|| panic!("the broker sent a response of {size} bytes"));
        let mut buf = vec![0u8; size];
        self.stream.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// True if the broker closed this connection (EOF or reset) within the read timeout.
    pub fn closed_by_peer(&mut self) -> bool {
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
        }
    }
}

impl Client {
    /// Authenticates this connection with SASL/PLAIN as `user` (SaslHandshake v1, then one
    /// SaslAuthenticate v2 carrying `\0user\0password`), as a Kafka client does on a
    /// SASL_PLAINTEXT listener before any other request. Call it first on a fresh connection;
    /// an error names the step that failed and the broker's error code and message.
    pub fn login_plain(&mut self, user: &str, password: &str) -> Result<(), String> {
        use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
        let handshake =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
        let answer = self
            .try_send(&handshake, 1)
            .map_err(|e| format!("SaslHandshake: {e}"))?;
        if answer.error_code != 0 {
            return Err(format!("SaslHandshake: error {}", answer.error_code));
        }
        let message = format!("\0{user}\0{password}");
        let authenticate =
            SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message.into_bytes()));
        let answer = self
            .try_send(&authenticate, 2)
            .map_err(|e| format!("SaslAuthenticate: {e}"))?;
        if answer.error_code != 0 {
            return Err(format!(
                "SaslAuthenticate: error {} ({})",
                answer.error_code,
                answer.error_message.as_deref().unwrap_or("")
            ));
        }
        Ok(())
    }

    /// The metadata quorum's leader by DescribeQuorum (None while there is none).
    pub fn quorum_leader(&mut self) -> Option<i32> {
        use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
        use kafka_protocol::messages::{DescribeQuorumRequest, TopicName};
        let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
            .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
        let response = self.try_send(&request, 2).ok()?;
        let p = response.topics.first()?.partitions.first()?;
        (p.error_code == 0 && p.leader_id.0 > 0).then_some(p.leader_id.0)
    }
}
