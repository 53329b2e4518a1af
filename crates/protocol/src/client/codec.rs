//! Request frames out, guarded response frames in: the part of the client that does no I/O,
//! shared by the async [`super::Connection`] and by blocking callers.
//!
//! ```text
//! request frame    int32 size | request header (v1: api key, version, correlation id,
//!                  client id; v2 adds tagged fields) | request body
//! response frame   int32 size | response header (v0: correlation id; v1 adds tagged
//!                  fields; always v0 for ApiVersions) | response body
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

use super::error::CodecError;
use crate::guard;

/// The name of an api key for messages ("Metadata"), or its number.
pub(super) fn api_name(api_key: i16) -> String {
    match ApiKey::try_from(api_key) {
        Ok(api) => format!("{api:?}"),
        Err(()) => format!("api key {api_key}"),
    }
}

/// The whole frame of `request` at `version`, size prefix included.
pub fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&StrBytes>,
) -> Result<BytesMut, CodecError> {
    let encode_error = |message: String| CodecError::Encode {
        api: api_name(R::KEY),
        version,
        message,
    };
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.cloned());
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    // Every request Sluice sends has header v1 or v2; kafka-protocol encodes no other.
    header
        .encode(&mut frame, R::header_version(version).max(1))
        .map_err(|e| encode_error(format!("header: {e}")))?;
    request
        .encode(&mut frame, version)
        .map_err(|e| encode_error(e.to_string()))?;
    let size = i32::try_from(frame.len() - 4)
        .map_err(|_| encode_error(format!("{} bytes do not fit in a frame", frame.len())))?;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    Ok(frame)
}

/// The response header version of `api_key` at `version`.
pub fn response_header_version(api_key: i16, version: i16) -> Result<i16, CodecError> {
    ApiKey::try_from(api_key)
        .map(|api| api.response_header_version(version))
        .map_err(|()| CodecError::UnknownApiKey(api_key))
}

/// Decodes the response `frame` (without its size prefix) to a request of type `R` sent at
/// `version` with `correlation_id`. The header and body are walked by the response guard first;
/// only then does `kafka-protocol` decode (and allocate for) them. Bytes after the body are
/// ignored, as `kafka-protocol` ignores them.
pub fn decode_response<R: Request>(
    frame: Bytes,
    version: i16,
    correlation_id: i32,
) -> Result<R::Response, CodecError> {
    let api = || api_name(R::KEY);
    let guard_error = |source| CodecError::Guard {
        api: api(),
        version,
        source,
    };
    let header_len =
        guard::check_response_header(&frame, response_header_version(R::KEY, version)?)
            .map_err(guard_error)?;
    // The header guard read the four bytes of the correlation id.
    let got = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    if got != correlation_id {
        return Err(CodecError::Correlation {
            got,
            expected: correlation_id,
        });
    }
    let mut body = frame.slice(header_len..);
    guard::check_response(R::KEY, version, &body).map_err(guard_error)?;
    R::Response::decode(&mut body, version).map_err(|e| CodecError::Decode {
        api: api(),
        version,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::{
        ApiVersionsRequest, ApiVersionsResponse, BrokerId, MetadataRequest, MetadataResponse,
        ResponseHeader,
    };

    fn response_frame<M: Encodable>(
        header_version: i16,
        correlation_id: i32,
        body: &M,
        version: i16,
    ) -> Bytes {
        let mut frame = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut frame, header_version)
            .expect("header encodes");
        body.encode(&mut frame, version).expect("body encodes");
        frame.freeze()
    }

    #[test]
    fn request_frames_carry_size_header_and_body() {
        let frame = encode_request(
            &MetadataRequest::default().with_topics(None),
            1,
            7,
            Some(&StrBytes::from_static_str("cli")),
        )
        .expect("encodes");
        // size, api key 3, version 1, correlation 7, client id "cli", topics null
        assert_eq!(
            &frame[..],
            &[0, 0, 0, 17, 0, 3, 0, 1, 0, 0, 0, 7, 0, 3, b'c', b'l', b'i', 0xff, 0xff, 0xff, 0xff]
                [..]
        );
        // A flexible version gets header v2 (a tagged-field count after the client id).
        let frame = encode_request(&ApiVersionsRequest::default(), 3, 1, None).expect("encodes");
        assert_eq!(&frame[4..14], &[0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff]);
        assert_eq!(frame[14], 0);
    }

    #[test]
    fn responses_decode_after_the_guard() {
        let body =
            MetadataResponse::default().with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("h"))
                .with_port(9092)]);
        let frame = response_frame(0, 5, &body, 1);
        let decoded = decode_response::<MetadataRequest>(frame.clone(), 1, 5).expect("decodes");
        assert_eq!(decoded.brokers.len(), 1);
        assert_eq!(
            decode_response::<MetadataRequest>(frame, 1, 6).err(),
            Some(CodecError::Correlation {
                got: 5,
                expected: 6
            })
        );
        // ApiVersions v3: flexible body, header still v0.
        let body = ApiVersionsResponse::default().with_error_code(35);
        let frame = response_frame(0, 1, &body, 3);
        let decoded = decode_response::<ApiVersionsRequest>(frame, 3, 1).expect("decodes");
        assert_eq!(decoded.error_code, 35);
    }

    #[test]
    fn a_response_claiming_two_billion_brokers_is_refused_before_decoding() {
        let mut frame = vec![0, 0, 0, 5];
        frame.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        let err =
            decode_response::<MetadataRequest>(Bytes::from(frame), 1, 5).expect_err("refused");
        assert!(
            matches!(err, CodecError::Guard { ref api, version: 1, .. } if api == "Metadata"),
            "{err}"
        );
        assert!(
            err.to_string().contains("claims 2147483647 elements"),
            "{err}"
        );
        // Too short for a correlation id.
        assert!(matches!(
            decode_response::<MetadataRequest>(Bytes::from_static(&[0, 0]), 1, 5),
            Err(CodecError::Guard { .. })
        ));
    }
}
