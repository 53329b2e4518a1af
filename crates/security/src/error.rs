//! Why an authentication did not succeed.
//!
//! What a client is told never says which part was wrong: an unknown user and a wrong password
//! give the same [`AuthError::Failed`] text, so a client cannot find out which users exist.

/// The client-facing message of a failed authentication (Kafka answers
/// SASL_AUTHENTICATION_FAILED with a message of this kind).
pub const AUTHENTICATION_FAILED: &str = "Authentication failed: Invalid username or password";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Wrong credentials or an unknown user: the same message either way.
    #[error("{AUTHENTICATION_FAILED}")]
    Failed,
    /// A SASL/OAUTHBEARER token was refused. The text is the RFC 7628 error the client was
    /// already sent in the challenge (`{"status":"invalid_token"}`), never which check failed.
    #[error("Authentication failed: {0}")]
    TokenRejected(String),
    /// The client's message does not follow the mechanism (what is wrong may be told).
    #[error("Authentication failed: {0}")]
    Malformed(String),
    /// A mechanism the listener does not enable.
    #[error("Unsupported SASL mechanism {0}")]
    UnsupportedMechanism(String),
    /// The server's own configuration is wrong (JAAS config, credentials).
    #[error("{0}")]
    Config(String),
}
