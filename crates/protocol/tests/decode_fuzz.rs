//! Random and mutated request frames through the same path the broker takes: the header guard,
//! the body guard, then `kafka-protocol`'s decoder.
//!
//! What is asserted: nothing panics, and every body the guard accepts is either decoded or
//! refused by the decoder. The allocation bound is asserted by the process surviving: without
//! the guard, a mutated count (the mutations below write 0x7f/0xff/0x80 runs into counts and
//! lengths) makes `kafka-protocol` reserve gigabytes to terabytes and the test process abort.

use bytes::Bytes;
use kafka_protocol::messages::RequestHeader;
use kafka_protocol::protocol::Decodable;
use proptest::prelude::*;
use sluice_protocol::guard::{self, samples};

/// Every valid frame (header and body, no size prefix) the guard has a schema for.
fn seed_frames() -> Vec<Bytes> {
    let mut frames = Vec::new();
    for api_key in guard::guarded_api_keys() {
        let Some((min, max)) = guard::supported_versions(api_key) else {
            continue;
        };
        for version in min..=max {
            match samples::encoded_frame(api_key, version) {
                Ok(frame) => frames.push(frame),
                Err(e) => panic!("no seed for api {api_key} v{version}: {e}"),
            }
        }
    }
    frames
}

/// Outcome of one frame, for the tests that want to know how far it got.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    HeaderRejected,
    BodyRejected,
    Decoded,
    DecoderRefused,
}

/// The broker's path for one frame. Panics (failing the test) only if the decoder panics.
fn run(frame: &[u8]) -> Outcome {
    let Ok(header_len) = guard::check_request_header(frame) else {
        return Outcome::HeaderRejected;
    };
    // The header guard read these four bytes, so they are there.
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let header_version = kafka_protocol::messages::ApiKey::try_from(api_key)
        .map(|key| key.request_header_version(version))
        .unwrap_or(1);
    if header_version >= 1 {
        // kafka-protocol decodes header v1 and v2; the broker reads v0 itself.
        let mut header = Bytes::copy_from_slice(&frame[..header_len]);
        if let Ok(decoded) = RequestHeader::decode(&mut header, header_version) {
            assert_eq!(decoded.request_api_key, api_key);
            assert!(
                header.is_empty(),
                "header decoder and guard disagree on the length"
            );
        }
    }
    let body = &frame[header_len..];
    if guard::check_request(api_key, version, body).is_err() {
        return Outcome::BodyRejected;
    }
    match samples::decode_body(api_key, version, Bytes::copy_from_slice(body)) {
        Ok(()) => Outcome::Decoded,
        Err(_) => Outcome::DecoderRefused,
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Set {
        at: usize,
        byte: u8,
    },
    Insert {
        at: usize,
        byte: u8,
    },
    Delete {
        at: usize,
    },
    /// Overwrites four bytes with a large count or length.
    Large {
        at: usize,
        value: u32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        (
            any::<usize>(),
            prop_oneof![
                Just(0x7fff_ffffu32),
                Just(0xffff_ffff),
                Just(0x8080_8080),
                Just(0x0337_f980),
                any::<u32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Large { at, value }),
    ]
}

fn apply(frame: &mut Vec<u8>, mutation: &Mutation) {
    let len = frame.len();
    if len == 0 {
        return;
    }
    match *mutation {
        Mutation::FlipBit { at, bit } => frame[at % len] ^= 1 << bit,
        Mutation::Set { at, byte } => frame[at % len] = byte,
        Mutation::Insert { at, byte } => frame.insert(at % (len + 1), byte),
        Mutation::Delete { at } => {
            frame.remove(at % len);
        }
        Mutation::Large { at, value } => {
            for (i, b) in value.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = frame.get_mut(at % len + i) {
                    *slot = b;
                }
            }
        }
    }
}

#[test]
fn guard_passes_every_seed_frame_to_the_decoder() {
    for frame in seed_frames() {
        assert_eq!(run(&frame), Outcome::Decoded, "{frame:02x?}");
    }
}

/// Every byte of every seed set to the values that make counts and lengths large or negative.
#[test]
fn guard_survives_every_single_byte_overwrite_of_every_seed() {
    let mut decoded_or_refused = 0usize;
    for frame in seed_frames() {
        for at in 0..frame.len() {
            for byte in [0x00u8, 0x7f, 0x80, 0xff] {
                let mut mutated = frame.to_vec();
                mutated[at] = byte;
                if matches!(run(&mutated), Outcome::Decoded | Outcome::DecoderRefused) {
                    decoded_or_refused += 1;
                }
            }
        }
    }
    assert!(
        decoded_or_refused > 0,
        "no mutated frame reached the decoder"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn guard_survives_mutated_frames(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seed_frames();
        let mut frame = seeds[seed.index(seeds.len())].to_vec();
        for m in &mutations {
            apply(&mut frame, m);
        }
        run(&frame);
    }

    #[test]
    fn guard_survives_random_bodies_behind_a_valid_header_prefix(
        key in any::<prop::sample::Index>(),
        version_offset in 0i16..20,
        body in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let keys: Vec<i16> = guard::guarded_api_keys().collect();
        let api_key = keys[key.index(keys.len())];
        let (min, _) = guard::supported_versions(api_key).unwrap_or((0, 0));
        let version = min - 1 + version_offset;
        let mut frame = Vec::new();
        frame.extend_from_slice(&api_key.to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 1, 0xff, 0xff]); // correlation id, null client_id
        frame.extend_from_slice(&body);
        run(&frame);
    }

    #[test]
    fn guard_survives_random_bytes(frame in prop::collection::vec(any::<u8>(), 0..128)) {
        run(&frame);
    }
}

/// Found by the fuzz target in seconds with the body guard switched off: a DescribeConfigs v4
/// frame whose compact array count made kafka-protocol reserve 283 GB.
#[test]
fn guard_rejects_the_fuzzers_describe_configs_allocation_bomb() {
    let mut frame = vec![
        0x00, 0x20, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07, 0x00, 0x0b, 0x66, 0x00, 0x00, 0x00, 0xf6,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    frame.extend_from_slice(&[0xfb; 84]);
    frame.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x00, 0x1b, 0x02, 0x02, 0x02, 0x00, 0x06, 0x06,
    ]);
    assert_eq!(frame.len(), 117);
    assert_eq!(run(&frame), Outcome::BodyRejected);
}
