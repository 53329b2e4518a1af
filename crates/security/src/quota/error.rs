//! Why a quota alteration or a DescribeClientQuotas filter was refused.
//!
//! Each variant maps to one Kafka error code ([`QuotaError::code`]); the message is the one the
//! client is sent in the response's `ErrorMessage`, worded as Kafka words it so that tools which
//! show it read the same.

use super::{INVALID_REQUEST, UNSUPPORTED_VERSION};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// INVALID_REQUEST (42): a malformed entity, an unknown or duplicate config key, a value
    /// out of range, a malformed filter.
    #[error("{0}")]
    InvalidRequest(String),
    /// UNSUPPORTED_VERSION (35): a DescribeClientQuotas filter on an entity type or with a
    /// match type this broker does not know (Kafka answers these with UNSUPPORTED_VERSION,
    /// as a type a newer client could send).
    #[error("{0}")]
    UnsupportedVersion(String),
}

impl QuotaError {
    pub(crate) fn invalid(message: impl Into<String>) -> QuotaError {
        QuotaError::InvalidRequest(message.into())
    }

    /// The Kafka error code that goes into the response.
    pub fn code(&self) -> i16 {
        match self {
            QuotaError::InvalidRequest(_) => INVALID_REQUEST,
            QuotaError::UnsupportedVersion(_) => UNSUPPORTED_VERSION,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        assert_eq!(QuotaError::invalid("x").code(), 42);
        assert_eq!(QuotaError::UnsupportedVersion("y".into()).code(), 35);
        assert_eq!(
            QuotaError::invalid("the message").to_string(),
            "the message"
        );
    }
}
