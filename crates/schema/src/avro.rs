//! TODO(helper): the avro format.

use crate::format::Dependency;

#[derive(Clone, Debug)]
pub struct AvroSchema {
    canonical: String,
}

impl AvroSchema {
    pub fn parse(text: &str, _dependencies: &[Dependency]) -> Result<AvroSchema, String> {
        Ok(AvroSchema {
            canonical: text.trim().to_string(),
        })
    }

    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    pub fn can_read(&self, _writer: &AvroSchema) -> Vec<String> {
        Vec::new()
    }
}
