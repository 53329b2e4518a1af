//! The front door every request frame goes through before dispatch, shared by the broker
//! ([`super::handle`]) and the fuzz target (`fuzz/`): no input reaches a handler, or
//! `kafka-protocol`'s decoders, any other way.
//!
//! A frame (the bytes after the 4-byte size prefix) passes these steps, in order:
//! 1. at least 8 bytes: api key (int16), api version (int16), correlation id (int32);
//! 2. an api key Sluice serves ([`super::SUPPORTED_APIS`]); else the frame is unparseable;
//! 3. ApiVersions in a version newer than ours is answered here, in v0 shape (KIP-511), so the
//!    client can downgrade; any other version outside the supported range is unparseable, as
//!    Kafka closes the connection;
//! 4. the request header is walked by the guard ([`sluice_protocol::guard`]), then decoded;
//! 5. the body is walked by the guard against every size it claims, then decoded into its
//!    type ([`RequestBody`]).
//!
//! An unparseable frame closes its connection; nothing on this path may panic or allocate what
//! the peer claims before checking it.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::Decodable;
use sluice_protocol::guard;

use super::api_versions;
use super::request::Unparseable;
use super::request_body::RequestBody;
use super::supported_versions;

/// What the front door makes of a frame it does not refuse.
#[derive(Debug)]
pub enum Admitted {
    /// A request to dispatch (boxed: the decoded bodies are large, the answer small).
    Request(Box<DecodedRequest>),
    /// Answered at the door (ApiVersions newer than ours): the response frame.
    Answered(Bytes),
}

/// A request with its header and its body decoded.
#[derive(Debug)]
pub struct DecodedRequest {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: RequestBody,
}

/// Checks and decodes one request frame (see the module doc for the steps).
pub fn admit(frame: &Bytes) -> Result<Admitted, Unparseable> {
    if frame.len() < 8 {
        return Err(Unparseable(format!(
            "request of {} bytes is too short for a header",
            frame.len()
        )));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api =
        ApiKey::try_from(raw_key).map_err(|_| Unparseable(format!("unknown api key {raw_key}")))?;
    let Some((min, max)) = supported_versions(api) else {
        return Err(Unparseable(format!(
            "api {api:?} (key {raw_key}) is not supported"
        )));
    };
    if api == ApiKey::ApiVersions && version > max {
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        return api_versions::unsupported_version(correlation_id).map(Admitted::Answered);
    }
    if version < min || version > max {
        return Err(Unparseable(format!(
            "{api:?} v{version} is not supported (supported: v{min}-v{max})"
        )));
    }
    let header_len = guard::check_request_header(frame)
        .map_err(|e| Unparseable(format!("bad request header: {e}")))?;
    let mut body = frame.clone();
    let header = RequestHeader::decode(&mut body, api.request_header_version(version))
        .map_err(|e| Unparseable(format!("bad request header: {e}")))?;
    debug_assert_eq!(
        frame.len() - body.len(),
        header_len,
        "the header guard and the header decoder agree on the header's length"
    );
    guard::check_request(raw_key, version, body.chunk())
        .map_err(|e| Unparseable(format!("{api:?} v{version}: {e}")))?;
    let body = RequestBody::decode(api, &mut body, version)?;
    Ok(Admitted::Request(Box::new(DecodedRequest {
        api_key: api,
        header,
        body,
    })))
}
