//! Why the audit log cannot start. Both are startup errors: once running, the audit log reports
//! disk errors through `tracing` and keeps going, since the requests it audits must not fail
//! because of it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An `audit.*` setting cannot be read; the message is worded as Kafka's `ConfigException`.
    #[error("{0}")]
    InvalidConfig(String),
    /// The directory or the file cannot be created or opened, or the writer thread not started.
    #[error("audit log {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl AuditError {
    /// Kafka's wording for a value a setting does not take.
    pub(super) fn invalid_value(key: &str, value: impl std::fmt::Display, why: &str) -> AuditError {
        AuditError::InvalidConfig(format!(
            "Invalid value {value} for configuration {key}: {why}"
        ))
    }
}
