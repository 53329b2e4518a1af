//! [`AdminError`]: why a topic change or a replica's files failed, as the request handler
//! answers it.

use sluice_log::LogError;
use sluice_protocol::error::ErrorCode;

/// An admin operation that failed, with Kafka's code and message.
#[derive(Debug, Clone)]
pub struct AdminError {
    pub code: ErrorCode,
    pub message: String,
}

impl AdminError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AdminError {
        AdminError {
            code,
            message: message.into(),
        }
    }
}

impl From<std::io::Error> for AdminError {
    fn from(e: std::io::Error) -> AdminError {
        AdminError::new(ErrorCode::KAFKA_STORAGE_ERROR, e.to_string())
    }
}

impl From<LogError> for AdminError {
    fn from(e: LogError) -> AdminError {
        AdminError::new(ErrorCode::KAFKA_STORAGE_ERROR, e.to_string())
    }
}
