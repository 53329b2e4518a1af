//! The broker's side of one SASL/OAUTHBEARER exchange (RFC 7628 section 3.2, as Kafka's
//! `OAuthBearerSaslServer` runs it):
//!
//! ```text
//! client: n,,\x01auth=Bearer <token>\x01\x01
//! server: (empty)                                   token valid: Done
//!     or: {"status":"invalid_token"}                token refused: Rejected (a challenge)
//! client: \x01                                      the client's required answer
//! server: SASL_AUTHENTICATION_FAILED                step() returns Err(TokenRejected)
//! ```
//!
//! A message that does not parse, or an authorization id other than the token's principal,
//! fails at once (Kafka's `SaslAuthenticationException`). After a refusal the client may only
//! send `\x01`; Kafka would read anything else as a second token on the same exchange, Sluice
//! refuses it (RFC 7628 section 3.2.3: the client's answer to an error is `\x01`).

use std::collections::{BTreeMap, BTreeSet};

use super::client_response::{parse_client_initial_response, KVSEP};
use super::token::TokenError;
use super::unix_now_ms;
use super::validator::OAuthBearerValidator;
use crate::error::AuthError;
use crate::principal::KafkaPrincipal;

/// What the server does after a client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthStep {
    /// The token is valid: the exchange succeeded (the server's final message is empty).
    Done {
        principal: KafkaPrincipal,
        /// Ms until the token expires (at least 0), for the session lifetime (KIP-368).
        lifetime_ms: Option<i64>,
        /// The token's scope, as Kafka keeps it with the session.
        scope: BTreeSet<String>,
        /// The client's SASL extensions, unvalidated (KIP-342): use them only after checking.
        extensions: BTreeMap<String, String>,
    },
    /// The token was refused: send `challenge` to the client and call `step` with its answer,
    /// which fails. `reason` is for the broker's log only.
    Rejected {
        challenge: Vec<u8>,
        reason: TokenError,
    },
}

enum State {
    AwaitingToken,
    /// A refusal was sent; its client-facing text is the challenge.
    AwaitingErrorAck {
        challenge_text: String,
    },
    Finished,
}

/// One SASL/OAUTHBEARER exchange on one connection.
pub struct OAuthBearerServer {
    validator: OAuthBearerValidator,
    state: State,
}

impl OAuthBearerServer {
    /// A new exchange checking tokens with `validator` (cheap to clone, shared by a listener).
    pub fn new(validator: OAuthBearerValidator) -> OAuthBearerServer {
        OAuthBearerServer {
            validator,
            state: State::AwaitingToken,
        }
    }

    /// Handles the client's next message at the current time. After an error the exchange is
    /// over.
    pub fn step(&mut self, message: &[u8]) -> Result<OAuthStep, AuthError> {
        self.step_at(message, unix_now_ms())
    }

    /// Handles the client's next message at `now_ms` (ms since the Unix epoch).
    pub fn step_at(&mut self, message: &[u8], now_ms: i64) -> Result<OAuthStep, AuthError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingToken => self.token(message, now_ms),
            State::AwaitingErrorAck { challenge_text } => {
                if message == [KVSEP] {
                    Err(AuthError::TokenRejected(challenge_text))
                } else {
                    Err(AuthError::Malformed(
                        "after an error challenge the client must answer %x01".into(),
                    ))
                }
            }
            State::Finished => Err(AuthError::Malformed(
                "the OAUTHBEARER exchange is already over".into(),
            )),
        }
    }

    fn token(&mut self, message: &[u8], now_ms: i64) -> Result<OAuthStep, AuthError> {
        let response = parse_client_initial_response(message)?;
        let token = match self.validator.validate(response.token_str(), now_ms) {
            Ok(token) => token,
            Err(reason) => {
                let challenge = reason.challenge();
                self.state = State::AwaitingErrorAck {
                    challenge_text: String::from_utf8_lossy(&challenge).into_owned(),
                };
                return Ok(OAuthStep::Rejected { challenge, reason });
            }
        };
        if response
            .authorization_id
            .as_ref()
            .is_some_and(|authzid| *authzid != token.principal_name)
        {
            return Err(AuthError::Malformed(
                "the client requested an authorization id that is different from the token's principal name".into(),
            ));
        }
        Ok(OAuthStep::Done {
            principal: KafkaPrincipal::user(token.principal_name),
            lifetime_ms: Some(token.expiration_ms.saturating_sub(now_ms).max(0)),
            scope: token.scope,
            extensions: response.extensions,
        })
    }
}
