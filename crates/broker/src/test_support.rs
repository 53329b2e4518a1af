//! Builders shared by the crate's unit tests: record batches and metadata images.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_controller::{MetadataCommand, MetadataImage};
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
