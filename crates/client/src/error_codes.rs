//! Kafka's error codes as the commands print them: "Broker: Topic already exists
//! (TOPIC_ALREADY_EXISTS)", a description and Kafka's name (from the protocol guide's error
//! table, through `kafka-protocol`'s list of codes). The description is the name in words,
//! except where a shorter or clearer phrase reads better.

use kafka_protocol::ResponseError;

/// Kafka's name for an error code (`TOPIC_ALREADY_EXISTS`), `NONE` for 0, `None` for a code
/// Kafka does not define.
pub fn code_name(code: i16) -> Option<String> {
    match ResponseError::try_from_code(code) {
        None => Some("NONE".to_string()),
        Some(ResponseError::Unknown(_)) => None,
        Some(known) => Some(upper_snake_case(&known.to_string())),
    }
}

/// "Broker: description (NAME)" for a code, the form every command prints; "error code N" for
/// one Kafka does not define.
pub fn code_text(code: i16) -> String {
    match code_name(code) {
        Some(name) => format!("Broker: {} ({name})", description(code, &name)),
        None => format!("error code {code}"),
    }
}

/// Whether Kafka marks the error retriable: asking again (after refreshing metadata or finding
/// the coordinator again) may succeed.
pub fn is_retriable(code: i16) -> bool {
    ResponseError::try_from_code(code).is_some_and(|e| e.is_retriable())
}

fn description(code: i16, name: &str) -> String {
    let phrase = match code {
        -1 => "Unknown broker error",
        0 => "Success",
        2 => "Corrupt message",
        6 => "Not leader for partition",
        10 => "Message size too large",
        18 => "Record batch too large",
        35 => "API version not supported",
        37 => "Invalid number of partitions",
        41 => "Not controller for cluster",
        80 => "Preferred leader was not available",
        84 => "Leader election not needed",
        87 => "Invalid record",
        _ => "",
    };
    if !phrase.is_empty() {
        return phrase.to_string();
    }
    // UNKNOWN_TOPIC_OR_PARTITION -> "Unknown topic or partition"
    let words = name.to_ascii_lowercase().replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => words,
    }
}

/// `TopicAlreadyExists` -> `TOPIC_ALREADY_EXISTS`, `UnsupportedSASLMechanism` ->
/// `UNSUPPORTED_SASL_MECHANISM`.
pub fn upper_snake_case(camel: &str) -> String {
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(code_name(36).as_deref(), Some("TOPIC_ALREADY_EXISTS"));
        assert_eq!(code_name(3).as_deref(), Some("UNKNOWN_TOPIC_OR_PARTITION"));
        assert_eq!(code_name(6).as_deref(), Some("NOT_LEADER_OR_FOLLOWER"));
        assert_eq!(code_name(33).as_deref(), Some("UNSUPPORTED_SASL_MECHANISM"));
        assert_eq!(
            code_name(105).as_deref(),
            Some("TRANSACTIONAL_ID_NOT_FOUND")
        );
        assert_eq!(code_name(-1).as_deref(), Some("UNKNOWN_SERVER_ERROR"));
        assert_eq!(code_name(0).as_deref(), Some("NONE"));
        assert_eq!(code_name(9999), None);
        assert_eq!(
            upper_snake_case("UnsupportedSASLMechanism"),
            "UNSUPPORTED_SASL_MECHANISM"
        );
    }

    #[test]
    fn texts_have_a_description_and_the_name() {
        assert_eq!(
            code_text(36),
            "Broker: Topic already exists (TOPIC_ALREADY_EXISTS)"
        );
        assert_eq!(
            code_text(15),
            "Broker: Coordinator not available (COORDINATOR_NOT_AVAILABLE)"
        );
        assert_eq!(code_text(16), "Broker: Not coordinator (NOT_COORDINATOR)");
        assert_eq!(
            code_text(5),
            "Broker: Leader not available (LEADER_NOT_AVAILABLE)"
        );
        assert_eq!(
            code_text(38),
            "Broker: Invalid replication factor (INVALID_REPLICATION_FACTOR)"
        );
        assert_eq!(
            code_text(37),
            "Broker: Invalid number of partitions (INVALID_PARTITIONS)"
        );
        assert_eq!(
            code_text(6),
            "Broker: Not leader for partition (NOT_LEADER_OR_FOLLOWER)"
        );
        assert_eq!(
            code_text(105),
            "Broker: Transactional id not found (TRANSACTIONAL_ID_NOT_FOUND)"
        );
        assert_eq!(code_text(9999), "error code 9999");
    }

    #[test]
    fn retriable_codes_are_kafkas() {
        assert!(is_retriable(6));
        assert!(is_retriable(14));
        assert!(is_retriable(16));
        assert!(!is_retriable(36));
        assert!(!is_retriable(0));
        assert!(!is_retriable(9999));
    }
}
