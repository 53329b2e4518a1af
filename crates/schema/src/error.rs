//! [`RegistryError`]: what a registry request can fail with, with Confluent's error codes
//! (`error_code` in the JSON body) and HTTP statuses.

use sluice_protocol::error::ErrorCode;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {1} not found for subject '{0}'.")]
    VersionNotFound(String, String),
    #[error("Schema {0} not found")]
    SchemaNotFound(String),
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{0}' Version {1} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, i32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, i32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotConfigured(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{0}\", details: {1:?}")]
    Incompatible(String, Vec<String>),
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    #[error("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel,
    #[error("Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT")]
    InvalidMode,
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={0},version={1}}}.")]
    ReferenceExists(String, i32),
    #[error("Schema registry store error: {0}")]
    Store(String),
    #[error("Register operation timed out")]
    Timeout,
    #[error("Error while forwarding the request to the registry's writer: {0}")]
    Forwarding(String),
    #[error("The registry's writer is not available: {0}")]
    UnknownLeader(String),
    /// A request that is not JSON, or not the JSON asked for (HTTP 400, as Confluent).
    #[error("{0}")]
    BadRequest(String),
}

impl RegistryError {
    /// Confluent's `error_code`.
    pub fn error_code(&self) -> i32 {
        match self {
            RegistryError::SubjectNotFound(_) => 40401,
            RegistryError::VersionNotFound(..) => 40402,
            RegistryError::SchemaNotFound(_) => 40403,
            RegistryError::SubjectSoftDeleted(_) => 40404,
            RegistryError::SubjectNotSoftDeleted(_) => 40405,
            RegistryError::VersionSoftDeleted(..) => 40406,
            RegistryError::VersionNotSoftDeleted(..) => 40407,
            RegistryError::SubjectCompatibilityNotConfigured(_) => 40408,
            RegistryError::SubjectModeNotConfigured(_) => 40409,
            RegistryError::Incompatible(..) => 409,
            RegistryError::InvalidSchema(_) => 42201,
            RegistryError::InvalidVersion(_) => 42202,
            RegistryError::InvalidCompatibilityLevel => 42203,
            RegistryError::InvalidMode => 42204,
            RegistryError::OperationNotPermitted(_) => 42205,
            RegistryError::ReferenceExists(..) => 42206,
            RegistryError::Store(_) => 50001,
            RegistryError::Timeout => 50002,
            RegistryError::Forwarding(_) => 50003,
            RegistryError::UnknownLeader(_) => 50004,
            RegistryError::BadRequest(_) => 400,
        }
    }

    /// The HTTP status: the first three digits of the error code.
    pub fn http_status(&self) -> u16 {
        let code = self.error_code();
        if code < 1000 {
            code as u16
        } else {
            (code / 100) as u16
        }
    }

    /// A failed `_schemas` write, by the Kafka error it failed with.
    pub fn from_kafka(code: ErrorCode) -> RegistryError {
        match code {
            ErrorCode::REQUEST_TIMED_OUT => RegistryError::Timeout,
            ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::NOT_LEADER_OR_FOLLOWER => RegistryError::UnknownLeader(format!(
                "this node no longer writes the registry ({})",
                code.name()
            )),
            code => RegistryError::Store(format!("the _schemas write failed: {}", code.name())),
        }
    }
}
