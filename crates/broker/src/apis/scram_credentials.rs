//! DescribeUserScramCredentials (50) and AlterUserScramCredentials (51), KIP-554: the SCRAM
//! users of the cluster, kept in the metadata log (so every broker answers alike, and they
//! survive restarts and `kill -9`).
//!
//! Describe reads this broker's metadata image: per user the mechanisms and iteration counts,
//! never salts or keys. Every user when the request names none (null or empty list); a named
//! user without credentials gets RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE.
//!
//! Alter carries deletions and upsertions; an upsertion holds the salt and the salted password
//! (the client ran PBKDF2), from which the broker derives StoredKey and ServerKey. Errors are
//! per user, and a user's alterations apply all or none (one metadata command batch per user,
//! proposed to the active controller through the quorum):
//! - empty user name, iterations outside the mechanism's bounds, an empty salt or a salted
//!   password of the wrong length: UNACCEPTABLE_CREDENTIAL;
//! - a mechanism other than SCRAM-SHA-256 (1) or SCRAM-SHA-512 (2):
//!   UNSUPPORTED_SASL_MECHANISM;
//! - a user/mechanism pair altered more than once in the request: DUPLICATE_RESOURCE;
//! - deleting a credential that does not exist: RESOURCE_NOT_FOUND.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{MetadataCommand, MetadataImage, StoredScramCredential};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;
use sluice_security::{ScramCredential, ScramMechanism};

use super::request::RequestContext;
use crate::cluster::Cluster;
use crate::replicas::AdminError;

pub async fn describe(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    if !ctx.authorize_cluster(AclOperation::Describe) {
        // Kafka's error response: the code at the top and in one (unnamed) result per user
        // asked for.
        let message = || Some(StrBytes::from_static_str("Cluster authorization failed."));
        let results = request
            .users
            .iter()
            .flatten()
            .map(|_| {
                DescribeUserScramCredentialsResult::default()
                    .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0)
                    .with_error_message(message())
            })
            .collect();
        return DescribeUserScramCredentialsResponse::default()
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0)
            .with_error_message(message())
            .with_results(results);
    }
    describe_in(&cluster.image(), &request)
}

fn describe_in(
    image: &MetadataImage,
    request: &DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let found = |user: &str, mechanisms: Vec<(i8, u32)>| {
        let infos = mechanisms
            .into_iter()
            .map(|(mechanism, iterations)| {
                CredentialInfo::default()
                    .with_mechanism(mechanism)
                    .with_iterations(i32::try_from(iterations).unwrap_or(i32::MAX))
            })
            .collect();
        DescribeUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(user.to_string()))
            .with_error_code(0)
            .with_credential_infos(infos)
    };
    let failed = |user: &str, code: ErrorCode, message: String| {
        DescribeUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(user.to_string()))
            .with_error_code(code.0)
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    let named = request.users.as_deref().unwrap_or_default();
    let results = if named.is_empty() {
        image
            .scram_users()
            .map(|(user, mechanisms)| found(user, mechanisms))
            .collect()
    } else {
        let mut times_named: BTreeMap<&str, usize> = BTreeMap::new();
        for user in named {
            *times_named.entry(user.name.as_str()).or_default() += 1;
        }
        let mut results = Vec::with_capacity(times_named.len());
        for user in named {
            let name = user.name.as_str();
            let Some(times) = times_named.remove(name) else {
                continue; // answered at its first mention
            };
            results.push(if times > 1 {
                failed(
                    name,
                    ErrorCode::DUPLICATE_RESOURCE,
                    format!(
                        "Cannot describe SCRAM credentials for the same user twice in a single \
                         request: {name}"
                    ),
                )
            } else if let Some(mechanisms) = image.scram_user(name) {
                found(name, mechanisms)
            } else {
                failed(
                    name,
                    ErrorCode::RESOURCE_NOT_FOUND,
                    format!("Attempt to describe a user credential that does not exist: {name}"),
                )
            });
        }
        results
    };
    DescribeUserScramCredentialsResponse::default()
        .with_error_code(0)
        .with_results(results)
}

pub async fn alter(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        let mut users: Vec<&str> = request
            .deletions
            .iter()
            .map(|d| d.name.as_str())
            .chain(request.upsertions.iter().map(|u| u.name.as_str()))
            .collect();
        // Each user once, in name order, as Kafka answers.
        users.sort_unstable();
        users.dedup();
        return AlterUserScramCredentialsResponse::default().with_results(
            users
                .into_iter()
                .map(|user| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(StrBytes::from_string(user.to_string()))
                        .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0)
                })
                .collect(),
        );
    }
    let plan = plan_alterations(&cluster.image(), &request);
    let mut results = Vec::with_capacity(plan.len());
    for (user, outcome) in plan {
        let outcome = match outcome {
            Ok(commands) => {
                let command = match <[MetadataCommand; 1]>::try_from(commands) {
                    Ok([one]) => one,
                    Err(several) => MetadataCommand::Batch(several),
                };
                cluster.propose(command).await.map(drop)
            }
            Err(e) => Err(e),
        };
        let result = AlterUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(user.clone()));
        results.push(match outcome {
            Ok(()) => {
                tracing::info!("altered the SCRAM credentials of user {user}");
                result.with_error_code(0)
            }
            Err(e) => result
                .with_error_code(e.code.0)
                .with_error_message(Some(StrBytes::from_string(e.message))),
        });
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// One alteration of a request, as read from it.
enum Alteration<'a> {
    Delete,
    Upsert {
        iterations: i32,
        salt: &'a [u8],
        salted_password: &'a [u8],
    },
}

/// Per user (in the order of first mention, deletions before upsertions) the commands that
/// carry out its alterations, or why none of them may apply. Checked against `image`; the
/// controller checks again when it applies them.
fn plan_alterations(
    image: &MetadataImage,
    request: &AlterUserScramCredentialsRequest,
) -> Vec<(String, Result<Vec<MetadataCommand>, AdminError>)> {
    let mut by_user: Vec<(&str, Vec<(i8, Alteration)>)> = Vec::new();
    let alterations = request
        .deletions
        .iter()
        .map(|d| (d.name.as_str(), d.mechanism, Alteration::Delete))
        .chain(request.upsertions.iter().map(|u| {
            let upsert = Alteration::Upsert {
                iterations: u.iterations,
                salt: &u.salt,
                salted_password: &u.salted_password,
            };
            (u.name.as_str(), u.mechanism, upsert)
        }));
    // Position of each user in `by_user`: a request may name very many users.
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (user, mechanism, alteration) in alterations {
        match position.get(user) {
            Some(&i) => by_user[i].1.push((mechanism, alteration)),
            None => {
                position.insert(user, by_user.len());
                by_user.push((user, vec![(mechanism, alteration)]));
            }
        }
    }
    by_user
        .into_iter()
        .map(|(user, alterations)| (user.to_string(), user_commands(image, user, &alterations)))
        .collect()
}

/// The commands for one user's alterations, or the first reason to refuse them all.
fn user_commands(
    image: &MetadataImage,
    user: &str,
    alterations: &[(i8, Alteration)],
) -> Result<Vec<MetadataCommand>, AdminError> {
    let unacceptable = |m: String| AdminError::new(ErrorCode::UNACCEPTABLE_CREDENTIAL, m);
    if user.is_empty() {
        return Err(unacceptable("Username must not be empty".into()));
    }
    let mut seen = [false; 256];
    for (mechanism, _) in alterations {
        let slot = &mut seen[usize::from(mechanism.to_ne_bytes()[0])];
        if *slot {
            return Err(AdminError::new(
                ErrorCode::DUPLICATE_RESOURCE,
                "A user credential cannot be altered twice in the same request",
            ));
        }
        *slot = true;
    }
    let mut commands = Vec::with_capacity(alterations.len());
    for (type_number, alteration) in alterations {
        let Some(mechanism) = ScramMechanism::from_type_number(*type_number) else {
            return Err(AdminError::new(
                ErrorCode::UNSUPPORTED_SASL_MECHANISM,
                format!("Unknown SCRAM mechanism {type_number}"),
            ));
        };
        commands.push(match alteration {
            Alteration::Delete => {
                if image.scram_credential(user, *type_number).is_none() {
                    return Err(AdminError::new(
                        ErrorCode::RESOURCE_NOT_FOUND,
                        format!(
                            "Attempt to delete a user credential that does not exist: {user} \
                             has no {mechanism} credential"
                        ),
                    ));
                }
                MetadataCommand::DeleteScramCredential {
                    user: user.to_string(),
                    mechanism: *type_number,
                }
            }
            Alteration::Upsert {
                iterations,
                salt,
                salted_password,
            } => {
                let (min, max) = (mechanism.min_iterations(), mechanism.max_iterations());
                let iterations = u32::try_from(*iterations).unwrap_or(0);
                if iterations < min {
                    return Err(unacceptable(format!(
                        "Too few iterations: {mechanism} needs at least {min}, not {iterations}"
                    )));
                }
                if iterations > max {
                    return Err(unacceptable(format!(
                        "Too many iterations: {mechanism} takes at most {max}, not {iterations}"
                    )));
                }
                let credential = ScramCredential::from_salted_password(
                    mechanism,
                    salt,
                    salted_password,
                    iterations,
                )
                .map_err(|e| unacceptable(e.to_string()))?;
                MetadataCommand::UpsertScramCredential {
                    user: user.to_string(),
                    mechanism: *type_number,
                    credential: StoredScramCredential {
                        salt: credential.salt,
                        stored_key: credential.stored_key,
                        server_key: credential.server_key,
                        iterations,
                    },
                }
            }
        });
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::alter_user_scram_credentials_request::{
        ScramCredentialDeletion, ScramCredentialUpsertion,
    };
    use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;

    use super::*;

    fn upsertion(user: &str, mechanism: i8, iterations: i32) -> ScramCredentialUpsertion {
        let len = if mechanism == 2 { 64 } else { 32 };
        ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_string(user.into()))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(Bytes::from_static(b"some salt"))
            .with_salted_password(Bytes::from(vec![9u8; len]))
    }

    fn deletion(user: &str, mechanism: i8) -> ScramCredentialDeletion {
        ScramCredentialDeletion::default()
            .with_name(StrBytes::from_string(user.into()))
            .with_mechanism(mechanism)
    }

    /// Applies what the plan accepted; returns each user's error code (0 = accepted).
    fn alter(
        image: &mut MetadataImage,
        deletions: Vec<ScramCredentialDeletion>,
        upsertions: Vec<ScramCredentialUpsertion>,
    ) -> Vec<(String, i16)> {
        let request = AlterUserScramCredentialsRequest::default()
            .with_deletions(deletions)
            .with_upsertions(upsertions);
        let mut codes = Vec::new();
        for (user, outcome) in plan_alterations(image, &request) {
            match outcome {
                Ok(commands) => {
                    let offset = image.offset() + 1;
                    image
                        .apply(offset, &MetadataCommand::Batch(commands))
                        .expect("the controller accepts what the broker planned");
                    codes.push((user, 0));
                }
                Err(e) => codes.push((user, e.code.0)),
            }
        }
        codes
    }

    fn codes(list: &[(&str, i16)]) -> Vec<(String, i16)> {
        list.iter().map(|(u, c)| (u.to_string(), *c)).collect()
    }

    #[test]
    fn alterations_are_checked_per_user_with_kafkas_codes() {
        let mut image = MetadataImage::default();
        let accepted = alter(
            &mut image,
            vec![],
            vec![upsertion("alice", 1, 4096), upsertion("alice", 2, 8192)],
        );
        assert_eq!(accepted, codes(&[("alice", 0)]));
        let stored = image.scram_credential("alice", 1).expect("stored");
        let expected = ScramCredential::from_salted_password(
            ScramMechanism::Sha256,
            b"some salt",
            &[9; 32],
            4096,
        )
        .expect("valid");
        assert_eq!(stored.stored_key, expected.stored_key);
        assert_eq!(stored.server_key, expected.server_key);

        let refused = alter(
            &mut image,
            vec![deletion("bob", 1), deletion("alice", 1)],
            vec![
                upsertion("", 1, 4096),
                upsertion("carol", 3, 4096),
                upsertion("dave", 1, 4095),
                upsertion("erin", 2, 16385),
                upsertion("alice", 1, 5000),
                upsertion("frank", 1, 4096).with_salt(Bytes::new()),
            ],
        );
        assert_eq!(
            refused,
            codes(&[
                ("bob", 91),
                ("alice", 92),
                ("", 93),
                ("carol", 33),
                ("dave", 93),
                ("erin", 93),
                ("frank", 93),
            ])
        );
        // A refused user's other alterations do not apply either.
        let refused = alter(
            &mut image,
            vec![deletion("alice", 2)],
            vec![upsertion("alice", 1, 4000)],
        );
        assert_eq!(refused, codes(&[("alice", 93)]));
        assert_eq!(image.scram_user("alice"), Some(vec![(1, 4096), (2, 8192)]));

        let deleted = alter(&mut image, vec![deletion("alice", 2)], vec![]);
        assert_eq!(deleted, codes(&[("alice", 0)]));
        assert_eq!(image.scram_user("alice"), Some(vec![(1, 4096)]));
    }

    #[test]
    fn describe_lists_users_mechanisms_and_iterations() {
        let mut image = MetadataImage::default();
        alter(
            &mut image,
            vec![],
            vec![upsertion("alice", 1, 4096), upsertion("bob", 2, 8192)],
        );
        let user = |name: &str| UserName::default().with_name(StrBytes::from_string(name.into()));
        let summary = |response: DescribeUserScramCredentialsResponse| {
            response
                .results
                .iter()
                .map(|r| {
                    let infos: Vec<(i8, i32)> = r
                        .credential_infos
                        .iter()
                        .map(|c| (c.mechanism, c.iterations))
                        .collect();
                    (r.user.to_string(), r.error_code, infos)
                })
                .collect::<Vec<_>>()
        };
        for users in [None, Some(vec![])] {
            let request = DescribeUserScramCredentialsRequest::default().with_users(users);
            assert_eq!(
                summary(describe_in(&image, &request)),
                vec![
                    ("alice".to_string(), 0, vec![(1, 4096)]),
                    ("bob".to_string(), 0, vec![(2, 8192)]),
                ]
            );
        }
        let request = DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
            user("bob"),
            user("nobody"),
            user("alice"),
            user("bob"),
        ]));
        assert_eq!(
            summary(describe_in(&image, &request)),
            vec![
                ("bob".to_string(), 92, vec![]),
                ("nobody".to_string(), 91, vec![]),
                ("alice".to_string(), 0, vec![(1, 4096)]),
            ]
        );
    }
}
