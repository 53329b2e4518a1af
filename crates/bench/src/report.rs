//! The one-line JSON result of a benchmark, with its keys in the order they were added (`kind`
//! first), which serde_json's default sorted map would not keep.

use serde_json::Value;

#[derive(Debug, Default)]
pub struct Report {
    fields: Vec<(&'static str, Value)>,
}

impl Report {
    pub fn new(kind: &str) -> Report {
        let mut report = Report::default();
        report.push("kind", kind);
        report
    }

    pub fn push(&mut self, key: &'static str, value: impl Into<Value>) {
        self.fields.push((key, value.into()));
    }

    /// `{"kind":"produce","records":1,...}` on one line.
    pub fn to_json(&self) -> String {
        let body: Vec<String> = self
            .fields
            .iter()
            .map(|(key, value)| format!("{}:{value}", Value::from(*key)))
            .collect();
        format!("{{{}}}", body.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order_and_values_are_json() {
        let mut report = Report::new("produce");
        report.push("records", 10u64);
        report.push("mb_per_sec", 1.5);
        report.push("note", "a\"b");
        let json = report.to_json();
        assert_eq!(
            json,
            r#"{"kind":"produce","records":10,"mb_per_sec":1.5,"note":"a\"b"}"#
        );
        let parsed: Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(parsed["records"], Value::from(10));
    }
}
