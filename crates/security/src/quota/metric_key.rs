//! Which connections share one quota sensor.

use std::fmt;

/// The identity of a quota sensor: Kafka's quota metric tags `user` and `client-id`.
///
/// Connections whose quota resolves to the same key share one measured rate. A component is
/// `Some` when the entity that gave the quota has that type (named or `<default>`), and is then
/// the connection's own user or client id; so a `/users/alice` quota gives every client id of
/// alice one key `(alice, -)`, while `/clients/<default>` gives each client id its own key
/// `(-, client-id)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuotaMetricKey {
    /// The user principal's name (`alice` for `User:alice`).
    pub user: Option<String>,
    pub client_id: Option<String>,
}

impl QuotaMetricKey {
    pub fn new(user: Option<&str>, client_id: Option<&str>) -> QuotaMetricKey {
        QuotaMetricKey {
            user: user.map(str::to_string),
            client_id: client_id.map(str::to_string),
        }
    }
}

impl fmt::Display for QuotaMetricKey {
    /// Kafka's sensor suffix form: `user:client-id`, an absent tag empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.user.as_deref().unwrap_or(""),
            self.client_id.as_deref().unwrap_or("")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displayed_as_kafkas_tags() {
        assert_eq!(
            QuotaMetricKey::new(Some("alice"), None).to_string(),
            "alice:"
        );
        assert_eq!(QuotaMetricKey::new(None, Some("app")).to_string(), ":app");
    }
}
