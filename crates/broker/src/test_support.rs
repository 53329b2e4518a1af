//! Builders shared by the crate's unit tests: record batches, metadata images, and requests
//! and responses on a connection to a test server.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_controller::{MetadataCommand, MetadataImage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

/// One v2 batch of `count` one-byte records (the log assigns offsets and the leader epoch).
pub fn batch(count: usize) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            delete_horizon: false,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encodes");
    buf.freeze()
}

/// A metadata image built by applying commands in order, as a controller would.
#[derive(Default)]
pub struct ImageBuilder {
    pub image: MetadataImage,
    offset: u64,
    /// Broker epochs by broker id, from their registrations.
    pub broker_epochs: BTreeMap<i32, i64>,
}

impl ImageBuilder {
    /// Applies `command` (panicking if the image refuses it); returns its log offset.
    pub fn apply(&mut self, command: MetadataCommand) -> i64 {
        self.offset += 1;
        self.image
            .apply(self.offset, &command)
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        self.offset as i64
    }

    /// Registers and unfences broker `id` at host `host-<id>`, port 9090 + id.
    pub fn live_broker(&mut self, id: i32, rack: Option<&str>) -> &mut Self {
        let broker_epoch = self.apply(MetadataCommand::RegisterBroker {
            broker_id: id,
            incarnation_id: Uuid::from_u128(id as u128),
            host: format!("host-{id}"),
            port: 9090 + id as u16,
            listeners: Vec::new(),
            http_endpoints: Default::default(),
            rack: rack.map(str::to_string),
            timestamp_ms: 0,
        });
        self.broker_epochs.insert(id, broker_epoch);
        self.apply(MetadataCommand::UnfenceBroker {
            broker_id: id,
            broker_epoch,
        });
        self
    }
}

/// Writes one request frame (client id `unit-test`).
pub async fn write_request<R: Encodable>(
    stream: &mut TcpStream,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("unit-test")))
        .encode(&mut buf, api.request_header_version(version))
        .expect("header encodes");
    body.encode(&mut buf, version).expect("body encodes");
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    stream.write_all(&buf).await.expect("request written");
}

/// Reads one response frame (within 30 s) and decodes it: (correlation id, body).
pub async fn read_response<R: Decodable>(
    stream: &mut TcpStream,
    api: ApiKey,
    version: i16,
) -> (i32, R) {
    let read = async {
        let size = stream.read_i32().await.expect("response size");
        let mut body = vec![0u8; size as usize];
        stream.read_exact(&mut body).await.expect("response body");
        let mut body = Bytes::from(body);
        let header = ResponseHeader::decode(&mut body, api.response_header_version(version))
            .expect("response header");
        let response = R::decode(&mut body, version).expect("response body decodes");
        (header.correlation_id, response)
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("response within 30 s")
}
