//! Size guard: walk a request before `kafka-protocol` decodes it.
//!
//! `kafka-protocol` 0.18 reserves `Vec::with_capacity(n)` for an array with the count `n` read
//! straight off the wire, so ten bytes claiming 2^31 topics abort the process. This module walks
//! the request header and body along declarative copies of Kafka's message schemas and checks
//! every count and length a peer claims against the bytes actually present. Only a request that
//! passes may be handed to the decoder; then every array the decoder reserves is backed by
//! elements that are really in the frame (each at least one byte, except elements of a struct
//! that has no field in the version at hand, whose count is still bounded by the bytes left).
//!
//! # Wire layout (Kafka protocol guide, "Protocol Primitive Types")
//! ```text
//! int8/int16/int32/int64, uint16, float64   fixed, big-endian; bool 1 byte; uuid 16 bytes
//! string           non-flexible: int16 length (-1 = null), then bytes
//!                  flexible:     uvarint length+1 (0 = null), then bytes
//! bytes, records   non-flexible: int32 length (-1 = null), then bytes
//!                  flexible:     uvarint length+1 (0 = null), then bytes
//! array            non-flexible: int32 count (-1 = null), then the elements
//!                  flexible:     uvarint count+1 (0 = null), then the elements
//! tagged fields    flexible only, after the last field of every struct (and of the body):
//!                  uvarint count, then per field: uvarint tag, uvarint size, size bytes
//! uvarint          7 bits per byte, low group first, high bit = more; at most 5 bytes (u32)
//! ```
//! Request header (v0: the first three fields; v1 adds client_id; v2 adds tagged fields):
//! ```text
//! int16 request_api_key | int16 request_api_version | int32 correlation_id
//! | nullable string client_id (always int16 length, even in v2) | tagged fields
//! ```
//!
//! # What the guard checks, and what it leaves to the decoder
//! - Every array count, string length and bytes length is at most the bytes remaining, and the
//!   whole structure is present (the walk visits every element).
//! - Unsigned varints are at most 5 bytes and fit in a u32 (the decoder silently drops the high
//!   bits of a longer one; rejecting it keeps the guard and the decoder in step).
//! - A tagged field the schema knows (e.g. Fetch `cluster_id`) is walked as its type, and must
//!   fill exactly the size its header declares: the decoder reads known tags from the stream
//!   without looking at the size, so a mismatch would make it read something else than we did.
//! - Nullability is not checked: `-1` (or compact `0`) is accepted for every string, bytes and
//!   array field. A null where Kafka forbids one allocates nothing; the decoder rejects it.
//! - Trailing bytes after the walk are allowed and ignored, as `kafka-protocol`'s decoder does:
//!   they are never allocated for. [`walk_request`] returns how many bytes the walk consumed, for
//!   a caller that wants to be strict.
//!
//! Memory after the guard is still proportional to the frame (bounded by
//! `socket.request.max.bytes`) times the ratio of a decoded element's size to its smallest wire
//! size: that is the cost of decoding at all, and the frame limit is what bounds it.

use kafka_protocol::messages::ApiKey;

/// Why a request was refused before decoding. `field` is the schema's field name (the struct
/// name for its tagged-field section); offsets count from the start of the body (of the frame,
/// for the header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The guard has no schema for this api key and version: answer UNSUPPORTED_VERSION.
    #[error("no request schema for api key {api_key} version {api_version}")]
    NoSchema { api_key: i16, api_version: i16 },
    /// The header names an api key Kafka does not define: the header cannot even be parsed.
    #[error("unknown api key {api_key} in request header")]
    UnknownApiKey { api_key: i16 },
    /// A fixed-size field (or the bytes a length announced) runs past the end.
    #[error("{field} at byte {offset}: needs {needed} bytes but only {remaining} remain")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        remaining: usize,
    },
    /// An array (or tagged-field list) claims more elements than there are bytes left.
    #[error(
        "{field} at byte {offset}: claims {claimed} elements but only {remaining} bytes remain"
    )]
    CountTooLarge {
        field: &'static str,
        offset: usize,
        claimed: u64,
        remaining: usize,
    },
    /// A string, bytes or tagged-field value claims more bytes than are left.
    #[error("{field} at byte {offset}: claims {claimed} bytes but only {remaining} remain")]
    LengthTooLarge {
        field: &'static str,
        offset: usize,
        claimed: u64,
        remaining: usize,
    },
    /// A length or count below -1.
    #[error("{field} at byte {offset}: negative length {length}")]
    NegativeLength {
        field: &'static str,
        offset: usize,
        length: i32,
    },
    /// An unsigned varint longer than 5 bytes or larger than u32::MAX.
    #[error("{field} at byte {offset}: malformed unsigned varint")]
    BadVarint { field: &'static str, offset: usize },
    /// A known tagged field whose value does not fill exactly the size its header declares.
    #[error(
        "tagged field {field} (tag {tag}): header declares {declared} bytes, value spans {used}"
    )]
    TaggedFieldSize {
        field: &'static str,
        tag: u32,
        declared: usize,
        used: usize,
    },
}

/// Checks the request header at the start of `frame` (the bytes after the 4-byte size prefix)
/// and returns its length, i.e. where the body starts.
///
/// The header version follows the api key and version the header itself names
/// (`ApiKey::request_header_version`), also for versions the broker does not support, so that
/// the broker can still read the correlation id and answer UNSUPPORTED_VERSION.
pub fn check_request_header(frame: &[u8]) -> Result<usize, GuardError> {
    let mut walker = Walker::new(frame, 0, true);
    let api_key = walker.int16("request_api_key")?;
    let api_version = walker.int16("request_api_version")?;
    walker.take("correlation_id", 4)?;
    let header_version = ApiKey::try_from(api_key)
        .map_err(|()| GuardError::UnknownApiKey { api_key })?
        .request_header_version(api_version);
    if header_version >= 1 {
        // client_id keeps its int16 length in header v2: it predates flexible versions.
        walker.flexible = false;
        walker.value("client_id", &Ty::String)?;
        walker.flexible = true;
    }
    if header_version >= 2 {
        walker.tagged_fields("request header", &[])?;
    }
    Ok(walker.pos)
}

/// Checks a request body (the bytes after the request header) against the schema of
/// `api_key`/`api_version`. `Ok` means the body may be handed to `kafka-protocol`'s decoder.
pub fn check_request(api_key: i16, api_version: i16, body: &[u8]) -> Result<(), GuardError> {
    walk_request(api_key, api_version, body).map(|_| ())
}

/// Like [`check_request`], and returns how many bytes of `body` the request spans (any bytes
/// after that are ignored, as the decoder ignores them).
pub fn walk_request(api_key: i16, api_version: i16, body: &[u8]) -> Result<usize, GuardError> {
    let schema = schema(api_key)
        .filter(|s| s.min_version <= api_version && api_version <= s.max_version)
        .ok_or(GuardError::NoSchema {
            api_key,
            api_version,
        })?;
    let mut walker = Walker::new(body, api_version, api_version >= schema.flexible_since);
    walker.fields(schema.name, schema.body)?;
    Ok(walker.pos)
}

/// The request versions the guard has a schema for, as `(min, max)`, or `None` for an api key it
/// does not know. A broker must not advertise a version outside this range.
pub fn supported_versions(api_key: i16) -> Option<(i16, i16)> {
    schema(api_key).map(|s| (s.min_version, s.max_version))
}

/// Every api key the guard has a schema for.
pub fn guarded_api_keys() -> impl Iterator<Item = i16> {
    SCHEMAS.iter().map(|s| s.api_key)
}

fn schema(api_key: i16) -> Option<&'static Schema> {
    SCHEMAS.iter().find(|s| s.api_key == api_key)
}

// ---------------------------------------------------------------------------------------------
// Schema representation

/// The wire type of a field.
#[derive(Debug)]
enum Ty {
    /// int8..int64, uint16, float64, bool, uuid: this many bytes.
    Fixed(usize),
    /// string and nullable string.
    String,
    /// bytes, nullable bytes and records.
    Bytes,
    /// An array of the inner type.
    Array(&'static Ty),
    /// A struct: its fields, then (in flexible versions) its tagged fields.
    Struct(&'static [Field]),
}

const INT8: Ty = Ty::Fixed(1);
const INT16: Ty = Ty::Fixed(2);
const INT32: Ty = Ty::Fixed(4);
const INT64: Ty = Ty::Fixed(8);
const BOOL: Ty = Ty::Fixed(1);
const UUID: Ty = Ty::Fixed(16);
const STRING: Ty = Ty::String;
const BYTES: Ty = Ty::Bytes;
const RECORDS: Ty = Ty::Bytes;
const ARRAY_INT32: Ty = Ty::Array(&INT32);
const ARRAY_STRING: Ty = Ty::Array(&STRING);

/// Stands for the open end of a version range ("10+" in Kafka's JSON schemas).
const LAST: i16 = i16::MAX;
/// `flexible_since` of an API that has no flexible version.
const NEVER: i16 = i16::MAX;

/// One field of a message schema.
#[derive(Debug)]
struct Field {
    name: &'static str,
    ty: Ty,
    /// Versions the field is present in, inclusive.
    min_version: i16,
    max_version: i16,
    /// `Some(tag)` for a tagged field: it travels in the tagged-field section, not in line.
    tag: Option<u32>,
}

impl Field {
    /// A field present from `min_version` to `max_version` inclusive (`LAST` for "and later").
    const fn new(name: &'static str, ty: Ty, min_version: i16, max_version: i16) -> Field {
        Field {
            name,
            ty,
            min_version,
            max_version,
            tag: None,
        }
    }

    /// A field present in every version of its message.
    const fn all(name: &'static str, ty: Ty) -> Field {
        Field::new(name, ty, 0, LAST)
    }

    /// Marks the field as tagged with `tag`.
    const fn tagged(self, tag: u32) -> Field {
        Field {
            tag: Some(tag),
            ..self
        }
    }

    fn in_version(&self, version: i16) -> bool {
        self.min_version <= version && version <= self.max_version
    }
}

/// The request schema of one API.
#[derive(Debug)]
struct Schema {
    api_key: i16,
    name: &'static str,
    /// The versions `kafka-protocol` decodes (the message's `VERSIONS`), inclusive.
    min_version: i16,
    max_version: i16,
    /// First flexible version (compact encodings and tagged fields), or `NEVER`.
    flexible_since: i16,
    body: &'static [Field],
}

impl Schema {
    const fn new(
        api_key: i16,
        name: &'static str,
        versions: std::ops::RangeInclusive<i16>,
        flexible_since: i16,
        body: &'static [Field],
    ) -> Schema {
        Schema {
            api_key,
            name,
            min_version: *versions.start(),
            max_version: *versions.end(),
            flexible_since,
            body,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The walker

/// A cursor over one buffer. Recursion depth is bounded by the static schemas, never by input.
struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    version: i16,
    flexible: bool,
}

impl<'a> Walker<'a> {
    fn new(buf: &'a [u8], version: i16, flexible: bool) -> Walker<'a> {
        Walker {
            buf,
            pos: 0,
            version,
            flexible,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, field: &'static str, needed: usize) -> Result<&'a [u8], GuardError> {
        let remaining = self.remaining();
        if needed > remaining {
            return Err(GuardError::Truncated {
                field,
                offset: self.pos,
                needed,
                remaining,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + needed];
        self.pos += needed;
        Ok(bytes)
    }

    fn int16(&mut self, field: &'static str) -> Result<i16, GuardError> {
        let b = self.take(field, 2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn int32(&mut self, field: &'static str) -> Result<i32, GuardError> {
        let b = self.take(field, 4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn uvarint(&mut self, field: &'static str) -> Result<u32, GuardError> {
        let offset = self.pos;
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take(field, 1)?[0];
            // The fifth byte carries bits 28..31 only, and ends the varint.
            if i == 4 && b > 0x0f {
                return Err(GuardError::BadVarint { field, offset });
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(GuardError::BadVarint { field, offset })
    }

    /// Reads a length or count prefix: `None` for null, else the claimed size.
    fn size_prefix(
        &mut self,
        field: &'static str,
        int16_wide: bool,
    ) -> Result<Option<u64>, GuardError> {
        let offset = self.pos;
        let raw = if self.flexible {
            i64::from(self.uvarint(field)?) - 1
        } else if int16_wide {
            i64::from(self.int16(field)?)
        } else {
            i64::from(self.int32(field)?)
        };
        match raw {
            -1 => Ok(None),
            n if n < -1 => Err(GuardError::NegativeLength {
                field,
                offset,
                length: i32::try_from(n).unwrap_or(i32::MIN),
            }),
            n => Ok(Some(n.unsigned_abs())),
        }
    }

    /// Walks the in-line fields present in this version, then the tagged fields.
    fn fields(
        &mut self,
        struct_name: &'static str,
        fields: &'static [Field],
    ) -> Result<(), GuardError> {
        for field in fields {
            if field.tag.is_none() && field.in_version(self.version) {
                self.value(field.name, &field.ty)?;
            }
        }
        if self.flexible {
            self.tagged_fields(struct_name, fields)?;
        }
        Ok(())
    }

    fn value(&mut self, field: &'static str, ty: &'static Ty) -> Result<(), GuardError> {
        match ty {
            Ty::Fixed(n) => self.take(field, *n).map(|_| ()),
            Ty::String | Ty::Bytes => {
                let offset = self.pos;
                let Some(len) = self.size_prefix(field, matches!(ty, Ty::String))? else {
                    return Ok(());
                };
                let remaining = self.remaining();
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= remaining)
                    .ok_or(GuardError::LengthTooLarge {
                        field,
                        offset,
                        claimed: len,
                        remaining,
                    })?;
                self.take(field, len).map(|_| ())
            }
            Ty::Array(element) => {
                let offset = self.pos;
                let Some(count) = self.size_prefix(field, false)? else {
                    return Ok(());
                };
                let remaining = self.remaining();
                if count > remaining as u64 {
                    return Err(GuardError::CountTooLarge {
                        field,
                        offset,
                        claimed: count,
                        remaining,
                    });
                }
                for _ in 0..count {
                    self.value(field, element)?;
                }
                Ok(())
            }
            Ty::Struct(fields) => self.fields(field, fields),
        }
    }

    /// Walks a tagged-field section; `fields` are the struct's fields, some of them tagged.
    fn tagged_fields(
        &mut self,
        struct_name: &'static str,
        fields: &'static [Field],
    ) -> Result<(), GuardError> {
        let offset = self.pos;
        let count = self.uvarint(struct_name)?;
        let remaining = self.remaining();
        if u64::from(count) > remaining as u64 {
            return Err(GuardError::CountTooLarge {
                field: struct_name,
                offset,
                claimed: u64::from(count),
                remaining,
            });
        }
        for _ in 0..count {
            let tag = self.uvarint(struct_name)?;
            let size_offset = self.pos;
            let size = self.uvarint(struct_name)?;
            let remaining = self.remaining();
            let size = usize::try_from(size)
                .ok()
                .filter(|size| *size <= remaining)
                .ok_or(GuardError::LengthTooLarge {
                    field: struct_name,
                    offset: size_offset,
                    claimed: u64::from(size),
                    remaining,
                })?;
            let known = fields
                .iter()
                .find(|f| f.tag == Some(tag) && f.in_version(self.version));
            match known {
                None => {
                    self.take(struct_name, size)?;
                }
                Some(field) => {
                    // Walk the value inside its declared size only, and insist it fills it.
                    let end = self.pos + size;
                    let mut inner = Walker {
                        buf: &self.buf[..end],
                        pos: self.pos,
                        version: self.version,
                        flexible: self.flexible,
                    };
                    inner.value(field.name, &field.ty)?;
                    if inner.pos != end {
                        return Err(GuardError::TaggedFieldSize {
                            field: field.name,
                            tag,
                            declared: size,
                            used: inner.pos - self.pos,
                        });
                    }
                    self.pos = end;
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Request schemas, after Kafka's message JSON schemas (as generated into kafka-protocol 0.18,
// i.e. Kafka 4.1). Field order is wire order; version ranges are inclusive. Nested struct types
// are named after Kafka's struct names.

const SCHEMAS: &[Schema] = &[
    // api key, name, versions kafka-protocol decodes, first flexible version, body
    Schema::new(0, "ProduceRequest", 3..=13, 9, PRODUCE),
    Schema::new(1, "FetchRequest", 4..=18, 12, FETCH),
    Schema::new(2, "ListOffsetsRequest", 1..=10, 6, LIST_OFFSETS),
    Schema::new(3, "MetadataRequest", 0..=13, 9, METADATA),
    Schema::new(8, "OffsetCommitRequest", 2..=9, 8, OFFSET_COMMIT),
    Schema::new(9, "OffsetFetchRequest", 1..=9, 6, OFFSET_FETCH),
    Schema::new(10, "FindCoordinatorRequest", 0..=6, 3, FIND_COORDINATOR),
    Schema::new(11, "JoinGroupRequest", 0..=9, 6, JOIN_GROUP),
    Schema::new(12, "HeartbeatRequest", 0..=4, 4, HEARTBEAT),
    Schema::new(13, "LeaveGroupRequest", 0..=5, 4, LEAVE_GROUP),
    Schema::new(14, "SyncGroupRequest", 0..=5, 4, SYNC_GROUP),
    Schema::new(15, "DescribeGroupsRequest", 0..=6, 5, DESCRIBE_GROUPS),
    Schema::new(16, "ListGroupsRequest", 0..=5, 3, LIST_GROUPS),
    Schema::new(17, "SaslHandshakeRequest", 0..=1, NEVER, SASL_HANDSHAKE),
    Schema::new(18, "ApiVersionsRequest", 0..=4, 3, API_VERSIONS),
    Schema::new(19, "CreateTopicsRequest", 2..=7, 5, CREATE_TOPICS),
    Schema::new(20, "DeleteTopicsRequest", 1..=6, 4, DELETE_TOPICS),
    Schema::new(21, "DeleteRecordsRequest", 0..=2, 2, DELETE_RECORDS),
    Schema::new(22, "InitProducerIdRequest", 0..=5, 2, INIT_PRODUCER_ID),
    Schema::new(
        23,
        "OffsetForLeaderEpochRequest",
        2..=4,
        4,
        OFFSET_FOR_LEADER_EPOCH,
    ),
    Schema::new(
        24,
        "AddPartitionsToTxnRequest",
        0..=5,
        3,
        ADD_PARTITIONS_TO_TXN,
    ),
    Schema::new(25, "AddOffsetsToTxnRequest", 0..=4, 3, ADD_OFFSETS_TO_TXN),
    Schema::new(26, "EndTxnRequest", 0..=5, 3, END_TXN),
    Schema::new(27, "WriteTxnMarkersRequest", 1..=1, 1, WRITE_TXN_MARKERS),
    Schema::new(28, "TxnOffsetCommitRequest", 0..=5, 3, TXN_OFFSET_COMMIT),
    Schema::new(32, "DescribeConfigsRequest", 1..=4, 4, DESCRIBE_CONFIGS),
    Schema::new(33, "AlterConfigsRequest", 0..=2, 2, ALTER_CONFIGS),
    Schema::new(35, "DescribeLogDirsRequest", 1..=4, 2, DESCRIBE_LOG_DIRS),
    Schema::new(36, "SaslAuthenticateRequest", 0..=2, 2, SASL_AUTHENTICATE),
    Schema::new(37, "CreatePartitionsRequest", 0..=3, 2, CREATE_PARTITIONS),
    Schema::new(42, "DeleteGroupsRequest", 0..=2, 2, DELETE_GROUPS),
    Schema::new(43, "ElectLeadersRequest", 0..=2, 2, ELECT_LEADERS),
    Schema::new(
        44,
        "IncrementalAlterConfigsRequest",
        0..=1,
        1,
        INCREMENTAL_ALTER_CONFIGS,
    ),
    Schema::new(
        45,
        "AlterPartitionReassignmentsRequest",
        0..=1,
        0,
        ALTER_PARTITION_REASSIGNMENTS,
    ),
    Schema::new(
        46,
        "ListPartitionReassignmentsRequest",
        0..=0,
        0,
        LIST_PARTITION_REASSIGNMENTS,
    ),
    Schema::new(47, "OffsetDeleteRequest", 0..=0, NEVER, OFFSET_DELETE),
    Schema::new(55, "DescribeQuorumRequest", 0..=2, 0, DESCRIBE_QUORUM),
    Schema::new(60, "DescribeClusterRequest", 0..=2, 0, DESCRIBE_CLUSTER),
    Schema::new(61, "DescribeProducersRequest", 0..=0, 0, DESCRIBE_PRODUCERS),
    Schema::new(
        65,
        "DescribeTransactionsRequest",
        0..=0,
        0,
        DESCRIBE_TRANSACTIONS,
    ),
    Schema::new(66, "ListTransactionsRequest", 0..=2, 0, LIST_TRANSACTIONS),
    Schema::new(
        68,
        "ConsumerGroupHeartbeatRequest",
        0..=1,
        0,
        CONSUMER_GROUP_HEARTBEAT,
    ),
    Schema::new(
        69,
        "ConsumerGroupDescribeRequest",
        0..=1,
        0,
        CONSUMER_GROUP_DESCRIBE,
    ),
];

// Produce (0)
const PRODUCE: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("acks", INT16),
    Field::all("timeout_ms", INT32),
    Field::all("topic_data", Ty::Array(&TOPIC_PRODUCE_DATA)),
];
const TOPIC_PRODUCE_DATA: Ty = Ty::Struct(&[
    Field::new("name", STRING, 0, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::all("partition_data", Ty::Array(&PARTITION_PRODUCE_DATA)),
]);
const PARTITION_PRODUCE_DATA: Ty =
    Ty::Struct(&[Field::all("index", INT32), Field::all("records", RECORDS)]);

// Fetch (1)
const FETCH: &[Field] = &[
    Field::new("cluster_id", STRING, 12, LAST).tagged(0),
    Field::new("replica_id", INT32, 0, 14),
    Field::new("replica_state", REPLICA_STATE, 15, LAST).tagged(1),
    Field::all("max_wait_ms", INT32),
    Field::all("min_bytes", INT32),
    Field::new("max_bytes", INT32, 3, LAST),
    Field::new("isolation_level", INT8, 4, LAST),
    Field::new("session_id", INT32, 7, LAST),
    Field::new("session_epoch", INT32, 7, LAST),
    Field::all("topics", Ty::Array(&FETCH_TOPIC)),
    Field::new(
        "forgotten_topics_data",
        Ty::Array(&FORGOTTEN_TOPIC),
        7,
        LAST,
    ),
    Field::new("rack_id", STRING, 11, LAST),
];
const REPLICA_STATE: Ty = Ty::Struct(&[
    Field::new("replica_id", INT32, 15, LAST),
    Field::new("replica_epoch", INT64, 15, LAST),
]);
const FETCH_TOPIC: Ty = Ty::Struct(&[
    Field::new("topic", STRING, 0, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::all("partitions", Ty::Array(&FETCH_PARTITION)),
]);
const FETCH_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition", INT32),
    Field::new("current_leader_epoch", INT32, 9, LAST),
    Field::all("fetch_offset", INT64),
    Field::new("last_fetched_epoch", INT32, 12, LAST),
    Field::new("log_start_offset", INT64, 5, LAST),
    Field::all("partition_max_bytes", INT32),
    Field::new("replica_directory_id", UUID, 17, LAST).tagged(0),
    Field::new("high_watermark", INT64, 18, LAST).tagged(1),
]);
const FORGOTTEN_TOPIC: Ty = Ty::Struct(&[
    Field::new("topic", STRING, 7, 12),
    Field::new("topic_id", UUID, 13, LAST),
    Field::new("partitions", ARRAY_INT32, 7, LAST),
]);

// ListOffsets (2)
const LIST_OFFSETS: &[Field] = &[
    Field::all("replica_id", INT32),
    Field::new("isolation_level", INT8, 2, LAST),
    Field::all("topics", Ty::Array(&LIST_OFFSETS_TOPIC)),
    Field::new("timeout_ms", INT32, 10, LAST),
];
const LIST_OFFSETS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&LIST_OFFSETS_PARTITION)),
]);
const LIST_OFFSETS_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::new("current_leader_epoch", INT32, 4, LAST),
    Field::all("timestamp", INT64),
]);

// Metadata (3)
const METADATA: &[Field] = &[
    Field::all("topics", Ty::Array(&METADATA_REQUEST_TOPIC)),
    Field::new("allow_auto_topic_creation", BOOL, 4, LAST),
    Field::new("include_cluster_authorized_operations", BOOL, 8, 10),
    Field::new("include_topic_authorized_operations", BOOL, 8, LAST),
];
const METADATA_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::new("topic_id", UUID, 10, LAST),
    Field::all("name", STRING),
]);

// OffsetCommit (8)
const OFFSET_COMMIT: &[Field] = &[
    Field::all("group_id", STRING),
    Field::new("generation_id_or_member_epoch", INT32, 1, LAST),
    Field::new("member_id", STRING, 1, LAST),
    Field::new("group_instance_id", STRING, 7, LAST),
    Field::new("retention_time_ms", INT64, 2, 4),
    Field::all("topics", Ty::Array(&OFFSET_COMMIT_REQUEST_TOPIC)),
];
const OFFSET_COMMIT_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&OFFSET_COMMIT_REQUEST_PARTITION)),
]);
const OFFSET_COMMIT_REQUEST_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("committed_offset", INT64),
    Field::new("committed_leader_epoch", INT32, 6, LAST),
    Field::all("committed_metadata", STRING),
]);

// OffsetFetch (9)
const OFFSET_FETCH: &[Field] = &[
    Field::new("group_id", STRING, 0, 7),
    Field::new("topics", Ty::Array(&OFFSET_FETCH_REQUEST_TOPIC), 0, 7),
    Field::new("groups", Ty::Array(&OFFSET_FETCH_REQUEST_GROUP), 8, LAST),
    Field::new("require_stable", BOOL, 7, LAST),
];
const OFFSET_FETCH_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::new("name", STRING, 0, 7),
    Field::new("partition_indexes", ARRAY_INT32, 0, 7),
]);
const OFFSET_FETCH_REQUEST_GROUP: Ty = Ty::Struct(&[
    Field::new("group_id", STRING, 8, LAST),
    Field::new("member_id", STRING, 9, LAST),
    Field::new("member_epoch", INT32, 9, LAST),
    Field::new("topics", Ty::Array(&OFFSET_FETCH_REQUEST_TOPICS), 8, LAST),
]);
const OFFSET_FETCH_REQUEST_TOPICS: Ty = Ty::Struct(&[
    Field::new("name", STRING, 8, LAST),
    Field::new("partition_indexes", ARRAY_INT32, 8, LAST),
]);

// FindCoordinator (10)
const FIND_COORDINATOR: &[Field] = &[
    Field::new("key", STRING, 0, 3),
    Field::new("key_type", INT8, 1, LAST),
    Field::new("coordinator_keys", ARRAY_STRING, 4, LAST),
];

// JoinGroup (11)
const JOIN_GROUP: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("session_timeout_ms", INT32),
    Field::new("rebalance_timeout_ms", INT32, 1, LAST),
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 5, LAST),
    Field::all("protocol_type", STRING),
    Field::all("protocols", Ty::Array(&JOIN_GROUP_REQUEST_PROTOCOL)),
    Field::new("reason", STRING, 8, LAST),
];
const JOIN_GROUP_REQUEST_PROTOCOL: Ty =
    Ty::Struct(&[Field::all("name", STRING), Field::all("metadata", BYTES)]);

// Heartbeat (12)
const HEARTBEAT: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("generation_id", INT32),
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 3, LAST),
];

// LeaveGroup (13)
const LEAVE_GROUP: &[Field] = &[
    Field::all("group_id", STRING),
    Field::new("member_id", STRING, 0, 2),
    Field::new("members", Ty::Array(&MEMBER_IDENTITY), 3, LAST),
];
const MEMBER_IDENTITY: Ty = Ty::Struct(&[
    Field::new("member_id", STRING, 3, LAST),
    Field::new("group_instance_id", STRING, 3, LAST),
    Field::new("reason", STRING, 5, LAST),
]);

// SyncGroup (14)
const SYNC_GROUP: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("generation_id", INT32),
    Field::all("member_id", STRING),
    Field::new("group_instance_id", STRING, 3, LAST),
    Field::new("protocol_type", STRING, 5, LAST),
    Field::new("protocol_name", STRING, 5, LAST),
    Field::all("assignments", Ty::Array(&SYNC_GROUP_REQUEST_ASSIGNMENT)),
];
const SYNC_GROUP_REQUEST_ASSIGNMENT: Ty = Ty::Struct(&[
    Field::all("member_id", STRING),
    Field::all("assignment", BYTES),
]);

// DescribeGroups (15)
const DESCRIBE_GROUPS: &[Field] = &[
    Field::all("groups", ARRAY_STRING),
    Field::new("include_authorized_operations", BOOL, 3, LAST),
];

// ListGroups (16)
const LIST_GROUPS: &[Field] = &[
    Field::new("states_filter", ARRAY_STRING, 4, LAST),
    Field::new("types_filter", ARRAY_STRING, 5, LAST),
];

// SaslHandshake (17)
const SASL_HANDSHAKE: &[Field] = &[Field::all("mechanism", STRING)];

// ApiVersions (18)
const API_VERSIONS: &[Field] = &[
    Field::new("client_software_name", STRING, 3, LAST),
    Field::new("client_software_version", STRING, 3, LAST),
];

// CreateTopics (19)
const CREATE_TOPICS: &[Field] = &[
    Field::all("topics", Ty::Array(&CREATABLE_TOPIC)),
    Field::all("timeout_ms", INT32),
    Field::new("validate_only", BOOL, 1, LAST),
];
const CREATABLE_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("num_partitions", INT32),
    Field::all("replication_factor", INT16),
    Field::all("assignments", Ty::Array(&CREATABLE_REPLICA_ASSIGNMENT)),
    Field::all("configs", Ty::Array(&CREATABLE_TOPIC_CONFIG)),
]);
const CREATABLE_REPLICA_ASSIGNMENT: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("broker_ids", ARRAY_INT32),
]);
const CREATABLE_TOPIC_CONFIG: Ty =
    Ty::Struct(&[Field::all("name", STRING), Field::all("value", STRING)]);

// DeleteTopics (20)
const DELETE_TOPICS: &[Field] = &[
    Field::new("topics", Ty::Array(&DELETE_TOPIC_STATE), 6, LAST),
    Field::new("topic_names", ARRAY_STRING, 0, 5),
    Field::all("timeout_ms", INT32),
];
const DELETE_TOPIC_STATE: Ty = Ty::Struct(&[
    Field::new("name", STRING, 6, LAST),
    Field::new("topic_id", UUID, 6, LAST),
]);

// DeleteRecords (21)
const DELETE_RECORDS: &[Field] = &[
    Field::all("topics", Ty::Array(&DELETE_RECORDS_TOPIC)),
    Field::all("timeout_ms", INT32),
];
const DELETE_RECORDS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&DELETE_RECORDS_PARTITION)),
]);
const DELETE_RECORDS_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("offset", INT64),
]);

// InitProducerId (22)
const INIT_PRODUCER_ID: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("transaction_timeout_ms", INT32),
    Field::new("producer_id", INT64, 3, LAST),
    Field::new("producer_epoch", INT16, 3, LAST),
];

// OffsetForLeaderEpoch (23)
const OFFSET_FOR_LEADER_EPOCH: &[Field] = &[
    Field::new("replica_id", INT32, 3, LAST),
    Field::all("topics", Ty::Array(&OFFSET_FOR_LEADER_TOPIC)),
];
const OFFSET_FOR_LEADER_TOPIC: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", Ty::Array(&OFFSET_FOR_LEADER_PARTITION)),
]);
const OFFSET_FOR_LEADER_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition", INT32),
    Field::new("current_leader_epoch", INT32, 2, LAST),
    Field::all("leader_epoch", INT32),
]);

// AddPartitionsToTxn (24)
const ADD_PARTITIONS_TO_TXN: &[Field] = &[
    Field::new(
        "transactions",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_TRANSACTION),
        4,
        LAST,
    ),
    Field::new("v3_and_below_transactional_id", STRING, 0, 3),
    Field::new("v3_and_below_producer_id", INT64, 0, 3),
    Field::new("v3_and_below_producer_epoch", INT16, 0, 3),
    Field::new(
        "v3_and_below_topics",
        Ty::Array(&ADD_PARTITIONS_TO_TXN_TOPIC),
        0,
        3,
    ),
];
const ADD_PARTITIONS_TO_TXN_TRANSACTION: Ty = Ty::Struct(&[
    Field::all("transactional_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("verify_only", BOOL),
    Field::all("topics", Ty::Array(&ADD_PARTITIONS_TO_TXN_TOPIC)),
]);
const ADD_PARTITIONS_TO_TXN_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// AddOffsetsToTxn (25)
const ADD_OFFSETS_TO_TXN: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("group_id", STRING),
];

// EndTxn (26)
const END_TXN: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("committed", BOOL),
];

// WriteTxnMarkers (27)
const WRITE_TXN_MARKERS: &[Field] = &[Field::all("markers", Ty::Array(&WRITABLE_TXN_MARKER))];
const WRITABLE_TXN_MARKER: Ty = Ty::Struct(&[
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::all("transaction_result", BOOL),
    Field::all("topics", Ty::Array(&WRITABLE_TXN_MARKER_TOPIC)),
    Field::all("coordinator_epoch", INT32),
]);
const WRITABLE_TXN_MARKER_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partition_indexes", ARRAY_INT32),
]);

// TxnOffsetCommit (28)
const TXN_OFFSET_COMMIT: &[Field] = &[
    Field::all("transactional_id", STRING),
    Field::all("group_id", STRING),
    Field::all("producer_id", INT64),
    Field::all("producer_epoch", INT16),
    Field::new("generation_id", INT32, 3, LAST),
    Field::new("member_id", STRING, 3, LAST),
    Field::new("group_instance_id", STRING, 3, LAST),
    Field::all("topics", Ty::Array(&TXN_OFFSET_COMMIT_TOPIC)),
];
const TXN_OFFSET_COMMIT_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&TXN_OFFSET_COMMIT_PARTITION)),
]);
const TXN_OFFSET_COMMIT_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("committed_offset", INT64),
    Field::new("committed_leader_epoch", INT32, 2, LAST),
    Field::all("committed_metadata", STRING),
]);

// DescribeProducers (61)
const DESCRIBE_PRODUCERS: &[Field] = &[Field::all("topics", Ty::Array(&DESCRIBE_PRODUCERS_TOPIC))];
const DESCRIBE_PRODUCERS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partition_indexes", ARRAY_INT32),
]);

// DescribeTransactions (65)
const DESCRIBE_TRANSACTIONS: &[Field] = &[Field::all("transactional_ids", ARRAY_STRING)];

// ListTransactions (66)
const LIST_TRANSACTIONS: &[Field] = &[
    Field::all("state_filters", ARRAY_STRING),
    Field::all("producer_id_filters", Ty::Array(&INT64)),
    Field::new("duration_filter", INT64, 1, LAST),
    Field::new("transactional_id_pattern", STRING, 2, LAST),
];

// DescribeConfigs (32)
const DESCRIBE_CONFIGS: &[Field] = &[
    Field::all("resources", Ty::Array(&DESCRIBE_CONFIGS_RESOURCE)),
    Field::new("include_synonyms", BOOL, 1, LAST),
    Field::new("include_documentation", BOOL, 3, LAST),
];
const DESCRIBE_CONFIGS_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("configuration_keys", ARRAY_STRING),
]);

// AlterConfigs (33)
const ALTER_CONFIGS: &[Field] = &[
    Field::all("resources", Ty::Array(&ALTER_CONFIGS_RESOURCE)),
    Field::all("validate_only", BOOL),
];
const ALTER_CONFIGS_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("configs", Ty::Array(&ALTERABLE_CONFIG)),
]);
const ALTERABLE_CONFIG: Ty = Ty::Struct(&[Field::all("name", STRING), Field::all("value", STRING)]);

// SaslAuthenticate (36)
const SASL_AUTHENTICATE: &[Field] = &[Field::all("auth_bytes", BYTES)];

// CreatePartitions (37)
const CREATE_PARTITIONS: &[Field] = &[
    Field::all("topics", Ty::Array(&CREATE_PARTITIONS_TOPIC)),
    Field::all("timeout_ms", INT32),
    Field::all("validate_only", BOOL),
];
const CREATE_PARTITIONS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("count", INT32),
    Field::all("assignments", Ty::Array(&CREATE_PARTITIONS_ASSIGNMENT)),
]);
const CREATE_PARTITIONS_ASSIGNMENT: Ty = Ty::Struct(&[Field::all("broker_ids", ARRAY_INT32)]);

// DescribeLogDirs (35)
const DESCRIBE_LOG_DIRS: &[Field] = &[Field::all("topics", Ty::Array(&DESCRIBABLE_LOG_DIR_TOPIC))];
const DESCRIBABLE_LOG_DIR_TOPIC: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// DeleteGroups (42)
const DELETE_GROUPS: &[Field] = &[Field::all("groups_names", ARRAY_STRING)];

// ElectLeaders (43)
const ELECT_LEADERS: &[Field] = &[
    Field::new("election_type", INT8, 1, LAST),
    Field::all(
        "topic_partitions",
        Ty::Array(&ELECT_LEADERS_TOPIC_PARTITIONS),
    ),
    Field::all("timeout_ms", INT32),
];
const ELECT_LEADERS_TOPIC_PARTITIONS: Ty = Ty::Struct(&[
    Field::all("topic", STRING),
    Field::all("partitions", ARRAY_INT32),
]);

// IncrementalAlterConfigs (44)
const INCREMENTAL_ALTER_CONFIGS: &[Field] = &[
    Field::all("resources", Ty::Array(&INCREMENTAL_ALTER_CONFIGS_RESOURCE)),
    Field::all("validate_only", BOOL),
];
const INCREMENTAL_ALTER_CONFIGS_RESOURCE: Ty = Ty::Struct(&[
    Field::all("resource_type", INT8),
    Field::all("resource_name", STRING),
    Field::all("configs", Ty::Array(&INCREMENTAL_ALTERABLE_CONFIG)),
]);
const INCREMENTAL_ALTERABLE_CONFIG: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("config_operation", INT8),
    Field::all("value", STRING),
]);

// AlterPartitionReassignments (45)
const ALTER_PARTITION_REASSIGNMENTS: &[Field] = &[
    Field::all("timeout_ms", INT32),
    Field::new("allow_replication_factor_change", BOOL, 1, LAST),
    Field::all("topics", Ty::Array(&REASSIGNABLE_TOPIC)),
];
const REASSIGNABLE_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&REASSIGNABLE_PARTITION)),
]);
const REASSIGNABLE_PARTITION: Ty = Ty::Struct(&[
    Field::all("partition_index", INT32),
    Field::all("replicas", ARRAY_INT32),
]);

// ListPartitionReassignments (46)
const LIST_PARTITION_REASSIGNMENTS: &[Field] = &[
    Field::all("timeout_ms", INT32),
    Field::all("topics", Ty::Array(&LIST_PARTITION_REASSIGNMENTS_TOPIC)),
];
const LIST_PARTITION_REASSIGNMENTS_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partition_indexes", ARRAY_INT32),
]);

// OffsetDelete (47)
const OFFSET_DELETE: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("topics", Ty::Array(&OFFSET_DELETE_REQUEST_TOPIC)),
];
const OFFSET_DELETE_REQUEST_TOPIC: Ty = Ty::Struct(&[
    Field::all("name", STRING),
    Field::all("partitions", Ty::Array(&OFFSET_DELETE_REQUEST_PARTITION)),
]);
const OFFSET_DELETE_REQUEST_PARTITION: Ty = Ty::Struct(&[Field::all("partition_index", INT32)]);

// DescribeQuorum (55)
const DESCRIBE_QUORUM: &[Field] = &[Field::all("topics", Ty::Array(&DESCRIBE_QUORUM_TOPIC))];
const DESCRIBE_QUORUM_TOPIC: Ty = Ty::Struct(&[
    Field::all("topic_name", STRING),
    Field::all("partitions", Ty::Array(&DESCRIBE_QUORUM_PARTITION)),
]);
const DESCRIBE_QUORUM_PARTITION: Ty = Ty::Struct(&[Field::all("partition_index", INT32)]);

// DescribeCluster (60)
const DESCRIBE_CLUSTER: &[Field] = &[
    Field::all("include_cluster_authorized_operations", BOOL),
    Field::new("endpoint_type", INT8, 1, LAST),
    Field::new("include_fenced_brokers", BOOL, 2, LAST),
];

// ConsumerGroupHeartbeat (68)
const CONSUMER_GROUP_HEARTBEAT: &[Field] = &[
    Field::all("group_id", STRING),
    Field::all("member_id", STRING),
    Field::all("member_epoch", INT32),
    Field::all("instance_id", STRING),
    Field::all("rack_id", STRING),
    Field::all("rebalance_timeout_ms", INT32),
    Field::all("subscribed_topic_names", ARRAY_STRING),
    Field::new("subscribed_topic_regex", STRING, 1, LAST),
    Field::all("server_assignor", STRING),
    Field::all("topic_partitions", Ty::Array(&TOPIC_PARTITIONS)),
];
const TOPIC_PARTITIONS: Ty = Ty::Struct(&[
    Field::all("topic_id", UUID),
    Field::all("partitions", ARRAY_INT32),
]);

// ConsumerGroupDescribe (69)
const CONSUMER_GROUP_DESCRIBE: &[Field] = &[
    Field::all("group_ids", ARRAY_STRING),
    Field::all("include_authorized_operations", BOOL),
];

/// Fully populated requests of every api key and version the guard has a schema for: non-empty
/// arrays at every level, non-empty strings, unknown tagged fields on every struct in flexible
/// versions and the known tagged fields set. The tests use them to prove the schema tables
/// against `kafka-protocol`'s encoder, and the fuzz target uses them as seeds.
#[doc(hidden)]
pub mod samples {
    use std::collections::BTreeMap;

    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    /// The encoded body of a populated request; `Err` when the guard has no schema for it or
    /// kafka-protocol refuses to encode it.
    pub fn encoded_body(api_key: i16, version: i16) -> Result<Bytes, String> {
        let (min, max) = super::supported_versions(api_key).unwrap_or((1, 0));
        if version < min || version > max {
            return Err(format!("no schema for api key {api_key} version {version}"));
        }
        let mut buf = BytesMut::new();
        let v = version;
        let encoded = match api_key {
            0 => produce(v).encode(&mut buf, v),
            1 => fetch(v).encode(&mut buf, v),
            2 => list_offsets(v).encode(&mut buf, v),
            3 => metadata(v).encode(&mut buf, v),
            8 => offset_commit(v).encode(&mut buf, v),
            9 => offset_fetch(v).encode(&mut buf, v),
            10 => find_coordinator(v).encode(&mut buf, v),
            11 => join_group(v).encode(&mut buf, v),
            12 => heartbeat(v).encode(&mut buf, v),
            13 => leave_group(v).encode(&mut buf, v),
            14 => sync_group(v).encode(&mut buf, v),
            15 => describe_groups(v).encode(&mut buf, v),
            16 => list_groups(v).encode(&mut buf, v),
            17 => sasl_handshake(v).encode(&mut buf, v),
            18 => api_versions(v).encode(&mut buf, v),
            19 => create_topics(v).encode(&mut buf, v),
            20 => delete_topics(v).encode(&mut buf, v),
            21 => delete_records(v).encode(&mut buf, v),
            22 => init_producer_id(v).encode(&mut buf, v),
            23 => offset_for_leader_epoch(v).encode(&mut buf, v),
            24 => add_partitions_to_txn(v).encode(&mut buf, v),
            25 => add_offsets_to_txn(v).encode(&mut buf, v),
            26 => end_txn(v).encode(&mut buf, v),
            27 => write_txn_markers(v).encode(&mut buf, v),
            28 => txn_offset_commit(v).encode(&mut buf, v),
            61 => describe_producers(v).encode(&mut buf, v),
            65 => describe_transactions(v).encode(&mut buf, v),
            66 => list_transactions(v).encode(&mut buf, v),
            32 => describe_configs(v).encode(&mut buf, v),
            33 => alter_configs(v).encode(&mut buf, v),
            35 => describe_log_dirs(v).encode(&mut buf, v),
            36 => sasl_authenticate(v).encode(&mut buf, v),
            37 => create_partitions(v).encode(&mut buf, v),
            42 => delete_groups(v).encode(&mut buf, v),
            43 => elect_leaders(v).encode(&mut buf, v),
            44 => incremental_alter_configs(v).encode(&mut buf, v),
            45 => alter_partition_reassignments(v).encode(&mut buf, v),
            46 => list_partition_reassignments(v).encode(&mut buf, v),
            47 => offset_delete(v).encode(&mut buf, v),
            55 => describe_quorum(v).encode(&mut buf, v),
            60 => describe_cluster(v).encode(&mut buf, v),
            68 => consumer_group_heartbeat(v).encode(&mut buf, v),
            69 => consumer_group_describe(v).encode(&mut buf, v),
            _ => return Err(format!("no sample for api key {api_key}")),
        };
        encoded
            .map(|()| buf.freeze())
            .map_err(|e| format!("api key {api_key} version {version}: {e}"))
    }

    /// Decodes `body` with kafka-protocol's decoder for `api_key`/`version`, dropping the result:
    /// `Err` carries the decoder's message. (`RequestKind` needs kafka-protocol's
    /// `messages_enums` feature, which the workspace does not enable.)
    pub fn decode_body(api_key: i16, version: i16, body: Bytes) -> Result<(), String> {
        fn run<T: Decodable>(mut body: Bytes, version: i16) -> Result<(), String> {
            T::decode(&mut body, version)
                .map(drop)
                .map_err(|e| e.to_string())
        }
        let v = version;
        match api_key {
            0 => run::<ProduceRequest>(body, v),
            1 => run::<FetchRequest>(body, v),
            2 => run::<ListOffsetsRequest>(body, v),
            3 => run::<MetadataRequest>(body, v),
            8 => run::<OffsetCommitRequest>(body, v),
            9 => run::<OffsetFetchRequest>(body, v),
            10 => run::<FindCoordinatorRequest>(body, v),
            11 => run::<JoinGroupRequest>(body, v),
            12 => run::<HeartbeatRequest>(body, v),
            13 => run::<LeaveGroupRequest>(body, v),
            14 => run::<SyncGroupRequest>(body, v),
            15 => run::<DescribeGroupsRequest>(body, v),
            16 => run::<ListGroupsRequest>(body, v),
            17 => run::<SaslHandshakeRequest>(body, v),
            18 => run::<ApiVersionsRequest>(body, v),
            19 => run::<CreateTopicsRequest>(body, v),
            20 => run::<DeleteTopicsRequest>(body, v),
            21 => run::<DeleteRecordsRequest>(body, v),
            22 => run::<InitProducerIdRequest>(body, v),
            23 => run::<OffsetForLeaderEpochRequest>(body, v),
            24 => run::<AddPartitionsToTxnRequest>(body, v),
            25 => run::<AddOffsetsToTxnRequest>(body, v),
            26 => run::<EndTxnRequest>(body, v),
            27 => run::<WriteTxnMarkersRequest>(body, v),
            28 => run::<TxnOffsetCommitRequest>(body, v),
            61 => run::<DescribeProducersRequest>(body, v),
            65 => run::<DescribeTransactionsRequest>(body, v),
            66 => run::<ListTransactionsRequest>(body, v),
            32 => run::<DescribeConfigsRequest>(body, v),
            33 => run::<AlterConfigsRequest>(body, v),
            35 => run::<DescribeLogDirsRequest>(body, v),
            36 => run::<SaslAuthenticateRequest>(body, v),
            37 => run::<CreatePartitionsRequest>(body, v),
            42 => run::<DeleteGroupsRequest>(body, v),
            43 => run::<ElectLeadersRequest>(body, v),
            44 => run::<IncrementalAlterConfigsRequest>(body, v),
            45 => run::<AlterPartitionReassignmentsRequest>(body, v),
            46 => run::<ListPartitionReassignmentsRequest>(body, v),
            47 => run::<OffsetDeleteRequest>(body, v),
            55 => run::<DescribeQuorumRequest>(body, v),
            60 => run::<DescribeClusterRequest>(body, v),
            68 => run::<ConsumerGroupHeartbeatRequest>(body, v),
            69 => run::<ConsumerGroupDescribeRequest>(body, v),
            other => Err(format!("no decoder wired for api key {other}")),
        }
    }

    /// A full request frame (header then body, without the size prefix) for a populated request.
    pub fn encoded_frame(api_key: i16, version: i16) -> Result<Bytes, String> {
        let body = encoded_body(api_key, version)?;
        let header_version = ApiKey::try_from(api_key)
            .map_err(|()| format!("unknown api key {api_key}"))?
            .request_header_version(version);
        let header = RequestHeader::default()
            .with_request_api_key(api_key)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .with_client_id(Some(s("fuzz-client")))
            .with_unknown_tagged_fields(tags(header_version, 2));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, header_version.max(1))
            .map_err(|e| e.to_string())?;
        if header_version == 0 {
            // Header v0 has no client_id; kafka-protocol only encodes v1 and v2.
            buf.truncate(8);
        }
        buf.extend_from_slice(&body);
        Ok(buf.freeze())
    }

    fn s(text: &'static str) -> StrBytes {
        StrBytes::from_static_str(text)
    }

    fn topic(text: &'static str) -> TopicName {
        TopicName(s(text))
    }

    fn group(text: &'static str) -> GroupId {
        GroupId(s(text))
    }

    /// An unknown tagged field, where the version is flexible.
    fn tags(version: i16, flexible_since: i16) -> BTreeMap<i32, Bytes> {
        let mut tags = BTreeMap::new();
        if version >= flexible_since {
            tags.insert(4242, Bytes::from_static(b"unknown"));
        }
        tags
    }

    /// `value` where `version` is in `min..=max`, else `T::default()`. kafka-protocol refuses to
    /// encode a field outside its versions unless it holds the message's default, so fields whose
    /// default is not `T::default()` (often -1) spell it out with an `if` instead.
    fn when<T: Default>(version: i16, min: i16, max: i16, value: T) -> T {
        if (min..=max).contains(&version) {
            value
        } else {
            T::default()
        }
    }

    /// A non-nil uuid without naming the uuid crate's type.
    fn uuid<T: std::str::FromStr + Default>() -> T {
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
            .parse()
            .unwrap_or_default()
    }

    fn produce(v: i16) -> ProduceRequest {
        use produce_request::*;
        let partition = PartitionProduceData::default()
            .with_index(3)
            .with_records(Some(Bytes::from_static(b"opaque record batch bytes")))
            .with_unknown_tagged_fields(tags(v, 9));
        let topic_data = TopicProduceData::default()
            .with_name(when(v, 0, 12, topic("orders")))
            .with_topic_id(when(v, 13, i16::MAX, uuid()))
            .with_partition_data(vec![partition.clone(), partition])
            .with_unknown_tagged_fields(tags(v, 9));
        ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(s("txn"))))
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![topic_data])
            .with_unknown_tagged_fields(tags(v, 9))
    }

    fn fetch(v: i16) -> FetchRequest {
        use fetch_request::*;
        let partition = FetchPartition::default()
            .with_partition(1)
            .with_current_leader_epoch(if v >= 9 { 5 } else { -1 })
            .with_fetch_offset(100)
            .with_last_fetched_epoch(if v >= 12 { 4 } else { -1 })
            .with_log_start_offset(if v >= 5 { 10 } else { -1 })
            .with_partition_max_bytes(1 << 20)
            .with_replica_directory_id(when(v, 17, i16::MAX, uuid()))
            // kafka-protocol's default for high_watermark is i64::MAX ("not set").
            .with_high_watermark(if v >= 18 { 99 } else { i64::MAX })
            .with_unknown_tagged_fields(tags(v, 12));
        let fetch_topic = FetchTopic::default()
            .with_topic(when(v, 0, 12, topic("orders")))
            .with_topic_id(when(v, 13, i16::MAX, uuid()))
            .with_partitions(vec![partition])
            .with_unknown_tagged_fields(tags(v, 12));
        let forgotten = ForgottenTopic::default()
            .with_topic(when(v, 7, 12, topic("old")))
            .with_topic_id(when(v, 13, i16::MAX, uuid()))
            .with_partitions(vec![0, 1, 2])
            .with_unknown_tagged_fields(tags(v, 12));
        let replica_state = ReplicaState::default()
            .with_replica_id(BrokerId(2))
            .with_replica_epoch(8)
            .with_unknown_tagged_fields(tags(v, 12));
        FetchRequest::default()
            .with_cluster_id(when(v, 12, i16::MAX, Some(s("cluster-1"))))
            .with_replica_id(BrokerId(if v <= 14 { 1 } else { -1 }))
            .with_replica_state(when(v, 15, i16::MAX, replica_state))
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(50 << 20)
            .with_isolation_level(1)
            .with_session_id(when(v, 7, i16::MAX, 12))
            .with_session_epoch(if v >= 7 { 3 } else { -1 })
            .with_topics(vec![fetch_topic])
            .with_forgotten_topics_data(when(v, 7, i16::MAX, vec![forgotten]))
            .with_rack_id(when(v, 11, i16::MAX, s("rack-a")))
            .with_unknown_tagged_fields(tags(v, 12))
    }

    fn list_offsets(v: i16) -> ListOffsetsRequest {
        use list_offsets_request::*;
        let partition = ListOffsetsPartition::default()
            .with_partition_index(0)
            .with_current_leader_epoch(if v >= 4 { 3 } else { -1 })
            .with_timestamp(-1)
            .with_unknown_tagged_fields(tags(v, 6));
        let topic_entry = ListOffsetsTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![partition])
            .with_unknown_tagged_fields(tags(v, 6));
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(when(v, 2, i16::MAX, 1))
            .with_topics(vec![topic_entry])
            .with_timeout_ms(when(v, 10, i16::MAX, 1000))
            .with_unknown_tagged_fields(tags(v, 6))
    }

    fn metadata(v: i16) -> MetadataRequest {
        use metadata_request::*;
        let topic_entry = MetadataRequestTopic::default()
            .with_topic_id(when(v, 10, i16::MAX, uuid()))
            .with_name(Some(topic("orders")))
            .with_unknown_tagged_fields(tags(v, 9));
        MetadataRequest::default()
            .with_topics(Some(vec![topic_entry.clone(), topic_entry]))
            // Before v4 the field is absent and must keep its default, true.
            .with_allow_auto_topic_creation(v < 4)
            .with_include_cluster_authorized_operations(when(v, 8, 10, true))
            .with_include_topic_authorized_operations(when(v, 8, i16::MAX, true))
            .with_unknown_tagged_fields(tags(v, 9))
    }

    fn offset_commit(v: i16) -> OffsetCommitRequest {
        use offset_commit_request::*;
        let partition = OffsetCommitRequestPartition::default()
            .with_partition_index(2)
            .with_committed_offset(77)
            .with_committed_leader_epoch(if v >= 6 { 4 } else { -1 })
            .with_committed_metadata(Some(s("meta")))
            .with_unknown_tagged_fields(tags(v, 8));
        let topic_entry = OffsetCommitRequestTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![partition])
            .with_unknown_tagged_fields(tags(v, 8));
        OffsetCommitRequest::default()
            .with_group_id(group("g"))
            .with_generation_id_or_member_epoch(3)
            .with_member_id(s("member-1"))
            .with_group_instance_id(when(v, 7, i16::MAX, Some(s("instance"))))
            .with_retention_time_ms(if v <= 4 { 1000 } else { -1 })
            .with_topics(vec![topic_entry])
            .with_unknown_tagged_fields(tags(v, 8))
    }

    fn offset_fetch(v: i16) -> OffsetFetchRequest {
        use offset_fetch_request::*;
        let old_topic = OffsetFetchRequestTopic::default()
            .with_name(topic("orders"))
            .with_partition_indexes(vec![0, 1])
            .with_unknown_tagged_fields(tags(v, 6));
        let new_topic = OffsetFetchRequestTopics::default()
            .with_name(topic("orders"))
            .with_partition_indexes(vec![0, 1])
            .with_unknown_tagged_fields(tags(v, 6));
        let group_entry = OffsetFetchRequestGroup::default()
            .with_group_id(group("g"))
            .with_member_id(when(v, 9, i16::MAX, Some(s("member-1"))))
            .with_member_epoch(if v >= 9 { 5 } else { -1 })
            .with_topics(Some(vec![new_topic]))
            .with_unknown_tagged_fields(tags(v, 6));
        if v <= 7 {
            OffsetFetchRequest::default()
                .with_group_id(group("g"))
                .with_topics(Some(vec![old_topic]))
                .with_require_stable(v >= 7)
                .with_unknown_tagged_fields(tags(v, 6))
        } else {
            OffsetFetchRequest::default()
                .with_groups(vec![group_entry])
                .with_require_stable(true)
                .with_unknown_tagged_fields(tags(v, 6))
        }
    }

    fn find_coordinator(v: i16) -> FindCoordinatorRequest {
        FindCoordinatorRequest::default()
            .with_key(when(v, 0, 3, s("g")))
            .with_key_type(when(v, 1, i16::MAX, 1))
            .with_coordinator_keys(when(v, 4, i16::MAX, vec![s("g1"), s("g2")]))
            .with_unknown_tagged_fields(tags(v, 3))
    }

    fn join_group(v: i16) -> JoinGroupRequest {
        use join_group_request::*;
        let protocol = JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"subscription"))
            .with_unknown_tagged_fields(tags(v, 6));
        JoinGroupRequest::default()
            .with_group_id(group("g"))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(if v >= 1 { 30_000 } else { -1 })
            .with_member_id(s("member-1"))
            .with_group_instance_id(when(v, 5, i16::MAX, Some(s("instance"))))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![protocol])
            .with_reason(when(v, 8, i16::MAX, Some(s("rejoin"))))
            .with_unknown_tagged_fields(tags(v, 6))
    }

    fn heartbeat(v: i16) -> HeartbeatRequest {
        HeartbeatRequest::default()
            .with_group_id(group("g"))
            .with_generation_id(3)
            .with_member_id(s("member-1"))
            .with_group_instance_id(when(v, 3, i16::MAX, Some(s("instance"))))
            .with_unknown_tagged_fields(tags(v, 4))
    }

    fn leave_group(v: i16) -> LeaveGroupRequest {
        use leave_group_request::*;
        let member = MemberIdentity::default()
            .with_member_id(s("member-1"))
            .with_group_instance_id(Some(s("instance")))
            .with_reason(when(v, 5, i16::MAX, Some(s("bye"))))
            .with_unknown_tagged_fields(tags(v, 4));
        LeaveGroupRequest::default()
            .with_group_id(group("g"))
            .with_member_id(when(v, 0, 2, s("member-1")))
            .with_members(when(v, 3, i16::MAX, vec![member]))
            .with_unknown_tagged_fields(tags(v, 4))
    }

    fn sync_group(v: i16) -> SyncGroupRequest {
        use sync_group_request::*;
        let assignment = SyncGroupRequestAssignment::default()
            .with_member_id(s("member-1"))
            .with_assignment(Bytes::from_static(b"assignment"))
            .with_unknown_tagged_fields(tags(v, 4));
        SyncGroupRequest::default()
            .with_group_id(group("g"))
            .with_generation_id(3)
            .with_member_id(s("member-1"))
            .with_group_instance_id(when(v, 3, i16::MAX, Some(s("instance"))))
            .with_protocol_type(when(v, 5, i16::MAX, Some(s("consumer"))))
            .with_protocol_name(when(v, 5, i16::MAX, Some(s("range"))))
            .with_assignments(vec![assignment])
            .with_unknown_tagged_fields(tags(v, 4))
    }

    fn describe_groups(v: i16) -> DescribeGroupsRequest {
        DescribeGroupsRequest::default()
            .with_groups(vec![group("g1"), group("g2")])
            .with_include_authorized_operations(when(v, 3, i16::MAX, true))
            .with_unknown_tagged_fields(tags(v, 5))
    }

    fn list_groups(v: i16) -> ListGroupsRequest {
        ListGroupsRequest::default()
            .with_states_filter(when(v, 4, i16::MAX, vec![s("Stable")]))
            .with_types_filter(when(v, 5, i16::MAX, vec![s("classic"), s("consumer")]))
            .with_unknown_tagged_fields(tags(v, 3))
    }

    fn sasl_handshake(_v: i16) -> SaslHandshakeRequest {
        SaslHandshakeRequest::default().with_mechanism(s("PLAIN"))
    }

    fn api_versions(v: i16) -> ApiVersionsRequest {
        ApiVersionsRequest::default()
            .with_client_software_name(when(v, 3, i16::MAX, s("sluice-test")))
            .with_client_software_version(when(v, 3, i16::MAX, s("1.0")))
            .with_unknown_tagged_fields(tags(v, 3))
    }

    fn create_topics(v: i16) -> CreateTopicsRequest {
        use create_topics_request::*;
        let assignment = CreatableReplicaAssignment::default()
            .with_partition_index(0)
            .with_broker_ids(vec![BrokerId(1), BrokerId(2)])
            .with_unknown_tagged_fields(tags(v, 5));
        let config = CreatableTopicConfig::default()
            .with_name(s("retention.ms"))
            .with_value(Some(s("1000")))
            .with_unknown_tagged_fields(tags(v, 5));
        let creatable = CreatableTopic::default()
            .with_name(topic("orders"))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(vec![assignment])
            .with_configs(vec![config])
            .with_unknown_tagged_fields(tags(v, 5));
        CreateTopicsRequest::default()
            .with_topics(vec![creatable])
            .with_timeout_ms(1000)
            .with_validate_only(true)
            .with_unknown_tagged_fields(tags(v, 5))
    }

    fn delete_topics(v: i16) -> DeleteTopicsRequest {
        use delete_topics_request::*;
        let state = DeleteTopicState::default()
            .with_name(Some(topic("orders")))
            .with_topic_id(uuid())
            .with_unknown_tagged_fields(tags(v, 4));
        DeleteTopicsRequest::default()
            .with_topics(when(v, 6, i16::MAX, vec![state]))
            .with_topic_names(when(v, 0, 5, vec![topic("a"), topic("b")]))
            .with_timeout_ms(1000)
            .with_unknown_tagged_fields(tags(v, 4))
    }

    fn delete_records(v: i16) -> DeleteRecordsRequest {
        use delete_records_request::*;
        let partition = DeleteRecordsPartition::default()
            .with_partition_index(0)
            .with_offset(42)
            .with_unknown_tagged_fields(tags(v, 2));
        let topic_entry = DeleteRecordsTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![partition])
            .with_unknown_tagged_fields(tags(v, 2));
        DeleteRecordsRequest::default()
            .with_topics(vec![topic_entry])
            .with_timeout_ms(1000)
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn init_producer_id(v: i16) -> InitProducerIdRequest {
        InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s("txn"))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(if v >= 3 { 12 } else { -1 }))
            .with_producer_epoch(if v >= 3 { 2 } else { -1 })
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn offset_for_leader_epoch(v: i16) -> OffsetForLeaderEpochRequest {
        use offset_for_leader_epoch_request::*;
        let partition = OffsetForLeaderPartition::default()
            .with_partition(2)
            .with_current_leader_epoch(5)
            .with_leader_epoch(4)
            .with_unknown_tagged_fields(tags(v, 4));
        let topic_entry = OffsetForLeaderTopic::default()
            .with_topic(topic("orders"))
            .with_partitions(vec![partition])
            .with_unknown_tagged_fields(tags(v, 4));
        OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(if v >= 3 { 1 } else { -2 }))
            .with_topics(vec![topic_entry])
            .with_unknown_tagged_fields(tags(v, 4))
    }

    fn add_partitions_to_txn(v: i16) -> AddPartitionsToTxnRequest {
        use add_partitions_to_txn_request::*;
        let topic_entry = AddPartitionsToTxnTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![0, 3])
            .with_unknown_tagged_fields(tags(v, 3));
        let txn = AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(s("txn")))
            .with_producer_id(ProducerId(12))
            .with_producer_epoch(2)
            .with_verify_only(true)
            .with_topics(vec![topic_entry.clone()])
            .with_unknown_tagged_fields(tags(v, 3));
        AddPartitionsToTxnRequest::default()
            .with_transactions(when(v, 4, i16::MAX, vec![txn]))
            .with_v3_and_below_transactional_id(when(v, 0, 3, TransactionalId(s("txn"))))
            .with_v3_and_below_producer_id(when(v, 0, 3, ProducerId(12)))
            .with_v3_and_below_producer_epoch(when(v, 0, 3, 2))
            .with_v3_and_below_topics(when(v, 0, 3, vec![topic_entry]))
            .with_unknown_tagged_fields(tags(v, 3))
    }

    fn add_offsets_to_txn(v: i16) -> AddOffsetsToTxnRequest {
        AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(s("txn")))
            .with_producer_id(ProducerId(12))
            .with_producer_epoch(2)
            .with_group_id(group("g"))
            .with_unknown_tagged_fields(tags(v, 3))
    }

    fn end_txn(v: i16) -> EndTxnRequest {
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s("txn")))
            .with_producer_id(ProducerId(12))
            .with_producer_epoch(2)
            .with_committed(true)
            .with_unknown_tagged_fields(tags(v, 3))
    }

    fn write_txn_markers(v: i16) -> WriteTxnMarkersRequest {
        use write_txn_markers_request::*;
        let topic_entry = WritableTxnMarkerTopic::default()
            .with_name(topic("orders"))
            .with_partition_indexes(vec![1, 2])
            .with_unknown_tagged_fields(tags(v, 1));
        let marker = WritableTxnMarker::default()
            .with_producer_id(ProducerId(12))
            .with_producer_epoch(2)
            .with_transaction_result(true)
            .with_topics(vec![topic_entry])
            .with_coordinator_epoch(5)
            .with_unknown_tagged_fields(tags(v, 1));
        WriteTxnMarkersRequest::default()
            .with_markers(vec![marker])
            .with_unknown_tagged_fields(tags(v, 1))
    }

    fn txn_offset_commit(v: i16) -> TxnOffsetCommitRequest {
        use txn_offset_commit_request::*;
        let partition = TxnOffsetCommitRequestPartition::default()
            .with_partition_index(2)
            .with_committed_offset(77)
            .with_committed_leader_epoch(if v >= 2 { 4 } else { -1 })
            .with_committed_metadata(Some(s("meta")))
            .with_unknown_tagged_fields(tags(v, 3));
        let topic_entry = TxnOffsetCommitRequestTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![partition])
            .with_unknown_tagged_fields(tags(v, 3));
        TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s("txn")))
            .with_group_id(group("g"))
            .with_producer_id(ProducerId(12))
            .with_producer_epoch(2)
            .with_generation_id(if v >= 3 { 7 } else { -1 })
            .with_member_id(if v >= 3 { s("member-1") } else { s("") })
            .with_group_instance_id(when(v, 3, i16::MAX, Some(s("instance"))))
            .with_topics(vec![topic_entry])
            .with_unknown_tagged_fields(tags(v, 3))
    }

    fn describe_producers(v: i16) -> DescribeProducersRequest {
        use describe_producers_request::*;
        DescribeProducersRequest::default()
            .with_topics(vec![TopicRequest::default()
                .with_name(topic("orders"))
                .with_partition_indexes(vec![0, 2])
                .with_unknown_tagged_fields(tags(v, 0))])
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn describe_transactions(v: i16) -> DescribeTransactionsRequest {
        DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(s("t1")), TransactionalId(s("t2"))])
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn list_transactions(v: i16) -> ListTransactionsRequest {
        ListTransactionsRequest::default()
            .with_state_filters(vec![s("Ongoing")])
            .with_producer_id_filters(vec![ProducerId(12), ProducerId(13)])
            .with_duration_filter(if v >= 1 { 60_000 } else { -1 })
            .with_transactional_id_pattern(when(v, 2, i16::MAX, Some(s("txn-.*"))))
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn describe_configs(v: i16) -> DescribeConfigsRequest {
        use describe_configs_request::*;
        let resource = DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configuration_keys(Some(vec![s("retention.ms"), s("cleanup.policy")]))
            .with_unknown_tagged_fields(tags(v, 4));
        DescribeConfigsRequest::default()
            .with_resources(vec![resource])
            .with_include_synonyms(true)
            .with_include_documentation(when(v, 3, i16::MAX, true))
            .with_unknown_tagged_fields(tags(v, 4))
    }

    fn alter_configs(v: i16) -> AlterConfigsRequest {
        use alter_configs_request::*;
        let config = AlterableConfig::default()
            .with_name(s("retention.ms"))
            .with_value(Some(s("1000")))
            .with_unknown_tagged_fields(tags(v, 2));
        let resource = AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configs(vec![config])
            .with_unknown_tagged_fields(tags(v, 2));
        AlterConfigsRequest::default()
            .with_resources(vec![resource])
            .with_validate_only(true)
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn sasl_authenticate(v: i16) -> SaslAuthenticateRequest {
        SaslAuthenticateRequest::default()
            .with_auth_bytes(Bytes::from_static(b"\0user\0secret"))
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn create_partitions(v: i16) -> CreatePartitionsRequest {
        use create_partitions_request::*;
        let assignment = CreatePartitionsAssignment::default()
            .with_broker_ids(vec![BrokerId(1), BrokerId(2)])
            .with_unknown_tagged_fields(tags(v, 2));
        let topic_entry = CreatePartitionsTopic::default()
            .with_name(topic("orders"))
            .with_count(4)
            .with_assignments(Some(vec![assignment]))
            .with_unknown_tagged_fields(tags(v, 2));
        CreatePartitionsRequest::default()
            .with_topics(vec![topic_entry])
            .with_timeout_ms(1000)
            .with_validate_only(true)
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn describe_log_dirs(v: i16) -> DescribeLogDirsRequest {
        use describe_log_dirs_request::*;
        DescribeLogDirsRequest::default()
            .with_topics(Some(vec![DescribableLogDirTopic::default()
                .with_topic(topic("orders"))
                .with_partitions(vec![0, 2])
                .with_unknown_tagged_fields(tags(v, 2))]))
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn elect_leaders(v: i16) -> ElectLeadersRequest {
        use elect_leaders_request::*;
        ElectLeadersRequest::default()
            .with_election_type(when(v, 1, i16::MAX, 1))
            .with_topic_partitions(Some(vec![TopicPartitions::default()
                .with_topic(topic("orders"))
                .with_partitions(vec![0, 2])
                .with_unknown_tagged_fields(tags(v, 2))]))
            .with_timeout_ms(30_000)
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn alter_partition_reassignments(v: i16) -> AlterPartitionReassignmentsRequest {
        use alter_partition_reassignments_request::*;
        AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(30_000)
            // Its default (outside v1) is true.
            .with_allow_replication_factor_change(v < 1)
            .with_topics(vec![ReassignableTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![
                    ReassignablePartition::default()
                        .with_partition_index(0)
                        .with_replicas(Some(vec![BrokerId(2), BrokerId(3)]))
                        .with_unknown_tagged_fields(tags(v, 0)),
                    ReassignablePartition::default()
                        .with_partition_index(1)
                        .with_replicas(None)
                        .with_unknown_tagged_fields(tags(v, 0)),
                ])
                .with_unknown_tagged_fields(tags(v, 0))])
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn list_partition_reassignments(v: i16) -> ListPartitionReassignmentsRequest {
        use list_partition_reassignments_request::*;
        ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(Some(vec![ListPartitionReassignmentsTopics::default()
                .with_name(topic("orders"))
                .with_partition_indexes(vec![0, 2])
                .with_unknown_tagged_fields(tags(v, 0))]))
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn delete_groups(v: i16) -> DeleteGroupsRequest {
        DeleteGroupsRequest::default()
            .with_groups_names(vec![group("g1"), group("g2")])
            .with_unknown_tagged_fields(tags(v, 2))
    }

    fn incremental_alter_configs(v: i16) -> IncrementalAlterConfigsRequest {
        use incremental_alter_configs_request::*;
        let config = AlterableConfig::default()
            .with_name(s("retention.ms"))
            .with_config_operation(0)
            .with_value(Some(s("1000")))
            .with_unknown_tagged_fields(tags(v, 1));
        let resource = AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configs(vec![config])
            .with_unknown_tagged_fields(tags(v, 1));
        IncrementalAlterConfigsRequest::default()
            .with_resources(vec![resource])
            .with_validate_only(true)
            .with_unknown_tagged_fields(tags(v, 1))
    }

    fn offset_delete(_v: i16) -> OffsetDeleteRequest {
        use offset_delete_request::*;
        let partition = OffsetDeleteRequestPartition::default().with_partition_index(1);
        let topic_entry = OffsetDeleteRequestTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![partition]);
        OffsetDeleteRequest::default()
            .with_group_id(group("g"))
            .with_topics(vec![topic_entry])
    }

    fn describe_quorum(v: i16) -> DescribeQuorumRequest {
        use describe_quorum_request::*;
        DescribeQuorumRequest::default()
            .with_topics(vec![TopicData::default()
                .with_topic_name(topic("__cluster_metadata"))
                .with_partitions(vec![PartitionData::default()
                    .with_partition_index(0)
                    .with_unknown_tagged_fields(tags(v, 0))])
                .with_unknown_tagged_fields(tags(v, 0))])
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn describe_cluster(v: i16) -> DescribeClusterRequest {
        DescribeClusterRequest::default()
            .with_include_cluster_authorized_operations(true)
            .with_endpoint_type(if v >= 1 { 2 } else { 1 })
            .with_include_fenced_brokers(when(v, 2, i16::MAX, true))
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn consumer_group_heartbeat(v: i16) -> ConsumerGroupHeartbeatRequest {
        use consumer_group_heartbeat_request::*;
        let partitions = TopicPartitions::default()
            .with_topic_id(uuid())
            .with_partitions(vec![0, 1])
            .with_unknown_tagged_fields(tags(v, 0));
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(group("g"))
            .with_member_id(s("member-1"))
            .with_member_epoch(0)
            .with_instance_id(Some(s("instance")))
            .with_rack_id(Some(s("rack-a")))
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![topic("orders")]))
            .with_subscribed_topic_regex(when(v, 1, i16::MAX, Some(s("ord.*"))))
            .with_server_assignor(Some(s("uniform")))
            .with_topic_partitions(Some(vec![partitions]))
            .with_unknown_tagged_fields(tags(v, 0))
    }

    fn consumer_group_describe(v: i16) -> ConsumerGroupDescribeRequest {
        ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![group("g1"), group("g2")])
            .with_include_authorized_operations(true)
            .with_unknown_tagged_fields(tags(v, 0))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Decodable, Message, VersionRange};

    use super::*;

    /// Every (api key, version) the guard has a schema for.
    fn all_versions() -> Vec<(i16, i16)> {
        guarded_api_keys()
            .flat_map(|key| {
                let (min, max) = supported_versions(key).unwrap_or((1, 0));
                (min..=max).map(move |v| (key, v))
            })
            .collect()
    }

    fn sample(api_key: i16, version: i16) -> Bytes {
        samples::encoded_body(api_key, version).unwrap_or_else(|e| panic!("{e}"))
    }

    fn decode(api_key: i16, version: i16, body: &[u8]) -> Result<(), String> {
        samples::decode_body(api_key, version, Bytes::copy_from_slice(body))
    }

    /// The versions kafka-protocol's message type decodes.
    fn message_versions(api_key: i16) -> VersionRange {
        match api_key {
            0 => ProduceRequest::VERSIONS,
            1 => FetchRequest::VERSIONS,
            2 => ListOffsetsRequest::VERSIONS,
            3 => MetadataRequest::VERSIONS,
            8 => OffsetCommitRequest::VERSIONS,
            9 => OffsetFetchRequest::VERSIONS,
            10 => FindCoordinatorRequest::VERSIONS,
            11 => JoinGroupRequest::VERSIONS,
            12 => HeartbeatRequest::VERSIONS,
            13 => LeaveGroupRequest::VERSIONS,
            14 => SyncGroupRequest::VERSIONS,
            15 => DescribeGroupsRequest::VERSIONS,
            16 => ListGroupsRequest::VERSIONS,
            17 => SaslHandshakeRequest::VERSIONS,
            18 => ApiVersionsRequest::VERSIONS,
            19 => CreateTopicsRequest::VERSIONS,
            20 => DeleteTopicsRequest::VERSIONS,
            21 => DeleteRecordsRequest::VERSIONS,
            22 => InitProducerIdRequest::VERSIONS,
            23 => OffsetForLeaderEpochRequest::VERSIONS,
            24 => AddPartitionsToTxnRequest::VERSIONS,
            25 => AddOffsetsToTxnRequest::VERSIONS,
            26 => EndTxnRequest::VERSIONS,
            27 => WriteTxnMarkersRequest::VERSIONS,
            28 => TxnOffsetCommitRequest::VERSIONS,
            61 => DescribeProducersRequest::VERSIONS,
            65 => DescribeTransactionsRequest::VERSIONS,
            66 => ListTransactionsRequest::VERSIONS,
            32 => DescribeConfigsRequest::VERSIONS,
            33 => AlterConfigsRequest::VERSIONS,
            35 => DescribeLogDirsRequest::VERSIONS,
            36 => SaslAuthenticateRequest::VERSIONS,
            37 => CreatePartitionsRequest::VERSIONS,
            42 => DeleteGroupsRequest::VERSIONS,
            43 => ElectLeadersRequest::VERSIONS,
            44 => IncrementalAlterConfigsRequest::VERSIONS,
            45 => AlterPartitionReassignmentsRequest::VERSIONS,
            46 => ListPartitionReassignmentsRequest::VERSIONS,
            47 => OffsetDeleteRequest::VERSIONS,
            55 => DescribeQuorumRequest::VERSIONS,
            60 => DescribeClusterRequest::VERSIONS,
            68 => ConsumerGroupHeartbeatRequest::VERSIONS,
            69 => ConsumerGroupDescribeRequest::VERSIONS,
            other => panic!("no message type listed for api key {other}"),
        }
    }

    #[test]
    fn guard_schema_versions_are_the_decoders_versions() {
        for key in guarded_api_keys() {
            let range = message_versions(key);
            assert_eq!(
                supported_versions(key),
                Some((range.min, range.max)),
                "api {key}"
            );
            let header_flexible_since = (range.min..=range.max)
                .find(|v| ApiKey::try_from(key).map(|k| k.request_header_version(*v)) == Ok(2));
            let schema_flexible_since = schema(key)
                .map(|s| s.flexible_since)
                .filter(|v| *v <= range.max);
            let expected = header_flexible_since.map(|v| v.max(range.min));
            assert_eq!(
                schema_flexible_since.map(|v| v.max(range.min)),
                expected,
                "flexible versions of api {key}"
            );
        }
    }

    #[test]
    fn guard_accepts_every_populated_request_and_consumes_it_exactly() {
        let mut checked = 0;
        for (key, version) in all_versions() {
            let body = sample(key, version);
            assert_eq!(
                walk_request(key, version, &body),
                Ok(body.len()),
                "api {key} v{version}: {body:02x?}"
            );
            decode(key, version, &body)
                .unwrap_or_else(|e| panic!("api {key} v{version} does not decode: {e}"));
            checked += 1;
        }
        assert!(checked > 150, "only {checked} api versions checked");
    }

    #[test]
    fn guard_header_length_matches_the_decoder() {
        for (key, version) in all_versions() {
            let frame = samples::encoded_frame(key, version).unwrap_or_else(|e| panic!("{e}"));
            let header_len = check_request_header(&frame)
                .unwrap_or_else(|e| panic!("api {key} v{version}: {e}"));
            let header_version = ApiKey::try_from(key)
                .map(|k| k.request_header_version(version))
                .unwrap_or(-1);
            let mut buf = frame.clone();
            let header = RequestHeader::decode(&mut buf, header_version.max(1))
                .unwrap_or_else(|e| panic!("api {key} v{version}: {e}"));
            assert_eq!(header.request_api_key, key);
            assert_eq!(header_len, frame.len() - buf.len(), "api {key} v{version}");
            assert_eq!(
                walk_request(key, version, &frame[header_len..]),
                Ok(frame.len() - header_len)
            );
        }
    }

    #[test]
    fn guard_rejects_every_truncation_and_the_decoder_errors_on_it() {
        for (key, version) in all_versions() {
            let body = sample(key, version);
            for cut in 0..body.len() {
                let prefix = &body[..cut];
                assert!(
                    check_request(key, version, prefix).is_err(),
                    "api {key} v{version} accepted a cut at {cut} of {}",
                    body.len()
                );
                // The walk only stops short where the decoder does too.
                assert!(
                    decode(key, version, prefix).is_err(),
                    "api {key} v{version} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn guard_rejects_metadata_v0_claiming_54m_topics_in_5_bytes() {
        let mut body = 54_000_000i32.to_be_bytes().to_vec();
        body.push(0);
        assert_eq!(
            check_request(3, 0, &body),
            Err(GuardError::CountTooLarge {
                field: "topics",
                offset: 0,
                claimed: 54_000_000,
                remaining: 1,
            })
        );
    }

    #[test]
    fn guard_rejects_a_huge_compact_array_count() {
        // uvarint 0xffff_ffff = count u32::MAX - 1, then a few bytes.
        let body = [0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0];
        assert!(matches!(
            check_request(3, 12, &body),
            Err(GuardError::CountTooLarge {
                field: "topics",
                claimed: 4_294_967_294,
                remaining: 3,
                ..
            })
        ));
        // The same count in a tagged-field section.
        let body = [0x01, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            check_request(3, 12, &body),
            Err(GuardError::CountTooLarge {
                field: "MetadataRequest",
                ..
            })
        ));
    }

    #[test]
    fn guard_rejects_overlong_and_oversized_varints() {
        // Six bytes: longer than any u32.
        let body = [0x81, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(
            check_request(3, 12, &body),
            Err(GuardError::BadVarint {
                field: "topics",
                offset: 0
            })
        );
        // Five bytes whose last one carries bits above 2^32, which the decoder would drop.
        let body = [0x82, 0x80, 0x80, 0x80, 0x10];
        assert_eq!(
            check_request(3, 12, &body),
            Err(GuardError::BadVarint {
                field: "topics",
                offset: 0
            })
        );
    }

    #[test]
    fn guard_rejects_a_string_longer_than_the_body() {
        // Metadata v1: one topic whose name claims 100 bytes, 3 present.
        let body = [0, 0, 0, 1, 0, 100, b'a', b'b', b'c'];
        assert_eq!(
            check_request(3, 1, &body),
            Err(GuardError::LengthTooLarge {
                field: "name",
                offset: 4,
                claimed: 100,
                remaining: 3,
            })
        );
        // Compact string (v9): length 1000 - 1.
        let body = [0x02, 0xe8, 0x07, b'x', 0x00, 0x00];
        assert!(matches!(
            check_request(3, 9, &body),
            Err(GuardError::LengthTooLarge {
                field: "name",
                claimed: 999,
                ..
            })
        ));
        // Produce v3 records claiming 2^31 - 1 bytes.
        let mut body = vec![
            0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1,
        ];
        body.extend_from_slice(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2]);
        assert!(matches!(
            check_request(0, 3, &body),
            Err(GuardError::LengthTooLarge {
                field: "records",
                claimed: 2_147_483_647,
                ..
            })
        ));
    }

    #[test]
    fn guard_rejects_lengths_below_minus_one() {
        let body = [0xff, 0xff, 0xff, 0xfe];
        assert!(matches!(
            check_request(3, 1, &body),
            Err(GuardError::NegativeLength {
                field: "topics",
                length: -2,
                ..
            })
        ));
        // A null array (-1) is fine as far as sizes go.
        assert_eq!(walk_request(3, 1, &[0xff, 0xff, 0xff, 0xff]), Ok(4));
    }

    /// Fetch v12 with nothing but the tagged `cluster_id` (tag 0), declared `size` bytes long.
    fn fetch_v12_with_cluster_id(size: u8, value: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(-1i32).to_be_bytes()); // replica_id
        body.extend_from_slice(&500i32.to_be_bytes()); // max_wait_ms
        body.extend_from_slice(&1i32.to_be_bytes()); // min_bytes
        body.extend_from_slice(&1024i32.to_be_bytes()); // max_bytes
        body.push(0); // isolation_level
        body.extend_from_slice(&0i32.to_be_bytes()); // session_id
        body.extend_from_slice(&(-1i32).to_be_bytes()); // session_epoch
        body.extend_from_slice(&[0x01, 0x01, 0x01]); // topics, forgotten_topics_data, rack_id
        body.extend_from_slice(&[0x01, 0x00, size]); // one tagged field: tag 0, size
        body.extend_from_slice(value);
        body
    }

    #[test]
    fn guard_walks_known_tagged_fields_within_their_declared_size() {
        let good = fetch_v12_with_cluster_id(3, &[0x03, b'c', b'1']);
        assert_eq!(walk_request(1, 12, &good), Ok(good.len()));
        assert!(decode(1, 12, &good).is_ok());

        // The value is shorter than declared: the decoder would read the rest as the next field.
        let short = fetch_v12_with_cluster_id(4, &[0x03, b'c', b'1', 0x00]);
        assert_eq!(
            check_request(1, 12, &short),
            Err(GuardError::TaggedFieldSize {
                field: "cluster_id",
                tag: 0,
                declared: 4,
                used: 3,
            })
        );
        // The value claims more than declared.
        let long = fetch_v12_with_cluster_id(2, &[0x03, b'c', b'1']);
        assert!(matches!(
            check_request(1, 12, &long),
            Err(GuardError::LengthTooLarge {
                field: "cluster_id",
                ..
            })
        ));
        // An unknown tag is skipped by its size.
        let mut unknown = fetch_v12_with_cluster_id(3, &[9, 9, 9]);
        let tag_at = unknown.len() - 5;
        unknown[tag_at] = 77;
        assert_eq!(walk_request(1, 12, &unknown), Ok(unknown.len()));
    }

    #[test]
    fn guard_has_no_schema_for_unknown_apis_and_versions() {
        assert_eq!(
            check_request(0, 2, &[]),
            Err(GuardError::NoSchema {
                api_key: 0,
                api_version: 2
            })
        );
        assert_eq!(
            check_request(0, 14, &[]),
            Err(GuardError::NoSchema {
                api_key: 0,
                api_version: 14
            })
        );
        assert!(matches!(
            check_request(29, 0, &[]),
            Err(GuardError::NoSchema { .. })
        ));
        assert!(matches!(
            check_request(-1, 0, &[]),
            Err(GuardError::NoSchema { .. })
        ));
    }

    #[test]
    fn guard_checks_request_headers() {
        // v1 header: Metadata v1, correlation 9, null client_id.
        let frame = [0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xff, 0xaa];
        assert_eq!(check_request_header(&frame), Ok(10));
        // v2 header: ApiVersions v3, client_id "ab", no tagged fields.
        let frame = [0, 18, 0, 3, 0, 0, 0, 9, 0, 2, b'a', b'b', 0x00];
        assert_eq!(check_request_header(&frame), Ok(13));
        // A client_id longer than the frame.
        let frame = [0, 3, 0, 1, 0, 0, 0, 9, 0x7f, 0xff, b'a'];
        assert!(matches!(
            check_request_header(&frame),
            Err(GuardError::LengthTooLarge {
                field: "client_id",
                ..
            })
        ));
        // Too short for the fixed part.
        assert!(matches!(
            check_request_header(&[0, 3, 0]),
            Err(GuardError::Truncated { .. })
        ));
        // An api key Kafka does not define.
        assert_eq!(
            check_request_header(&[0x7f, 0, 0, 0, 0, 0, 0, 0]),
            Err(GuardError::UnknownApiKey { api_key: 0x7f00 })
        );
        // An unsupported version still has a readable header.
        let frame = [0, 0, 0, 99, 0, 0, 0, 9, 0, 0, 0x00];
        assert_eq!(check_request_header(&frame), Ok(11));
    }

    #[test]
    fn guard_errors_say_what_was_claimed() {
        let message = match check_request(3, 0, &[0x03, 0x37, 0xf9, 0x80, 0]) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            message,
            "topics at byte 0: claims 54000000 elements but only 1 bytes remain"
        );
    }
}
