//! Why an authentication failed, in the words the audit log uses: the kind of failure only.
//! Nothing the client sent is kept: a mechanism's error text may quote the client's message,
//! and that message can hold a password or a token.

use std::fmt;

use crate::error::AuthError;

/// The kind of a failed authentication. Its name ([`fmt::Display`]) is the audit line's
/// `reason` after the mechanism, in the CamelCase of the authorizer's reasons (`DefaultDeny`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthenticationFailure {
    /// An unknown user or a wrong password or proof ([`AuthError::Failed`]); which of the two
    /// is not known here either.
    InvalidCredentials,
    /// A SASL/OAUTHBEARER token was refused (expired, badly signed, wrong audience, ...).
    TokenRejected,
    /// The client's message did not follow the mechanism.
    MalformedMessage,
    /// The client asked for a mechanism the listener does not enable.
    UnsupportedMechanism,
    /// The broker's own configuration is wrong (JAAS config, credentials).
    ServerConfiguration,
    /// The TLS handshake failed: on a listener that requires client certificates, none was
    /// sent or it was not trusted.
    TlsHandshake,
}

impl AuthenticationFailure {
    /// The name, as written in the audit line.
    pub fn name(self) -> &'static str {
        match self {
            AuthenticationFailure::InvalidCredentials => "InvalidCredentials",
            AuthenticationFailure::TokenRejected => "TokenRejected",
            AuthenticationFailure::MalformedMessage => "MalformedMessage",
            AuthenticationFailure::UnsupportedMechanism => "UnsupportedMechanism",
            AuthenticationFailure::ServerConfiguration => "ServerConfiguration",
            AuthenticationFailure::TlsHandshake => "TlsHandshake",
        }
    }
}

/// The kind of a SASL refusal; the text it carries is left behind on purpose.
impl From<&AuthError> for AuthenticationFailure {
    fn from(error: &AuthError) -> AuthenticationFailure {
        match error {
            AuthError::Failed => AuthenticationFailure::InvalidCredentials,
            AuthError::TokenRejected(_) => AuthenticationFailure::TokenRejected,
            AuthError::Malformed(_) => AuthenticationFailure::MalformedMessage,
            AuthError::UnsupportedMechanism(_) => AuthenticationFailure::UnsupportedMechanism,
            AuthError::Config(_) => AuthenticationFailure::ServerConfiguration,
        }
    }
}

impl fmt::Display for AuthenticationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_kind_and_drops_the_text() {
        let cases = [
            (AuthError::Failed, "InvalidCredentials"),
            (
                AuthError::TokenRejected("eyJhbGciOiJub25lIn0.secret".into()),
                "TokenRejected",
            ),
            (
                AuthError::Malformed("password=hunter2".into()),
                "MalformedMessage",
            ),
            (
                AuthError::UnsupportedMechanism("GSSAPI".into()),
                "UnsupportedMechanism",
            ),
            (
                AuthError::Config("bad sasl.jaas.config".into()),
                "ServerConfiguration",
            ),
        ];
        for (error, name) in cases {
            assert_eq!(AuthenticationFailure::from(&error).to_string(), name);
        }
        assert_eq!(AuthenticationFailure::TlsHandshake.name(), "TlsHandshake");
    }
}
