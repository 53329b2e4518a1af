//! The quota config keys, their units, and which entities carry them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{QuotaEntity, QuotaError};

/// A client-quota config key. The order is the order in which DescribeClientQuotas lists an
/// entity's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QuotaKey {
    /// Bytes per second a user/client group may append to this broker (KIP-13, KIP-55).
    #[serde(rename = "producer_byte_rate")]
    ProducerByteRate,
    /// Bytes per second a user/client group may fetch from this broker.
    #[serde(rename = "consumer_byte_rate")]
    ConsumerByteRate,
    /// Percentage of one request-handler thread's time over the quota window (KIP-124):
    /// 200 is two threads' worth.
    #[serde(rename = "request_percentage")]
    RequestPercentage,
    /// Partition mutations per second (topics and partitions created or deleted) the
    /// controller accepts from the group (KIP-599).
    #[serde(rename = "controller_mutation_rate")]
    ControllerMutationRate,
    /// New connections per second from one IP address (KIP-612). Only ip entities carry it;
    /// it is stored and described, not enforced yet.
    #[serde(rename = "connection_creation_rate")]
    ConnectionCreationRate,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 5] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
        QuotaKey::ControllerMutationRate,
        QuotaKey::ConnectionCreationRate,
    ];

    /// The config name on the wire and in `kafka-configs.sh`.
    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
            QuotaKey::ControllerMutationRate => "controller_mutation_rate",
            QuotaKey::ConnectionCreationRate => "connection_creation_rate",
        }
    }

    pub fn from_name(name: &str) -> Option<QuotaKey> {
        QuotaKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Kafka defines the byte rates as LONG and the connection rate as INT configs, so their
    /// values must be whole numbers; the other two are DOUBLE.
    fn whole_number_max(self) -> Option<f64> {
        match self {
            QuotaKey::ProducerByteRate | QuotaKey::ConsumerByteRate => Some(i64::MAX as f64),
            QuotaKey::ConnectionCreationRate => Some(f64::from(i32::MAX)),
            QuotaKey::RequestPercentage | QuotaKey::ControllerMutationRate => None,
        }
    }

    /// Whether `entity` may carry this key: ip entities carry `connection_creation_rate` only,
    /// user and client-id entities every other key (Kafka's `QuotaConfigs.ipConfigs()` and
    /// `userConfigs()`/`clientConfigs()`).
    pub fn applies_to(self, entity: &QuotaEntity) -> bool {
        entity.is_ip() == (self == QuotaKey::ConnectionCreationRate)
    }

    /// Checks a key and value of an AlterClientQuotas set operation for `entity`.
    ///
    /// An unknown key, or one the entity cannot carry, is "Invalid configuration key"; a value
    /// that is not a finite number above zero is refused (a zero or negative rate would make
    /// every request of the group wait forever); a whole-number key refuses a fraction.
    pub fn validate(entity: &QuotaEntity, key: &str, value: f64) -> Result<QuotaKey, QuotaError> {
        let quota_key = QuotaKey::from_name(key)
            .filter(|k| k.applies_to(entity))
            .ok_or_else(|| QuotaError::invalid(format!("Invalid configuration key {key}")))?;
        if !value.is_finite() || value <= 0.0 {
            return Err(QuotaError::invalid(format!(
                "Quota {key} must be greater than 0, not {value}"
            )));
        }
        if let Some(max) = quota_key.whole_number_max() {
            // Kafka's tolerance: within 1e-6 of a whole number is that number.
            if (value - value.round()).abs() > 1e-6 || value > max {
                let type_name = if quota_key == QuotaKey::ConnectionCreationRate {
                    "an Int"
                } else {
                    "a Long"
                };
                return Err(QuotaError::invalid(format!(
                    "Configuration {key} must be {type_name} value"
                )));
            }
        }
        Ok(quota_key)
    }
}

impl fmt::Display for QuotaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(entity: &QuotaEntity, key: &str, value: f64) -> String {
        match QuotaKey::validate(entity, key, value) {
            Err(QuotaError::InvalidRequest(m)) => m,
            other => panic!("{key}={value} gave {other:?}"),
        }
    }

    #[test]
    fn names_round_trip() {
        for key in QuotaKey::ALL {
            assert_eq!(QuotaKey::from_name(key.name()), Some(key));
            let json = serde_json::to_string(&key).expect("serialize");
            assert_eq!(json, format!("\"{}\"", key.name()));
        }
        assert_eq!(QuotaKey::from_name("producer-byte-rate"), None);
    }

    #[test]
    fn user_and_client_entities_take_the_four_client_keys() {
        let user = QuotaEntity::user(Some("alice"));
        for (key, value) in [
            ("producer_byte_rate", 1_048_576.0),
            ("consumer_byte_rate", 2_000_000.0),
            ("request_percentage", 12.5),
            ("controller_mutation_rate", 0.5),
        ] {
            assert!(QuotaKey::validate(&user, key, value).is_ok(), "{key}");
            assert!(QuotaKey::validate(&QuotaEntity::client_id(None), key, value).is_ok());
        }
        assert_eq!(
            message(&user, "connection_creation_rate", 10.0),
            "Invalid configuration key connection_creation_rate"
        );
        assert_eq!(
            message(&user, "retention.ms", 1.0),
            "Invalid configuration key retention.ms"
        );
    }

    #[test]
    fn ip_entities_take_only_the_connection_rate() {
        let ip = QuotaEntity::ip(None);
        assert_eq!(
            QuotaKey::validate(&ip, "connection_creation_rate", 10.0),
            Ok(QuotaKey::ConnectionCreationRate)
        );
        assert_eq!(
            message(&ip, "producer_byte_rate", 10.0),
            "Invalid configuration key producer_byte_rate"
        );
        assert_eq!(
            message(&ip, "connection_creation_rate", 1.5),
            "Configuration connection_creation_rate must be an Int value"
        );
    }

    #[test]
    fn values_must_be_positive_finite_and_whole_where_kafka_says_long() {
        let e = QuotaEntity::client_id(Some("app"));
        for bad in [0.0, -1.0, -0.0, f64::NAN, f64::INFINITY] {
            assert!(
                message(&e, "request_percentage", bad).starts_with("Quota request_percentage"),
                "{bad}"
            );
        }
        assert_eq!(
            message(&e, "producer_byte_rate", 1024.5),
            "Configuration producer_byte_rate must be a Long value"
        );
        assert_eq!(
            message(&e, "consumer_byte_rate", 1e30),
            "Configuration consumer_byte_rate must be a Long value"
        );
        assert!(QuotaKey::validate(&e, "producer_byte_rate", 1_024.000_000_1).is_ok());
        assert!(QuotaKey::validate(&e, "controller_mutation_rate", 0.1).is_ok());
    }
}
