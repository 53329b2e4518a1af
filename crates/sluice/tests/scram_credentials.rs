//! DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554) against in-process
//! brokers: a change made on one broker of a three-node cluster is seen by another (it goes
//! through the controller quorum), every per-user error code Kafka gives, and credentials
//! surviving a restart of the whole cluster after `kill -9` and of a single node.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Client, TestBroker, TestCluster};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, ApiKey, ApiVersionsRequest,
    DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;

/// Kafka error codes used here.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const RESOURCE_NOT_FOUND: i16 = 91;
const DUPLICATE_RESOURCE: i16 = 92;
const UNACCEPTABLE_CREDENTIAL: i16 = 93;

const SHA_256: i8 = 1;
const SHA_512: i8 = 2;

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn upsertion(user: &str, mechanism: i8, iterations: i32) -> ScramCredentialUpsertion {
    let len = if mechanism == SHA_512 { 64 } else { 32 };
    ScramCredentialUpsertion::default()
        .with_name(text(user))
        .with_mechanism(mechanism)
        .with_iterations(iterations)
        .with_salt(Bytes::from_static(b"0123456789abcdef"))
        .with_salted_password(Bytes::from(vec![0x5a; len]))
}

fn deletion(user: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default()
        .with_name(text(user))
        .with_mechanism(mechanism)
}

/// Sends an AlterUserScramCredentials; each user's (name, error code).
fn alter(
    client: &mut Client,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Vec<(String, i16)> {
    let request = AlterUserScramCredentialsRequest::default()
        .with_deletions(deletions)
        .with_upsertions(upsertions);
    let response = client.send(&request, 0);
    response
        .results
        .iter()
        .map(|r| {
            if r.error_code != 0 {
                assert!(
                    r.error_message.as_ref().is_some_and(|m| !m.is_empty()),
                    "error {} for {} has a message",
                    r.error_code,
                    r.user
                );
            }
            (r.user.to_string(), r.error_code)
        })
        .collect()
}

/// Per user: (name, error code, [(mechanism, iterations)]).
type Described = Vec<(String, i16, Vec<(i8, i32)>)>;

fn describe(client: &mut Client, users: Option<&[&str]>) -> Described {
    let users = users.map(|names| {
        names
            .iter()
            .map(|n| UserName::default().with_name(text(n)))
            .collect()
    });
    let response = client.send(
        &DescribeUserScramCredentialsRequest::default().with_users(users),
        0,
    );
    assert_eq!(response.error_code, 0);
    response
        .results
        .iter()
        .map(|r| {
            let infos = r
                .credential_infos
                .iter()
                .map(|c| (c.mechanism, c.iterations))
                .collect();
            (r.user.to_string(), r.error_code, infos)
        })
        .collect()
}

fn owned(list: &[(&str, i16)]) -> Vec<(String, i16)> {
    list.iter().map(|(u, c)| (u.to_string(), *c)).collect()
}

/// Retries `f` every 100 ms until it returns `Some`, for at most `secs` seconds.
fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn both_apis_are_advertised() {
    let broker = TestBroker::start(&[]);
    let response = broker.connect().send(&ApiVersionsRequest::default(), 3);
    for key in [
        ApiKey::DescribeUserScramCredentials,
        ApiKey::AlterUserScramCredentials,
    ] {
        let api = response
            .api_keys
            .iter()
            .find(|a| a.api_key == key as i16)
            .unwrap_or_else(|| panic!("{key:?} advertised"));
        assert_eq!((api.min_version, api.max_version), (0, 0));
    }
}

#[test]
fn credentials_altered_on_one_broker_are_seen_by_another_and_survive_a_cluster_restart() {
    let mut cluster = TestCluster::start(3);
    let mut on_1 = cluster.connect(1);
    let accepted = alter(
        &mut on_1,
        vec![],
        vec![
            upsertion("alice", SHA_256, 4096),
            upsertion("alice", SHA_512, 8192),
            upsertion("bob", SHA_512, 16384),
        ],
    );
    assert_eq!(accepted, owned(&[("alice", 0), ("bob", 0)]));

    let expected: Described = vec![
        ("alice".into(), 0, vec![(SHA_256, 4096), (SHA_512, 8192)]),
        ("bob".into(), 0, vec![(SHA_512, 16384)]),
    ];
    let mut on_2 = cluster.connect(2);
    eventually("broker 2 to see the credentials", 30, || {
        (describe(&mut on_2, None) == expected).then_some(())
    });
    assert_eq!(
        describe(&mut on_2, Some(&["bob"])),
        vec![("bob".to_string(), 0, vec![(SHA_512, 16384)])]
    );

    // Deleted on broker 3, gone on broker 1.
    let mut on_3 = cluster.connect(3);
    assert_eq!(
        alter(&mut on_3, vec![deletion("alice", SHA_256)], vec![]),
        owned(&[("alice", 0)])
    );
    let expected: Described = vec![
        ("alice".into(), 0, vec![(SHA_512, 8192)]),
        ("bob".into(), 0, vec![(SHA_512, 16384)]),
    ];
    eventually("broker 1 to see the deletion", 30, || {
        (describe(&mut on_1, None) == expected).then_some(())
    });

    drop((on_1, on_2, on_3));
    cluster.kill_and_restart_all();
    for id in 1..=3 {
        let mut client = cluster.connect(id);
        eventually(&format!("broker {id} to list the users again"), 60, || {
            (describe(&mut client, None) == expected).then_some(())
        });
    }
}

#[test]
fn every_error_is_kafkas_per_user() {
    let mut broker = TestBroker::start(&[]);
    let mut client = broker.connect();
    assert_eq!(
        alter(&mut client, vec![], vec![upsertion("alice", SHA_256, 4096)]),
        owned(&[("alice", 0)])
    );

    let refused = alter(
        &mut client,
        vec![
            deletion("nobody", SHA_256),
            deletion("alice", SHA_512),
            deletion("carol", 7),
            deletion("dave", SHA_256),
        ],
        vec![
            upsertion("erin", 3, 4096),
            upsertion("", SHA_256, 4096),
            upsertion("frank", SHA_256, 4095),
            upsertion("grace", SHA_512, 16385),
            upsertion("dave", SHA_256, 4096),
            upsertion("heidi", SHA_256, 4096),
            upsertion("heidi", SHA_256, 8192),
            upsertion("ivan", SHA_512, 4096),
        ],
    );
    assert_eq!(
        refused,
        owned(&[
            ("nobody", RESOURCE_NOT_FOUND),
            ("alice", RESOURCE_NOT_FOUND),
            ("carol", UNSUPPORTED_SASL_MECHANISM),
            ("dave", DUPLICATE_RESOURCE),
            ("erin", UNSUPPORTED_SASL_MECHANISM),
            ("", UNACCEPTABLE_CREDENTIAL),
            ("frank", UNACCEPTABLE_CREDENTIAL),
            ("grace", UNACCEPTABLE_CREDENTIAL),
            ("heidi", DUPLICATE_RESOURCE),
            ("ivan", 0),
        ])
    );

    assert_eq!(
        describe(&mut client, Some(&["alice", "nobody", "ivan", "alice"])),
        vec![
            ("alice".to_string(), DUPLICATE_RESOURCE, vec![]),
            ("nobody".to_string(), RESOURCE_NOT_FOUND, vec![]),
            ("ivan".to_string(), 0, vec![(SHA_512, 4096)]),
        ]
    );
    // Only the accepted users changed anything.
    assert_eq!(
        describe(&mut client, None),
        vec![
            ("alice".to_string(), 0, vec![(SHA_256, 4096)]),
            ("ivan".to_string(), 0, vec![(SHA_512, 4096)]),
        ]
    );

    // kill -9 and a restart: still there (the change is in the metadata log).
    drop(client);
    broker.kill();
    broker.restart();
    let mut client = broker.connect();
    assert_eq!(
        describe(&mut client, None),
        vec![
            ("alice".to_string(), 0, vec![(SHA_256, 4096)]),
            ("ivan".to_string(), 0, vec![(SHA_512, 4096)]),
        ]
    );
}
