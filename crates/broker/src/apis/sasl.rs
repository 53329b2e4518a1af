//! SaslHandshake (v0-1) and SaslAuthenticate (v0-2), and the raw SASL frames that follow
//! SaslHandshake v0. The exchange itself lives in the connection's [`Session`].

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::audit::{AuditContext, AuditEvent, AuthenticationFailure};

use super::request::{RequestContext, ResponseFrame, Unparseable};
use super::session::{SaslOutcome, Session};
use crate::cluster::Cluster;

pub fn handshake(ctx: &RequestContext, r: SaslHandshakeRequest) -> SaslHandshakeResponse {
    let (error_code, mechanisms) = ctx.session.handshake(r.mechanism.as_str(), ctx.api_version);
    SaslHandshakeResponse::default()
        .with_error_code(error_code)
        .with_mechanisms(mechanisms.into_iter().map(StrBytes::from_string).collect())
}

pub async fn authenticate(
    cluster: &Cluster,
    ctx: &RequestContext,
    r: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    let response = SaslAuthenticateResponse::default();
    let mechanism = ctx.session.sasl_mechanism().unwrap_or_default();
    let outcome = ctx
        .session
        .authenticate(&r.auth_bytes, Some(&cluster.image()));
    match &outcome {
        Some(SaslOutcome::Done { .. }) => audit_login(ctx, &mechanism, Ok(())),
        Some(SaslOutcome::Failed { .. }) => audit_login(
            ctx,
            &mechanism,
            Err(if mechanism == "OAUTHBEARER" {
                AuthenticationFailure::TokenRejected
            } else {
                AuthenticationFailure::InvalidCredentials
            }),
        ),
        _ => {}
    }
    match outcome {
        None => response
            .with_error_code(ErrorCode::ILLEGAL_SASL_STATE.0)
            .with_error_message(Some(StrBytes::from_static_str(
                "SaslAuthenticate without a SaslHandshake choosing a mechanism",
            ))),
        Some(SaslOutcome::Challenge(bytes)) => response.with_auth_bytes(Bytes::from(bytes)),
        Some(SaslOutcome::Done {
            message,
            session_lifetime_ms,
        }) => response
            .with_auth_bytes(Bytes::from(message))
            .with_session_lifetime_ms(session_lifetime_ms),
        Some(SaslOutcome::Failed { message, delay }) => {
            tokio::time::sleep(delay).await;
            response
                .with_error_code(ErrorCode::SASL_AUTHENTICATION_FAILED.0)
                .with_error_message(Some(StrBytes::from_string(message)))
        }
    }
}

/// A raw SASL message after SaslHandshake v0: the answer goes back as a raw size-prefixed
/// frame; a failure closes the connection (the v0 protocol has no way to say why).
pub async fn raw_message(
    cluster: &Cluster,
    session: &Arc<Session>,
    frame: &Bytes,
) -> Result<Option<ResponseFrame>, Unparseable> {
    let message = match session.authenticate(frame, Some(&cluster.image())) {
        None => return Err(Unparseable("a SASL message outside an exchange".into())),
        Some(SaslOutcome::Challenge(bytes)) => bytes,
        Some(SaslOutcome::Done { message, .. }) => message,
        Some(SaslOutcome::Failed { delay, .. }) => {
            tokio::time::sleep(delay).await;
            return Err(Unparseable("SASL authentication failed".into()));
        }
    };
    let mut out = BytesMut::with_capacity(4 + message.len());
    out.put_u32(message.len() as u32);
    out.put_slice(&message);
    Ok(Some(ResponseFrame::One(out.freeze())))
}

/// Records the end of a login in the audit log (a failure always, a success as
/// `audit.log.allowed` says: it counts as a security event).
fn audit_login(ctx: &RequestContext, mechanism: &str, outcome: Result<(), AuthenticationFailure>) {
    let audit = ctx.session.listener.authorization.audit();
    if !audit.should_record(outcome.is_ok(), true) {
        return;
    }
    let principal = ctx.principal();
    let context = AuditContext {
        principal: &principal,
        client_address: ctx.session.peer,
        listener: ctx.listener(),
        api: "SaslAuthenticate",
        api_version: ctx.api_version,
        correlation_id: Some(ctx.correlation_id),
        client_id: ctx.client_id.as_deref(),
    };
    audit.record(AuditEvent::authentication(
        std::time::SystemTime::now(),
        &context,
        mechanism,
        outcome,
    ));
}
