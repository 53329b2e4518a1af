//! Compatibility levels (Confluent's names) and the check a new schema passes before it is
//! registered under a subject.
//!
//! BACKWARD: the new schema reads data written with the previous one (consumers upgrade
//! first); FORWARD: the previous schema reads data written with the new one (producers upgrade
//! first); FULL: both. The plain levels compare with the latest version only, the `_TRANSITIVE`
//! ones with every version the subject has (soft-deleted versions excluded, as Confluent).

use crate::format::ParsedSchema;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompatibilityLevel {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    /// Confluent's upper-case name, any case accepted.
    pub fn from_name(name: &str) -> Option<CompatibilityLevel> {
        Some(match name.to_ascii_uppercase().as_str() {
            "NONE" => CompatibilityLevel::None,
            "BACKWARD" => CompatibilityLevel::Backward,
            "BACKWARD_TRANSITIVE" => CompatibilityLevel::BackwardTransitive,
            "FORWARD" => CompatibilityLevel::Forward,
            "FORWARD_TRANSITIVE" => CompatibilityLevel::ForwardTransitive,
            "FULL" => CompatibilityLevel::Full,
            "FULL_TRANSITIVE" => CompatibilityLevel::FullTransitive,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

/// What keeps `new` from being registered after `previous` (the subject's live versions,
/// oldest first) under `level`; empty when it may be.
pub fn check(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    previous: &[(i32, ParsedSchema)],
) -> Vec<String> {
    let compared: &[(i32, ParsedSchema)] = if level.transitive() {
        previous
    } else {
        match previous.last() {
            Some(_) => &previous[previous.len() - 1..],
            None => &[],
        }
    };
    let mut problems = Vec::new();
    for (version, old) in compared {
        if level.backward() {
            for p in new.can_read(old) {
                problems.push(format!(
                    "the new schema cannot read data written with version {version}: {p}"
                ));
            }
        }
        if level.forward() {
            for p in old.can_read(new) {
                problems.push(format!(
                    "version {version} cannot read data written with the new schema: {p}"
                ));
            }
        }
    }
    problems
}
