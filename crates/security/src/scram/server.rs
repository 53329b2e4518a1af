//! The broker's side of one SCRAM exchange: two client messages in, two server messages out.
//!
//! An unknown user is not told apart from a wrong password: the server answers the first
//! message with a decoy salt (derived from the user name and a per-broker secret, so it is the
//! same at every attempt, as a real user's would be) and refuses the proof with the same error
//! as a wrong password.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::messages::{parse_client_final, parse_client_first, ClientFirst};
use super::{ScramCredential, ScramMechanism};
use crate::error::AuthError;
use crate::principal::KafkaPrincipal;
use crate::secret::constant_time_eq;

/// Where the server finds a user's credential (the metadata image on a broker).
pub trait CredentialLookup {
    fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential>;
}

impl<F> CredentialLookup for F
where
    F: Fn(&str, ScramMechanism) -> Option<ScramCredential>,
{
    fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self(user, mechanism)
    }
}

/// What the server sends after a client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramStep {
    /// The server-first message; the exchange goes on.
    Challenge(Vec<u8>),
    /// The client proved its password: the server-final message, and who the client is.
    Done {
        server_final: Vec<u8>,
        principal: KafkaPrincipal,
    },
}

enum State {
    AwaitingFirst,
    AwaitingFinal {
        first: Box<ClientFirst>,
        server_first: String,
        /// None for an unknown user: the proof is refused whatever it is.
        credential: Option<ScramCredential>,
    },
    Finished,
}

/// One SCRAM exchange on one connection.
pub struct ScramServer {
    mechanism: ScramMechanism,
    server_nonce: String,
    /// The broker's secret for decoy credentials of unknown users.
    decoy_secret: [u8; 32],
    state: State,
}

impl ScramServer {
    /// A new exchange with a random server nonce; `decoy_secret` is the broker's (see the
    /// module doc).
    pub fn new(
        mechanism: ScramMechanism,
        decoy_secret: [u8; 32],
    ) -> Result<ScramServer, AuthError> {
        let mut random = [0u8; 18];
        getrandom::fill(&mut random)
            .map_err(|e| AuthError::Config(format!("no random bytes for a nonce: {e}")))?;
        Ok(ScramServer::with_nonce(
            mechanism,
            alphanumeric(&random),
            decoy_secret,
        ))
    }

    /// A new exchange with a given server nonce (tests).
    pub fn with_nonce(
        mechanism: ScramMechanism,
        server_nonce: String,
        decoy_secret: [u8; 32],
    ) -> ScramServer {
        ScramServer {
            mechanism,
            server_nonce,
            decoy_secret,
            state: State::AwaitingFirst,
        }
    }

    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    /// Handles the client's next message. After an error the exchange is over.
    pub fn step(
        &mut self,
        message: &[u8],
        lookup: &dyn CredentialLookup,
    ) -> Result<ScramStep, AuthError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingFirst => self.first(message, lookup),
            State::AwaitingFinal {
                first,
                server_first,
                credential,
            } => self.last(message, &first, &server_first, credential),
            State::Finished => Err(AuthError::Malformed(
                "the SCRAM exchange is already over".into(),
            )),
        }
    }

    fn first(
        &mut self,
        message: &[u8],
        lookup: &dyn CredentialLookup,
    ) -> Result<ScramStep, AuthError> {
        let first = parse_client_first(message)?;
        if first
            .extensions
            .iter()
            .any(|(name, value)| name == "tokenauth" && value.eq_ignore_ascii_case("true"))
        {
            // Delegation tokens are not supported: no token can be valid.
            return Err(AuthError::Failed);
        }
        let credential = lookup.credential(&first.user, self.mechanism);
        let (salt, iterations) = match &credential {
            Some(c) => (c.salt.clone(), c.iterations),
            None => (
                self.decoy_salt(&first.user),
                self.mechanism.min_iterations(),
            ),
        };
        let server_first = format!(
            "r={}{},s={},i={iterations}",
            first.client_nonce,
            self.server_nonce,
            BASE64.encode(salt)
        );
        let challenge = server_first.clone().into_bytes();
        self.state = State::AwaitingFinal {
            first: Box::new(first),
            server_first,
            credential,
        };
        Ok(ScramStep::Challenge(challenge))
    }

    fn last(
        &mut self,
        message: &[u8],
        first: &ClientFirst,
        server_first: &str,
        credential: Option<ScramCredential>,
    ) -> Result<ScramStep, AuthError> {
        let last = parse_client_final(message)?;
        if last.channel_binding != first.gs2_header.as_bytes() {
            return Err(AuthError::Malformed(
                "invalid SCRAM message: the channel binding does not repeat the gs2 header".into(),
            ));
        }
        // The nonce must end with the server-first message's nonce, as Kafka checks it:
        // librdkafka before 2.1 puts its own nonce in front once more, and Kafka accepts that.
        // The server's random part is still what makes the proof fresh.
        let expected_nonce = format!("{}{}", first.client_nonce, self.server_nonce);
        if !last.nonce.ends_with(&expected_nonce) {
            return Err(AuthError::Malformed(
                "invalid SCRAM message: the nonce is not the one of this exchange".into(),
            ));
        }
        let Some(credential) = credential else {
            return Err(AuthError::Failed);
        };
        let m = self.mechanism;
        if last.proof.len() != m.key_len() {
            return Err(AuthError::Failed);
        }
        let auth_message = format!("{},{server_first},{}", first.bare, last.without_proof);
        let client_signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = last
            .proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        if !constant_time_eq(&m.hash(&client_key), &credential.stored_key) {
            return Err(AuthError::Failed);
        }
        let server_signature = m.hmac(&credential.server_key, auth_message.as_bytes());
        Ok(ScramStep::Done {
            server_final: format!("v={}", BASE64.encode(server_signature)).into_bytes(),
            principal: KafkaPrincipal::user(first.user.clone()),
        })
    }

    /// The salt shown for an unknown `user`: the same at every attempt.
    fn decoy_salt(&self, user: &str) -> Vec<u8> {
        self.mechanism.hmac(&self.decoy_secret, user.as_bytes())
    }
}

/// A nonce as letters and digits only, as Kafka makes them: base64's `+` and `/` are valid in
/// a SCRAM nonce, but librdkafka 2.0 fails the exchange when the server's nonce holds them.
fn alphanumeric(random: &[u8]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil".
    const SALT_B64: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn pencil() -> ScramCredential {
        let salt = BASE64.decode(SALT_B64).expect("salt");
        ScramCredential::derive(ScramMechanism::Sha256, b"pencil", &salt, 4096)
    }

    fn lookup(user: &str, m: ScramMechanism) -> Option<ScramCredential> {
        (user == "user" && m == ScramMechanism::Sha256).then(pencil)
    }

    fn server() -> ScramServer {
        ScramServer::with_nonce(ScramMechanism::Sha256, SERVER_NONCE.into(), [7; 32])
    }

    #[test]
    fn rfc_7677_exchange() {
        let mut s = server();
        assert_eq!(
            s.step(CLIENT_FIRST.as_bytes(), &lookup),
            Ok(ScramStep::Challenge(SERVER_FIRST.as_bytes().to_vec()))
        );
        assert_eq!(
            s.step(CLIENT_FINAL.as_bytes(), &lookup),
            Ok(ScramStep::Done {
                server_final: SERVER_FINAL.as_bytes().to_vec(),
                principal: KafkaPrincipal::user("user"),
            })
        );
        assert!(s.step(CLIENT_FINAL.as_bytes(), &lookup).is_err(), "over");
    }

    #[test]
    fn a_wrong_proof_and_an_unknown_user_fail_alike() {
        let mut s = server();
        s.step(CLIENT_FIRST.as_bytes(), &lookup).expect("challenge");
        let wrong = CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
        let e1 = s.step(wrong.as_bytes(), &lookup).expect_err("wrong proof");

        let mut s = server();
        let first = "n,,n=nobody,r=rOprNGfwEbeRWgbNEkqO";
        let ScramStep::Challenge(c1) = s.step(first.as_bytes(), &lookup).expect("challenge") else {
            panic!("challenge expected")
        };
        // The decoy salt is stable: a second attempt shows the same one.
        let mut again = server();
        let ScramStep::Challenge(c2) = again.step(first.as_bytes(), &lookup).expect("again") else {
            panic!("challenge expected")
        };
        assert_eq!(c1, c2);
        let e2 = s
            .step(CLIENT_FINAL.as_bytes(), &lookup)
            .expect_err("unknown user");
        assert_eq!(e1, AuthError::Failed);
        assert_eq!(e1.to_string(), e2.to_string());
    }

    #[test]
    fn a_replayed_or_altered_final_message_is_refused() {
        let mut s = server();
        s.step(CLIENT_FIRST.as_bytes(), &lookup).expect("challenge");
        let other_nonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
        assert!(matches!(
            s.step(other_nonce.as_bytes(), &lookup),
            Err(AuthError::Malformed(_))
        ));
        let mut s = server();
        s.step(CLIENT_FIRST.as_bytes(), &lookup).expect("challenge");
        // "eSws" is base64 of "y,,": not the header the client sent first.
        let other_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        assert!(matches!(
            s.step(other_binding.as_bytes(), &lookup),
            Err(AuthError::Malformed(_))
        ));
        let mut s = server();
        assert_eq!(
            s.step(b"n,,n=user,r=abc,tokenauth=true", &lookup),
            Err(AuthError::Failed)
        );
    }

    #[test]
    fn sha_512_round_trip_with_a_client_computed_here() {
        round_trip(false);
    }

    /// librdkafka before 2.1 sends its own nonce once more in front of the exchange's; Kafka
    /// accepts that (the nonce need only end with the exchange's), so Sluice does too.
    #[test]
    fn a_final_nonce_that_repeats_the_clients_in_front_is_accepted() {
        round_trip(true);
    }

    fn round_trip(repeat_client_nonce: bool) {
        let m = ScramMechanism::Sha512;
        let cred = ScramCredential::generate(m, b"s3cret", 4096).expect("credential");
        let lookup = |u: &str, mm: ScramMechanism| (u == "bob" && mm == m).then(|| cred.clone());
        let mut s = ScramServer::new(m, [1; 32]).expect("server");
        let bare = "n=bob,r=clientnonce";
        let ScramStep::Challenge(server_first) = s
            .step(format!("n,,{bare}").as_bytes(), &lookup)
            .expect("challenge")
        else {
            panic!("challenge expected")
        };
        let server_first = String::from_utf8(server_first).expect("utf-8");
        let nonce = server_first
            .split(',')
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .expect("nonce");
        // The client's side of RFC 5802, from the password.
        let salted = m.salted_password(b"s3cret", &cred.salt, 4096);
        let client_key = m.hmac(&salted, b"Client Key");
        let without_proof = if repeat_client_nonce {
            format!("c=biws,r=clientnonce{nonce}")
        } else {
            format!("c=biws,r={nonce}")
        };
        let auth = format!("{bare},{server_first},{without_proof}");
        let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let last = format!("{without_proof},p={}", BASE64.encode(proof));
        let ScramStep::Done {
            server_final,
            principal,
        } = s.step(last.as_bytes(), &lookup).expect("done")
        else {
            panic!("done expected")
        };
        assert_eq!(principal, KafkaPrincipal::user("bob"));
        let expected = m.hmac(&m.hmac(&salted, b"Server Key"), auth.as_bytes());
        assert_eq!(
            server_final,
            format!("v={}", BASE64.encode(expected)).into_bytes()
        );
    }
}
