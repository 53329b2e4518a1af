//! Size guard: walk a request or a response before `kafka-protocol` decodes it.
//!
//! `kafka-protocol` 0.18 reserves `Vec::with_capacity(n)` for an array with the count `n` read
//! straight off the wire, so ten bytes claiming 2^31 topics abort the process. This module walks
//! the header and body along declarative copies of Kafka's message schemas and checks every
//! count and length a peer claims against the bytes actually present. Only a message that
//! passes may be handed to the decoder; then every array the decoder reserves is backed by
//! elements that are really in the frame (each at least one byte, except elements of a struct
//! that has no field in the version at hand, whose count is still bounded by the bytes left).
//! The broker walks the requests clients send it; Sluice's client (`crate::client`) walks the
//! responses other brokers send it.
//!
//! # Layout
//! - `mod.rs`: the entry points and [`GuardError`].
//! - `schema.rs`: how a schema is written down (field types, versioned fields).
//! - `walker.rs`: the walk along a schema.
//! - `request_schemas.rs`, `response_schemas.rs`: the schemas, one table each.
//! - `samples.rs`, `response_samples.rs` (tests and the `test-encoders` feature only): fully
//!   populated messages of every api key and version, encoded by `kafka-protocol`, which prove
//!   the schema tables against the real encoders and seed the fuzz target; `scram_samples.rs`,
//!   `acl_samples.rs`, `client_quota_samples.rs` and `admin_samples.rs` hold those of the SCRAM
//!   credential, ACL, client quota, UpdateFeatures, UnregisterBroker and DescribeTopicPartitions
//!   APIs.
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
//! Response header (v0: correlation id only; v1 adds tagged fields; ApiVersions responses always
//! use v0, whatever the body's version):
//! ```text
//! int32 correlation_id | tagged fields
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

mod request_schemas;
mod response_schemas;
mod schema;
mod walker;

#[cfg(any(test, feature = "test-encoders"))]
mod acl_samples;
#[cfg(any(test, feature = "test-encoders"))]
mod admin_samples;
#[cfg(any(test, feature = "test-encoders"))]
mod client_quota_samples;
#[cfg(any(test, feature = "test-encoders"))]
mod config_resource_samples;
#[cfg(any(test, feature = "test-encoders"))]
pub mod response_samples;
#[cfg(test)]
mod response_tests;
#[cfg(any(test, feature = "test-encoders"))]
pub mod samples;
#[cfg(any(test, feature = "test-encoders"))]
mod scram_samples;
#[cfg(test)]
mod tests;

use kafka_protocol::messages::ApiKey;

use request_schemas::REQUEST_SCHEMAS;
use response_schemas::RESPONSE_SCHEMAS;
use schema::{Schema, Ty};
use walker::Walker;

/// Why a request was refused before decoding. `field` is the schema's field name (the struct
/// name for its tagged-field section); offsets count from the start of the body (of the frame,
/// for the header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The guard has no request schema for this api key and version: answer
    /// UNSUPPORTED_VERSION.
    #[error("no request schema for api key {api_key} version {api_version}")]
    NoSchema { api_key: i16, api_version: i16 },
    /// The guard has no response schema for this api key and version: the response cannot be
    /// decoded safely (a client asked for a version it should not have).
    #[error("no response schema for api key {api_key} version {api_version}")]
    NoResponseSchema { api_key: i16, api_version: i16 },
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
    let schema = find(REQUEST_SCHEMAS, api_key, api_version).ok_or(GuardError::NoSchema {
        api_key,
        api_version,
    })?;
    walk(schema, api_version, body)
}

/// The request versions the guard has a schema for, as `(min, max)`, or `None` for an api key it
/// does not know. A broker must not advertise a version outside this range.
pub fn supported_versions(api_key: i16) -> Option<(i16, i16)> {
    versions(REQUEST_SCHEMAS, api_key)
}

/// Every api key the guard has a request schema for.
pub fn guarded_api_keys() -> impl Iterator<Item = i16> {
    REQUEST_SCHEMAS.iter().map(|s| s.api_key)
}

/// Checks the response header at the start of `frame` (the bytes after the 4-byte size prefix)
/// at `header_version` (0 or 1, from `ApiKey::response_header_version` of the request) and
/// returns its length, i.e. where the body starts.
pub fn check_response_header(frame: &[u8], header_version: i16) -> Result<usize, GuardError> {
    let mut walker = Walker::new(frame, 0, true);
    walker.take("correlation_id", 4)?;
    if header_version >= 1 {
        walker.tagged_fields("response header", &[])?;
    }
    Ok(walker.pos)
}

/// Checks a response body (the bytes after the response header) against the schema of
/// `api_key`/`api_version`. `Ok` means the body may be handed to `kafka-protocol`'s decoder.
pub fn check_response(api_key: i16, api_version: i16, body: &[u8]) -> Result<(), GuardError> {
    walk_response(api_key, api_version, body).map(|_| ())
}

/// Like [`check_response`], and returns how many bytes of `body` the response spans.
pub fn walk_response(api_key: i16, api_version: i16, body: &[u8]) -> Result<usize, GuardError> {
    let schema =
        find(RESPONSE_SCHEMAS, api_key, api_version).ok_or(GuardError::NoResponseSchema {
            api_key,
            api_version,
        })?;
    walk(schema, api_version, body)
}

/// The response versions the guard has a schema for, as `(min, max)`, or `None` for an api key
/// whose responses it does not know. A client must not ask for a version outside this range.
pub fn response_versions(api_key: i16) -> Option<(i16, i16)> {
    versions(RESPONSE_SCHEMAS, api_key)
}

/// Every api key the guard has a response schema for.
pub fn guarded_response_api_keys() -> impl Iterator<Item = i16> {
    RESPONSE_SCHEMAS.iter().map(|s| s.api_key)
}

fn find(schemas: &'static [Schema], api_key: i16, version: i16) -> Option<&'static Schema> {
    schemas
        .iter()
        .find(|s| s.api_key == api_key)
        .filter(|s| s.min_version <= version && version <= s.max_version)
}

fn versions(schemas: &'static [Schema], api_key: i16) -> Option<(i16, i16)> {
    schemas
        .iter()
        .find(|s| s.api_key == api_key)
        .map(|s| (s.min_version, s.max_version))
}

fn walk(schema: &'static Schema, version: i16, body: &[u8]) -> Result<usize, GuardError> {
    let mut walker = Walker::new(body, version, version >= schema.flexible_since);
    walker.fields(schema.name, schema.body)?;
    Ok(walker.pos)
}
