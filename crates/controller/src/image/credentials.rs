//! SCRAM credentials (KIP-554): per user and mechanism, the salt, iteration count, StoredKey and
//! ServerKey a broker checks a SCRAM login against (never the password). They live in the
//! metadata log, so every broker knows them and they survive restarts and `kill -9`.
//!
//! Mechanisms are Kafka's `ScramMechanism` type numbers: 1 = SCRAM-SHA-256 (32-byte keys),
//! 2 = SCRAM-SHA-512 (64-byte keys). Iterations are 4096..=16384, as Kafka accepts them.

use serde::Deserialize;
use serde::Serialize;

use super::done;
use super::MetadataImage;
use crate::command::CommandError;
use crate::command::CommandResult;

/// A stored SCRAM credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

impl std::fmt::Debug for StoredScramCredential {
    /// The keys stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Key length of each mechanism's credentials, by type number.
fn key_len(mechanism: i8) -> Option<usize> {
    match mechanism {
        1 => Some(32),
        2 => Some(64),
        _ => None,
    }
}

const ITERATIONS_MIN: u32 = 4096;
const ITERATIONS_MAX: u32 = 16384;

impl MetadataImage {
    /// `user`'s credential for `mechanism` (a type number), if any.
    pub fn scram_credential(&self, user: &str, mechanism: i8) -> Option<&StoredScramCredential> {
        self.scram_credentials.get(user)?.get(&mechanism)
    }

    /// Every user with SCRAM credentials, with the mechanisms and iteration counts they have
    /// (DescribeUserScramCredentials), in user order.
    pub fn scram_users(&self) -> impl Iterator<Item = (&str, Vec<(i8, u32)>)> + '_ {
        self.scram_credentials.iter().map(|(user, by_mechanism)| {
            let mechanisms = by_mechanism
                .iter()
                .map(|(m, c)| (*m, c.iterations))
                .collect();
            (user.as_str(), mechanisms)
        })
    }

    /// The mechanisms and iteration counts `user` has credentials for, if any.
    pub fn scram_user(&self, user: &str) -> Option<Vec<(i8, u32)>> {
        let by_mechanism = self.scram_credentials.get(user)?;
        Some(
            by_mechanism
                .iter()
                .map(|(m, c)| (*m, c.iterations))
                .collect(),
        )
    }

    pub(super) fn upsert_scram_credential(
        &mut self,
        user: &str,
        mechanism: i8,
        credential: &StoredScramCredential,
    ) -> CommandResult {
        if user.is_empty() {
            return Err(CommandError::InvalidRequest(
                "the user name is empty".into(),
            ));
        }
        let Some(len) = key_len(mechanism) else {
            return Err(CommandError::UnsupportedSaslMechanism(mechanism));
        };
        if !(ITERATIONS_MIN..=ITERATIONS_MAX).contains(&credential.iterations) {
            return Err(CommandError::InvalidRequest(format!(
                "{} iterations: SCRAM credentials take {ITERATIONS_MIN} to {ITERATIONS_MAX}",
                credential.iterations
            )));
        }
        if credential.salt.is_empty()
            || credential.stored_key.len() != len
            || credential.server_key.len() != len
        {
            return Err(CommandError::InvalidRequest(
                "a SCRAM credential needs a salt and keys of its mechanism's length".into(),
            ));
        }
        self.scram_credentials
            .entry(user.to_string())
            .or_default()
            .insert(mechanism, credential.clone());
        done()
    }

    pub(super) fn delete_scram_credential(&mut self, user: &str, mechanism: i8) -> CommandResult {
        let Some(by_mechanism) = self.scram_credentials.get_mut(user) else {
            return Err(CommandError::ResourceNotFound(format!(
                "user {user} has no SCRAM credential"
            )));
        };
        if by_mechanism.remove(&mechanism).is_none() {
            return Err(CommandError::ResourceNotFound(format!(
                "user {user} has no SCRAM credential for mechanism {mechanism}"
            )));
        }
        if by_mechanism.is_empty() {
            self.scram_credentials.remove(user);
        }
        done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::MetadataCommand;

    fn credential(len: usize, iterations: u32) -> StoredScramCredential {
        StoredScramCredential {
            salt: vec![1; 16],
            stored_key: vec![2; len],
            server_key: vec![3; len],
            iterations,
        }
    }

    fn upsert(user: &str, mechanism: i8, c: StoredScramCredential) -> MetadataCommand {
        MetadataCommand::UpsertScramCredential {
            user: user.into(),
            mechanism,
            credential: c,
        }
    }

    #[test]
    fn credentials_are_kept_per_user_and_mechanism_and_checked() {
        let mut image = MetadataImage::default();
        let mut offset = 0;
        let mut apply = |image: &mut MetadataImage, c: MetadataCommand| {
            offset += 1;
            image.apply(offset, &c)
        };
        assert!(apply(&mut image, upsert("alice", 1, credential(32, 4096))).is_ok());
        assert!(apply(&mut image, upsert("alice", 2, credential(64, 8192))).is_ok());
        assert!(apply(&mut image, upsert("bob", 1, credential(32, 16384))).is_ok());
        assert_eq!(
            image.scram_credential("alice", 2),
            Some(&credential(64, 8192))
        );
        let users: Vec<(&str, Vec<(i8, u32)>)> = image.scram_users().collect();
        assert_eq!(image.scram_user("bob"), Some(vec![(1, 16384)]));
        assert_eq!(image.scram_user("carol"), None);
        assert_eq!(
            users,
            [
                ("alice", vec![(1, 4096), (2, 8192)]),
                ("bob", vec![(1, 16384)])
            ]
        );
        // Replacing a credential keeps one per mechanism.
        assert!(apply(&mut image, upsert("alice", 1, credential(32, 5000))).is_ok());
        assert_eq!(
            image.scram_credential("alice", 1).map(|c| c.iterations),
            Some(5000)
        );

        for (bad, code) in [
            (upsert("", 1, credential(32, 4096)), 42),
            (upsert("carol", 3, credential(32, 4096)), 33),
            (upsert("carol", 1, credential(32, 4095)), 42),
            (upsert("carol", 1, credential(32, 16385)), 42),
            (upsert("carol", 1, credential(64, 4096)), 42),
        ] {
            let e = apply(&mut image, bad).expect_err("refused");
            assert_eq!(e.error_code(), code, "{e}");
        }
        assert!(image.scram_credential("carol", 1).is_none());

        let delete = |user: &str, mechanism| MetadataCommand::DeleteScramCredential {
            user: user.into(),
            mechanism,
        };
        assert!(apply(&mut image, delete("alice", 1)).is_ok());
        assert!(apply(&mut image, delete("alice", 2)).is_ok());
        assert_eq!(image.scram_users().count(), 1, "alice is gone");
        let e = apply(&mut image, delete("alice", 1)).expect_err("nothing to delete");
        assert_eq!(e.error_code(), 91, "RESOURCE_NOT_FOUND");

        // Bootstrap metadata applies once per cluster, all or nothing.
        let bootstrap = |user: &str, iterations| MetadataCommand::Bootstrap {
            commands: vec![upsert(user, 1, credential(32, iterations))],
        };
        assert!(apply(&mut image, bootstrap("admin", 4096)).is_ok());
        assert!(apply(&mut image, bootstrap("admin", 8192)).is_ok());
        assert!(apply(&mut image, bootstrap("other", 8192)).is_ok());
        assert_eq!(image.scram_user("admin"), Some(vec![(1, 4096)]));
        assert_eq!(
            image.scram_user("other"),
            None,
            "a later bootstrap is ignored"
        );
        let mut fresh = MetadataImage::default();
        let bad = MetadataCommand::Bootstrap {
            commands: vec![
                upsert("admin", 1, credential(32, 4096)),
                upsert("admin", 9, credential(32, 4096)),
            ],
        };
        assert!(fresh.apply(1, &bad).is_err());
        assert_eq!(fresh.scram_user("admin"), None);
        assert!(
            fresh.apply(2, &bootstrap("admin", 4096)).is_ok(),
            "refused: not applied"
        );

        // They survive the image's serialization (snapshots).
        let json = serde_json::to_string(&image).expect("serializes");
        let back: MetadataImage = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, image);
        assert!(!format!("{:?}", credential(32, 4096)).contains("stored_key"));
    }
}
