//! TODO(helper): the json_schema format.

use crate::format::Dependency;

#[derive(Clone, Debug)]
pub struct JsonSchema {
    canonical: String,
}

impl JsonSchema {
    pub fn parse(text: &str, _dependencies: &[Dependency]) -> Result<JsonSchema, String> {
        Ok(JsonSchema {
            canonical: text.trim().to_string(),
        })
    }

    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    pub fn can_read(&self, _writer: &JsonSchema) -> Vec<String> {
        Vec::new()
    }
}
