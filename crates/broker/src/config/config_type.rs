//! What a config value may be: Kafka's value types (as DescribeConfigs numbers them), the
//! checks a key's values must pass, and where a reported value came from. Shared by the broker
//! keys and the topic keys.

/// Kafka's config value types, as numbered in DescribeConfigs v3+ (`config_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
    /// A class name (Kafka's plug-in points; Sluice accepts the names of Kafka's own).
    Class = 8,
    /// A secret: never reported by DescribeConfigs, never logged.
    Password = 9,
}

/// Where a reported config value came from (DescribeConfigs `config_source`, Kafka's
/// numbering), in order of precedence: a topic's own value, this broker's dynamic value, the
/// cluster-wide dynamic default, server.properties (or `--set`), Kafka's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConfigSource {
    TopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

/// The accepted values of a key.
#[derive(Clone, Copy)]
pub enum Check {
    /// An integer at least this large.
    AtLeast(i64),
    /// A number between 0 and 1.
    Ratio,
    /// One of these values (for lists: each element is one of them).
    OneOf(&'static [&'static str]),
    Bool,
    /// A replication throttle list (`leader.replication.throttled.replicas`): `*`, or
    /// `partition:broker` pairs separated by commas, or nothing.
    ThrottledReplicas,
}

/// Any value of the key's type.
pub const ANY: Check = Check::AtLeast(i64::MIN);

/// Checks `value` for key `name` of type `kind`; the error is the message Kafka users see
/// (INVALID_CONFIG for topic keys, a startup error for broker keys).
pub fn check_value(name: &str, kind: ConfigType, check: Check, value: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "Invalid value {value} for configuration {name}: {why}"
        ))
    };
    match kind {
        ConfigType::Int | ConfigType::Long => {
            let parsed = if kind == ConfigType::Int {
                value.trim().parse::<i32>().map(i64::from).ok()
            } else {
                value.trim().parse::<i64>().ok()
            };
            let Some(v) = parsed else {
                return bad(if kind == ConfigType::Int {
                    "Not a number of type INT"
                } else {
                    "Not a number of type LONG"
                });
            };
            if let Check::AtLeast(min) = check {
                if v < min {
                    return bad(&format!("Value must be at least {min}"));
                }
            }
        }
        ConfigType::Double => {
            let Ok(v) = value.trim().parse::<f64>() else {
                return bad("Not a number of type DOUBLE");
            };
            if matches!(check, Check::Ratio) && !(0.0..=1.0).contains(&v) {
                return bad("Value must be between 0 and 1");
            }
        }
        ConfigType::Boolean => {
            if !value.trim().eq_ignore_ascii_case("true")
                && !value.trim().eq_ignore_ascii_case("false")
            {
                return bad("Expected value to be either true or false");
            }
        }
        ConfigType::Class | ConfigType::Password => {}
        ConfigType::List if matches!(check, Check::ThrottledReplicas) => {
            if !is_throttled_replica_list(value) {
                return bad(
                    "must be the literal '*' or a list of replicas in the following format: \
                     [partitionId]:[brokerId],[partitionId]:[brokerId],...",
                );
            }
        }
        ConfigType::String | ConfigType::List => {
            if let Check::OneOf(allowed) = check {
                let items: Vec<&str> = if kind == ConfigType::List {
                    value.split(',').map(str::trim).collect()
                } else {
                    vec![value.trim()]
                };
                for item in items {
                    if !allowed.contains(&item) {
                        return bad(&format!("String must be one of: {}", allowed.join(", ")));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether `value` is a replication throttle list Kafka accepts: empty, the literal `*`, or
/// `partition:broker` pairs of non-negative integers separated by commas (spaces around them
/// allowed).
pub fn is_throttled_replica_list(value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() || value == "*" {
        return true;
    }
    value.split(',').all(|pair| {
        let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        matches!(pair.trim().split_once(':'), Some((p, b)) if number(p) && number(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_replica_lists_follow_kafka_rules() {
        for good in ["", "*", " * ", "0:1", "0:1,1:2", "0:1, 1:2", "12:104"] {
            assert!(is_throttled_replica_list(good), "{good:?}");
            check_value(
                "leader.replication.throttled.replicas",
                ConfigType::List,
                Check::ThrottledReplicas,
                good,
            )
            .expect("accepted");
        }
        for bad in ["*,0:1", "0", "0:", ":1", "a:1", "0:1:2", "-1:1", "0:1,"] {
            assert!(!is_throttled_replica_list(bad), "{bad:?}");
        }
        let e = check_value(
            "follower.replication.throttled.replicas",
            ConfigType::List,
            Check::ThrottledReplicas,
            "0-1",
        )
        .expect_err("refused");
        assert_eq!(
            e,
            "Invalid value 0-1 for configuration follower.replication.throttled.replicas: must \
             be the literal '*' or a list of replicas in the following format: \
             [partitionId]:[brokerId],[partitionId]:[brokerId],..."
        );
    }
}
