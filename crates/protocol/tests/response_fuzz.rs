//! Random and mutated response bodies through the path Sluice's client takes: the response
//! guard, then `kafka-protocol`'s decoder. Nothing may panic, and every body the guard accepts
//! is either decoded or refused by the decoder; a count the guard let through unchecked would
//! make the decoder reserve gigabytes and abort the test process.

use bytes::Bytes;
use proptest::prelude::*;
use sluice_protocol::guard::{self, response_samples};

/// (api key, version, body) of every populated response the guard has a schema for.
fn seeds() -> Vec<(i16, i16, Bytes)> {
    let mut seeds = Vec::new();
    for api_key in guard::guarded_response_api_keys() {
        let Some((min, max)) = guard::response_versions(api_key) else {
            continue;
        };
        for version in min..=max {
            match response_samples::encoded_body(api_key, version) {
                Ok(body) => seeds.push((api_key, version, body)),
                Err(e) => panic!("no response seed for api {api_key} v{version}: {e}"),
            }
        }
    }
    seeds
}

/// True when the body reached the decoder.
fn run(api_key: i16, version: i16, body: &[u8]) -> bool {
    if guard::check_response(api_key, version, body).is_err() {
        return false;
    }
    let _ = response_samples::decode_body(api_key, version, Bytes::copy_from_slice(body));
    true
}

#[test]
fn every_single_byte_overwrite_of_every_response_seed_is_survived() {
    let mut reached_decoder = 0usize;
    for (api_key, version, body) in seeds() {
        for at in 0..body.len() {
            for byte in [0x00u8, 0x7f, 0x80, 0xff] {
                let mut mutated = body.to_vec();
                mutated[at] = byte;
                if run(api_key, version, &mutated) {
                    reached_decoder += 1;
                }
            }
        }
    }
    assert!(reached_decoder > 0, "no mutated body reached the decoder");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_responses_are_survived(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u32>()), 1..5),
    ) {
        let seeds = seeds();
        let (api_key, version, body) = &seeds[seed.index(seeds.len())];
        let mut body = body.to_vec();
        for (at, value) in &edits {
            if body.is_empty() {
                break;
            }
            let start = at.index(body.len());
            for (i, b) in value.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = body.get_mut(start + i) {
                    *slot = b;
                }
            }
        }
        run(*api_key, *version, &body);
    }

    #[test]
    fn random_response_bodies_are_survived(
        key in any::<prop::sample::Index>(),
        version in 0i16..20,
        body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let keys: Vec<i16> = guard::guarded_response_api_keys().collect();
        run(keys[key.index(keys.len())], version, &body);
    }
}
