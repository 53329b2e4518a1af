//! Why an ACL, a filter or an authorizer setting was refused, with the Kafka error code the
//! request handler answers with. This crate does not depend on the protocol crate, so the few
//! codes it needs are written here (values from Kafka's `Errors` enum).

/// `UNSUPPORTED_VERSION`: the request's version cannot carry what it asks for (a PREFIXED
/// pattern in a version 0 CreateAcls, DescribeAcls or DeleteAcls).
pub const UNSUPPORTED_VERSION: i16 = 35;
/// `INVALID_CONFIG`: a broker setting such as `super.users` cannot be read.
pub const INVALID_CONFIG: i16 = 40;
/// `INVALID_REQUEST`: a binding or filter that Kafka refuses (an ANY resource type in a
/// CreateAcls, an empty resource name, ...).
pub const INVALID_REQUEST: i16 = 42;

/// A refusal, carrying the message Kafka sends in the response's `error_message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    UnsupportedVersion(String),
    /// A broker setting (`super.users`): reported at startup, never sent to a client.
    #[error("{0}")]
    InvalidConfig(String),
}

impl AclError {
    /// The Kafka error code for the response.
    pub fn code(&self) -> i16 {
        match self {
            AclError::InvalidRequest(_) => INVALID_REQUEST,
            AclError::UnsupportedVersion(_) => UNSUPPORTED_VERSION,
            AclError::InvalidConfig(_) => INVALID_CONFIG,
        }
    }

    /// The message, as Kafka puts it in `error_message`.
    pub fn message(&self) -> &str {
        match self {
            AclError::InvalidRequest(message)
            | AclError::UnsupportedVersion(message)
            | AclError::InvalidConfig(message) => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        assert_eq!(AclError::InvalidRequest("x".into()).code(), 42);
        assert_eq!(AclError::UnsupportedVersion("x".into()).code(), 35);
        assert_eq!(AclError::InvalidConfig("x".into()).code(), 40);
        let error = AclError::InvalidRequest("Invalid empty resource name".into());
        assert_eq!(error.message(), "Invalid empty resource name");
        assert_eq!(error.to_string(), "Invalid empty resource name");
    }
}
