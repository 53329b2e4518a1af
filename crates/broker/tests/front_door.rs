//! The request front door (`sluice_broker::apis::admit`) as the fuzz target runs it.
//! `fuzz/src/lib.rs` is compiled into this test, so that the fuzz target's logic and its seed
//! corpus run with every `cargo test` (libFuzzer itself needs nightly and is not part of the
//! workspace): every seed of every guarded api key and version, each of them with every single
//! byte overwritten and cut at every length, and random mutations. Nothing may panic (a failed
//! debug assertion on the way is a finding too), and every version the broker advertises is
//! admitted as its own API.

#[path = "../../../fuzz/src/lib.rs"]
mod fuzz;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use proptest::prelude::*;
use sluice_broker::apis::{admit, Admitted, SUPPORTED_APIS};

/// The seed corpus, built once for the property tests' many cases.
fn seeds() -> &'static [Bytes] {
    static SEEDS: std::sync::OnceLock<Vec<Bytes>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(fuzz::seed_frames)
}

fn key_and_version(frame: &[u8]) -> (i16, i16) {
    (
        i16::from_be_bytes([frame[0], frame[1]]),
        i16::from_be_bytes([frame[2], frame[3]]),
    )
}

#[test]
fn every_seed_is_admitted_as_its_api_or_refused() {
    let seeds = fuzz::seed_frames();
    assert!(!seeds.is_empty());
    let mut admitted = Vec::new();
    for frame in &seeds {
        fuzz::decode_request(frame);
        let (key, version) = key_and_version(frame);
        let supported = SUPPORTED_APIS
            .iter()
            .find(|(api, _, _)| *api as i16 == key)
            .map(|(_, min, max)| (*min, *max));
        match (admit(frame), supported) {
            (Ok(Admitted::Request(request)), Some((min, max))) => {
                assert!((min..=max).contains(&version), "{key} v{version}");
                assert_eq!(request.api_key as i16, key);
                assert_eq!(request.body.api_key(), request.api_key);
                assert_eq!(request.header.request_api_version, version);
                assert_eq!(request.header.correlation_id, 7);
                admitted.push((key, version));
            }
            (Ok(Admitted::Answered(_)), Some((_, max))) => {
                assert_eq!((key, version > max), (ApiKey::ApiVersions as i16, true));
            }
            (Err(_), Some((min, max))) => {
                assert!(!(min..=max).contains(&version), "{key} v{version} refused")
            }
            (Err(_), None) => {}
            (Ok(other), None) => panic!("api {key} is not served, yet {other:?}"),
        }
    }
    for (api, min, max) in SUPPORTED_APIS {
        for version in *min..=*max {
            assert!(
                admitted.contains(&(*api as i16, version)),
                "no seed of {api:?} v{version} was admitted"
            );
        }
    }
}

#[test]
fn every_single_byte_overwrite_of_every_seed_is_survived() {
    let mut admitted = 0usize;
    for frame in seeds() {
        for at in 0..frame.len() {
            for byte in [0x00u8, 0x7f, 0x80, 0xff] {
                let mut mutated = frame.to_vec();
                mutated[at] = byte;
                fuzz::decode_request(&mutated);
                if matches!(admit(&Bytes::from(mutated)), Ok(Admitted::Request(_))) {
                    admitted += 1;
                }
            }
        }
    }
    assert!(admitted > 0, "no mutated frame got through the door");
}

#[test]
fn every_cut_of_every_seed_is_survived() {
    for frame in seeds() {
        for len in 0..frame.len() {
            fuzz::decode_request(&frame[..len]);
        }
    }
}

#[test]
fn the_response_seeds_are_survived() {
    let seeds = fuzz::response_seeds();
    assert!(!seeds.is_empty());
    for input in seeds {
        fuzz::decode_response(&input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_frames_are_survived(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u32>()), 1..5),
    ) {
        let seeds = seeds();
        let mut frame = seeds[seed.index(seeds.len())].to_vec();
        for (at, value) in &edits {
            let start = at.index(frame.len());
            for (i, b) in value.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = frame.get_mut(start + i) {
                    *slot = b;
                }
            }
        }
        fuzz::decode_request(&frame);
    }

    #[test]
    fn random_frames_are_survived(frame in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzz::decode_request(&frame);
    }
}
