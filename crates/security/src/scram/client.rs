//! The client's side of one SCRAM exchange (Sluice's CLI and inter-broker connections log in
//! with it): first message out, server-first in, final message out, server-final checked, so
//! the client knows it spoke to a server that holds the user's credential.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::ScramMechanism;
use crate::error::AuthError;
use crate::secret::{constant_time_eq, Secret};

/// One SCRAM login.
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: Secret,
    client_nonce: String,
    first_bare: String,
    /// Set once the final message is computed: the ServerSignature the server must send.
    expected_server_signature: Option<Vec<u8>>,
}

/// `,` and `=` in a user name travel as `=2C` and `=3D`.
fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn refused(why: &str) -> AuthError {
    AuthError::Malformed(format!("the server's SCRAM message is invalid: {why}"))
}

impl ScramClient {
    /// A login as `user` with a random client nonce.
    pub fn new(
        mechanism: ScramMechanism,
        user: &str,
        password: Secret,
    ) -> Result<ScramClient, AuthError> {
        let mut random = [0u8; 18];
        getrandom::fill(&mut random)
            .map_err(|e| AuthError::Config(format!("no random bytes for a nonce: {e}")))?;
        Ok(ScramClient::with_nonce(
            mechanism,
            user,
            password,
            alphanumeric(&random),
        ))
    }

    /// A login with a given client nonce (tests).
    pub fn with_nonce(
        mechanism: ScramMechanism,
        user: &str,
        password: Secret,
        client_nonce: String,
    ) -> ScramClient {
        let first_bare = format!("n={},r={client_nonce}", encode_saslname(user));
        ScramClient {
            mechanism,
            password,
            client_nonce,
            first_bare,
            expected_server_signature: None,
        }
    }

    /// The client-first message.
    pub fn first_message(&self) -> Vec<u8> {
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// The client-final message answering `server_first`.
    pub fn final_message(&mut self, server_first: &[u8]) -> Result<Vec<u8>, AuthError> {
        let server_first = std::str::from_utf8(server_first).map_err(|_| refused("not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for field in server_first.split(',') {
            if let Some(v) = field.strip_prefix("r=") {
                nonce = Some(v);
            } else if let Some(v) = field.strip_prefix("s=") {
                salt = Some(
                    BASE64
                        .decode(v)
                        .map_err(|_| refused("the salt is not base64"))?,
                );
            } else if let Some(v) = field.strip_prefix("i=") {
                iterations = Some(v.parse::<u32>().map_err(|_| refused("bad iterations"))?);
            } else if let Some(v) = field.strip_prefix("e=") {
                return Err(AuthError::Malformed(format!("the server refused: {v}")));
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(refused("nonce, salt or iterations missing"));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(refused("the nonce does not extend the client's"));
        }
        let m = self.mechanism;
        if iterations < m.min_iterations() {
            return Err(refused("too few iterations"));
        }
        let salted = m.salted_password(self.password.expose(), &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        self.expected_server_signature =
            Some(m.hmac(&m.hmac(&salted, b"Server Key"), auth.as_bytes()));
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message: the server proved it knows the credential.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), AuthError> {
        let text = std::str::from_utf8(server_final).map_err(|_| refused("not UTF-8"))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(AuthError::Malformed(format!("the server refused: {e}")));
        }
        let signature = text
            .strip_prefix("v=")
            .and_then(|v| BASE64.decode(v).ok())
            .ok_or_else(|| refused("expected v=<server signature>"))?;
        match &self.expected_server_signature {
            Some(expected) if constant_time_eq(expected, &signature) => Ok(()),
            _ => Err(refused("the server signature is wrong")),
        }
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
    use crate::scram::{ScramCredential, ScramServer, ScramStep};

    #[test]
    fn rfc_7677_client_messages() {
        let mut c = ScramClient::with_nonce(
            ScramMechanism::Sha256,
            "user",
            Secret::new("pencil"),
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(c.first_message(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let last = c
            .final_message(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .expect("final");
        assert_eq!(
            String::from_utf8(last).expect("utf-8"),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(c
            .verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_ok());
        assert!(c.verify_server_final(b"v=AAAA").is_err());
        assert!(c.verify_server_final(b"e=invalid-proof").is_err());
    }

    #[test]
    fn client_and_server_agree_and_escaped_names_round_trip() {
        for m in ScramMechanism::ALL {
            let cred = ScramCredential::generate(m, b"pw", 4096).expect("credential");
            let lookup =
                |u: &str, mm: ScramMechanism| (u == "a,b=c" && mm == m).then(|| cred.clone());
            let mut server = ScramServer::new(m, [9; 32]).expect("server");
            let mut client = ScramClient::new(m, "a,b=c", Secret::new("pw")).expect("client");
            let ScramStep::Challenge(first) = server
                .step(&client.first_message(), &lookup)
                .expect("challenge")
            else {
                panic!("challenge expected")
            };
            let last = client.final_message(&first).expect("final");
            let ScramStep::Done {
                server_final,
                principal,
            } = server.step(&last, &lookup).expect("done")
            else {
                panic!("done expected")
            };
            assert_eq!(principal.name, "a,b=c");
            client
                .verify_server_final(&server_final)
                .expect("server proved itself");
        }
    }

    #[test]
    fn bad_server_messages_are_refused() {
        let mut c =
            ScramClient::with_nonce(ScramMechanism::Sha256, "u", Secret::new("p"), "abc".into());
        for bad in [
            &b"r=xyz123,s=AAAA,i=4096"[..],
            b"r=abc,s=AAAA,i=4096",
            b"r=abcdef,s=AAAA",
            b"r=abcdef,s=***,i=4096",
            b"r=abcdef,s=AAAA,i=10",
            b"e=unknown-user",
        ] {
            assert!(
                c.final_message(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
