//! A password or key that never reaches a log: its `Debug` and `Display` print a placeholder,
//! and comparing two of them takes the same time whatever they hold.

use subtle::ConstantTimeEq;

/// Secret bytes (a password from a JAAS config, a derived key).
#[derive(Clone, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// The secret itself, for the one place that uses it (a key derivation, a comparison).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether `other` holds the same bytes, in time that depends on the lengths only.
    pub fn matches(&self, other: &[u8]) -> bool {
        constant_time_eq(&self.0, other)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for Secret {}

/// `a == b` in time independent of where they differ (lengths are not secret: a proof or key
/// has its mechanism's length, and a password's length leaks through the network anyway).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed_and_compared_by_content() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert!(s.matches(b"hunter2"));
        assert!(!s.matches(b"hunter3"));
        assert!(!s.matches(b"hunter"));
        assert_eq!(s, Secret::new("hunter2"));
        assert_ne!(s, Secret::new("other"));
    }
}
