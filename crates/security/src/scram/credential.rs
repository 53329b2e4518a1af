//! What a broker stores for a SCRAM user: salt, iterations, StoredKey and ServerKey (Kafka's
//! `ScramCredential`). The password is used once, to derive them, and is not kept.

use super::ScramMechanism;
use crate::error::AuthError;

/// A user's SCRAM credential for one mechanism.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

impl std::fmt::Debug for ScramCredential {
    /// The keys stay out of logs: with them an attacker can impersonate the server.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Bytes of a salt the broker generates.
pub const SALT_LEN: usize = 32;

impl ScramCredential {
    /// The credential of `password` with `salt` and `iterations` (what AlterUserScramCredentials
    /// computes on the client side and Kafka's `kafka-storage format --add-scram` on the
    /// server side).
    pub fn derive(
        mechanism: ScramMechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> ScramCredential {
        let salted = mechanism.salted_password(password, salt, iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(&salted, b"Server Key"),
            iterations,
        }
    }

    /// A credential for `password` with a new random salt.
    pub fn generate(
        mechanism: ScramMechanism,
        password: &[u8],
        iterations: u32,
    ) -> Result<ScramCredential, AuthError> {
        check_iterations(mechanism, iterations)?;
        let salt = random_salt()?;
        Ok(ScramCredential::derive(
            mechanism, password, &salt, iterations,
        ))
    }

    /// Checks a credential as received from AlterUserScramCredentials (salt, salted password
    /// and iterations, as Kafka's request carries them) and derives the stored form.
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: u32,
    ) -> Result<ScramCredential, AuthError> {
        check_iterations(mechanism, iterations)?;
        if salt.is_empty() {
            return Err(AuthError::Config("the salt is empty".into()));
        }
        if salted_password.len() != mechanism.key_len() {
            return Err(AuthError::Config(format!(
                "a {mechanism} salted password has {} bytes, not {}",
                mechanism.key_len(),
                salted_password.len()
            )));
        }
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        Ok(ScramCredential {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        })
    }
}

/// A new random salt of [`SALT_LEN`] bytes.
pub fn random_salt() -> Result<Vec<u8>, AuthError> {
    let mut salt = vec![0u8; SALT_LEN];
    getrandom::fill(&mut salt)
        .map_err(|e| AuthError::Config(format!("no random bytes for a salt: {e}")))?;
    Ok(salt)
}

/// Kafka refuses iteration counts outside 4096..=16384.
pub fn check_iterations(mechanism: ScramMechanism, iterations: u32) -> Result<(), AuthError> {
    let (min, max) = (mechanism.min_iterations(), mechanism.max_iterations());
    if (min..=max).contains(&iterations) {
        Ok(())
    } else {
        Err(AuthError::Config(format!(
            "{mechanism} needs between {min} and {max} iterations, not {iterations}"
        )))
    }
}
