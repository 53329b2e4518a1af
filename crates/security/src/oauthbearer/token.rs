//! What a validator makes of a bearer token: who it names and for how long
//! ([`ValidatedToken`]), or why it was refused ([`TokenError`]).
//!
//! A refusal has two faces. The client gets RFC 7628's error status only
//! ([`TokenError::challenge`], `{"status":"invalid_token"}` as Kafka sends it, or
//! `insufficient_scope` with the scope that was required), so a client probing the broker
//! learns nothing about which check failed. The broker's log gets [`TokenError`]'s `Display`,
//! which names the check (`exp`, the issuer, an unknown `kid`) but never holds the token, its
//! signature or a claim's value.

use std::collections::BTreeSet;

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedToken {
    /// The principal claim's value (`sub` by default): the `User:` name.
    pub principal_name: String,
    /// The scope claim's values (`scope` by default), as Kafka keeps them on the session.
    pub scope: BTreeSet<String>,
    /// `exp`, in ms since the Unix epoch.
    pub expiration_ms: i64,
    /// `iat`, in ms since the Unix epoch, when the token has one.
    pub issued_at_ms: Option<i64>,
}

/// Why a token was refused; for the broker's log (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `none` in secured mode, HS*, or anything unknown (the name is cut short).
    #[error("the token's algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The JWK set has no key with the token's `kid`; a refresh was asked for.
    #[error("no key with the token's kid {0:?} in the JWK set")]
    UnknownKey(String),
    /// The key set holds no key for the token (wrong algorithm, or no `kid` and several keys).
    #[error("no suitable key for the token: {0}")]
    NoSuitableKey(String),
    /// The JWK set was never loaded (the endpoint has not answered yet).
    #[error("the JWK set is not loaded")]
    KeysUnavailable,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has no {0:?} claim")]
    MissingClaim(String),
    #[error("the token's {0:?} claim has the wrong type or an empty value")]
    BadClaim(String),
    #[error("the token expired {0} ms ago")]
    Expired(i64),
    /// `nbf` or `iat` beyond the allowed clock skew.
    #[error("the token's {0:?} is in the future")]
    NotYetValid(&'static str),
    #[error("the token's issuer is not the expected one")]
    WrongIssuer,
    #[error("the token's audience holds none of the expected ones")]
    WrongAudience,
    /// The scopes the listener requires that the token lacks.
    #[error("the token lacks the required scope {0:?}")]
    InsufficientScope(Vec<String>),
}

impl TokenError {
    /// The RFC 7628 section 3.2.2 error status sent to the client.
    pub fn status(&self) -> &'static str {
        match self {
            TokenError::InsufficientScope(_) => "insufficient_scope",
            _ => "invalid_token",
        }
    }

    /// The server's error challenge (RFC 7628 section 3.2.2), as Kafka writes it:
    /// `{"status":"invalid_token"}`, with `"scope"` (the required scope, space-separated) for
    /// `insufficient_scope`.
    pub fn challenge(&self) -> Vec<u8> {
        let quoted = |text: &str| serde_json::Value::from(text).to_string();
        let mut body = format!("{{\"status\":{}", quoted(self.status()));
        if let TokenError::InsufficientScope(required) = self {
            body.push_str(&format!(",\"scope\":{}", quoted(&required.join(" "))));
        }
        body.push('}');
        body.into_bytes()
    }
}

/// `text` cut to a length fit for a log line (an attacker chooses it).
pub(crate) fn for_log(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_tell_the_status_only() {
        assert_eq!(
            TokenError::Expired(5).challenge(),
            br#"{"status":"invalid_token"}"#
        );
        assert_eq!(
            TokenError::WrongIssuer.challenge(),
            TokenError::BadSignature.challenge()
        );
        assert_eq!(
            TokenError::InsufficientScope(vec!["a".into(), "b\"c".into()]).challenge(),
            br#"{"status":"insufficient_scope","scope":"a b\"c"}"#
        );
        assert_eq!(for_log(&"x".repeat(100)).len(), 67);
        assert_eq!(for_log("short"), "short");
    }
}
