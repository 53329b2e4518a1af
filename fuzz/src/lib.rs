//! The broker's path for one request frame, shared by the fuzz target and the stable replay
//! binary: header guard, body guard, then `kafka-protocol`'s decoder for what the guard accepts.
//! A panic, an abort on allocation failure, or a disagreement between guard and decoder about
//! the header's length is a finding.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::Decodable;
use sluice_protocol::guard::{self, response_samples, samples};

/// Runs one frame (request header and body, without the 4-byte size prefix).
pub fn decode_request(frame: &[u8]) {
    let Ok(header_len) = guard::check_request_header(frame) else {
        return;
    };
    let (Some(key), Some(ver)) = (frame.get(0..2), frame.get(2..4)) else {
        panic!("header guard accepted a frame shorter than 4 bytes");
    };
    let api_key = i16::from_be_bytes([key[0], key[1]]);
    let version = i16::from_be_bytes([ver[0], ver[1]]);
    if let Ok(header_version) = ApiKey::try_from(api_key).map(|k| k.request_header_version(version))
    {
        if header_version >= 1 {
            let mut header = Bytes::copy_from_slice(&frame[..header_len]);
            if let Ok(decoded) = RequestHeader::decode(&mut header, header_version) {
                assert_eq!(decoded.request_api_key, api_key);
                assert!(
                    header.is_empty(),
                    "header decoder and guard disagree on the length"
                );
            }
        }
    }
    let body = &frame[header_len..];
    if guard::check_request(api_key, version, body).is_ok() {
        // Decoded or refused: both fine. Only a panic or an abort is a finding.
        let _ = samples::decode_body(api_key, version, Bytes::copy_from_slice(body));
    }
}

/// Valid frames of every guarded api key and version, to seed a corpus.
pub fn seed_frames() -> Vec<Bytes> {
    guard::guarded_api_keys()
        .flat_map(|key| {
            let (min, max) = guard::supported_versions(key).unwrap_or((1, 0));
            (min..=max).filter_map(move |v| samples::encoded_frame(key, v).ok())
        })
        .collect()
}

/// The client's path for one response: `input` is the api key and version the response answers
/// (2 + 2 bytes, big-endian, as a client knows them from its request), then the response body
/// (after the response header). Response guard, then `kafka-protocol`'s decoder for what the
/// guard accepts. A panic or an abort on allocation failure is a finding.
pub fn decode_response(input: &[u8]) {
    let (Some(key), Some(ver)) = (input.get(0..2), input.get(2..4)) else {
        return;
    };
    let api_key = i16::from_be_bytes([key[0], key[1]]);
    let version = i16::from_be_bytes([ver[0], ver[1]]);
    let body = &input[4..];
    if guard::check_response(api_key, version, body).is_ok() {
        let _ = response_samples::decode_body(api_key, version, Bytes::copy_from_slice(body));
    }
}

/// Valid inputs of `decode_response` for every guarded response api key and version.
pub fn response_seeds() -> Vec<Vec<u8>> {
    guard::guarded_response_api_keys()
        .flat_map(|key| {
            let (min, max) = guard::response_versions(key).unwrap_or((1, 0));
            (min..=max).filter_map(move |v| {
                let body = response_samples::encoded_body(key, v).ok()?;
                let mut input = Vec::with_capacity(body.len() + 4);
                input.extend_from_slice(&key.to_be_bytes());
                input.extend_from_slice(&v.to_be_bytes());
                input.extend_from_slice(&body);
                Some(input)
            })
        })
        .collect()
}
