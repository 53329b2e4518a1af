//! The middleware in front of every `/api/v1` route (and its 404 fallback), run before
//! routing so that a refused write never reaches a handler:
//!
//! - **CSRF**: a state-changing request (any method but `GET`, `HEAD`, `OPTIONS`), except
//!   the login (`POST /session`), must carry `X-CSRF-Token`. With a live session cookie it
//!   must equal that session's token (compared in constant time); without one (HTTP Basic
//!   scripts, an unauthenticated cluster, an ended session) any non-empty value will do: a
//!   cross-site form cannot set the header, and a cross-site script cannot send it without a
//!   CORS preflight, which the API does not grant. Otherwise 403.
//! - **Read-only**: with `console.read.only=true` every state-changing request but the
//!   session's (logging in and out changes nothing in the cluster) answers 403.
//! - A request marked `X-Requested-With` (the console's) gets no `WWW-Authenticate` on a 401,
//!   so the browser shows the console's login form instead of its own password dialog.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sluice_security::constant_time_eq;

use super::session::cookie_token;
use super::ApiError;
use crate::AdminState;

/// The header a state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware (see the module's doc). `request.uri()` is relative to `/api/v1`.
pub async fn guard(State(state): State<Arc<AdminState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let session_path = path == "/session" || path == "/session/";
    if changes_state(request.method()) {
        let is_login = request.method() == Method::POST && session_path;
        if !is_login {
            if let Err(refused) = check_csrf(&state, &request) {
                return refused.into_response();
            }
        }
        if state.read_only() && !session_path {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                None,
                "this console is read-only (console.read.only=true): no change is allowed",
            )
            .into_response();
        }
    }
    let console = request.headers().contains_key("x-requested-with");
    let mut response = next.run(request).await;
    if console {
        response.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    response
}

fn check_csrf(state: &AdminState, request: &Request) -> Result<(), ApiError> {
    let given = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if given.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            None,
            "a state-changing request must carry the header X-CSRF-Token (the session's csrf_token from GET /api/v1/session; any non-empty value without a session cookie)",
        ));
    }
    let session = cookie_token(request.headers()).and_then(|t| state.sessions.get(t));
    if let Some(session) = session {
        if !constant_time_eq(given.as_bytes(), session.csrf_token.as_bytes()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                None,
                "X-CSRF-Token is not this session's csrf_token (see GET /api/v1/session)",
            ));
        }
    }
    Ok(())
}
