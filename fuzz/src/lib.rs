//! The paths the fuzz targets and the stable replay binary run.
//!
//! Requests go through the broker's own front door, [`sluice_broker::apis::admit`]: the header
//! checks, the request guard and `kafka-protocol`'s decoders, exactly as every frame a client
//! sends does before dispatch. A panic, an abort on allocation failure, or a failed
//! debug assertion on the way (the guard and the header decoder disagreeing on the header's
//! length) is a finding. The broker's tests compile this file too
//! (`crates/broker/tests/front_door.rs`) and run the seed corpus through it, since libFuzzer
//! needs nightly.

use bytes::Bytes;
use sluice_protocol::guard::{self, response_samples, samples};

/// Runs one frame (request header and body, without the 4-byte size prefix) through the
/// broker's front door. Admitted, answered or refused: all fine.
pub fn decode_request(frame: &[u8]) {
    let _ = sluice_broker::apis::admit(&Bytes::copy_from_slice(frame));
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
