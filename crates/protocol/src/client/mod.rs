//! Sluice's Kafka wire client: one connection type for every request Sluice sends to a broker,
//! whether from the CLI, from one broker to another (replica fetches, transaction markers,
//! transaction verification) or from the test harness.
//!
//! Nothing a broker sends is trusted: the response frame size is bounded before anything is
//! allocated for it (and the frame is read in chunks, so a peer that claims a large size gets
//! memory only for bytes it really sends), the response header and body are walked by the
//! response guard ([`crate::guard`]) before `kafka-protocol` decodes them, and every wait has a
//! timeout. Connections may use TLS (SSL), a SASL login (SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256/512,
//! OAUTHBEARER with a given token) or both (SASL_SSL).
//!
//! # Layout
//! - `codec.rs`: the sans-I/O part, shared with blocking callers (the test harness): a request
//!   frame from a `kafka-protocol` request, a guarded decode of a response frame.
//! - `connection.rs`: [`Connection`], one async TCP connection to one broker: framing,
//!   correlation ids, timeouts, version negotiation through ApiVersions.
//! - `security.rs`: [`ClientSecurity`]: TLS settings ([`TlsClient`], rustls) and the SASL
//!   login ([`SaslLogin`]); `stream.rs`: plain or TLS byte stream; `sasl.rs`: the login.
//! - `error.rs`: [`ClientError`].
//!
//! What this module does not do: routing (which broker leads a partition or coordinates a
//! group), retries and deadlines across several requests. Those belong to the caller: the CLI
//! has its cluster client, the broker knows its peers from the metadata image.

mod codec;
mod connection;
mod error;
mod sasl;
mod security;
mod stream;

#[cfg(test)]
mod security_tests;

pub use codec::{decode_response, encode_request, response_header_version};
pub use connection::{ApiVersionRange, Connection, ConnectionOptions};
pub use error::ClientError;
pub use security::{ClientSecurity, SaslLogin, TlsClient, TlsSettingsError};
pub use sluice_security::tls::crypto_provider;
