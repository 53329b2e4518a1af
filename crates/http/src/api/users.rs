//! `/api/v1/users`: SCRAM users (KIP-554) with the CLI's requests ([`sluice_client::user`],
//! as `sluice user list|create|delete`).
//!
//! Creating a user salts and hashes the password here, on the API's side of the Kafka
//! connection, as `sluice user create` does on the client's: a random 32-byte salt and
//! PBKDF2 with the mechanism's hash; only the salt and the salted password travel in the
//! AlterUserScramCredentials upsertion. The password is never logged; the body's type has no
//! `Debug`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialDeletion;
use kafka_protocol::protocol::StrBytes;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_client::user::{self, RESOURCE_NOT_FOUND};
use sluice_client::wire::ClusterClient;
use sluice_security::ScramMechanism;

use super::access::Caller;
use super::{deadline, json_body, query_params, ApiError};

const DEFAULT_ITERATIONS: u32 = 4096;

/// The body of `POST /users` (no `Debug`: it holds the password).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    user: String,
    password: String,
    mechanism: Option<String>,
    iterations: Option<u32>,
}

fn mechanism(text: &str) -> Result<ScramMechanism, ApiError> {
    ScramMechanism::from_name(text.trim()).ok_or_else(|| {
        ApiError::bad_request(format!(
            "mechanism '{text}' is not a SCRAM mechanism: SCRAM-SHA-256 or SCRAM-SHA-512"
        ))
    })
}

/// The users and their credentials (`users`: these only; all when empty). A user named
/// without credentials is left out.
async fn users_json(client: &mut ClusterClient, users: &[String]) -> Result<Vec<Value>, ApiError> {
    let response = user::describe(client, users, deadline()).await?;
    let mut found: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for result in &response.results {
        if result.error_code == RESOURCE_NOT_FOUND {
            continue;
        }
        let credentials = found.entry(result.user.to_string()).or_default();
        for info in &result.credential_infos {
            let mechanism = ScramMechanism::from_type_number(info.mechanism)
                .map_or_else(|| format!("UNKNOWN({})", info.mechanism), |m| m.to_string());
            credentials.push(json!({ "mechanism": mechanism, "iterations": info.iterations }));
        }
    }
    Ok(found
        .into_iter()
        .map(|(user, credentials)| json!({ "user": user, "credentials": credentials }))
        .collect())
}

/// `GET /users`: every SCRAM user with the mechanisms and iterations of their credentials.
pub async fn list(mut caller: Caller) -> Result<Json<Value>, ApiError> {
    let result = users_json(&mut caller, &[]).await;
    caller
        .check(result)
        .map(|users| Json(json!({ "users": users })))
}

/// `POST /users`: creates the user's credential for the mechanism, or replaces it; 201 with
/// the user as `GET /users` lists it.
pub async fn create(mut caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    let result: Result<Response, ApiError> = async {
        let body: CreateBody = json_body(&body)?;
        let name = body.user.trim().to_string();
        if name.is_empty() {
            return Err(ApiError::bad_request("the user name is empty"));
        }
        let password = body.password;
        if password.is_empty() {
            return Err(ApiError::bad_request("the password is empty"));
        }
        let mechanism = match &body.mechanism {
            Some(m) => mechanism(m)?,
            None => ScramMechanism::Sha256,
        };
        let iterations = body.iterations.unwrap_or(DEFAULT_ITERATIONS);
        let (min, max) = (mechanism.min_iterations(), mechanism.max_iterations());
        if !(min..=max).contains(&iterations) {
            return Err(ApiError::bad_request(format!(
                "iterations {iterations}: SCRAM takes {min} to {max}"
            )));
        }
        // PBKDF2 is CPU work: off the runtime's threads.
        let user_name = name.clone();
        let upsertion = tokio::task::spawn_blocking(move || {
            user::upsertion(&user_name, mechanism, &password, iterations)
        })
        .await
        .map_err(|e| ApiError::unavailable(format!("salting the password failed: {e}")))?
        .map_err(|e| ApiError::unavailable(format!("salting the password failed: {e}")))?;
        user::alter(&mut caller, Vec::new(), vec![upsertion], deadline()).await?;
        let shown = users_json(&mut caller, std::slice::from_ref(&name)).await?;
        let user = shown
            .into_iter()
            .next()
            .unwrap_or_else(|| json!({ "user": name, "credentials": [] }));
        Ok((StatusCode::CREATED, Json(user)).into_response())
    }
    .await;
    caller.check(result)
}

/// `DELETE /users/{user}?mechanism=`: deletes the user's credential of that mechanism, or all
/// of them; 204. 404 (`RESOURCE_NOT_FOUND`) when the user has none.
pub async fn delete(
    mut caller: Caller,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let result: Result<Response, ApiError> = async {
        let params = query_params(query.as_deref())?;
        if let Some(other) = params.keys().find(|k| k.as_str() != "mechanism") {
            return Err(ApiError::bad_request(format!(
                "unknown query parameter '{other}' (mechanism)"
            )));
        }
        let mechanisms: Vec<ScramMechanism> = match params.get("mechanism") {
            Some(m) => vec![mechanism(m)?],
            None => {
                let response =
                    user::describe(&mut caller, std::slice::from_ref(&name), deadline()).await?;
                response
                    .results
                    .iter()
                    .flat_map(|r| &r.credential_infos)
                    .filter_map(|c| ScramMechanism::from_type_number(c.mechanism))
                    .collect()
            }
        };
        if mechanisms.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                Some(RESOURCE_NOT_FOUND),
                format!("user '{name}' has no SCRAM credentials"),
            ));
        }
        let deletions = mechanisms
            .iter()
            .map(|m| {
                ScramCredentialDeletion::default()
                    .with_name(StrBytes::from_string(name.clone()))
                    .with_mechanism(m.type_number())
            })
            .collect();
        user::alter(&mut caller, deletions, Vec::new(), deadline()).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    caller.check(result)
}
