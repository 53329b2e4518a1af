//! The client's SASL login on a fresh connection (KIP-43, KIP-152): SaslHandshake v1 names the
//! mechanism, then SaslAuthenticate requests carry the mechanism's messages until the broker
//! accepts or refuses.
//!
//! Per mechanism, the `auth_bytes` of each SaslAuthenticate:
//! ```text
//! PLAIN          -> NUL user NUL password                       <- (empty)
//! SCRAM-SHA-*    -> client-first  <- server-first  -> client-final  <- server-final (checked)
//! OAUTHBEARER    -> "n,," 0x01 "auth=Bearer " token 0x01 0x01   <- (empty)   (RFC 7628)
//! ```

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use sluice_security::ScramClient;

use super::connection::Connection;
use super::error::ClientError;
use super::security::SaslLogin;

/// SaslHandshake v1: after it, the exchange goes in SaslAuthenticate requests.
const HANDSHAKE_VERSION: i16 = 1;
/// UNSUPPORTED_SASL_MECHANISM.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

/// Logs `conn` in with `login`; every request bounded by `timeout`.
pub(super) async fn login(
    conn: &mut Connection,
    login: &SaslLogin,
    timeout: Duration,
) -> Result<(), ClientError> {
    let mechanism = login.mechanism();
    let handshake = conn
        .send(
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
            HANDSHAKE_VERSION,
            timeout,
        )
        .await?;
    match handshake.error_code {
        0 => {}
        UNSUPPORTED_SASL_MECHANISM => {
            let enabled: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(refused(
                conn,
                format!(
                    "the broker does not enable SASL mechanism {mechanism} (it enables: {})",
                    enabled.join(", ")
                ),
            ));
        }
        code => {
            return Err(refused(
                conn,
                format!("SaslHandshake for {mechanism} answered error code {code}"),
            ))
        }
    }
    let version = conn
        .negotiate::<SaslAuthenticateRequest>(0, 2, timeout)
        .await?;
    match login {
        SaslLogin::Plain { user, password } => {
            let mut message = vec![0u8];
            message.extend_from_slice(user.as_bytes());
            message.push(0);
            message.extend_from_slice(password.expose());
            authenticate(conn, message, version, timeout).await?;
        }
        SaslLogin::Scram {
            mechanism,
            user,
            password,
        } => {
            let mut client = ScramClient::new(*mechanism, user, password.clone())
                .map_err(|e| refused(conn, e.to_string()))?;
            let server_first = authenticate(conn, client.first_message(), version, timeout).await?;
            let last = client
                .final_message(&server_first)
                .map_err(|e| refused(conn, e.to_string()))?;
            let server_final = authenticate(conn, last, version, timeout).await?;
            client
                .verify_server_final(&server_final)
                .map_err(|e| refused(conn, e.to_string()))?;
        }
        SaslLogin::OAuthBearer { token } => {
            let mut message = b"n,,\x01auth=Bearer ".to_vec();
            message.extend_from_slice(token.expose());
            message.extend_from_slice(b"\x01\x01");
            authenticate(conn, message, version, timeout).await?;
        }
    }
    Ok(())
}

/// One SaslAuthenticate round trip; the broker's `auth_bytes`.
async fn authenticate(
    conn: &mut Connection,
    auth_bytes: Vec<u8>,
    version: i16,
    timeout: Duration,
) -> Result<Bytes, ClientError> {
    let response = conn
        .send(
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(auth_bytes)),
            version,
            timeout,
        )
        .await?;
    if response.error_code != 0 {
        let message = response
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("error code {}", response.error_code));
        return Err(refused(conn, message));
    }
    Ok(response.auth_bytes)
}

fn refused(conn: &Connection, message: String) -> ClientError {
    ClientError::Authentication {
        addr: conn.addr().to_string(),
        message,
    }
}
