//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), Kafka's salted challenge-response
//! mechanisms: the broker keeps per user a salt, an iteration count, a StoredKey and a
//! ServerKey (never the password), and the password never crosses the network.
//!
//! # The exchange (each line one SaslAuthenticate round trip)
//! ```text
//! client-first   gs2-header client-first-bare
//!                gs2-header        = "n,," | "y,," | "n,a=<authzid>," (no channel binding)
//!                client-first-bare = "n=<saslname>,r=<client nonce>[,<extensions>]"
//! server-first   "r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>"
//! client-final   "c=<base64 gs2-header>,r=<nonce>,p=<base64 ClientProof>"
//! server-final   "v=<base64 ServerSignature>"   (or "e=<error>")
//! ```
//! A `saslname` writes `,` as `=2C` and `=` as `=3D`.
//!
//! # The keys
//! ```text
//! SaltedPassword  = PBKDF2-HMAC-H(password, salt, iterations)
//! ClientKey       = HMAC(SaltedPassword, "Client Key")     StoredKey = H(ClientKey)
//! ServerKey       = HMAC(SaltedPassword, "Server Key")
//! AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
//! ClientSignature = HMAC(StoredKey, AuthMessage)           ClientProof = ClientKey XOR ClientSignature
//! ServerSignature = HMAC(ServerKey, AuthMessage)
//! ```
//! The server recovers ClientKey = ClientProof XOR ClientSignature and accepts when
//! H(ClientKey) equals the StoredKey it keeps.
//!
//! Layout: `credential.rs` (what the broker stores and how it is derived), `messages.rs` (the
//! message syntax), `server.rs` (the broker's side of the exchange), `client.rs` (the client's
//! side, for Sluice's own tools and inter-broker connections).

mod client;
mod credential;
mod messages;
mod server;

pub use client::ScramClient;
pub use credential::{check_iterations, random_salt, ScramCredential};
pub use server::{CredentialLookup, ScramServer, ScramStep};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// The two SCRAM mechanisms Kafka offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The SASL mechanism name (`SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Kafka's `ScramMechanism` type numbers (DescribeUserScramCredentials /
    /// AlterUserScramCredentials): 1 = SHA-256, 2 = SHA-512.
    pub fn type_number(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_type_number(n: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL
            .into_iter()
            .find(|m| m.type_number() == n)
    }

    /// The fewest iterations Kafka accepts for a credential (4096 for both).
    pub fn min_iterations(self) -> u32 {
        4096
    }

    /// The most iterations Kafka accepts (16384).
    pub fn max_iterations(self) -> u32 {
        16384
    }

    /// The length of the hash (and of every key).
    pub fn key_len(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                // HMAC takes a key of any length: `new_from_slice` cannot fail.
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .expect("HMAC accepts keys of every length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key)
                    .expect("HMAC accepts keys of every length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations): what a client sends in an
    /// AlterUserScramCredentials upsertion (the password itself never leaves it).
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.key_len()];
        match self {
            ScramMechanism::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
            ScramMechanism::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
            }
        }
        out
    }
}

impl std::fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
