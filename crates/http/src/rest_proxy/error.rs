//! Confluent's error bodies: `{"error_code": <code>, "message": "..."}`.
//!
//! v2 codes are five digits, the HTTP status then a sub-code (40401 topic not found, 40402
//! partition not found, 40403 consumer instance not found, 40601 format mismatch, 40901/40902
//! subscription conflicts, 40903 illegal state, 42201 a body that cannot be read, 42204 an
//! invalid consumer config, 50002 a Kafka error, 50003 a retriable Kafka error). v3 answers
//! the HTTP status itself as `error_code`, with a status of its own for Kafka errors (403 for
//! an authorization failure, 400 for an invalid request, ...): every error carries both, and
//! the `/v3` routes' layer ([`v3_errors`]) rewrites the v2 body into v3's.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sluice_client::wire::{error_name, RequestError};

use crate::api::ApiError;

#[derive(Debug, Clone)]
pub struct RestError {
    /// v2's five-digit code (the v2 status is its first three digits), or a bare status.
    pub code: u32,
    /// The status (and `error_code`) a v3 endpoint answers.
    pub v3_status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error_code: u32,
    message: &'a str,
}

/// Kafka's retriable errors the REST proxy may meet (50003 rather than 50002 in v2).
fn retriable(code: i16) -> bool {
    matches!(code, 5 | 6 | 7 | 13 | 14 | 15 | 16 | 19 | 20 | 41 | 89)
}

impl RestError {
    pub fn new(code: u32, v3_status: StatusCode, message: impl Into<String>) -> Self {
        RestError {
            code,
            v3_status,
            message: message.into(),
        }
    }

    /// The v2 HTTP status.
    pub fn status(&self) -> StatusCode {
        let status = if self.code < 1000 {
            self.code
        } else {
            self.code / 100
        };
        StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn topic_not_found(topic: &str) -> Self {
        RestError::new(
            40401,
            StatusCode::NOT_FOUND,
            format!("Topic not found. (topic '{topic}' does not exist)"),
        )
    }

    pub fn partition_not_found(topic: &str, partition: i32) -> Self {
        RestError::new(
            40402,
            StatusCode::NOT_FOUND,
            format!("Partition not found. (topic '{topic}' has no partition {partition})"),
        )
    }

    pub fn instance_not_found() -> Self {
        RestError::new(40403, StatusCode::NOT_FOUND, "Consumer instance not found.")
    }

    /// 422 (42201): the request body is not what the endpoint reads.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        RestError::new(42201, StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 415: the request's content type is not one the endpoint takes.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        RestError::new(415, StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// 406 (40601): the embedded format asked for is not the consumer instance's.
    pub fn format_mismatch(message: impl Into<String>) -> Self {
        RestError::new(
            40601,
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "The requested embedded data format does not match the deserializer for this consumer instance: {}",
                message.into()
            ),
        )
    }

    /// 409 (40901): subscribing an instance that has an assignment, or the reverse.
    pub fn already_subscribed(message: impl Into<String>) -> Self {
        RestError::new(40901, StatusCode::CONFLICT, message)
    }

    /// 409 (40902): a consumer instance of that name exists in the group.
    pub fn instance_exists() -> Self {
        RestError::new(
            40902,
            StatusCode::CONFLICT,
            "Consumer with specified consumer ID already exists in the specified consumer group.",
        )
    }

    /// 409 (40903): the instance cannot do that now (seek a partition it is not assigned).
    pub fn illegal_state(message: impl Into<String>) -> Self {
        RestError::new(
            40903,
            StatusCode::CONFLICT,
            format!("Illegal state: {}", message.into()),
        )
    }

    /// 422 (42204): an invalid consumer instance config.
    pub fn invalid_consumer_config(message: impl Into<String>) -> Self {
        RestError::new(
            42204,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Invalid consumer configuration: {}", message.into()),
        )
    }

    /// A Kafka error code the cluster answered, with its text.
    pub fn kafka(code: i16, text: &str) -> Self {
        let v3_status = ApiError::status_of(code);
        let v2 = match v3_status {
            StatusCode::FORBIDDEN => 40301,
            StatusCode::UNAUTHORIZED => 40101,
            _ if code == 3 => 40401,
            _ if retriable(code) => 50003,
            _ => 50002,
        };
        let message = if text.contains(&error_name(code)) {
            text.to_string()
        } else {
            format!("{}: {text}", error_name(code))
        };
        RestError::new(v2, v3_status, message)
    }

    /// v2's per-record error code of a Kafka error (produce answers).
    pub fn record_code(code: i16) -> u32 {
        if retriable(code) {
            50003
        } else {
            50002
        }
    }
}

impl From<RequestError> for RestError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::Broker { code, text } => RestError::kafka(code, &text),
            other => RestError::from(ApiError::from(other)),
        }
    }
}

impl From<ApiError> for RestError {
    fn from(error: ApiError) -> Self {
        if let Some(code) = error.error_code {
            return RestError::kafka(code, &error.message);
        }
        let status = error.status;
        let code = match status {
            StatusCode::UNAUTHORIZED => 40101,
            StatusCode::FORBIDDEN => 40301,
            StatusCode::NOT_FOUND => 40400,
            StatusCode::SERVICE_UNAVAILABLE => 50301,
            StatusCode::BAD_REQUEST => 42201,
            _ => 50002,
        };
        RestError::new(code, status, error.message)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            axum::Json(Body {
                error_code: self.code,
                message: &self.message,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED || self.v3_status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"sluice\", charset=\"UTF-8\""),
            );
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The `/v3` routes' layer: an error answered as v2's body becomes v3's (`error_code` the
/// HTTP status).
pub async fn v3_errors(mut response: Response) -> Response {
    let Some(error) = response.extensions_mut().remove::<RestError>() else {
        return response;
    };
    let status = error.v3_status;
    let mut rewritten = (
        status,
        axum::Json(Body {
            error_code: u32::from(status.as_u16()),
            message: &error.message,
        }),
    )
        .into_response();
    if let Some(challenge) = response.headers().get(header::WWW_AUTHENTICATE) {
        rewritten
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge.clone());
    }
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_get_confluents_codes() {
        let e = RestError::kafka(29, "TOPIC_AUTHORIZATION_FAILED");
        assert_eq!(
            (e.code, e.status(), e.v3_status),
            (40301, StatusCode::FORBIDDEN, StatusCode::FORBIDDEN)
        );
        let e = RestError::kafka(3, "gone");
        assert_eq!((e.code, e.v3_status), (40401, StatusCode::NOT_FOUND));
        assert!(
            e.message.starts_with("UNKNOWN_TOPIC_OR_PARTITION"),
            "{}",
            e.message
        );
        let e = RestError::kafka(6, "moved");
        assert_eq!(
            (e.code, e.status(), e.v3_status),
            (
                50003,
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::SERVICE_UNAVAILABLE
            )
        );
        let e = RestError::kafka(87, "INVALID_RECORD: no");
        assert_eq!((e.code, e.v3_status), (50002, StatusCode::BAD_REQUEST));
        assert_eq!(RestError::record_code(19), 50003);
        assert_eq!(RestError::record_code(10), 50002);
    }

    #[test]
    fn bare_statuses_and_five_digit_codes() {
        assert_eq!(
            RestError::unsupported_media_type("x").status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            RestError::instance_not_found().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            RestError::format_mismatch("x").status(),
            StatusCode::NOT_ACCEPTABLE
        );
        let e = RestError::from(ApiError::unauthorized("who?"));
        assert_eq!((e.code, e.status()), (40101, StatusCode::UNAUTHORIZED));
        let e = RestError::from(ApiError::unavailable("starting"));
        assert_eq!(
            (e.code, e.status()),
            (50301, StatusCode::SERVICE_UNAVAILABLE)
        );
    }
}
