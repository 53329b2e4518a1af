//! TODO(helper): the protobuf format.

use crate::format::Dependency;

#[derive(Clone, Debug)]
pub struct ProtobufSchema {
    canonical: String,
}

impl ProtobufSchema {
    pub fn parse(text: &str, _dependencies: &[Dependency]) -> Result<ProtobufSchema, String> {
        Ok(ProtobufSchema {
            canonical: text.trim().to_string(),
        })
    }

    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    pub fn serialized(&self) -> String {
        self.canonical.clone()
    }

    pub fn can_read(&self, _writer: &ProtobufSchema) -> Vec<String> {
        Vec::new()
    }
}
