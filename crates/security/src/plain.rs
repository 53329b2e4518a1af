//! SASL/PLAIN (RFC 4616), as Kafka's `PlainLoginModule` serves it: the client sends
//! `[authzid] NUL authcid NUL passwd` in one message; the users and passwords are the
//! `user_<name>="<password>"` options of the listener's JAAS config. An authorization id, if
//! given, must equal the user name (Kafka refuses to act for someone else).
//!
//! PLAIN sends the password itself, so Kafka (and Sluice) only allow it where the transport is
//! trusted or encrypted (SASL_SSL); the listener configuration decides.

use std::collections::BTreeMap;

use crate::error::AuthError;
use crate::jaas::JaasConfig;
use crate::principal::KafkaPrincipal;
use crate::secret::{constant_time_eq, Secret};

/// The users a PLAIN listener accepts.
#[derive(Debug, Clone, Default)]
pub struct PlainUsers {
    users: BTreeMap<String, Secret>,
}

/// The JAAS option prefix of PLAIN's users.
const USER_PREFIX: &str = "user_";

/// A password compared against when the user is unknown, so that an unknown user costs the
/// same comparison as a known one.
const DECOY: &[u8] = b"\0sluice-plain-unknown-user\0";

impl PlainUsers {
    /// The `user_<name>` options of a `PlainLoginModule` config.
    pub fn from_jaas(config: &JaasConfig) -> PlainUsers {
        PlainUsers {
            users: config
                .options_with_prefix(USER_PREFIX)
                .map(|(name, password)| (name.to_string(), password.clone()))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Checks one PLAIN client message; the user's principal on success.
    pub fn authenticate(&self, message: &[u8]) -> Result<KafkaPrincipal, AuthError> {
        let mut parts = message.split(|b| *b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed(
                "PLAIN expects authorization id, user name and password separated by NUL".into(),
            ));
        };
        let user = std::str::from_utf8(authcid)
            .map_err(|_| AuthError::Malformed("the user name is not UTF-8".into()))?;
        if user.is_empty() {
            return Err(AuthError::Malformed("the user name is empty".into()));
        }
        if !authzid.is_empty() && authzid != authcid {
            return Err(AuthError::Malformed(
                "the authorization id must be empty or the user name".into(),
            ));
        }
        let (expected, known) = match self.users.get(user) {
            Some(secret) => (secret.expose(), true),
            None => (DECOY, false),
        };
        if constant_time_eq(expected, password) && known {
            Ok(KafkaPrincipal::user(user))
        } else {
            Err(AuthError::Failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> PlainUsers {
        PlainUsers::from_jaas(
            &JaasConfig::parse(
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required
                   username="admin" password="admin-secret"
                   user_admin="admin-secret" user_alice="alice-secret";"#,
            )
            .expect("jaas"),
        )
    }

    #[test]
    fn known_users_log_in_and_every_refusal_looks_the_same() {
        let u = users();
        assert_eq!(u.len(), 2);
        assert_eq!(
            u.authenticate(b"\0alice\0alice-secret"),
            Ok(KafkaPrincipal::user("alice"))
        );
        assert_eq!(
            u.authenticate(b"alice\0alice\0alice-secret"),
            Ok(KafkaPrincipal::user("alice"))
        );
        let wrong = u
            .authenticate(b"\0alice\0nope")
            .expect_err("wrong password");
        let unknown = u
            .authenticate(b"\0mallory\0nope")
            .expect_err("unknown user");
        assert_eq!(wrong, AuthError::Failed);
        assert_eq!(wrong.to_string(), unknown.to_string());
    }

    #[test]
    fn malformed_messages_are_refused() {
        let u = users();
        for bad in [
            &b"alice-secret"[..],
            b"\0alice",
            b"\0\0alice-secret",
            b"bob\0alice\0alice-secret",
            b"\0alice\0alice-secret\0extra",
            b"\0\xff\0x",
        ] {
            assert!(
                matches!(u.authenticate(bad), Err(AuthError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
